"""Joint meetings and consultation (联席会议, 联合会商), and the tasks their minutes decide.

Seed 000 §2.2: 联席会议原则上每半年召开一次,也可根据需要或按照上级的指示,临时召集会议 (a regular
meeting every half year, ad-hoc ones when needed); its members are the county's departments.
Seed 000 §2.3 and seed 002 task 1: 重大案件线索...召开专题会议,研究具体案情 (consultation on a major lead).
Seed 003 annex 三(三)-(四): 联席会议以会议纪要的形式明确议定事项...明确工作任务、完成时限、标准要求、
责任单位及责任人; 落实情况要形成书面材料及时报送会议牵头单位 (the minutes' decisions become tasks with a
responsible department and a time limit; each reports back in writing).

So: a meeting names its convenor (an authority or the county's coordination body) and participating
departments, all of one county (422 ``outside_county`` otherwise); a task needs an owner and a
deadline (422 ``owner_and_deadline_required``), the deadline a day or a number of working days by
the county's calendar (dispatch.oversight.calendar); the owner reports back (feedback), on time or
late; open tasks past their deadline are overdue (on /supervisor/meetings and in the annual report).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from dispatch.errors import ApiError, Conflict, NotFound
from dispatch.incidents import get_incident
from dispatch.live.bus import publish_after_commit
from dispatch.oversight.calendar import end_of_day, working_days_after
from dispatch.oversight.common import (
    authority_ref,
    body_ref,
    county_of,
    find_authority,
    get_row,
    now_utc,
    past_time,
)
from dispatch.oversight.joint_work import MEETING_KINDS, JointMeeting, MeetingTask
from dispatch.oversight.models import OversightBody
from dispatch.record import record
from dispatch.scope import require_organisation
from dispatch.shapes import iso
from dispatch.store.models import Authority, Region
from dispatch.validation import check_fields, optional_id, optional_text, parse_time, required_text
from gis.clock import local_day

MEETING_FIELDS = {"kind", "title", "held_at", "convenor", "participants", "incident_id", "agenda", "minutes"}
TASK_FIELDS = {"decision", "owner", "person", "deadline", "working_days"}
RULE_TASK = "seed 003 annex 三(三): a decision of the minutes names its responsible department and time limit"


def _organisation(session: Session, code, field: str) -> Authority | OversightBody:
    if not isinstance(code, str) or not code.strip():
        raise ApiError("required: an authority or oversight body code", field=field)
    found = session.scalar(select(Authority).where(Authority.code == code.strip()))
    if found is None:
        found = session.scalar(select(OversightBody).where(OversightBody.code == code.strip()))
    if found is None:
        raise ApiError(f"unknown authority or body {code!r}", field=field, code="unknown_authority", status=422)
    return found


def _same_county(session: Session, county: Region, authority: Authority, field: str) -> None:
    theirs = county_of(session, authority.region)
    if theirs.id != county.id:
        raise ApiError(
            f"{authority.name_zh} belongs to {theirs.name_zh}, not {county.name_zh}: a joint meeting's members are "
            "the county's departments (seed 000 §2.2)",
            field=field,
            code="outside_county",
            status=422,
        )


def create_meeting(session: Session, body: dict, *, actor: str, now: dt.datetime | None = None) -> JointMeeting:
    """Record a meeting (held, or about to be) with its participants and, if written, its minutes."""
    check_fields(body, MEETING_FIELDS)
    now = now or now_utc()
    kind = body.get("kind")
    if kind not in MEETING_KINDS:
        raise ApiError(f"must be one of {', '.join(MEETING_KINDS)}", field="kind")
    convenor = _organisation(session, body.get("convenor"), "convenor")
    require_organisation(actor, convenor, what="convene a joint meeting in its name")
    county = county_of(session, convenor.region)
    codes = body.get("participants")
    if not isinstance(codes, list) or not codes:
        raise ApiError("required: the participating departments' codes", field="participants")
    if len(set(codes)) != len(codes):
        raise ApiError("must be distinct", field="participants")
    participants = []
    for index, code in enumerate(codes):
        authority = find_authority(session, code, f"participants[{index}]")
        _same_county(session, county, authority, f"participants[{index}]")
        participants.append(authority)
    incident_id = optional_id(body, "incident_id")
    if incident_id is not None:
        get_incident(session, incident_id)
    held_at = body.get("held_at")
    if held_at is None:
        raise ApiError("required: when the meeting is held", field="held_at")
    held = parse_time(held_at, "held_at", required=True)
    meeting = JointMeeting(
        kind=kind,
        title=required_text(body, "title", 300),
        held_at=held,
        county=county,
        convenor_authority=convenor if isinstance(convenor, Authority) else None,
        convenor_body=convenor if isinstance(convenor, OversightBody) else None,
        incident_id=incident_id,
        agenda=optional_text(body, "agenda", 8000),
        minutes=optional_text(body, "minutes", 20000),
        participants=participants,
        created_by=actor,
    )
    session.add(meeting)
    session.flush()
    event = _record(
        session,
        meeting,
        actor=actor,
        action="meeting.recorded",
        incident_id=incident_id,
        data={"kind": kind, "convenor": convenor.code, "participants": [a.code for a in participants]},
    )
    _publish(session, meeting, now, event)
    return meeting


def add_task(
    session: Session, meeting_id: int, body: dict, *, actor: str, now: dt.datetime | None = None
) -> MeetingTask:
    """A decision of the minutes as a task: owner and deadline required (seed 003 annex 三(三))."""
    check_fields(body, TASK_FIELDS)
    now = now or now_utc()
    decision = required_text(body, "decision", 4000)
    meeting = get_row(session, JointMeeting, meeting_id, "meeting_id", lock=True)
    require_organisation(actor, meeting.convenor_authority or meeting.convenor_body, what="assign the meeting's tasks")
    missing = [name for name in ("owner",) if body.get(name) is None]
    if body.get("deadline") is None and body.get("working_days") is None:
        missing.append("deadline")
    if missing:
        raise ApiError(
            f"a meeting task needs {' and '.join(missing)}: {RULE_TASK}",
            field=missing[0],
            code="owner_and_deadline_required",
            status=422,
        )
    if body.get("deadline") is not None and body.get("working_days") is not None:
        raise ApiError("give a deadline or working_days, not both", field="working_days", status=422)
    owner = find_authority(session, body["owner"], "owner")
    _same_county(session, meeting.county, owner, "owner")
    days = body.get("working_days")
    if days is not None:
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 250:
            raise ApiError("must be a whole number of working days, 1 to 250", field="working_days")
        due_at = working_days_after(session, meeting.held_at, days)
    else:
        text_day = body["deadline"]
        try:
            day = dt.date.fromisoformat(text_day) if isinstance(text_day, str) else None
        except ValueError:
            day = None
        if day is None or day.year >= 9999:
            raise ApiError("must be a date YYYY-MM-DD", field="deadline")
        if day < local_day(meeting.held_at):
            raise ApiError("lies before the meeting", field="deadline", code="deadline_before_meeting", status=422)
        due_at = end_of_day(day)
    task = MeetingTask(
        meeting=meeting,
        decision=decision,
        owner=owner,
        person=optional_text(body, "person", 100),
        working_days=days,
        due_at=due_at,
        status="open",
        created_by=actor,
    )
    session.add(task)
    session.flush()
    event = _record(
        session,
        task,
        actor=actor,
        action="meeting_task.assigned",
        incident_id=meeting.incident_id,
        meeting_id=meeting.id,
        data={"owner": owner.code, "due_at": due_at.isoformat(), "working_days": days},
    )
    _publish(session, meeting, now, event)
    return task


def feedback(
    session: Session, meeting_id: int, task_id: int, body: dict, *, actor: str, now: dt.datetime | None = None
) -> MeetingTask:
    """The owner reports back in writing (书面材料, seed 003 annex 三(四)): done, on time or late."""
    check_fields(body, {"feedback", "done_at"})
    now = now or now_utc()
    text_ = required_text(body, "feedback", 8000)
    done_at = past_time(body, "done_at", now)
    task = get_row(session, MeetingTask, task_id, "task_id", lock=True)
    if task.meeting_id != meeting_id:
        raise NotFound(f"meeting {meeting_id} has no task {task_id}", field="task_id")
    require_organisation(actor, task.owner, what="report on a task it owns")
    if task.status == "done":
        raise Conflict(f"task {task.id} was reported done at {task.done_at.isoformat()}", code="task_done")
    if done_at < task.meeting.held_at:
        raise ApiError("before the meeting", field="done_at", status=422)
    task.status, task.feedback, task.done_at = "done", text_, done_at
    event = _record(
        session,
        task,
        actor=actor,
        action="meeting_task.done",
        incident_id=task.meeting.incident_id,
        meeting_id=task.meeting_id,
        data={"on_time": done_at <= task.due_at, "feedback": text_},
    )
    _publish(session, task.meeting, now, event)
    return task


def _record(session: Session, row, *, actor: str, action: str, incident_id=None, data=None, **parents):
    """An event of the record (as ``common.record_change``), returned for the live update's rev."""
    return record(
        session,
        actor=actor,
        action=action,
        entity_type=row.__tablename__,
        entity_id=row.id,
        incident_id=incident_id,
        data={**parents, **(data or {})},
    )


def _publish(session: Session, meeting: JointMeeting, now: dt.datetime, event) -> None:
    publish_after_commit(session, "meeting", meeting_json(meeting, now), rev=getattr(event, "id", None))


def get_meeting(session: Session, meeting_id: int) -> JointMeeting:
    return get_row(session, JointMeeting, meeting_id, "meeting_id")


_LOADS = (
    selectinload(JointMeeting.participants),
    selectinload(JointMeeting.tasks).selectinload(MeetingTask.owner),
    selectinload(JointMeeting.convenor_authority),
    selectinload(JointMeeting.convenor_body),
)


def list_meetings(session: Session, *, kind: str | None = None, limit: int = 200) -> list[JointMeeting]:
    query = select(JointMeeting).options(*_LOADS).order_by(JointMeeting.held_at.desc(), JointMeeting.id.desc())
    if kind:
        query = query.where(JointMeeting.kind == kind)
    return list(session.scalars(query.limit(limit)))


def overdue_tasks(session: Session, now: dt.datetime | None = None) -> list[MeetingTask]:
    """Open tasks past their deadline, earliest first."""
    now = now or now_utc()
    return list(
        session.scalars(
            select(MeetingTask)
            .where(MeetingTask.status == "open", MeetingTask.due_at < now)
            .options(selectinload(MeetingTask.owner), selectinload(MeetingTask.meeting))
            .order_by(MeetingTask.due_at, MeetingTask.id)
        )
    )


def task_json(task: MeetingTask, now: dt.datetime | None = None) -> dict:
    now = now or now_utc()
    return {
        "id": task.id,
        "meeting_id": task.meeting_id,
        "decision": task.decision,
        "owner": authority_ref(task.owner),
        "person": task.person,
        "working_days": task.working_days,
        "due_at": iso(task.due_at),
        "last_day": local_day(task.due_at - dt.timedelta(seconds=1)).isoformat(),
        "status": task.status,
        "feedback": task.feedback,
        "done_at": iso(task.done_at),
        "on_time": None if task.done_at is None else task.done_at <= task.due_at,
        "overdue": task.status == "open" and now > task.due_at,
    }


def meeting_json(meeting: JointMeeting, now: dt.datetime | None = None) -> dict:
    now = now or now_utc()
    return {
        "id": meeting.id,
        "kind": meeting.kind,
        "title": meeting.title,
        "held_at": iso(meeting.held_at),
        "county": {"code": meeting.county.code, "name": meeting.county.name_zh, "name_en": meeting.county.name_en},
        "convenor": authority_ref(meeting.convenor_authority) or body_ref(meeting.convenor_body),
        "participants": [authority_ref(a) for a in meeting.participants],
        "incident_id": meeting.incident_id,
        "agenda": meeting.agenda,
        "minutes": meeting.minutes,
        "tasks": [task_json(t, now) for t in meeting.tasks],
    }


def meeting_figures(session: Session, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> dict:
    """For the annual report: meetings held by kind, their tasks done on time, late, still open or overdue."""
    held = dict(
        session.execute(
            select(JointMeeting.kind, func.count())
            .where(JointMeeting.held_at >= start, JointMeeting.held_at < end, JointMeeting.held_at <= now)
            .group_by(JointMeeting.kind)
        ).all()
    )
    tasks = select(MeetingTask).join(JointMeeting).where(JointMeeting.held_at >= start, JointMeeting.held_at < end)
    rows = session.scalars(tasks).all()
    return {
        "meetings_held": sum(held.values()),
        "by_kind": {kind: held.get(kind, 0) for kind in MEETING_KINDS},
        "tasks": len(rows),
        "tasks_done_on_time": sum(1 for t in rows if t.done_at is not None and t.done_at <= t.due_at),
        "tasks_done_late": sum(1 for t in rows if t.done_at is not None and t.done_at > t.due_at),
        "tasks_overdue_open": sum(1 for t in rows if t.status == "open" and t.due_at < now),
    }
