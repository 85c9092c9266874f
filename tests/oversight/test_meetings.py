"""Joint meetings and consultation (seed 000 §2.2-2.3, seed 002 task 1, seed 003 annex 三): minutes whose
decisions become tasks with an owner, a deadline and feedback."""

import datetime as dt

from dispatch.oversight.figures import annual_report
from dispatch.store.models import Authority, Region
from gis.clock import CHINA
from tests.oversight.factories import COORDINATION, EMERGENCY, MARKET

MEETING = {
    "kind": "regular",
    "title": "2025年下半年综合执法协调联动联席会议",
    "held_at": "2025-09-26T09:30:00+08:00",
    "convenor": "county-bureau",
    "participants": ["dept-market", "dept-emergency", "dept-culture"],
    "agenda": "通报上半年综合执法情况;研究海鲜排档占道经营整治",
    "minutes": "一、市场监管局牵头排查海鲜排档证照;二、应急管理局核查液化气钢瓶使用。",
}


def _meeting(client, **extra):
    response = client.post("/api/v1/meetings", json={**MEETING, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _outside_county(session) -> str:
    """An authority of Daishan, the neighbouring county (not in the Shengsi data)."""
    county = Region(code="330921", level="county", name_zh="岱山县", name_en="Daishan County")
    session.add(county)
    session.flush()
    session.add(Authority(code="daishan-market", name_zh="岱山县市场监督管理局", name_en="Daishan Market Supervision",
                          kind="department", domain="market_supervision", region_id=county.id))  # fmt: skip
    session.commit()
    return "daishan-market"


def test_seed003_annex_3_minutes_become_tasks_with_owner_deadline_and_feedback(client):
    meeting = _meeting(client)
    assert meeting["convenor"]["code"] == "county-bureau" and len(meeting["participants"]) == 3
    tasks = f"/api/v1/meetings/{meeting['id']}/tasks"
    # 5 working days from Friday 26 September 2025 across the National Day holiday (1-8 October off,
    # Sunday 28 September and Saturday 11 October worked): 28, 29, 30 September, 9, 10 October.
    market = client.post(tasks, json={"decision": "排查海鲜排档证照", "owner": "dept-market", "working_days": 5})
    assert market.status_code == 201, market.get_json()
    market = market.get_json()
    assert market["due_at"] == dt.datetime(2025, 10, 11, tzinfo=CHINA).isoformat()
    assert market["last_day"] == "2025-10-10" and market["overdue"] is True
    gas = client.post(tasks, json={"decision": "核查液化气钢瓶", "owner": "dept-emergency", "deadline": "2025-10-31"})
    assert gas.status_code == 201
    gas = gas.get_json()
    listed = client.get(tasks).get_json()["tasks"]
    assert [t["id"] for t in listed] == [market["id"], gas["id"]]

    feedback = f"{tasks}/{gas['id']}/feedback"
    assert client.post(feedback, json={"feedback": "已核查"}).status_code == 403, "only the owner reports"
    done = client.post(feedback, json={"feedback": "已核查32家,整改3家", "done_at": "2025-10-20T17:00:00+08:00"},
                       headers=EMERGENCY)  # fmt: skip
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["status"] == "done" and done.get_json()["on_time"] is True
    again = client.post(feedback, json={"feedback": "再次"}, headers=EMERGENCY)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "task_done"
    late = client.post(f"{tasks}/{market['id']}/feedback", json={"feedback": "已排查"}, headers=MARKET)
    assert late.get_json()["on_time"] is False

    shown = client.get(f"/api/v1/meetings/{meeting['id']}").get_json()
    assert [t["status"] for t in shown["tasks"]] == ["done", "done"]
    events = client.get("/api/v1/incidents").status_code  # the record is checked below through the report
    assert events == 200


def test_seed003_annex_3_a_meeting_task_without_owner_or_deadline_is_refused(client, session):
    meeting = _meeting(client)
    tasks = f"/api/v1/meetings/{meeting['id']}/tasks"
    no_owner = client.post(tasks, json={"decision": "排查", "working_days": 5})
    assert no_owner.status_code == 422
    assert no_owner.get_json()["error"]["code"] == "owner_and_deadline_required"
    assert no_owner.get_json()["error"]["field"] == "owner" and "seed 003" in no_owner.get_json()["error"]["message"]
    no_deadline = client.post(tasks, json={"decision": "排查", "owner": "dept-market"})
    assert no_deadline.status_code == 422 and no_deadline.get_json()["error"]["field"] == "deadline"
    assert client.get(tasks).get_json()["tasks"] == [], "nothing saved on a refusal"


def test_seed000_2_2_a_participant_outside_the_county_is_refused(client, session):
    code = _outside_county(session)
    refused = client.post("/api/v1/meetings", json={**MEETING, "participants": ["dept-market", code]})
    assert refused.status_code == 422
    assert refused.get_json()["error"] == {
        "code": "outside_county",
        "field": "participants[1]",
        "message": refused.get_json()["error"]["message"],
    }
    assert client.get("/api/v1/meetings").get_json()["meetings"] == []
    meeting = _meeting(client)
    owner = client.post(f"/api/v1/meetings/{meeting['id']}/tasks",
                        json={"decision": "x", "owner": code, "deadline": "2025-12-31"})  # fmt: skip
    assert owner.status_code == 422 and owner.get_json()["error"]["code"] == "outside_county"


def test_seed000_2_3_a_consultation_convened_by_the_coordination_office_on_a_major_lead(client):
    consultation = client.post(
        "/api/v1/meetings",
        json={**MEETING, "kind": "consultation", "convenor": "shengsi-coordination", "title": "重大线索专题会商"},
        headers=COORDINATION,
    )
    assert consultation.status_code == 201, consultation.get_json()
    assert consultation.get_json()["convenor"]["code"] == "shengsi-coordination"
    assert client.post("/api/v1/meetings", json={**MEETING, "convenor": "shengsi-coordination"}).status_code == 403


def test_meetings_and_tasks_on_time_are_counted_in_the_annual_report(client, session):
    meeting = _meeting(client)
    tasks = f"/api/v1/meetings/{meeting['id']}/tasks"
    first = client.post(tasks, json={"decision": "a", "owner": "dept-market", "deadline": "2025-10-31"}).get_json()
    client.post(tasks, json={"decision": "b", "owner": "dept-emergency", "deadline": "2025-10-15"})
    client.post(f"{tasks}/{first['id']}/feedback", json={"feedback": "完成", "done_at": "2025-10-30T10:00:00+08:00"},
                headers=MARKET)  # fmt: skip
    figures = annual_report(session, 2025)["meetings"]
    assert figures["meetings_held"] == 1 and figures["by_kind"]["regular"] == 1
    assert figures["tasks"] == 2 and figures["tasks_done_on_time"] == 1 and figures["tasks_overdue_open"] == 1
    csv = client.get("/api/v1/reports/annual?year=2025&format=csv").get_data(as_text=True)
    assert "meetings,2025,,tasks_done_on_time,1" in csv


def test_overdue_meeting_tasks_show_on_the_meetings_page(client):
    meeting = _meeting(client)
    client.post(f"/api/v1/meetings/{meeting['id']}/tasks",
                json={"decision": "核查液化气钢瓶", "owner": "dept-emergency", "deadline": "2025-10-15"})  # fmt: skip
    page = client.get("/supervisor/meetings")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "逾期未反馈的议定事项" in text and "核查液化气钢瓶" in text and 'class="late"' in text
    assert "Overdue meeting tasks" in client.get("/supervisor/meetings?lang=en").get_data(as_text=True)
