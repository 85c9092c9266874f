"""Every role lands on its own screen and its menu lists only the screens it may use (the guide's rule;
issue 32: "supervisors land on /command and have no link to /supervisor"). ``next=`` wins when it is
a path of this site the role may open; never an external address. A screen a role may not use answers
403 with a page linking to the role's own screen."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from dispatch.tablets import issue_token
from tests.conftest import PASSWORD

HOME = {"dispatcher": "/command", "planner": "/planner", "supervisor": "/supervisor", "admin": "/command"}
# role -> the screens of its menu, in order
MENU = {
    "dispatcher": ["command", "planner", "supervisor", "meetings", "campaigns"],
    "planner": ["planner"],
    "supervisor": ["command", "planner", "supervisor", "meetings", "campaigns"],
    "admin": ["command", "planner", "supervisor", "meetings", "campaigns"],
}
HTML = {"Accept": "text/html,application/xhtml+xml"}


def _csrf(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)


def _sign_in(client, role: str, nxt: str | None = None):
    form = {"username": f"test-{role}", "password": PASSWORD, "csrf_token": _csrf(client)}
    if nxt is not None:
        form["next"] = nxt
    return client.post("/login", data=form)


def _menu(page: str) -> list[str]:
    nav = re.search(r'<nav id="main-nav".*?</nav>', page, re.S)
    return re.findall(r'data-screen="([a-z]+)"', nav.group(0)) if nav else []


@pytest.mark.parametrize("role", sorted(HOME))
def test_each_role_lands_on_its_own_screen_with_a_menu_of_its_screens(app, role):
    client = app.test_client()
    signed = _sign_in(client, role)
    assert signed.status_code == 302 and signed.headers["Location"] == HOME[role], signed.headers["Location"]
    root = client.get("/")
    assert root.status_code == 302 and root.headers["Location"] == HOME[role]
    page = client.get(HOME[role], headers=HTML)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert _menu(text) == MENU[role]
    assert 'aria-current="page"' in text and 'action="/logout"' in text
    for path in re.findall(r'<a href="([^"]+)" data-screen=', text):  # every screen of the menu opens
        assert client.get(path, headers=HTML).status_code == 200, (role, path)


def test_the_supervisors_menu_links_to_supervisor_and_english_labels_with_lang_en(app):
    client = app.test_client()
    _sign_in(client, "supervisor")
    zh = client.get("/command", headers=HTML).get_data(as_text=True)
    assert 'href="/supervisor" data-screen="supervisor"' in zh and "执法监督" in zh
    en = client.get("/supervisor?lang=en", headers=HTML).get_data(as_text=True)
    assert ">Supervision</a>" in en and ">Sign out</button>" in en


def test_next_wins_when_the_role_may_open_it(app):
    client = app.test_client()
    signed = _sign_in(client, "supervisor", "/planner?lang=en")
    assert signed.headers["Location"] == "/planner?lang=en"
    client = app.test_client()
    assert _sign_in(client, "dispatcher", "/api/v1/incidents").headers["Location"] == "/api/v1/incidents"


def test_next_the_role_may_not_open_lands_on_its_own_screen(app):
    client = app.test_client()
    assert _sign_in(client, "planner", "/command").headers["Location"] == "/planner"
    client = app.test_client()
    assert _sign_in(client, "planner", "/no/such/page").headers["Location"] == "/planner"
    client = app.test_client()
    assert _sign_in(client, "supervisor", "/").headers["Location"] == "/supervisor"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/command", "/\\evil.example", "/%09/evil.example", "javascript:alert(1)"],
)
def test_next_never_leads_off_the_site(app, target):
    client = app.test_client()
    assert _sign_in(client, "supervisor", target).headers["Location"] == "/supervisor"


def test_a_screen_the_role_may_not_use_is_a_403_page_linking_to_its_own(app):
    client = app.test_client()
    _sign_in(client, "planner")
    refused = client.get("/command?lang=en", headers=HTML)
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    text = refused.get_data(as_text=True)
    assert 'id="home-link" class="home-link" href="/planner"' in text
    assert "Not a screen for your role" in text and _menu(text) == ["planner"]
    zh = client.get("/supervisor", headers=HTML).get_data(as_text=True)
    assert "无权使用此页面" in zh and 'href="/planner"' in zh
    api = client.get("/api/v1/incidents")
    assert api.status_code == 403 and api.get_json()["error"]["code"] == "forbidden", "the API still answers JSON"


def test_a_squads_tablet_goes_to_the_tablet(app, session):
    squad_id = session.execute(text("SELECT id FROM squad WHERE code = 'cb-shengshan'")).scalar_one()
    _, token = issue_token(session, squad_id, label="landing test")
    session.commit()
    root = app.test_client().get("/", headers={"Authorization": f"Bearer {token}"})
    assert root.status_code == 302 and root.headers["Location"] == "/tablet"


def test_the_command_centre_tells_the_scripts_what_the_role_may_do(app):
    client = app.test_client()
    _sign_in(client, "supervisor")
    page = client.get("/command", headers=HTML).get_data(as_text=True)
    settings = re.search(r'<script id="settings" type="application/json">(.*?)</script>', page, re.S).group(1)
    assert '"read_operations"' in settings and '"dispatch"' not in settings and '"intake"' not in settings


def test_the_planner_screen_offers_editing_only_to_those_who_edit_plans(app):
    readers = app.test_client()
    _sign_in(readers, "supervisor")
    page = readers.get("/planner", headers=HTML).get_data(as_text=True)
    assert '<button id="new-draft" hidden' in page and '<button id="publish" hidden' in page
    planner = app.test_client()
    _sign_in(planner, "planner")
    page = planner.get("/planner", headers=HTML).get_data(as_text=True)
    assert '<button id="new-draft" type="button">' in page and '<button id="publish" type="button">' in page
