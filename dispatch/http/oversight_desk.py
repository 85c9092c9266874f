"""What the signed-in person may do on the supervisor's pages, row by row (issue 32: "supervisors can only read").

The forms on /supervisor, /supervisor/meetings and /supervisor/campaigns post JSON to the same API
routes scripts use (static/oversight/desk.js, with the session cookie, as /command does), so every
rule and every record stays in the domain: dispatch.oversight.cases.decide_review,
referrals.respond / escalate_overdue, assistance.answer, disputes.step, meetings.feedback,
campaigns.check_finding. A form shows only where the server would let the person act: the
permission matrix (``oversee``) and the very checks the domain runs on the ``Actor``
(``require_organisation``, ``require_person``, ``staff_acting``), asked here without acting.
A refusal that still comes (someone acted meanwhile, a field left blank) is shown in the page's
language with the rule it applies (``REFUSALS``, ``RULES``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.accounts import Principal, allowed
from dispatch.errors import ApiError
from dispatch.oversight import disputes
from dispatch.oversight.common import staff_acting
from dispatch.oversight.joint_work import CampaignFinding, MeetingTask
from dispatch.oversight.models import AssistanceRequest, EnforcementCase, LegalReview, Referral
from dispatch.oversight.referrals import overdue_referrals
from dispatch.scope import Actor, require_organisation, require_person

# Dispute steps offered as forms: the decisions of the parties, the coordination office and the
# government (arts. 6, 8, 9). The written request (art. 7, points with both views) and a squad's
# reassignment stay with the API.
DISPUTE_FORMS = ("agree", "coordinate", "consult", "decide")

# The rule each family of forms applies, by the seed's title (zh, en).
RULES = {
    "review": (
        "《大兴安岭地区…实施方案》任务一:重大执法决定法制审核",
        "Daxinganling oversight plan, task 1: legal review",
    ),
    "referral": (
        "《新绛县跨领域综合执法和协调联动机制》§2.3:线索移送与报告",
        "Xinjiang County coordination §2.3: referral",
    ),
    "assistance": (
        "《新绛县跨领域综合执法和协调联动机制》§2.4:执法协助",
        "Xinjiang County coordination §2.4: assistance",
    ),
    "dispute": ("《衢州市行政执法协调监督暂行办法》第六至九条:职责争议", "Quzhou interim rules arts. 6-9: disputes"),
    "meeting": (
        "《贵阳市综合行政执法工作机制(试行)》附件三:议定事项落实反馈",
        "Guiyang enforcement mechanism, annex 3: tasks",
    ),
    "campaign": (
        "《贵阳市综合行政执法工作机制(试行)》§7:指导整改、跟踪问效",
        "Guiyang enforcement mechanism §7: follow-up of what was found",
    ),
}

# A refusal's code -> what it means (zh, en). A code not listed shows the server's message.
REFUSALS = {
    "not_a_reviewer": (
        "只有案件所属机关的法制审核人员可以审核",
        "only a legal reviewer of the case's authority reviews it",
    ),
    "review_closed": ("该审核已办结", "this review was already decided"),
    "already_answered": ("该线索已答复", "this referral was already answered"),
    "request_closed": ("该协助请求已办结", "this assistance request is closed"),
    "illegal_step": ("争议当前阶段不允许此步骤", "the dispute's stage does not allow this step"),
    "no_common_superior": ("没有同时管辖双方的协调机构", "no coordination office over both parties"),
    "task_done": ("该事项已反馈", "this task was already reported done"),
    "already_checked": ("该问题已复查", "this finding was already checked"),
    "nothing_to_check": ("合规的检查结果无需复查", "a compliant finding has nothing to check"),
    "out_of_scope": ("只有承办单位(或本人)的账号可以办理", "only an account of the organisation (or the person) may"),
    "forbidden": ("您的角色无此权限", "your role may not do this"),
    "unauthorized": ("登录已失效,请重新登录", "your sign-in ended: sign in again"),
    "bad_request": ("填写有误", "a field is not filled in correctly"),
    "invalid_body": ("填写有误", "a field is not filled in correctly"),
}


# A dispute's stage in words (zh en), as the page shows it.
STAGES = {
    "negotiation": "协商 negotiation",
    "coordination": "协调 coordination",
    "consultation": "会商 consultation",
    "government": "政府决定 government decision",
    "resolved": "已解决 resolved",
}


def stage_label(stage: str) -> str:
    return STAGES.get(stage, stage)


def _actor(principal: Principal) -> Actor:
    return Actor(principal.name, principal=principal)


def _may(principal: Principal | None, *organisations) -> bool:
    """Whether the domain's ``require_organisation`` would let the principal act for one of them."""
    if principal is None or not allowed(principal.role, "oversee"):
        return False
    try:
        require_organisation(_actor(principal), *organisations, what="act")
    except ApiError:
        return False
    return True


def may_review(session: Session, principal: Principal | None, case: EnforcementCase) -> bool:
    """decide_review's checks: the reviewer in person, of the case's authority."""
    if principal is None or not allowed(principal.role, "oversee"):
        return False
    actor = _actor(principal)
    try:
        require_person(actor, "a legal review")
    except ApiError:
        return False
    reviewer = staff_acting(session, actor, "legal_reviewer")
    return reviewer is not None and reviewer.authority_id == case.authority_id


def dispute_steps(session: Session, principal: Principal | None, dispute) -> list[str]:
    """The steps of ``DISPUTE_FORMS`` the dispute's stage allows and the principal's office takes."""
    out = []
    for name in disputes.STEPS[dispute.stage]:
        if name not in DISPUTE_FORMS:
            continue
        try:
            takers = disputes.step_takers(session, dispute, name)
        except ApiError:  # no office over both: nobody can take it (409 no_common_superior)
            continue
        if _may(principal, *takers):
            out.append(name)
    return out


def supervisor_desk(session: Session, principal: Principal | None, now: dt.datetime, open_disputes) -> dict:
    """The queues the supervisor's page acts on, each row with its ``actions``."""
    reviews = list(
        session.scalars(
            select(LegalReview)
            .where(LegalReview.status == "pending")
            .options(selectinload(LegalReview.case).selectinload(EnforcementCase.authority))
            .order_by(LegalReview.requested_at, LegalReview.id)
        )
    )
    referrals = list(
        session.scalars(
            select(Referral)
            .where(Referral.status.in_(("referred", "escalated")))
            .options(selectinload(Referral.to_authority), selectinload(Referral.escalated_to))
            .order_by(Referral.respond_by, Referral.id)
        )
    )
    assistance = list(
        session.scalars(
            select(AssistanceRequest)
            .where(AssistanceRequest.status == "sent")
            .options(selectinload(AssistanceRequest.to_authority))
            .order_by(AssistanceRequest.due_at, AssistanceRequest.id)
        )
    )
    overdue = {r.id for r in overdue_referrals(session, now)}
    return {
        "reviews": [
            {"row": r, "actions": ["review"] if may_review(session, principal, r.case) else []} for r in reviews
        ],
        "referrals": [
            {"row": r, "overdue": r.id in overdue, "actions": ["respond"] if _may(principal, r.to_authority) else []}
            for r in referrals
        ],
        "assistance": [
            {
                "row": r,
                "overdue": r.due_at < now,
                "actions": ["answer"] if _may(principal, r.to_authority) else [],
            }
            for r in assistance
        ],
        "disputes": [{"row": d, "actions": dispute_steps(session, principal, d)} for d in open_disputes],
        # escalate_overdue checks no organisation: whoever may oversee may report the overdue ones now
        "may_escalate": bool(overdue) and principal is not None and allowed(principal.role, "oversee"),
    }


def feedback_tasks(session: Session, principal: Principal | None) -> set[int]:
    """Open meeting tasks whose owner the principal acts for (meetings.feedback)."""
    rows = session.scalars(
        select(MeetingTask).where(MeetingTask.status != "done").options(selectinload(MeetingTask.owner))
    )
    return {t.id for t in rows if _may(principal, t.owner)}


def checkable_findings(session: Session, principal: Principal | None) -> set[int]:
    """Violations not yet checked, found by the principal's department (campaigns.check_finding)."""
    rows = session.scalars(
        select(CampaignFinding)
        .where(CampaignFinding.result == "violation", CampaignFinding.check_result.is_(None))
        .options(selectinload(CampaignFinding.authority))
    )
    return {f.id for f in rows if _may(principal, f.authority)}


def strings(lang: str) -> dict:
    """What desk.js needs to word answers in the page's language."""
    i = 1 if lang == "en" else 0
    return {
        "lang": lang,
        "refusals": {code: texts[i] for code, texts in REFUSALS.items()},
        "rules": {family: texts[i] for family, texts in RULES.items()},
        "saved": "Saved: on the record." if i else "已办理,已记录在案。",
        "refused": "Refused" if i else "未办理",
        "rule": "rule" if i else "依据",
        "field": "field" if i else "字段",
        "server": "server says" if i else "服务器说明",
        "offline": "The server did not answer: try again." if i else "服务器无响应,请重试。",
    }
