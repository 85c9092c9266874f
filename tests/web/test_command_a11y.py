"""axe-core (npm registry, vendored as tests/web/vendor/axe.min.js by `make vendor`) on /command: no WCAG 2
A/AA violation, in Chinese and in English, as the dispatcher, with incidents in the queue and the board open.

The page's Content-Security-Policy allows scripts only from the site or with the page's nonce, so
``page.add_script_tag`` (an inline <script>) is refused. ``context.add_init_script`` goes through the
DevTools protocol (Page.addScriptToEvaluateOnNewDocument), which CSP does not govern: axe loads in every
page of the context without bypass_csp, so the policy under test stays the production one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Api
from tests.factories import incident_body

pytestmark = pytest.mark.live
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREEN = {"width": 1366, "height": 768}
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN = """(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
  .then((result) => result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(' '), html: n.html.slice(0, 160), why: n.failureSummary}))})))"""


@pytest.fixture
def api(web_server):
    client = Api(web_server.url)
    yield client
    client.close()


def _report(violations) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        lines += [f"    {n['target']}: {n['html']}\n      {n['why']}" for n in v["nodes"]]
    return "\n".join(lines)


def test_axe_finds_no_wcag_violation_on_the_command_centre(screens, api):
    assert AXE.exists(), "tests/web/vendor/axe.min.js is missing: make vendor"
    for place, description in (((122.452, 30.725), "菜园镇占道经营"), ((122.77, 30.72), "枸杞乡码头堆放杂物")):
        assert api.post("/incidents", incident_body(at=place, description=description)).status_code == 201
    context = screens.browser.new_context(viewport=SCREEN, base_url=screens.base_url)
    screens.contexts.append(context)
    screens.sign_in(context, "dispatcher")
    context.add_init_script(path=str(AXE))
    page = screens.page("/command", context=context)
    page.wait_for_selector("li.incident")
    page.keyboard.press("b")
    page.wait_for_selector("#board-body:not([hidden]) tr.squad-row")
    found = {}
    for lang in ("zh", "en"):
        if lang == "en":
            page.goto("/command?lang=en")
            page.wait_for_selector("body[data-ready='1']")
            page.wait_for_selector("li.incident")
            page.wait_for_selector("#board-body:not([hidden]) tr.squad-row")  # remembered open
        assert page.evaluate("typeof window.axe") == "object", "axe was not loaded"
        page.wait_for_timeout(300)  # the alerts and coverage answers are drawn
        screens.screenshot(page, f"axe-{lang}")
        found[lang] = page.evaluate(RUN, TAGS)
    assert found == {"zh": [], "en": []}, "\n".join(f"[{lang}]\n{_report(v)}" for lang, v in found.items() if v)
