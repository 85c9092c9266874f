"""Browser hardening (issue 25, findings 3 and 8) in Debian's Chromium against a real server.

- A dispatcher opens the case map of an incident whose caller wrote script (a template-literal
  breakout, a ``</script>``, an ``<img onerror>`` in a township, a zone and a squad name): none of
  it runs, the tooltips show it as text, and the Content-Security-Policy breaks nothing.
- Every HTML page carries the policy and works under it (inline script only with the page's nonce).
- A page of another origin (another port of the same host) cannot open the live sockets, even
  with the person's cookie; the site's own pages can.
"""

from __future__ import annotations

import http.server
import re
import threading

import pytest
import requests
import socketio
from sqlalchemy import text

from tests.conftest import TOKENS, Api, LiveServer, free_port
from tests.factories import incident_body
from tests.realtime_clients import close_quickly
from tests.web.conftest import wait_until

pytestmark = pytest.mark.live
GOUQI = (122.77, 30.72)
GOUQI_CODE = "330922202"

# Each payload, had it run, sets window.__pwned and asks the server for /pwned/<where>.
# LITERAL closes Folium's template literal with a backtick and reopens it (valid JavaScript), then
# interpolates: both ran on the old case map.
LITERAL = (
    "`+(window.__pwned='backtick', fetch('/pwned/backtick'))+` ${(window.__pwned='literal', fetch('/pwned/literal'))}"
)
SCRIPT = "</script><script>window.__pwned='script';fetch('/pwned/script')</script>"
IMG = "<img src=/pwned/img onerror=\"window.__pwned='img'\">"

# Installed before any script of the page: every CSP violation the page meets.
WATCH_CSP = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""
# The Folium map of the page (a global `var map_<hex>`) and what it draws.
MAP_LAYERS = """() => {
  const map = Object.values(window).find((v) => v instanceof L.Map);
  const drawn = { circles: 0, shapes: 0, tips: 0 };
  map.eachLayer((layer) => {
    if (layer instanceof L.CircleMarker) drawn.circles += 1;
    else if (layer instanceof L.Polygon) drawn.shapes += 1;
    if (layer.feature && layer.getTooltip()) drawn.tips += 1;
  });
  return drawn;
}"""
# Where [lat, lon] is on the screen (8 px east) once the map stands still: fitBounds animates its zoom
# just after the page loads, and a point read during the animation is where it used to be.
SETTLED_POINT = """async ([lat, lon]) => {
  const map = Object.values(window).find((v) => v instanceof L.Map);
  const at = () => {
    const box = map.getContainer().getBoundingClientRect(), p = map.latLngToContainerPoint([lat, lon]);
    return [box.left + p.x + 8, box.top + p.y];
  };
  for (let last = null; ; ) {
    await new Promise((done) => setTimeout(done, 150));
    const now = at(), moving = map.getContainer().classList.contains("leaflet-zoom-anim");
    if (last && !moving && now[0] === last[0] && now[1] === last[1]) return now;
    last = now;
  }
}"""
OPEN_TIPS = """(needle) => {
  const map = Object.values(window).find((v) => v instanceof L.Map);
  const shown = [];
  map.eachLayer((layer) => {
    const tip = layer.feature && layer.feature.properties.tip;
    if (tip && tip.includes(needle)) { layer.openTooltip(); shown.push(layer.getTooltip().getElement().textContent); }
  });
  return shown;
}"""


@pytest.fixture
def api(web_server):
    client = Api(web_server.url)
    yield client
    client.close()


class Watched:
    """A signed-in page that records CSP violations and console errors across navigations."""

    def __init__(self, screens, role: str | None):
        self.page = screens.page(sign_in=role)
        self.console: list[str] = []
        self.page.add_init_script(WATCH_CSP)
        self.page.on("console", self._console)

    def _console(self, message) -> None:
        url = message.location.get("url", "")
        if message.type == "error" and not url.endswith("/favicon.ico"):  # the sign-in page names no icon
            self.console.append(f"{message.text} ({url})")

    def open(self, path: str):
        response = self.page.goto(path)
        assert response.status == 200, path
        return response

    def violations(self) -> list[str]:
        return self.page.evaluate("window.__violations")

    def assert_clean(self, where: str) -> None:
        assert self.violations() == [], f"{where}: CSP violations {self.violations()}"
        assert self.console == [], f"{where}: console errors {self.console}"
        assert self.page.evaluate("window.__pwned") is None, f"{where}: a payload ran"


def _assert_html_policy(response, path: str) -> str:
    policy = response.headers.get("content-security-policy", "")
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives.get("default-src") == "'self'", (path, policy)
    assert re.fullmatch(r"'self'( 'nonce-[A-Za-z0-9_-]{16,}')?", directives["script-src"]), (path, policy)
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'", (path, policy)
    assert directives["frame-ancestors"] == "'none'" and directives["connect-src"] == "'self'", (path, policy)
    return policy


def _dispatch_one(api, incident_id: int) -> int:
    best = api.get(f"/incidents/{incident_id}/recommendations").json()["recommendations"][0]["squad"]
    response = api.post(f"/incidents/{incident_id}/dispatch", {"squad_ids": [best["id"]]})
    assert response.status_code == 201, response.text
    return best["id"]


def test_a_dispatcher_opening_case_maps_of_hostile_text_runs_none_of_it(screens, api, web_store):
    """Finding 3: descriptions, township, zone and squad names reach the maps as text only."""
    literal = api.post("/incidents", incident_body(at=GOUQI, description=f"占道经营 {LITERAL} 请处理")).json()
    script = api.post("/incidents", incident_body(at=GOUQI, description=f"噪音扰民 {SCRIPT}")).json()
    squad_id = _dispatch_one(api, literal["id"])
    township = web_store.execute(text("SELECT name_zh FROM region WHERE code = :c"), {"c": GOUQI_CODE}).scalar()
    squad = web_store.execute(text("SELECT name_zh FROM squad WHERE id = :id"), {"id": squad_id}).scalar()
    web_store.execute(text("UPDATE region SET name_zh = :n WHERE code = :c"), {"n": f"枸杞{IMG}", "c": GOUQI_CODE})
    web_store.execute(
        text("UPDATE squad SET name_zh = :n, last_position = 'SRID=4326;POINT(122.76 30.73)' WHERE id = :id"),
        {"n": f"中队{IMG}", "id": squad_id},
    )
    web_store.commit()
    draft = api.post("/plans", {"name": "方案`+(window.__pwned='plan')+` ${(window.__pwned='plan')}"}).json()
    zones = [
        {"code": z["code"], "name": f"{z['name']}{IMG}", "hub": z["hub"], "members": z["members"]}
        for z in draft["zones"]
    ]
    assert (
        api.http.put(f"{api.base}/api/v1/plans/{draft['id']}", json={"version": 1, "zones": zones}).status_code == 200
    )
    try:
        dispatcher = Watched(screens, "dispatcher")
        page = dispatcher.page

        dispatcher.open(f"/maps/incidents/{literal['id']}")
        page.wait_for_selector(".leaflet-container canvas")
        drawn = page.evaluate(MAP_LAYERS)
        assert drawn["circles"] >= 2 and drawn["shapes"] >= 7 and drawn["tips"] == drawn["circles"] + drawn["shapes"]
        assert "`+(window.__pwned='backtick'" in page.inner_text(".map-title"), "the title shows it as text"
        # The caller's text under the mouse, as the dispatcher reads it: text, not markup (8 px off
        # the centre, where the record's first event sits on top), once fitBounds' zoom has landed.
        place = page.evaluate(SETTLED_POINT, [GOUQI[1], GOUQI[0]])
        page.mouse.move(*place)
        page.wait_for_selector(".leaflet-tooltip")
        assert page.inner_text(".leaflet-tooltip") == f"占道经营 {LITERAL} 请处理"
        screens.screenshot(page, "case-map-literal")
        assert page.evaluate(OPEN_TIPS, "枸杞") == [f"枸杞{IMG}"]
        assert page.evaluate(OPEN_TIPS, "中队") == [f"中队{IMG} · dispatched"]
        assert page.locator(".leaflet-tooltip img").count() == 0
        screens.screenshot(page, "case-map-names")
        dispatcher.assert_clean("case map with a template literal")

        dispatcher.open(f"/maps/incidents/{script['id']}")
        page.wait_for_selector(".leaflet-container canvas")
        assert page.inner_text(".map-title").startswith(f"#{script['id']} 噪音扰民 </script><script>")
        assert page.evaluate(OPEN_TIPS, "噪音扰民") == [f"噪音扰民 {SCRIPT}"]
        dispatcher.assert_clean("case map with </script>")

        dispatcher.open(f"/maps/plan/{draft['code']}")
        page.wait_for_selector(".leaflet-container canvas")
        assert len(page.evaluate(OPEN_TIPS, "<img")) >= len(zones) + 1, "each hub's zone name, the township"
        assert page.locator(".leaflet-tooltip img").count() == 0
        screens.screenshot(page, "plan-map-zones")
        dispatcher.assert_clean("plan map with zone names")
        assert not [url for url in screens.requests if "/pwned/" in url], "a payload asked the server"
    finally:
        web_store.execute(text("UPDATE region SET name_zh = :n WHERE code = :c"), {"n": township, "c": GOUQI_CODE})
        web_store.execute(text("UPDATE squad SET name_zh = :n WHERE id = :id"), {"n": squad, "id": squad_id})
        web_store.commit()


def test_every_html_page_carries_the_policy_and_works_under_it(screens, api):
    """Finding 3's second half: a Content-Security-Policy on every page, and no page broken by it."""
    incident = api.post("/incidents", incident_body(at=GOUQI)).json()
    anonymous = Watched(screens, None)
    _assert_html_policy(anonymous.open("/login"), "/login")
    anonymous.page.wait_for_selector("input[name=password]")
    anonymous.assert_clean("/login")

    admin = Watched(screens, "admin")
    page = admin.page
    ready = {
        "/command": "body[data-ready='1']",
        "/planner": "body[data-ready='1']",
        "/tablet": "#signin:not([hidden])",
        "/supervisor": "main",
        "/api/v1/reports/annual?format=html": "main",
        "/api/v1/docs": "#ops details",  # drawn by static/app/api-docs.js
        "/maps/plan": ".leaflet-container canvas",
        "/maps/heat": ".leaflet-container canvas",
        f"/maps/incidents/{incident['id']}": ".leaflet-container canvas",
    }
    nonces = set()
    for path, selector in ready.items():
        policy = _assert_html_policy(admin.open(path), path)
        page.wait_for_selector(selector, timeout=20_000)
        if path == "/command":  # the live socket is 'self' too
            wait_until(page, "window.commandCentre.socket.connected === true", timeout=10)
        if path.startswith("/maps/"):
            assert page.evaluate(MAP_LAYERS)["shapes"] >= 7, path
            nonces.add(re.search(r"'nonce-([^']+)'", policy).group(1))
            assert "'unsafe-inline'" not in policy, "the maps' inline styles carry the nonce too"
        admin.assert_clean(path)
    assert len(nonces) == 3, "a new nonce for every page"
    page.wait_for_selector(".leaflet-container:not(.leaflet-zoom-anim)")  # fitBounds has landed
    screens.screenshot(page, "case-map-under-csp")
    assert "default-src 'none'" in api.get("/health").headers["Content-Security-Policy"], "JSON keeps its own"


# -- finding 8: the live sockets answer pages of the site only ---------------------------------------


def _command_socket(url: str, origin: str | None) -> socketio.Client:
    """A /command connection as a page of ``origin`` opens it (websocket-client sends that Origin)."""
    client = socketio.Client(reconnection=False, websocket_extra_options={"origin": origin} if origin else {})
    client.connect(
        url, namespaces=["/command"], auth={"token": TOKENS["dispatcher"][1]}, transports=["websocket"], wait_timeout=10
    )
    return client


def _refused(url: str, origin: str) -> bool:
    try:
        close_quickly(_command_socket(url, origin))
    except socketio.exceptions.ConnectionError:
        return True
    return False


def _polling_status(url: str, origin: str) -> int:
    return requests.get(f"{url}/socket.io/?EIO=4&transport=polling", headers={"Origin": origin}, timeout=10).status_code


def test_a_socket_from_another_origin_is_refused_and_the_sites_own_accepted(web_server):
    """Finding 8: unset SITE_ORIGINS means the page must come from the host the browser asked for."""
    other = f"http://127.0.0.1:{free_port()}"
    assert _refused(web_server.url, other)
    assert _refused(web_server.url, "http://evil.example")
    assert _polling_status(web_server.url, other) == 400
    close_quickly(_command_socket(web_server.url, web_server.url))  # a page of the site
    close_quickly(_command_socket(web_server.url, None))  # a script or a tablet app: no Origin at all
    assert _polling_status(web_server.url, web_server.url) == 200


def test_site_origins_name_the_pages_that_may_connect(web_database, tmp_path):
    """SITE_ORIGINS (a proxy's public name): those origins, and no other, may open a socket."""
    public = f"http://127.0.0.1:{free_port()}"
    server = LiveServer(
        {
            "DATABASE_URL": web_database,
            "DISPATCH_DATA_DIR": str(tmp_path),
            "SITE_ORIGINS": f"https://dispatch.example, {public}/",
        },
        tmp_path,
    ).wait_ready()
    try:
        close_quickly(_command_socket(server.url, public))
        close_quickly(_command_socket(server.url, "https://dispatch.example"))
        assert _refused(server.url, server.url), "the listed origins replace the Host rule"
        assert _refused(server.url, "http://evil.example")
    finally:
        server.stop()


class _AttackerSite:
    """A page on another port of the same host that opens our /command socket with the visitor's cookie."""

    def __init__(self, target: str):
        page = f"""<!doctype html><script src="{target}/static/vendor/socket.io/socket.io.min.js"></script>
<script>
window.__outcome = "pending";
const socket = io("{target}/command", {{ transports: ["websocket"], reconnection: false }});
socket.on("connect", () => {{ window.__outcome = "connected"; }});
socket.on("frame", () => {{ window.__outcome = "read a frame"; }});
socket.on("connect_error", () => {{ window.__outcome = "refused"; }});
</script>""".encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server name
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_page_on_another_port_cannot_read_live_frames_with_the_dispatchers_cookie(screens, web_server):
    """Finding 8 as it was found: same host, another port, the signed-in person's cookie."""
    attacker = _AttackerSite(web_server.url)
    try:
        page = screens.page(sign_in="dispatcher")
        page.goto(attacker.url)
        wait_until(page, "window.__outcome !== 'pending'", timeout=10)
        assert page.evaluate("window.__outcome") == "refused"
        own = screens.page("/command", context=page.context, wait_ready=True)  # the site itself still connects
        wait_until(own, "window.commandCentre.socket.connected === true", timeout=10)
    finally:
        attacker.close()
