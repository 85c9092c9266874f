"""The duty shift: live 1+X coverage and the dispatcher's alerts."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from dispatch.http.contract.common import Answer, AnswerTime, PointOut, Query
from dispatch.store.models import ALERT_KINDS, ALERT_SEVERITIES


class CoverageRegion(Answer):
    id: int
    code: str
    name: str
    name_en: str | None


class CoverageZone(Answer):
    code: str
    name: str
    name_en: str | None


class CoverageSquad(Answer):
    id: int
    code: str
    name: str
    name_en: str | None


class BestSquad(Answer):
    squad: CoverageSquad
    eta_seconds: int | None


class TownshipCoverage(Answer):
    id: int = Field(description="the township's region id (the id of its live ``coverage`` updates)")
    region: CoverageRegion
    zone: CoverageZone | None = Field(description="its 1+X zone in the plan in force")
    target_minutes: int = Field(description="the zone's response-time target")
    covered: bool = Field(description="an available competent squad reaches it within the target")
    best: BestSquad | None = Field(description="the squad that reaches it first now (none: no squad can)")
    reference_point: PointOut | None = Field(description="where its reach is measured: inside its main island")
    computed_at: AnswerTime
    rev: int = Field(description="bumped at every change: apply a live update only when newer")


class Coverage(Answer):
    computed_at: AnswerTime
    townships: list[TownshipCoverage]
    uncovered: int


class AlertQuery(Query):
    status: Literal["open", "all"] = Field("open", description="open: neither acknowledged nor cleared")
    limit: int = Field(200, ge=1, le=1000, description="at most this many")


class AlertRegion(Answer):
    code: str
    name: str
    name_en: str | None


class Alert(Answer):
    id: int
    kind: Literal[tuple(ALERT_KINDS)]  # type: ignore[valid-type]
    severity: Literal[tuple(ALERT_SEVERITIES)]  # type: ignore[valid-type]
    incident_id: int | None
    task_id: int | None
    squad_id: int | None
    region: AlertRegion | None
    message: str = Field(description="in Chinese; ``kind`` and ``params`` let a screen say it in its language")
    params: dict[str, Any]
    raised_at: AnswerTime
    acknowledged_at: AnswerTime | None
    acknowledged_by: str | None
    cleared_at: AnswerTime | None = Field(description="its condition ended")


class AlertList(Answer):
    alerts: list[Alert]
