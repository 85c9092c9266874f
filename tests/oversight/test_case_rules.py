"""Case rules the server enforces whatever the caller says (issue 32, part C).

- Administrative Penalty Law (2021) art. 42: at least two certified enforcers on a case.
- Seed 002 task 4 (重大执法决定法制审核): a fine above the county's threshold
  (oversight.yaml policy.major_fine_yuan) is a major decision: legal review first.
"""

from sqlalchemy import func, select

from dispatch.oversight.models import EnforcementCase, PenaltyDecision
from dispatch.store.models import Event
from tests.oversight.factories import CERTIFIED, REVIEWER, case_body, officer_id, open_case

MILLION = {"number": "嵊综执罚决字〔2026〕第9号", "content": "责令改正,罚款一百万元", "fine_yuan": 1_000_000}


def _pass_review(client, case_id: int) -> dict:
    review = client.post(f"/api/v1/cases/{case_id}/legal-reviews", json={"proposed_decision": "拟罚款一百万元"})
    assert review.status_code == 201, review.get_json()
    passed = client.post(
        f"/api/v1/legal-reviews/{review.get_json()['id']}/outcome",
        json={"outcome": "passed", "reasons": "事实清楚,证据确凿"},
        headers=REVIEWER,
    )
    assert passed.status_code == 200, passed.get_json()
    return passed.get_json()


def test_penalty_law_art42_a_case_with_one_enforcer_is_refused_with_the_rule_named(client, session):
    before = session.scalar(select(func.count()).select_from(EnforcementCase))
    response = client.post("/api/v1/cases", json=case_body(session, enforcers=(CERTIFIED,)))
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "two_enforcers_required" and error["field"] == "enforcer_ids"
    assert "art. 42" in error["message"] and "执法人员不得少于两人" in error["message"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(EnforcementCase)) == before  # nothing saved


def test_penalty_law_art42_a_case_with_two_certified_enforcers_opens(client, session):
    case = open_case(client, session)
    enforcers = [o["id"] for o in case["officers"] if o["role"] == "enforcer"]
    assert len(enforcers) == 2 and officer_id(session, CERTIFIED) in enforcers


def test_seed002_task4_a_fine_above_the_threshold_marked_non_major_is_refused_without_legal_review(client, session):
    case = open_case(client, session, major=False)
    refused = client.post(f"/api/v1/cases/{case['id']}/decisions", json=MILLION)
    assert refused.status_code == 422, refused.get_json()
    error = refused.get_json()["error"]
    assert error["code"] == "major_by_threshold" and error["field"] == "fine_yuan"
    assert "seed 002 task 4" in error["message"] and "100,000" in error["message"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(PenaltyDecision)) == 0
    shown = client.get(f"/api/v1/cases/{case['id']}").get_json()
    assert shown["major"] is False and shown["status"] == "investigating"
    # Below the threshold a non-major case is decided without review, as before.
    small = client.post(f"/api/v1/cases/{case['id']}/decisions", json=dict(MILLION, fine_yuan=5000))
    assert small.status_code == 201, small.get_json()


def test_seed002_task4_a_fine_above_the_threshold_after_legal_review_raises_the_case_to_major(client, session):
    case = open_case(client, session, major=False)
    review = _pass_review(client, case["id"])
    issued = client.post(f"/api/v1/cases/{case['id']}/decisions", json=MILLION)
    assert issued.status_code == 201, issued.get_json()
    assert issued.get_json()["legal_review_id"] == review["id"]
    shown = client.get(f"/api/v1/cases/{case['id']}").get_json()
    assert shown["major"] is True
    raised = [e for e in shown["events"] if e["action"] == "case.raised_to_major"]
    assert len(raised) == 1 and raised[0]["data"]["rule"] == "seed 002 task 4"
    assert raised[0]["data"]["threshold_yuan"] == 100000
    assert session.scalar(select(func.count()).select_from(Event).where(Event.action == "case.raised_to_major")) == 1
