"""The matter catalogue changes over time (issue 32; seed 001 §3.2.1, seed 004 art. 5: catalogues are
adjusted and published): versions, intake by the version in force, reports by the year's catalogue."""

import datetime as dt

import yaml
from sqlalchemy import func, select, text

from dispatch.store.models import Event, Incident
from gis.clock import local_day
from tests.conftest import SHENGSI
from tests.factories import incident_body

CST = dt.timezone(dt.timedelta(hours=8))


def _yaml_matters() -> list[dict]:
    return yaml.safe_load((SHENGSI / "matters.yaml").read_text(encoding="utf-8"))


def _next_version(*, drop=("CM-003",), change=None, add=()) -> list[dict]:
    """matters.yaml adjusted: some withdrawn, one changed, some added."""
    items = [m for m in _yaml_matters() if m["code"] not in drop]
    for item in items:
        if change and item["code"] in change:
            item.update(change[item["code"]])
    return items + list(add)


NEW_MATTER = {
    "code": "CM-900",
    "name_zh": "对违规设置海上养殖浮球的行政处罚",
    "name_en": "Unlawful aquaculture floats",
    "domain": "comprehensive",
    "authority_kind": "county_bureau",
    "township_held": False,
    "joint_domains": [],
    "priority": 2,
    "sla_minutes": 90,
}


def _publish(client, matters, *, effective=None, source="嵊泗县人民政府关于调整综合行政执法事项目录的通知"):
    body = {"effective_from": (effective or local_day()).isoformat(), "source": source, "matters": matters}
    return client.post("/api/v1/catalogue/versions", json=body)


def _incidents(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count(Incident.id)))


def test_the_loaded_catalogue_is_the_first_version(client):
    versions = client.get("/api/v1/catalogue/versions").get_json()["versions"]
    assert len(versions) == 1 and versions[0]["in_force"] is True
    assert versions[0]["matter_count"] == len(_yaml_matters()) and versions[0]["source"] == "matters.yaml (shengsi)"
    one = client.get(f"/api/v1/catalogue/versions/{versions[0]['id']}").get_json()
    assert [m["code"] for m in one["matters"]] == sorted(m["code"] for m in _yaml_matters())
    assert client.get("/api/v1/catalogue/versions/424242").status_code == 404


def test_seed004_art5_a_matter_withdrawn_is_refused_for_new_incidents_naming_it(client, session):
    response = _publish(client, _next_version(add=[NEW_MATTER]))
    assert response.status_code == 201, response.get_json()
    version = response.get_json()
    assert version["in_force"] is True and version["matter_count"] == len(_yaml_matters())
    before = _incidents(session)

    refused = client.post("/api/v1/incidents", json=incident_body(matters=("CM-001", "CM-003")))
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "matter_not_in_catalogue" and error["field"] == "matters[1]"
    assert "CM-003" in error["message"] and "withdrawn" in error["message"]
    assert _incidents(session) == before  # nothing saved
    preview = client.post("/api/v1/incidents/preview", json=incident_body(matters=("CM-003",)))
    assert preview.status_code == 422 and preview.get_json()["error"]["code"] == "matter_not_in_catalogue"
    jurisdiction = client.get("/api/v1/jurisdiction?lon=122.45&lat=30.727&matter=CM-003")
    assert jurisdiction.status_code == 422 and jurisdiction.get_json()["error"]["field"] == "matter"

    # reported before the new version took effect: the old catalogue, which listed it
    yesterday = dt.datetime.now(CST) - dt.timedelta(days=1)
    late = client.post("/api/v1/incidents", json=incident_body(matters=("CM-003",), reported_at=yesterday))
    assert late.status_code == 201, late.get_json()

    events = session.scalars(select(Event).where(Event.action == "catalogue.published")).all()
    assert len(events) == 1 and events[0].data["withdrawn"] == ["CM-003"] and events[0].data["added"] == ["CM-900"]


def test_seed001_3_2_1_a_matter_added_is_accepted_from_its_date_and_a_changed_one_takes_its_new_sla(client):
    assert (
        _publish(client, _next_version(drop=(), change={"CM-001": {"sla_minutes": 30}}, add=[NEW_MATTER])).status_code
        == 201
    )
    now = dt.datetime.now(CST).replace(microsecond=0)
    added = client.post("/api/v1/incidents", json=incident_body(matters=("CM-900",), reported_at=now))
    assert added.status_code == 201, added.get_json()
    assert added.get_json()["jurisdiction"]["authority"]["code"] == "county-bureau"

    changed = client.post("/api/v1/incidents", json=incident_body(matters=("CM-001",), reported_at=now)).get_json()
    assert dt.datetime.fromisoformat(changed["sla_deadline"]) == now + dt.timedelta(minutes=30)
    matters = {m["code"]: m for m in client.get("/api/v1/matters").get_json()["matters"]}
    assert matters["CM-001"]["sla_minutes"] == 30 and "CM-900" in matters

    before = dt.datetime.now(CST) - dt.timedelta(days=2)
    early = client.post("/api/v1/incidents", json=incident_body(matters=("CM-900",), reported_at=before))
    assert early.status_code == 422
    assert early.get_json()["error"]["code"] == "matter_not_in_catalogue"
    assert "not yet in force" in early.get_json()["error"]["message"]
    old = client.post("/api/v1/incidents", json=incident_body(matters=("CM-001",), reported_at=before)).get_json()
    assert dt.datetime.fromisoformat(old["sla_deadline"]) == before.replace(
        microsecond=before.microsecond
    ) + dt.timedelta(minutes=next(m["sla_minutes"] for m in _yaml_matters() if m["code"] == "CM-001"))


def test_seed004_art5_a_catalogue_is_published_from_today_on_after_the_latest_and_well_formed(client, session):
    yesterday = local_day() - dt.timedelta(days=1)
    retro = _publish(client, _next_version(), effective=yesterday)
    assert retro.status_code == 422 and retro.get_json()["error"]["code"] == "retroactive_catalogue"
    assert retro.get_json()["error"]["field"] == "effective_from"

    bad = _publish(client, [{**NEW_MATTER, "authority_kind": "police"}])
    assert bad.status_code == 400 and bad.get_json()["error"]["field"].startswith("matters[0]")
    twice = _publish(client, [NEW_MATTER, NEW_MATTER])
    assert twice.status_code == 422 and twice.get_json()["error"]["field"] == "matters[1].code"
    assert twice.get_json()["error"]["code"] == "duplicate_matter"

    assert _publish(client, _next_version(), effective=local_day() + dt.timedelta(days=30)).status_code == 201
    again = _publish(client, _next_version(), effective=local_day() + dt.timedelta(days=10))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "catalogue_superseded"
    versions = client.get("/api/v1/catalogue/versions").get_json()["versions"]
    assert [v["in_force"] for v in versions] == [True, False]  # the future one is not in force yet
    session.expire_all()
    assert len(session.scalars(select(Event).where(Event.action == "catalogue.published")).all()) == 1


def test_seed001_3_2_1_the_annual_report_of_2025_uses_the_2025_catalogue_after_the_2026_one_is_published(
    client, session
):
    last_year = local_day().year - 1
    reported = dt.datetime(last_year, 6, 1, 10, 0, tzinfo=CST)
    for matters in (("CM-001",), ("CM-003",), ("MS-001",)):
        assert (
            client.post("/api/v1/incidents", json=incident_body(matters=matters, reported_at=reported)).status_code
            == 201
        )
    # filed late (a backlog entered now): the year counts incidents by when they were received
    session.execute(text("UPDATE incident SET received_at = reported_at"))
    session.commit()
    before = client.get(f"/api/v1/reports/annual?year={last_year}").get_json()

    renamed = {"CM-001": {"name_zh": "对占道经营的行政处罚(调整后)", "domain": "market_supervision",
                          "authority_kind": "department"}}  # fmt: skip
    extra = [{**NEW_MATTER, "code": f"MS-9{n:02d}", "domain": "market_supervision", "authority_kind": "department"}
             for n in range(10)]  # fmt: skip
    assert _publish(client, _next_version(change=renamed, add=extra)).status_code == 201

    after = client.get(f"/api/v1/reports/annual?year={last_year}").get_json()
    assert after["shares"] == before["shares"]  # the year's catalogue, whatever was published since
    assert after["comprehensive_share"] == before["comprehensive_share"]
    yaml_matters = _yaml_matters()
    assert after["shares"]["catalogue"]["matters"] == len(yaml_matters)
    assert after["shares"]["catalogue"]["versions"][0]["source"] == "matters.yaml (shengsi)"
    by_matter = {row["code"]: row for row in after["shares"]["by_matter"]}
    assert by_matter["CM-001"]["name"] == next(m["name_zh"] for m in yaml_matters if m["code"] == "CM-001")
    assert by_matter["CM-001"]["domain"] == "comprehensive" and by_matter["CM-003"]["incidents"] == 1
    assert after["shares"]["handled"] == {"incidents": 3, "comprehensive": 2, "comprehensive_share": round(2 / 3, 4)}

    this_year = client.get(f"/api/v1/reports/annual?year={last_year + 1}").get_json()
    assert this_year["shares"]["catalogue"]["matters"] == len(yaml_matters) - 1 + 10
    csv = client.get(f"/api/v1/reports/annual?year={last_year}&format=csv").get_data(as_text=True)
    assert "shares.by_matter,CM-003" in csv


def test_seed004_art5_the_cli_publishes_a_file_effective_from_a_day(runner, client, tmp_path):
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(_next_version(add=[NEW_MATTER]), allow_unicode=True), encoding="utf-8")
    day = (local_day() + dt.timedelta(days=1)).isoformat()
    result = runner.invoke(args=["catalogue", "publish", str(path), "--effective", day, "--source", "县政府通知"])
    assert result.exit_code == 0, result.output
    assert f"effective from {day}" in result.output
    refused = runner.invoke(args=["catalogue", "publish", str(path), "--effective", "2020-01-01", "--source", "x"])
    assert refused.exit_code == 1 and "effective_from" in refused.output
    versions = client.get("/api/v1/catalogue/versions").get_json()["versions"]
    assert versions[-1]["effective_from"] == day and versions[-1]["source"] == "县政府通知"
