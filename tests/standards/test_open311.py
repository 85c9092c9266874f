"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2): the spec's calls, in JSON and XML."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from geoalchemy2.shape import to_shape
from sqlalchemy import select

from dispatch.http.standards.open311 import hash_key
from dispatch.store.models import Incident
from gis.crs import wgs84_to_gcj02
from tests.factories import incident_body
from tests.standards.conftest import OPEN311_KEY

CAIYUAN = (122.45, 30.73)  # lon, lat
YANGSHAN = (122.07, 30.62)


def post(client, fmt="json", **fields):
    form = {"api_key": OPEN311_KEY, "service_code": "CM-001", "lat": CAIYUAN[1], "long": CAIYUAN[0],
            "description": "人行道上有流动摊贩占道经营", **fields}  # fmt: skip
    form = {k: v for k, v in form.items() if v is not None}
    return client.post(f"/open311/v2/requests.{fmt}", data=form)


def read(client, path, **params):
    """A GET of requests, with the client's api_key."""
    return client.get(path, query_string={"api_key": OPEN311_KEY, **params})


def test_discovery_names_the_spec_and_both_formats(open311):
    body = open311.get("/open311/v2/discovery.json").get_json()
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    root = ET.fromstring(open311.get("/open311/v2/discovery.xml").data)
    assert root.tag == "discovery"
    assert {f.text for f in root.iter("format")} == {"text/xml", "application/json"}


def test_services_are_the_matter_catalogue(open311, client):
    matters = {m["code"]: m for m in client.get("/api/v1/matters").get_json()["matters"]}
    services = open311.get("/open311/v2/services.json").get_json()
    assert {s["service_code"] for s in services} == set(matters)
    cm = next(s for s in services if s["service_code"] == "CM-001")
    assert cm["service_name"] == matters["CM-001"]["name"]
    assert cm["metadata"] is True and cm["type"] == "realtime" and cm["group"] == "comprehensive"
    # XML: <services><service><service_code>...
    root = ET.fromstring(open311.get("/open311/v2/services.xml").data)
    assert root.tag == "services"
    assert {s.findtext("service_code") for s in root.findall("service")} == set(matters)


def test_service_definition_lists_the_attributes(open311):
    body = open311.get("/open311/v2/services/CM-001.json").get_json()
    assert body["service_code"] == "CM-001"
    source = next(a for a in body["attributes"] if a["code"] == "source")
    assert source["datatype"] == "singlevaluelist" and source["required"] is False
    assert {"key": "hotline_12345", "name": "12345 政务服务便民热线"} in source["values"]
    root = ET.fromstring(open311.get("/open311/v2/services/CM-001.xml").data)
    assert root.tag == "service_definition"
    assert [a.findtext("code") for a in root.find("attributes").findall("attribute")] == ["source", "external_id"]
    assert root.find("attributes/attribute/values/value/key").text == "hotline_12345"
    missing = open311.get("/open311/v2/services/NOPE.json")
    assert missing.status_code == 404
    assert missing.get_json()[0]["code"] == 404


def test_post_creates_an_incident_through_intake(open311, open311_app):
    response = post(open311, **{"attribute[source]": "hotline_12345", "attribute[external_id]": "GY12345-0001",
                                "address_string": "菜园镇沙河路"})  # fmt: skip
    assert response.status_code == 201
    answer = response.get_json()
    assert len(answer) == 1 and answer[0]["service_request_id"].isdigit()
    assert "嵊泗县综合行政执法局" in answer[0]["service_notice"]
    with open311_app.app_context():
        from dispatch.store.db import db

        incident = db.session.get(Incident, int(answer[0]["service_request_id"]))
        assert incident.source == "hotline_12345" and incident.external_id == "GY12345-0001"
        assert incident.created_by == "open311:bridge-12345"
        assert incident.address == "菜园镇沙河路"
    # The same ticket again: the stored request, not a second one (intake's idempotence).
    again = post(open311, **{"attribute[source]": "hotline_12345", "attribute[external_id]": "GY12345-0001"})
    assert again.status_code == 200
    assert again.get_json()[0]["service_request_id"] == answer[0]["service_request_id"]


def test_a_retried_submission_without_a_ticket_number_is_stored_once(open311):
    first = post(open311).get_json()[0]["service_request_id"]
    second = post(open311)
    assert second.status_code == 200 and second.get_json()[0]["service_request_id"] == first
    other = post(open311, description="另一处占道经营", lat=30.7305)
    assert other.status_code == 201
    # A different report nearby of the same matter is flagged a possible duplicate.
    assert f"possible duplicate of service request(s) {first}" in other.get_json()[0]["service_notice"]


def test_post_answers_xml(open311):
    response = post(open311, "xml")
    assert response.status_code == 201
    assert response.mimetype == "text/xml"
    assert response.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(response.data)
    assert root.tag == "service_requests"
    assert root.find("request/service_request_id").text.isdigit()


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"api_key": None}, 403, "api_key is required"),
        ({"api_key": "wrong"}, 403, "invalid api_key"),
        ({"service_code": "NOPE"}, 404, "service_code 'NOPE' not found"),
        ({"service_code": None}, 400, "service_code is required"),
        ({"lat": None}, 400, "lat is required"),
        ({"long": "east"}, 400, "long must be a number"),
        ({"lat": "nan"}, 400, "lat must lie between"),
        ({"jurisdiction_id": "999999"}, 404, "jurisdiction_id '999999' not found"),
        ({"attribute[source]": "carrier-pigeon"}, 400, "attribute[source] must be one of"),
        ({"attribute[colour]": "red"}, 400, "attribute[colour] is not defined"),
        ({"lat": 30.75, "long": 122.70}, 400, "outside_jurisdiction"),  # open sea, not a maritime matter
        ({"description": "x\x00y"}, 400, "NUL"),
    ],
)
def test_errors_follow_the_spec(open311, fields, status, words):
    response = post(open311, **fields)
    assert response.status_code == status
    errors = response.get_json()
    assert isinstance(errors, list) and errors[0]["code"] == status
    assert (
        words in errors[0]["description"] or words == "outside_jurisdiction" and "location" in errors[0]["description"]
    )
    xml = post(open311, "xml", **fields)
    root = ET.fromstring(xml.data)
    assert xml.status_code == status
    assert root.tag == "errors" and root.find("error/code").text == str(status)


def test_post_must_be_form_encoded(open311):
    response = open311.post("/open311/v2/requests.json", json={"api_key": OPEN311_KEY})
    assert response.status_code == 400
    assert "form-encoded" in response.get_json()[0]["description"]


def test_unknown_format_is_refused(open311):
    response = open311.get("/open311/v2/services.csv")
    assert response.status_code == 400
    assert response.get_json()[0]["description"].startswith("format 'csv' is not supported")


def test_get_request_maps_authority_sla_and_status(open311, client):
    reported = dt.datetime.now(dt.UTC)
    sid = post(open311, service_code="CM-010", lat=YANGSHAN[1], long=YANGSHAN[0]).get_json()[0]["service_request_id"]
    body = read(open311, f"/open311/v2/requests/{sid}.json").get_json()
    assert len(body) == 1
    request = body[0]
    incident = client.get(f"/api/v1/incidents/{sid}").get_json()
    assert request["service_request_id"] == sid
    assert request["status"] == "open"
    assert request["service_code"] == "CM-010"
    # CM-010 is outside Yangshan's empowered catalogue: the county bureau answers for it.
    assert request["agency_responsible"] == incident["authority"]["name"] == "嵊泗县综合行政执法局"
    assert request["expected_datetime"] == incident["sla_deadline"]
    expected = dt.datetime.fromisoformat(request["expected_datetime"])
    assert dt.timedelta(minutes=29) < expected - reported < dt.timedelta(minutes=31)  # CM-010: 30 minutes
    assert (request["long"], request["lat"]) == pytest.approx(YANGSHAN)
    assert request["status_notes"] == "received, awaiting dispatch"

    # Dispatch, then follow the task lifecycle into status_notes; a duplicate is closed.
    squads = client.get(f"/api/v1/incidents/{sid}/recommendations").get_json()["recommendations"]
    task = client.post(f"/api/v1/incidents/{sid}/dispatch", json={"squad_ids": [squads[0]["squad"]["id"]]})
    task = task.get_json()["tasks"][0]
    client.post(f"/api/v1/tasks/{task['id']}/transition", json={"to": "acknowledged"})
    request = read(open311, f"/open311/v2/requests/{sid}.json").get_json()[0]
    # Dispatched, without which squad or where it is: the subject of a report must not learn that.
    assert request["status"] == "open" and request["status_notes"] == "dispatched"
    other = post(open311, service_code="CM-010", lat=YANGSHAN[1] + 0.001, long=YANGSHAN[0]).get_json()[0]
    client.post(f"/api/v1/incidents/{other['service_request_id']}/duplicate", json={"of": int(sid)})
    closed = read(open311, f"/open311/v2/requests/{other['service_request_id']}.json").get_json()[0]
    assert closed["status"] == "closed"
    assert closed["status_notes"] == f"duplicate of service request {sid}"


def test_get_requests_filters(open311, client):
    a = post(open311).get_json()[0]["service_request_id"]
    b = post(open311, service_code="CM-003", lat=30.74).get_json()[0]["service_request_id"]
    c = post(open311, service_code="CM-003", lat=30.735, long=122.46).get_json()[0]["service_request_id"]
    client.post(f"/api/v1/incidents/{c}/duplicate", json={"of": int(b)})

    def ids(**params):
        response = read(open311, "/open311/v2/requests.json", **params)
        assert response.status_code == 200, response.get_json()
        return {r["service_request_id"] for r in response.get_json()}

    assert {a, b, c} <= ids()
    assert ids(service_request_id=f"{a},{c}") == {a, c}
    assert ids(service_request_id=a, service_code="CM-003") == {a}, "ids override every other parameter"
    assert {b, c} <= ids(service_code="CM-003") and a not in ids(service_code="CM-003")
    assert c in ids(status="closed") and a not in ids(status="closed")
    assert c not in ids(status="open") and {a, b} <= ids(status="open")
    assert {a, b, c} <= ids(status="open,closed")
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert ids(start_date=future) == set()
    long_ago = "2020-01-01T00:00:00Z"
    assert ids(end_date=long_ago) == set(), "the default span is the 90 days before end_date"
    assert read(open311, "/open311/v2/requests.json", status="pending").status_code == 400
    assert read(open311, "/open311/v2/requests.json", start_date="yesterday").status_code == 400
    xml = ET.fromstring(read(open311, "/open311/v2/requests.xml", service_request_id=a).data)
    assert xml.tag == "service_requests" and xml.find("request/agency_responsible").text == "嵊泗县综合行政执法局"


def test_unknown_request_is_404(open311):
    for rid in ("999999", "abc"):
        response = read(open311, f"/open311/v2/requests/{rid}.json")
        assert response.status_code == 404
        assert response.get_json() == [{"code": 404, "description": f"service_request_id {rid!r} not found"}]


def test_coordinates_in_gcj02_in_and_out(open311, session):
    gcj = wgs84_to_gcj02(*CAIYUAN)
    sid = post(open311, lat=gcj[1], long=gcj[0], crs="gcj02").get_json()[0]["service_request_id"]
    stored = session.scalar(select(Incident).where(Incident.id == int(sid)))
    assert (to_shape(stored.location).x, to_shape(stored.location).y) == pytest.approx(CAIYUAN, abs=1e-6)
    # Read back to about 100 m (three decimals), in the system asked for.
    shown = read(open311, f"/open311/v2/requests/{sid}.json").get_json()[0]
    assert (shown["long"], shown["lat"]) == (round(CAIYUAN[0], 3), round(CAIYUAN[1], 3))
    shown = read(open311, f"/open311/v2/requests/{sid}.json", out_crs="gcj02").get_json()[0]
    assert (shown["long"], shown["lat"]) == (round(gcj[0], 3), round(gcj[1], 3))


# -- issue 25, finding 4: reads need a key, show Open311's requests only, without personal data ---


@pytest.mark.parametrize(
    "path", ["/open311/v2/requests.json", "/open311/v2/requests.xml", "/open311/v2/requests/1.json"]
)
def test_reading_requests_needs_an_api_key(open311, path):
    post(open311)
    for params in ({}, {"api_key": "wrong"}):
        response = open311.get(path, query_string=params)
        assert response.status_code == 403
        if path.endswith(".json"):
            assert response.get_json()[0]["code"] == 403 and "api_key" in response.get_json()[0]["description"]
        else:
            assert ET.fromstring(response.data).find("error/code").text == "403"


def test_services_and_discovery_stay_public(open311):
    """GeoReport v2 lets anyone read what may be reported; the catalogue names no incident."""
    for path in ("/open311/v2/discovery.json", "/open311/v2/services.json", "/open311/v2/services/CM-001.json"):
        assert open311.get(path).status_code == 200, path


def test_reads_show_only_requests_filed_through_open311(open311, client):
    mine = post(open311).get_json()[0]["service_request_id"]
    call = client.post("/api/v1/incidents", json=incident_body(at=CAIYUAN, description="张三 13800138000 报告"))
    assert call.status_code == 201
    other = str(call.get_json()["id"])
    listed = {r["service_request_id"] for r in read(open311, "/open311/v2/requests.json").get_json()}
    assert mine in listed and other not in listed
    by_id = read(open311, "/open311/v2/requests.json", service_request_id=f"{mine},{other}").get_json()
    assert [r["service_request_id"] for r in by_id] == [mine]
    assert read(open311, f"/open311/v2/requests/{other}.json").status_code == 404
    # Another client's key reads the requests filed through Open311 too (public reports), the same way.
    open311.application.config["OPEN311_API_KEYS"][hash_key("second-key")] = "grid-app"
    listed = {r["service_request_id"] for r in open311.get("/open311/v2/requests.json?api_key=second-key").get_json()}
    assert mine in listed and other not in listed


def test_reads_leave_out_personal_data(open311, client):
    sid = post(open311, description="王五 13912345678 在菜园镇沙河路12号门口摆摊", address_string="沙河路12号",
               lat=30.731234, long=122.451234).get_json()[0]["service_request_id"]  # fmt: skip
    squads = client.get(f"/api/v1/incidents/{sid}/recommendations").get_json()["recommendations"]
    dispatched = client.post(f"/api/v1/incidents/{sid}/dispatch", json={"squad_ids": [squads[0]["squad"]["id"]]})
    assert dispatched.status_code == 201, dispatched.get_json()
    for path in (f"/open311/v2/requests/{sid}.json", "/open311/v2/requests.json"):
        request = next(r for r in read(open311, path).get_json() if r["service_request_id"] == sid)
        text = str(request)
        assert "13912345678" not in text and "王五" not in text and "沙河路12号" not in text
        assert "description" not in request and "address" not in request
        assert squads[0]["squad"]["name"] not in text, "no squad is named"
        assert (request["lat"], request["long"]) == (30.731, 122.451), "the place to about 100 m"
        assert request["service_code"] == "CM-001" and request["status_notes"] == "dispatched"
    xml = ET.fromstring(read(open311, f"/open311/v2/requests/{sid}.xml").data)
    assert xml.find("request/description") is None and "13912345678" not in ET.tostring(xml, encoding="unicode")


# -- issue 25, finding 9: the intake is limited per key, as /api/v1/incidents ---------------------


def test_intake_is_limited_per_key_then_429_with_retry_after(open311_app):
    open311_app.config["INTAKE_RATE_PER_MINUTE"] = 3
    open311_app.config["OPEN311_API_KEYS"][hash_key("burst-key")] = "burst-client"
    open311_app.config["OPEN311_API_KEYS"][hash_key("calm-key")] = "calm-client"
    client = open311_app.test_client()
    answers = [post(client, api_key="burst-key", lat=30.73 + i / 10_000) for i in range(5)]
    assert [a.status_code for a in answers] == [201, 201, 201, 429, 429]
    refused = answers[3]
    assert refused.headers["Retry-After"] == "60"
    assert refused.get_json() == [{"code": 429, "description": "too many requests from this api_key: slow down"}]
    xml = post(client, "xml", api_key="burst-key", lat=30.74)
    assert xml.status_code == 429 and ET.fromstring(xml.data).find("error/code").text == "429"
    # Per key: another client's key is not held up by this one.
    assert post(client, api_key="calm-key", lat=30.741).status_code == 201


def test_the_open311_key_command_prints_a_key_and_the_entry_that_accepts_it(open311_app, runner):
    """``flask --app dispatch open311-key CLIENT``: the key for the client, and the entry that accepts it."""
    from dispatch.http.standards.open311 import hash_key

    result = runner.invoke(args=["open311-key", "hotline-bridge"])
    assert result.exit_code == 0, result.output
    key = result.stderr.split()[-1]
    name, digest = result.stdout.strip().rsplit(" ", 1)[-1].split(":")
    assert name == "hotline-bridge" and digest == hash_key(key)
    assert runner.invoke(args=["open311-key", "a:b"]).exit_code != 0, "a name that would break the entry list"
