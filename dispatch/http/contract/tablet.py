"""A squad's tablet: its own work, restored on any device."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from dispatch.http.contract.common import Answer, AnswerTime, PointOut
from dispatch.http.contract.incidents import Task


class TabletSquad(Answer):
    id: int
    code: str
    name: str
    name_en: str | None
    status: str = Field(description="available, busy (on a task), returning, out_of_service or off_duty")
    status_reason: str | None = Field(description="why out of service: vessel_fault, meal, training or leave")


class TabletMatter(Answer):
    code: str
    name: str
    name_en: str | None


class TabletRegion(Answer):
    code: str
    name: str
    name_en: str | None


class TabletIncident(Answer):
    id: int
    priority: int = Field(ge=1, le=3)
    status: str
    description: str
    address: str | None
    location: PointOut
    matters: list[TabletMatter]
    sla_deadline: AnswerTime
    region: TabletRegion | None
    caller: dict | None = Field(description="who called, to call back: {name, phone}")


class TabletEvidence(Answer):
    sha256: str = Field(description="GET /api/v1/evidence/{sha256}")
    size: int
    media_type: str
    file_name: str | None
    occurred_at: AnswerTime | None = Field(description="when it was taken, by the device's clock")
    recorded_at: AnswerTime


class TabletTask(Task):
    incident: TabletIncident | None = Field(description="what the task is about (none for a joint inspection's)")
    evidence: list[TabletEvidence] = Field(description="photos, videos and documents stored for the task, oldest first")


class TabletTasks(Answer):
    squad: TabletSquad
    tasks: list[TabletTask] = Field(description="open tasks, then those closed in the last 24 hours; newest first")


class RouteFound(Answer):
    squad_id: int
    computed_at: AnswerTime
    eta_seconds: int
    distance_m: int
    mode: str = Field(description="land, ferry or boat")
    legs: list[dict[str, Any]] = Field(description="road, pier, ferry (with its departure), road; or a boat")


class TaskRoute(Answer):
    task_id: int
    route: RouteFound | None = Field(description="none when the squad cannot get there now (no ferry, at sea)")
