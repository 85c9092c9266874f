"""The three screens in a real browser (Debian's Chromium) against a real server process."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from tests.conftest import Api
from tests.factories import incident_body
from tests.web.conftest import TABLET_VIEWPORT, squad_token, wait_until

pytestmark = pytest.mark.live
GOUQI = (122.77, 30.72)
WULONG = (122.516, 30.723)
HUANIAO = "330922203"


def _wait(predicate, timeout: float = 15, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def api(web_server):
    client = Api(web_server.url)
    yield client
    client.close()


def _sign_in(screens, token: str, context=None):
    page = screens.page("/tablet?positions=off", viewport=TABLET_VIEWPORT, context=context, wait_ready=False)
    page.fill("#token", token)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#signed-in:not([hidden])")
    return page


def _task_state(api, task_id: int) -> str:
    return api.get(f"/tasks/{task_id}").json()["state"]


def test_the_command_centre_sees_a_squad_move_when_a_fix_is_posted(screens, api, web_store):
    squad_id, token = squad_token(web_store, "cb-caiyuan")
    page = screens.page("/command")
    start = page.evaluate(f"window.commandCentre.squads.get({squad_id}).marker.getLatLng()")
    fix = {"id": "move-1", "lon": 122.455, "lat": 30.728, "time": dt.datetime.now(dt.UTC).isoformat(), "accuracy": 5}
    response = api.post(f"/squads/{squad_id}/positions", {"fixes": [fix]}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json()["position_moved"], response.text
    wait_until(
        page,
        f"(() => {{ const p = window.commandCentre.squads.get({squad_id}).marker.getLatLng();"
        f" return Math.abs(p.lng - 122.455) < 1e-6 && Math.abs(p.lat - 30.728) < 1e-6; }})()",
        timeout=10,
    )
    assert (start["lng"], start["lat"]) != (122.455, 30.728)
    screens.screenshot(page, "command")


def test_a_lost_connection_shows_a_banner_and_catches_up_on_return(screens, api):
    page = screens.page("/command")
    page.evaluate("window.commandCentre.socket.io.reconnection(false); window.commandCentre.socket.io.engine.close()")
    page.wait_for_selector("#banner:not([hidden])")
    assert page.inner_text("#banner") == "连接已断开，正在重连…"
    incident = api.post("/incidents", incident_body(at=GOUQI, description="断线期间的来电")).json()
    time.sleep(0.6)  # its frame went out while this screen was away
    assert page.locator(f"li.incident[data-incident-id='{incident['id']}']").count() == 0
    screens.screenshot(page, "disconnected")
    page.evaluate("window.commandCentre.socket.io.reconnection(true); window.commandCentre.socket.connect()")
    page.wait_for_selector(f"li.incident[data-incident-id='{incident['id']}']", timeout=10_000)
    page.wait_for_selector("#banner[hidden]", state="attached")


def test_a_dispatch_from_the_map_reaches_the_tablet_which_acknowledges_it(screens, api, web_store):
    squad_id, token = squad_token(web_store, "cb-shengshan")
    tablet = _sign_in(screens, token)
    command = screens.page("/command")
    incident = api.post("/incidents", incident_body(at=GOUQI, description="枸杞乡占道经营（浏览器测试）")).json()

    item = command.locator(f"li.incident[data-incident-id='{incident['id']}']")
    item.wait_for(timeout=10_000)  # arrived over /command, no reload
    assert "浏览器测试" in item.inner_text()
    item.click()
    command.wait_for_selector(f"#recommendations li[data-squad-id='{squad_id}']")
    command.wait_for_selector("#j-zone:not(:empty)")
    assert command.evaluate("window.commandCentre.recommendations.length") >= 1
    for box in command.locator("#recommendations input[type=checkbox]").all():
        box.uncheck()
    command.check(f"#recommendations li[data-squad-id='{squad_id}'] input")
    command.locator(f"#recommendations li[data-squad-id='{squad_id}']").hover()
    command.click("#dispatch")
    command.wait_for_selector("#tasks li[data-state='dispatched']")

    tablet.wait_for_selector("#task:not([hidden])[data-state='dispatched']", timeout=10_000)
    task_id = int(tablet.get_attribute("#task", "data-task-id"))
    tablet.click(".lifecycle button[data-to='acknowledged']")
    _wait(lambda: _task_state(api, task_id) == "acknowledged", what="the acknowledgement")
    command.wait_for_selector(f"#tasks li[data-task-id='{task_id}'][data-state='acknowledged']", timeout=10_000)
    assert tablet.inner_text("#pending") == "0"
    screens.screenshot(command, "command")
    screens.screenshot(tablet, "tablet")


def test_the_command_centre_builds_a_joint_inspection_and_escapes_what_callers_say(screens, api):
    said = '<img src=x onerror="window.pwned=1">渔家乐安全检查'
    incident = api.post("/incidents", incident_body(at=(122.452, 30.725), matters=("CM-013",), description=said)).json()
    page = screens.page("/command?lang=en")
    item = page.locator(f"li.incident[data-incident-id='{incident['id']}']")
    item.wait_for()
    assert said in item.inner_text() and page.evaluate("window.pwned") is None
    item.click()
    page.wait_for_selector("#recommendations li")
    page.click("#joint")
    page.wait_for_selector("#detail-message.ok")
    assert page.inner_text("#detail-message") == "Joint inspection created"
    joints = api.get("/joint-inspections").json()["joint_inspections"]
    joint = next(j for j in joints if j["incident_id"] == incident["id"])
    assert joint["visits_replaced"] >= 2
    screens.screenshot(page, "joint")


def test_the_tablet_queues_actions_and_fixes_offline_and_sends_them_in_order(screens, api, web_store):
    squad_id, token = squad_token(web_store, "cb-wulong")
    incident = api.post("/incidents", incident_body(at=WULONG)).json()
    task = api.post(f"/incidents/{incident['id']}/dispatch", {"squad_ids": [squad_id]}).json()["tasks"][0]
    tablet = _sign_in(screens, token)
    tablet.wait_for_selector("#task:not([hidden])[data-state='dispatched']")
    tablet.click(".lifecycle button[data-to='acknowledged']")
    _wait(lambda: _task_state(api, task["id"]) == "acknowledged", what="the acknowledgement")

    tablet.context.set_offline(True)
    tablet.click(".lifecycle button[data-to='en_route']")
    tablet.evaluate("window.squadTablet.addFix(122.5163, 30.7231)")
    tablet.fill("#note", "现场照片 IMG-0042")
    tablet.click(".lifecycle button[data-to='on_scene']")
    tablet.wait_for_selector("#pending[data-count='3']")
    tablet.wait_for_selector("#net.off")
    time.sleep(1.0)
    assert _task_state(api, task["id"]) == "acknowledged", "nothing was sent while offline"
    assert tablet.get_attribute("#task", "data-state") == "on_scene"
    screens.screenshot(tablet, "offline")

    tablet.context.set_offline(False)
    tablet.wait_for_selector("#pending[data-count='0']", timeout=15_000)
    assert _task_state(api, task["id"]) == "on_scene"
    events = api.get(f"/incidents/{incident['id']}/events").json()["events"]
    steps = [e["data"].get("to") for e in events if e["entity"]["type"] == "task" and e["data"].get("to")]
    assert steps[-3:] == ["acknowledged", "en_route", "on_scene"], steps
    assert any("IMG-0042" in str(e["data"]) for e in events), "the note went with its step"
    squad = next(f for f in api.get("/squads").json()["features"] if f["properties"]["id"] == squad_id)
    assert squad["geometry"]["coordinates"] == [122.5163, 30.7231]
    assert tablet.evaluate("window.squadTablet.errors") == []
    screens.screenshot(tablet, "flushed")


def test_the_planner_flags_an_uncovered_township_then_saves_and_publishes(screens, api):
    page = screens.page("/planner")
    page.click("#new-draft")
    page.wait_for_selector("#plan-info[data-status='draft'][data-version='1']")
    page.wait_for_selector("#issues li[data-kind='none']")

    page.select_option(f"select[data-township='{HUANIAO}']", "")
    page.wait_for_selector(f"#issues li[data-kind='uncovered'][data-region='{HUANIAO}']")
    assert page.evaluate("window.planner.issues.filter(i => i.kind === 'uncovered').length") == 1
    screens.screenshot(page, "uncovered")

    page.select_option(f"select[data-township='{HUANIAO}']", "maan")
    page.wait_for_selector("#issues li[data-kind='none']")
    page.select_option("select[data-zone='wulong']", "330922201")  # a hub outside its zone, then back
    page.wait_for_selector("#issues li[data-kind='hub_outside'][data-zone='wulong']")
    page.select_option("select[data-zone='wulong']", "330922200")
    page.wait_for_selector("#issues li[data-kind='none']")
    page.click("#save")
    page.wait_for_selector("#plan-info[data-version='2']")
    page.click("#compare")
    page.wait_for_selector("#changes li")
    command = screens.page("/command")  # a command centre watching
    assert command.evaluate("window.commandCentre.zonePlan") == "shengsi-2021"
    page.click("#publish")
    page.wait_for_selector("#plan-info[data-status='published']")
    screens.screenshot(page, "published")
    plans = api.get("/plans").json()["plans"]
    assert [p["status"] for p in plans if p["in_effect"]] == ["published"]
    new_code = next(p for p in plans if p["in_effect"])["code"]
    assert new_code != "shengsi-2021"
    wait_until(command, f"window.commandCentre.zonePlan === {new_code!r}", timeout=10)


def test_the_planner_draws_an_outline_and_a_stale_save_shows_the_conflict(screens, api):
    page = screens.page("/planner")
    page.click("#new-draft")
    page.wait_for_selector("#plan-info[data-status='draft'][data-version='1']")

    # Draw Caiyuan's zone with the Geoman plugin: a box around the town, corner by corner.
    corners = page.evaluate(
        """(() => {
        const p = window.planner;
        const layer = p.townshipLayer.getLayers().find((l) => l.feature.properties.code === "330922100");
        const b = layer.getBounds().pad(0.1);
        return [b.getSouthWest(), b.getSouthEast(), b.getNorthEast(), b.getNorthWest(), b.getSouthWest()]
          .map((c) => p.map.latLngToContainerPoint(c));
        })()"""
    )
    box = page.locator("#map").bounding_box()
    page.click("tr[data-zone='caiyuan'] button")
    for corner in corners:
        page.mouse.click(box["x"] + corner["x"], box["y"] + corner["y"])
        page.wait_for_timeout(100)  # Geoman takes each vertex in its own event
    wait_until(page, "window.planner.zones.find(z => z.code === 'caiyuan').geometry !== null")
    wait_until(page, "window.planner.zones.find(z => z.code === 'caiyuan').members.includes('330922100')")
    page.wait_for_selector("#issues li[data-kind='overlap']")  # the box reaches into Wulong
    screens.screenshot(page, "drawn")
    plan_id = page.evaluate("window.planner.plan.id")
    other = api.get(f"/plans/{plan_id}").json()
    zones = [{k: z[k] for k in ("code", "name", "name_en", "hub", "members")} for z in other["zones"]]
    assert api.http.put(f"{api.base}/api/v1/plans/{plan_id}", json={"version": 1, "zones": zones}).status_code == 200
    page.click("#save")
    page.wait_for_selector("#conflict:not([hidden])")
    assert "1" in page.inner_text("#conflict-text") and "2" in page.inner_text("#conflict-text")
    screens.screenshot(page, "conflict")


def test_no_page_requests_anything_beyond_the_server_and_english_is_a_switch_away(screens, api):
    incident = api.post("/incidents", incident_body(at=GOUQI)).json()
    for path in ("/command", "/planner"):
        page = screens.page(path)
        page.close()
    page = screens.page("/tablet", wait_ready=False)
    page.wait_for_selector("#signin:not([hidden])")
    screens.sign_in(page.context, "admin")  # the maps and screens below are for signed-in people
    for path in ("/maps/plan", "/maps/heat", f"/maps/incidents/{incident['id']}"):
        page.goto(path)
        page.wait_for_selector(".leaflet-container")
    screens.screenshot(page, "case-map")
    page.goto("/command?lang=en")
    page.wait_for_selector("body[data-ready='1']")
    assert page.inner_text("nav").split()[:2] == ["Command", "centre"]
    page.goto("/planner")  # the choice is remembered
    page.wait_for_selector("body[data-ready='1']")
    assert "Coverage-zone planner" in page.inner_text("aside h2")
    screens.screenshot(page, "english")
    assert len(screens.requests) > 10 and screens.outside() == []
