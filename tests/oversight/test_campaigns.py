"""Inspect-once campaigns (seed 001 §3.3.2: 同一行业、同一区域、同一对象; seed 003 §7: 集中检查、指导整改、
跟踪问效): a plan over townships or an industry, targets, every department's findings in one visit,
and the check of what was found."""

from dispatch.oversight.figures import annual_report
from dispatch.store.models import Region
from tests.oversight.factories import BUREAU, EMERGENCY, MARKET

CAMPAIGN = {
    "title": "2025年菜园镇海鲜排档“综合查一次”专项行动",
    "plan": "市场监管、应急管理、综合执法同日入户,一次检查证照、燃气安全和占道经营",
    "lead": "county-bureau",
    "departments": ["dept-market", "dept-emergency"],
    "regions": ["330922100"],
    "industry": "餐饮 catering",
    "starts_on": "2025-06-01",
    "ends_on": "2025-06-30",
}
STALL = {
    "name": "嵊泗某某海鲜排档",
    "business_id": "91330922MA2B3C4D5E",
    "location": {"type": "Point", "coordinates": [122.452, 30.725]},
}


def _campaign(client, **extra):
    response = client.post("/api/v1/campaigns", json={**CAMPAIGN, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _target(client, campaign_id, **extra):
    response = client.post(f"/api/v1/campaigns/{campaign_id}/targets", json={**STALL, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


VISIT = [
    {"authority": "county-bureau", "result": "compliant", "note": "未发现占道经营"},
    {"authority": "dept-market", "result": "violation", "note": "食品经营许可证过期", "rectify_by": "2025-06-20"},
    {"authority": "dept-emergency", "result": "compliant", "note": "钢瓶检验合格"},
]


def test_seed001_3_3_2_a_target_is_inspected_once_by_every_department(client):
    campaign = _campaign(client)
    target = _target(client, campaign["id"])
    findings = f"/api/v1/campaigns/{campaign['id']}/findings"
    visit = client.post(findings, json={"target_id": target["id"], "visited_at": "2025-06-10T10:00:00+08:00",
                                        "findings": VISIT})  # fmt: skip
    assert visit.status_code == 201, visit.get_json()
    assert visit.get_json()["status"] == "inspected" and visit.get_json()["visits_avoided"] == 2
    again = client.post(findings, json={"target_id": target["id"], "findings": [VISIT[0]]})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_inspected"
    shown = client.get(f"/api/v1/campaigns/{campaign['id']}").get_json()
    assert shown["status"] == "active" and shown["inspected"] == 1 and shown["visits_avoided"] == 2
    # the same business again, or a place within 100 m, is the same target
    same = client.post(f"/api/v1/campaigns/{campaign['id']}/targets", json={**STALL, "name": "同一排档"})
    assert same.status_code == 409 and same.get_json()["error"]["code"] == "same_target"
    near = client.post(f"/api/v1/campaigns/{campaign['id']}/targets",
                       json={**STALL, "business_id": None, "location": {"type": "Point", "coordinates": [122.4525, 30.7252]}})  # fmt: skip
    assert near.status_code == 409


def test_seed003_7_a_violation_is_followed_up_by_its_check(client):
    campaign = _campaign(client)
    target = _target(client, campaign["id"])
    findings = f"/api/v1/campaigns/{campaign['id']}/findings"
    no_deadline = [{**VISIT[1], "rectify_by": None}]
    refused = client.post(findings, json={"target_id": target["id"], "findings": no_deadline})
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "rectify_by_required"
    assert client.get(f"/api/v1/campaigns/{campaign['id']}/targets").get_json()["targets"][0]["status"] == "pending"
    visit = client.post(findings, json={"target_id": target["id"], "visited_at": "2025-06-10T10:00:00+08:00",
                                        "findings": VISIT}).get_json()  # fmt: skip
    violation = next(f for f in visit["findings"] if f["result"] == "violation")
    compliant = next(f for f in visit["findings"] if f["result"] == "compliant")
    assert violation["rectify_last_day"] == "2025-06-20" and violation["check_overdue"] is True
    check = f"{findings}/{violation['id']}/check"
    assert client.post(check, json={"rectified": True, "note": "已补办"}, headers=EMERGENCY).status_code == 403
    done = client.post(check, json={"rectified": True, "note": "已补办许可证"}, headers=MARKET)
    assert done.status_code == 200 and done.get_json()["check_result"] == "rectified"
    assert client.post(check, json={"rectified": False, "note": "x"}, headers=MARKET).status_code == 409
    nothing = client.post(f"{findings}/{compliant['id']}/check", json={"rectified": True, "note": "x"}, headers=BUREAU)
    assert nothing.status_code == 409 and nothing.get_json()["error"]["code"] == "nothing_to_check"


def test_seed001_3_3_2_a_campaign_over_regions_of_another_county_is_refused(client, session):
    daishan = Region(code="330921", level="county", name_zh="岱山县", name_en="Daishan County")
    session.add(daishan)
    session.flush()
    session.add(
        Region(code="330921100", level="township", name_zh="高亭镇", name_en="Gaoting Town", parent_id=daishan.id)
    )
    session.commit()
    refused = client.post("/api/v1/campaigns", json={**CAMPAIGN, "regions": ["330922100", "330921100"]})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "outside_county"
    assert refused.get_json()["error"]["field"] == "regions[1]"
    assert client.get("/api/v1/campaigns").get_json()["campaigns"] == [], "nothing saved"
    unscoped = client.post("/api/v1/campaigns", json={**CAMPAIGN, "regions": [], "industry": None})
    assert unscoped.status_code == 422 and unscoped.get_json()["error"]["code"] == "scope_required"


def test_a_target_outside_the_campaigns_townships_is_refused(client):
    campaign = _campaign(client)
    gouqi = client.post(f"/api/v1/campaigns/{campaign['id']}/targets",
                        json={**STALL, "business_id": "91330922MA0000000X", "location": {"type": "Point", "coordinates": [122.77, 30.72]}})  # fmt: skip
    assert gouqi.status_code == 422 and gouqi.get_json()["error"]["code"] == "outside_area"


def test_campaigns_targets_inspected_once_and_visits_avoided_are_in_the_annual_report(client, session):
    campaign = _campaign(client)
    target = _target(client, campaign["id"])
    client.post(f"/api/v1/campaigns/{campaign['id']}/findings",
                json={"target_id": target["id"], "visited_at": "2025-06-10T10:00:00+08:00", "findings": VISIT})  # fmt: skip
    _target(client, campaign["id"], business_id="91330922MA0000001Y",
            location={"type": "Point", "coordinates": [122.440, 30.728]})  # fmt: skip
    figures = annual_report(session, 2025)["campaigns"]
    assert figures == {"campaigns": 1, "targets_inspected_once": 1, "visits_avoided": 2, "violations": 1,
                       "rectified": 0, "checks_overdue": 1}  # fmt: skip
    page = client.get("/supervisor/campaigns").get_data(as_text=True)
    assert "嵊泗某某海鲜排档" in page and "逾期未复查" in page
