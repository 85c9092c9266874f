"""The squad tablet at sea (issue 28), in Chromium at 800x1280 against a real server: an offline start
from the service worker and the kept answers, field time on the record, a lost answer retried, a
refusal in the user's language with its note kept, a revoked token, and axe-core on the signed-in screen."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from dispatch.tablets import revoke
from tests.conftest import Api
from tests.factories import incident_body
from tests.web.conftest import TABLET_VIEWPORT, wait_until

pytestmark = pytest.mark.live
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN = """(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
  .then((result) => result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(' '), html: n.html.slice(0, 160), why: n.failureSummary}))})))"""
# Islands of Shengsi: one incident each, so every test has its own squad.
PLACES = [
    (122.77, 30.72),
    (122.516, 30.723),
    (122.452, 30.725),
    (122.45, 30.73),
    (122.82, 30.71),
    (122.455, 30.728),
    (122.772, 30.716),
]
_opened: list[int] = []  # tasks to cancel after each test: their squads are free for the next


@pytest.fixture
def api(web_server):
    client = Api(web_server.url)
    yield client
    while _opened:  # the squads go back to available (recommendations leave busy squads out)
        task_id = _opened.pop()
        if client.get(f"/tasks/{task_id}").json()["state"] not in ("completed", "declined", "cancelled"):
            client.post(f"/tasks/{task_id}/transition", {"to": "cancelled", "reason": "测试结束"})
    client.close()


def _task_for_a_squad(api, web_store, place, description):
    """An incident at ``place`` dispatched to the best squad; that squad's id, a new tablet token
    for it, the incident and the task (cancelled after the test)."""
    from dispatch.tablets import issue_token

    answer = api.post("/incidents", incident_body(at=place, description=description))
    assert answer.status_code == 201, answer.text
    incident = answer.json()
    ranked = api.get(f"/incidents/{incident['id']}/recommendations", limit=50).json()["recommendations"]
    squad_id = ranked[0]["squad"]["id"]
    answer = api.post(f"/incidents/{incident['id']}/dispatch", {"squad_ids": [squad_id]})
    assert answer.status_code == 201, answer.text
    _opened.append(answer.json()["tasks"][0]["id"])
    _, token = issue_token(web_store, squad_id, label="tablet offline test")
    web_store.commit()
    return squad_id, token, incident, answer.json()["tasks"][0]


def _sign_in(screens, token: str, lang: str = "zh", context=None, path_extra: str = ""):
    if context is None:
        context = screens.browser.new_context(viewport=TABLET_VIEWPORT, base_url=screens.base_url)
        screens.contexts.append(context)
    page = screens.page(f"/tablet?positions=off&lang={lang}{path_extra}", context=context, wait_ready=False)
    page.fill("#token", token)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#signed-in:not([hidden])")
    return page


def _offline_ready(page) -> None:
    """The service worker active (the shell cached) and the squad's tasks kept."""
    assert page.evaluate("window.squadTablet.worker.then((r) => !!(r && r.active))")
    deadline = time.monotonic() + 10
    while not page.evaluate(
        "caches.open('dispatch-tablet-data').then((c) => c.match('/api/v1/tablet/tasks')).then((r) => !!r)"
    ):
        assert time.monotonic() < deadline, "the squad's tasks were never kept"
        time.sleep(0.1)


def _state(api, task_id: int) -> dict:
    return api.get(f"/tasks/{task_id}").json()


def _wait(predicate, timeout: float = 15, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


def test_the_shell_and_manifest_are_served_for_an_installable_tablet(screens):
    import requests

    sw = requests.get(f"{screens.base_url}/tablet-sw.js", timeout=10)
    assert sw.status_code == 200 and sw.headers["Content-Type"].startswith("text/javascript")
    assert sw.headers["Service-Worker-Allowed"] == "/tablet" and "no-cache" in sw.headers["Cache-Control"]
    manifest = requests.get(f"{screens.base_url}/tablet.webmanifest?lang=en", timeout=10)
    assert manifest.headers["Content-Type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["start_url"] == "/tablet" and body["display"] == "standalone"
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in body["icons"]}
    for icon in body["icons"]:
        assert requests.get(f"{screens.base_url}{icon['src']}", timeout=10).status_code == 200
    page = requests.get(f"{screens.base_url}/tablet", timeout=10)
    assert 'rel="manifest"' in page.text and "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_a_reload_offline_shows_the_last_tasks_and_the_queue(screens, api, web_store):
    _, token, incident, task = _task_for_a_squad(api, web_store, PLACES[0], "枸杞乡码头堆放杂物（离线重载）")
    tablet = _sign_in(screens, token)
    tablet.wait_for_selector(f"#task[data-task-id='{task['id']}'][data-state='dispatched']")
    assert tablet.inner_text("#task-priority") == f"P{incident['priority']}"
    assert tablet.inner_text("#task-matters") not in ("", "—")
    assert "剩余" in tablet.inner_text("#task-deadline") or "超时" in tablet.inner_text("#task-deadline")
    tablet.click(".lifecycle button[data-to='acknowledged']")
    _wait(lambda: _state(api, task["id"])["state"] == "acknowledged", what="the acknowledgement")
    tablet.wait_for_selector("#pending[data-count='0']")
    _offline_ready(tablet)

    tablet.context.set_offline(True)
    tablet.fill("#note", "船未到，先电话联系")
    tablet.click(".lifecycle button[data-to='en_route']")
    tablet.wait_for_selector("#pending[data-count='1']")
    tablet.reload()  # no network: the service worker answers the shell, the kept answers the tasks
    tablet.wait_for_selector("#signed-in:not([hidden])")
    tablet.wait_for_selector(f"#task[data-task-id='{task['id']}'][data-state='en_route']")
    tablet.wait_for_selector("#net.off")
    assert tablet.evaluate("!!navigator.serviceWorker.controller"), "the page came from the service worker"
    assert tablet.get_attribute("#pending", "data-count") == "1"
    assert "船未到" in tablet.inner_text("#queue")
    assert tablet.inner_text("#task-priority") == f"P{incident['priority']}"
    assert "码头堆放杂物" in tablet.inner_text("#task-desc")
    wait_until(tablet, "document.querySelectorAll('#task-map path.leaflet-interactive, #task-map path').length > 1")
    screens.screenshot(tablet, "offline-zh")

    tablet.context.set_offline(False)
    tablet.wait_for_selector("#pending[data-count='0']", timeout=15_000)
    assert _state(api, task["id"])["state"] == "en_route"
    tablet.wait_for_selector("#net.on")
    kept = tablet.evaluate(
        "caches.keys().then((names) => Promise.all(names.map((n) => caches.open(n).then((c) => c.keys())"
        ".then((keys) => keys.map((r) => [n, new URL(r.url).pathname]))))).then((all) => all.flat())"
    )
    api_kept = sorted({path for name, path in kept if path.startswith("/api/")})
    assert {name for name, path in kept if path.startswith("/api/")} == {"dispatch-tablet-data"}, kept
    allowed = {"/api/v1/regions", "/api/v1/zones", "/api/v1/matters", "/api/v1/tablet/tasks"}
    assert set(api_kept) - allowed <= {f"/api/v1/tasks/{task['id']}/route"}, api_kept
    assert {"/tablet", "/static/app/tablet.js", "/static/vendor/leaflet/leaflet.js"} <= {path for _, path in kept}


def test_a_second_device_restores_the_squads_acknowledged_work(screens, api, web_store):
    squad_id, token, incident, task = _task_for_a_squad(api, web_store, PLACES[5], "花鸟乡（第二台平板）")
    first = _sign_in(screens, token)
    first.wait_for_selector(f"#task[data-task-id='{task['id']}']")
    first.click(".lifecycle button[data-to='acknowledged']")
    _wait(lambda: _state(api, task["id"])["state"] == "acknowledged", what="the acknowledgement")
    first.click("#signout")
    first.wait_for_selector("#signin:not([hidden])")
    # Signed out (everything of the squad forgotten) and a second device: the work comes back from the server.
    for page in (first, _sign_in(screens, token, lang="en")):
        if page is first:
            page.fill("#token", token)
            page.click("#signin button[type=submit]")
        page.wait_for_selector(f"#task[data-task-id='{task['id']}'][data-state='acknowledged']", timeout=10_000)
        assert page.inner_text("#task-desc") == "花鸟乡（第二台平板）"
        assert page.get_attribute("#squad-name", "data-squad-id") == str(squad_id)


def test_steps_tapped_offline_are_recorded_at_their_tap_time(screens, api, web_store):
    _, token, incident, task = _task_for_a_squad(api, web_store, PLACES[1], "五龙乡占道（现场时间）")
    tablet = _sign_in(screens, token)
    tablet.wait_for_selector(f"#task[data-task-id='{task['id']}']")
    tablet.click(".lifecycle button[data-to='acknowledged']")
    _wait(lambda: _state(api, task["id"])["state"] == "acknowledged", what="the acknowledgement")

    tablet.context.set_offline(True)
    tablet.wait_for_selector("#net.off")
    tapped = dt.datetime.now(dt.UTC)
    tablet.click(".lifecycle button[data-to='en_route']")
    tablet.wait_for_selector("#pending[data-count='1']")
    queued = tablet.evaluate("JSON.parse(localStorage.getItem('dispatch.tablet.queue'))[0]")
    assert queued["occurred_at"][-6] in "+-", "ISO with the device's offset"
    assert len(queued["action_id"]) == 36
    time.sleep(3.5)
    tablet.context.set_offline(False)
    synced = dt.datetime.now(dt.UTC)
    tablet.wait_for_selector("#pending[data-count='0']", timeout=15_000)

    server = _state(api, task["id"])
    en_route_at = dt.datetime.fromisoformat(server["en_route_at"])
    assert abs((en_route_at - tapped).total_seconds()) < 1.0, (en_route_at, tapped)
    assert (synced - en_route_at).total_seconds() > 3.0, "the tap time, not the sync time"
    events = api.get(f"/incidents/{incident['id']}/events").json()["events"]
    step = next(e for e in events if e["entity"]["type"] == "task" and e["data"].get("to") == "en_route")
    occurred = dt.datetime.fromisoformat(step["occurred_at"])
    recorded = dt.datetime.fromisoformat(step["recorded_at"])
    assert abs((occurred - tapped).total_seconds()) < 1.0
    assert (recorded - occurred).total_seconds() > 3.0, "the record keeps both: the field's and the server's"


def test_a_lost_answer_retried_is_a_success_not_a_refusal(screens, api, web_store):
    _, token, incident, task = _task_for_a_squad(api, web_store, PLACES[2], "菜园镇渔船（答复丢失）")
    tablet = _sign_in(screens, token)
    tablet.wait_for_selector(f"#task[data-task-id='{task['id']}']")
    bodies: list[dict] = []

    def lose_the_answer(route):
        bodies.append(json.loads(route.request.post_data))
        if len(bodies) == 1:
            route.fetch()  # the server stores the step...
            route.abort("connectionreset")  # ...and its answer is lost on the way back
        else:
            route.continue_()

    tablet.route("**/api/v1/tasks/*/transition", lose_the_answer)
    tablet.fill("#note", "已联系船主")
    tablet.click(".lifecycle button[data-to='acknowledged']")
    tablet.wait_for_selector("#pending[data-count='0']", timeout=15_000)
    assert len(bodies) == 2, bodies
    assert bodies[0]["action_id"] == bodies[1]["action_id"] and bodies[0]["occurred_at"] == bodies[1]["occurred_at"]
    assert tablet.evaluate("window.squadTablet.errors") == []
    assert tablet.is_hidden("#refused-box")
    assert _state(api, task["id"])["state"] == "acknowledged"
    events = api.get(f"/incidents/{incident['id']}/events").json()["events"]
    acks = [e for e in events if e["entity"]["type"] == "task" and e["data"].get("to") == "acknowledged"]
    assert len(acks) == 1, "stored once"
    tablet.wait_for_selector("#task[data-state='acknowledged']")


def test_a_step_the_dispatcher_overtook_is_refused_in_the_users_language_with_its_note(screens, api, web_store):
    _, token, incident, task = _task_for_a_squad(api, web_store, PLACES[3], "菜园镇违章搭建（调度取消）")
    tablet = _sign_in(screens, token, lang="en")
    tablet.wait_for_selector(f"#task[data-task-id='{task['id']}']")
    tablet.context.set_offline(True)
    tablet.fill("#note", "owner not at home, photos IMG-7")
    tablet.click(".lifecycle button[data-to='acknowledged']")
    tablet.wait_for_selector("#pending[data-count='1']")
    cancelled = api.post(f"/tasks/{task['id']}/transition", {"to": "cancelled", "reason": "另派中队"})
    assert cancelled.status_code == 200, cancelled.text
    tablet.context.set_offline(False)
    tablet.wait_for_selector("#refused-box:not([hidden])", timeout=15_000)
    text = tablet.inner_text("#refused")
    assert f"Task #{task['id']} was cancelled by the dispatcher" in text, text
    assert "owner not at home, photos IMG-7" in text, "the note is kept in view"
    assert tablet.get_attribute("#pending", "data-count") == "0"
    tablet.wait_for_selector("#no-task:not([hidden])")
    screens.screenshot(tablet, "refused-en")
    tablet.click("#refused .copy-note")
    assert tablet.input_value("#note") == "owner not at home, photos IMG-7"


def test_a_wrong_or_revoked_token_shows_the_sign_in_screen(screens, api, web_store):
    context = screens.browser.new_context(viewport=TABLET_VIEWPORT, base_url=screens.base_url)
    screens.contexts.append(context)
    page = screens.page("/tablet?positions=off", context=context, wait_ready=False)
    page.fill("#token", "sqt_not-a-token")
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#signin-error:text('令牌无效或已过期')", timeout=10_000)
    assert page.is_visible("#signin") and page.is_hidden("#signed-in")

    squad_id, token, _, task = _task_for_a_squad(api, web_store, PLACES[4], "嵊山镇（令牌吊销）")
    page.fill("#token", token)
    page.click("#signin button[type=submit]")
    page.wait_for_selector(f"#task[data-task-id='{task['id']}']")
    from sqlalchemy import select

    from dispatch.store.models import TabletToken

    for row in web_store.scalars(
        select(TabletToken).where(TabletToken.squad_id == squad_id, TabletToken.revoked_at.is_(None))
    ):
        revoke(web_store, row.id)
    web_store.commit()
    # Signed in: the server closes the revoked token's socket, the tablet asks the API and signs out.
    page.wait_for_selector("#signin:not([hidden]) #signin-error:not(:empty)", timeout=15_000)
    message = page.inner_text("#signin-error")
    assert "吊销" in message or "令牌无效" in message, message
    assert page.is_hidden("#signed-in")
    # A cold start with the revoked token still kept: the socket is refused, the same screen.
    page.evaluate(f"localStorage.setItem('dispatch.tablet.token', JSON.stringify({json.dumps(token)}))")
    page.reload()
    page.wait_for_selector("#signin:not([hidden]) #signin-error:not(:empty)", timeout=15_000)
    assert page.is_hidden("#signed-in")
    screens.screenshot(page, "revoked-zh")


def test_axe_finds_no_wcag_violation_on_the_signed_in_tablet_with_a_task(screens, api, web_store):
    assert AXE.exists(), "tests/web/vendor/axe.min.js is missing: make vendor"
    _, token, _, task = _task_for_a_squad(api, web_store, PLACES[6], "花鸟乡渔家乐安全检查（无障碍）")
    context = screens.browser.new_context(viewport=TABLET_VIEWPORT, base_url=screens.base_url)
    screens.contexts.append(context)
    context.add_init_script(path=str(AXE))
    page = _sign_in(screens, token, context=context)
    found = {}
    for lang in ("zh", "en"):
        if lang == "en":
            page.goto("/tablet?positions=off&lang=en")
            page.wait_for_selector("body[data-ready='1']")
        page.wait_for_selector(f"#task[data-task-id='{task['id']}']")
        page.wait_for_selector("#task-matters:not(:empty)")
        page.fill("#note", "现场已处置" if lang == "zh" else "done on site")
        page.wait_for_selector("#task-route ol.legs li, #task-route:text-matches('.{3,}')")
        page.evaluate("document.querySelector('main.tablet').scrollTop = 0")
        page.wait_for_timeout(300)
        assert page.evaluate("typeof window.axe") == "object", "axe was not loaded"
        screens.screenshot(page, f"signed-in-{lang}")
        found[lang] = page.evaluate(RUN, TAGS)
    report = "\n".join(
        f"[{lang}] {v['id']}: {v['help']} " + "; ".join(n["target"] for n in v["nodes"])
        for lang, vs in found.items()
        for v in vs
    )
    assert found == {"zh": [], "en": []}, report


# A photo as a camera gives it: 4000x3000 JPEG, detailed enough not to compress to nothing.
MAKE_PHOTO = """async ([width, height, name, type]) => {
  let blob;
  if (type === 'image/jpeg') {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const g = canvas.getContext('2d');
    const sky = g.createLinearGradient(0, 0, width, height);
    sky.addColorStop(0, '#2a6f97');
    sky.addColorStop(1, '#f4a261');
    g.fillStyle = sky;
    g.fillRect(0, 0, width, height);
    for (let i = 0; i < 60000; i++) {
      g.fillStyle = `hsl(${(i * 37) % 360}, 60%, ${30 + (i % 40)}%)`;
      g.fillRect((i * 7919) % width, (i * 104729) % height, 5 + (i % 7), 5 + (i % 5));
    }
    // a band of sea spray (noise): what keeps a real photo's JPEG large
    const band = g.getImageData(0, 0, width, Math.floor((height * 3) / 4));
    let seed = 12345;
    for (let i = 0; i < band.data.length; i += 4) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      band.data[i] = seed & 255;
      band.data[i + 1] = (seed >>> 8) & 255;
      band.data[i + 2] = (seed >>> 16) & 255;
    }
    g.putImageData(band, 0, 0);
    blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.95));
  } else {
    blob = new Blob(['<script>alert(1)</script>'], {type});
  }
  const file = new File([blob], name, {type, lastModified: Date.now()});
  const transfer = new DataTransfer();
  transfer.items.add(file);
  const input = document.getElementById('evidence-file');
  input.files = transfer.files;
  input.dispatchEvent(new Event('change', {bubbles: true}));
  return blob.size;
}"""
KEPT_ITEMS = "window.squadTablet.evidenceQueue.items.map(({blob, ...rest}) => rest)"


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame segment."""
    at = 2
    while at < len(data):
        marker, length = data[at + 1], int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            return int.from_bytes(data[at + 7 : at + 9], "big"), int.from_bytes(data[at + 5 : at + 7], "big")
        at += 2 + length
    raise AssertionError("no start-of-frame in the JPEG")


def test_a_photo_taken_offline_is_resized_kept_and_uploaded_once_across_drops(screens, api, web_store):
    import hashlib

    from sqlalchemy import select

    from dispatch.store.models import Evidence

    _, token, incident, task = _task_for_a_squad(api, web_store, PLACES[6], "枸杞乡码头（现场照片）")
    tablet = _sign_in(screens, token)
    tablet.wait_for_selector(f"#task[data-task-id='{task['id']}']")
    tablet.wait_for_selector("#evidence-list li.muted")  # "no evidence yet"
    _offline_ready(tablet)
    tablet.context.set_offline(True)
    tablet.wait_for_selector("#net.off")
    original = tablet.evaluate(MAKE_PHOTO, [4000, 3000, "IMG_0412.jpg", "image/jpeg"])
    tablet.wait_for_selector("#evidence-list .evidence-item[data-state='waiting'] img")
    [item] = tablet.evaluate(KEPT_ITEMS)
    assert item["resized"] and item["media_type"] == "image/jpeg" and item["name"] == "IMG_0412.jpg"
    assert 0 < item["size"] < original and len(item["sha256"]) == 64
    assert tablet.get_attribute("#pending", "data-count") == "1"
    assert "IMG_0412.jpg" in tablet.inner_text("#queue")
    tablet.locator("#evidence-title").scroll_into_view_if_needed()
    screens.screenshot(tablet, "evidence-waiting-zh")

    tablet.reload()  # still offline: the photo waits in IndexedDB
    tablet.wait_for_selector(f"#evidence-list .evidence-item[data-action-id='{item['action_id']}']")
    assert tablet.get_attribute("#pending", "data-count") == "1"

    chunks: list[str] = []

    def drop_some(route):
        chunks.append(route.request.url)
        if len(chunks) in (2, 4):
            route.fetch()  # the server writes the chunk...
            route.abort("connectionreset")  # ...and the answer is lost
        else:
            route.continue_()

    tablet.route("**/api/v1/tasks/*/evidence/uploads/*", drop_some)
    tablet.context.set_offline(False)
    stored = f"#evidence-list .evidence-item[data-state='stored'][data-sha256='{item['sha256']}']"
    tablet.wait_for_selector(stored, timeout=40_000)
    tablet.wait_for_selector("#pending[data-count='0']")
    assert tablet.evaluate(KEPT_ITEMS) == [], "the tablet lets go of it once stored"
    assert item["size"] > 4 * 256 * 1024, "a photo of several chunks"
    assert len(chunks) == -(-item["size"] // (256 * 1024)) + 2, (
        "each chunk once, and the two whose answers were lost again"
    )

    web_store.expire_all()
    rows = web_store.scalars(select(Evidence).where(Evidence.task_id == task["id"])).all()
    assert [(r.sha256, r.size, r.state, r.media_type) for r in rows] == [
        (item["sha256"], item["size"], "stored", "image/jpeg")
    ], "arrived once"
    assert rows[0].occurred_at == dt.datetime.fromisoformat(item["occurred_at"])
    served = api.get(f"/evidence/{item['sha256']}")
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert hashlib.sha256(served.content).hexdigest() == item["sha256"], "intact"
    assert _jpeg_size(served.content) == (2048, 1536), "resized on the tablet"
    events = api.get(f"/incidents/{incident['id']}/events").json()["events"]
    assert [e["data"]["sha256"] for e in events if e["action"] == "evidence.added"] == [item["sha256"]]
    tablet.locator("#evidence-title").scroll_into_view_if_needed()
    screens.screenshot(tablet, "evidence-stored-zh")


def test_a_file_the_server_refuses_says_why_in_english_and_a_second_device_lists_the_stored(screens, api, web_store):
    _, token, _, task = _task_for_a_squad(api, web_store, PLACES[6], "Gouqi pier (evidence, en)")
    tablet = _sign_in(screens, token, lang="en")
    tablet.wait_for_selector(f"#task[data-task-id='{task['id']}']")
    tablet.evaluate(MAKE_PHOTO, [800, 600, "page.html", "text/html"])
    refused = tablet.wait_for_selector("#evidence-list .evidence-item[data-state='refused']", timeout=15_000)
    assert "Not accepted: this type of file is not accepted" in refused.inner_text()
    assert tablet.get_attribute("#pending", "data-count") == "0", "a refusal waits for no one"
    tablet.click("#evidence-list .evidence-item[data-state='refused'] button.dismiss")
    tablet.wait_for_selector("#evidence-list .evidence-item[data-state='refused']", state="detached")

    tablet.evaluate(MAKE_PHOTO, [1200, 900, "small.jpg", "image/jpeg"])  # under 2048 px: sent as it is
    [item] = tablet.evaluate(KEPT_ITEMS) or [None]
    assert item is None or not item["resized"]
    tablet.wait_for_selector("#evidence-list .evidence-item[data-state='stored']", timeout=15_000)
    second = _sign_in(screens, token, lang="en")
    row = second.wait_for_selector("#evidence-list .evidence-item[data-state='stored']", timeout=10_000)
    assert "Photo small.jpg" in row.inner_text() and "Uploaded" in row.inner_text()
    second.locator("#evidence-title").scroll_into_view_if_needed()
    screens.screenshot(second, "evidence-second-device-en")


def test_the_squad_sets_its_status_from_the_tablet_queued_offline_and_refused_while_on_a_task(screens, api, web_store):
    squad_id, token, _, task = _task_for_a_squad(api, web_store, PLACES[1], "五龙乡（本队状态）")
    tablet = _sign_in(screens, token)
    tablet.wait_for_selector(f"#task[data-task-id='{task['id']}']")
    tablet.wait_for_selector("#squad-status[data-status='busy']")
    tablet.select_option("#squad-status", "out_of_service:vessel_fault")
    refused = tablet.wait_for_selector("#refused .refused-why", timeout=15_000)
    assert "本队状态未能改为「暂停执勤 · 船艇故障」" in refused.inner_text(), refused.inner_text()
    tablet.click("#refused .dismiss")

    cancelled = api.post(f"/tasks/{task['id']}/transition", {"to": "cancelled", "reason": "另派中队"})
    assert cancelled.status_code == 200, cancelled.text
    tablet.wait_for_selector("#squad-status[data-status='available']", timeout=15_000)
    tablet.context.set_offline(True)
    tablet.wait_for_selector("#net.off")
    tablet.select_option("#squad-status", "out_of_service:meal")
    tablet.wait_for_selector("#pending[data-count='1']")
    assert "本队状态 → 暂停执勤 · 就餐" in tablet.inner_text("#queue")
    tablet.context.set_offline(False)
    tablet.wait_for_selector("#pending[data-count='0']", timeout=15_000)
    from sqlalchemy import select

    from dispatch.store.models import Event, Squad

    web_store.expire_all()
    squad = web_store.get(Squad, squad_id)
    assert (squad.status, squad.status_reason) == ("out_of_service", "meal")
    event = web_store.scalars(
        select(Event).where(Event.entity_type == "squad", Event.entity_id == squad_id, Event.action == "squad.status")
    ).all()[-1]
    assert event.actor == f"squad-{squad_id}" and event.data["reason"] == "meal", (event.actor, event.data)
    tablet.select_option("#squad-status", "available")
    tablet.wait_for_selector("#pending[data-count='0']", timeout=15_000)
    _wait(
        lambda: (
            next(f for f in api.get("/squads").json()["features"] if f["properties"]["id"] == squad_id)["properties"][
                "status"
            ]
            == "available"
        ),
        what="the squad available again",
    )
