"""The API reference at /api/v1/docs, drawn in Chromium from the OpenAPI 3.1 document alone."""

from __future__ import annotations

import json

from dispatch.http.contract import EXAMPLES_FILE
from tests.web.conftest import wait_until

INTAKE = "details.op[data-method='POST'][data-path='/api/v1/incidents']"


def test_the_reference_shows_intake_with_its_recorded_example_request_and_answer(screens):
    page = screens.page()  # signed in as an admin; nothing opened yet
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.goto("/api/v1/docs#op-create_incident")
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)

    # Every operation of the document is on the page, under its tag.
    operations = page.evaluate(
        """async () => {
            const doc = await (await fetch("openapi.json")).json();
            return Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
        }"""
    )
    assert page.locator("details.op").count() == operations
    assert int(page.evaluate("document.body.dataset.operations")) == operations
    assert page.locator("section.tag-section h2", has_text="incidents").count() == 1

    # The link in the address opened POST /api/v1/incidents: its body, its answers, its examples.
    intake = page.locator(INTAKE)
    assert intake.get_attribute("open") is not None
    assert intake.locator(":scope > summary .m").inner_text().upper() == "POST"
    matters = intake.locator("tr", has=page.locator("td.name", has_text="matters")).first
    assert "required" in matters.inner_text()
    source = intake.locator("tr", has=page.locator("td.name", has_text="source")).first
    assert "hotline_12345" in source.inner_text(), "the enum of the source is shown"
    description = intake.locator("tr", has=page.locator("td.name", has_text="description")).first
    assert "not blank" in description.inner_text() and "\\x00" not in description.inner_text(), "text reads as text"
    recorded = json.loads(EXAMPLES_FILE.read_text(encoding="utf-8"))["POST /api/v1/incidents"]
    request = json.loads(intake.locator("pre.example-request").inner_text())
    assert request == recorded["request"]
    assert request["matters"] == ["CM-001"] and request["location"]["type"] == "Point"
    answer = json.loads(intake.locator("pre.example-answer[data-status='201']").inner_text())
    assert answer == recorded["answer"] and answer["status"] == "open"
    assert intake.locator("tr.answer[data-status='201']").count() == 1
    links = intake.locator("tr.answer[data-status='201'] a")
    assert "show_incident" in links.all_inner_texts(), "the 201 links to the operations that read the incident"

    # A link leads to its operation and opens it; the filter narrows the list.
    links.filter(has_text="dispatch_incident").first.click()
    dispatch = page.locator("#op-dispatch_incident")
    # the page opens it on the address's change (hashchange): asynchronously, after the click
    wait_until(page, "document.getElementById('op-dispatch_incident').open")
    assert dispatch.get_attribute("open") is not None
    assert dispatch.locator("pre.example-request").count() == 1
    page.fill("nav input[type=search]", "criminal-referrals")
    visible = page.locator("details.op:not([hidden])")
    assert visible.count() >= 1
    assert all("criminal-referrals" in path for path in visible.evaluate_all("ns => ns.map(n => n.dataset.path)"))
    page.fill("nav input[type=search]", "")

    # The document's text is text: no markup came from it.
    assert page.locator("#ops script, #ops img, #ops iframe").count() == 0
    page.locator(INTAKE).scroll_into_view_if_needed()
    screens.screenshot(page, "intake")
    assert console_errors == []


HOSTILE = '<img src="pwned.png" data-pwned="1"><script>window.pwned = 1</script>'


def test_the_documents_text_is_never_markup(screens):
    """Every string of the document (summaries, descriptions, names, enums, examples) goes in as text."""
    page = screens.page()

    def poisoned(route):
        doc = route.fetch().json()
        op = doc["paths"]["/api/v1/incidents"]["post"]
        op["summary"] = op["description"] = HOSTILE
        intake = doc["components"]["schemas"][
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
        ]
        intake["properties"]["source"]["enum"].append(HOSTILE)
        intake["properties"][HOSTILE] = {"type": "string", "description": HOSTILE}
        op["requestBody"]["content"]["application/json"]["example"] = {"description": HOSTILE}
        route.fulfill(json=doc)

    page.route("**/api/v1/openapi.json", poisoned)
    page.goto("/api/v1/docs#op-create_incident")
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    intake = page.locator(INTAKE)
    assert HOSTILE in intake.locator(":scope > summary").inner_text()
    assert json.loads(intake.locator("pre.example-request").inner_text()) == {"description": HOSTILE}
    assert page.locator("[data-pwned]").count() == 0 and page.evaluate("window.pwned") is None
    assert not [url for url in screens.requests if "pwned" in url]
