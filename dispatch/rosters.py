"""Rosters and live availability (issue 29): shifts, who is on duty now, squad status by hand,
certificate suspensions and revocations.

- A **shift** is a squad's or an officer's time on duty (start, end, role on shift). Once a shift
  exists for an officer (theirs or their squad's), the roster says whether they are on duty:
  on shift now, or not on duty (``models.ON_DUTY_SQL``, the one rule of recommendation,
  dispatch and coverage); an officer without any roster keeps the ``on_duty`` flag of the seed.
  Two shifts of one officer (or of one squad) never overlap: 409 naming ``start``.
- **CSV import**: ``squad,officer,start,end,role`` (squad by code; officer by certificate number,
  else empty for a squad shift; times RFC 3339 with an offset, or ``YYYY-MM-DD HH:MM`` China
  time). All lines or none: every problem is listed with its line and column.
- **Squad status** by hand (tablet: its own squad; dispatchers and admins: any in scope):
  ``states.SQUAD_STATUS_BY_HAND``; ``out_of_service`` needs a reason (vessel fault, meal,
  training, leave); ``busy`` (on a task) follows the tasks only. 409 with ``allowed`` otherwise.
- **Certificates**: a suspension (暂扣) from a time, until a time or until lifted, or a revocation
  (注销, final), each with the deciding document; the officer counts as uncertified meanwhile,
  in recommendation, dispatch and case opening alike (``models.CERTIFICATE_HELD_SQL``).

Every change is on the record; squad changes go live to /command as ``squad`` updates (which
also bring coverage up to date, ``dispatch.live.duty``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from dispatch import states
from dispatch.errors import ApiError, Conflict, NotFound
from dispatch.live.bus import publish_after_commit
from dispatch.record import record
from dispatch.scope import covers, principal_of, require_squads
from dispatch.store.models import (
    BLOCKING_SQL,
    CERTIFICATE_HELD_SQL,
    CERTIFIED_OFFICER_SQL,
    ON_DUTY_SQL,
    SQUAD_STATUS_REASONS,
    CertificateAction,
    Officer,
    Shift,
    Squad,
    Task,
)
from gis import clock
from gis.clock import CHINA, local_day

MAX_SHIFT = dt.timedelta(hours=48)  # a longer "shift" is a typing error (422)
MAX_WINDOW = dt.timedelta(days=62)  # GET /shifts lists at most this long a window
CSV_COLUMNS = ("squad", "officer", "start", "end", "role")
CSV_MAX_LINES = 5000


# -- shifts --------------------------------------------------------------------------------------


def shift_json(shift: Shift, squad: Squad | None = None, officer: Officer | None = None) -> dict:
    return {
        "id": shift.id,
        "squad_id": shift.squad_id,
        "officer_id": shift.officer_id,
        "squad": {"id": squad.id, "code": squad.code, "name": squad.name_zh, "name_en": squad.name_en}
        if squad is not None
        else None,
        "officer": {"id": officer.id, "name": officer.name} if officer is not None else None,
        "start": shift.starts_at.isoformat(),
        "end": shift.ends_at.isoformat(),
        "role": shift.role,
        "created_by": shift.created_by,
    }


@dataclass
class ShiftIn:
    squad_id: int | None
    officer_id: int | None
    start: dt.datetime
    end: dt.datetime
    role: str | None = None


def _check_window(start: dt.datetime, end: dt.datetime, *, field_end: str = "end") -> None:
    if end <= start:
        raise ApiError("a shift ends after it starts", field=field_end, code="end_before_start", status=422)
    if end - start > MAX_SHIFT:
        raise ApiError(
            f"a shift lasts at most {int(MAX_SHIFT.total_seconds() // 3600)} hours",
            field=field_end,
            code="shift_too_long",
            status=422,
        )


def _overlap(session: Session, shift: ShiftIn) -> Shift | None:
    column = Shift.officer_id if shift.officer_id is not None else Shift.squad_id
    value = shift.officer_id if shift.officer_id is not None else shift.squad_id
    return session.scalar(
        select(Shift)
        .where(column == value, Shift.starts_at < shift.end, Shift.ends_at > shift.start)
        .order_by(Shift.starts_at)
        .limit(1)
    )


def _subject(session: Session, shift: ShiftIn, field_prefix: str = "") -> tuple[Squad, Officer | None]:
    if shift.officer_id is not None:
        officer = session.get(Officer, shift.officer_id)
        if officer is None:
            raise NotFound(f"no officer {shift.officer_id}", field=f"{field_prefix}officer_id")
        return officer.squad, officer
    squad = session.get(Squad, shift.squad_id)
    if squad is None:
        raise NotFound(f"no squad {shift.squad_id}", field=f"{field_prefix}squad_id")
    return squad, None


def _store_shift(session: Session, shift: ShiftIn, squad: Squad, officer: Officer | None, actor: str) -> Shift:
    row = Shift(
        squad_id=shift.squad_id,
        officer_id=shift.officer_id,
        starts_at=shift.start,
        ends_at=shift.end,
        role=shift.role,
        created_by=str(actor),
    )
    session.add(row)
    # From now on the roster says whether they are on duty (models.ON_DUTY_SQL).
    if officer is not None:
        officer.rostered = True
    else:
        session.execute(update(Officer).where(Officer.squad_id == squad.id).values(rostered=True))
    session.flush()
    return row


def add_shift(session: Session, shift: ShiftIn, *, actor: str) -> dict:
    """A shift of a squad or an officer; 409 ``shift_overlap`` (field ``start``) when it overlaps
    another of the same officer or squad. Committed by the caller."""
    if (shift.squad_id is None) == (shift.officer_id is None):
        raise ApiError("name either squad_id or officer_id", field="squad_id", code="invalid_body", status=422)
    _check_window(shift.start, shift.end)
    squad, officer = _subject(session, shift)
    require_squads(session, actor, [squad])
    clash = _overlap(session, shift)
    if clash is not None:
        raise Conflict(
            f"overlaps shift {clash.id} ({_local(clash.starts_at)} to {_local(clash.ends_at)}) of the same "
            + ("officer" if shift.officer_id is not None else "squad"),
            field="start",
            code="shift_overlap",
            details={"shift_id": clash.id},
        )
    row = _store_shift(session, shift, squad, officer, actor)
    _record_shift(session, row, squad, "shift.added", actor)
    return shift_json(row, squad, officer)


def delete_shift(session: Session, shift_id: int, *, actor: str) -> None:
    """Remove a shift (on the record, with what it was)."""
    row = session.get(Shift, shift_id)
    if row is None:
        raise NotFound(f"no shift {shift_id}", field="shift_id")
    squad, _ = _subject(session, ShiftIn(row.squad_id, row.officer_id, row.starts_at, row.ends_at))
    require_squads(session, actor, [squad])
    _record_shift(session, row, squad, "shift.removed", actor)
    session.delete(row)
    session.flush()


def _record_shift(session: Session, row: Shift, squad: Squad, action: str, actor: str) -> None:
    event = record(
        session,
        actor=actor,
        action=action,
        entity_type="shift",
        entity_id=row.id,
        squad_id=squad.id,
        data={
            "officer_id": row.officer_id,
            "start": row.starts_at.isoformat(),
            "end": row.ends_at.isoformat(),
            "role": row.role,
        },
    )
    _publish_squad(session, squad, event.id)


def list_shifts(
    session: Session,
    start: dt.datetime,
    end: dt.datetime,
    *,
    regions: frozenset[int] | None = None,
    squad_id: int | None = None,
) -> list[dict]:
    """Shifts overlapping [start, end), of squads in ``regions`` (None: all), by start."""
    if end <= start:
        raise ApiError("to comes after from", field="to", code="end_before_start", status=422)
    if end - start > MAX_WINDOW:
        raise ApiError(f"at most {MAX_WINDOW.days} days at a time", field="to", code="window_too_long", status=422)
    query = (
        select(Shift, Squad, Officer)
        .select_from(Shift)
        .outerjoin(Officer, Officer.id == Shift.officer_id)
        .join(Squad, Squad.id == func.coalesce(Shift.squad_id, Officer.squad_id))
        .where(Shift.starts_at < end, Shift.ends_at > start)
        .order_by(Shift.starts_at, Shift.id)
    )
    if regions is not None:
        query = query.where(Squad.station_region_id.in_(regions))
    if squad_id is not None:
        query = query.where(Squad.id == squad_id)
    return [shift_json(s, q, o) for s, q, o in session.execute(query).all()]


def roster_squads(session: Session, *, regions: frozenset[int] | None = None, now: dt.datetime | None = None) -> list:
    """The squads of the week grid, each with its officers and who is on duty now."""
    now = now or clock.utc_now()
    query = select(Squad).order_by(Squad.station_region_id, Squad.code)
    if regions is not None:
        query = query.where(Squad.station_region_id.in_(regions))
    squads = list(session.scalars(query))
    on_duty = dict(
        session.execute(
            text(f"""SELECT o.id, {ON_DUTY_SQL} AND {CERTIFICATE_HELD_SQL} FROM officer o
                     WHERE o.squad_id = ANY(CAST(:ids AS integer[]))"""),
            {"ids": [s.id for s in squads], "now": now},
        ).all()
    )
    return [
        {
            "id": s.id,
            "code": s.code,
            "name": s.name_zh,
            "name_en": s.name_en,
            "status": s.status,
            "officers": [
                {
                    "id": o.id,
                    "name": o.name,
                    "certified": o.certified_on(local_day(now)),
                    "auxiliary": o.auxiliary,
                    "on_duty_now": bool(on_duty.get(o.id)),
                }
                for o in s.officers
            ],
        }
        for s in squads
    ]


# -- CSV import ------------------------------------------------------------------------------------


class CsvProblems(ApiError):
    """Every problem of an import, each with its line and column."""

    def __init__(self, problems: list[dict]):
        first = problems[0]
        super().__init__(
            "; ".join(f"line {p['line']}, column {p['column']}: {p['message']}" for p in problems[:20]),
            field=f"csv:line {first['line']}, column {first['column']}",
            code="invalid_csv",
            status=422,
            details={"problems": problems[:200]},
        )
        self.problems = problems


def _csv_time(value: str) -> dt.datetime:
    value = value.strip()
    try:
        moment = dt.datetime.fromisoformat(value.replace(" ", "T", 1) if "T" not in value else value)
    except ValueError:
        raise ValueError(f"{value!r} is not a time (2026-12-08T08:00+08:00, or 2026-12-08 08:00 China time)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA)
    if moment.year < 2000:
        raise ValueError(f"{value!r} is before 2000")
    return moment


def import_csv(session: Session, content: str, *, actor: str, dry_run: bool = False) -> dict:
    """Shifts from CSV text (header ``squad,officer,start,end,role``): all or none. 422
    ``invalid_csv`` lists every problem with its line and column (the header is line 1)."""
    reader = csv.reader(io.StringIO(content))
    problems: list[dict] = []
    rows = list(reader)
    if not rows:
        raise CsvProblems([{"line": 1, "column": "squad", "message": "empty: the header squad,officer,start,end,role"}])
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in CSV_COLUMNS[:4] if c not in header]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if missing or unknown:
        column = (missing or unknown)[0]
        raise CsvProblems(
            [{"line": 1, "column": column, "message": f"the header is squad,officer,start,end,role (got {rows[0]})"}]
        )
    if len(rows) - 1 > CSV_MAX_LINES:
        raise CsvProblems([{"line": CSV_MAX_LINES + 2, "column": "squad", "message": f"at most {CSV_MAX_LINES} lines"}])
    squads = {s.code: s for s in session.scalars(select(Squad))}
    officers = {
        o.certificate_no: o for o in session.scalars(select(Officer).where(Officer.certificate_no.is_not(None)))
    }
    principal = principal_of(actor)
    parsed: list[tuple[int, ShiftIn, Squad, Officer | None]] = []
    for number, raw in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in raw):
            continue
        if len(raw) != len(header):
            problems.append({"line": number, "column": header[min(len(raw), len(header) - 1)],
                             "message": f"{len(raw)} columns, the header has {len(header)}"})  # fmt: skip
            continue
        cells = dict(zip(header, (c.strip() for c in raw), strict=True))
        line_problems = []

        def problem(column: str, message: str, number=number, line_problems=line_problems) -> None:
            line_problems.append({"line": number, "column": column, "message": message})

        squad = squads.get(cells["squad"]) if cells["squad"] else None
        officer = None
        if cells["squad"] and squad is None:
            problem("squad", f"no squad {cells['squad']!r}")
        if cells.get("officer"):
            officer = officers.get(cells["officer"])
            if officer is None:
                problem("officer", f"no officer with certificate {cells['officer']!r}")
            elif squad is not None and officer.squad_id != squad.id:
                problem("officer", f"{officer.name} is not of squad {squad.code}")
            elif squad is None and not cells["squad"]:
                squad = officer.squad
        elif not cells["squad"]:
            problem("squad", "name a squad (code) or an officer (certificate number)")
        times = {}
        for column in ("start", "end"):
            try:
                times[column] = _csv_time(cells[column])
            except ValueError as exc:
                problem(column, str(exc))
        if len(times) == 2:
            if times["end"] <= times["start"]:
                problem("end", "a shift ends after it starts")
            elif times["end"] - times["start"] > MAX_SHIFT:
                problem("end", f"a shift lasts at most {int(MAX_SHIFT.total_seconds() // 3600)} hours")
        role = cells.get("role") or None
        if role is not None and len(role) > 40:
            problem("role", "at most 40 characters")
        if squad is not None and not covers(session, principal, squad.station_region_id):
            problem("squad", f"squad {squad.code} is stationed outside your scope")
        if line_problems:
            problems.extend(line_problems)
            continue
        shift = ShiftIn(
            None if officer else squad.id, officer.id if officer else None, times["start"], times["end"], role
        )
        parsed.append((number, shift, squad, officer))
    # overlaps within the file, and with the shifts stored
    seen: dict[tuple[str, int], list[tuple[int, ShiftIn]]] = {}
    for number, shift, _squad, _officer in parsed:
        key = ("officer", shift.officer_id) if shift.officer_id else ("squad", shift.squad_id)
        for other_line, other in seen.get(key, []):
            if other.start < shift.end and other.end > shift.start:
                problems.append({"line": number, "column": "start",
                                 "message": f"overlaps line {other_line} (same {key[0]})"})  # fmt: skip
                break
        else:
            clash = _overlap(session, shift)
            if clash is not None:
                problems.append({"line": number, "column": "start",
                                 "message": f"overlaps shift {clash.id} already on the roster (same {key[0]})"})  # fmt: skip
        seen.setdefault(key, []).append((number, shift))
    if problems:
        problems.sort(key=lambda p: (p["line"], CSV_COLUMNS.index(p["column"]) if p["column"] in CSV_COLUMNS else 9))
        raise CsvProblems(problems)
    if dry_run:
        return {"imported": 0, "checked": len(parsed), "shifts": []}
    added = []
    for _number, shift, squad, officer in parsed:
        row = _store_shift(session, shift, squad, officer, actor)
        _record_shift(session, row, squad, "shift.added", actor)
        added.append(shift_json(row, squad, officer))
    return {"imported": len(added), "checked": len(parsed), "shifts": added}


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


# -- squad status ----------------------------------------------------------------------------------


def _holds_a_task(session: Session, squad_id: int) -> bool:
    """A task holds the squad (the rule of the schema's partial unique index)."""
    return session.scalar(select(Task.id).where(Task.squad_id == squad_id, text(BLOCKING_SQL)).limit(1)) is not None


def set_status(session: Session, squad_id: int, status: str, reason: str | None, *, actor: str) -> dict:
    """Set a squad's status by hand (see the module docstring). Committed by the caller."""
    squad = session.scalar(
        select(Squad).where(Squad.id == squad_id).with_for_update().execution_options(populate_existing=True)
    )
    if squad is None:
        raise NotFound(f"no squad {squad_id}", field="squad_id")
    require_squads(session, actor, [squad])
    principal = principal_of(actor)
    if principal is not None and principal.role == "squad" and principal.squad_id != squad.id:
        raise ApiError("a tablet sets its own squad's status only", field="squad_id", code="forbidden", status=403)
    if status == "out_of_service":
        if reason is None:
            raise ApiError(
                f"out of service needs a reason: {', '.join(SQUAD_STATUS_REASONS)}",
                field="reason",
                code="required",
                status=422,
            )
    elif reason is not None:
        raise ApiError("only out_of_service takes a reason", field="reason", code="unexpected_field", status=422)
    status = "busy" if status == "on_task" else status
    allowed = states.squad_status_allowed(squad.status, holds_a_task=_holds_a_task(session, squad.id))
    if status not in allowed:
        why = (
            "it holds a task (finish, decline or reassign it first)"
            if squad.status == "busy" or not allowed
            else f"from {squad.status}"
        )
        if status == "busy":
            why = "on task follows its tasks: dispatch it"
        raise Conflict(
            f"squad {squad.id} ({squad.name_zh}) is {squad.status}: it cannot become {status} ({why})",
            field="status",
            code="illegal_status",
            details={"allowed": list(allowed), "status": squad.status},
        )
    old, old_reason = squad.status, squad.status_reason
    squad.status, squad.status_reason = status, reason
    event = record(
        session,
        actor=actor,
        action="squad.status",
        entity_type="squad",
        entity_id=squad.id,
        squad_id=squad.id,
        data={"from": old, "to": status, "reason": reason, "from_reason": old_reason, "by_hand": True},
    )
    session.flush()
    now = clock.utc_now()
    data = {"id": squad.id, "status": status, "status_reason": reason, "status_since": now.isoformat()}
    publish_after_commit(session, "squad", data, rev=event.id)
    return {**data, "allowed": list(states.squad_status_allowed(status, holds_a_task=False)), "event_id": event.id}


def _publish_squad(session: Session, squad: Squad, rev: int) -> None:
    """A roster or certificate change: the squad's on-duty counts live, and coverage again."""
    now = clock.utc_now()
    counts = session.execute(
        text(f"""SELECT count(*) FILTER (WHERE {ON_DUTY_SQL}), count(*) FILTER (WHERE {CERTIFIED_OFFICER_SQL})
                 FROM officer o WHERE o.squad_id = :id"""),
        {"id": squad.id, "now": now, "today": local_day(now)},
    ).one()
    publish_after_commit(
        session,
        "squad",
        {"id": squad.id, "status": squad.status, "officers_on_duty": counts[0], "certified_on_duty": counts[1]},
        rev=rev,
    )


# -- certificates ------------------------------------------------------------------------------------


def certificate_action_json(row: CertificateAction) -> dict:
    return {
        "id": row.id,
        "officer_id": row.officer_id,
        "kind": row.kind,
        "start": row.starts_at.isoformat(),
        "end": row.ends_at.isoformat() if row.ends_at else None,
        "document": row.document,
        "reason": row.reason,
        "created_by": row.created_by,
        "lifted_at": row.lifted_at.isoformat() if row.lifted_at else None,
        "lifted_by": row.lifted_by,
        "lift_document": row.lift_document,
    }


def _officer_in_scope(session: Session, officer_id: int, actor: str) -> Officer:
    officer = session.get(Officer, officer_id)
    if officer is None:
        raise NotFound(f"no officer {officer_id}", field="officer_id")
    require_squads(session, actor, [officer.squad])
    return officer


def add_certificate_action(
    session: Session,
    officer_id: int,
    *,
    kind: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    document: str,
    reason: str | None,
    actor: str,
) -> dict:
    """Suspend (暂扣) or revoke (注销) an officer's certificate from ``start`` (default now)."""
    officer = _officer_in_scope(session, officer_id, actor)
    if officer.auxiliary or officer.certificate_no is None:
        raise Conflict(f"{officer.name} holds no certificate", field="officer_id", code="no_certificate")
    start = start or clock.utc_now()
    if kind == "revocation" and end is not None:
        raise ApiError("a revocation is final: no end", field="end", code="unexpected_field", status=422)
    if end is not None and end <= start:
        raise ApiError("the suspension ends after it starts", field="end", code="end_before_start", status=422)
    revoked = session.scalar(
        select(CertificateAction).where(
            CertificateAction.officer_id == officer.id, CertificateAction.kind == "revocation"
        )
    )
    if revoked is not None:
        raise Conflict(
            f"{officer.name}'s certificate was revoked ({revoked.document})",
            field="officer_id",
            code="certificate_revoked",
        )
    row = CertificateAction(
        officer_id=officer.id,
        kind=kind,
        starts_at=start,
        ends_at=end,
        document=document,
        reason=reason,
        created_by=str(actor),
    )
    session.add(row)
    session.flush()
    event = record(
        session,
        actor=actor,
        action=f"certificate.{kind}",
        entity_type="officer",
        entity_id=officer.id,
        squad_id=officer.squad_id,
        data={"action_id": row.id, "certificate_no": officer.certificate_no, "start": start.isoformat(),
              "end": end.isoformat() if end else None, "document": document, "reason": reason},
    )  # fmt: skip
    _publish_squad(session, officer.squad, event.id)
    return certificate_action_json(row)


def lift_suspension(session: Session, action_id: int, *, document: str, actor: str) -> dict:
    """Lift a suspension now (a revocation is final: 409)."""
    row = session.get(CertificateAction, action_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no certificate action {action_id}", field="action_id")
    officer = _officer_in_scope(session, row.officer_id, actor)
    now = clock.utc_now()
    if row.kind == "revocation":
        raise Conflict("a revocation is final", field="action_id", code="revocation_final")
    if row.lifted_at is not None or (row.ends_at is not None and row.ends_at <= now):
        raise Conflict("this suspension has ended already", field="action_id", code="suspension_ended")
    row.lifted_at, row.lifted_by, row.lift_document = now, str(actor), document
    event = record(
        session,
        actor=actor,
        action="certificate.suspension_lifted",
        entity_type="officer",
        entity_id=officer.id,
        squad_id=officer.squad_id,
        data={"action_id": row.id, "document": document},
    )
    session.flush()
    _publish_squad(session, officer.squad, event.id)
    return certificate_action_json(row)


def certificate_actions(session: Session, officer_id: int, *, actor: str) -> list[dict]:
    _officer_in_scope(session, officer_id, actor)
    rows = session.scalars(
        select(CertificateAction).where(CertificateAction.officer_id == officer_id).order_by(CertificateAction.id)
    )
    return [certificate_action_json(r) for r in rows]


def certificate_held(session: Session, officer_id: int, now: dt.datetime | None = None) -> bool:
    """Neither suspended nor revoked at ``now`` (case opening checks this beside the expiry)."""
    return bool(
        session.execute(
            text(f"SELECT {CERTIFICATE_HELD_SQL} FROM officer o WHERE o.id = :id"),
            {"id": officer_id, "now": now or clock.utc_now()},
        ).scalar()
    )


# -- the demo ------------------------------------------------------------------------------------------


def seed_demo_shifts(session: Session, *, now: dt.datetime | None = None, days: int = 7) -> int:
    """Rolling day and night shifts (08:00-20:00, 20:00-08:00 China time) for the demo (``make run``,
    at every start): each squad without a roster of its own gets them from yesterday, and the
    demo's rosters are topped up to ``days`` days ahead, so the demo's squads stay dispatchable."""
    now = now or clock.utc_now()
    first = dt.datetime.combine(local_day(now) - dt.timedelta(days=1), dt.time(8), tzinfo=CHINA)
    horizon = now + dt.timedelta(days=days)
    own = select(Shift.id).where(Shift.squad_id == Squad.id, Shift.created_by != "demo").exists()
    by_hand = (
        select(Shift.id).join(Officer, Officer.id == Shift.officer_id).where(Officer.squad_id == Squad.id).exists()
    )
    last_end = select(func.max(Shift.ends_at)).where(Shift.squad_id == Squad.id).scalar_subquery()
    added = 0
    for squad, end in session.execute(select(Squad, last_end).where(~own, ~by_hand).order_by(Squad.id)).all():
        start = max(first, end) if end is not None else first
        half = 0
        while start < horizon:
            session.add(
                Shift(
                    squad_id=squad.id,
                    starts_at=start,
                    ends_at=start + dt.timedelta(hours=12),
                    role="day" if start.astimezone(CHINA).hour == 8 else "night",
                    created_by="demo",
                )  # fmt: skip
            )
            start += dt.timedelta(hours=12)
            half += 1
        added += half
        session.execute(update(Officer).where(Officer.squad_id == squad.id, Officer.on_duty).values(rostered=True))
    session.flush()
    return added
