"""Factories for oversight tests: seeded officers by name, a case, an incident, times in China,
and the credentials each act is sent with (issue 25: an act reserved to an organisation needs a
principal of it, legal review the reviewer's own token)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from dispatch.store.models import Officer
from tests.conftest import as_org, as_person
from tests.factories import incident_body

CST = dt.timezone(dt.timedelta(hours=8))
# Who acts (gis/data/shengsi/authorities.yaml, oversight.yaml). The oversight ``client`` sends
# BUREAU's token unless a request names another.
BUREAU = as_org("county-bureau")  # the comprehensive bureau: opens cases, asks, refers
MARKET = as_org("dept-market")  # the market department: answers assistance sent to it
EMERGENCY = as_org("dept-emergency")  # answers the leads (LEAD) referred to it
CULTURE = as_org("dept-culture")  # the other party of the beach dispute
COORDINATION = as_org("shengsi-coordination")  # coordinates, consults, reassigns (seed 004 arts. 7-8)
GOVERNMENT = as_org("shengsi-gov")  # decides disputes and changes or revokes penalties (arts. 9, 17)
JUSTICE = as_org("shengsi-justice")  # supervises: visits, notices, reviews corrections
POLICE = as_org("shengsi-police")  # receives criminal referrals
REVIEWER = as_person("reviewer-cb-wang")  # a legal reviewer of the county bureau, her own token
# Seeded officers of the Caiyuan squadron (gis/data/shengsi/squads.yaml).
CERTIFIED = "许海峰"  # certificate valid to 2029-10-31
SECOND = "胡思远"  # certificate valid to 2029-02-28: a case has two enforcers (Administrative Penalty Law art. 42)
EXPIRED = "史晓燕"  # certificate expired 2025-06-30
AUXILIARY = "林伟东"  # 协勤, no certificate


def officer_id(session, name: str) -> int:
    return session.scalar(select(Officer.id).where(Officer.name == name))


def ago(**delta) -> str:
    """An ISO time that long ago, China time."""
    return (dt.datetime.now(CST) - dt.timedelta(**delta)).replace(microsecond=0).isoformat()


def case_body(
    session, *, major=False, authority="county-bureau", matter="CM-001", enforcers=(CERTIFIED, SECOND), **extra
):
    return {
        "authority": authority,
        "matter": matter,
        "party": {"name": "嵊泗某某海鲜排档", "business_id": "91330922MA2B3C4D5E"},
        "summary": "占用人行道经营海鲜排档,经责令改正拒不改正",
        "major": major,
        "enforcer_ids": [officer_id(session, n) for n in enforcers],
        **extra,
    }


def open_case(client, session, **kwargs) -> dict:
    response = client.post("/api/v1/cases", json=case_body(session, **kwargs))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def new_incident(client, **kwargs) -> dict:
    response = client.post("/api/v1/incidents", json=incident_body(**kwargs))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def squad_id(client, code: str) -> int:
    squads = client.get("/api/v1/squads").get_json()["features"]
    return next(f["properties"]["id"] for f in squads if f["properties"]["code"] == code)
