"""Delivery to tablets that never loses a task: real server processes, real Socket.IO clients."""

import contextlib
import datetime as dt
import signal
import threading
import time

import pytest
import requests
import socketio
from sqlalchemy import select, text

from dispatch.store.models import Squad, TabletToken
from dispatch.tablets import issue_token, revoke
from tests.conftest import Api
from tests.factories import incident_body
from tests.realtime_clients import CommandScreen, RedisServer, Tablet

pytestmark = pytest.mark.live
GOUQI = (122.77, 30.72)
CST = dt.timezone(dt.timedelta(hours=8))


def _squad_id(store, code: str) -> int:
    return store.scalar(select(Squad.id).where(Squad.code == code))


def _token(store, code: str) -> tuple[int, str]:
    squad_id = _squad_id(store, code)
    _, token = issue_token(store, squad_id, label="test tablet")
    store.commit()
    return squad_id, token


def _dispatch(api, squad_id: int, at=GOUQI) -> dict:
    incident = api.post("/incidents", incident_body(at=at)).json()
    response = api.post(f"/incidents/{incident['id']}/dispatch", {"squad_ids": [squad_id]})
    assert response.status_code == 201, response.text
    return response.json()["tasks"][0]


def _schedule(api, squad_ids: list[int]) -> dict:
    """A joint inspection by hand: one scheduled task per squad (a message each)."""
    start = dt.datetime.now(CST) + dt.timedelta(days=1)
    body = {
        "target": {"name": "测试渔家乐", "location": {"type": "Point", "coordinates": [122.812, 30.722]}},
        "slot": {"start": start.isoformat(), "end": (start + dt.timedelta(hours=2)).isoformat()},
        "squad_ids": squad_ids,
    }
    response = api.post("/joint-inspections", body)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_task_dispatched_while_offline_arrives_on_connect(api, live_server, store):
    squad_id, token = _token(store, "cb-shengshan")
    task = _dispatch(api, squad_id)
    tablet = Tablet(live_server.url, token)
    try:
        (message,) = tablet.wait_for(1)
        assert message["seq"] == 1 and message["action"] == "dispatched"
        assert message["task"]["id"] == task["id"] and message["task"]["state"] == "dispatched"
        assert tablet.ack(1) == {"ok": True, "acknowledged": True}
    finally:
        tablet.close()
    again = Tablet(live_server.url, token, last_seq=0)
    try:
        time.sleep(0.5)
        assert again.messages == [], "an acknowledged message is not sent again"
    finally:
        again.close()


def test_a_tablet_that_drops_gets_exactly_the_unacknowledged_messages_in_order(api, live_server, store):
    squad_id, token = _token(store, "cb-shengshan")
    partner = _squad_id(store, "ms-shengshan")
    tablet = Tablet(live_server.url, token)
    _schedule(api, [squad_id, partner])
    _schedule(api, [squad_id, partner])
    assert tablet.wait_for(2)[-1]["seq"] == 2
    tablet.ack(1)  # the tablet processed 1; 2 arrived but was not acknowledged when it dropped
    tablet.close()
    _schedule(api, [squad_id, partner])
    _schedule(api, [squad_id, partner])
    back = Tablet(live_server.url, token, last_seq=1)
    try:
        back.wait_for(3)
        time.sleep(0.3)
        assert back.seqs() == [2, 3, 4]
        assert all(m["action"] == "scheduled" for m in back.messages)
        assert back.welcome == {"squad_id": squad_id, "resent": 3}
    finally:
        back.close()


def test_a_task_cancelled_while_offline_arrives_as_its_cancellation(api, live_server, store):
    squad_id, token = _token(store, "cb-shengshan")
    task = _dispatch(api, squad_id)
    response = api.post(f"/tasks/{task['id']}/transition", {"to": "cancelled", "reason": "重复派单"})
    assert response.status_code == 200
    tablet = Tablet(live_server.url, token)
    try:
        tablet.wait_for(1)
        time.sleep(0.3)
        assert len(tablet.messages) == 1
        (message,) = tablet.messages
        assert message["seq"] == 2 and message["action"] == "cancelled"
        assert message["task"]["state"] == "cancelled" and message["task"]["reason"] == "重复派单"
    finally:
        tablet.close()


def test_unacknowledged_messages_are_resent_after_the_timeout(api, start_server, store):
    server = start_server(ACK_TIMEOUT_S=1, RESEND_INTERVAL_S=0.3)
    squad_id, token = _token(store, "cb-shengshan")
    tablet = Tablet(server.url, token)
    try:
        client = Api(server.url)
        _dispatch(client, squad_id)
        tablet.wait_for(2, timeout=10)  # the first send, then a resend
        assert tablet.seqs()[:2] == [1, 1], "duplicates carry the same seq: the tablet dedupes"
        tablet.ack(1)
        count = len(tablet.messages)
        time.sleep(2)
        assert len(tablet.messages) == count, "no resend after the ack"
        client.close()
    finally:
        tablet.close()


def test_kill_9_after_commit_before_ack_the_message_still_arrives(start_server, store):
    first = start_server()
    squad_id, token = _token(store, "cb-shengshan")
    tablet = Tablet(first.url, token)
    client = Api(first.url)
    task = _dispatch(client, squad_id)
    tablet.wait_for(1)  # received, never acknowledged
    client.close()
    first.stop(signal.SIGKILL)
    tablet.close()
    second = start_server()
    back = Tablet(second.url, token, last_seq=0)
    try:
        (message,) = back.wait_for(1)
        assert message["seq"] == 1 and message["task"]["id"] == task["id"]
        assert back.ack(1)["acknowledged"] is True
    finally:
        back.close()


def test_tokens_keep_each_squad_to_its_own_room(api, live_server, store):
    a_id, a_token = _token(store, "cb-shengshan")
    b_id, b_token = _token(store, "cb-caiyuan")
    tablet_a = Tablet(live_server.url, a_token)
    try:
        _dispatch(api, b_id, at=(122.45, 30.73))
        b_message = Tablet(live_server.url, b_token)
        b_message.wait_for(1)
        b_message.close()
        time.sleep(0.5)
        assert tablet_a.messages == [], "A's tablet never sees B's work"
        # A cannot acknowledge B's message: it is still pending for B.
        assert tablet_a.ack(1) == {"ok": True, "acknowledged": False}
        again = Tablet(live_server.url, b_token)
        assert again.wait_for(1)[0]["seq"] == 1
        again.close()
    finally:
        tablet_a.close()
    for auth, code in (
        ({}, "unauthorized"),
        ({"token": "sqt_not-a-token"}, "unauthorized"),
        ({"token": a_token, "last_seq": -1}, "invalid_field"),
    ):
        assert assert_refused(live_server.url, auth)["data"]["code"] == code, auth
    row = store.scalar(select(TabletToken).where(TabletToken.squad_id == a_id))
    revoke(store, row.id)
    store.commit()
    assert assert_refused(live_server.url, {"token": a_token}) == {
        "message": "unauthorized: this tablet's token was revoked",
        "data": {"code": "token_revoked", "field": "auth.token"},
    }


def assert_refused(url: str, auth: dict) -> dict:
    """The socket refused with ``auth``: the refusal as the client got it ({message, data: {code, field}})."""
    client = socketio.Client(reconnection=False)
    got = []
    client.on("connect_error", lambda data=None: got.append(data), namespace="/squad")
    with pytest.raises(socketio.exceptions.ConnectionError, match="failed to connect: /squad"):
        client.connect(url, namespaces=["/squad"], auth=auth, transports=["polling"], wait_timeout=5)
    client.disconnect()
    assert got and isinstance(got[0], dict), got
    return got[0]


def test_two_processes_share_one_stream_through_redis(start_server, store):
    redis = RedisServer()
    try:
        one = start_server(SOCKETIO_MESSAGE_QUEUE=redis.url)
        two = start_server(SOCKETIO_MESSAGE_QUEUE=redis.url)
        squad_id, token = _token(store, "cb-shengshan")
        tablet = Tablet(two.url, token)
        screen = CommandScreen(two.url)
        client = Api(one.url)
        try:
            task = _dispatch(client, squad_id)
            (message,) = tablet.wait_for(1)
            assert message["task"]["id"] == task["id"]
            screen.wait_until(lambda: any(u["id"] == task["id"] for u in screen.updates("task")))
        finally:
            client.close()
            tablet.close()
            screen.close()
    finally:
        redis.stop()


def test_two_processes_frame_each_screen_at_most_once_per_interval(start_server, store):
    """Each process frames its own screens with every process's updates: one stream, not one per process."""
    redis = RedisServer()
    try:
        one = start_server(SOCKETIO_MESSAGE_QUEUE=redis.url, FRAME_INTERVAL_S=2)
        two = start_server(SOCKETIO_MESSAGE_QUEUE=redis.url, FRAME_INTERVAL_S=2)
        squads = []
        for code in ("cb-shengshan", "cb-caiyuan"):
            squad_id, token = _token(store, code)
            lon, lat = store.execute(
                text("SELECT ST_X(station::geometry), ST_Y(station::geometry) FROM squad WHERE id = :id"),
                {"id": squad_id},
            ).one()
            squads.append((squad_id, token, lon, lat))
        screen = CommandScreen(two.url)
        time.sleep(0.5)  # both processes' listeners are subscribed by now
        start = dt.datetime.now(dt.UTC)
        try:
            for i in range(12):  # alternately through each process, over about three seconds
                server = (one, two)[i % 2]
                squad_id, token, lon, lat = squads[i % 2]
                fix = {
                    "id": f"bus-{i}",
                    "lon": lon + i * 1e-5,
                    "lat": lat,
                    "crs": "wgs84",
                    "accuracy": 5,
                    "time": (start + dt.timedelta(seconds=i)).isoformat(),
                }
                response = requests.post(
                    f"{server.url}/api/v1/squads/{squad_id}/positions",
                    json={"fixes": [fix]},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=10,
                )
                assert response.status_code == 200 and response.json()["position_moved"], response.text
                time.sleep(0.25)

            def last_fix_of(squad_id: int, i: int) -> bool:
                return any(
                    u["id"] == squad_id and u["rev"] == int((start + dt.timedelta(seconds=i)).timestamp() * 1000)
                    for u in screen.updates("position")
                )

            screen.wait_until(lambda: last_fix_of(squads[0][0], 10) and last_fix_of(squads[1][0], 11), timeout=10)
        finally:
            screen.close()
        times = [frame["at"] for frame in screen.frames]
        assert len(times) >= 2
        gaps = [round(b - a, 3) for a, b in zip(times, times[1:], strict=False)]
        assert all(gap >= 2 - 0.05 for gap in gaps), f"frames closer than the interval: {gaps}"
    finally:
        redis.stop()


def test_the_production_server_gevent_delivers_too(start_server, store):
    server = start_server(production=True)
    squad_id, token = _token(store, "cb-shengshan")
    tablet = Tablet(server.url, token)
    screen = CommandScreen(server.url)
    client = Api(server.url)
    try:
        task = _dispatch(client, squad_id)
        (message,) = tablet.wait_for(1)
        assert message["task"]["id"] == task["id"]
        assert tablet.ack(1)["acknowledged"] is True
        reply = tablet.send_position(
            {"id": "g1", "lon": 122.81, "lat": 30.72, "time": dt.datetime.now(CST).isoformat()}
        )
        assert reply["ok"] and reply["position_moved"]
        screen.wait_until(lambda: any(u["id"] == squad_id for u in screen.updates("position")))
        assert "(gevent)" in server.log()
    finally:
        client.close()
        tablet.close()
        screen.close()


def test_kill_9_during_a_dispatch_the_task_exists_once_and_reaches_the_tablet(start_server, store):
    first = start_server()
    squad_id, token = _token(store, "cb-shengshan")
    client = Api(first.url)
    incident = client.post("/incidents", incident_body(at=GOUQI)).json()
    client.close()

    def dispatch_then_die():
        with contextlib.suppress(requests.ConnectionError):  # the server is killed under the request
            Api(first.url).post(f"/incidents/{incident['id']}/dispatch", {"squad_ids": [squad_id]})

    sender = threading.Thread(target=dispatch_then_die)
    sender.start()
    time.sleep(0.02)
    first.stop(signal.SIGKILL)
    sender.join()
    second = start_server()
    retry = Api(second.url)
    try:
        again = retry.post(f"/incidents/{incident['id']}/dispatch", {"squad_ids": [squad_id]})
        assert again.status_code in (201, 409), again.text  # 409: the first one had committed
        tasks = retry.get(f"/incidents/{incident['id']}").json()["tasks"]
        assert len(tasks) == 1 and tasks[0]["squad"]["id"] == squad_id
        tablet = Tablet(second.url, token)
        try:
            (message,) = tablet.wait_for(1)
            assert message["task"]["id"] == tasks[0]["id"] and message["action"] == "dispatched"
        finally:
            tablet.close()
    finally:
        retry.close()


def test_many_tablets_reconnecting_at_once_each_get_their_pending_task(api, live_server, store):
    """A reconnect storm (60 tablets here; bench/realtime.py drives 1,000): all delivered, none twice."""
    from tests.factories import make_squad

    tablets_wanted = 60
    squads = []
    for i in range(tablets_wanted):
        squad = make_squad(store, at=(122.40 + (i % 10) * 0.01, 30.725 + (i // 10) * 0.002))
        _, token = issue_token(store, squad.id)
        squads.append((squad.id, token))
    store.commit()
    for squad_id, _ in squads:  # a task each while every tablet is away
        _dispatch(api, squad_id, at=(122.45, 30.73))
    barrier = threading.Barrier(tablets_wanted)
    received: dict[int, list[dict]] = {}
    errors: list[BaseException] = []

    def reconnect(squad_id: int, token: str) -> None:
        try:
            barrier.wait()
            tablet = Tablet(live_server.url, token)
            try:
                received[squad_id] = tablet.wait_for(1, timeout=30)
                time.sleep(0.5)
                received[squad_id] = list(tablet.messages)
            finally:
                tablet.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reconnect, args=pair) for pair in squads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for squad_id, _ in squads:
        (message,) = received[squad_id]
        assert message["seq"] == 1 and message["task"]["squad"]["id"] == squad_id
    counts = store.execute(text("SELECT squad_id, count(*) FROM task GROUP BY squad_id HAVING count(*) > 1")).all()
    assert counts == [], "no squad got a task twice"


def test_acks_of_several_tablets_in_one_statement(client, session):
    """Group commit of acks: each answer says whether that squad's message was waiting, once."""
    from dispatch.outbox import acknowledge_many

    squads = {
        f["properties"]["code"]: f["properties"]["id"] for f in client.get("/api/v1/squads").get_json()["features"]
    }
    a, b = squads["cb-shengshan"], squads["cb-caiyuan"]
    for squad_id, at in ((a, GOUQI), (b, (122.45, 30.73))):
        incident = client.post("/api/v1/incidents", json=incident_body(at=at)).get_json()
        sent = client.post(f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [squad_id]})
        assert sent.status_code == 201, sent.get_json()
    assert acknowledge_many(session, [(a, 1), (b, 2), (a, 1), (b, 1)]) == [True, False, False, True]
    session.commit()
    assert acknowledge_many(session, [(a, 1), (b, 1)]) == [False, False], "already acknowledged"


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", {"Upgrade": "websocket", "Connection": "Upgrade"}),  # the websocket transport
        ("GET", {}),  # long polling
        ("POST", {}),
    ],
)
def test_socketio_events_run_in_a_request_context_that_matched(app, method, headers):
    """Flask-SocketIO runs each connection's events in a request context made from its environ.
    The path must match a rule: a NotFound kept on the request made a reference cycle of the
    greenlet's frames for every connection (left to the garbage collector)."""
    from flask import request
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(
        path="/socket.io/", query_string="EIO=4&transport=websocket", method=method, headers=headers
    ).get_environ()
    with app.request_context(environ):
        assert request.routing_exception is None
        assert request.endpoint == "socketio_transport"
    # and the rule is never dispatched: the Socket.IO middleware answers the path
    answer = app.test_client().get("/socket.io/?EIO=4&transport=polling")
    assert answer.status_code == 200 and answer.get_data(as_text=True).startswith("0{")
