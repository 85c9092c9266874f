"""What the supervisor's page shows: overdue work, open disputes, notices and the year's figures."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.oversight.assistance import overdue_requests
from dispatch.oversight.disputes import list_disputes
from dispatch.oversight.figures import annual_report
from dispatch.oversight.models import Referral
from dispatch.oversight.personnel import certificates, training_hours
from dispatch.oversight.referrals import overdue_referrals
from dispatch.oversight.supervision import list_notices
from dispatch.states import OPEN_STATUSES
from dispatch.store.models import Incident
from gis.clock import local_day

CERTIFICATE_WARNING_DAYS = 60


def overdue_incidents(session: Session, now: dt.datetime, limit: int = 100) -> list[Incident]:
    """Open incidents past their SLA deadline with nobody on scene yet."""
    return list(
        session.scalars(
            select(Incident)
            .where(
                Incident.status.in_(OPEN_STATUSES),
                Incident.on_scene_at.is_(None),
                Incident.sla_deadline < now,
            )
            .options(selectinload(Incident.region), selectinload(Incident.matters))
            .order_by(Incident.sla_deadline, Incident.id)
            .limit(limit)
        )
    )


def dashboard(session: Session, now: dt.datetime) -> dict:
    """Everything on /supervisor, computed as of ``now``."""
    year = local_day(now).year
    escalated = list(
        session.scalars(
            select(Referral)
            .where(Referral.status == "escalated")
            .options(selectinload(Referral.to_authority), selectinload(Referral.escalated_to))
            .order_by(Referral.escalated_at)
        )
    )
    return {
        "now": now,
        "year": year,
        "overdue_incidents": overdue_incidents(session, now),
        "overdue_assistance": overdue_requests(session, now),
        "overdue_referrals": overdue_referrals(session, now),
        "escalated_referrals": escalated,
        "open_disputes": list_disputes(session, open_only=True),
        "open_notices": list_notices(session, open_only=True),
        "training_shortfall": training_hours(session, year, under_only=True),
        "certificates": certificates(session, within_days=CERTIFICATE_WARNING_DAYS, today=local_day(now)),
        "report": annual_report(session, year, now),
    }
