"""First render of the command centre with 10,000 squads and 1,000 regions, in Debian's Chromium.

Builds the synthetic county of ``bench/recommend.py`` (1,000 townships, 10,000 squads)
next to the Shengsi data in a throwaway PostGIS cluster (``var/bench-render``), starts
the server, opens ``/command`` in headless Chromium several times and prints the time
from navigation start until the map has drawn townships, zones and every squad
(``window.commandCentre.firstRenderMs``, measured by the page itself). Target: 1.5 s.

    .venv/bin/python bench/command_render.py [--runs N] [--server production|dev]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
for folder in (PROJECT_ROOT, PROJECT_ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import psycopg  # noqa: E402
import recommend as synthetic  # noqa: E402  (bench/recommend.py: the synthetic county)
from sqlalchemy import create_engine, pool  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from dispatch.accounts import add_account  # noqa: E402
from dispatch.seed import load_dataset_into  # noqa: E402
from dispatch.store import migrate  # noqa: E402
from dispatch.store.embedded_pg import EmbeddedPostgres  # noqa: E402
from gis.reference import load_dataset  # noqa: E402

BENCH_DIR = PROJECT_ROOT / "var" / "bench-render"
BENCH_PASSWORD = os.urandom(12).hex()
TARGET_MS = 1500
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def measure(base: str, runs: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1600, "height": 1000}, base_url=base)
                form = context.request.get("/login").text()  # a person signs in first
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
                context.request.post(
                    "/login",
                    form={"username": "bench", "password": BENCH_PASSWORD, "csrf_token": csrf},
                    max_redirects=0,
                )
                page = context.new_page()
                page.goto(f"{base}/command")
                page.wait_for_selector("body[data-ready='1']", timeout=120_000)
                results.append(
                    page.evaluate(
                        "({ms: window.commandCentre.firstRenderMs, squads: window.commandCentre.squads.size,"
                        " drawn: [...window.commandCentre.squads.values()].filter(s => s.marker).length,"
                        " api: performance.getEntriesByType('resource').filter(e => e.name.includes('/api/'))"
                        ".map(e => [new URL(e.name).pathname, Math.round(e.startTime), Math.round(e.duration)])})"
                    )
                )
                context.close()
        finally:
            browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="page loads (the first warms the server's caches)")
    parser.add_argument("--server", choices=("production", "dev"), default="production")
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args(argv)
    if BENCH_DIR.exists():
        EmbeddedPostgres(BENCH_DIR, fsync=False).destroy()
        shutil.rmtree(BENCH_DIR, ignore_errors=True)
    pg = EmbeddedPostgres(BENCH_DIR, fsync=False)
    server = None
    started = time.perf_counter()
    try:
        url = pg.start()
        migrate.upgrade(url)
        engine = create_engine(url, poolclass=pool.NullPool)
        with Session(engine) as session:
            load_dataset_into(session, load_dataset(PROJECT_ROOT / "gis" / "data" / "shengsi"))
            add_account(session, "bench", "dispatcher", BENCH_PASSWORD)
            session.commit()
        engine.dispose()
        with psycopg.connect(pg.url(driver="postgresql")) as conn:
            county = synthetic.build_county(conn, random.Random(args.seed))
            conn.commit()
        with psycopg.connect(pg.url(driver="postgresql"), autocommit=True) as conn:
            conn.execute("ANALYZE")
            regions = conn.execute("SELECT count(*) FROM region WHERE level IN ('township', 'street')").fetchone()[0]
            squads = conn.execute("SELECT count(*) FROM squad").fetchone()[0]
        server = synthetic.Server(url, BENCH_DIR / "server", production=args.server == "production")
        server.wait_ready()
        print(
            f"set up in {time.perf_counter() - started:.1f} s: {regions:,} townships, {squads:,} squads "
            f"({len(county['townships']):,} synthetic)",
            flush=True,
        )
        results = measure(server.base, args.runs)
    finally:
        if server is not None:
            server.stop()
        pg.destroy()
        shutil.rmtree(BENCH_DIR, ignore_errors=True)
    for i, r in enumerate(results, 1):
        print(f"  load {i}: first render {r['ms']} ms, {r['drawn']:,} of {r['squads']:,} squads drawn")
        print("    " + ", ".join(f"{path} at {start} ms took {ms} ms" for path, start, ms in r["api"]))
    warm = [r["ms"] for r in results[1:]] or [results[0]["ms"]]
    median = statistics.median(warm)
    verdict = "meets" if median <= TARGET_MS else "misses"
    print(f"first render of /command (median of warm loads): {median:.0f} ms; {verdict} the {TARGET_MS} ms target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
