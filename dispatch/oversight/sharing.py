"""Information sharing (信息共享制度, seed 000 §2.1): a feed of penalty decisions, licences and
inspection records, scoped by department.

Seed 000 §2.1 items 2, 3 and 6 name what is shared (penalty decisions and their
execution; licences and supervision information related to penalty matters;
inspection records), and its last paragraph when: 原则上应当自形成当日及时共享 — the day
the record is made. A record entered on a later day (China time) must say why
(因收集、整理等原因无法于当日共享的,可以适当延长); penalty decisions enter the feed in the
transaction that issues them.

Scope: a department sees the records that concern its domain, and its own. The
comprehensive force's domain is ``comprehensive``: it sees the records of the
matters transferred to it, and every licence (item 3: licences related to penalty
matters are shared with the comprehensive enforcement department).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from dispatch.errors import ApiError
from dispatch.oversight.calendar import end_of_day
from dispatch.oversight.common import authority_ref, find_authority, now_utc, past_time, record_change
from dispatch.oversight.models import PenaltyDecision, SharedRecord
from dispatch.scope import require_organisation
from dispatch.shapes import iso
from dispatch.store.models import DOMAINS, Authority
from dispatch.validation import check_fields, optional_text, required_text
from gis.clock import CHINA, local_day

SHARE_FIELDS = {"kind", "authority", "title", "party", "domains", "made_at", "delay_reason", "data"}


def _domains_of(authority: Authority, extra: list[str]) -> list[str]:
    return sorted({authority.domain, *extra})


def share(
    session: Session,
    *,
    kind: str,
    authority: Authority,
    title: str,
    domains: list[str],
    made_at: dt.datetime,
    actor: str,
    now: dt.datetime,
    party_name: str | None = None,
    party_business_id: str | None = None,
    delay_reason: str | None = None,
    data: dict | None = None,
    penalty_decision: PenaltyDecision | None = None,
) -> SharedRecord:
    """Put one record in the feed; a record shared after the day it was made needs a reason."""
    if local_day(now) > local_day(made_at) and not delay_reason:
        raise ApiError(
            f"made on {local_day(made_at)}, shared on {local_day(now)}: records are shared the day they are "
            "made; say why this one is late",
            field="delay_reason",
            status=422,
            code="shared_late",
        )
    row = SharedRecord(
        kind=kind,
        authority=authority,
        domains=domains,
        title=title,
        party_name=party_name,
        party_business_id=party_business_id,
        made_at=made_at,
        shared_at=now,
        delay_reason=delay_reason,
        data=data or {},
        penalty_decision_id=penalty_decision.id if penalty_decision is not None else None,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    record_change(
        session,
        row,
        actor=actor,
        action="shared_record.shared",
        data={"kind": kind, "authority": authority.code, "domains": domains, "late": bool(delay_reason)},
    )
    return row


def share_penalty_decision(session: Session, decision: PenaltyDecision, *, actor: str, now: dt.datetime) -> None:
    """Item 2 of seed 000 §2.1: the decision is in the feed the moment it is issued."""
    case = decision.case
    extra = [case.matter.domain] if case.matter else []
    share(
        session,
        kind="penalty_decision",
        authority=case.authority,
        title=f"{decision.number} {case.party_name}",
        domains=_domains_of(case.authority, extra),
        made_at=decision.issued_at,
        actor=actor,
        now=now,
        party_name=case.party_name,
        party_business_id=case.party_business_id,
        delay_reason=None if local_day(now) == local_day(decision.issued_at) else "issued before it was entered",
        data={"case_id": case.id, "number": decision.number, "content": decision.content},
        penalty_decision=decision,
    )


def share_from_body(session: Session, body: dict, *, actor: str, now: dt.datetime | None = None) -> SharedRecord:
    """A department shares a licence or an inspection record."""
    check_fields(body, SHARE_FIELDS)
    now = now or now_utc()
    kind = body.get("kind")
    if kind not in ("licence", "inspection_record"):
        raise ApiError("must be licence or inspection_record (penalty decisions are shared when issued)", field="kind")
    authority = find_authority(session, body.get("authority"), "authority")
    require_organisation(actor, authority, what="share its records")
    title = required_text(body, "title", 300)
    party = body.get("party") or {}
    if not isinstance(party, dict):
        raise ApiError("must be {name, business_id?}", field="party")
    check_fields(party, {"name", "business_id"}, "party.")
    domains = body.get("domains") or []
    if not isinstance(domains, list) or any(d not in DOMAINS for d in domains):
        raise ApiError(f"must be a list of domains: {', '.join(DOMAINS)}", field="domains")
    if kind == "licence":
        domains = [*domains, "comprehensive"]
    data = body.get("data") or {}
    if not isinstance(data, dict):
        raise ApiError("must be an object", field="data")
    return share(
        session,
        kind=kind,
        authority=authority,
        title=title,
        domains=_domains_of(authority, domains),
        made_at=past_time(body, "made_at", now),
        actor=actor,
        now=now,
        party_name=optional_text(party, "name", 200, "party."),
        party_business_id=optional_text(party, "business_id", 32, "party."),
        delay_reason=optional_text(body, "delay_reason", 2000),
        data=data,
    )


def feed(
    session: Session, department_code: str, *, day: dt.date | None = None, since: dt.datetime | None = None
) -> dict:
    """What ``department_code`` sees: records of its domain or its own, shared on ``day`` or since a time."""
    authority = find_authority(session, department_code, "department")
    query = (
        select(SharedRecord)
        .where(or_(SharedRecord.domains.contains([authority.domain]), SharedRecord.authority_id == authority.id))
        .options(selectinload(SharedRecord.authority))
        .order_by(SharedRecord.shared_at, SharedRecord.id)
    )
    if since is not None:
        query = query.where(SharedRecord.shared_at > since)
    else:
        day = day or local_day(now_utc())
        start = dt.datetime.combine(day, dt.time(0), CHINA)
        query = query.where(SharedRecord.shared_at >= start, SharedRecord.shared_at < end_of_day(day))
    rows = session.scalars(query).all()
    return {
        "department": authority_ref(authority),
        "day": day.isoformat() if day else None,
        "since": iso(since),
        "records": [shared_json(r) for r in rows],
    }


def shared_json(row: SharedRecord) -> dict:
    return {
        "id": row.id,
        "kind": row.kind,
        "authority": authority_ref(row.authority),
        "domains": list(row.domains),
        "title": row.title,
        "party": {"name": row.party_name, "business_id": row.party_business_id},
        "made_at": iso(row.made_at),
        "shared_at": iso(row.shared_at),
        "same_day": local_day(row.made_at) == local_day(row.shared_at),
        "delay_reason": row.delay_reason,
        "penalty_decision_id": row.penalty_decision_id,
        "data": row.data,
    }
