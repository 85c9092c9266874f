"""Position fixes: batches over HTTP and fixes over the socket; idempotent, ordered, flagged."""

import contextlib
import datetime as dt

import pytest
import requests
from sqlalchemy import select, text

from dispatch.store.models import PositionFix, Squad
from dispatch.tablets import issue_token
from gis.crs import wgs84_to_gcj02
from tests.realtime_clients import CommandScreen, Tablet

pytestmark = pytest.mark.live
T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@contextlib.contextmanager
def _screen_and_tablet(url: str, token: str):
    """A command screen, then a tablet of the squad, on the server at ``url``; both closed after."""
    screen = CommandScreen(url)
    try:
        tablet = Tablet(url, token)
        try:
            yield screen, tablet
        finally:
            tablet.close()
    finally:
        screen.close()


def _fix(fix_id, lon, lat, minutes, **extra):
    return {"id": fix_id, "lon": lon, "lat": lat, "time": (T0 + dt.timedelta(minutes=minutes)).isoformat(), **extra}


@pytest.fixture
def tablet_squad(store):
    squad_id = store.scalar(select(Squad.id).where(Squad.code == "cb-caiyuan"))
    _, token = issue_token(store, squad_id)
    store.commit()
    return squad_id, token


def _post(api, squad_id, token, fixes):
    return api.post(f"/squads/{squad_id}/positions", {"fixes": fixes}, headers={"Authorization": f"Bearer {token}"})


def _position(store, squad_id):
    store.expire_all()
    return store.execute(
        text(
            "SELECT ST_X(last_position::geometry), ST_Y(last_position::geometry), last_position_at "
            "FROM squad WHERE id = :id"
        ),
        {"id": squad_id},
    ).one()


def test_batches_are_idempotent_and_never_move_the_position_back(api, store, tablet_squad):
    squad_id, token = tablet_squad
    batch = [_fix("a1", 122.450, 30.730, 0, accuracy=8), _fix("a2", 122.452, 30.731, 2, accuracy=8)]
    first = _post(api, squad_id, token, batch).json()
    assert first == {**first, "received": 2, "stored": 2, "duplicates": 0, "flagged": 0, "position_moved": True}
    again = _post(api, squad_id, token, batch).json()
    assert again["stored"] == 0 and again["duplicates"] == 2 and again["position_moved"] is False
    lon, lat, at = _position(store, squad_id)
    assert (round(lon, 3), round(lat, 3)) == (122.452, 30.731) and at == T0 + dt.timedelta(minutes=2)
    late = _post(api, squad_id, token, [_fix("a0", 122.440, 30.728, -5)]).json()
    assert late["stored"] == 1 and late["position_moved"] is False
    assert _position(store, squad_id)[2] == T0 + dt.timedelta(minutes=2)
    assert store.scalar(select(PositionFix.id).where(PositionFix.client_fix_id == "a0")) is not None


def test_doubtful_fixes_are_kept_and_flagged_not_shown(api, store, tablet_squad):
    squad_id, token = tablet_squad
    _post(api, squad_id, token, [_fix("b0", 122.450, 30.730, 0)])
    result = _post(
        api,
        squad_id,
        token,
        [
            _fix("b1", 122.451, 30.730, 1, accuracy=450),  # poor accuracy
            _fix("b2", 122.800, 30.730, 2),  # 34 km in a minute
            _fix("b3", 120.10, 30.27, 3),  # Hangzhou: outside the county
        ],
    ).json()
    assert result["stored"] == 3 and result["position_moved"] is False
    assert result["flags"]["b1"] == ["poor_accuracy"]
    assert "impossible_speed" in result["flags"]["b2"]
    assert "outside_envelope" in result["flags"]["b3"]
    lon, _, _ = _position(store, squad_id)
    assert round(lon, 3) == 122.450
    stored = dict(
        store.execute(
            select(PositionFix.client_fix_id, PositionFix.flags).where(PositionFix.squad_id == squad_id)
        ).all()
    )
    assert stored["b1"] == ["poor_accuracy"] and stored["b0"] == []


def test_gcj02_fixes_are_stored_as_wgs84(api, store, tablet_squad):
    squad_id, token = tablet_squad
    wgs = (122.4567, 30.7234)
    gcj = wgs84_to_gcj02(*wgs)
    assert _post(api, squad_id, token, [_fix("c1", *gcj, 0, crs="gcj02")]).json()["position_moved"] is True
    lon, lat, _ = _position(store, squad_id)
    assert lon == pytest.approx(wgs[0], abs=1e-6) and lat == pytest.approx(wgs[1], abs=1e-6)
    crs = store.scalar(select(PositionFix.source_crs).where(PositionFix.client_fix_id == "c1"))
    assert crs == "gcj02"


def test_a_revoked_tablet_token_posts_no_more_positions_within_ten_seconds(api, store):
    """The server remembers a token it has checked for 10 s (dispatch.accounts), the batch endpoint too."""
    import time

    from dispatch.tablets import revoke

    squad_id = store.scalar(select(Squad.id).where(Squad.code == "cb-caiyuan"))
    row, token = issue_token(store, squad_id)
    store.commit()
    assert _post(api, squad_id, token, [_fix("r0", 122.45, 30.73, 0)]).status_code == 200
    revoke(store, row.id)
    store.commit()
    revoked_at = time.monotonic()
    while (status := _post(api, squad_id, token, [_fix("r1", 122.45, 30.73, 1)]).status_code) == 200:
        assert time.monotonic() - revoked_at < 11, "still accepted 11 s after the revocation"
        time.sleep(0.5)
    assert status == 401


def test_bad_fixes_and_foreign_tokens_are_refused(api, store, tablet_squad):
    squad_id, token = tablet_squad
    other = store.scalar(select(Squad.id).where(Squad.code == "cb-wulong"))
    assert _post(api, other, token, [_fix("d1", 122.5, 30.7, 0)]).status_code == 403
    assert api.post(f"/squads/{squad_id}/positions", {"fixes": []}).status_code == 403, "a dispatcher is no tablet"
    anonymous = requests.post(f"{api.base}/api/v1/squads/{squad_id}/positions", json={"fixes": []}, timeout=10)
    assert anonymous.status_code == 401
    for fix, field in (
        ({"id": "x", "lon": 200, "lat": 30, "time": T0.isoformat()}, "fixes[0].lon"),
        ({"id": "x", "lon": 122, "lat": 30}, "fixes[0].time"),
        ({"lon": 122, "lat": 30, "time": T0.isoformat()}, "fixes[0].id"),
        ({"id": "x", "lon": 122, "lat": 30, "time": T0.isoformat(), "crs": "utm"}, "fixes[0].crs"),
        ({"id": "x", "lon": 122, "lat": 30, "time": T0.isoformat(), "alt": 3}, "fixes[0].alt"),
    ):
        response = _post(api, squad_id, token, [fix])
        assert response.status_code == 400 and response.json()["error"]["field"] == field


def test_a_lone_update_goes_out_at_once_a_burst_one_frame_per_interval(start_server, store, tablet_squad):
    """Leading-edge frames: nothing waits for a clock tick, yet screens never get two frames within an interval."""
    import time

    squad_id, token = tablet_squad
    server = start_server(FRAME_INTERVAL_S=3)
    with _screen_and_tablet(server.url, token) as (screen, tablet):
        time.sleep(0.2)
        sent = time.monotonic()
        assert tablet.send_position(_fix("lone", 122.45, 30.73, 0))["position_moved"] is True
        screen.wait_until(lambda: screen.updates("position"), timeout=5)
        assert time.monotonic() - sent < 1.5, "a lone update does not wait for the 3 s interval"
        for i in range(8):  # a burst within the interval that follows
            tablet.send_position(_fix(f"burst{i}", 122.45 + (i + 1) * 0.0002, 30.73, (i + 1) / 10))
            time.sleep(0.1)
        screen.wait_until(
            lambda: any(
                u["data"]["location"]["coordinates"][0] == pytest.approx(122.45 + 8 * 0.0002, abs=1e-6)
                for u in screen.updates("position")
            ),
            timeout=10,
        )
        times = [f["at"] for f in screen.frames]
        assert len(times) == 2, "the burst shares the one frame after the interval"
        assert times[1] - times[0] >= 3 - 0.05


def test_socket_fixes_reach_the_command_centre_coalesced(live_server, store, tablet_squad):
    squad_id, token = tablet_squad
    with _screen_and_tablet(live_server.url, token) as (screen, tablet):
        for i in range(30):
            reply = tablet.send_position(_fix(f"s{i}", 122.45 + i * 0.0002, 30.73, i / 10))
            assert reply["ok"] is True and reply["stored"] == 1
        screen.wait_until(
            lambda: any(
                u["data"]["location"]["coordinates"][0] == pytest.approx(122.45 + 29 * 0.0002, abs=1e-6)
                for u in screen.updates("position")
            )
        )
        positions = screen.updates("position")
        assert len(positions) < 30 / 2, "coalesced: far fewer updates than fixes"
        assert len(screen.frames) <= 4
        assert all(len({(u["type"], u["id"]) for u in f["updates"]}) == len(f["updates"]) for f in screen.frames)
        bad = tablet.send_position({"id": "x", "lon": "east"})
        assert bad["ok"] is False and bad["error"]["field"] == "fix.lon"


def test_snapshot_then_stream_without_gaps(api, live_server, store):
    from tests.factories import incident_body

    screen = CommandScreen(live_server.url)
    try:
        created = api.post("/incidents", incident_body()).json()
        snapshot = api.get("/command/snapshot").json()
        shown = {i["id"]: i for i in snapshot["incidents"]}
        assert created["id"] in shown and shown[created["id"]]["rev"] <= snapshot["as_of"]
        squads = {f["properties"]["code"]: f["properties"]["id"] for f in api.get("/squads").json()["features"]}
        api.post(f"/incidents/{created['id']}/dispatch", {"squad_ids": [squads["cb-shengshan"]]})
        screen.wait_until(
            lambda: any(
                u["id"] == created["id"] and u["data"]["status"] == "dispatched" for u in screen.updates("incident")
            )
        )
        newer = [
            u for u in screen.updates("incident") if u["id"] == created["id"] and u["data"]["status"] == "dispatched"
        ]
        assert newer[-1]["rev"] > shown[created["id"]]["rev"], "the screen knows the update is newer"
        update, before = newer[-1]["data"], shown[created["id"]]
        assert update["location"] == before["location"], "one location form: the snapshot's and the update's"
        assert set(update) == set(before) - {"rev"}, "the snapshot carries the live summary, plus its rev"
        for key in ("priority", "matters", "sla_deadline", "description", "region"):
            assert update[key] == before[key], f"the dispatch's summary keeps the incident's {key}"
    finally:
        screen.close()


def test_one_group_stores_many_squads_batches_as_if_sent_one_after_the_other(session):
    """Group commit (dispatch.live.writers): several tablets' events in one statement, same answers."""
    from dispatch.positions import ingest_many, parse_fix

    a, b = (session.scalar(select(Squad.id).where(Squad.code == code)) for code in ("cb-caiyuan", "cb-shengshan"))

    def fixes(*specs):
        return [parse_fix(_fix(*spec), "fix") for spec in specs]

    results = ingest_many(
        session,
        [
            (a, fixes(("g1", 122.450, 30.730, 0), ("g2", 122.451, 30.730, 1))),
            (b, fixes(("h1", 122.800, 30.710, 0))),
            (a, fixes(("g2", 122.451, 30.730, 1), ("g3", 122.452, 30.730, 2))),  # g2 again: a duplicate
            (b, fixes(("h0", 122.799, 30.710, -1))),  # older than h1: history only
        ],
    )
    session.commit()
    assert [(r["stored"], r["duplicates"], r["position_moved"]) for r in results] == [
        (2, 0, False),  # a's newest clean fix came in the third batch
        (1, 0, True),
        (1, 1, True),
        (1, 0, False),
    ]
    for squad_id, minutes in ((a, 2), (b, 0)):
        assert _position(session, squad_id)[2] == T0 + dt.timedelta(minutes=minutes)
    assert session.scalar(text("SELECT count(*) FROM position_fix WHERE squad_id IN (:a, :b)"), {"a": a, "b": b}) == 5


def test_a_known_position_spares_the_read_and_one_moved_elsewhere_is_read_again(session):
    """Fixes are checked against the position this process knows; the store refuses a stale one."""
    from dispatch.http.observability import REGISTRY
    from dispatch.positions import ingest_many, parse_fix

    def stale_reads():
        return REGISTRY.get_sample_value("dispatch_stale_positions_total")

    squad = session.scalar(select(Squad.id).where(Squad.code == "cb-caiyuan"))

    def send(fix_id, lon, lat, minutes):
        result = ingest_many(session, [(squad, [parse_fix(_fix(fix_id, lon, lat, minutes), "fix")])], commit=True)[0]
        session.commit()
        return result

    reads = stale_reads()
    assert send("k1", 122.450, 30.730, 0)["position_moved"]
    # known now: 20 km in a minute is impossible from there, and the check needed no read
    assert send("k2", 122.650, 30.730, 1)["flags"] == {"k2": ["impossible_speed"]}
    assert send("k3", 122.451, 30.730, 2)["position_moved"]
    assert stale_reads() == reads
    # another process moves the squad 20 km east a minute later: this one's knowledge is stale
    session.execute(
        text(
            "UPDATE squad SET last_position = ST_SetSRID(ST_MakePoint(122.65, 30.73), 4326)::geography, "
            "last_position_at = :at WHERE id = :id"
        ),
        {"at": T0 + dt.timedelta(minutes=3), "id": squad},
    )
    session.commit()
    near_there = send("k4", 122.651, 30.730, 4)  # plausible from the new place, impossible from the old
    assert near_there["flags"] == {} and near_there["stored"] == 1 and near_there["position_moved"]
    assert stale_reads() == reads + 1
    lon, _lat, at = _position(session, squad)
    assert round(lon, 3) == 122.651 and at == T0 + dt.timedelta(minutes=4)
    assert session.scalar(text("SELECT count(*) FROM position_fix WHERE client_fix_id = 'k4'")) == 1


def test_fixes_stored_again_after_a_failed_group_are_flagged_once(session):
    """The position writer retries a failed group item by item with the same parsed fixes."""
    from dispatch.positions import ingest_many, parse_fix

    squad = session.scalar(select(Squad.id).where(Squad.code == "cb-caiyuan"))
    fixes = [parse_fix(_fix("r1", 122.450, 30.730, 0, accuracy=500), "fix")]
    ingest_many(session, [(squad, fixes)])
    session.rollback()  # the group failed: nothing of it was stored
    again = ingest_many(session, [(squad, fixes)])[0]
    session.commit()
    assert again["stored"] == 1 and again["flags"] == {"r1": ["poor_accuracy"]}


def test_many_tablets_sending_at_once_each_get_their_own_committed_answer(live_server, store):
    """The socket path groups concurrent events into shared transactions; every reply is its own tablet's."""
    import threading

    from tests.factories import make_squad

    tablets = []
    for i in range(20):
        squad = make_squad(store, at=(122.45 + i * 0.001, 30.73))
        _, token = issue_token(store, squad.id)
        tablets.append((squad.id, token))
    store.commit()
    replies: dict[int, list[dict]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(tablets))

    def send(squad_id: int, token: str) -> None:
        try:
            tablet = Tablet(live_server.url, token)
            try:
                barrier.wait(timeout=30)
                mine = replies.setdefault(squad_id, [])
                for k in range(5):
                    fixes = [_fix(f"{squad_id}-{k}-{j}", 122.45, 30.73 + j * 1e-5, k + j / 100) for j in range(3)]
                    mine.append(tablet.client.call("position", {"fixes": fixes}, namespace="/squad", timeout=15))
                mine.append(tablet.send_position(_fix(f"{squad_id}-0-0", 122.45, 30.73, 0)))  # a repeat
            finally:
                tablet.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=pair) for pair in tablets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    for squad_id, _ in tablets:
        *batches, repeat = replies[squad_id]
        assert all(r["ok"] and r["stored"] == 3 and r["position_moved"] for r in batches), batches
        assert repeat["ok"] and repeat["stored"] == 0 and repeat["duplicates"] == 1
        assert _position(store, squad_id)[2] == T0 + dt.timedelta(minutes=4.02)
    ids = [s for s, _ in tablets]
    stored = store.scalar(text("SELECT count(*) FROM position_fix WHERE squad_id = ANY(:ids)"), {"ids": ids})
    assert stored == 20 * 15


def test_a_preview_checks_arriving_fixes_as_their_store_will(session):
    """The socket path shows a tablet's newest clean fix as it arrives; the store then publishes it no more."""
    from dispatch.live import bus
    from dispatch.positions import ingest_many, parse_fix, preview
    from dispatch.store import refcache

    squad = session.scalar(select(Squad.id).where(Squad.code == "cb-caiyuan"))
    database = refcache.db_key(session)

    def fix(*args, **extra):
        return parse_fix(_fix(*args, **extra), "fix")

    assert preview(database, squad, [fix("v1", 122.450, 30.730, 0)]) is None, "not known yet: shown once stored"
    ingest_many(session, [(squad, [fix("v1", 122.450, 30.730, 0)])], commit=True)
    assert [u["rev"] for u in bus.pending_updates(session)] == [int(T0.timestamp() * 1000)]
    session.commit()
    arriving = [
        fix("v3", 122.452, 30.731, 2, speed=1.5, heading=40),
        fix("v2", 122.451, 30.7305, 1),
        fix("far", 122.650, 30.731, 3),  # 20 km in a minute: impossible
        fix("blur", 122.453, 30.731, 4, accuracy=500),
    ]
    at = T0 + dt.timedelta(minutes=2)
    assert preview(database, squad, arriving) == {
        "type": "position",
        "id": squad,
        "rev": int(at.timestamp() * 1000),
        "data": {
            "id": squad,
            "location": {"type": "Point", "coordinates": [122.452, 30.731]},
            "time": at.isoformat(),
            "speed": 1.5,
            "heading": 40.0,
        },
    }
    assert preview(database, squad, [fix("v2", 122.451, 30.7305, 1)]) is None, "older than what is shown"
    assert preview(database, squad, arriving) is None, "shown already"
    result = ingest_many(session, [(squad, arriving)], commit=True)[0]
    assert result["position_moved"] and result["flags"] == {"far": ["impossible_speed"], "blur": ["poor_accuracy"]}
    assert bus.pending_updates(session) == [], "on the screens since it arrived: not published again"
    session.commit()
    assert _position(session, squad)[2] == at


def test_a_socket_fix_is_shown_while_stored_and_answered_once_committed(start_server, store, tablet_squad):
    import threading
    import time

    squad_id, token = tablet_squad
    server = start_server(FRAME_INTERVAL_S=0.2)
    with _screen_and_tablet(server.url, token) as (screen, tablet):
        assert tablet.send_position(_fix("w1", 122.450, 30.730, 0, accuracy=8))["position_moved"]
        store.execute(text("SELECT 1 FROM squad WHERE id = :id FOR UPDATE"), {"id": squad_id})  # the store waits
        replies: list[dict] = []
        sender = threading.Thread(
            target=lambda: replies.append(tablet.send_position(_fix("w2", 122.452, 30.731, 1, accuracy=8)))
        )
        sender.start()
        screen.wait_until(
            lambda: any(u["data"]["location"]["coordinates"] == [122.452, 30.731] for u in screen.updates("position"))
        )
        assert replies == [] and sender.is_alive(), "the tablet's reply waits for the commit"
        assert _position(store, squad_id)[2] == T0, "the screens are ahead of the database by the store's time"
        store.rollback()  # the squad's row is free: the store goes on
        sender.join(10)
        assert replies and replies[0]["ok"] and replies[0]["stored"] == 1 and replies[0]["position_moved"], replies
        assert _position(store, squad_id)[2] == T0 + dt.timedelta(minutes=1)
        assert tablet.send_position(_fix("w3", 122.453, 30.731, 2, accuracy=500))["flagged"] == 1
        assert tablet.send_position(_fix("w0", 122.449, 30.730, -1, accuracy=8))["position_moved"] is False
        time.sleep(0.8)  # frames enough for anything the stores would have published
        revs = [u["rev"] for u in screen.updates("position") if u["id"] == squad_id]
        assert revs == [int((T0 + dt.timedelta(minutes=m)).timestamp() * 1000) for m in (0, 1)], (
            "each position once; the doubtful and the older fix not at all"
        )


# -- issue 25, finding 9: a fix dated in the future froze the squad on the map ---------------------


def _fix_at(fix_id, when: dt.datetime, lon=122.450, lat=30.730):
    return {"id": fix_id, "lon": lon, "lat": lat, "time": when.isoformat(), "accuracy": 8}


def test_a_fix_dated_beyond_the_tolerance_is_refused_naming_its_time(api, store, tablet_squad):
    squad_id, token = tablet_squad
    now = dt.datetime.now(dt.UTC)
    before = _position(store, squad_id)
    for fixes, field in (
        ([_fix_at("f1", dt.datetime(2099, 1, 1, tzinfo=dt.UTC))], "fixes[0].time"),
        ([_fix_at("f2", now), _fix_at("f3", now + dt.timedelta(minutes=6))], "fixes[1].time"),
    ):
        response = _post(api, squad_id, token, fixes)
        assert response.status_code == 422, response.text  # well formed: the device's clock is wrong
        error = response.json()["error"]
        assert error["field"] == field and error["code"] == "time_in_future" and "300 seconds" in error["message"]
    assert _position(store, squad_id) == before, "nothing stored, the squad not moved"
    assert store.scalar(select(PositionFix.id).where(PositionFix.squad_id == squad_id)) is None
    # A device clock a little ahead (within FIX_MAX_AHEAD_S, 5 minutes) is a clock, not an attack.
    ahead = now + dt.timedelta(minutes=4)
    assert _post(api, squad_id, token, [_fix_at("f4", ahead)]).json()["position_moved"] is True
    # ... and the squad moves on with the next fix, which a fix of 2099 would have prevented.
    later = _post(api, squad_id, token, [_fix_at("f5", ahead + dt.timedelta(seconds=30), lon=122.451)])
    assert later.json()["position_moved"] is True


def test_over_the_socket_a_future_fix_is_an_error_ack(start_server, store, tablet_squad):
    squad_id, token = tablet_squad
    server = start_server(FIX_MAX_AHEAD_S=60)  # the tolerance is configuration
    now = dt.datetime.now(dt.UTC)
    tablet = Tablet(server.url, token)
    try:
        refused = tablet.send_position(_fix_at("s1", now + dt.timedelta(minutes=2)))
        assert refused["ok"] is False and refused["error"]["field"] == "fix.time", refused
        assert refused["error"]["code"] == "time_in_future" and "60 seconds" in refused["error"]["message"]
        batch = tablet.send_position(
            {"fixes": [_fix_at("s2", now), _fix_at("s3", dt.datetime(2099, 1, 1, tzinfo=dt.UTC))]}
        )
        assert batch["ok"] is False and batch["error"]["field"] == "fixes[1].time", batch
        assert tablet.send_position(_fix_at("s4", now + dt.timedelta(seconds=30)))["position_moved"] is True
    finally:
        tablet.close()
    assert _position(store, squad_id)[2] == now + dt.timedelta(seconds=30)
    stored = store.scalars(select(PositionFix.client_fix_id).where(PositionFix.squad_id == squad_id)).all()
    assert stored == ["s4"]
