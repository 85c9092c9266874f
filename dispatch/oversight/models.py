"""Tables of oversight and coordination: the seeds' procedures as records the server checks.

Reference data (the holiday calendar, the county's non-enforcement bodies, its legal
reviewers and supervisors, the set times of its procedures) comes from
``gis/data/<county>/oversight.yaml`` (see ``dispatch.oversight.reference``).
Workflow tables hold one row per document of a procedure; every change of one
of them is also an ``Event`` of the full-process record (dispatch.record).
"""

from __future__ import annotations

import datetime as dt
import decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.store.models import Authority, Base, Incident, Matter, Officer, Region, Squad, _in_check, _timestamp

BODY_KINDS = (
    "government",  # 县人民政府: escalation (seed 000 §2.3), decisions (seed 004 arts. 9, 17)
    "coordination_office",  # 综合行政执法指导机构 / 县执法协调委办公室 (seed 004 art. 6; seed 001 §3.1)
    "staffing_office",  # 机构编制部门 (seed 004 arts. 8-9)
    "justice_bureau",  # 司法行政机关 (seed 002 task 1; seed 004 art. 16)
    "police",  # 公安机关 (seed 000 §2.6)
    "procuratorate",  # 人民检察院 (seed 000 §2.6)
)
STAFF_ROLES = ("legal_reviewer", "supervisor")
CASE_STATUSES = ("investigating", "decided", "transferred", "closed")
REVIEW_STATUSES = ("pending", "passed", "failed")
DECISION_STATUSES = ("issued", "changed", "revoked")
# Seed 004 art. 15: the ways supervision is done.
SUPERVISION_METHODS = ("daily_inspection", "case_file_review", "evaluation", "special", "individual_case", "other")
ASSISTANCE_STATUSES = ("sent", "answered", "withdrawn")
REFERRAL_STATUSES = ("referred", "acting", "explained", "escalated")
CRIMINAL_STATUSES = ("transferred", "accepted", "declined", "concluded")
DISPUTE_STAGES = ("negotiation", "coordination", "consultation", "government", "resolved")
NOTICE_STATUSES = ("issued", "responded", "accepted", "rejected")
DECISION_ACTIONS = ("change", "revoke")
# Seed 004 art. 17 (1)-(5): the only grounds on which a supervision decision changes or revokes an act.
STATUTORY_GROUNDS = (
    "no_authority_qualification",  # (一) 实施主体不具有行政主体资格
    "facts_unclear_evidence_insufficient",  # (二) 主要事实认定不清、证据不足
    "no_legal_basis",  # (三) 缺乏法律、法规、规章依据
    "serious_procedural_violation",  # (四) 违反法定程序构成重大且明显违法
    "other_statutory",  # (五) 法律、法规、规章规定的其他情形 (the provision must be cited)
)
SHARED_KINDS = ("penalty_decision", "licence", "inspection_record")


class CalendarDay(Base):
    """An exception to "Monday to Friday are working days": a public holiday, or a 调休 working weekend day."""

    __tablename__ = "calendar_day"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    name_zh: Mapped[str] = mapped_column(String(40))


class CalendarYear(Base):
    """A year of the State Council's holiday notice, loaded whole: the calendar is known to its
    last year's 31 December (its horizon); a working-day deadline past it is provisional."""

    __tablename__ = "calendar_year"
    __table_args__ = (CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),)

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # The notice it comes from (国务院办公厅关于YYYY年部分节假日安排的通知), or "test fixture".
    source: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[dt.datetime] = _timestamp()
    loaded_by: Mapped[str] = mapped_column(String(100))


class OversightPolicy(Base):
    """A county's set times for procedures the seeds leave to local rules (data, not code)."""

    __tablename__ = "oversight_policy"
    __table_args__ = (
        CheckConstraint(
            "referral_response_hours > 0 AND urgent_on_site_minutes > 0 AND notice_days > 0", name="times_positive"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), unique=True)
    # Seed 000 §2.3: a notified department acts "at once" or explains; past this, escalation.
    referral_response_hours: Mapped[int] = mapped_column(Integer)
    # Seed 000 §2.4: urgent requests or evidence at risk: someone on site "at once".
    urgent_on_site_minutes: Mapped[int] = mapped_column(Integer)
    # Seed 004 art. 16: a supervision notice sets a time limit; this is the default.
    notice_days: Mapped[int] = mapped_column(Integer)
    # Seed 002 task 4 (重大执法决定法制审核): a fine above this is a major decision whatever the
    # caller says, and legal review is owed (dispatch.oversight.cases). None: no threshold set.
    major_fine_yuan: Mapped[decimal.Decimal | None] = mapped_column(Numeric(12, 2))

    region: Mapped[Region] = relationship()


class OversightBody(Base):
    """A body that coordinates, supervises, decides or receives referrals but does not enforce."""

    __tablename__ = "oversight_body"
    __table_args__ = (_in_check("kind", BODY_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(150))
    kind: Mapped[str] = mapped_column(String(24))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)

    region: Mapped[Region] = relationship()


class OversightStaff(Base):
    """A legal reviewer (法制审核人员) of an authority, or a supervisor (执法监督人员) with a supervision certificate."""

    __tablename__ = "oversight_staff"
    __table_args__ = (
        _in_check("role", STAFF_ROLES),
        CheckConstraint(
            "role <> 'supervisor' OR (certificate_no IS NOT NULL AND certificate_expires IS NOT NULL)",
            name="supervisor_has_certificate",
        ),
        CheckConstraint("authority_id IS NOT NULL OR body_id IS NOT NULL", name="staff_has_employer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The username of the person's account (their own sign-in acts as them: dispatch.scope).
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(16))
    authority_id: Mapped[int | None] = mapped_column(ForeignKey("authority.id"))
    body_id: Mapped[int | None] = mapped_column(ForeignKey("oversight_body.id"))
    certificate_no: Mapped[str | None] = mapped_column(String(40), unique=True)
    certificate_expires: Mapped[dt.date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")

    authority: Mapped[Authority | None] = relationship()
    body: Mapped[OversightBody | None] = relationship()

    def certified_on(self, day: dt.date) -> bool:
        """Holds a supervision certificate valid on ``day`` (seed 004 art. 13)."""
        return self.active and self.certificate_expires is not None and self.certificate_expires >= day


class TrainingRecord(Base):
    """Hours of in-post training of one officer (seed 002 task 5: at least 60 a year)."""

    __tablename__ = "training_record"
    __table_args__ = (CheckConstraint("hours > 0 AND hours <= 24", name="hours_in_a_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), index=True)
    taken_on: Mapped[dt.date] = mapped_column(Date)
    hours: Mapped[decimal.Decimal] = mapped_column(Numeric(4, 1))
    course: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = _timestamp()

    officer: Mapped[Officer] = relationship()


case_officer = Table(
    "case_officer",
    Base.metadata,
    Column("case_id", ForeignKey("enforcement_case.id", ondelete="CASCADE"), primary_key=True),
    Column("officer_id", ForeignKey("officer.id"), primary_key=True),
    Column("role", String(16), nullable=False),
    CheckConstraint("role IN ('enforcer', 'assistant')", name="role_valid"),
)


class EnforcementCase(Base):
    """A case (案件) handled in an authority's name, which may end in a penalty decision."""

    __tablename__ = "enforcement_case"
    __table_args__ = (_in_check("status", CASE_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authority.id"), index=True)
    matter_id: Mapped[int | None] = mapped_column(ForeignKey("matter.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    party_name: Mapped[str] = mapped_column(String(200))
    party_business_id: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    # 重大行政处罚: legal review must pass before the decision (seed 002 tasks 1 and 4).
    major: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    status: Mapped[str] = mapped_column(String(16), default="investigating", server_default="investigating")
    opened_at: Mapped[dt.datetime] = _timestamp()
    created_by: Mapped[str] = mapped_column(String(100))

    authority: Mapped[Authority] = relationship()
    matter: Mapped[Matter | None] = relationship()
    incident: Mapped[Incident | None] = relationship()
    reviews: Mapped[list[LegalReview]] = relationship(back_populates="case", order_by="LegalReview.id")
    decisions: Mapped[list[PenaltyDecision]] = relationship(back_populates="case", order_by="PenaltyDecision.id")


class LegalReview(Base):
    """法制审核 of a case's intended decision: outcome and reasons by a legal reviewer."""

    __tablename__ = "legal_review"
    __table_args__ = (
        _in_check("status", REVIEW_STATUSES),
        CheckConstraint(
            "status = 'pending' OR (reviewer_id IS NOT NULL AND reasons IS NOT NULL AND reviewed_at IS NOT NULL)",
            name="outcome_has_reviewer_and_reasons",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("enforcement_case.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    proposed_decision: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[dt.datetime] = _timestamp()
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("oversight_staff.id"))
    reasons: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    case: Mapped[EnforcementCase] = relationship(back_populates="reviews")
    reviewer: Mapped[OversightStaff | None] = relationship()


class PenaltyDecision(Base):
    """行政处罚决定: issued in the case's authority's name; a supervision decision may change or revoke it."""

    __tablename__ = "penalty_decision"
    __table_args__ = (
        _in_check("status", DECISION_STATUSES),
        CheckConstraint("fine_yuan IS NULL OR fine_yuan >= 0", name="fine_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("enforcement_case.id"), index=True)
    number: Mapped[str] = mapped_column(String(60), unique=True)
    content: Mapped[str] = mapped_column(Text)
    fine_yuan: Mapped[decimal.Decimal | None] = mapped_column(Numeric(12, 2))
    legal_review_id: Mapped[int | None] = mapped_column(ForeignKey("legal_review.id"))
    status: Mapped[str] = mapped_column(String(16), default="issued", server_default="issued")
    issued_at: Mapped[dt.datetime] = _timestamp()
    issued_by: Mapped[str] = mapped_column(String(100))

    case: Mapped[EnforcementCase] = relationship(back_populates="decisions")
    legal_review: Mapped[LegalReview | None] = relationship()


visit_supervisor = Table(
    "visit_supervisor",
    Base.metadata,
    Column("visit_id", ForeignKey("supervision_visit.id", ondelete="CASCADE"), primary_key=True),
    Column("staff_id", ForeignKey("oversight_staff.id"), primary_key=True),
)


class SupervisionVisit(Base):
    """A supervision of an authority (seed 004 art. 15); on site it needs >= 2 certified supervisors (art. 13)."""

    __tablename__ = "supervision_visit"
    __table_args__ = (_in_check("method", SUPERVISION_METHODS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authority.id"), index=True)
    method: Mapped[str] = mapped_column(String(24))
    on_site: Mapped[bool] = mapped_column(Boolean)
    place: Mapped[str | None] = mapped_column(String(200))
    visited_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    findings: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))

    authority: Mapped[Authority] = relationship()
    supervisors: Mapped[list[OversightStaff]] = relationship(secondary=visit_supervisor, order_by="OversightStaff.id")


class AssistanceRequest(Base):
    """执法协助: the comprehensive force asks a department for a written technical opinion (seed 000 §2.4)."""

    __tablename__ = "assistance_request"
    __table_args__ = (
        _in_check("status", ASSISTANCE_STATUSES),
        CheckConstraint("due_at > sent_at", name="due_after_sent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    from_authority_id: Mapped[int] = mapped_column(ForeignKey("authority.id"))
    to_authority_id: Mapped[int] = mapped_column(ForeignKey("authority.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("enforcement_case.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    question: Mapped[str] = mapped_column(Text)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    evidence_at_risk: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    status: Mapped[str] = mapped_column(String(16), default="sent", server_default="sent")
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # The time limit runs past the holiday calendar's horizon: computed with weekdays only there,
    # and computed again when that year's calendar is loaded (dispatch.oversight.calendar).
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    on_site_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    on_site_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    on_site_officers: Mapped[str | None] = mapped_column(String(300))
    extension_reason: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    opinion: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[list] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))
    created_by: Mapped[str] = mapped_column(String(100))

    from_authority: Mapped[Authority] = relationship(foreign_keys=[from_authority_id])
    to_authority: Mapped[Authority] = relationship(foreign_keys=[to_authority_id])


class Referral(Base):
    """A lead in another department's competence, notified to it (seed 000 §2.3); escalated when ignored."""

    __tablename__ = "referral"
    __table_args__ = (
        _in_check("status", REFERRAL_STATUSES),
        CheckConstraint("respond_by > referred_at", name="respond_by_after_referred"),
        CheckConstraint("from_authority_id <> to_authority_id", name="referred_elsewhere"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    from_authority_id: Mapped[int] = mapped_column(ForeignKey("authority.id"))
    to_authority_id: Mapped[int] = mapped_column(ForeignKey("authority.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    matter_id: Mapped[int | None] = mapped_column(ForeignKey("matter.id"))
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="referred", server_default="referred")
    referred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    respond_by: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    responded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    response: Mapped[str | None] = mapped_column(Text)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_to_id: Mapped[int | None] = mapped_column(ForeignKey("oversight_body.id"))
    created_by: Mapped[str] = mapped_column(String(100))

    from_authority: Mapped[Authority] = relationship(foreign_keys=[from_authority_id])
    to_authority: Mapped[Authority] = relationship(foreign_keys=[to_authority_id])
    matter: Mapped[Matter | None] = relationship()
    escalated_to: Mapped[OversightBody | None] = relationship()


class CriminalReferral(Base):
    """行刑衔接: a case transferred to the police or the procuratorate with its record (seed 000 §2.6)."""

    __tablename__ = "criminal_referral"
    __table_args__ = (_in_check("status", CRIMINAL_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("enforcement_case.id"), index=True)
    to_body_id: Mapped[int] = mapped_column(ForeignKey("oversight_body.id"))
    suspected_offence: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="transferred", server_default="transferred")
    transferred_at: Mapped[dt.datetime] = _timestamp()
    # The case's record as it was handed over (the event ids and their content).
    record: Mapped[dict] = mapped_column(JSONB)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))

    case: Mapped[EnforcementCase] = relationship()
    to_body: Mapped[OversightBody] = relationship()


class JurisdictionDispute(Base):
    """争议协调 (seed 004 arts. 6-9), while a named squad handles the incident provisionally."""

    __tablename__ = "jurisdiction_dispute"
    __table_args__ = (
        _in_check("stage", DISPUTE_STAGES),
        CheckConstraint("party_a_id <> party_b_id", name="two_parties"),
        CheckConstraint(
            "stage <> 'resolved' OR (competent_authority_id IS NOT NULL AND resolved_at IS NOT NULL)",
            name="resolution_names_the_competent",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    party_a_id: Mapped[int] = mapped_column(ForeignKey("authority.id"))
    party_b_id: Mapped[int] = mapped_column(ForeignKey("authority.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    subject: Mapped[str] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String(16), default="negotiation", server_default="negotiation")
    provisional_squad_id: Mapped[int] = mapped_column(ForeignKey("squad.id"))
    # Art. 7: the points in dispute, each with both sides' views and legal bases.
    points: Mapped[list] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))
    coordination_opinion: Mapped[str | None] = mapped_column(Text)
    consultation_opinion: Mapped[str | None] = mapped_column(Text)
    government_decision: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text)
    competent_authority_id: Mapped[int | None] = mapped_column(ForeignKey("authority.id"))
    opened_at: Mapped[dt.datetime] = _timestamp()
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))

    party_a: Mapped[Authority] = relationship(foreign_keys=[party_a_id])
    party_b: Mapped[Authority] = relationship(foreign_keys=[party_b_id])
    competent_authority: Mapped[Authority | None] = relationship(foreign_keys=[competent_authority_id])
    provisional_squad: Mapped[Squad] = relationship()
    incident: Mapped[Incident | None] = relationship()


notice_case = Table(
    "notice_case",
    Base.metadata,
    Column("notice_id", ForeignKey("supervision_notice.id", ondelete="CASCADE"), primary_key=True),
    Column("case_id", ForeignKey("enforcement_case.id"), primary_key=True),
)


class SupervisionNotice(Base):
    """行政执法监督通知书: correct within a time limit (seed 002 task 6; seed 004 art. 16)."""

    __tablename__ = "supervision_notice"
    __table_args__ = (
        _in_check("status", NOTICE_STATUSES),
        _in_check("method", SUPERVISION_METHODS),
        CheckConstraint("deadline > issued_at", name="deadline_after_issue"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authority.id"), index=True)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("oversight_body.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("supervision_visit.id"))
    method: Mapped[str] = mapped_column(String(24))
    problem: Mapped[str] = mapped_column(Text)
    required_action: Mapped[str] = mapped_column(Text)
    # Seed 002 task 6: a major problem goes to the government's decision without waiting.
    major: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    status: Mapped[str] = mapped_column(String(16), default="issued", server_default="issued")
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    deadline: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    response: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    review_note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))

    authority: Mapped[Authority] = relationship()
    issued_by: Mapped[OversightBody] = relationship()
    cases: Mapped[list[EnforcementCase]] = relationship(secondary=notice_case, order_by="EnforcementCase.id")
    decisions: Mapped[list[SupervisionDecision]] = relationship(back_populates="notice")


class SupervisionDecision(Base):
    """行政执法监督决定书: the government changes or revokes an act on a statutory ground (seed 004 art. 17)."""

    __tablename__ = "supervision_decision"
    __table_args__ = (
        _in_check("action", DECISION_ACTIONS),
        _in_check("ground", STATUTORY_GROUNDS),
        CheckConstraint("ground <> 'other_statutory' OR legal_basis IS NOT NULL", name="other_ground_cites_basis"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("supervision_notice.id"), index=True)
    penalty_decision_id: Mapped[int] = mapped_column(ForeignKey("penalty_decision.id"))
    action: Mapped[str] = mapped_column(String(8))
    ground: Mapped[str] = mapped_column(String(40))
    legal_basis: Mapped[str | None] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("oversight_body.id"))
    issued_at: Mapped[dt.datetime] = _timestamp()
    created_by: Mapped[str] = mapped_column(String(100))

    notice: Mapped[SupervisionNotice] = relationship(back_populates="decisions")
    penalty_decision: Mapped[PenaltyDecision] = relationship()
    issued_by: Mapped[OversightBody] = relationship()


class SharedRecord(Base):
    """An entry of the information-sharing feed (seed 000 §2.1): shared the day it is made, or with a reason."""

    __tablename__ = "shared_record"
    __table_args__ = (
        _in_check("kind", SHARED_KINDS),
        CheckConstraint("shared_at >= made_at", name="shared_after_made"),
        # The feed asks "records of my domain shared on day D".
        Index("ix_shared_record_domains", "domains", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    authority_id: Mapped[int] = mapped_column(ForeignKey("authority.id"))
    # The domains the record concerns: departments of these domains see it in their feed.
    domains: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    title: Mapped[str] = mapped_column(String(300))
    party_name: Mapped[str | None] = mapped_column(String(200))
    party_business_id: Mapped[str | None] = mapped_column(String(32), index=True)
    made_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    shared_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    delay_reason: Mapped[str | None] = mapped_column(Text)
    penalty_decision_id: Mapped[int | None] = mapped_column(ForeignKey("penalty_decision.id"), unique=True)
    data: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    created_by: Mapped[str] = mapped_column(String(100))

    authority: Mapped[Authority] = relationship()
