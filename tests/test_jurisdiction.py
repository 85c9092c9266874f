"""GET /api/v1/jurisdiction: whose place is this, and in whose name do they act (seed 001 §3.2.4)."""

import pytest
from sqlalchemy import select

from dispatch.store.models import Matter

GOUQI = (122.77, 30.72)
YANGSHAN = (122.07, 30.62)
CAIYUAN = (122.45, 30.73)
OPEN_SEA = (122.70, 30.75)


def ask(client, lon, lat, **params):
    return client.get("/api/v1/jurisdiction", query_string={"lon": lon, "lat": lat, **params})


def test_gouqi_is_covered_by_the_maan_zone_in_the_county_bureaus_name(client):
    response = ask(client, *GOUQI)
    assert response.status_code == 200
    body = response.get_json()
    assert body["region"]["name"] == "枸杞乡"
    assert body["zone"]["hub"]["name"] == "嵊山镇"
    assert {r["name"] for r in body["zone"]["covered"]} == {"枸杞乡", "花鸟乡"}
    assert body["authority"]["name"] == "嵊泗县综合行政执法局"
    assert body["authority"]["kind"] == "county_bureau"
    # The hub's comprehensive squad covers Gouqi; no squad is stationed on Gouqi itself.
    comprehensive = [s for s in body["squads"] if s["force"] == "comprehensive"]
    assert comprehensive and all(s["station_region"]["name"] == "嵊山镇" for s in comprehensive)


@pytest.mark.parametrize("point", [(122.82, 30.72), (122.67, 30.85)], ids=["shengshan", "huaniao"])
def test_the_other_maan_townships_share_the_zone(client, point):
    body = ask(client, *point).get_json()
    assert body["zone"]["code"] == "maan"
    assert body["zone"]["hub"]["name"] == "嵊山镇"


def test_a_stationed_township_keeps_its_own_zone(client):
    body = ask(client, *CAIYUAN).get_json()
    assert body["region"]["name"] == "菜园镇"
    assert body["zone"]["hub"]["name"] == "菜园镇"
    assert body["zone"]["covered"] == []
    assert body["authority"]["name"] == "嵊泗县综合行政执法局"


def test_yangshan_without_a_matter_acts_in_its_own_name(client):
    body = ask(client, *YANGSHAN).get_json()
    assert body["region"] == {
        "code": "330922102",
        "name": "洋山镇",
        "name_en": "Yangshan Town",
        "level": "township",
        "empowered": True,
    }
    assert body["authority"]["name"] == "洋山镇人民政府"
    assert body["authority"]["kind"] == "township_government"


def test_yangshan_with_a_matter_it_holds_acts_in_its_own_name(client, session):
    held = session.scalar(select(Matter).where(Matter.township_held.is_(True)).limit(1))
    body = ask(client, *YANGSHAN, matter=held.code).get_json()
    assert body["authority"]["name"] == "洋山镇人民政府"
    assert body["matter"]["code"] == held.code


def test_yangshan_with_a_comprehensive_matter_it_does_not_hold_acts_for_the_county_bureau(client, session):
    kept = session.scalar(
        select(Matter).where(Matter.domain == "comprehensive", Matter.township_held.is_(False)).limit(1)
    )
    body = ask(client, *YANGSHAN, matter=kept.code).get_json()
    assert body["authority"]["name"] == "嵊泗县综合行政执法局"
    assert "outside" in body["basis"]


def test_a_professional_matter_belongs_to_its_department_even_in_yangshan(client, session):
    matter = session.scalar(select(Matter).where(Matter.domain == "market_supervision").limit(1))
    body = ask(client, *YANGSHAN, matter=matter.code).get_json()
    assert body["authority"]["kind"] == "department"
    assert body["authority"]["domain"] == "market_supervision"
    assert body["squads"], "the market supervision squads cover the whole county"
    assert all("market_supervision" in s["domains"] for s in body["squads"])


@pytest.mark.parametrize("point", [OPEN_SEA, (121.47, 31.23), (0.0, 0.0)], ids=["open-sea", "shanghai", "null-island"])
def test_open_sea_and_outside_the_county_are_404_with_a_json_error(client, point):
    response = ask(client, *point)
    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["code"] == "outside_jurisdiction"
    assert "no township" in error["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": 30.72}, "lon"),
        ({"lon": 122.77}, "lat"),
        ({"lon": "east", "lat": 30.72}, "lon"),
        ({"lon": 122.77, "lat": "30,72"}, "lat"),
        ({"lon": 190, "lat": 30.72}, "lon"),
        ({"lon": 122.77, "lat": -95}, "lat"),
        ({"lon": "nan", "lat": 30.72}, "lon"),
    ],
)
def test_bad_input_is_400_naming_the_parameter(client, params, field):
    response = client.get("/api/v1/jurisdiction", query_string=params)
    assert response.status_code == 400
    assert response.is_json
    assert response.get_json()["error"]["field"] == field


def test_an_unknown_matter_is_422(client):
    """A well-formed code the county does not have: refused by a rule the document cannot say."""
    response = client.get("/api/v1/jurisdiction", query_string={"lon": 122.77, "lat": 30.72, "matter": "NO-SUCH"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "unknown_matter"
    assert response.get_json()["error"]["field"] == "matter"


def test_covering_squads_are_shown_as_the_squad_list_shows_them(client, session):
    """The jurisdiction's squads (one statement) have the shape and the figures of GET /squads
    (the ORM): every officer counted, and only certified, unexpired ones on duty as able to act."""
    from dispatch.store.models import Officer, Squad

    first = ask(client, *CAIYUAN).get_json()["squads"][0]
    squad = session.scalar(select(Squad).where(Squad.id == first["id"]))
    officer = session.scalars(
        select(Officer)
        .where(Officer.squad_id == squad.id, Officer.on_duty, ~Officer.auxiliary, Officer.certificate_no.is_not(None))
        .order_by(Officer.id)
    ).first()
    officer.on_duty = False
    session.commit()
    listed = {f["id"]: f["properties"] for f in client.get("/api/v1/squads").get_json()["features"]}
    shown = ask(client, *CAIYUAN).get_json()["squads"]
    assert shown and all(s == listed[s["id"]] for s in shown)
    now = next(s for s in shown if s["id"] == squad.id)
    assert now["officers"] == first["officers"] and now["certified_on_duty"] == first["certified_on_duty"] - 1
    scopes = [s["scope"] for s in shown]
    assert scopes == sorted(scopes, key=lambda scope: scope != "zone"), "zone squads first"
