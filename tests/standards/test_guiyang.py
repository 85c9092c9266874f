"""Guiyang (seed 003, 筑府办函〔2024〕51号): the same schema and rules serve a city as well as a county."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import incident_body
from tests.standards.conftest import GUIYANG

CST = dt.timezone(dt.timedelta(hours=8))
# Points inside the demo streets (WGS84).
ZHONGHUABEILU = (106.690, 26.597)  # Yunyan, west of the district centre
QIANDONG = (106.724, 26.606)  # Yunyan, east
QINGYAN = (106.718, 26.460)  # Huaxi: a township without its own squadron, covered from Guizhu ("1+X")
HUAGUOYUAN = (106.684, 26.530)  # Nanming


def ask(client, point, **params):
    response = client.get("/api/v1/jurisdiction", query_string={"lon": point[0], "lat": point[1], **params})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_seed_command_loads_guiyang_beside_shengsi(runner, database_url):
    result = runner.invoke(args=["seed", str(GUIYANG)])
    assert result.exit_code == 0, result.output
    assert "loaded" in result.output and "22 squads" in result.output
    again = runner.invoke(args=["seed", str(GUIYANG)])
    assert "nothing to do" in again.output


def test_a_district_matter_goes_to_the_district_bureau(guiyang_client):
    body = ask(guiyang_client, ZHONGHUABEILU, matter="GY-CG-001")
    assert body["region"]["name"] == "中华北路街道"
    assert [a["name"] for a in body["ancestors"]] == ["云岩区", "贵阳市"]
    assert body["authority"]["name"] == "云岩区综合行政执法局"
    assert body["authority"]["kind"] == "county_bureau"
    codes = [s["code"] for s in body["squads"]]
    # The street squadron first (its zone), then the district and municipal brigades that serve the whole area.
    assert codes[0] == "gy-yunyan-001"
    assert {"gy-yunyan-brigade", "gy-direct-1"} <= set(codes)
    assert not {"gy-nanming-brigade", "gy-direct-2"} & set(codes), "other districts' brigades, other domains"


def test_without_a_matter_a_street_is_served_in_its_district_bureaus_name(guiyang_client):
    assert ask(guiyang_client, HUAGUOYUAN)["authority"]["name"] == "南明区综合行政执法局"


def test_a_major_or_cross_district_case_goes_to_the_municipal_level(guiyang_client):
    body = ask(guiyang_client, ZHONGHUABEILU, matter="GY-CG-002", major=1)
    assert body["authority"]["name"] == "贵阳市综合行政执法局"
    assert body["authority"]["kind"] == "municipal_bureau"
    assert "municipal level" in body["basis"]


def test_a_municipal_matter_is_the_municipal_bureaus(guiyang_client):
    body = ask(guiyang_client, QIANDONG, matter="GY-CG-101")
    assert body["authority"]["name"] == "贵阳市综合行政执法局"


@pytest.mark.parametrize(
    ("matter", "department", "brigade"),
    [
        ("GY-EM-001", "贵阳市应急管理局", "贵阳市综合行政执法支队直属二大队（派驻市应急局）"),
        ("GY-AG-001", "贵阳市农业农村局", "贵阳市综合行政执法支队直属三大队（派驻市农业农村局）"),
        ("GY-HR-001", "贵阳市人力资源和社会保障局", "贵阳市综合行政执法支队直属四大队（派驻市人社局）"),
        ("GY-NR-001", "贵阳市自然资源和规划局", "贵阳市综合行政执法支队直属五大队（派驻市自然资源和规划局）"),
        ("GY-WA-001", "贵阳市水务管理局", "贵阳市综合行政执法支队直属六大队（派驻市水务局）"),
    ],
)
def test_entrusted_matters_are_enforced_by_seconded_brigades_in_the_departments_name(
    guiyang_client, matter, department, brigade
):
    body = ask(guiyang_client, QIANDONG, matter=matter)
    assert body["authority"]["name"] == department, "the entrusting department answers for the act"
    assert body["authority"]["kind"] == "department"
    assert f"entrusted to {brigade}" in body["basis"]
    assert f"penalties in the name of {department}" in body["basis"]
    assert [s["name"] for s in body["squads"]] == [brigade]


def test_a_department_with_its_own_force_entrusts_nothing(guiyang_client):
    body = ask(guiyang_client, QIANDONG, matter="GY-MS-001")
    assert body["authority"]["name"] == "贵阳市市场监督管理局"
    assert "entrusted" not in body["basis"]


def test_a_township_without_a_squadron_is_covered_by_its_zone_hub(guiyang_client):
    body = ask(guiyang_client, QINGYAN, matter="GY-CG-002")
    assert body["region"]["name"] == "青岩镇"
    assert body["zone"]["hub"]["name"] == "贵筑街道"
    assert body["authority"]["name"] == "花溪区综合行政执法局"
    assert body["squads"][0]["code"] == "gy-huaxi-001"


def test_shengsi_is_unchanged_beside_guiyang(guiyang_client):
    body = ask(guiyang_client, (122.07, 30.62))
    assert body["authority"]["name"] == "洋山镇人民政府"
    # No municipal level above Shengsi: a major case stays with the county bureau.
    assert ask(guiyang_client, (122.45, 30.73), matter="CM-010", major=1)["authority"]["name"] == "嵊泗县综合行政执法局"


def test_intake_and_recommendation_in_guiyang(guiyang_client):
    body = incident_body(at=QIANDONG, matters=["GY-CG-001"], description="黔东街道人行道流动摊贩")
    created = guiyang_client.post("/api/v1/incidents", json=body)
    assert created.status_code == 201, created.get_json()
    incident = created.get_json()
    assert incident["authority"]["name"] == "云岩区综合行政执法局"
    assert incident["zone"]["code"] == "gy-qiandong"
    result = guiyang_client.get(f"/api/v1/incidents/{incident['id']}/recommendations?limit=5").get_json()
    ranked = result["recommendations"]
    assert ranked and all(r["mode"] == "land" for r in ranked), "one landmass: everyone drives"
    assert ranked[0]["squad"]["code"] in ("gy-yunyan-002", "gy-direct-1")  # both stationed in Qiandong
    codes = [r["squad"]["code"] for r in ranked]
    assert not any(c.startswith("cb-") for c in codes), "no Shengsi squad is sent to Guiyang"
    # ETA follows the city's travel profile: distance x 1.4 at 25 km/h.
    first = ranked[0]
    assert first["eta_seconds"] == pytest.approx(first["distance_m"] * 1.4 / (25 / 3.6), rel=0.05, abs=60)


def test_an_entrusted_matter_recommends_the_seconded_brigade(guiyang_client):
    body = incident_body(at=HUAGUOYUAN, matters=["GY-EM-001"], description="工地安全隐患未整改")
    incident = guiyang_client.post("/api/v1/incidents", json=body).get_json()
    assert incident["authority"]["name"] == "贵阳市应急管理局"
    ranked = guiyang_client.get(f"/api/v1/incidents/{incident['id']}/recommendations").get_json()["recommendations"]
    assert [r["squad"]["code"] for r in ranked] == ["gy-direct-2"]
    assert ranked[0]["covers_place"] is True
