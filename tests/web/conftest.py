"""Playwright (sync API) driving Debian's Chromium against a real server process.

Never ``playwright install``: the browser is /usr/bin/chromium (`make test`
installs Debian's package when it is missing). Every request a page makes is
recorded; a test fails if any leaves 127.0.0.1. Screenshots go to
var/artifacts/ (git-ignored).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, pool, select
from sqlalchemy.orm import Session

from dispatch.config import PROJECT_ROOT
from dispatch.store.models import Squad
from dispatch.tablets import issue_token
from tests.conftest import PASSWORD, TEMPLATE, LiveServer, _drop_database, _new_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = PROJECT_ROOT / "var" / "artifacts"
TABLET_VIEWPORT = {"width": 800, "height": 1280}  # a 10-inch tablet in portrait


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is missing (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Screens:
    """Browser contexts for one test: records every request, collects page errors, takes screenshots."""

    def __init__(self, browser, base_url: str, test_name: str):
        self.browser = browser
        self.base_url = base_url
        self.test_name = test_name
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.contexts = []

    def page(
        self, path: str = "", *, viewport=None, context=None, wait_ready: bool = True, sign_in: str | None = "admin"
    ):
        if context is None:
            context = self.browser.new_context(
                viewport=viewport or {"width": 1400, "height": 900}, base_url=self.base_url
            )
            self.contexts.append(context)
            if sign_in and not path.startswith("/tablet"):  # the tablet signs in with its own token
                self.sign_in(context, sign_in)
        page = context.new_page()
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        if path:
            page.goto(path)
            if wait_ready:
                page.wait_for_selector("body[data-ready='1']", timeout=20_000)
        return page

    @staticmethod
    def sign_in(context, role: str) -> None:
        """Sign the context in through the form, as a person does (the test template's accounts)."""
        form = context.request.get("/login").text()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        response = context.request.post(
            "/login",
            form={"username": f"test-{role}", "csrf_token": csrf, "password": PASSWORD},
            max_redirects=0,
        )
        assert response.status == 302, response.text()

    def screenshot(self, page, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.test_name}-{name}.png"
        page.screenshot(path=str(path))
        return path

    def outside(self) -> list[str]:
        """Requests that left the server under test (data: and blob: URLs stay in the page)."""
        return [
            url
            for url in self.requests
            if not url.startswith(("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:"))
        ]

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture(scope="module")
def web_database(pg_cluster, template_url):
    """One copy of the Shengsi template for a module of browser tests (a server start costs seconds).

    The tests of a module share it, so each works with its own squads and incidents.
    """
    name = _new_database(pg_cluster, TEMPLATE)
    yield pg_cluster.url(name)
    _drop_database(pg_cluster, name)


@pytest.fixture(scope="module")
def web_server(web_database, tmp_path_factory):
    """A real server process with quick command frames, shared by the module."""
    folder = tmp_path_factory.mktemp("web-server")
    env = {
        "DATABASE_URL": web_database,
        "DISPATCH_DATA_DIR": str(folder),
        "FRAME_INTERVAL_S": "0.2",
        "ACK_TIMEOUT_S": "30",
    }
    server = LiveServer(env, folder).wait_ready()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def web_store(web_database):
    """A session on the shared database, for tokens and checks."""
    engine = create_engine(web_database, poolclass=pool.NullPool)
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture
def screens(browser, web_server, request):
    """Pages on the server; at the end: no request left 127.0.0.1 and no script error happened."""
    screens = Screens(browser, web_server.url, request.node.name)
    yield screens
    screens.close()
    assert screens.outside() == [], f"requests left 127.0.0.1: {screens.outside()}"
    assert screens.errors == [], f"errors in the page: {screens.errors}"


def squad_token(store, code: str) -> tuple[int, str]:
    squad_id = store.scalar(select(Squad.id).where(Squad.code == code))
    _, token = issue_token(store, squad_id, label="browser test")
    store.commit()
    return squad_id, token


def wait_until(page, expression: str, timeout: float = 10.0) -> None:
    """Poll ``expression`` in the page until it is truthy. Playwright's wait_for_function polls
    with eval inside the page, which the pages' Content-Security-Policy (no 'unsafe-eval')
    refuses; page.evaluate runs through the DevTools protocol, outside the policy."""
    import time

    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        time.sleep(0.05)
