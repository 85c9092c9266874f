"""Information sharing (seed 000 §2.1): scoped by department, available the day records are made.

Each authority shares its own records (its organisation token); the county bureau's penalty
decisions are shared as it issues them.
"""

from tests.conftest import as_org
from tests.oversight.factories import MARKET, ago, open_case

LICENCE = {
    "kind": "licence",
    "authority": "dept-market",
    "title": "食品经营许可证 JY13309220001234",
    "party": {"name": "嵊泗某某海鲜排档", "business_id": "91330922MA2B3C4D5E"},
    "domains": ["market_supervision"],
    "data": {"licence_no": "JY13309220001234", "valid_until": "2031-11-22"},
}


def _feed(client, department, **params):
    response = client.get("/api/v1/sharing/feed", query_string={"department": department, **params})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["records"]


def test_seed000_2_1_a_penalty_decision_is_in_the_feed_the_day_it_is_issued(client, session):
    case = open_case(client, session)
    decision = client.post(
        f"/api/v1/cases/{case['id']}/decisions", json={"number": "嵊综执罚〔2026〕21号", "content": "罚款二千元"}
    ).get_json()
    mine = _feed(client, "county-bureau")
    assert [r["penalty_decision_id"] for r in mine] == [decision["id"]]
    assert mine[0]["kind"] == "penalty_decision" and mine[0]["same_day"] is True
    assert _feed(client, "dept-market") == [], "another domain's decision is not in the market bureau's feed"


def test_seed000_2_1_licences_and_inspection_records_reach_the_departments_concerned(client):
    licence = client.post("/api/v1/sharing/records", json=LICENCE, headers=MARKET)
    assert licence.status_code == 201, licence.get_json()
    inspection = client.post(
        "/api/v1/sharing/records",
        json={
            "kind": "inspection_record",
            "authority": "dept-health",
            "title": "公共场所卫生检查记录",
            "domains": ["market_supervision"],
            "data": {"result": "合格"},
        },
        headers=as_org("dept-health"),
    )
    assert inspection.status_code == 201
    assert [r["kind"] for r in _feed(client, "dept-market")] == ["licence", "inspection_record"]
    assert [r["kind"] for r in _feed(client, "county-bureau")] == ["licence"], "licences reach the comprehensive force"
    assert [r["kind"] for r in _feed(client, "dept-health")] == ["inspection_record"], "its own records"
    assert _feed(client, "dept-transport") == []
    assert _feed(client, "dept-market", date="2020-01-01") == []
    assert len(_feed(client, "dept-market", since=ago(minutes=30))) == 2


def test_seed000_2_1_a_record_shared_after_the_day_it_was_made_says_why(client):
    late = client.post("/api/v1/sharing/records", json={**LICENCE, "made_at": ago(days=2)}, headers=MARKET)
    assert late.status_code == 422
    assert late.get_json()["error"]["code"] == "shared_late" and late.get_json()["error"]["field"] == "delay_reason"
    explained = client.post(
        "/api/v1/sharing/records",
        json={**LICENCE, "made_at": ago(days=2), "delay_reason": "纸质档案整理后录入"},
        headers=MARKET,
    )
    assert explained.status_code == 201 and explained.get_json()["same_day"] is False


def test_seed000_2_1_the_feed_is_scoped_and_only_shares_what_the_seed_names(client):
    missing = client.get("/api/v1/sharing/feed")
    assert missing.status_code == 400 and missing.get_json()["error"]["field"] == "department"
    unknown = client.get("/api/v1/sharing/feed?department=dept-nowhere")
    assert unknown.status_code == 422 and unknown.get_json()["error"]["field"] == "department"
    forged = client.post("/api/v1/sharing/records", json={**LICENCE, "kind": "penalty_decision"}, headers=MARKET)
    assert forged.status_code == 400 and forged.get_json()["error"]["field"] == "kind"
    nested = client.post("/api/v1/sharing/records", json={**LICENCE, "data": {"items": [1, 2]}}, headers=MARKET)
    assert nested.status_code == 400 and nested.get_json()["error"]["field"] == "data", "a flat object of values"
    bad_day = client.get("/api/v1/sharing/feed?department=dept-market&date=yesterday")
    assert bad_day.status_code == 400 and bad_day.get_json()["error"]["field"] == "date"
