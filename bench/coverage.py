"""Benchmark of live 1+X coverage: one full recomputation, and the update after one squad's event.

``make bench`` runs this file. It starts a throwaway PostGIS cluster (fsync off) in
``var/bench-coverage``, migrates it, loads the Shengsi reference data and the synthetic county
of ``bench/recommend.py`` (1,000 townships on 10 islands, 20 piers, a published "1+X" plan,
10,000 squads and their officers), and measures ``dispatch.coverage`` in process, as the
serving process runs it (``dispatch.create_app`` with the cluster's DATABASE_URL, an app
context, ``db.session``); server time only, no HTTP:

- ``coverage.recompute(session, app.config)`` + commit: every township ranked again. Once on an
  empty ``township_coverage`` (the first, which writes every row), then again (the periodic one);
- ``coverage.update_for_squads(session, [squad_id], app.config)`` + commit after one squad's
  event, in the transaction that changed its status (as a dispatch does): a squad going busy, a
  squad going off duty, a squad coming back available. The squads are drawn at random (seeded),
  and from the squads that are the best squad of some township now (the expensive case: those
  townships are ranked again). A few events go first untimed (caches, plans).

It prints p50/p99/max of each kind of event and of all of them, the townships changed per event
and the townships ranked again, and one line "coverage update p99 <= 50 ms: met|MISSED".
``--profile`` adds cProfile's top functions over the timed events.

It exits 0 when the measurement ran, whatever the figures; non-zero on an error. The events stop
at ``--budget`` seconds. The cluster and its folder are removed at the end, also on Ctrl-C or
SIGTERM.

    .venv/bin/python bench/coverage.py [--events N] [--warmup N] [--seed S] [--budget S] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
for folder in (PROJECT_ROOT, PROJECT_ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import psycopg  # noqa: E402
import recommend as synthetic  # noqa: E402  (bench/recommend.py: the synthetic county)
from common import BenchError, percentile, run_to_the_end  # noqa: E402  (bench/common.py)
from sqlalchemy import create_engine, pool, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from dispatch.seed import load_dataset_into  # noqa: E402
from dispatch.store import migrate  # noqa: E402
from dispatch.store.embedded_pg import EmbeddedPostgres  # noqa: E402
from gis.reference import load_dataset  # noqa: E402

BENCH_DIR = PROJECT_ROOT / "var" / "bench-coverage"
SHENGSI = PROJECT_ROOT / "gis" / "data" / "shengsi"
TARGET_P99_MS = 50.0

# The kinds of event: (who, to). "random": any squad of the right status, drawn at random;
# "best": a squad that is the best squad of at least one township now (or, coming back, one
# that was and that an earlier event took away).
KINDS = (
    ("random", "busy"),
    ("random", "off_duty"),
    ("random", "available"),
    ("best", "busy"),
    ("best", "off_duty"),
    ("best", "available"),
)


@dataclass
class Event:
    who: str
    to: str
    squad_id: int
    ranked_again: int  # townships whose best squad it was before the event
    changed: int = 0  # townships whose coverage changed (rows written)
    seconds: float = 0.0  # update_for_squads + commit
    commit_seconds: float = 0.0
    gc_seconds: float = 0.0  # of which the garbage collector's full (generation 2) collections

    @property
    def kind(self) -> str:
        return f"{self.who} -> {self.to}"


class FullCollections:
    """The time Python's garbage collector spends in full (generation 2) collections.

    A full collection walks every object of the process (the application's modules make
    about 240,000 of them), so it pauses whatever runs at the time for about 100 ms here.
    """

    def __init__(self):
        self.seconds = 0.0
        self._started = None
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None

    def close(self) -> None:
        gc.callbacks.remove(self._callback)


@dataclass
class Squads:
    """The squads by status, as the events leave them (only squads of the synthetic county)."""

    by_status: dict[str, set[int]]
    taken_best: list[int] = field(default_factory=list)  # best squads an event took away, to bring back

    def move(self, squad_id: int, to: str) -> None:
        for ids in self.by_status.values():
            ids.discard(squad_id)
        self.by_status[to].add(squad_id)


def _best_squads(session) -> dict[int, int]:
    """squad id -> townships it is the best squad of, now."""
    rows = session.execute(
        text("SELECT best_squad_id, count(*) FROM township_coverage WHERE best_squad_id IS NOT NULL GROUP BY 1")
    ).all()
    return dict(rows)


def _pick(rng: random.Random, who: str, to: str, squads: Squads, best: dict[int, int]) -> int | None:
    available = squads.by_status["available"]
    if who == "random":
        if to == "available":
            pool_ = sorted(squads.by_status["busy"] | squads.by_status["off_duty"])
        else:
            pool_ = sorted(available)
        return rng.choice(pool_) if pool_ else None
    if to == "available":
        squads.taken_best[:] = [i for i in squads.taken_best if i not in available]  # some came back at random
        return squads.taken_best.pop(rng.randrange(len(squads.taken_best))) if squads.taken_best else None
    pool_ = sorted(i for i in best if i in available)
    return rng.choice(pool_) if pool_ else None


def run_events(app, session, args, rng: random.Random, profiler: cProfile.Profile | None) -> list[Event]:
    from dispatch import coverage as live_coverage

    rows = session.execute(text("SELECT id, status FROM squad WHERE code LIKE 'bench-s%'")).all()
    squads = Squads({"available": set(), "busy": set(), "off_duty": set()})
    for squad_id, status in rows:
        squads.by_status[status].add(squad_id)
    del rows
    session.commit()

    events: list[Event] = []
    collections = FullCollections()
    warm = 0
    deadline = None
    while len(events) < args.events:
        if warm == args.warmup and deadline is None:
            deadline = time.monotonic() + args.budget
        best = _best_squads(session)
        order = list(KINDS)
        rng.shuffle(order)
        for who, to in order:  # the first kind that has a squad to move (a return needs an earlier take)
            squad_id = _pick(rng, who, to, squads, best)
            if squad_id is not None:
                break
        else:
            raise BenchError("no squad left to move")
        event = Event(who, to, squad_id, best.get(squad_id, 0))
        # The transaction of the event: the squad's status first (as a dispatch does), then coverage.
        session.execute(text("UPDATE squad SET status = :to WHERE id = :id"), {"to": to, "id": squad_id})
        if profiler is not None and deadline is not None:
            profiler.enable()
        gc_before = collections.seconds
        started = time.perf_counter()
        changed = live_coverage.update_for_squads(session, [squad_id], app.config)
        committing = time.perf_counter()
        session.commit()
        ended = time.perf_counter()
        if profiler is not None:
            profiler.disable()
        event.seconds, event.commit_seconds, event.changed = ended - started, ended - committing, len(changed)
        event.gc_seconds = collections.seconds - gc_before
        squads.move(squad_id, to)
        if who == "best" and to != "available":
            squads.taken_best.append(squad_id)
        if deadline is None:
            warm += 1
            continue
        events.append(event)
        if len(events) % 50 == 0:
            print(f"  {len(events)} of {args.events} events", flush=True)
        if time.monotonic() > deadline:
            break
    collections.close()
    return events


def _ms(values: list[float]) -> dict:
    ms = sorted(v * 1000 for v in values)
    return {"n": len(ms), "p50": percentile(ms, 0.5), "p99": percentile(ms, 0.99), "max": ms[-1]}


def report(args, counts: dict, setup_seconds: float, full: list[tuple[str, float, int]], events: list[Event]) -> bool:
    width = 30
    line = "-" * 96
    print()
    print(line)
    print(f"dispatch live coverage benchmark (seed {args.seed}; {len(events)} events after {args.warmup} warm-up)")
    print(line)
    print(f"setup {setup_seconds:.1f} s; data: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    for label, seconds, changed in full:
        print(f"full recomputation + commit, {label:22} {seconds * 1000:9.0f} ms ({changed:,} townships changed)")
    print(line)
    head = f"{'update + commit, ms':{width}}{'n':>5}{'p50':>9}{'p99':>9}{'max':>9}{'commit p50':>12}"
    print(head + f"{'changed mean/max':>18}{'ranked again mean/max':>23}")
    groups = [(f"{who} -> {to}", [e for e in events if (e.who, e.to) == (who, to)]) for who, to in KINDS]
    groups.append(("all events", events))
    for label, group in groups:
        if not group:
            print(f"{label:{width}}{0:>5}")
            continue
        st = _ms([e.seconds for e in group])
        commit = _ms([e.commit_seconds for e in group])
        changed = [e.changed for e in group]
        ranked = [e.ranked_again for e in group]
        print(
            f"{label:{width}}{st['n']:>5}{st['p50']:9.1f}{st['p99']:9.1f}{st['max']:9.1f}{commit['p50']:12.1f}"
            f"{sum(changed) / len(changed):>12.1f} /{max(changed):>4}"
            f"{sum(ranked) / len(ranked):>17.1f} /{max(ranked):>4}"
        )
    if len(events) < args.events:
        print(f"stopped at the time budget of {args.budget:g} s (--budget)")
    paused = [e for e in events if e.gc_seconds]
    if paused:
        print(
            f"{len(paused)} event(s) included a full garbage collection of Python's: "
            + ", ".join(f"{e.gc_seconds * 1000:.0f} ms in a {e.seconds * 1000:.0f} ms {e.kind}" for e in paused)
        )
    slowest = sorted(events, key=lambda e: -e.seconds)[:5]
    print("slowest: " + ", ".join(f"{e.seconds * 1000:.0f} ms ({e.kind})" for e in slowest))
    print(line)
    overall = _ms([e.seconds for e in events])
    ok = overall["p99"] <= TARGET_P99_MS
    verdict = "met" if ok else "MISSED"
    note = "; timed under cProfile (--profile), which slows it: run without it for the figure" if args.profile else ""
    print(f"coverage update p99 <= {TARGET_P99_MS:g} ms: {verdict} ({overall['p99']:.1f} ms{note})")
    print(line)
    return ok


def _counts(conn: psycopg.Connection) -> dict[str, int]:
    queries = {
        "townships": "SELECT count(*) FROM region WHERE level IN ('township', 'street') AND boundary IS NOT NULL",
        "zones": "SELECT count(*) FROM zone",
        "squads": "SELECT count(*) FROM squad",
        "comprehensive squads available": (
            "SELECT count(*) FROM squad WHERE status = 'available' AND 'comprehensive' = ANY(domains)"
        ),
    }
    return {name: conn.execute(sql).fetchone()[0] for name, sql in queries.items()}


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    if BENCH_DIR.exists():
        print(f"removing a stale {BENCH_DIR} left by an earlier run", flush=True)
        EmbeddedPostgres(BENCH_DIR, fsync=False).destroy()
        shutil.rmtree(BENCH_DIR, ignore_errors=True)
    started = time.perf_counter()
    pg = EmbeddedPostgres(BENCH_DIR, fsync=False)
    app = None
    profiler = cProfile.Profile() if args.profile else None
    try:
        print("setting up", flush=True)
        url = pg.start()
        migrate.upgrade(url)
        engine = create_engine(url, poolclass=pool.NullPool)
        try:
            with Session(engine) as session:
                load_dataset_into(session, load_dataset(SHENGSI))
                session.commit()
        finally:
            engine.dispose()
        with psycopg.connect(pg.url(driver="postgresql")) as conn:
            synthetic.build_county(conn, rng)
            conn.commit()
        with psycopg.connect(pg.url(driver="postgresql"), autocommit=True) as conn:
            conn.execute("ANALYZE")
            counts = _counts(conn)
        setup_seconds = time.perf_counter() - started
        print(f"  set up in {setup_seconds:.1f} s", flush=True)

        import dispatch
        from dispatch import coverage as live_coverage
        from dispatch.store.db import db

        app = dispatch.create_app(
            {"DATABASE_URL": url, "DATA_DIR": BENCH_DIR / "app", "SECRET_KEY": "bench", "SOCKETIO_MESSAGE_QUEUE": None}
        )
        full = []
        with app.app_context():
            session = db.session
            for label in ("first (empty table)", "again (periodic)"):
                clock = time.perf_counter()
                changed = live_coverage.recompute(session, app.config)
                session.commit()
                full.append((label, time.perf_counter() - clock, len(changed)))
                print(f"  full recomputation, {label}: {full[-1][1]:.2f} s", flush=True)
            with psycopg.connect(pg.url(driver="postgresql"), autocommit=True) as conn:
                conn.execute("ANALYZE township_coverage")
            print(
                f"measuring: {args.warmup} warm-up + {args.events} timed events, at most {args.budget:g} s", flush=True
            )
            events = run_events(app, session, args, rng, profiler)
            db.session.remove()
        db.engine.dispose()
    finally:
        if app is not None:
            from dispatch.store.db import db

            if db.engine is not None:
                db.engine.dispose()
        pg.destroy()
        shutil.rmtree(BENCH_DIR, ignore_errors=True)

    report(args, counts, setup_seconds, full, events)
    if profiler is not None:  # cProfile's overhead inflates the figures above: read its shares, not its times
        for order, top in (("cumulative", 30), ("tottime", 20)):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
            print(f"cProfile over the timed events, by {order}:")
            print(out.getvalue())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=500, help="timed events")
    parser.add_argument("--warmup", type=int, default=20, help="untimed events first")
    parser.add_argument("--seed", type=int, default=20261123, help="random seed of the data and the events")
    parser.add_argument("--budget", type=float, default=120, help="seconds at most for the timed events")
    parser.add_argument("--profile", action="store_true", help="cProfile the timed events and print the top")
    args = parser.parse_args(argv)
    if args.events < 1 or args.warmup < 0 or args.budget <= 0:
        parser.error("--events and --budget must be positive, --warmup not negative")
    return run_to_the_end(lambda: run(args), "the cluster was")


if __name__ == "__main__":
    sys.exit(main())
