"""Issue 25, findings 1 and 5: the acts the seeds give to one organisation need a principal of it.

One row per reserved act (dispatch.scope.require_organisation / require_person and their callers
in dispatch/oversight): every wrong principal is refused first (403 ``out_of_scope``, nothing
recorded), then the right organisation does it (2xx), so a one-time act shows the refusals took
no effect. Among the wrong principals are the issue's attacks: a dispatcher token (no
organisation) answering a referral as the market department, issuing the justice bureau's notice
and the county government's decision revoking a penalty. The legal review forged with
``X-Actor`` has its own test, down to what the record and ``audit verify`` show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from dispatch.accounts import add_api_token
from dispatch.store.models import Event
from tests.conftest import TOKENS, as_org, as_person
from tests.oversight.factories import (
    BUREAU,
    CERTIFIED,
    COORDINATION,
    CULTURE,
    EMERGENCY,
    GOVERNMENT,
    JUSTICE,
    MARKET,
    POLICE,
    REVIEWER,
    case_body,
    officer_id,
    open_case,
    squad_id,
)

DISPATCHER = {"Authorization": f"Bearer {TOKENS['dispatcher'][1]}"}  # role dispatcher, no organisation
ADMIN = {"Authorization": f"Bearer {TOKENS['api'][1]}"}  # the installation's admin token, no organisation
PROCURATORATE = as_org("shengsi-procuratorate")
HEALTH = as_org("dept-health")

DECISION = {"number": "嵊综执罚决字〔2026〕第9号", "content": "责令改正,罚款五千元", "fine_yuan": 5000}
QUESTION = {"to": "dept-market", "question": "请对抽检的散装白酒出具质量检验意见"}
MARKET_LEAD = {"to": "dept-market", "matter": "MS-001", "summary": "巡查发现某超市销售过期食品"}
POINTS = [
    {
        "point": "海滩违规搭建经营帐篷由谁查处",
        "view_a": "属城市管理范畴,由综合执法局查处",
        "basis_a": "《浙江省综合行政执法事项统一目录》",
        "view_b": "属旅游经营活动,由文广旅体局查处",
        "basis_b": "《旅行社条例》第四十六条",
    }
]
NOTICE = {
    "authority": "county-bureau",
    "method": "special",
    "problem": "处罚决定未载明法律依据",
    "required_action": "补正法律依据并重新送达",
}
VISIT = {
    "authority": "county-bureau",
    "method": "case_file_review",
    "on_site": True,
    "findings": "抽查案卷10件",
    "supervisors": ["supervisor-zhao", "supervisor-qian"],
}
LICENCE = {
    "kind": "licence",
    "authority": "dept-market",
    "title": "食品经营许可证 JY13309220001234",
    "domains": ["market_supervision"],
    "data": {"licence_no": "JY13309220001234"},
}


def _ok(response, status: int = 201) -> dict:
    assert response.status_code == status, response.get_json()
    return response.get_json()


# -- what each act needs in place first (made by the organisations the seeds give it to) ---------------


def _case(client, session, **kwargs) -> int:
    return open_case(client, session, **kwargs)["id"]


def _review(client, session) -> int:
    case_id = _case(client, session, major=True)
    return _ok(client.post(f"/api/v1/cases/{case_id}/legal-reviews", json={"proposed_decision": "拟罚款"}))["id"]


def _transfer(client, session) -> int:
    case_id = _case(client, session)
    body = {"to": "shengsi-police", "suspected_offence": "非法经营罪"}
    return _ok(client.post(f"/api/v1/cases/{case_id}/criminal-referrals", json=body))["id"]


def _assistance(client) -> int:
    return _ok(client.post("/api/v1/assistance-requests", json={**QUESTION, "urgent": True}))["id"]


def _referral(client) -> int:
    return _ok(client.post("/api/v1/referrals", json=MARKET_LEAD))["id"]


def _dispute(client, *steps: tuple[dict, dict]) -> int:
    body = {
        "party_a": "county-bureau",
        "party_b": "dept-culture",
        "subject": "基湖沙滩帐篷经营管辖争议",
        "provisional_squad_id": squad_id(client, "cb-caiyuan"),
    }
    dispute_id = _ok(client.post("/api/v1/disputes", json=body))["id"]
    for headers, step in steps:
        _ok(client.post(f"/api/v1/disputes/{dispute_id}/steps", json=step, headers=headers), 200)
    return dispute_id


REQUESTED = (CULTURE, {"step": "request", "points": POINTS})
NOT_AGREED = (COORDINATION, {"step": "coordinate", "opinion": "建议由综合执法局查处", "agreed": False})
NOT_ACCEPTED = (COORDINATION, {"step": "consult", "opinion": "会商意见:由综合执法局查处", "accepted": False})


def _notice(client, **extra) -> int:
    return _ok(client.post("/api/v1/supervision-notices", json={**NOTICE, **extra}, headers=JUSTICE))["id"]


def _notice_answered(client) -> int:
    notice_id = _notice(client)
    _ok(client.post(f"/api/v1/supervision-notices/{notice_id}/response", json={"response": "已补正"}), 200)
    return notice_id


def _revocation(client, session) -> tuple[str, dict]:
    """A major problem in a decided case goes to the government at once (seed 002 task 6)."""
    case_id = _case(client, session)
    penalty = _ok(client.post(f"/api/v1/cases/{case_id}/decisions", json=DECISION))
    notice_id = _notice(client, case_ids=[case_id], major=True)
    body = {
        "action": "revoke",
        "ground": "no_legal_basis",
        "content": "撤销该处罚决定",
        "penalty_decision_id": penalty["id"],
    }
    return f"/api/v1/supervision-notices/{notice_id}/decisions", body


# -- the table ---------------------------------------------------------------------------------------

Prepare = Callable[[object, object], tuple[str, dict]]  # (client, session) -> (url, body)


@dataclass(frozen=True)
class Act:
    name: str
    prepare: Prepare
    right: tuple[dict, ...]  # each may do it (tried in turn, each must succeed)
    wrong: tuple[tuple[str, dict], ...]  # (who, headers): each refused with out_of_scope


def _step(step: dict, *before) -> Prepare:
    def prepare(client, session):
        return f"/api/v1/disputes/{_dispute(client, *before)}/steps", step

    return prepare


ACTS = [
    # cases (seed 002 tasks 1, 4, 5; seed 000 §2.6): the case's authority
    Act(
        "cases.open_case",
        lambda client, session: ("/api/v1/cases", case_body(session)),
        (BUREAU,),
        (("market department", MARKET), ("dispatcher", DISPATCHER), ("admin without organisation", ADMIN)),
    ),
    Act(
        "cases.request_review",
        lambda client, session: (
            f"/api/v1/cases/{_case(client, session, major=True)}/legal-reviews",
            {"proposed_decision": "拟罚款"},
        ),
        (BUREAU,),
        (("market department", MARKET), ("dispatcher", DISPATCHER)),
    ),
    Act(
        "cases.issue_decision",
        lambda client, session: (f"/api/v1/cases/{_case(client, session)}/decisions", DECISION),
        (BUREAU,),
        (("county government", GOVERNMENT), ("justice bureau", JUSTICE), ("dispatcher", DISPATCHER)),
    ),
    Act(
        "cases.transfer_case",
        lambda client, session: (
            f"/api/v1/cases/{_case(client, session)}/criminal-referrals",
            {"to": "shengsi-police", "suspected_offence": "非法经营罪"},
        ),
        (BUREAU,),
        (("police", POLICE), ("dispatcher", DISPATCHER)),
    ),
    Act(
        "cases.decide_review",
        lambda client, session: (
            f"/api/v1/legal-reviews/{_review(client, session)}/outcome",
            {"outcome": "passed", "reasons": "事实清楚,证据确凿"},
        ),
        (REVIEWER,),
        (("the authority's organisation token", BUREAU), ("dispatcher", DISPATCHER), ("admin", ADMIN)),
    ),
    Act(
        "cases.update_transfer",
        lambda client, session: (
            f"/api/v1/criminal-referrals/{_transfer(client, session)}/status",
            {"to": "accepted", "note": "已立案"},
        ),
        (POLICE,),
        (("the transferring authority", BUREAU), ("procuratorate", PROCURATORATE), ("dispatcher", DISPATCHER)),
    ),
    # assistance (seed 000 §2.4): the asking authority; the department asked answers
    Act(
        "assistance.send_request",
        lambda client, session: ("/api/v1/assistance-requests", QUESTION),
        (BUREAU,),
        (("the department asked", MARKET), ("dispatcher", DISPATCHER)),
    ),
    Act(
        "assistance.on_site",
        lambda client, session: (f"/api/v1/assistance-requests/{_assistance(client)}/on-site", {"officers": "李明"}),
        (MARKET,),
        (("the asking authority", BUREAU), ("another department", HEALTH), ("dispatcher", DISPATCHER)),
    ),
    Act(
        "assistance.answer",
        lambda client, session: (
            f"/api/v1/assistance-requests/{_assistance(client)}/answer",
            {"opinion": "经检验,甲醇含量超标"},
        ),
        (MARKET,),
        (("the asking authority", BUREAU), ("another department", HEALTH), ("dispatcher", DISPATCHER)),
    ),
    Act(
        "assistance.extend",
        lambda client, session: (
            f"/api/v1/assistance-requests/{_assistance(client)}/extend",
            {"until": "2099-12-31", "reason": "需送省级机构检测"},
        ),
        (MARKET,),
        (("the asking authority", BUREAU), ("dispatcher", DISPATCHER)),
    ),
    # referrals (seed 000 §2.3): the referring authority; the department referred to answers
    Act(
        "referrals.refer",
        lambda client, session: ("/api/v1/referrals", MARKET_LEAD),
        (BUREAU,),
        (("the department referred to", MARKET), ("dispatcher", DISPATCHER)),
    ),
    Act(
        "referrals.respond",
        lambda client, session: (
            f"/api/v1/referrals/{_referral(client)}/response",
            {"action": "explained", "note": "不属本部门管辖"},
        ),
        (MARKET,),
        (
            ("dispatcher answering as the market department (issue 25)", DISPATCHER),
            ("the referring authority", BUREAU),
            ("another department", EMERGENCY),
        ),
    ),
    # jurisdiction disputes (seed 004 arts. 6-9)
    Act(
        "disputes.open_dispute",
        lambda client, session: (
            "/api/v1/disputes",
            {
                "party_a": "county-bureau",
                "party_b": "dept-culture",
                "subject": "基湖沙滩帐篷经营管辖争议",
                "provisional_squad_id": squad_id(client, "cb-caiyuan"),
            },
        ),
        (BUREAU, CULTURE, COORDINATION),
        (("a department not party", MARKET), ("dispatcher", DISPATCHER)),
    ),
    Act(
        "disputes.step agree",
        _step({"step": "agree", "resolution": "双方协商由综合执法局查处", "competent_authority": "county-bureau"}),
        (CULTURE,),
        (("coordination office", COORDINATION), ("a department not party", MARKET), ("dispatcher", DISPATCHER)),
    ),
    Act(
        "disputes.step request",
        _step(REQUESTED[1]),
        (BUREAU,),
        (("county government", GOVERNMENT), ("a department not party", MARKET)),
    ),
    Act(
        "disputes.step coordinate",
        _step(NOT_AGREED[1], REQUESTED),
        (COORDINATION,),
        (("a party", BUREAU), ("the other party", CULTURE), ("county government", GOVERNMENT)),
    ),
    Act(
        "disputes.step consult",
        _step(NOT_ACCEPTED[1], REQUESTED, NOT_AGREED),
        (COORDINATION,),
        (("a party", BUREAU), ("dispatcher", DISPATCHER)),
    ),
    Act(
        "disputes.step reassign",
        lambda client, session: (
            f"/api/v1/disputes/{_dispute(client)}/steps",
            {"step": "reassign", "provisional_squad_id": squad_id(client, "cb-wulong"), "reason": "另有任务"},
        ),
        (COORDINATION,),
        (("a party", BUREAU), ("the other party", CULTURE)),
    ),
    Act(
        "disputes.step decide",
        _step(
            {"step": "decide", "decision": "县政府决定由综合执法局查处", "competent_authority": "county-bureau"},
            REQUESTED,
            NOT_AGREED,
            NOT_ACCEPTED,
        ),
        (GOVERNMENT,),
        (("coordination office", COORDINATION), ("a party", BUREAU), ("dispatcher", DISPATCHER)),
    ),
    # supervision (seed 002 task 6; seed 004 arts. 13, 15-17)
    Act(
        "supervision.issue_notice",
        lambda client, session: ("/api/v1/supervision-notices", NOTICE),
        (JUSTICE, as_person("supervisor-zhao")),
        (
            ("dispatcher issuing the justice bureau's notice (issue 25)", DISPATCHER),
            ("the supervised authority", BUREAU),
            ("county government", GOVERNMENT),
        ),
    ),
    Act(
        "supervision.respond",
        lambda client, session: (f"/api/v1/supervision-notices/{_notice(client)}/response", {"response": "已补正"}),
        (BUREAU,),
        (("justice bureau", JUSTICE), ("another authority", MARKET), ("dispatcher", DISPATCHER)),
    ),
    Act(
        "supervision.review_response",
        lambda client, session: (
            f"/api/v1/supervision-notices/{_notice_answered(client)}/review",
            {"accepted": False, "note": "未重新送达"},
        ),
        (JUSTICE,),
        (("the supervised authority", BUREAU), ("county government", GOVERNMENT), ("dispatcher", DISPATCHER)),
    ),
    Act(
        "supervision.decide",
        _revocation,
        (GOVERNMENT,),
        (
            ("dispatcher revoking a penalty as the county government (issue 25)", DISPATCHER),
            ("justice bureau", JUSTICE),
            ("the authority of the penalty", BUREAU),
        ),
    ),
    # personnel (seed 004 art. 13; seed 002 task 5)
    Act(
        "personnel.record_visit",
        lambda client, session: ("/api/v1/supervision-visits", VISIT),
        (JUSTICE, as_person("supervisor-zhao")),
        (("the supervised authority", BUREAU), ("dispatcher", DISPATCHER)),
    ),
    Act(
        "personnel.add_training",
        lambda client, session: (
            f"/api/v1/officers/{officer_id(session, CERTIFIED)}/training",
            {"taken_on": "2026-01-05", "hours": 8, "course": "行政处罚法专题"},
        ),
        (BUREAU,),
        (("another authority", MARKET), ("justice bureau", JUSTICE), ("dispatcher", DISPATCHER)),
    ),
    # sharing (seed 000 §2.1): the record's authority
    Act(
        "sharing.share_from_body",
        lambda client, session: ("/api/v1/sharing/records", LICENCE),
        (MARKET,),
        (("another authority", BUREAU), ("dispatcher", DISPATCHER)),
    ),
]


def _events(session) -> int:
    count = session.scalar(select(func.count(Event.id)))
    session.rollback()
    return count


@pytest.mark.parametrize("act", ACTS, ids=[a.name for a in ACTS])
def test_a_reserved_act_needs_a_principal_of_its_organisation(client, session, act):
    url, body = act.prepare(client, session)
    before = _events(session)
    for who, headers in act.wrong:
        response = client.post(url, json=body, headers=headers)
        assert response.status_code == 403, (who, response.get_json())
        assert response.get_json()["error"]["code"] == "out_of_scope", (who, response.get_json())
    assert _events(session) == before, "a refused act leaves nothing on the record"
    for headers in act.right:
        response = client.post(url, json=body, headers=headers)
        assert 200 <= response.status_code < 300, (headers, response.get_json())
    assert _events(session) > before


def test_escalating_overdue_referrals_is_nobodys_reserved_act(client):
    _referral(client)
    for who, headers in (("dispatcher", DISPATCHER), ("a department", MARKET), ("the bureau", BUREAU)):
        response = client.post("/api/v1/referrals/escalate-overdue", headers=headers)
        assert response.status_code == 200, (who, response.get_json())


# -- issue 25, finding 1: the legal-review gate does not fall to a header --------------------------------


def test_a_dispatcher_cannot_pass_a_legal_review_as_a_reviewer_and_the_record_names_the_real_one(
    client, session, runner
):
    add_api_token(session, "hotline-bridge", "dispatcher", "dpt_test-bridge", act_for=True)
    session.commit()
    case_id = _case(client, session, major=True)
    review = _ok(client.post(f"/api/v1/cases/{case_id}/legal-reviews", json={"proposed_decision": "拟罚款二万元"}))
    url = f"/api/v1/legal-reviews/{review['id']}/outcome"
    outcome = {"outcome": "passed", "reasons": "事实清楚,证据确凿,适用依据正确,程序合法"}

    forged = client.post(url, json=outcome, headers={**DISPATCHER, "X-Actor": "reviewer-cb-chen"})
    assert forged.status_code == 403 and forged.get_json()["error"]["code"] == "actor_not_allowed"
    bare = client.post(url, json=outcome, headers=DISPATCHER)
    assert bare.status_code == 403 and bare.get_json()["error"]["code"] == "out_of_scope"
    # Even an integration granted act-for may not review on a reviewer's behalf: her own credential only.
    bridge = client.post(
        url, json=outcome, headers={"Authorization": "Bearer dpt_test-bridge", "X-Actor": "reviewer-cb-chen"}
    )
    assert bridge.status_code == 403 and bridge.get_json()["error"]["code"] == "out_of_scope"

    blocked = client.post(f"/api/v1/cases/{case_id}/decisions", json=DECISION)
    assert blocked.status_code == 409 and "pending" in blocked.get_json()["error"]["message"]

    passed = client.post(url, json=outcome, headers=as_person("reviewer-cb-chen"))
    assert passed.status_code == 200, passed.get_json()
    assert passed.get_json()["reviewer"]["code"] == "reviewer-cb-chen"
    _ok(client.post(f"/api/v1/cases/{case_id}/decisions", json=DECISION))

    events = client.get(f"/api/v1/cases/{case_id}").get_json()["events"]
    assert [(e["action"], e["actor"], e["on_behalf_of"]) for e in events] == [
        ("case.opened", "org-county-bureau", None),
        ("legal_review.requested", "org-county-bureau", None),
        ("legal_review.passed", "reviewer-cb-chen", None),
        ("penalty_decision.issued", "org-county-bureau", None),
    ]
    assert events[2]["data"]["reviewer"] == "reviewer-cb-chen"
    recorded = session.scalars(select(Event.actor).where(Event.actor.in_(("dispatcher", "hotline-bridge")))).all()
    assert recorded == [], "the refused attempts left no event"

    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "the record is intact" in result.output
    assert "legal_review.passed: reviewer-cb-chen\n" in result.output
