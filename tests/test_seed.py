"""Loading reference data: the Shengsi files validate, and a bad file is refused precisely."""

import json
import shutil

import pytest
import yaml
from sqlalchemy import func, select

from dispatch import create_app
from dispatch.store.db import db
from dispatch.store.models import Region, Squad
from gis.reference import ReferenceDataError, load_dataset
from tests.conftest import SHENGSI


@pytest.fixture
def dataset_copy(tmp_path):
    folder = tmp_path / "county"
    shutil.copytree(SHENGSI, folder)
    return folder


def _edit_yaml(path, change):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _problems(folder):
    with pytest.raises(ReferenceDataError) as info:
        load_dataset(folder)
    return info.value.problems


def test_shengsi_dataset_is_valid():
    dataset = load_dataset(SHENGSI)
    townships = [r for r in dataset.regions if r["level"] == "township"]
    assert len(townships) == 7
    assert dataset.root_region["boundary"] is not None, "the county boundary is derived from its townships"
    assert [r["code"] for r in townships if r["empowered"]] == ["330922102"]
    expired = [
        o
        for s in dataset.squads
        for o in s["officers"]
        if o["certificate_expires"] and o["certificate_expires"].year < 2026
    ]
    assert len(expired) == 1
    assert any(o["auxiliary"] for s in dataset.squads for o in s["officers"])


def test_unknown_reference_is_named_with_file_and_place(dataset_copy):
    _edit_yaml(dataset_copy / "squads.yaml", lambda d: d[0].update(station_region="999999"))
    problems = _problems(dataset_copy)
    assert any(p.startswith("squads.yaml: [0]") and "station_region" in p and "'999999'" in p for p in problems)


def test_self_intersecting_boundary_is_refused(dataset_copy):
    path = dataset_copy / "regions.geojson"
    data = json.loads(path.read_text(encoding="utf-8"))
    township = next(f for f in data["features"] if f["properties"]["level"] == "township")
    township["geometry"] = {
        "type": "MultiPolygon",
        "coordinates": [[[[122.0, 30.0], [122.1, 30.1], [122.1, 30.0], [122.0, 30.1], [122.0, 30.0]]]],
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    problems = _problems(dataset_copy)
    assert any("regions.geojson" in p and "invalid geometry" in p and "Self-intersection" in p for p in problems)


def test_a_township_in_two_zones_and_one_in_none(dataset_copy):
    def change(plan):
        plan["zones"][0]["covered"] = [plan["zones"][1]["hub"]]
        plan["zones"] = [z for z in plan["zones"] if z["code"] != "huanglong"]

    _edit_yaml(dataset_copy / "plan.yaml", change)
    problems = _problems(dataset_copy)
    assert any("is already in zone" in p for p in problems)
    assert any("regions in no zone: 330922201" in p for p in problems)


def test_syntax_error_gives_the_line(dataset_copy):
    (dataset_copy / "matters.yaml").write_text("- code: X\n  name_zh: [unclosed\n", encoding="utf-8")
    problems = _problems(dataset_copy)
    assert any(p.startswith("matters.yaml: line ") and "invalid YAML" in p for p in problems)


def test_squad_of_auxiliaries_only_is_refused(dataset_copy):
    def change(squads):
        for officer in squads[0]["officers"]:
            officer.update(auxiliary=True, certificate_no=None, certificate_expires=None)

    _edit_yaml(dataset_copy / "squads.yaml", change)
    assert any("auxiliaries are never sent alone" in p for p in _problems(dataset_copy))


def test_cli_loads_once_and_refuses_a_bad_folder_without_writing(empty_database_url, tmp_path, dataset_copy):
    from dispatch.store import migrate

    migrate.upgrade(empty_database_url)
    app = create_app({"TESTING": True, "DATABASE_URL": empty_database_url, "DATA_DIR": tmp_path})
    runner = app.test_cli_runner()
    try:
        _edit_yaml(dataset_copy / "authorities.yaml", lambda d: d[0].update(kind="ministry"))
        bad = runner.invoke(args=["seed", str(dataset_copy)])
        assert bad.exit_code == 1
        assert "authorities.yaml: [0]" in bad.output and "'ministry' is not one of" in bad.output
        with app.app_context():
            assert db.session.scalar(select(func.count(Region.id))) == 0

        good = runner.invoke(args=["seed", "shengsi"])
        assert good.exit_code == 0, good.output
        assert "loaded shengsi" in good.output
        again = runner.invoke(args=["seed", "shengsi"])
        assert again.exit_code == 0 and "already loaded" in again.output
        with app.app_context():
            assert db.session.scalar(select(func.count(Squad.id))) == len(load_dataset(SHENGSI).squads)
    finally:
        db.dispose()
