"""Supervisors who act (issue 32: "/supervisor has no forms"): in a browser, in Chinese and in English, the
person signs in through the form and acts from /supervisor, /supervisor/meetings and /supervisor/campaigns.
Each form posts to the API route scripts use, so the domain's rule and record apply
(dispatch.http.oversight_desk); a form shows only for whom the server lets act, and a refusal is worded in
the page's language with the rule named. axe-core finds no WCAG 2 A/AA violation on the pages with forms.

Families: a legal review decided by the reviewer in person (seed 002 task 1); a referral answered by the
department it was sent to (seed 000 §2.3); a dispute's coordination by the office over both parties
(seed 004 arts. 6-9); a meeting task's feedback by its owner and a campaign finding's check by the
department that found it (seed 003 annex 三, §7).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from dispatch.accounts import add_account
from dispatch.oversight.models import OversightBody
from dispatch.store.models import Authority
from tests.conftest import PASSWORD, Api, org_token, person_token
from tests.factories import incident_body
from tests.oversight.factories import case_body
from tests.web.conftest import wait_until
from tests.web.test_command_a11y import AXE, RUN, TAGS, _report

pytestmark = pytest.mark.live
SCREEN = {"width": 1366, "height": 900}
RULE = {  # a word of the rule each refusal names (dispatch.http.oversight_desk.RULES)
    "zh": {"review": "大兴安岭", "referral": "新绛县", "dispute": "衢州市", "meeting": "贵阳市", "campaign": "贵阳市"},
    "en": {"review": "Daxinganling", "referral": "Xinjiang", "dispute": "Quzhou", "meeting": "Guiyang",
           "campaign": "Guiyang"},
}  # fmt: skip
SAVED = {"zh": "已办理", "en": "Saved"}
REFUSED = {"zh": "未办理", "en": "Refused"}


def _client(server, code: str) -> Api:
    return Api(server.url, org_token(code))


@pytest.fixture(scope="module")
def people(web_server, web_store):
    """Accounts of the organisations that act here (the template has the reviewers' own)."""
    for username, kind, code in (
        ("desk-emergency", Authority, "dept-emergency"),
        ("desk-market", Authority, "dept-market"),
        ("desk-coordination", OversightBody, "shengsi-coordination"),
    ):
        row = web_store.scalar(select(kind).where(kind.code == code))
        scope = {"authority_id": row.id} if kind is Authority else {"body_id": row.id}
        add_account(web_store, username, "supervisor", PASSWORD, username, region_id=row.region_id, **scope)
    web_store.commit()


def _sign_in(screens, username: str, lang: str):
    context = screens.browser.new_context(viewport=SCREEN, base_url=screens.base_url)
    screens.contexts.append(context)
    context.add_cookies([{"name": "lang", "value": lang, "url": screens.base_url}])
    context.add_init_script(path=str(AXE))
    form = context.request.get("/login").text()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = context.request.post(
        "/login", form={"username": username, "csrf_token": csrf, "password": PASSWORD}, max_redirects=0
    )
    assert answer.status == 302, answer.text()
    return context


def _open(screens, context, path: str):
    page = screens.page(context=context)
    page.goto(path)
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    return page


def _axe_clean(page):
    found = page.evaluate(RUN, TAGS)
    assert found == [], _report(found)


def _submit(page, form: str):
    """Open the form's disclosure, send it; a saved act reloads the page with the flash."""
    with page.expect_navigation():
        page.click(f"#{form} button[type=submit]")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#desk-flash").get_attribute("data-form") == form


def _refusal(page, form: str) -> str:
    page.click(f"#{form} button[type=submit]")
    wait_until(page, f"document.querySelector('#{form} .answer').textContent.length > 0")
    return page.text_content(f"#{form} .answer")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_seed002_task1_the_reviewer_decides_a_legal_review_on_the_supervisors_page(
    screens, web_server, web_store, people, lang
):
    bureau = _client(web_server, "county-bureau")
    reviews = []
    for _ in range(2):
        case = bureau.post("/cases", case_body(web_store, major=True))
        assert case.status_code == 201, case.text
        review = bureau.post(f"/cases/{case.json()['id']}/legal-reviews", {"proposed_decision": "罚款20万元"})
        assert review.status_code == 201, review.text
        reviews.append((case.json()["id"], review.json()["id"]))
    (case_id, first), (_, second) = reviews

    # a supervisor of the justice bureau reads the queue but is no reviewer of the bureau: no form
    other = _open(screens, _sign_in(screens, "test-supervisor", lang), "/supervisor")
    assert other.locator(f"#review-row-{first}").count() == 1 and other.locator(f"#review-{first}").count() == 0

    page = _open(screens, _sign_in(screens, "reviewer-cb-wang", lang), "/supervisor")
    page.click(f"#review-{first}-act summary")
    _axe_clean(page)
    page.check(f"#review-{first} input[value=failed]")
    page.fill(f"#review-{first}-reasons", "事实认定不清,退回补充调查")
    screens.screenshot(page, "filled")
    _submit(page, f"review-{first}")
    assert SAVED[lang] in page.text_content("#desk-flash")
    assert page.locator(f"#review-row-{first}").count() == 0
    decided = bureau.get(f"/cases/{case_id}").json()
    assert [(r["status"], r["reasons"]) for r in decided["reviews"] if r["id"] == first] == [
        ("failed", "事实认定不清,退回补充调查")
    ]
    assert any(e["action"] == "legal_review.failed" and e["actor"] == "reviewer-cb-wang" for e in decided["events"])

    # meanwhile another reviewer decides the second one: the form's answer is the domain's refusal
    page.click(f"#review-{second}-act summary")
    page.fill(f"#review-{second}-reasons", "同意")
    chen = Api(web_server.url, person_token("reviewer-cb-chen"))
    assert chen.post(f"/legal-reviews/{second}/outcome", {"outcome": "passed", "reasons": "同意"}).status_code == 200
    text = _refusal(page, f"review-{second}")
    screens.screenshot(page, "refused")
    assert REFUSED[lang] in text and "409" in text and RULE[lang]["review"] in text
    assert ("已办结" if lang == "zh" else "already decided") in text
    for client in (bureau, chen):
        client.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_seed000_2_3_and_seed004_art8_the_department_answers_and_the_office_coordinates(
    screens, web_server, people, lang
):
    bureau = _client(web_server, "county-bureau")
    culture = _client(web_server, "dept-culture")
    lead = {"to": "dept-emergency", "matter": "EM-001", "summary": f"渔港码头堆放液化气钢瓶 {lang}"}
    referral = bureau.post("/referrals", lead).json()["id"]
    incident = bureau.post("/incidents", incident_body(at=(122.4676, 30.7155), description=f"沙滩帐篷 {lang}"))
    squads = bureau.get("/squads").json()["features"]
    squad = next(f["id"] for f in squads if f["properties"]["code"] == "cb-caiyuan")
    dispute = bureau.post("/disputes", {"party_a": "county-bureau", "party_b": "dept-culture",
                                        "incident_id": incident.json()["id"], "subject": f"帐篷经营管辖 {lang}",
                                        "provisional_squad_id": squad})  # fmt: skip
    assert dispute.status_code == 201, dispute.text
    dispute_id = dispute.json()["id"]
    point = {"point": "沙滩帐篷经营", "view_a": "属文旅", "basis_a": "条例", "view_b": "属综合执法", "basis_b": "目录"}
    asked = culture.post(f"/disputes/{dispute_id}/steps", {"step": "request", "points": [point]})
    assert asked.status_code == 200, asked.text

    # the department the lead went to answers it; the coordination office has no referral form
    office = _sign_in(screens, "desk-coordination", lang)
    seen = _open(screens, office, "/supervisor")
    assert seen.locator(f"#referral-{referral}").count() == 0
    page = _open(screens, _sign_in(screens, "desk-emergency", lang), "/supervisor")
    assert page.locator(f"#dispute-{dispute_id}-coordinate").count() == 0, "a department does not coordinate"
    page.click(f"#referral-{referral}-act summary")
    _axe_clean(page)
    page.check(f"#referral-{referral} input[value=explained]")
    page.fill(f"#referral-{referral}-note", "钢瓶已由燃气公司回收,无需处理")
    _submit(page, f"referral-{referral}")
    answered = bureau.get("/referrals", status="explained").json()["referrals"]
    assert any(r["id"] == referral and r["response"] == "钢瓶已由燃气公司回收,无需处理" for r in answered)

    # the coordination office: a blank opinion is refused by the server with the field and the rule named
    page = _open(screens, office, "/supervisor")
    form = f"dispute-{dispute_id}-coordinate"
    page.click(f"#{form}-act summary")
    _axe_clean(page)
    page.fill(f"#{form}-text", "   ")
    text = _refusal(page, form)
    assert REFUSED[lang] in text and "opinion" in text and RULE[lang]["dispute"] in text
    page.fill(f"#{form}-text", "经协调,双方同意由县综合执法局管辖")
    page.check(f"#{form} input[name=agreed][value=true]")
    page.select_option(f"#{form}-competent", "county-bureau")
    screens.screenshot(page, "coordinate")
    _submit(page, form)
    shown = bureau.get(f"/disputes/{dispute_id}").json()
    assert shown["stage"] == "resolved" and shown["competent_authority"]["code"] == "county-bureau"
    assert page.locator(f"#dispute-row-{dispute_id}").count() == 0
    for client in (bureau, culture):
        client.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_seed003_annex3_and_7_the_owner_reports_back_and_the_department_checks_its_finding(
    screens, web_server, people, lang
):
    bureau = _client(web_server, "county-bureau")
    held = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).replace(microsecond=0).isoformat()
    meeting = bureau.post("/meetings", {"kind": "regular", "title": f"联席会议 {lang}", "held_at": held,
                                        "convenor": "county-bureau", "participants": ["dept-market"],
                                        "minutes": "市场监管局排查海鲜排档证照"})  # fmt: skip
    assert meeting.status_code == 201, meeting.text
    meeting_id = meeting.json()["id"]
    task = bureau.post(f"/meetings/{meeting_id}/tasks", {"decision": f"排查证照 {lang}", "owner": "dept-market",
                                                         "working_days": 5}).json()["id"]  # fmt: skip
    today = dt.date.today()
    campaign = bureau.post("/campaigns", {"title": f"综合查一次 {lang}", "plan": "同日入户", "lead": "county-bureau",
                                          "departments": ["dept-market"], "regions": ["330922100"],
                                          "starts_on": str(today - dt.timedelta(days=5)),
                                          "ends_on": str(today + dt.timedelta(days=30))})  # fmt: skip
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]
    target = bureau.post(
        f"/campaigns/{campaign_id}/targets",
        {
            "name": f"排档 {lang}",
            "business_id": f"91330922MA2B3C4D{'5E' if lang == 'zh' else '6F'}",
            "location": {"type": "Point", "coordinates": [122.452 + (lang == "en") * 0.01, 30.725]},
        },
    )
    assert target.status_code == 201, target.text
    target = target.json()["id"]
    visit = bureau.post(f"/campaigns/{campaign_id}/findings", {"target_id": target, "findings": [
        {"authority": "dept-market", "result": "violation", "note": "许可证过期", "rectify_by": str(today + dt.timedelta(days=10))}]})  # fmt: skip
    assert visit.status_code == 201, visit.text
    finding = visit.json()["findings"][0]["id"]

    other = _open(screens, _sign_in(screens, "desk-emergency", lang), "/supervisor/meetings")
    assert other.locator(f"#task-{task}").count() == 0, "only the owner reports back"
    market = _sign_in(screens, "desk-market", lang)
    page = _open(screens, market, "/supervisor/meetings")
    assert page.get_attribute("html", "lang") == ("en" if lang == "en" else "zh-CN")
    page.click(f"#task-{task}-act summary")
    _axe_clean(page)
    page.fill(f"#task-{task}-feedback", "已排查32家,整改3家")
    _submit(page, f"task-{task}")
    done = bureau.get(f"/meetings/{meeting_id}/tasks").json()["tasks"]
    assert [(t["status"], t["feedback"]) for t in done if t["id"] == task] == [("done", "已排查32家,整改3家")]
    assert page.locator(f"#task-{task}").count() == 0

    page = _open(screens, market, "/supervisor/campaigns")
    form = f"finding-{finding}"
    page.click(f"#{form}-act summary")
    _axe_clean(page)
    page.check(f"#{form} input[value=false]")
    page.fill(f"#{form}-note", "复查仍未办理许可证")
    # someone of the department checked it meanwhile: the domain's refusal, in the page's language
    again = bureau.post(f"/campaigns/{campaign_id}/findings/{finding}/check", {"rectified": True, "note": "x"},
                        headers={"Authorization": f"Bearer {org_token('dept-market')}"})  # fmt: skip
    assert again.status_code == 200, again.text
    text = _refusal(page, form)
    screens.screenshot(page, "campaign-refused")
    assert REFUSED[lang] in text and "409" in text and RULE[lang]["campaign"] in text
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator(f"#{form}").count() == 0
    bureau.close()
