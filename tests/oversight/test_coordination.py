"""Assistance requests, referral and escalation, jurisdiction disputes (seeds 000 and 004).

The county bureau (the oversight ``client``) asks and refers; the department asked answers; the
parties negotiate, the coordination office coordinates, the county government decides.
"""

import datetime as dt

from dispatch.oversight import referrals
from gis.clock import CHINA
from tests.conftest import TOKENS
from tests.factories import auxiliary, make_squad
from tests.oversight.factories import (
    COORDINATION,
    CULTURE,
    EMERGENCY,
    GOVERNMENT,
    MARKET,
    ago,
    new_incident,
    squad_id,
)

QUESTION = {"to": "dept-market", "question": "请对抽检的散装白酒出具质量检验意见"}


def _assist(client, **extra):
    response = client.post("/api/v1/assistance-requests", json={**QUESTION, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# -- assistance (seed 000 §2.4) -----------------------------------------------------------------


def test_seed000_2_4_opinion_due_in_five_working_days_skipping_the_national_day(client):
    request = _assist(client, sent_at="2025-09-30T10:00:00+08:00")
    # 1-8 October 2025 off, Saturday 11 October a working day: 9, 10, 11, 13, 14 October.
    assert request["due_at"] == dt.datetime(2025, 10, 15, tzinfo=CHINA).isoformat()
    assert request["on_site_due_at"] is None and request["overdue"] is True
    assert request["from"]["code"] == "county-bureau"


def test_seed000_2_4_an_urgent_request_needs_someone_on_site_at_once(client):
    calm = _assist(client, sent_at=ago(hours=2))
    urgent = _assist(client, sent_at=ago(hours=2), urgent=True)
    at_risk = _assist(client, sent_at=ago(minutes=10), evidence_at_risk=True)
    overdue = [r["id"] for r in client.get("/api/v1/assistance-requests?overdue=1").get_json()["assistance_requests"]]
    assert overdue == [urgent["id"]], "the on-site hour passed only for the urgent one"
    assert calm["id"] not in overdue and at_risk["on_site_due_at"] is not None
    on_site = f"/api/v1/assistance-requests/{urgent['id']}/on-site"
    arrived = client.post(on_site, json={"officers": "李明、王强"}, headers=MARKET)
    assert arrived.status_code == 200 and arrived.get_json()["on_site_at"]
    again = client.post(on_site, json={"officers": "李明"}, headers=MARKET)
    assert again.status_code == 409
    assert client.get("/api/v1/assistance-requests?overdue=1").get_json()["assistance_requests"] == []


def test_seed000_2_4_an_extension_is_asked_beforehand_and_with_a_reason(client):
    request = _assist(client)
    until = (dt.datetime.now(CHINA) + dt.timedelta(days=30)).date().isoformat()
    extend = f"/api/v1/assistance-requests/{request['id']}/extend"
    no_reason = client.post(extend, json={"until": until}, headers=MARKET)
    assert no_reason.status_code == 400 and no_reason.get_json()["error"]["field"] == "reason"
    earlier = client.post(extend, json={"until": "2020-01-01", "reason": "送检"}, headers=MARKET)
    assert earlier.status_code == 422 and earlier.get_json()["error"]["field"] == "until"
    extended = client.post(extend, json={"until": until, "reason": "需送省级机构检测"}, headers=MARKET)
    assert extended.status_code == 200
    assert extended.get_json()["due_at"].startswith((dt.date.fromisoformat(until) + dt.timedelta(days=1)).isoformat())
    late = _assist(client, sent_at=ago(days=30))
    refused = client.post(
        f"/api/v1/assistance-requests/{late['id']}/extend", json={"until": until, "reason": "迟了"}, headers=MARKET
    )
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "extension_too_late"


def test_seed000_2_4_the_overdue_list_and_the_written_answer(client):
    late = _assist(client, sent_at=ago(days=20))
    fresh = _assist(client)
    overdue = client.get("/api/v1/assistance-requests?overdue=1").get_json()["assistance_requests"]
    assert [r["id"] for r in overdue] == [late["id"]]
    answered = client.post(
        f"/api/v1/assistance-requests/{late['id']}/answer",
        json={"opinion": "经检验,甲醇含量超标", "evidence": ["检验报告 ZJ-2026-0012"]},
        headers=MARKET,
    )
    assert answered.status_code == 200 and answered.get_json()["status"] == "answered"
    assert client.get("/api/v1/assistance-requests?overdue=1").get_json()["assistance_requests"] == []
    closed = client.post(f"/api/v1/assistance-requests/{late['id']}/answer", json={"opinion": "再答"}, headers=MARKET)
    assert closed.status_code == 409 and closed.get_json()["error"]["code"] == "request_closed"
    assert fresh["overdue"] is False


def test_seed000_2_4_assistance_is_asked_of_a_department(client):
    response = client.post("/api/v1/assistance-requests", json={**QUESTION, "to": "yangshan-gov"})
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "not_a_department"
    future = client.post("/api/v1/assistance-requests", json={**QUESTION, "sent_at": "2099-01-01T00:00:00+08:00"})
    assert future.status_code == 422 and future.get_json()["error"]["field"] == "sent_at"


# -- referral and escalation (seed 000 §2.3) ----------------------------------------------------

LEAD = {"to": "dept-emergency", "matter": "EM-001", "summary": "巡查发现某加油站违规储存危险化学品"}


def test_seed000_2_3_a_lead_goes_to_the_competent_department(client):
    refused = client.post("/api/v1/referrals", json={**LEAD, "to": "dept-market"})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "not_competent"
    itself = client.post("/api/v1/referrals", json={**LEAD, "to": "county-bureau"})
    assert itself.status_code == 422 and itself.get_json()["error"]["field"] == "to"
    created = client.post("/api/v1/referrals", json=LEAD)
    assert created.status_code == 201 and created.get_json()["status"] == "referred"


def test_seed000_2_3_a_department_that_neither_acts_nor_explains_is_escalated(session, client):
    incident = new_incident(client)
    t0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=CHINA)
    body = {**LEAD, "incident_id": incident["id"], "referred_at": t0.isoformat()}
    ignored = referrals.refer(session, body, actor="cb-caiyuan", now=t0)
    answered = referrals.refer(session, dict(body, summary="另一条线索"), actor="cb-caiyuan", now=t0)
    session.commit()
    # 立即 (at once): the county's set time is one hour (oversight.yaml), not a day.
    assert referrals.escalate_overdue(session, actor="tick", now=t0 + dt.timedelta(minutes=50)) == []
    referrals.respond(session, answered.id, {"action": "explained", "note": "不属本部门管辖,已告知"}, actor="dept")
    escalated = referrals.escalate_overdue(session, actor="tick", now=t0 + dt.timedelta(hours=2))
    session.commit()
    assert [r.id for r in escalated] == [ignored.id]
    assert ignored.status == "escalated" and ignored.escalated_to.code == "shengsi-gov"
    assert referrals.escalate_overdue(session, actor="tick", now=t0 + dt.timedelta(hours=48)) == []
    events = client.get(f"/api/v1/incidents/{incident['id']}/events").get_json()["events"]
    escalation = [e for e in events if e["action"] == "referral.escalated"]
    assert len(escalation) == 1 and escalation[0]["data"]["to"] == "shengsi-gov"
    assert escalation[0]["data"]["overdue_minutes"] == 60 and escalation[0]["actor"] == "tick"
    # The department may still act after the escalation; the escalation stays on the record.
    acting = client.post(
        f"/api/v1/referrals/{ignored.id}/response", json={"action": "acting", "note": "已派员查处"}, headers=EMERGENCY
    )
    assert acting.status_code == 200 and acting.get_json()["escalated_at"] is not None


def test_seed000_2_3_escalation_from_the_scheduler_endpoint_and_the_cli(client, runner):
    old = client.post("/api/v1/referrals", json={**LEAD, "referred_at": ago(days=2)}).get_json()
    assert old["overdue"] is True
    client.post("/api/v1/referrals", json={**LEAD, "referred_at": ago(days=3)})
    fresh = client.post("/api/v1/referrals", json=LEAD).get_json()
    result = runner.invoke(args=["oversight-tick"])
    assert result.exit_code == 0 and "escalated 2 overdue referral(s)" in result.output
    # The scheduler's token names no organisation and nobody it acts for: escalation is nobody's act.
    scheduler = {"Authorization": f"Bearer {TOKENS['api'][1]}"}
    response = client.post("/api/v1/referrals/escalate-overdue", headers=scheduler)
    assert response.status_code == 200 and response.get_json()["escalated"] == []
    named = client.post("/api/v1/referrals/escalate-overdue", headers={**scheduler, "X-Actor": "scheduler"})
    assert named.status_code == 403 and named.get_json()["error"]["code"] == "actor_not_allowed"
    client.post("/api/v1/referrals", json={**LEAD, "referred_at": ago(hours=30)})
    escalated = client.post("/api/v1/referrals/escalate-overdue", headers=scheduler).get_json()["escalated"]
    assert len(escalated) == 1 and escalated[0]["escalated_to"]["code"] == "shengsi-gov"
    listed = client.get("/api/v1/referrals?status=escalated").get_json()["referrals"]
    assert len(listed) == 3 and fresh["id"] not in [r["id"] for r in listed]
    assert client.get("/api/v1/referrals?status=lost").status_code == 400


def test_seed000_2_3_a_response_acts_or_explains_once(client):
    referral = client.post("/api/v1/referrals", json=LEAD).get_json()
    url = f"/api/v1/referrals/{referral['id']}/response"
    bad = client.post(url, json={"action": "ignore", "note": "x"}, headers=EMERGENCY)
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "action"
    ok = client.post(url, json={"action": "explained", "note": "非本部门职责"}, headers=EMERGENCY)
    assert ok.status_code == 200
    again = client.post(url, json={"action": "acting", "note": "改派"}, headers=EMERGENCY)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_answered"


# -- jurisdiction disputes (seed 004 arts. 6-9) -------------------------------------------------

POINTS = [
    {
        "point": "海滩违规搭建经营帐篷由谁查处",
        "view_a": "属城市管理范畴,由综合执法局查处",
        "basis_a": "《浙江省综合行政执法事项统一目录》",
        "view_b": "属旅游经营活动,由文广旅体局查处",
        "basis_b": "《旅行社条例》第四十六条",
    }
]


def _dispute(client, **extra):
    incident = new_incident(client)
    body = {
        "party_a": "county-bureau",
        "party_b": "dept-culture",
        "incident_id": incident["id"],
        "subject": "基湖沙滩帐篷经营管辖争议",
        "provisional_squad_id": squad_id(client, "cb-caiyuan"),
        **extra,
    }
    response = client.post("/api/v1/disputes", json=body)
    assert response.status_code == 201, response.get_json()
    return incident, response.get_json()


def _step(client, dispute_id, headers, **body):
    return client.post(f"/api/v1/disputes/{dispute_id}/steps", json=body, headers=headers)


def test_seed004_art6_to_9_a_dispute_goes_from_negotiation_to_the_government_decision(client):
    incident, dispute = _dispute(client)
    assert dispute["stage"] == "negotiation" and dispute["provisional_squad"]["code"] == "cb-caiyuan"
    requested = _step(client, dispute["id"], CULTURE, step="request", points=POINTS)
    assert requested.get_json()["stage"] == "coordination"
    coordinated = _step(
        client, dispute["id"], COORDINATION, step="coordinate", opinion="建议由综合执法局查处", agreed=False
    )
    assert coordinated.get_json()["stage"] == "consultation"
    consulted = _step(
        client, dispute["id"], COORDINATION, step="consult", opinion="会商意见:由综合执法局查处", accepted=False
    )
    assert consulted.get_json()["stage"] == "government"
    decided = _step(
        client,
        dispute["id"],
        GOVERNMENT,
        step="decide",
        decision="县政府决定由综合执法局查处",
        competent_authority="county-bureau",
    )
    assert decided.status_code == 200
    body = decided.get_json()
    assert body["stage"] == "resolved" and body["competent_authority"]["code"] == "county-bureau"
    assert body["allowed_steps"] == []
    events = client.get(f"/api/v1/incidents/{incident['id']}/events").get_json()["events"]
    trail = [(e["action"], e["data"].get("to_stage"), e["actor"]) for e in events if e["action"].startswith("dispute.")]
    assert trail == [
        ("dispute.opened", None, "org-county-bureau"),
        ("dispute.request", "coordination", "org-dept-culture"),
        ("dispute.coordinate", "consultation", "org-shengsi-coordination"),
        ("dispute.consult", "government", "org-shengsi-coordination"),
        ("dispute.decide", "resolved", "org-shengsi-gov"),
    ]
    consult = next(e for e in events if e["action"] == "dispute.consult")
    assert consult["data"]["with"] == ["shengsi-staffing", "shengsi-justice"]
    assert consult["data"]["proposal_to"] == "shengsi-gov"
    assert client.get("/api/v1/disputes?open=1").get_json()["disputes"] == []


def test_seed004_art7_the_written_request_states_both_views_and_legal_bases(client):
    _, dispute = _dispute(client)
    missing = [{k: v for k, v in POINTS[0].items() if k != "basis_b"}]
    response = _step(client, dispute["id"], CULTURE, step="request", points=missing)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "points[0].basis_b"
    empty = _step(client, dispute["id"], CULTURE, step="request", points=[])
    assert empty.status_code == 400 and empty.get_json()["error"]["field"] == "points"
    # The step is a union by "step": an unknown or missing one is named, not the union's inner path.
    for body in ({"step": "skip"}, {"points": POINTS}):
        unknown = client.post(f"/api/v1/disputes/{dispute['id']}/steps", json=body, headers=CULTURE)
        assert unknown.status_code == 400 and unknown.get_json()["error"]["field"] == "step"


def test_seed004_art6_no_stage_is_skipped(client):
    _, dispute = _dispute(client)
    # Not even the government decides a dispute the parties have not yet taken to coordination.
    response = _step(
        client, dispute["id"], GOVERNMENT, step="decide", decision="直接决定", competent_authority="county-bureau"
    )
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "illegal_step" and error["allowed"] == ["agree", "request", "reassign"]


def test_seed004_art8_an_agreed_coordination_is_copied_to_staffing_and_justice(client):
    incident, dispute = _dispute(client)
    assert _step(client, dispute["id"], CULTURE, step="request", points=POINTS).status_code == 200
    no_competent = _step(
        client, dispute["id"], COORDINATION, step="coordinate", opinion="由文广旅体局查处", agreed=True
    )
    assert no_competent.status_code == 422 and no_competent.get_json()["error"]["field"] == "competent_authority"
    agreed = _step(
        client,
        dispute["id"],
        COORDINATION,
        step="coordinate",
        opinion="由文广旅体局查处",
        agreed=True,
        competent_authority="dept-culture",
    )
    assert agreed.get_json()["stage"] == "resolved"
    events = client.get(f"/api/v1/incidents/{incident['id']}/events").get_json()["events"]
    assert events[-1]["data"]["copied_to"] == ["shengsi-staffing", "shengsi-justice"]


def test_seed004_art6_settled_by_negotiation(client):
    _, dispute = _dispute(client)
    agreed = _step(
        client,
        dispute["id"],
        CULTURE,
        step="agree",
        resolution="双方协商由综合执法局查处",
        competent_authority="county-bureau",
    )
    assert agreed.get_json()["stage"] == "resolved"


def test_seed004_meanwhile_a_named_certified_squad_handles_the_incident(client, session):
    incident = new_incident(client)
    body = {"party_a": "county-bureau", "party_b": "dept-culture", "incident_id": incident["id"], "subject": "争议"}
    missing = client.post("/api/v1/disputes", json=body)
    assert missing.status_code == 400 and missing.get_json()["error"]["field"] == "provisional_squad_id"
    helpers_only = make_squad(session, at=(122.45, 30.72), officers=[auxiliary()])
    refused = client.post("/api/v1/disputes", json={**body, "provisional_squad_id": helpers_only.id})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "no_certified_officer"
    same = client.post("/api/v1/disputes", json={**body, "party_b": "county-bureau", "provisional_squad_id": 1})
    assert same.status_code == 422 and same.get_json()["error"]["field"] == "party_b"
    _, dispute = _dispute(client)
    moved = _step(
        client,
        dispute["id"],
        COORDINATION,
        step="reassign",
        provisional_squad_id=squad_id(client, "cb-wulong"),
        reason="菜园中队另有任务",
    )
    assert moved.status_code == 200 and moved.get_json()["provisional_squad"]["code"] == "cb-wulong"
    assert moved.get_json()["stage"] == "negotiation"
