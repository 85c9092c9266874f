"""Benchmark of ``import-regions``: read, validate (with repairs, duplicates, overlaps, gaps) and load.

Starts a throwaway PostGIS cluster (fsync off) in ``var/bench-import``, migrates it,
writes a synthetic county of N townships (a grid of irregular hexagon-like cells, a few
deliberately invalid "bow-tie" cells and one hole) as GeoJSON and as a Shapefile, and times
each phase of ``dispatch.boundaries`` on both: reading (pyogrio), validation (vectorised
Shapely) and the load (one COPY and INSERT ... SELECT in a transaction that is rolled back
for the first file). Prints features per second for the whole import; the target is
>= 20,000 features/s with validation. Prints, never asserts; exits 0 when the run completed.

    .venv/bin/python bench/import_regions.py [--features N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import numpy as np  # noqa: E402
import pyogrio.raw  # noqa: E402
import shapely  # noqa: E402
from sqlalchemy import create_engine, pool  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from dispatch.boundaries import Report, load_regions, read_features, validate_regions  # noqa: E402
from dispatch.store import migrate  # noqa: E402
from dispatch.store.embedded_pg import EmbeddedPostgres  # noqa: E402

BENCH_DIR = PROJECT_ROOT / "var" / "bench-import"
TARGET = 20_000


def synthetic(n: int, folder: Path) -> tuple[Path, Path]:
    """N township cells of a county on a grid (8-vertex cells), some invalid, one missing (a gap)."""
    side = int(np.ceil(np.sqrt(n)))
    size = 0.01
    i, j = np.divmod(np.arange(n), side)
    x0, y0 = 100.0 + i * size, 20.0 + j * size
    h = size / 2
    # 8 vertices per cell: the square's corners and edge midpoints, so cells share edges exactly.
    xs = np.stack([x0, x0 + h, x0 + size, x0 + size, x0 + size, x0 + h, x0, x0, x0], axis=1)
    ys = np.stack([y0, y0, y0, y0 + h, y0 + size, y0 + size, y0 + size, y0 + h, y0], axis=1)
    rings = np.round(np.stack([xs, ys], axis=2), 6)  # shared edges share exact vertices, as in GIS data
    bowtie = np.arange(n) % 997 == 5  # a few self-intersecting cells to repair
    rings[bowtie, 1], rings[bowtie, 3] = rings[bowtie, 3].copy(), rings[bowtie, 1].copy()
    polygons = shapely.polygons(rings)
    polygons[n // 2] = None  # one township is missing: a gap to report
    codes = np.array([f"9901{k:07d}" for k in range(n)], dtype=object)
    names = np.array([f"镇{k}" for k in range(n)], dtype=object)
    features = [{"type": "Feature", "properties": {"code": "9901", "parent": None, "level": "county",
                                                   "name_zh": "基准县", "name_en": "Bench County"}, "geometry": None}]  # fmt: skip
    keep = [k for k in range(n) if polygons[k] is not None]
    features += [
        {"type": "Feature", "properties": {"code": codes[k], "parent": "9901", "level": "township", "name_zh": names[k],
                                           "name_en": f"Town {k}"},
         "geometry": json.loads(shapely.to_geojson(polygons[k]))}
        for k in keep
    ]  # fmt: skip
    geojson = folder / "county.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    shp = folder / "county.shp"
    pyogrio.raw.write(
        str(shp),
        np.array(shapely.to_wkb(polygons[keep]), dtype=object),
        [codes[keep], names[keep], np.array(["township"] * len(keep), dtype=object)],
        fields=["code", "name_zh", "level"], geometry_type="Polygon", crs="EPSG:4326",
        driver="ESRI Shapefile", encoding="UTF-8",
    )  # fmt: skip
    return geojson, shp


def run(url: str, path: Path, commit: bool) -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with Session(engine) as session:
        t0 = time.perf_counter()
        features = read_features(path)
        t1 = time.perf_counter()
        report = Report()
        rows = validate_regions(session, features, report)
        t2 = time.perf_counter()
        loaded = report.loaded = load_regions(session, rows) if report.ok else 0
        session.commit() if commit else session.rollback()
        t3 = time.perf_counter()
    engine.dispose()
    n = len(features)
    total = t3 - t0
    rate = n / total
    print(f"{path.suffix[1:]:>8}: {n} features  read {t1 - t0:.2f}s  validate {t2 - t1:.2f}s  load {t3 - t2:.2f}s"
          f"  total {total:.2f}s  = {rate:,.0f} features/s  ({'meets' if rate >= TARGET else 'below'} the "
          f"{TARGET:,}/s target)")  # fmt: skip
    print(f"          report: {report.lines(limit=0)[0]}")
    assert loaded == n, report.lines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=100_000)
    args = parser.parse_args()
    shutil.rmtree(BENCH_DIR, ignore_errors=True)
    BENCH_DIR.mkdir(parents=True)
    cluster = EmbeddedPostgres(BENCH_DIR / "pg", fsync=False, database="bench")
    try:
        url = cluster.start()
        migrate.upgrade(url)
        geojson, shp = synthetic(args.features, BENCH_DIR)
        run(url, geojson, commit=False)
        run(url, shp, commit=True)  # the Shapefile has no parent column: its townships are top-level
    finally:
        cluster.destroy()
        shutil.rmtree(BENCH_DIR, ignore_errors=True)


if __name__ == "__main__":
    main()
