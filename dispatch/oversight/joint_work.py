"""Tables of joint work between departments (issue 32): joint meetings and their tasks, inspect-once
campaigns with their targets and findings. The rules are in dispatch.oversight.meetings and
dispatch.oversight.campaigns; every change of a row here is also an ``Event`` of the record.
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geography
from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.oversight.models import OversightBody
from dispatch.store.models import Authority, Base, Incident, Region, _in_check, _timestamp

# Seed 000 §2.2: regular meetings (每半年), ad-hoc ones (临时召集); §2.3 and seed 002 task 1: consultation
# on a major lead or case (联合会商, 重大行政执法案件会商).
MEETING_KINDS = ("regular", "ad_hoc", "consultation")
MEETING_TASK_STATUSES = ("open", "done")
CAMPAIGN_STATUSES = ("planned", "active", "closed")
TARGET_STATUSES = ("pending", "inspected")
FINDING_RESULTS = ("compliant", "violation")
CHECK_RESULTS = ("rectified", "not_rectified")

meeting_participant = Table(
    "meeting_participant",
    Base.metadata,
    Column("meeting_id", ForeignKey("joint_meeting.id", ondelete="CASCADE"), primary_key=True),
    Column("authority_id", ForeignKey("authority.id"), primary_key=True),
)


class JointMeeting(Base):
    """联席会议 or 联合会商: who convened it, who took part, and its minutes (会议纪要)."""

    __tablename__ = "joint_meeting"
    __table_args__ = (
        _in_check("kind", MEETING_KINDS),
        CheckConstraint("(convenor_authority_id IS NULL) <> (convenor_body_id IS NULL)", name="one_convenor"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    held_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    convenor_authority_id: Mapped[int | None] = mapped_column(ForeignKey("authority.id"))
    convenor_body_id: Mapped[int | None] = mapped_column(ForeignKey("oversight_body.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    agenda: Mapped[str | None] = mapped_column(Text)
    minutes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = _timestamp()

    county: Mapped[Region] = relationship()
    convenor_authority: Mapped[Authority | None] = relationship()
    convenor_body: Mapped[OversightBody | None] = relationship()
    incident: Mapped[Incident | None] = relationship()
    participants: Mapped[list[Authority]] = relationship(secondary=meeting_participant, order_by="Authority.id")
    tasks: Mapped[list[MeetingTask]] = relationship(back_populates="meeting", order_by="MeetingTask.id")


class MeetingTask(Base):
    """A decision of the minutes (议定事项) as a task: an owner, a deadline, feedback (seed 003 annex 三)."""

    __tablename__ = "meeting_task"
    __table_args__ = (
        _in_check("status", MEETING_TASK_STATUSES),
        CheckConstraint("status <> 'done' OR (feedback IS NOT NULL AND done_at IS NOT NULL)", name="done_has_feedback"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("joint_meeting.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("authority.id"), index=True)
    person: Mapped[str | None] = mapped_column(String(100))
    working_days: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[str] = mapped_column(String(8), default="open", server_default="open")
    feedback: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = _timestamp()

    meeting: Mapped[JointMeeting] = relationship(back_populates="tasks")
    owner: Mapped[Authority] = relationship()


campaign_region = Table(
    "campaign_region",
    Base.metadata,
    Column("campaign_id", ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True),
    Column("region_id", ForeignKey("region.id"), primary_key=True),
)
campaign_authority = Table(
    "campaign_authority",
    Base.metadata,
    Column("campaign_id", ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True),
    Column("authority_id", ForeignKey("authority.id"), primary_key=True),
)


class Campaign(Base):
    """专项行动: inspect-once over a set of townships or an industry (seed 001 §3.3.2, seed 003 §7)."""

    __tablename__ = "campaign"
    __table_args__ = (
        _in_check("status", CAMPAIGN_STATUSES),
        CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    plan: Mapped[str] = mapped_column(Text)
    industry: Mapped[str | None] = mapped_column(String(100))
    county_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("authority.id"))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8), default="planned", server_default="planned")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = _timestamp()

    county: Mapped[Region] = relationship()
    lead: Mapped[Authority] = relationship()
    regions: Mapped[list[Region]] = relationship(secondary=campaign_region, order_by="Region.code")
    departments: Mapped[list[Authority]] = relationship(secondary=campaign_authority, order_by="Authority.id")
    targets: Mapped[list[CampaignTarget]] = relationship(back_populates="campaign", order_by="CampaignTarget.id")


class CampaignTarget(Base):
    """A business the campaign inspects, once, with every participating department."""

    __tablename__ = "campaign_target"
    __table_args__ = (
        _in_check("status", TARGET_STATUSES),
        UniqueConstraint("campaign_id", "business_id", name="one_target_per_business"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    business_id: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(300))
    location = mapped_column(Geography("POINT", srid=4326), nullable=False)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    status: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    visited_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    joint_inspection_id: Mapped[int | None] = mapped_column(ForeignKey("joint_inspection.id"))
    created_by: Mapped[str] = mapped_column(String(100))

    campaign: Mapped[Campaign] = relationship(back_populates="targets")
    region: Mapped[Region | None] = relationship()
    findings: Mapped[list[CampaignFinding]] = relationship(back_populates="target", order_by="CampaignFinding.id")


class CampaignFinding(Base):
    """What one department found at a target in the one visit, and its follow-up (跟踪问效)."""

    __tablename__ = "campaign_finding"
    __table_args__ = (
        _in_check("result", FINDING_RESULTS),
        CheckConstraint("check_result IS NULL OR check_result IN ('rectified', 'not_rectified')", name="check_valid"),
        CheckConstraint("result = 'violation' OR rectify_by IS NULL", name="only_violations_rectified"),
        UniqueConstraint("target_id", "authority_id", name="one_finding_per_department"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("campaign_target.id", ondelete="CASCADE"), index=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authority.id"))
    result: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text)
    rectify_by: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    check_result: Mapped[str | None] = mapped_column(String(16))
    check_note: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))

    target: Mapped[CampaignTarget] = relationship(back_populates="findings")
    authority: Mapped[Authority] = relationship()
