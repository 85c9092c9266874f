"""The command centre's sailings-suspended panel (static/app/conditions.js), in Chromium: a dispatcher sets a
suspension of one link picked by name with its window in China time, another screen sees it live, and lifts it;
in Chinese and in English; a refusal names the field."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import Api
from tests.web.conftest import wait_until

pytestmark = pytest.mark.live
CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def api(web_server):
    client = Api(web_server.url)
    yield client
    client.close()


def _china_input(moment: dt.datetime) -> str:
    return moment.astimezone(CST).strftime("%Y-%m-%dT%H:%M")


def test_a_dispatcher_sets_a_link_suspension_and_lifts_it(screens, api):
    page = screens.page("/command", sign_in="dispatcher")
    watcher = screens.page("/command?lang=en", sign_in="dispatcher")
    wait_until(page, "window.commandCentre.conditions && window.commandCentre.conditions.loaded")
    assert page.locator("#cond-title").inner_text().startswith("停航")
    assert page.locator("#suspensions-empty").is_visible()

    page.locator("#cond-new summary").click()
    page.select_option("#cond-scope", "link")
    assert page.locator("#cond-link-row").is_visible() and not page.locator("#cond-pier-row").is_visible()
    names = page.locator("#cond-link option").all_inner_texts()
    assert "李柱山码头 – 花鸟码头" in names
    page.select_option("#cond-link", label="李柱山码头 – 花鸟码头")
    start = dt.datetime.now(CST).replace(second=0, microsecond=0) + dt.timedelta(hours=1)
    page.fill("#cond-from", _china_input(start))
    page.fill("#cond-until", _china_input(start + dt.timedelta(hours=5)))
    page.select_option("#cond-kind", "wind")
    page.fill("#cond-force", "9")
    page.fill("#cond-text", "大风停航")
    page.locator("#cond-submit").click()
    wait_until(page, "document.querySelectorAll('#suspensions li').length === 1")
    item = page.locator("#suspensions li").first
    text = item.inner_text()
    assert "李柱山码头 – 花鸟码头" in text and "即将停航" in text and "渡轮" in text
    assert start.strftime("%m-%d %H:%M") in text, "the window is shown in China time"
    screens.screenshot(page, "suspension-set")

    listed = api.get("/transport/suspensions").json()["suspensions"]
    assert len(listed) == 1 and listed[0]["link"]["code"] == "lizhushan-huaniao"
    assert dt.datetime.fromisoformat(listed[0]["from"]) == start
    assert listed[0]["reason"] == {"kind": "wind", "wind_force": 9, "text": "大风停航"}

    # The other screen (English) got it live.
    wait_until(watcher, "document.querySelectorAll('#suspensions li').length === 1")
    assert "Lizhushan Pier – Huaniao Pier" in watcher.locator("#suspensions li").first.inner_text()
    assert "coming" in watcher.locator("#suspensions li").first.inner_text()

    # A refusal names the field: the window ends before it starts.
    page.fill("#cond-until", _china_input(start - dt.timedelta(hours=1)))
    page.fill("#cond-text", "大雾")
    page.locator("#cond-submit").click()
    wait_until(page, "document.getElementById('cond-error').textContent.length > 0")
    assert page.locator("#cond-error").inner_text().startswith("结束")
    assert len(api.get("/transport/suspensions").json()["suspensions"]) == 1

    # Lifted from the panel; the other screen follows.
    item.locator("button[data-lift]").click()
    wait_until(page, "document.querySelectorAll('#suspensions li').length === 0")
    wait_until(watcher, "document.querySelectorAll('#suspensions li').length === 0")
    assert api.get("/transport/suspensions").json()["suspensions"] == []
    screens.screenshot(watcher, "suspension-lifted-en")
