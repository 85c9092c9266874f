"""Accounts, tokens and the one permission matrix, tested as a table."""

import re

import pytest
from sqlalchemy import select

from dispatch.accounts import PERMISSIONS, add_account, forget_tokens
from dispatch.http.auth import action_for
from dispatch.store.models import Account, Squad
from dispatch.tablets import issue_token
from tests.conftest import TOKENS
from tests.factories import incident_body

ROLE_TOKENS = {role: token for name, (role, token) in TOKENS.items() if name == role}
ROLE_TOKENS["admin"] = TOKENS["api"][1]


def _path(rule) -> str:
    return re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule).replace(".<fmt>", ".json")


def test_every_endpoint_is_in_the_matrix(app):
    missing = sorted(
        {
            r.endpoint
            for r in app.url_map.iter_rules()
            for m in r.methods - {"HEAD", "OPTIONS"}
            if action_for(r.endpoint, m) is None
        }
    )
    assert missing == [], "endpoints refused to everyone until the matrix names them"


def test_anonymous_gets_401_everywhere_but_health_and_the_public_intake(app, anonymous):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            action = action_for(rule.endpoint, method)
            response = anonymous.open(_path(rule), method=method, json=None if method == "GET" else {})
            if action == "public":
                assert response.status_code != 401, rule.rule
            elif rule.rule.startswith(("/api/", "/ogc", "/metrics")):
                assert response.status_code == 401, (method, rule.rule, response.status_code)
                assert response.get_json()["error"]["code"] == "unauthorized"
            else:  # pages send a person to the sign-in page
                assert response.status_code == 302 and "/login" in response.headers["Location"], rule.rule


# One representative request per action: (method, path, body).
REQUESTS = {
    "read_reference": ("GET", "/api/v1/regions", None),
    "intake": ("POST", "/api/v1/incidents", incident_body()),
    "read_operations": ("GET", "/api/v1/incidents", None),
    "dispatch": ("GET", "/api/v1/joint-inspections/proposals", None),
    "read_task": ("GET", "/api/v1/tasks/424242", None),
    "act_on_task": ("POST", "/api/v1/tasks/424242/transition", {"to": "acknowledged"}),
    "report_position": ("POST", "/api/v1/squads/1/positions", {"fixes": []}),
    "own_tasks": ("GET", "/api/v1/tablet/tasks", None),
    "read_plans": ("GET", "/api/v1/plans", None),
    "edit_plans": ("POST", "/api/v1/plans/424242/validate", {}),
    "publish_catalogue": ("POST", "/api/v1/catalogue/versions", {}),
    "read_oversight": ("GET", "/api/v1/certificates", None),
    "oversee": ("POST", "/api/v1/referrals/escalate-overdue", {}),
    "monitor": ("GET", "/metrics", None),
    "edit_rosters": ("DELETE", "/api/v1/shifts/424242", None),
    "set_squad_status": ("PUT", "/api/v1/squads/424242/status", {"status": "off_duty"}),
    "manage_certificates": ("POST", "/api/v1/certificate-actions/424242/lift", {"document": "嵊综执〔2026〕1号"}),
    "reload_reference": ("POST", "/api/v1/transport/timetables/reload", {"dataset": "shengsi"}),
}
ROLES = ("dispatcher", "planner", "supervisor", "admin", "squad")
TABLE = [(role, action) for role in ROLES for action in REQUESTS]


@pytest.mark.parametrize(("role", "action"), TABLE, ids=[f"{r}-{a}" for r, a in TABLE])
def test_permission_matrix(app, anonymous, session, role, action):
    if role == "squad":
        squad_id = session.scalar(select(Squad.id).where(Squad.code == "cb-shengshan"))
        token = issue_token(session, squad_id)[1]
        session.commit()
    else:
        token = ROLE_TOKENS[role]
    method, path, body = REQUESTS[action]
    if action == "report_position" and role == "squad":
        path = f"/api/v1/squads/{squad_id}/positions"
    try:
        app.url_map.bind("localhost").match(path, method)
    except Exception:  # noqa: BLE001 - NotFound or MethodNotAllowed
        pytest.skip(f"{method} {path} is not served in this build")
    response = anonymous.open(path, method=method, json=body, headers={"Authorization": f"Bearer {token}"})
    if role in PERMISSIONS[action]:
        assert response.status_code not in (401, 403), (role, action, response.get_data(as_text=True)[:200])
    else:
        assert response.status_code == 403, (role, action, response.status_code)
        assert response.get_json()["error"]["code"] == "forbidden"


def test_a_squad_acts_on_its_own_tasks_only(app, anonymous, client, session):
    squads = {s.code: s.id for s in session.scalars(select(Squad))}
    own = issue_token(session, squads["cb-shengshan"])[1]
    session.commit()
    incident = client.post("/api/v1/incidents", json=incident_body()).get_json()
    task = client.post(
        f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [squads["cb-shengshan"]]}
    ).get_json()["tasks"][0]
    other = client.post("/api/v1/incidents", json=incident_body(at=(122.45, 30.73))).get_json()
    foreign = client.post(
        f"/api/v1/incidents/{other['id']}/dispatch", json={"squad_ids": [squads["cb-caiyuan"]]}
    ).get_json()["tasks"][0]
    as_squad = {"Authorization": f"Bearer {own}"}
    ok = anonymous.post(f"/api/v1/tasks/{task['id']}/transition", json={"to": "acknowledged"}, headers=as_squad)
    assert ok.status_code == 200
    events = client.get(f"/api/v1/incidents/{incident['id']}/events").get_json()["events"]
    assert events[-1]["actor"] == f"squad-{squads['cb-shengshan']}"
    refused = anonymous.post(f"/api/v1/tasks/{foreign['id']}/transition", json={"to": "acknowledged"}, headers=as_squad)
    assert refused.status_code == 403
    assert anonymous.get(f"/api/v1/tasks/{foreign['id']}", headers=as_squad).status_code == 403
    assert anonymous.get("/api/v1/incidents", headers=as_squad).status_code == 403
    assert anonymous.get(f"/api/v1/incidents/{incident['id']}", headers=as_squad).status_code == 200
    assert anonymous.get(f"/api/v1/incidents/{other['id']}", headers=as_squad).status_code == 403


def test_people_sign_in_with_a_password_and_a_csrf_token(app, anonymous, session):
    add_account(session, "wang.dispatch", "dispatcher", "correct horse battery", "王调度")
    session.commit()
    stored = session.scalar(select(Account.password_hash).where(Account.username == "wang.dispatch"))
    assert stored.startswith("$argon2id$")
    form = anonymous.get("/login?next=/api/v1/incidents").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert anonymous.post("/login", data={"username": "wang.dispatch", "password": "x"}).status_code == 400
    wrong = anonymous.post("/login", data={"username": "wang.dispatch", "password": "wrong", "csrf_token": csrf})
    assert wrong.status_code == 401
    right = anonymous.post(
        "/login",
        data={
            "username": "wang.dispatch",
            "password": "correct horse battery",
            "csrf_token": csrf,
            "next": "/api/v1/incidents",
        },
    )
    assert right.status_code == 302 and right.headers["Location"].endswith("/api/v1/incidents")
    assert anonymous.get("/api/v1/incidents").status_code == 200
    claimed = anonymous.post("/api/v1/incidents", json=incident_body(), headers={"X-Actor": "someone else"})
    assert claimed.status_code == 403 and claimed.get_json()["error"]["code"] == "actor_not_allowed"
    created = anonymous.post("/api/v1/incidents", json=incident_body())
    assert created.get_json()["created_by"] == "wang.dispatch", "a person cannot claim another name"
    assert anonymous.post("/api/v1/plans", json={}).status_code == 403, "a dispatcher does not edit plans"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', anonymous.get("/login").get_data(as_text=True)).group(1)
    anonymous.post("/logout", data={"csrf_token": csrf})
    assert anonymous.get("/api/v1/incidents").status_code == 401


def test_api_tokens_from_the_command_line_and_their_revocation(app, runner, anonymous):
    result = runner.invoke(args=["api-token", "--role", "dispatcher", "hotline-bridge"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("dpt_")
    headers = {"Authorization": f"Bearer {token}"}
    created = anonymous.post("/api/v1/incidents", json=incident_body(), headers=headers)
    assert created.status_code == 201 and created.get_json()["created_by"] == "hotline-bridge"
    token_id = re.search(r"API token (\d+)", result.output).group(1)
    assert runner.invoke(args=["api-token", "--revoke", token_id]).exit_code == 0
    forget_tokens()
    assert anonymous.get("/api/v1/incidents", headers=headers).status_code == 401
    assert anonymous.get("/api/v1/incidents", headers={"Authorization": "Bearer dpt_forged"}).status_code == 401


def test_intake_is_rate_limited_per_key(app, client):
    from dispatch.http import auth

    auth._recent.clear()  # the window is per process; earlier tests used the same key
    app.config["INTAKE_RATE_PER_MINUTE"] = 3
    codes = [
        client.post("/api/v1/incidents", json=incident_body(at=(122.45 + i * 0.01, 30.73))).status_code
        for i in range(4)
    ]
    assert codes == [201, 201, 201, 429]
    limited = client.post("/api/v1/incidents", json=incident_body())
    assert limited.headers["Retry-After"] == "60" and limited.get_json()["error"]["code"] == "rate_limited"


def test_bearer_requests_leave_no_session_trace_and_a_forged_cookie_signs_nobody_in(client, anonymous):
    answer = client.get("/api/v1/incidents")
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers and "Cookie" not in answer.headers.get("Vary", "")
    anonymous.set_cookie("session", "eyJhY2NvdW50X2lkIjoxfQ.forged.signature")
    assert anonymous.get("/api/v1/incidents").status_code == 401


def test_each_start_revokes_the_demo_tablet_token_of_the_start_before(app, session, capsys):
    """`make run` prints a new demo tablet token each start; the one it printed before stops working."""
    from dispatch.commands import DEMO_TABLET_LABEL, _print_demo_access
    from dispatch.store.models import TabletToken
    from dispatch.tablets import squad_for_token

    def printed_token() -> str:
        _print_demo_access(app)
        line = [ln for ln in capsys.readouterr().out.splitlines() if "tablet token for" in ln][0]
        return line.rsplit(" ", 1)[-1]

    squad_id = session.scalar(select(Squad.id).where(Squad.code == "cb-shengshan"))
    other = issue_token(session, squad_id, "tablet 7")[1]  # a real tablet's token is left alone
    session.commit()
    first = printed_token()
    second = printed_token()
    assert first != second
    session.expire_all()
    assert squad_for_token(session, first) is None
    assert squad_for_token(session, second) == squad_id
    assert squad_for_token(session, other) == squad_id
    live = session.scalars(
        select(TabletToken).where(TabletToken.label == DEMO_TABLET_LABEL, TabletToken.revoked_at.is_(None))
    ).all()
    assert len(live) == 1
    session.rollback()
