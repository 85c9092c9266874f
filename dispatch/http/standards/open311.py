"""Open311 GeoReport v2 at ``/open311/v2`` (http://wiki.open311.org/GeoReport_v2), JSON and XML.

The matter catalogue is the list of services (``service_code`` = matter code); a
POST creates an incident through the same intake as ``POST /api/v1/incidents``,
so jurisdiction, priority, SLA, idempotence and duplicate detection are those of
the dispatch API. Mapping onto the GeoReport fields:

- ``agency_responsible``: the competent authority (the body in whose name the act is done);
- ``expected_datetime``: the SLA deadline (arrival on scene);
- ``status``: ``open`` while the incident is open or dispatched, ``closed`` once it is resolved,
  cancelled or marked a duplicate; ``status_notes`` says where its tasks are in their lifecycle;
- idempotence: ``attribute[external_id]`` (the ticket number in the sending system) or, without
  one, a digest of the submission, so a client's retry returns the same ``service_request_id``.

API keys are configured, never stored in clear: ``OPEN311_API_KEYS`` maps the SHA-256 of each key
to the client's name (app config, or the environment as ``name:sha256,name:sha256``); print a new
key with ``flask --app dispatch open311-key CLIENT_NAME``.

Who may do what:

- ``discovery``, ``services`` and ``services/<code>`` are public, as GeoReport v2 has them: they
  describe the endpoint and the matter catalogue, which is published law, and hold no incident.
- ``GET requests`` and ``GET requests/<id>`` need an ``api_key`` (query parameter) and show only
  the requests filed through Open311, without their personal data (``ogc.redact_incident``, as the
  OGC incidents layer): no description, address or squads, the place to about 100 m. The
  command centre's other incidents (12345 calls, 110 linkages, patrols) never appear.
- ``POST requests`` needs an ``api_key``; each key files at most ``INTAKE_RATE_PER_MINUTE`` a
  minute, as each key of ``POST /api/v1/incidents`` (then 429 with ``Retry-After``).

Errors follow the spec: a list of ``{"code", "description"}`` (``<errors><error>`` in XML) with
the HTTP status as the code: 400 bad input, 403 bad or missing api_key, 404 unknown resource,
429 too many requests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import xml.etree.ElementTree as ET

from flask import Blueprint, Response, current_app, json, request, url_for
from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import HTTPException

from dispatch import evidence
from dispatch.errors import MAX_ID, ApiError
from dispatch.http import crs_params
from dispatch.http.auth import _within_rate
from dispatch.http.standards.ogc import redact_incident
from dispatch.incidents import intake, lead_matter
from dispatch.store.db import db
from dispatch.store.models import INCIDENT_SOURCES, Event, Incident, Matter, Region

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"json": "application/json", "xml": "text/xml"}
DEFAULT_SPAN = dt.timedelta(days=90)  # spec: "a span of 90 days or first 1000 requests, whichever is smallest"
MAX_REQUESTS = 1000
CLOSED = ("resolved", "closed", "cancelled", "duplicate")
SOURCE_NAMES = {
    "hotline_12345": "12345 政务服务便民热线",
    "police_110": "110 警情联动",
    "patrol": "巡查发现",
    "grid": "基层治理网格",
    "complaint": "投诉举报",
    "supervision": "监督检查",
    "walk_in": "来访",
}
DEFAULT_SOURCE = "complaint"
ACTOR_PREFIX = "open311:"  # the actor of a request filed here: open311:<client>; only these are read back
RETRY_AFTER_S = 60
POST_FIELDS = {
    "api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id",
    "email", "device_id", "account_id", "first_name", "last_name", "phone", "description", "media_url", "crs",
}  # fmt: skip


class Open311Error(Exception):
    """An error answered in the GeoReport format (``headers`` go with it: Retry-After)."""

    def __init__(self, status: int, description: str, headers: dict[str, str] | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.headers = headers or {}


# -- formats --------------------------------------------------------------------------------------


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(400, f"format {fmt!r} is not supported: use .json or .xml")
    return fmt


def _xml_value(parent: ET.Element, tag: str, value) -> None:
    child = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for key, inner in value.items():
            _xml_value(child, key, inner)
    elif isinstance(value, list):
        item_tag = _ITEM_TAGS.get(tag, tag.rstrip("s"))
        for item in value:
            _xml_value(child, item_tag, item)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = str(value)


# The element names of list items in the spec's XML examples.
_ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}


def render(fmt: str, root: str, body, status: int = 200) -> Response:
    """``body`` as JSON, or as XML under ``root`` (a list becomes one element per item)."""
    if fmt == "xml":
        element = ET.Element(root)
        if isinstance(body, list):
            for item in body:
                _xml_value(element, _ITEM_TAGS[root], item)
        else:
            for key, value in body.items():
                _xml_value(element, key, value)
        data = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(
            element, encoding="utf-8", xml_declaration=False
        )
        return Response(data, status=status, mimetype="text/xml", content_type="text/xml; charset=utf-8")
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")


def _error_response(status: int, description: str) -> Response:
    fmt = (request.view_args or {}).get("fmt") if request else None
    if fmt not in FORMATS:
        fmt = "xml" if request.path.endswith(".xml") else "json"
    return render(fmt, "errors", [{"code": status, "description": description}], status)


@bp.errorhandler(Open311Error)
def _open311_error(exc: Open311Error):
    response = _error_response(exc.status, exc.description)
    response.headers.update(exc.headers)
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    # Intake's own validation: say which field, in the spec's format; 422 (outside every county) is a 400 here.
    where = f"{exc.field}: " if exc.field else ""
    status = exc.status if exc.status in (403, 404) else 400
    return _error_response(status, f"{where}{exc.message}")


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return _error_response(exc.code or 500, exc.description or exc.name)


# -- keys -----------------------------------------------------------------------------------------


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def configured_keys() -> dict[str, str]:
    """SHA-256 of each accepted key -> client name, from app config or the environment."""
    keys = current_app.config.get("OPEN311_API_KEYS")
    if keys is None:
        keys = {}
        for entry in (os.environ.get("OPEN311_API_KEYS") or "").split(","):
            name, _, digest = entry.strip().rpartition(":")
            if name and digest:
                keys[digest.lower()] = name
    return keys


def client_for_key(key: str | None) -> str:
    """The client name of a valid ``api_key``, or a 403."""
    if not key:
        raise Open311Error(403, "api_key is required")
    digest = hash_key(key)
    for known, name in configured_keys().items():
        if hmac.compare_digest(known, digest):
            return name
    raise Open311Error(403, "invalid api_key")


def _within_intake_rate(client: str) -> None:
    """At most INTAKE_RATE_PER_MINUTE requests filed a minute per client key (auth's window, keyed
    apart from the API's principals), else a 429 in the GeoReport format."""
    if not _within_rate(f"{ACTOR_PREFIX}{client}"):
        raise Open311Error(429, "too many requests from this api_key: slow down", {"Retry-After": str(RETRY_AFTER_S)})


# -- shapes ---------------------------------------------------------------------------------------


def _jurisdiction_ids() -> set[str]:
    return set(db.session.scalars(select(Region.code).where(Region.parent_id.is_(None))))


def _check_jurisdiction(value: str | None) -> None:
    if value and value not in _jurisdiction_ids():
        raise Open311Error(404, f"jurisdiction_id {value!r} not found")


def service_json(matter: Matter) -> dict:
    return {
        "service_code": matter.code,
        "service_name": matter.name_zh,
        "description": matter.name_en,
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join([matter.domain, *matter.joint_domains]),
        "group": matter.domain,
    }


def service_definition(matter: Matter) -> dict:
    """The attributes a client may send: where the report comes from, and its ticket number."""
    return {
        "service_code": matter.code,
        "attributes": [
            {
                "variable": True,
                "code": "source",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": f"where the report was received; default {DEFAULT_SOURCE}",
                "order": 1,
                "description": "来源 (source of the report)",
                "values": [{"key": key, "name": SOURCE_NAMES[key]} for key in INCIDENT_SOURCES],
            },
            {
                "variable": True,
                "code": "external_id",
                "datatype": "string",
                "required": False,
                "datatype_description": "up to 64 characters; a repeated ticket returns the stored request",
                "order": 2,
                "description": "工单编号 (ticket number in the sending system)",
            },
        ],
    }


def _status_notes(incident: Incident) -> str:
    """Where the request stands, without which squads work on it or where they are (on the way,
    on scene): a report's subject must not learn when enforcement arrives."""
    if incident.status == "duplicate":
        return f"duplicate of service request {incident.duplicate_of_id}"
    if incident.status in ("resolved", "closed", "cancelled"):
        return incident.status
    live = [t for t in incident.tasks if t.state not in ("completed", "declined", "cancelled")]
    return "dispatched" if live or incident.status != "open" else "received, awaiting dispatch"


def _updated(incident: Incident) -> dt.datetime:
    times = [
        incident.received_at,
        incident.dispatched_at,
        incident.on_scene_at,
        incident.resolved_at,
        incident.closed_at,
    ]
    times += [t.updated_at for t in incident.tasks]
    return max(t for t in times if t is not None)


def media_urls(incident_ids: list[int]) -> dict[int, str]:
    """The ``media_url`` each request was filed with (the first, from its record), by incident id."""
    if not incident_ids:
        return {}
    rows = db.session.execute(
        select(Event.incident_id, Event.data["media_url"].astext)
        .where(Event.action == "incident.media_linked", Event.incident_id.in_(incident_ids))
        .order_by(Event.id)
    )
    found: dict[int, str] = {}
    for incident_id, url in rows:
        found.setdefault(incident_id, url)
    return found


def request_json(incident: Incident, out_crs: str, media_url: str | None = None) -> dict:
    """A service request as GeoReport v2 shows it, without the incident's personal data; its
    ``media_url`` as the reporter sent it (a copy fetched into the evidence store is not public)."""
    point = to_shape(incident.location)
    lon, lat = crs_params.from_wgs84(point.x, point.y, out_crs)
    matter = lead_matter(incident)  # the service the request was filed under
    fields = {
        "service_request_id": str(incident.id),
        "status": "closed" if incident.status in CLOSED else "open",
        "status_notes": _status_notes(incident),
        "service_name": matter.name_zh,
        "service_code": matter.code,
        "description": incident.description,
        "agency_responsible": incident.authority.name_zh if incident.authority else None,
        "service_notice": f"priority {incident.priority}; on scene by {incident.sla_deadline.isoformat()}",
        "requested_datetime": incident.reported_at.isoformat(),
        "updated_datetime": _updated(incident).isoformat(),
        "expected_datetime": incident.sla_deadline.isoformat(),
        "address": incident.address,
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": media_url,
    }
    return redact_incident(fields)


def _incident_query():
    """Requests filed through Open311, and only those: the read is no window on the command centre."""
    return (
        select(Incident)
        .where(Incident.created_by.startswith(ACTOR_PREFIX))
        .options(selectinload(Incident.matters), selectinload(Incident.authority), selectinload(Incident.tasks))
    )


# -- routes ---------------------------------------------------------------------------------------


@bp.get("/discovery.<fmt>")
def discovery(fmt: str):
    """Where the GeoReport v2 endpoint is and which formats it speaks."""
    fmt = _fmt(fmt)
    base = url_for("open311.discovery", fmt="json", _external=True).rsplit("/discovery.json", 1)[0]
    body = {
        "changeset": "2026-11-23T00:00:00+08:00",
        "contact": "the command centre of each loaded county or city",
        "key_service": "ask the command centre for an api_key (flask --app dispatch open311-key CLIENT)",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base,
                "changeset": "2026-11-23T00:00:00+08:00",
                "type": "production",
                "formats": list(FORMATS.values()),
            }
        ],
    }
    return render(fmt, "discovery", body)


@bp.get("/services.<fmt>")
def services(fmt: str):
    """The matter catalogue as GeoReport services."""
    fmt = _fmt(fmt)
    _check_jurisdiction(request.args.get("jurisdiction_id"))
    matters = db.session.scalars(select(Matter).order_by(Matter.code)).all()
    return render(fmt, "services", [service_json(m) for m in matters])


@bp.get("/services/<service_code>.<fmt>")
def service(service_code: str, fmt: str):
    fmt = _fmt(fmt)
    _check_jurisdiction(request.args.get("jurisdiction_id"))
    matter = db.session.scalar(select(Matter).where(Matter.code == service_code))
    if matter is None:
        raise Open311Error(404, f"service_code {service_code!r} not found")
    return render(fmt, "service_definition", service_definition(matter))


def _form_text(name: str, max_length: int) -> str | None:
    value = request.form.get(name)
    if value is None or not value.strip():
        return None
    if len(value) > max_length:
        raise Open311Error(400, f"{name} is longer than {max_length} characters")
    return value.strip()


def _coordinate(name: str, low: float, high: float) -> float:
    raw = request.form.get(name)
    if raw is None or not raw.strip():
        raise Open311Error(400, f"{name} is required (this server geocodes no address_string)")
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number, not {raw!r}") from None
    if not (low <= value <= high):  # also refuses nan; inf is outside the range
        raise Open311Error(400, f"{name} must lie between {low} and {high}")
    return value


def _digest_id(client: str, parts: list[str | None]) -> str:
    """An idempotence key for a submission without a ticket number: a retry maps to the same incident."""
    digest = hashlib.sha256("\x1f".join(p or "" for p in [client, *parts]).encode()).hexdigest()
    return f"o311:{digest[:40]}"


@bp.post("/requests.<fmt>")
def create_request(fmt: str):
    """Create a service request (form-encoded, as the spec says) through the incident intake."""
    fmt = _fmt(fmt)
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise Open311Error(400, "the body must be form-encoded (application/x-www-form-urlencoded)")
    for name, value in request.form.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise Open311Error(400, f"{name.replace(chr(0), '')}: NUL characters are not accepted")
    client = client_for_key(request.form.get("api_key"))
    _within_intake_rate(client)
    _check_jurisdiction(_form_text("jurisdiction_id", 32))
    code = _form_text("service_code", 32)
    if code is None:
        raise Open311Error(400, "service_code is required")
    matter = db.session.scalar(select(Matter).where(Matter.code == code))
    if matter is None:
        raise Open311Error(404, f"service_code {code!r} not found")
    attributes = {}
    for name in request.form:
        if name.startswith("attribute[") and name.endswith("]"):
            attributes[name[10:-1]] = request.form.get(name)
        elif name not in POST_FIELDS:
            raise Open311Error(400, f"unknown parameter {name!r}")
    for name in attributes:
        if name not in ("source", "external_id"):
            raise Open311Error(400, f"attribute[{name}] is not defined for service {code}")
    source = (attributes.get("source") or DEFAULT_SOURCE).strip()
    if source not in INCIDENT_SOURCES:
        raise Open311Error(400, f"attribute[source] must be one of {', '.join(INCIDENT_SOURCES)}")
    crs = crs_params.parse_crs(request.form.get("crs") or request.args.get("crs"), "crs", Open311Error)
    lat = _coordinate("lat", -90, 90)
    lon = _coordinate("long", -180, 180)
    lon, lat = crs_params.to_wgs84(lon, lat, crs)
    description = _form_text("description", 4000) or matter.name_zh
    address = _form_text("address_string", 200)
    external_id = (attributes.get("external_id") or "").strip()
    if len(external_id) > 64:
        raise Open311Error(400, "attribute[external_id] is longer than 64 characters")
    if not external_id:
        external_id = _digest_id(
            client,
            [
                code,
                f"{lat:.6f}",
                f"{lon:.6f}",
                description,
                address,
                *(request.form.get(f) for f in ("email", "device_id", "account_id", "phone")),
            ],
        )
    body = {
        "source": source,
        "external_id": external_id,
        "matters": [code],
        "location": {"type": "Point", "coordinates": [lon, lat]},
        "description": description,
        "reported_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    if address:
        body["address"] = address
    media_url = _form_text("media_url", 2000)
    if media_url is not None:
        try:
            evidence.check_media_url(media_url)
        except ValueError as exc:
            raise Open311Error(400, str(exc)) from None
    session = db.session
    result = intake(session, body, actor=f"{ACTOR_PREFIX}{client}", config=current_app.config)
    if media_url is not None and result.created:
        # kept on the incident's record as a link; fetched into the evidence store only from
        # the hosts of OPEN311_MEDIA_HOSTS (none by default), within a size limit and a timeout
        evidence.attach_media_url(session, evidence.store_for(current_app.config), incident=result.incident,
                                  url=media_url, actor=f"{ACTOR_PREFIX}{client}", config=current_app.config)  # fmt: skip
    session.commit()
    notice = f"agency responsible: {result.incident.authority.name_zh}" if result.incident.authority else None
    if result.possible_duplicates:
        ids = ", ".join(str(d["id"]) for d in result.possible_duplicates)
        more = result.possible_duplicates_total - len(result.possible_duplicates)
        ids += f" and {more} more" if more else ""
        notice = f"{notice}; possible duplicate of service request(s) {ids}"
    answer = [
        {
            "service_request_id": str(result.incident.id),
            "service_notice": notice,
            "account_id": _form_text("account_id", 64),
        }
    ]
    return render(fmt, "service_requests", answer, 201 if result.created else 200)


def _date_arg(name: str) -> dt.datetime | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise Open311Error(400, f"{name} must be a W3C date-time such as 2026-11-23T09:00:00+08:00") from None
    if value.tzinfo is None:
        raise Open311Error(400, f"{name} needs a time zone (Z or +08:00)")
    return value


@bp.get("/requests.<fmt>")
def list_requests(fmt: str):
    """Requests by id, or by service_code / status within start_date..end_date (90 days, 1000 at most)."""
    fmt = _fmt(fmt)
    client_for_key(request.args.get("api_key"))
    _check_jurisdiction(request.args.get("jurisdiction_id"))
    out_crs = crs_params.parse_out_crs(request.args.get("out_crs"), Open311Error)
    query = _incident_query()
    ids = request.args.get("service_request_id")
    if ids:  # the spec: with ids, every other parameter is ignored
        try:
            wanted = [int(part) for part in ids.split(",") if part.strip()]
        except ValueError:
            raise Open311Error(400, "service_request_id must be a comma-separated list of ids") from None
        if not wanted or len(wanted) > MAX_REQUESTS or any(not (0 < i <= MAX_ID) for i in wanted):
            raise Open311Error(400, f"service_request_id must list 1 to {MAX_REQUESTS} ids")
        query = query.where(Incident.id.in_(wanted))
    else:
        end = _date_arg("end_date")
        start = _date_arg("start_date")
        if start is None:
            start = (end or dt.datetime.now(dt.UTC)) - DEFAULT_SPAN
        if end is not None and end < start:
            raise Open311Error(400, "end_date lies before start_date")
        query = query.where(Incident.reported_at >= start)
        if end is not None:
            query = query.where(Incident.reported_at <= end)
        codes = [c.strip() for c in (request.args.get("service_code") or "").split(",") if c.strip()]
        if codes:
            query = query.where(Incident.matters.any(Matter.code.in_(codes)))
        statuses = [s.strip() for s in (request.args.get("status") or "").split(",") if s.strip()]
        for status in statuses:
            if status not in ("open", "closed"):
                raise Open311Error(400, "status must be open, closed or both (comma-separated)")
        if statuses == ["open"]:
            query = query.where(Incident.status.not_in(CLOSED))
        elif statuses == ["closed"]:
            query = query.where(Incident.status.in_(CLOSED))
    incidents = db.session.scalars(
        query.order_by(Incident.reported_at.desc(), Incident.id.desc()).limit(MAX_REQUESTS)
    ).all()
    media = media_urls([i.id for i in incidents])
    return render(fmt, "service_requests", [request_json(i, out_crs, media.get(i.id)) for i in incidents])


@bp.get("/requests/<service_request_id>.<fmt>")
def show_request(service_request_id: str, fmt: str):
    fmt = _fmt(fmt)
    client_for_key(request.args.get("api_key"))
    _check_jurisdiction(request.args.get("jurisdiction_id"))
    out_crs = crs_params.parse_out_crs(request.args.get("out_crs"), Open311Error)
    if not service_request_id.isdigit() or not 0 < int(service_request_id) <= MAX_ID:
        raise Open311Error(404, f"service_request_id {service_request_id!r} not found")
    incident = db.session.scalar(_incident_query().where(Incident.id == int(service_request_id)))
    if incident is None:
        raise Open311Error(404, f"service_request_id {service_request_id!r} not found")
    return render(
        fmt, "service_requests", [request_json(incident, out_crs, media_urls([incident.id]).get(incident.id))]
    )


def new_key(client: str) -> tuple[str, str]:
    """A fresh api_key and the ``name:sha256`` entry that accepts it."""
    key = secrets.token_urlsafe(32)
    return key, f"{client}:{hash_key(key)}"
