"""The roster's week grid and the board's status control (issue 29), in Chromium against a real server."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.web.conftest import wait_until

pytestmark = pytest.mark.live
SCREEN = {"width": 1366, "height": 900}


@pytest.fixture
def api(web_server):
    client = Api(web_server.url)
    yield client
    client.close()


def _squad_id(api, code: str) -> int:
    return next(f["properties"]["id"] for f in api.get("/squads").json()["features"] if f["properties"]["code"] == code)


def _open_roster(page):
    page.keyboard.press("r")
    page.wait_for_selector("#roster-body:not([hidden]) #roster-table tbody tr")
    assert page.get_attribute("#roster-toggle", "aria-expanded") == "true"


@pytest.mark.parametrize(
    ("lang", "texts"), [("zh", ("排班", "全中队", "重叠")), ("en", ("Roster", "whole squad", "Overlaps"))]
)
def test_the_week_grid_adds_and_removes_shifts(screens, api, lang, texts):
    squad_id = _squad_id(api, "cb-wulong" if lang == "zh" else "cb-caiyuan-city")
    page = screens.page(f"/command?lang={lang}", viewport=SCREEN, sign_in="dispatcher")
    assert texts[0] in page.inner_text("#roster-toggle")
    _open_roster(page)
    row = f"#roster-table tr[data-squad-id='{squad_id}']"
    page.wait_for_selector(row)
    cells = page.locator(f"{row} td")
    assert cells.count() == 7
    # add a whole-squad shift on the grid's Wednesday, 08:00-20:00 China time
    day = cells.nth(2).get_attribute("data-day")
    page.click(f"{row} td[data-day='{day}'] button.shift-add")
    page.wait_for_selector("#shift-form:not([hidden])")
    assert texts[1] in page.inner_text("#shift-form select[name='officer']")
    page.fill("#shift-form input[name='start']", "08:00")
    page.fill("#shift-form input[name='end']", "20:00")
    page.fill("#shift-form input[name='role']", "值班")
    page.click("#shift-form button[type='submit']")
    chip = f"{row} td[data-day='{day}'] li.shift"
    page.wait_for_selector(chip)
    assert "08:00–20:00" in page.inner_text(chip) and "值班" in page.inner_text(chip)
    shifts = api.get(
        "/shifts", **{"from": f"{day}T00:00:00+08:00", "to": f"{day}T23:59:00+08:00", "squad_id": squad_id}
    )
    stored = shifts.json()["shifts"]
    assert len(stored) == 1 and stored[0]["role"] == "值班" and stored[0]["squad_id"] == squad_id
    # the same squad again at 19:00: refused, said in the page's language, nothing added
    page.click(f"{row} td[data-day='{day}'] button.shift-add")
    page.fill("#shift-form input[name='start']", "19:00")
    page.fill("#shift-form input[name='end']", "23:00")
    page.click("#shift-form button[type='submit']")
    wait_until(page, "document.getElementById('shift-form-error').textContent.length > 0")
    assert texts[2] in page.inner_text("#shift-form-error")
    page.click("#shift-form button.form-cancel")
    assert page.locator(chip).count() == 1
    # remove it
    page.click(f"{chip} button.shift-remove")
    wait_until(page, f'document.querySelectorAll("{chip}").length === 0')
    assert (
        api.get(
            "/shifts", **{"from": f"{day}T00:00:00+08:00", "to": f"{day}T23:59:00+08:00", "squad_id": squad_id}
        ).json()["shifts"]
        == []
    )
    screens.screenshot(page, f"roster-{lang}")
    assert not screens.errors and not screens.outside()


def test_the_board_sets_a_squads_status_and_shows_a_refusal(screens, api):
    squad_id = _squad_id(api, "cb-huanglong")
    page = screens.page("/command?lang=en", viewport=SCREEN, sign_in="dispatcher")
    page.keyboard.press("b")
    row = f"#board-table tr.squad-row[data-squad-id='{squad_id}']"
    page.wait_for_selector("#board-body:not([hidden]) tr.squad-row")
    page.select_option("select[data-filter='status']", "")
    page.evaluate(f'document.querySelector("{row}")?.scrollIntoView()')
    page.wait_for_selector(row)
    page.click(f"{row} button.status-set")
    page.wait_for_selector("#status-form:not([hidden])")
    assert page.is_hidden("#status-form .status-reason")
    page.select_option("#status-form select[name='status']", "out_of_service")
    assert page.is_visible("#status-form .status-reason")
    page.select_option("#status-form select[name='reason']", "vessel_fault")
    page.click("#status-form button[type='submit']")
    wait_until(page, f"document.querySelector(\"{row}\").dataset.status === 'out_of_service'")
    assert page.inner_text(f"{row} .c-status").strip() == "out of service (vessel fault)"
    assert page.is_hidden("#status-form")
    # on a task now (dispatched by another dispatcher): "available" by hand is refused with what it may become
    api.http.put(f"{api.base}/api/v1/squads/{squad_id}/status", json={"status": "available"})
    incident = api.post("/incidents", {"source": "patrol", "matters": ["CM-001"], "description": "巡查发现占道经营",
                                       "location": {"type": "Point", "coordinates": [122.60, 30.68]},
                                       "reported_at": "2026-12-07T10:00:00+08:00"}).json()  # fmt: skip
    assert api.post(f"/incidents/{incident['id']}/dispatch", {"squad_ids": [squad_id]}).status_code == 201
    wait_until(page, f"document.querySelector(\"{row}\").dataset.status === 'busy'")
    page.click(f"{row} button.status-set")
    page.select_option("#status-form select[name='status']", "off_duty")
    page.click("#status-form button[type='submit']")
    wait_until(page, "document.getElementById('status-form-error').textContent.length > 0")
    assert "Not from its present status" in page.inner_text("#status-form-error")
    assert page.get_attribute(row, "data-status") == "busy"
    assert not screens.errors
