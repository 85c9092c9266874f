"""The command centre's squad board, live 1+X coverage and alerts, in Chromium against a real server."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dispatch.store.models import Event
from tests.conftest import Api
from tests.factories import incident_body
from tests.web.conftest import wait_until

pytestmark = pytest.mark.live
GOUQI = "330922202"
GOUQI_AT = (122.77, 30.72)
SCREEN = {"width": 1366, "height": 768}


@pytest.fixture
def api(web_server):
    client = Api(web_server.url)
    yield client
    client.close()


def _squad_id(api, code: str) -> int:
    return next(f["properties"]["id"] for f in api.get("/squads").json()["features"] if f["properties"]["code"] == code)


def _open_board(page):
    page.keyboard.press("b")
    page.wait_for_selector("#board-body:not([hidden]) tr.squad-row")
    assert page.get_attribute("#board-toggle", "aria-expanded") == "true"


def _rows(page) -> list[dict]:
    return page.evaluate(
        """[...document.querySelectorAll('#board-table tr.squad-row')].map((tr) => ({
            id: Number(tr.dataset.squadId), status: tr.dataset.status,
            name: tr.querySelector('.c-squad').textContent, task: tr.querySelector('.c-task').textContent}))"""
    )


def test_the_board_lists_every_squad_with_its_state_and_filters_and_sorts(screens, api):
    squads = api.get("/squads").json()["features"]
    page = screens.page("/command", viewport=SCREEN, sign_in="dispatcher")
    assert page.is_hidden("#board-body")
    _open_board(page)
    rows = _rows(page)
    assert len(rows) == len(squads)
    assert {r["status"] for r in rows} <= {"available", "busy", "off_duty"}
    assert page.inner_text("#board-count") == f"显示 {len(squads)} / 共 {len(squads)}"

    page.select_option("select[data-filter='force']", "maritime")
    wait_until(page, "document.querySelectorAll('#board-table tr.squad-row').length === 1")
    assert page.inner_text("#board-table tr.squad-row .c-status") == "可用"
    page.select_option("select[data-filter='force']", "")
    page.select_option("select[data-filter='zone']", "maan")
    wait_until(page, f"document.querySelectorAll('#board-table tr.squad-row').length < {len(squads)}")
    assert all("马鞍" in z for z in page.locator("#board-table tr.squad-row .c-zone").all_inner_texts())
    page.select_option("select[data-filter='zone']", "")

    page.click("#board-table th[data-col='squad'] button")
    wait_until(
        page, "document.querySelector(\"#board-table th[data-col='squad']\").getAttribute('aria-sort') === 'ascending'"
    )
    names = [r["name"] for r in _rows(page)]
    page.click("#board-table th[data-col='squad'] button")
    wait_until(
        page, "document.querySelector(\"#board-table th[data-col='squad']\").getAttribute('aria-sort') === 'descending'"
    )
    assert [r["name"] for r in _rows(page)] == names[::-1]
    page.keyboard.press("b")
    page.wait_for_selector("#board-body", state="hidden")


def test_ten_thousand_squads_keep_only_the_visible_rows_in_the_page(screens):
    page = screens.page("/command", viewport=SCREEN, sign_in="dispatcher")
    _open_board(page)
    page.evaluate(
        """(() => {
        const squads = window.commandCentre.squads;
        for (let i = 0; i < 10000; i += 1) {
          const id = 1000000 + i;
          squads.set(id, {rev: 0, posRev: 0, data: {id, code: `bulk-${String(i).padStart(5, '0')}`,
            name: `批量中队 ${i}`, force: ['comprehensive', 'professional', 'maritime'][i % 3],
            status: ['available', 'busy', 'off_duty'][i % 3], status_since: new Date(Date.now() - i * 1000).toISOString(),
            last_position_at: new Date(Date.now() - i * 6000).toISOString(), zone: null, station_region: null,
            officers_on_duty: 3, certified_on_duty: 2}});
        }
        window.commandCentre.board.refresh();
        })()"""
    )
    wait_until(page, "window.commandCentre.board.rows.length > 10000")
    rendered = page.locator("#board-table tr.squad-row").count()
    assert 0 < rendered < 80, rendered
    scroller = page.locator("#board-scroll")
    scroller.evaluate("(node) => { node.scrollTop = node.scrollHeight; }")
    wait_until(
        page,
        "[...document.querySelectorAll('#board-table tr.squad-row')].at(-1)?.dataset.squadId"
        " === String(window.commandCentre.board.rows.at(-1).data.id)",
    )
    assert page.locator("#board-table tr.squad-row").count() < 80
    # the scroll height holds every row at the fixed height
    assert scroller.evaluate("(node) => node.scrollHeight") >= 28 * 10000
    screens.screenshot(page, "board-10000")


def test_dispatching_the_maan_squad_uncovers_gouqi_raises_an_alert_and_it_is_acknowledged(screens, api, web_store):
    shengshan = _squad_id(api, "cb-shengshan")
    coverage = api.get("/coverage")
    assert coverage.status_code == 200, "GET /api/v1/coverage is not there yet"
    gouqi = next(t for t in coverage.json()["townships"] if t["region"]["code"] == GOUQI)
    assert gouqi["covered"], gouqi

    page = screens.page("/command", viewport=SCREEN, sign_in="dispatcher")
    page.click("#board-toggle")  # a user gesture: the alert's beep may play
    page.wait_for_selector("#board-body:not([hidden]) tr.squad-row")
    wait_until(page, f"window.commandCentre.coverage.townships.get('{GOUQI}')?.covered === true")
    assert page.locator(".place-label span", has_text="枸杞乡").count() == 1

    incident = api.post("/incidents", incident_body(at=GOUQI_AT, description="枸杞乡码头占道（覆盖测试）")).json()
    answer = api.post(f"/incidents/{incident['id']}/dispatch", {"squad_ids": [shengshan]})
    assert answer.status_code == 201, answer.text

    # the map: Gouqi shaded, the compact list names it; the board: the squad busy on that incident
    wait_until(page, f"window.commandCentre.coverage.townships.get('{GOUQI}')?.covered === false", timeout=5)
    page.wait_for_selector(f"#coverage-box .coverage-item[data-region='{GOUQI}']")
    assert "枸杞乡" in page.inner_text("#coverage-box") and "目标" in page.inner_text("#coverage-box")
    wait_until(page, "document.querySelectorAll('.leaflet-coverage-pane path').length >= 1")
    row = page.locator(f"#board-table tr.squad-row[data-squad-id='{shengshan}']")
    wait_until(page, f"window.commandCentre.squads.get({shengshan}).data.status === 'busy'", timeout=5)
    page.select_option("select[data-filter='status']", "busy")
    row.wait_for()
    wait_until(
        page,
        f"document.querySelector(\"#board-table tr[data-squad-id='{shengshan}'] .c-task\")?.textContent.includes('#{incident['id']}')",
    )

    # the alert: within seconds, critical, badge counting it; acknowledged from the screen
    alert = page.locator("#alerts li[data-kind='township_uncovered']").first
    alert.wait_for(timeout=8_000)
    assert "枸杞乡" in alert.inner_text()
    assert page.get_attribute("#alert-badge", "class").split() == ["alert-badge", "critical"]
    assert int(page.inner_text("#alert-badge")) >= 1
    assert page.evaluate("window.commandCentre.alerts.beeps") >= 1
    screens.screenshot(page, "uncovered-zh")

    en = screens.page("/command?lang=en", viewport=SCREEN, sign_in="dispatcher")
    en.click("#board-toggle")
    en.wait_for_selector("#alerts li[data-kind='township_uncovered']")
    en.wait_for_selector(f"#coverage-box .coverage-item[data-region='{GOUQI}']")
    assert "Gouqi" in en.inner_text("#coverage-box")
    assert "Gouqi" in en.inner_text("#alerts li[data-kind='township_uncovered']")
    screens.screenshot(en, "uncovered-en")
    en.close()

    alert_id = int(alert.get_attribute("data-alert-id"))
    alert.locator("button.ack").click()
    page.wait_for_selector(f"#alerts li[data-alert-id='{alert_id}']", state="detached")
    answer = next(a for a in api.get("/alerts", status="all").json()["alerts"] if a["id"] == alert_id)
    assert answer["acknowledged_at"] and answer["acknowledged_by"] == "test-dispatcher", answer
    web_store.rollback()  # a fresh snapshot of the record
    record = web_store.execute(
        select(Event.action, Event.actor)
        .where(Event.entity_type == "alert", Event.entity_id == alert_id)
        .order_by(Event.id)
    ).all()
    assert [action for action, _ in record] == ["alert.raised", "alert.acknowledged"], record
    assert record[-1].actor == "test-dispatcher"
    screens.screenshot(page, "acknowledged-zh")
