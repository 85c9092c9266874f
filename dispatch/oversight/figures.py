"""The yearly figures supervisors report (seed 001 §2; seed 002 task 6, published each January).

Definitions (all for the calendar year in China time unless said otherwise):

- ``comprehensive_share`` (seed 001 §2, 综合行政执法事项占行政执法事项的比例, target >= 20%): the
  share of the matter catalogue held by the comprehensive force (domain
  ``comprehensive``), counted in the year's catalogue: each county's version in force at the
  year's end (or now, for the year running; dispatch.catalogue), however many are published
  since. ``handled.comprehensive_share`` beside it is the share of the year's incidents
  (duplicates and cancelled ones left out) with a comprehensive matter, and ``by_matter`` their
  count per matter, each named and classed as the catalogue in force at its report time listed it.
- ``township_force_share`` (seed 001 §2 and §3.5.1, 乡镇执法力量占比, target >= 50%): enforcement
  officers (auxiliaries left out) of squads stationed in a township (scope ``zone``,
  station region of level township) over all enforcement officers; today's roster.
- Response times in minutes (count, median, mean, 90th percentile): intake to
  dispatch (``received_at`` -> ``dispatched_at``), dispatch to on scene, on scene to
  completion (``resolved_at``), by township and zone of the incident; by force from
  each response task's own times.
- Overdue: arrived after the SLA deadline (``late``), or still not on scene past it
  (``overdue_open``, as of now).
- Visits avoided by joint inspections (seed 001 §3.3.2): of the year's joint
  inspections by slot, and all time (dispatch.joint.visits_avoided).
- Joint meetings held in the year by kind, and their tasks done on time, late, overdue
  (dispatch.oversight.meetings.meeting_figures); campaigns started in the year, targets
  inspected once (by visit day) and the visits that spared (departments - 1 per target),
  violations found and rectified (dispatch.oversight.campaigns.campaign_figures).
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from dispatch.catalogue import version_in_force
from dispatch.joint import visits_avoided
from dispatch.oversight.campaigns import campaign_figures
from dispatch.oversight.common import now_utc
from dispatch.oversight.meetings import meeting_figures
from dispatch.oversight.models import (
    AssistanceRequest,
    CriminalReferral,
    JurisdictionDispute,
    LegalReview,
    PenaltyDecision,
    Referral,
    SharedRecord,
    SupervisionDecision,
    SupervisionNotice,
    SupervisionVisit,
)
from dispatch.oversight.personnel import TRAINING_HOURS_PER_YEAR, training_hours
from dispatch.states import OPEN_STATUSES, sql_list
from dispatch.store.models import CatalogueEntry, CatalogueVersion, Matter
from gis.clock import CHINA

TARGETS = {"comprehensive_share": 0.20, "township_force_share": 0.50}
INTERVALS = {
    "intake_to_dispatch": ("received_at", "dispatched_at"),
    "dispatch_to_on_scene": ("dispatched_at", "on_scene_at"),
    "on_scene_to_completion": ("on_scene_at", "resolved_at"),
}
TASK_INTERVALS = {
    "intake_to_dispatch": ("i.received_at", "t.created_at"),
    "dispatch_to_on_scene": ("t.created_at", "t.on_scene_at"),
    "on_scene_to_completion": ("t.on_scene_at", "t.completed_at"),
}
COUNTED = "i.status NOT IN ('duplicate', 'cancelled') AND i.received_at >= :start AND i.received_at < :end"


def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    return dt.datetime(year, 1, 1, tzinfo=CHINA), dt.datetime(year + 1, 1, 1, tzinfo=CHINA)


def _stats_sql(intervals: dict[str, tuple[str, str]], alias: str = "i") -> str:
    parts = []
    for name, (start, end) in intervals.items():
        a = start if "." in start else f"{alias}.{start}"
        b = end if "." in end else f"{alias}.{end}"
        x = f"(extract(epoch FROM ({b} - {a})) / 60.0)"
        parts.append(
            f"count({x}) AS {name}__count, "
            f"round((percentile_cont(0.5) WITHIN GROUP (ORDER BY {x}))::numeric, 1) AS {name}__median, "
            f"round(avg({x})::numeric, 1) AS {name}__mean, "
            f"round((percentile_cont(0.9) WITHIN GROUP (ORDER BY {x}))::numeric, 1) AS {name}__p90"
        )
    return ", ".join(parts)


def _rows(result, intervals) -> list[dict]:
    out = []
    for row in result.mappings():
        item = {"key": row["key"], "name": row["name"]}
        for name in intervals:
            item[name] = {
                stat: (float(row[f"{name}__{stat}"]) if row[f"{name}__{stat}"] is not None else None)
                for stat in ("median", "mean", "p90")
            }
            item[name]["count"] = row[f"{name}__count"]
        out.append(item)
    return out


def every_township(session: Session, rows: list[dict], empty) -> list[dict]:
    """Every township (and street) of the county in a by-township table, those without an incident
    in the year too, with ``empty()`` figures; incidents at sea (no township) last. Built from the
    incidents alone, a table left out a township with none: 花鸟乡 (Huaniao) in the demo year."""
    seen = {row["key"] for row in rows}
    names = session.execute(
        text("SELECT code, name_zh FROM region WHERE level IN ('township', 'street') ORDER BY code")
    ).all()
    rows = rows + [{"key": code, "name": name, **empty()} for code, name in names if code not in seen]
    return sorted(rows, key=lambda row: (row["key"] is None, row["key"] or ""))


def _empty_times() -> dict:
    return {name: {"median": None, "mean": None, "p90": None, "count": 0} for name in INTERVALS}


def response_times(session: Session, start: dt.datetime, end: dt.datetime) -> dict:
    """Minutes from intake to dispatch, to on scene, to completion: overall, by township, zone and force."""
    params = {"start": start, "end": end}
    stats = _stats_sql(INTERVALS)
    groups = {
        "overall": ("'all'", "'全县 all'", ""),
        "by_township": ("r.code", "r.name_zh", "LEFT JOIN region r ON r.id = i.region_id"),
        "by_zone": ("z.code", "z.name_zh", "LEFT JOIN zone z ON z.id = i.zone_id"),
    }
    out = {}
    for label, (key, name, join) in groups.items():
        sql = f"SELECT {key} AS key, {name} AS name, {stats} FROM incident i {join} WHERE {COUNTED} GROUP BY 1, 2 ORDER BY 1"
        out[label] = _rows(session.execute(text(sql), params), INTERVALS)
    out["overall"] = out["overall"][0] if out["overall"] else None
    out["by_township"] = every_township(session, out["by_township"], _empty_times)
    sql = f"""
        SELECT s.force AS key, s.force AS name, {_stats_sql(TASK_INTERVALS)}
        FROM task t JOIN incident i ON i.id = t.incident_id JOIN squad s ON s.id = t.squad_id
        WHERE t.kind = 'response' AND {COUNTED} GROUP BY 1, 2 ORDER BY 1"""
    out["by_force"] = _rows(session.execute(text(sql), params), TASK_INTERVALS)
    return out


def overdue(session: Session, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> dict:
    """Late arrivals and incidents still not on scene past their SLA deadline, by township."""
    rows = session.execute(
        text(f"""
        SELECT r.code AS key, r.name_zh AS name, count(*) AS incidents,
               count(*) FILTER (WHERE i.on_scene_at > i.sla_deadline) AS late,
               count(*) FILTER (WHERE i.on_scene_at IS NULL AND i.sla_deadline < :now
                                AND i.status IN {sql_list(OPEN_STATUSES)}) AS overdue_open
        FROM incident i LEFT JOIN region r ON r.id = i.region_id
        WHERE {COUNTED} GROUP BY 1, 2 ORDER BY 1"""),
        {"start": start, "end": end, "now": now},
    ).mappings()
    by_township = every_township(
        session, [dict(r) for r in rows], lambda: {"incidents": 0, "late": 0, "overdue_open": 0}
    )
    return {
        "incidents": sum(r["incidents"] for r in by_township),
        "late": sum(r["late"] for r in by_township),
        "overdue_open": sum(r["overdue_open"] for r in by_township),
        "by_township": by_township,
    }


def shares(session: Session, start: dt.datetime, end: dt.datetime) -> dict:
    """The two targets of seed 001 §2 with what they are computed from."""
    catalogue = year_catalogue(session, start, end)
    handled = session.execute(
        text(f"""
        SELECT count(DISTINCT i.id) AS incidents,
               count(DISTINCT i.id) FILTER (WHERE coalesce(e.domain, m.domain) = 'comprehensive') AS comprehensive
        FROM incident i JOIN incident_matter im ON im.incident_id = i.id JOIN matter m ON m.id = im.matter_id
        {_ENTRY_AT_REPORT}
        WHERE {COUNTED}"""),
        {"start": start, "end": end},
    ).one()
    by_matter = session.execute(
        text(f"""
        SELECT m.code, coalesce(e.name_zh, m.name_zh) AS name, coalesce(e.name_en, m.name_en) AS name_en,
               coalesce(e.domain, m.domain) AS domain, count(DISTINCT i.id) AS incidents
        FROM incident i JOIN incident_matter im ON im.incident_id = i.id JOIN matter m ON m.id = im.matter_id
        {_ENTRY_AT_REPORT}
        WHERE {COUNTED} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2"""),
        {"start": start, "end": end},
    ).mappings()
    force = session.execute(
        text("""
        SELECT count(*) AS officers,
               count(*) FILTER (WHERE s.scope = 'zone' AND r.level = 'township') AS township
        FROM officer o JOIN squad s ON s.id = o.squad_id JOIN region r ON r.id = s.station_region_id
        WHERE NOT o.auxiliary""")
    ).one()
    return {
        "catalogue": catalogue,
        "handled": {
            "incidents": handled.incidents,
            "comprehensive": handled.comprehensive,
            "comprehensive_share": _ratio(handled.comprehensive, handled.incidents),
        },
        "by_matter": [dict(row) for row in by_matter],
        "force": {
            "officers": force.officers,
            "township": force.township,
            "township_force_share": _ratio(force.township, force.officers),
        },
    }


# The entry of an incident's matter in the catalogue version in force at its report time (China's
# day): the latest version listing it by then, else the earliest listing it (intake refuses a matter
# the version in force does not list, so that is the one it was filed under).
_ENTRY_AT_REPORT = """
        LEFT JOIN LATERAL (
            SELECT ce.domain, ce.name_zh, ce.name_en FROM catalogue_entry ce
            JOIN catalogue_version cv ON cv.id = ce.version_id
            WHERE ce.matter_id = im.matter_id
            ORDER BY (cv.effective_from <= (i.reported_at AT TIME ZONE 'Asia/Shanghai')::date) DESC,
                     CASE WHEN cv.effective_from <= (i.reported_at AT TIME ZONE 'Asia/Shanghai')::date
                          THEN cv.effective_from END DESC NULLS LAST,
                     cv.effective_from
            LIMIT 1
        ) e ON true"""


def year_catalogue(session: Session, start: dt.datetime, end: dt.datetime) -> dict:
    """The catalogue a year is counted in: each county's version in force on the year's last day
    (today, for the year running), whatever was published since (seed 001 §3.2.1, seed 004 art. 5)."""
    last_day = (min(end, now_utc()) - dt.timedelta(microseconds=1)).astimezone(CHINA).date()
    roots = session.scalars(select(CatalogueVersion.region_id).distinct()).all()
    versions = [v for v in (version_in_force(session, root, last_day) for root in roots) if v is not None]
    if versions:
        ids = [v.id for v in versions]
        total = _count(session, CatalogueEntry, CatalogueEntry.version_id.in_(ids))
        comprehensive = _count(
            session, CatalogueEntry, CatalogueEntry.version_id.in_(ids), CatalogueEntry.domain == "comprehensive"
        )
    else:  # no versions kept: the matters as they are
        total = session.scalar(select(func.count(Matter.id))) or 0
        comprehensive = session.scalar(select(func.count(Matter.id)).where(Matter.domain == "comprehensive")) or 0
    return {
        "matters": total,
        "comprehensive": comprehensive,
        "comprehensive_share": _ratio(comprehensive, total),
        "versions": [
            {"id": v.id, "county": v.region.code, "effective_from": v.effective_from.isoformat(), "source": v.source}
            for v in versions
        ],
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _count(session: Session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def oversight_counts(session: Session, year: int, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> dict:
    """How the seeds' procedures ran this year."""

    def within(column):
        return column.between(start, end - dt.timedelta(microseconds=1))

    under = training_hours(session, year, under_only=True)
    return {
        "legal_reviews": {
            s: _count(session, LegalReview, within(LegalReview.requested_at), LegalReview.status == s)
            for s in ("pending", "passed", "failed")
        },
        "penalty_decisions": {
            s: _count(session, PenaltyDecision, within(PenaltyDecision.issued_at), PenaltyDecision.status == s)
            for s in ("issued", "changed", "revoked")
        },
        "assistance_requests": {
            "sent": _count(session, AssistanceRequest, within(AssistanceRequest.sent_at)),
            "answered_on_time": _count(
                session,
                AssistanceRequest,
                within(AssistanceRequest.sent_at),
                AssistanceRequest.answered_at <= AssistanceRequest.due_at,
            ),
            "overdue_open": _count(
                session,
                AssistanceRequest,
                within(AssistanceRequest.sent_at),
                AssistanceRequest.status == "sent",
                AssistanceRequest.due_at < now,
            ),
        },
        "referrals": {
            s: _count(session, Referral, within(Referral.referred_at), Referral.status == s)
            for s in ("referred", "acting", "explained", "escalated")
        }
        | {
            "escalated_ever": _count(session, Referral, within(Referral.referred_at), Referral.escalated_at.isnot(None))
        },
        "criminal_referrals": {
            s: _count(session, CriminalReferral, within(CriminalReferral.transferred_at), CriminalReferral.status == s)
            for s in ("transferred", "accepted", "declined", "concluded")
        },
        "disputes": {
            "opened": _count(session, JurisdictionDispute, within(JurisdictionDispute.opened_at)),
            "resolved": _count(
                session,
                JurisdictionDispute,
                within(JurisdictionDispute.opened_at),
                JurisdictionDispute.stage == "resolved",
            ),
        },
        "supervision": {
            "visits": _count(session, SupervisionVisit, within(SupervisionVisit.visited_at)),
            "on_site_visits": _count(
                session, SupervisionVisit, within(SupervisionVisit.visited_at), SupervisionVisit.on_site
            ),
            "notices": _count(session, SupervisionNotice, within(SupervisionNotice.issued_at)),
            "notices_overdue": _count(
                session,
                SupervisionNotice,
                within(SupervisionNotice.issued_at),
                SupervisionNotice.status == "issued",
                SupervisionNotice.deadline < now,
            ),
            "decisions_change": _count(
                session,
                SupervisionDecision,
                within(SupervisionDecision.issued_at),
                SupervisionDecision.action == "change",
            ),
            "decisions_revoke": _count(
                session,
                SupervisionDecision,
                within(SupervisionDecision.issued_at),
                SupervisionDecision.action == "revoke",
            ),
        },
        "training": {
            "required_hours": TRAINING_HOURS_PER_YEAR,
            "officers": len(training_hours(session, year)),
            "under_required": len(under),
        },
        "sharing": {
            "records": _count(session, SharedRecord, within(SharedRecord.shared_at)),
            "late": _count(
                session, SharedRecord, within(SharedRecord.shared_at), SharedRecord.delay_reason.isnot(None)
            ),
        },
    }


def joint_figures(session: Session, start: dt.datetime, end: dt.datetime) -> dict:
    row = session.execute(
        text("""
        SELECT count(*) AS n, coalesce(sum(visits_replaced - 1), 0) AS avoided FROM joint_inspection
        WHERE status <> 'cancelled' AND slot_start >= :start AND slot_start < :end"""),
        {"start": start, "end": end},
    ).one()
    return {"joint_inspections": row.n, "visits_avoided": int(row.avoided), "all_time": visits_avoided(session)}


def annual_report(session: Session, year: int, now: dt.datetime | None = None) -> dict:
    """Everything ``GET /api/v1/reports/annual`` shows, as one JSON-ready dict."""
    now = now or now_utc()
    start, end = year_bounds(year)
    share = shares(session, start, end)
    return {
        "year": year,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "generated_at": now.isoformat(),
        "comprehensive_share": share["catalogue"]["comprehensive_share"],
        "township_force_share": share["force"]["township_force_share"],
        "targets": TARGETS,
        "targets_met": {
            key: (share_value is not None and share_value >= target)
            for key, target, share_value in (
                ("comprehensive_share", TARGETS["comprehensive_share"], share["catalogue"]["comprehensive_share"]),
                ("township_force_share", TARGETS["township_force_share"], share["force"]["township_force_share"]),
            )
        },
        "shares": share,
        "response_times": response_times(session, start, end),
        "overdue": overdue(session, start, end, now),
        "joint_inspections": joint_figures(session, start, end),
        "oversight": oversight_counts(session, year, start, end, now),
        # seed 000 §2.2, seed 003 annex: meetings held and their tasks done on time
        "meetings": meeting_figures(session, start, end, now),
        # seed 001 §3.3.2, seed 003 §7: campaigns, targets inspected once, the visits that spared
        "campaigns": campaign_figures(session, start, end, now),
    }


def report_csv(report: dict) -> str:
    """The report flattened to ``section,group,name,metric,value`` rows (UTF-8 with BOM for spreadsheets)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "group", "name", "metric", "value"])
    year = report["year"]
    writer.writerow(["summary", year, "", "comprehensive_share", report["comprehensive_share"]])
    writer.writerow(["summary", year, "", "township_force_share", report["township_force_share"]])
    for key, target in report["targets"].items():
        writer.writerow(["target", year, "", key, target])
    for part, values in report["shares"].items():
        if part == "by_matter":
            for row in values:
                writer.writerow(["shares.by_matter", row["code"], row["name"], "incidents", row["incidents"]])
            continue
        for metric, value in values.items():
            if metric != "versions":
                writer.writerow(["shares", part, "", metric, value])
    times = report["response_times"]
    groups = [("overall", [times["overall"]] if times["overall"] else [])]
    groups += [(g, times[g]) for g in ("by_township", "by_zone", "by_force")]
    for group, rows in groups:
        for row in rows:
            for interval in INTERVALS:
                for stat, value in row[interval].items():
                    writer.writerow([f"response_times.{group}", row["key"], row["name"], f"{interval}.{stat}", value])
    for row in report["overdue"]["by_township"]:
        for metric in ("incidents", "late", "overdue_open"):
            writer.writerow(["overdue", row["key"], row["name"], metric, row[metric]])
    for metric in ("incidents", "late", "overdue_open"):
        writer.writerow(["overdue", "all", "", metric, report["overdue"][metric]])
    joint = report["joint_inspections"]
    writer.writerow(["joint_inspections", year, "", "joint_inspections", joint["joint_inspections"]])
    writer.writerow(["joint_inspections", year, "", "visits_avoided", joint["visits_avoided"]])
    writer.writerow(["joint_inspections", "all_time", "", "visits_avoided", joint["all_time"]["visits_avoided"]])
    for section in ("meetings", "campaigns"):
        for metric, value in report[section].items():
            if not isinstance(value, dict):
                writer.writerow([section, year, "", metric, value])
    for section, values in report["oversight"].items():
        for metric, value in values.items():
            writer.writerow([f"oversight.{section}", year, "", metric, value])
    return "\ufeff" + out.getvalue()
