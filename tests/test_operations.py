"""Operations: request ids, JSON logs, /metrics, security headers, and a database restart survived."""

import json
import logging
import time

import pytest
import requests

from dispatch.http.observability import JsonFormatter
from tests.factories import incident_body


def test_request_id_and_security_headers(client):
    response = client.get("/api/v1/health", headers={"X-Request-Id": "hotline-bridge-0001"})
    assert response.headers["X-Request-Id"] == "hotline-bridge-0001"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    generated = client.get("/api/v1/health", headers={"X-Request-Id": "<script>"}).headers["X-Request-Id"]
    assert generated != "<script>" and len(generated) == 32


def test_json_log_lines_carry_the_request(app):
    formatter = JsonFormatter()
    with app.test_request_context("/api/v1/incidents", method="POST"):
        from flask import g

        g.request_id = "abc12345"
        record = logging.LogRecord("dispatch.test", logging.WARNING, __file__, 1, "squad %s busy", (7,), None)
        line = json.loads(formatter.format(record))
    assert line["message"] == "squad 7 busy" and line["level"] == "WARNING"
    assert line["request_id"] == "abc12345" and line["path"] == "/api/v1/incidents" and line["method"] == "POST"


def test_metrics_in_prometheus_format(client):
    client.post("/api/v1/incidents", json=incident_body())
    client.get("/api/v1/incidents/424242")
    body = client.get("/metrics").get_data(as_text=True)
    assert 'dispatch_http_requests_total{endpoint="/api/v1/incidents",method="POST",status="201"}' in body
    assert 'status="404"' in body
    assert "dispatch_http_request_seconds_bucket" in body
    assert "dispatch_outbox_backlog 0.0" in body
    assert "dispatch_tablets_connected" in body and "dispatch_position_fixes_total" in body


@pytest.mark.live
def test_a_database_restart_answers_503_then_recovers_without_losing_anything(api, pg_cluster):
    before = api.post("/incidents", incident_body(external_id="BEFORE-RESTART")).json()
    assert api.get(f"/incidents/{before['id']}/recommendations").status_code == 200  # its place is remembered now
    pg_cluster.stop()
    try:
        # first, on a pooled connection that died with the server: the recommendation's hot
        # query talks to psycopg directly, and its error is the same 503 as SQLAlchemy's
        hot = api.get(f"/incidents/{before['id']}/recommendations")
        assert hot.status_code == 503 and hot.headers["Retry-After"] == "2", hot.text
        during = api.post("/incidents", incident_body(external_id="DURING-RESTART"))
        assert during.status_code == 503
        assert during.headers["Retry-After"] == "2"
        assert during.json()["error"]["code"] == "database_unavailable"
    finally:
        pg_cluster.start()
    deadline = time.monotonic() + 20
    while True:  # the server reconnects by itself; a stale pooled connection may cost one 503
        try:
            response = api.get(f"/incidents/{before['id']}")
            if response.status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, "the server did not recover"
        time.sleep(0.2)
    assert response.json()["external_id"] == "BEFORE-RESTART"
    for _ in range(5):  # each stale pooled connection costs one 503, then the pool is fresh
        recommended = api.get(f"/incidents/{before['id']}/recommendations")
        if recommended.status_code == 200:
            break
    assert recommended.status_code == 200 and recommended.json()["recommendations"], recommended.text
    after = api.post("/incidents", incident_body(external_id="DURING-RESTART"))
    assert after.status_code == 201, "the refused request left nothing behind: posting it again creates it"


def test_a_view_keeps_its_own_security_headers(app, anonymous, monkeypatch):
    from flask import Response

    from dispatch.http import auth

    monkeypatch.setitem(auth.ENDPOINT_ACTIONS, "framed", "public")

    @app.get("/framed")
    def framed():
        response = Response("<p>embeddable</p>", mimetype="text/html")
        response.headers["x-frame-options"] = "SAMEORIGIN"
        return response

    answer = anonymous.get("/framed")
    assert answer.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff" and answer.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"], "every HTML page has a policy"
    assert len(answer.headers["X-Request-Id"]) == 32
