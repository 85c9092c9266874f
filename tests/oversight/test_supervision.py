"""Supervision (seed 002 task 6; seed 004 arts. 13, 15-17), certificates and training hours (seed 002 task 5).

The justice bureau supervises (visits, notices, reviews of corrections); the county bureau (the
oversight ``client``) answers its notices and records its officers' training; the county
government changes or revokes a penalty decision.
"""

import datetime as dt

from dispatch.oversight import supervision
from tests.oversight.factories import AUXILIARY, CERTIFIED, EXPIRED, GOVERNMENT, JUSTICE, officer_id, open_case

VISIT = {"authority": "county-bureau", "method": "case_file_review", "on_site": True, "findings": "抽查案卷10件"}


def _visit(client, **body):
    return client.post("/api/v1/supervision-visits", json={**VISIT, **body}, headers=JUSTICE)


def test_seed004_art13_on_site_supervision_needs_two_certified_supervisors(client):
    alone = _visit(client, supervisors=["supervisor-zhao"])
    assert alone.status_code == 409 and alone.get_json()["error"]["code"] == "too_few_supervisors"
    lapsed = _visit(client, supervisors=["supervisor-zhao", "supervisor-sun"])
    assert lapsed.status_code == 409 and "supervisor-sun" in lapsed.get_json()["error"]["message"]
    reviewer = _visit(client, supervisors=["supervisor-zhao", "reviewer-cb-wang"])
    assert reviewer.status_code == 422 and reviewer.get_json()["error"]["field"] == "supervisors[1]"
    ok = _visit(client, supervisors=["supervisor-zhao", "supervisor-qian"])
    assert ok.status_code == 201 and len(ok.get_json()["supervisors"]) == 2
    assert ok.get_json()["created_by"] == "org-shengsi-justice"
    desk = _visit(client, on_site=False, supervisors=["supervisor-zhao"])
    assert desk.status_code == 201, "a desk review of files is not on site"
    method = _visit(client, method="raid", supervisors=["supervisor-zhao"])
    assert method.status_code == 400 and method.get_json()["error"]["field"] == "method"


def test_seed004_art13_the_staff_list_shows_who_is_certified(client):
    staff = {s["code"]: s for s in client.get("/api/v1/oversight-staff").get_json()["staff"]}
    assert staff["supervisor-zhao"]["certified"] and not staff["supervisor-sun"]["certified"]
    assert staff["reviewer-cb-wang"]["authority"]["code"] == "county-bureau"


def _decided_case(client, session, number):
    case = open_case(client, session)
    decision = client.post(f"/api/v1/cases/{case['id']}/decisions", json={"number": number, "content": "罚款五千元"})
    assert decision.status_code == 201, decision.get_json()
    return case, decision.get_json()


def _notice(client, case_ids, **extra):
    body = {
        "authority": "county-bureau",
        "method": "individual_case",
        "problem": "处罚决定未载明法律依据",
        "required_action": "补正法律依据并重新送达",
        "case_ids": case_ids,
        **extra,
    }
    response = client.post("/api/v1/supervision-notices", json=body, headers=JUSTICE)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


REVOKE = {"action": "revoke", "ground": "no_legal_basis", "content": "撤销该处罚决定"}


def test_seed004_art16_17_a_decision_follows_only_a_rejected_or_lapsed_notice(client, session):
    case, penalty = _decided_case(client, session, "嵊综执罚〔2026〕11号")
    notice = _notice(client, [case["id"]])
    assert notice["issued_by"]["code"] == "shengsi-justice" and notice["status"] == "issued"
    body = {**REVOKE, "penalty_decision_id": penalty["id"]}
    decisions = f"/api/v1/supervision-notices/{notice['id']}/decisions"
    early = client.post(decisions, json=body, headers=GOVERNMENT)
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "notice_not_lapsed"

    responded = client.post(f"/api/v1/supervision-notices/{notice['id']}/response", json={"response": "已补正"})
    assert responded.get_json()["status"] == "responded"
    review = f"/api/v1/supervision-notices/{notice['id']}/review"
    bare = client.post(review, json={"accepted": False}, headers=JUSTICE)
    assert bare.status_code == 422 and bare.get_json()["error"]["field"] == "note"
    rejected = client.post(review, json={"accepted": False, "note": "未重新送达"}, headers=JUSTICE)
    assert rejected.get_json()["status"] == "rejected"
    decided = client.post(decisions, json=body, headers=GOVERNMENT)
    assert decided.status_code == 201, decided.get_json()
    assert decided.get_json()["issued_by"]["code"] == "shengsi-gov"
    shown = client.get(f"/api/v1/cases/{case['id']}").get_json()
    assert shown["decisions"][0]["status"] == "revoked"
    assert shown["events"][-1]["action"] == "supervision_decision.revoke"
    assert shown["events"][-1]["actor"] == "org-shengsi-gov"
    again = client.post(decisions, json=body, headers=GOVERNMENT)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "revoked"


def test_seed004_art17_a_notice_past_its_time_limit_without_correction_lapses(client, session):
    case, penalty = _decided_case(client, session, "嵊综执罚〔2026〕12号")
    notice = _notice(client, [case["id"]], deadline=(dt.date.today() + dt.timedelta(days=3)).isoformat())
    body = {
        "action": "change",
        "ground": "facts_unclear_evidence_insufficient",
        "content": "变更为警告",
        "penalty_decision_id": penalty["id"],
    }
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=5)
    decision = supervision.decide(session, notice["id"], body, actor="county-gov", now=later)
    session.commit()
    assert decision.action == "change" and decision.penalty_decision.status == "changed"
    listed = client.get("/api/v1/supervision-notices").get_json()["supervision_notices"]
    assert listed[0]["decisions"][0]["ground"] == "facts_unclear_evidence_insufficient"


def test_seed002_task6_a_major_problem_goes_to_the_government_at_once(client, session):
    case, penalty = _decided_case(client, session, "嵊综执罚〔2026〕13号")
    notice = _notice(client, [case["id"]], major=True)
    decided = client.post(
        f"/api/v1/supervision-notices/{notice['id']}/decisions",
        json={**REVOKE, "ground": "no_authority_qualification", "penalty_decision_id": penalty["id"]},
        headers=GOVERNMENT,
    )
    assert decided.status_code == 201


def test_seed004_art17_a_decision_cites_a_statutory_ground(client, session):
    case, penalty = _decided_case(client, session, "嵊综执罚〔2026〕14号")
    notice = _notice(client, [case["id"]], major=True)
    url = f"/api/v1/supervision-notices/{notice['id']}/decisions"
    bad = client.post(
        url, json={**REVOKE, "ground": "we_dislike_it", "penalty_decision_id": penalty["id"]}, headers=GOVERNMENT
    )
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "ground"  # off the declared enum
    other = client.post(
        url, json={**REVOKE, "ground": "other_statutory", "penalty_decision_id": penalty["id"]}, headers=GOVERNMENT
    )
    assert other.status_code == 422 and other.get_json()["error"]["field"] == "legal_basis"
    cited = client.post(
        url,
        json={
            **REVOKE,
            "ground": "other_statutory",
            "legal_basis": "《行政处罚法》第三十八条",
            "penalty_decision_id": penalty["id"],
        },
        headers=GOVERNMENT,
    )
    assert cited.status_code == 201


def test_seed004_art17_a_decision_concerns_a_case_of_the_notice(client, session):
    case, _ = _decided_case(client, session, "嵊综执罚〔2026〕15号")
    _, other_penalty = _decided_case(client, session, "嵊综执罚〔2026〕16号")
    notice = _notice(client, [case["id"]], major=True)
    response = client.post(
        f"/api/v1/supervision-notices/{notice['id']}/decisions",
        json={**REVOKE, "penalty_decision_id": other_penalty["id"]},
        headers=GOVERNMENT,
    )
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "penalty_decision_id"
    foreign = client.post(
        "/api/v1/supervision-notices",
        json={
            "authority": "dept-market",
            "method": "special",
            "problem": "x",
            "required_action": "y",
            "case_ids": [case["id"]],
        },
        headers=JUSTICE,
    )
    assert foreign.status_code == 422 and foreign.get_json()["error"]["field"] == "case_ids"


def test_seed002_task5_officers_under_60_training_hours(client, session):
    first, second = officer_id(session, CERTIFIED), officer_id(session, EXPIRED)
    first_of_month = dt.date.today().replace(day=1).isoformat()
    year = dt.date.today().year
    for officer, hours in ((first, 24), (first, 24), (first, 11.5), (second, 24), (second, 24), (second, 12)):
        response = client.post(
            f"/api/v1/officers/{officer}/training",
            json={"taken_on": first_of_month, "hours": hours, "course": "行政处罚法专题"},
        )
        assert response.status_code == 201, response.get_json()
    under = {o["officer"]["id"]: o for o in client.get(f"/api/v1/training?year={year}&under=1").get_json()["officers"]}
    assert under[first]["hours"] == 59.5 and under[first]["missing"] == 0.5
    assert second not in under, "60 hours meet the rule"
    assert officer_id(session, AUXILIARY) not in under, "auxiliaries are not enforcement officers"
    too_long = client.post(
        f"/api/v1/officers/{first}/training", json={"taken_on": first_of_month, "hours": 25, "course": "x"}
    )
    assert too_long.status_code == 400 and too_long.get_json()["error"]["field"] == "hours"
    future = client.post(
        f"/api/v1/officers/{first}/training", json={"taken_on": "2099-01-01", "hours": 2, "course": "x"}
    )
    assert future.status_code == 422 and future.get_json()["error"]["field"] == "taken_on"
    precise = client.post(
        f"/api/v1/officers/{first}/training", json={"taken_on": first_of_month, "hours": 1.25, "course": "x"}
    )
    assert precise.status_code == 422 and precise.get_json()["error"]["field"] == "hours"
    nobody = {"taken_on": first_of_month, "hours": 2, "course": "x"}
    assert client.post("/api/v1/officers/999999/training", json=nobody).status_code == 404


def test_seed002_task5_certificates_expire(client):
    officers = client.get("/api/v1/certificates?within_days=0").get_json()["officers"]
    expired = next(o for o in officers if o["name"] == EXPIRED)
    assert expired["valid"] is False and expired["certificate_expires"] == "2025-06-30"
    assert all(o["name"] != CERTIFIED for o in officers)
