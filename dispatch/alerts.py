"""Alerts for the duty dispatcher: what needs a person now.

Kinds (``models.ALERT_KINDS``): a task not acknowledged N seconds after dispatch, an SLA due
within M minutes, an SLA breached, a township uncovered (``dispatch.coverage``), the position of
a squad on a task gone stale, a referral or an assistance request due for escalation.

An alert has a ``key`` (its condition and subject): it is raised once while the condition holds
(a partial unique index on the key of uncleared alerts), cleared when it ends, acknowledged by a
person. Raising, clearing and acknowledging are each on the record (``alert.raised``,
``alert.cleared``, ``alert.acknowledged``) and pushed to the command centre as ``alert`` updates.
``check`` evaluates the periodic kinds (the server's scheduler runs it, dispatch.live.duty).
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from dispatch.errors import Conflict, NotFound
from dispatch.live.bus import publish_after_commit
from dispatch.record import record
from dispatch.shapes import iso
from dispatch.states import OPEN_STATUSES, sql_list
from gis import clock

# The Chinese message of each kind (the screens localise by kind and params).
MESSAGES = {
    "task_unacknowledged": "任务 #{task_id}（{squad}）派出 {minutes} 分钟未确认",
    "sla_due": "事件 #{incident_id} 到场时限剩 {minutes} 分钟（{region}）",
    "sla_breached": "事件 #{incident_id} 已超到场时限 {minutes} 分钟（{region}）",
    "township_uncovered": "{township} 无可用中队在目标 {target} 分钟内到达",
    "position_stale": "{squad} 执行任务中，位置已 {minutes} 分钟未更新",
    "escalation_due": "{what} #{id} 应于 {due} 前答复，{state}",
}


def uncovered_key(region_id: int) -> str:
    return f"township_uncovered:{region_id}"


def _message(kind: str, params: dict) -> str:
    return MESSAGES[kind].format(**params)


def raise_alert(
    session: Session,
    kind: str,
    key: str,
    severity: str,
    params: dict,
    *,
    actor: str,
    incident_id: int | None = None,
    task_id: int | None = None,
    squad_id: int | None = None,
    region_id: int | None = None,
    now: dt.datetime | None = None,
) -> int | None:
    """Raise the alert of ``key`` unless it is raised already; its id when new."""
    now = now or clock.utc_now()
    alert_id = session.execute(
        text("""
        INSERT INTO alert (kind, key, severity, incident_id, task_id, squad_id, region_id, message, params, raised_at)
        VALUES (:kind, :key, :severity, :incident, :task, :squad, :region, :message, CAST(:params AS jsonb), :now)
        ON CONFLICT (key) WHERE cleared_at IS NULL DO NOTHING
        RETURNING id"""),
        {
            "kind": kind,
            "key": key,
            "severity": severity,
            "incident": incident_id,
            "task": task_id,
            "squad": squad_id,
            "region": region_id,
            "message": _message(kind, params),
            "params": _json(params),
            "now": now,
        },
    ).scalar()
    if alert_id is not None:
        _recorded(session, alert_id, "raised", actor, {"kind": kind, "key": key, "severity": severity, **params})
    return alert_id


def raise_uncovered(session: Session, reach, *, actor: str) -> int | None:
    town = reach.township
    return raise_alert(
        session,
        "township_uncovered",
        uncovered_key(town.id),
        "critical",
        {
            "township": town.name,
            "township_en": town.name_en,
            "target": reach.target_minutes,
            "best_eta_minutes": None if reach.eta_seconds is None else -(-reach.eta_seconds // 60),
        },
        actor=actor,
        region_id=town.id,
    )


def clear(session: Session, key: str, *, actor: str, now: dt.datetime | None = None) -> int | None:
    """The condition of ``key`` ended: its alert is cleared (it stays on the record)."""
    alert_id = session.execute(
        text("UPDATE alert SET cleared_at = :now WHERE key = :key AND cleared_at IS NULL RETURNING id"),
        {"key": key, "now": now or clock.utc_now()},
    ).scalar()
    if alert_id is not None:
        _recorded(session, alert_id, "cleared", actor, {"key": key})
    return alert_id


def acknowledge(session: Session, alert_id: int, *, actor: str) -> dict:
    """A person has seen it: acknowledged, by whom and when (once; 409 when already)."""
    row = session.execute(
        text("SELECT id, acknowledged_at, acknowledged_by FROM alert WHERE id = :id FOR UPDATE"), {"id": alert_id}
    ).one_or_none()
    if row is None:
        raise NotFound(f"no alert {alert_id}", field="alert_id")
    if row.acknowledged_at is not None:
        raise Conflict(
            f"alert {alert_id} was acknowledged by {row.acknowledged_by} at {row.acknowledged_at.isoformat()}",
            code="already_acknowledged",
        )
    session.execute(
        text("UPDATE alert SET acknowledged_at = :now, acknowledged_by = :who WHERE id = :id"),
        {"now": clock.utc_now(), "who": str(actor), "id": alert_id},
    )
    _recorded(session, alert_id, "acknowledged", actor, {})
    return get_alert(session, alert_id)


def _recorded(session: Session, alert_id: int, what: str, actor: str, data: dict) -> None:
    alert = get_alert(session, alert_id)
    event = record(
        session,
        actor=actor,
        action=f"alert.{what}",
        entity_type="alert",
        entity_id=alert_id,
        incident_id=alert["incident_id"],
        squad_id=alert["squad_id"],
        data=data,
    )
    publish_after_commit(session, "alert", alert, rev=event.id)


_ALERT = """SELECT a.*, r.code AS region_code, r.name_zh AS region_name, r.name_en AS region_name_en
            FROM alert a LEFT JOIN region r ON r.id = a.region_id"""


def _alert_json(row) -> dict:
    return {
        "id": row.id,
        "kind": row.kind,
        "severity": row.severity,
        "incident_id": row.incident_id,
        "task_id": row.task_id,
        "squad_id": row.squad_id,
        "region": {"code": row.region_code, "name": row.region_name, "name_en": row.region_name_en}
        if row.region_code
        else None,
        "message": row.message,
        "params": row.params,
        "raised_at": iso(row.raised_at),
        "acknowledged_at": iso(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
        "cleared_at": iso(row.cleared_at),
    }


def get_alert(session: Session, alert_id: int) -> dict:
    row = session.execute(text(f"{_ALERT} WHERE a.id = :id"), {"id": alert_id}).one_or_none()
    if row is None:
        raise NotFound(f"no alert {alert_id}", field="alert_id")
    return _alert_json(row)


def list_alerts(
    session: Session, *, status: str = "open", limit: int = 200, regions: frozenset[int] | None = None
) -> list[dict]:
    """Open (neither acknowledged nor cleared) alerts, most severe and newest first; or all of them."""
    where = "a.acknowledged_at IS NULL AND a.cleared_at IS NULL" if status == "open" else "true"
    rows = session.execute(
        text(f"""{_ALERT} LEFT JOIN incident i ON i.id = a.incident_id
        WHERE {where} AND (CAST(:regions AS integer[]) IS NULL
                           OR coalesce(a.region_id, i.region_id) = ANY(CAST(:regions AS integer[]))
                           OR (a.region_id IS NULL AND i.region_id IS NULL))
        ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, a.raised_at DESC, a.id DESC
        LIMIT :limit"""),
        {"regions": sorted(regions) if regions is not None else None, "limit": limit},
    ).all()
    return [_alert_json(r) for r in rows]


# -- the periodic check ------------------------------------------------------------------------

_CONDITIONS = {
    # tasks dispatched and not acknowledged for longer than ALERT_UNACKNOWLEDGED_S
    "task_unacknowledged": """
        SELECT 'task_unacknowledged:' || t.id AS key, t.id AS task_id, t.incident_id, t.squad_id, i.region_id,
               i.priority, s.name_zh AS squad, s.name_en AS squad_en,
               ceil(extract(epoch FROM :now - t.created_at) / 60)::int AS minutes
        FROM task t JOIN squad s ON s.id = t.squad_id LEFT JOIN incident i ON i.id = t.incident_id
        WHERE t.state = 'dispatched' AND t.created_at < :now - make_interval(secs => :unack)""",
    # open incidents whose squad is not on scene and whose SLA falls due within ALERT_SLA_DUE_MINUTES
    "sla_due": f"""
        SELECT 'sla_due:' || i.id AS key, NULL::int AS task_id, i.id AS incident_id, NULL::int AS squad_id,
               i.region_id, i.priority, r.name_zh AS region, r.name_en AS region_en,
               ceil(extract(epoch FROM i.sla_deadline - :now) / 60)::int AS minutes
        FROM incident i LEFT JOIN region r ON r.id = i.region_id
        WHERE i.status IN {sql_list(OPEN_STATUSES)} AND i.on_scene_at IS NULL
          AND i.sla_deadline > :now AND i.sla_deadline <= :now + make_interval(secs => :due * 60)""",
    "sla_breached": f"""
        SELECT 'sla_breached:' || i.id AS key, NULL::int AS task_id, i.id AS incident_id, NULL::int AS squad_id,
               i.region_id, i.priority, r.name_zh AS region, r.name_en AS region_en,
               ceil(extract(epoch FROM :now - i.sla_deadline) / 60)::int AS minutes
        FROM incident i LEFT JOIN region r ON r.id = i.region_id
        WHERE i.status IN {sql_list(OPEN_STATUSES)} AND i.on_scene_at IS NULL AND i.sla_deadline <= :now""",
    # a squad on a task whose tablet has not reported for ALERT_STALE_POSITION_MINUTES
    "position_stale": """
        SELECT 'position_stale:' || s.id AS key, t.id AS task_id, t.incident_id, s.id AS squad_id, i.region_id,
               i.priority, s.name_zh AS squad, s.name_en AS squad_en,
               ceil(extract(epoch FROM :now - s.last_position_at) / 60)::int AS minutes
        FROM squad s JOIN task t ON t.squad_id = s.id AND t.state IN ('acknowledged', 'en_route', 'on_scene')
        LEFT JOIN incident i ON i.id = t.incident_id
        WHERE s.last_position_at < :now - make_interval(secs => :stale * 60)""",
    # referrals not answered within an hour of their set time (escalated by the scheduler when
    # past it), assistance requests past their due time without an answer
    "escalation_due": """
        SELECT 'escalation_due:referral:' || f.id AS key, NULL::int AS task_id, f.incident_id, NULL::int AS squad_id,
               i.region_id, NULL::int AS priority, 'referral' AS what, f.id AS subject, f.respond_by AS due,
               f.respond_by <= :now AS overdue
        FROM referral f LEFT JOIN incident i ON i.id = f.incident_id
        WHERE f.status = 'referred' AND f.respond_by <= :now + interval '1 hour'
        UNION ALL
        SELECT 'escalation_due:assistance:' || a.id, NULL, a.incident_id, NULL, i.region_id, NULL,
               'assistance', a.id, a.due_at, a.due_at <= :now
        FROM assistance_request a LEFT JOIN incident i ON i.id = a.incident_id
        WHERE a.status = 'sent' AND a.due_at <= :now + interval '1 hour'""",
}


def _params(kind: str, row) -> tuple[str, dict]:
    """Severity and message parameters of a condition's row."""
    p1 = row.priority == 1
    if kind == "task_unacknowledged":
        return ("critical" if p1 else "warning"), {
            "task_id": row.task_id,
            "squad": row.squad,
            "squad_en": row.squad_en,
            "minutes": row.minutes,
            "priority": row.priority,
        }
    if kind in ("sla_due", "sla_breached"):
        severe = p1 or kind == "sla_breached"
        return ("critical" if p1 else "warning" if severe else "info"), {
            "incident_id": row.incident_id,
            "region": row.region or "",
            "region_en": row.region_en,
            "minutes": row.minutes,
            "priority": row.priority,
        }
    if kind == "position_stale":
        return "warning", {"squad": row.squad, "squad_en": row.squad_en, "minutes": row.minutes}
    due = row.due.astimezone(clock.CHINA).strftime("%m-%d %H:%M")
    return ("warning" if row.overdue else "info"), {
        "what": "转办" if row.what == "referral" else "协助请求",
        "kind": row.what,
        "id": row.subject,
        "due": due,
        "state": "已逾期" if row.overdue else "即将到期",
        "overdue": bool(row.overdue),
    }


def check(session: Session, config: dict, *, actor: str = "alerts", now: dt.datetime | None = None) -> dict:
    """Raise the alerts whose condition holds now and clear those whose condition ended."""
    now = now or clock.utc_now()
    values = {
        "now": now,
        "unack": float(config["ALERT_UNACKNOWLEDGED_S"]),
        "due": float(config["ALERT_SLA_DUE_MINUTES"]),
        "stale": float(config["ALERT_STALE_POSITION_MINUTES"]),
    }
    raised = cleared = 0
    for kind, sql in _CONDITIONS.items():
        rows = session.execute(text(sql), values).all()
        holding = {row.key for row in rows}
        active = set(
            session.scalars(text("SELECT key FROM alert WHERE kind = :kind AND cleared_at IS NULL"), {"kind": kind})
        )
        for row in rows:
            if row.key in active:
                continue
            severity, params = _params(kind, row)
            if raise_alert(
                session,
                kind,
                row.key,
                severity,
                params,
                actor=actor,
                incident_id=row.incident_id,
                task_id=row.task_id,
                squad_id=row.squad_id,
                region_id=row.region_id,
                now=now,
            ):
                raised += 1
        for key in active - holding:
            if clear(session, key, actor=actor, now=now):
                cleared += 1
    return {"raised": raised, "cleared": cleared}


def _json(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False)
