"""Each role, in a browser, in Chinese and in English: signs in through the form, lands on its own screen,
the top navigation lists only its screens, and axe-core finds no WCAG 2 A/AA violation on /supervisor
(issue 32: "supervisors land on /command and have no link to /supervisor"; /supervisor had 5
colour-contrast violations). A planner, who may not read it, gets the 403 page with a link to /planner.

axe loads through ``context.add_init_script`` (see test_command_a11y: the pages' CSP stays the production one).
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import PASSWORD, Api, org_token
from tests.factories import incident_body
from tests.web.test_command_a11y import AXE, RUN, TAGS, _report

pytestmark = pytest.mark.live
SCREEN = {"width": 1366, "height": 768}
HOME = {"dispatcher": "/command", "planner": "/planner", "supervisor": "/supervisor", "admin": "/command"}
MENU = {
    "dispatcher": ["command", "planner", "supervisor", "meetings", "campaigns"],
    "planner": ["planner"],
    "supervisor": ["command", "planner", "supervisor", "meetings", "campaigns"],
    "admin": ["command", "planner", "supervisor", "meetings", "campaigns"],
}
LABELS = {  # the menu's labels (dispatch.http.web.i18n nav.*)
    "zh": dict(
        command="指挥中心", planner="片区规划", supervisor="执法监督", meetings="联席会议", campaigns="专项行动"
    ),
    "en": dict(
        command="Command centre",
        planner="Zone planner",
        supervisor="Supervision",
        meetings="Joint meetings",
        campaigns="Campaigns",
    ),  # fmt: skip
}


@pytest.fixture(scope="module")
def queues(web_server):
    """Rows in the supervisor's queues, so axe judges filled tables: a referral a day overdue and an open
    jurisdiction dispute over an incident."""
    bureau = Api(web_server.url, org_token("county-bureau"))
    culture = Api(web_server.url, org_token("dept-culture"))
    ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)).replace(microsecond=0).isoformat()
    lead = {
        "to": "dept-emergency",
        "matter": "EM-001",
        "summary": "巡查发现渔港码头违规堆放液化气钢瓶",
        "referred_at": ago,
    }
    assert bureau.post("/referrals", lead).status_code == 201
    beach = bureau.post("/incidents", incident_body(at=(122.4676, 30.7155), description="基湖沙滩帐篷经营"))
    assert beach.status_code == 201, beach.text
    squads = bureau.get("/squads").json()["features"]
    squad = next(f["id"] for f in squads if f["properties"]["code"] == "cb-caiyuan")
    dispute = {"party_a": "county-bureau", "party_b": "dept-culture", "incident_id": beach.json()["id"],
               "subject": "基湖沙滩帐篷经营管辖争议", "provisional_squad_id": squad}  # fmt: skip
    opened = bureau.post("/disputes", dispute)
    assert opened.status_code == 201, opened.text
    for client in (bureau, culture):
        client.close()


def _menu(page) -> list[tuple[str, str]]:
    return page.evaluate(
        "() => [...document.querySelectorAll('#main-nav a')].map((a) => [a.dataset.screen, a.textContent.trim()])"
    )


def _axe(page) -> list:
    assert page.evaluate("typeof window.axe") == "object", "axe was not loaded"
    return page.evaluate(RUN, TAGS)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("role", ["dispatcher", "planner", "supervisor", "admin"])
def test_each_role_lands_on_its_screen_with_only_its_menu_and_supervisor_passes_axe(screens, queues, role, lang):
    assert AXE.exists(), "tests/web/vendor/axe.min.js is missing: make vendor"
    context = screens.browser.new_context(viewport=SCREEN, base_url=screens.base_url)
    screens.contexts.append(context)
    context.add_cookies([{"name": "lang", "value": lang, "url": screens.base_url}])
    context.add_init_script(path=str(AXE))
    page = screens.page("/login", context=context, wait_ready=False)
    page.fill("#u", f"test-{role}")
    page.fill("#p", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_load_state("load")
    assert page.url == screens.base_url + HOME[role], page.url
    if HOME[role] != "/supervisor":
        page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    menu = _menu(page)
    assert [key for key, _ in menu] == MENU[role]
    assert menu == [[key, LABELS[lang][key]] for key in MENU[role]]
    assert page.get_attribute("#main-nav a[aria-current=page]", "data-screen") == HOME[role].strip("/")
    screens.screenshot(page, "home")

    answer = page.goto("/supervisor")
    if "supervisor" not in MENU[role]:
        assert answer.status == 403
        assert page.get_attribute("#home-link", "href") == HOME[role]
        screens.screenshot(page, "refused")
        assert _axe(page) == [], _report(_axe(page))
        return
    assert answer.status == 200
    assert [key for key, _ in _menu(page)] == MENU[role]
    assert page.locator("text=基湖沙滩帐篷经营管辖争议").count() == 1 and page.locator("text=液化气钢瓶").count() == 1
    page.wait_for_timeout(200)
    screens.screenshot(page, "supervisor")
    found = _axe(page)
    assert found == [], _report(found)


@pytest.fixture
def api(web_server):
    client = Api(web_server.url)
    yield client
    client.close()


def test_a_supervisor_on_the_command_centre_sees_no_dispatch_controls(screens, api):
    """The supervisor reads /command (read_operations) but neither takes calls nor dispatches: the call tab,
    the incident's action buttons and the suspensions' form are not there; the dispatcher has them."""
    created = api.post("/incidents", incident_body(at=(122.452, 30.726), description="菜园镇监督只读测试"))
    assert created.status_code == 201
    incident_id = created.json()["id"]
    seen = {}
    for role in ("supervisor", "dispatcher"):
        context = screens.browser.new_context(viewport=SCREEN, base_url=screens.base_url)
        screens.contexts.append(context)
        screens.sign_in(context, role)
        page = screens.page("/command", context=context)
        page.click(f"li.incident[data-incident-id='{incident_id}']")
        page.wait_for_selector("#detail-body:not([hidden])")
        page.wait_for_timeout(300)  # the incident's detail (its actions) answered
        seen[role] = page.evaluate(
            """() => ({
              call: !document.getElementById('tab-call').hidden,
              actions: [...document.querySelectorAll('#incident-actions button')].filter((b) => !b.hidden)
                .map((b) => b.dataset.action),
              suspend: !!document.querySelector('#cond-new:not([hidden])'),
            })"""
        )
        screens.screenshot(page, role)
    assert seen["supervisor"] == {"call": False, "actions": [], "suspend": False}
    assert seen["dispatcher"]["call"] and "dispatch" in seen["dispatcher"]["actions"] and seen["dispatcher"]["suspend"]
