"""import-regions (GeoJSON, Shapefile; validation report) and export-plan."""

from __future__ import annotations

import json

import numpy as np
import pyogrio.raw
import pytest
import shapely
from sqlalchemy import select

from dispatch.boundaries import Report, check_geometries, read_features
from dispatch.store.models import CoveragePlan, Region, Zone
from gis.crs import from_wgs84

COUNTY = "990100"  # an invented county far from Shengsi


def square(x: float, y: float, size: float = 0.01) -> list:
    return [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]


def feature(code, ring, *, parent=COUNTY, level="township", name=None, kind="Polygon"):
    coords = [ring] if kind == "Polygon" else [[ring]]
    return {"type": "Feature", "properties": {"code": code, "parent": parent, "level": level,
                                              "name_zh": name or f"测试镇{code[-2:]}", "name_en": f"Test {code}"},
            "geometry": {"type": kind, "coordinates": coords}}  # fmt: skip


def county_file(tmp_path, features, name="regions.geojson"):
    county = {"type": "Feature", "properties": {"code": COUNTY, "parent": None, "level": "county", "name_zh": "测试县",
                                                "name_en": "Test County"}, "geometry": None}  # fmt: skip
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [county, *features]}, ensure_ascii=False))
    return path


def grid(nx: int, ny: int, x0=100.0, y0=30.0, size=0.01):
    return [feature(f"{COUNTY}{i:03d}{j:03d}", square(x0 + i * size, y0 + j * size, size)) for i in range(nx) for j in range(ny)]  # fmt: skip


def test_geojson_regions_load_with_a_clean_report(runner, session, tmp_path):
    path = county_file(tmp_path, grid(3, 2))
    result = runner.invoke(args=["import-regions", str(path)])
    assert result.exit_code == 0, result.output
    assert "7 features: 0 errors, 0 repaired, 0 duplicates, 0 overlaps, 0 gaps; 7 loaded" in result.output
    township = session.scalar(select(Region).where(Region.code == f"{COUNTY}000000"))
    assert township.parent.code == COUNTY and township.level == "township"
    assert (
        session.scalar(select(Region.boundary.ST_GeometryType()).where(Region.code == f"{COUNTY}000000"))
        == "ST_MultiPolygon"
    )
    # The new townships answer jurisdiction questions at once.
    assert runner.invoke(args=["import-regions", str(path)]).exit_code == 1, "a second load is refused"


def test_invalid_geometries_are_repaired_and_listed_and_gaps_and_overlaps_reported(runner, session, tmp_path):
    bowtie = [[100.0, 30.0], [100.01, 30.01], [100.01, 30.0], [100.0, 30.01], [100.0, 30.0]]
    features = [
        feature(f"{COUNTY}001", bowtie),
        # a ring of four squares around an empty square: a gap
        *[
            feature(f"{COUNTY}1{k}", square(100.1 + dx * 0.01, 30.1 + dy * 0.01))
            for k, (dx, dy) in enumerate([(0, 0), (1, 0), (2, 0), (0, 1), (2, 1), (0, 2), (1, 2), (2, 2)])
        ],  # fmt: skip
        # two overlapping squares
        feature(f"{COUNTY}201", square(100.3, 30.3)),
        feature(f"{COUNTY}202", square(100.305, 30.3)),
    ]
    report_path = tmp_path / "report.json"
    result = runner.invoke(args=["import-regions", str(county_file(tmp_path, features)), "--report", str(report_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert report["loaded"] == 12
    assert [r["feature"] for r in report["repaired"]] == [f"{COUNTY}001"]
    assert "Self-intersection" in report["repaired"][0]["was"]
    assert len(report["gaps"]) == 1 and 900_000 < report["gaps"][0]["area_m2"] < 1_100_000  # one 0.01° square
    assert report["overlaps"][0]["features"] == f"{COUNTY}201 / {COUNTY}202"
    repaired = session.scalar(select(Region.boundary.ST_IsValid()).where(Region.code == f"{COUNTY}001"))
    assert repaired is True


def test_errors_stop_the_load(runner, session, tmp_path):
    features = [
        feature(f"{COUNTY}001", square(100, 30)),
        feature(f"{COUNTY}001", square(100.01, 30)),  # duplicate code
        feature(f"{COUNTY}002", square(100.02, 30), level="village"),
        feature(f"{COUNTY}003", square(100.03, 30), parent="nowhere"),
        feature("330922100", square(100.04, 30)),  # Caiyuan exists already
        {**feature(f"{COUNTY}004", square(100.05, 30)), "geometry": {"type": "Point", "coordinates": [100, 30]}},
        feature(f"{COUNTY}005", square(200, 30)),
    ]
    result = runner.invoke(args=["import-regions", str(county_file(tmp_path, features))])
    assert result.exit_code == 1
    out = result.output
    assert f"feature={COUNTY}001, problem=code appears 2 times" in out
    assert "level 'village' is not one of" in out
    assert "unknown parent region 'nowhere'" in out
    assert "feature=330922100, problem=a region with this code is already loaded" in out
    assert "is not an area" in out and "coordinates outside" in out
    assert "nothing loaded" in out
    assert session.scalar(select(Region).where(Region.code == COUNTY)) is None


def test_a_shapefile_loads_too(runner, session, tmp_path):
    geoms = [shapely.Polygon(square(101 + i * 0.01, 31)) for i in range(4)]
    path = tmp_path / "towns.shp"
    pyogrio.raw.write(
        str(path), np.array(shapely.to_wkb(geoms), dtype=object), [
            np.array([f"{COUNTY}00{i}" for i in range(4)], dtype=object),
            np.array([f"测试镇{i}" for i in range(4)], dtype=object),
            np.array(["township"] * 4, dtype=object),
        ], fields=["code", "name_zh", "level"], geometry_type="Polygon", crs="EPSG:4326", driver="ESRI Shapefile",
        encoding="UTF-8",
    )  # fmt: skip
    result = runner.invoke(args=["import-regions", str(path)])
    assert result.exit_code == 0, result.output
    assert "4 loaded" in result.output
    assert session.scalar(select(Region.name_zh).where(Region.code == f"{COUNTY}002")) == "测试镇2"


def test_a_file_drawn_in_gcj02_is_stored_in_wgs84(runner, session, tmp_path):
    ring = square(101.0, 31.0)
    shifted = [list(from_wgs84(x, y, "gcj02")) for x, y in ring]
    path = county_file(tmp_path, [feature(f"{COUNTY}001", shifted)])
    assert runner.invoke(args=["import-regions", str(path), "--crs", "gcj02"]).exit_code == 0
    x, y = session.execute(
        select(Region.boundary.ST_XMin(), Region.boundary.ST_YMin()).where(Region.code == f"{COUNTY}001")
    ).one()
    assert (x, y) == pytest.approx((101.0, 31.0), abs=1e-6)


def test_a_projected_file_is_refused(runner, tmp_path):
    path = tmp_path / "utm.shp"
    pyogrio.raw.write(str(path), np.array(shapely.to_wkb([shapely.Polygon(square(500000, 3300000, 100))]), dtype=object),
                      [np.array(["x"], dtype=object)], fields=["code"], geometry_type="Polygon", crs="EPSG:32650",
                      driver="ESRI Shapefile")  # fmt: skip
    result = runner.invoke(args=["import-regions", str(path)])
    assert result.exit_code == 1
    assert "reproject to WGS84" in result.output


def test_dry_run_loads_nothing(runner, session, tmp_path):
    result = runner.invoke(args=["import-regions", str(county_file(tmp_path, grid(2, 2))), "--dry-run"])
    assert result.exit_code == 0 and "dry run" in result.output
    assert session.scalar(select(Region).where(Region.code == COUNTY)) is None


def test_check_geometries_is_vectorised_and_keeps_good_ones():
    report = Report()
    geoms = np.array([shapely.Polygon(square(0, 0)), None, shapely.Point(0, 0)], dtype=object)
    fixed = check_geometries(geoms, ["a", "b", "c"], report)
    assert fixed[0].geom_type == "Polygon" and fixed[1] is None and fixed[2] is None
    assert [e["feature"] for e in report.errors] == ["b", "c"]


def test_export_plan_writes_the_effective_plan_as_geojson(runner, tmp_path):
    out = tmp_path / "plan.geojson"
    result = runner.invoke(args=["export-plan", "-o", str(out)])
    assert result.exit_code == 0, result.output
    collection = json.loads(out.read_text())
    assert collection["plan"]["code"] == "shengsi-2021"
    maan = next(f for f in collection["features"] if f["id"] == "maan")
    assert maan["properties"]["hub"] == "330922101"
    assert maan["properties"]["covered"] == ["330922202", "330922203"]
    assert maan["geometry"]["type"] == "MultiPolygon"
    # GDAL reads what we write.
    assert len(read_features(out)) == 5
    assert runner.invoke(args=["export-plan", "no-such-plan"]).exit_code == 1


def test_zones_drawn_over_townships_become_a_draft_plan(runner, session, tmp_path):
    # One zone over Sijiao (Caiyuan + Wulong), one over the Ma'an islands; Huanglong and Yangshan are left out.
    zones = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "sijiao", "name_zh": "泗礁片区", "hub": "330922100"},
         "geometry": {"type": "Polygon", "coordinates": [square(122.38, 30.66, 0.2)]}},
        {"type": "Feature", "properties": {"code": "maan", "name_zh": "马鞍片区"},
         "geometry": {"type": "Polygon", "coordinates": [[[122.64, 30.69], [122.86, 30.69], [122.86, 30.88],
                                                          [122.64, 30.88], [122.64, 30.69]]]}},
    ]}  # fmt: skip
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(zones, ensure_ascii=False))
    args = ["import-regions", str(path), "--as", "zones", "--plan", "shengsi-draft-import", "--root", "330922"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "gap: region=330922102" in result.output  # Yangshan is in no zone
    plan = session.scalar(select(CoveragePlan).where(CoveragePlan.code == "shengsi-draft-import"))
    assert plan.status == "draft"
    built = {z.code: z for z in session.scalars(select(Zone).where(Zone.plan_id == plan.id))}
    assert built["sijiao"].hub_region.code == "330922100"
    assert sorted(r.code for r in built["sijiao"].covered_regions) == ["330922200"]
    assert sorted(m.region.code for m in built["maan"].members) == ["330922101", "330922202", "330922203"]
    assert runner.invoke(args=args).exit_code == 1, "the plan exists now"
