"""The recommendation's request path (issue 3: p50 <= 3 ms): what it was made faster with still
answers as before. The rankings themselves are tested over real HTTP in test_recommend.py."""

from __future__ import annotations

import datetime as dt
import json

from flask import jsonify
from sqlalchemy import text

from dispatch import recommend
from dispatch.http.responses import json_response
from dispatch.store import refcache
from dispatch.store.db import db
from tests.factories import auxiliary, certified, incident_body, make_squad


def _squads_by_id(client) -> dict[int, dict]:
    return {f["properties"]["id"]: f["properties"] for f in client.get("/api/v1/squads").get_json()["features"]}


def test_the_answer_shows_each_squad_as_every_endpoint_does(client, session):
    # Officers of every kind, so that both counts are put to the test.
    mixed = make_squad(
        session,
        at=(122.772, 30.718),
        region="330922101",
        officers=[
            certified(),
            certified(),
            certified(on_duty=False),
            auxiliary(),
            certified(expires=dt.date(2025, 1, 1)),
        ],
    )
    incident = client.post("/api/v1/incidents", json=incident_body(at=(122.77, 30.72))).get_json()
    body = client.get(f"/api/v1/incidents/{incident['id']}/recommendations?limit=10").get_json()
    listed = _squads_by_id(client)
    shown = {r["squad"]["id"]: r["squad"] for r in body["recommendations"]}
    assert mixed.id in shown
    assert shown[mixed.id]["officers"] == 5 and shown[mixed.id]["certified_on_duty"] == 2
    for squad_id, squad in shown.items():
        assert squad == listed[squad_id], "the same fields and values as GET /squads"


def test_renamed_reference_data_shows_once_the_caches_are_cleared(client, session):
    incident = client.post("/api/v1/incidents", json=incident_body(at=(122.77, 30.72))).get_json()
    first = client.get(f"/api/v1/incidents/{incident['id']}/recommendations").get_json()["recommendations"][0]
    code = first["squad"]["station_region"]["code"]
    session.execute(text("UPDATE region SET name_zh = '改名镇' WHERE code = :c"), {"c": code})
    session.commit()
    recommend.invalidate_caches()  # what an import or a published plan does in its own process
    again = client.get(f"/api/v1/incidents/{incident['id']}/recommendations").get_json()["recommendations"][0]
    assert again["squad"]["station_region"]["name"] == "改名镇"


def test_the_candidate_queries_are_never_prepared(app):
    """A prepared statement may switch to a generic plan after five executions, which cannot see
    the domains and the island and scans the island instead of the KNN index."""
    params = {
        "lon": 122.43,  # Caiyuan, on Sijiao
        "lat": 30.73,
        "island": None,
        "domains": ["comprehensive"],
        "today": dt.date.today(),
        "now": dt.datetime.now(dt.UTC),
        "fresh_since": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30),
        "require_available": True,
        "k": 5,
        "ports": [],
    }
    with app.app_context(), db.engine.connect() as conn:
        params["island"] = conn.execute(recommend._ISLAND, {"point": "SRID=4326;POINT(122.43 30.73)"}).scalar()
        for _ in range(8):
            assert recommend._fetch(conn, recommend.NEARBY, params)
            recommend._fetch(conn, recommend.NEARBY_WITH_BOATS, params)
            recommend._fetch(conn, recommend.VIA_PORTS, params)
        prepared = conn.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
    assert not [s for s in prepared if "squad s" in s]


def test_the_island_is_the_condition_of_the_knn_index(app):
    """Bound as psycopg binds a Python int (a smallint), the island must still be the condition of
    the (island_id, last_position) GiST index, not a filter on a scan of every squad by distance."""
    params = {"lon": 122.43, "lat": 30.73, "island": 1, "domains": ["comprehensive"], "today": dt.date.today()}
    params |= {"require_available": True, "k": 5, "now": dt.datetime.now(dt.UTC)}
    params["fresh_since"] = params["now"] - dt.timedelta(minutes=30)
    with app.app_context(), db.engine.connect() as conn, conn.connection.driver_connection.cursor() as cursor:
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):  # the test data is small
            cursor.execute(f"SET LOCAL {setting} = off")
        plan = "\n".join(r[0] for r in cursor.execute("EXPLAIN " + recommend._psycopg_sql(recommend.NEARBY), params))
    assert "ix_squad_island_position" in plan and "Index Cond: (island_id = 1)" in plan, plan


def test_json_response_is_jsonify_byte_for_byte(app):
    body = {
        "incident_id": 7,
        "domains": ["comprehensive"],
        "computed_at": "2026-11-23T04:00:00+00:00",
        "recommendations": [
            {
                "squad": {"name": "嵊山中队", "name_en": None, "domains": [], "officers": 3},
                "eta_seconds": 1234,
                "covers_place": True,
                "legs": [{"from": {"coordinates": [122.771234, 30.7]}, "to": {"name": '枸杞 "港"\n'}}],
            }
        ],
        "ratio": 0.1,
        "negative": -12.5,
    }
    with app.test_request_context():
        ours, flasks = json_response(body), jsonify(body)
        assert ours.get_data() == flasks.get_data()
        assert ours.mimetype == flasks.mimetype == "application/json"
        assert json.loads(ours.get_data()) == body


def test_cached_many_loads_only_what_it_lacks_and_forgets_after_the_ttl(app, monkeypatch):
    calls = []

    def load(missing):
        calls.append(sorted(missing))
        return {i: f"v{i}" for i in missing}

    with app.app_context():
        conn_like = db.session
        assert refcache.cached_many(conn_like, "test", [1, 2], load) == {1: "v1", 2: "v2"}
        assert refcache.cached_many(conn_like, "test", [2, 3], load) == {2: "v2", 3: "v3"}
        assert calls == [[1, 2], [3]]
        now = refcache.time.monotonic()
        monkeypatch.setattr(refcache.time, "monotonic", lambda: now + refcache.TTL_SECONDS + 1)
        assert refcache.cached_many(conn_like, "test", [1], load) == {1: "v1"}
        assert calls[-1] == [1]
        refcache.clear()


def test_the_cache_key_of_the_request_session_creates_no_session(app):
    with app.app_context():
        key = refcache.db_key(db.session)
        assert not db.session.registry.has(), "naming the database must not open a Session"
        assert key == str(db.engine.url) == refcache.db_key(db.session())
