"""Issue 25, tried as an attacker would: identities that cannot be forged, no known passwords,
sessions that end, scope by place, and what the record and `audit verify` show."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from sqlalchemy import select

from dispatch.accounts import add_account, add_api_token, ensure_demo_accounts, forget_tokens
from dispatch.config import PROJECT_ROOT
from dispatch.http.auth import ENDPOINT_ACTIONS, scope_rule_for
from dispatch.recommend import invalidate_caches
from dispatch.seed import load_dataset_into
from dispatch.signin import LOCK_AFTER
from dispatch.store.models import Account, AccountSession, ApiToken, Authority, Event, Region
from dispatch.tablets import issue_token, revoke
from gis.reference import load_dataset
from tests.conftest import PASSWORD
from tests.factories import incident_body, make_squad

GOUQI = (122.77, 30.72)
CAIYUAN = (122.45, 30.73)
GOUQI_TOWNSHIP = "330922202"


def _csrf(client, path: str = "/login") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def _sign_in(client, username: str, password: str = PASSWORD, **extra):
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": _csrf(client), **extra}
    )


def _region_id(session, code: str) -> int:
    return session.scalar(select(Region.id).where(Region.code == code))


# -- 1. identity ------------------------------------------------------------------------------------


def test_x_actor_is_refused_unless_the_token_may_act_for_and_the_account_exists_in_its_scope(client, session):
    add_account(session, "li.hotline", "dispatcher", PASSWORD, region_id=_region_id(session, "330922"))
    add_api_token(session, "bridge", "dispatcher", "dpt_test-bridge", act_for=True)
    add_api_token(session, "guiyang-bridge", "dispatcher", "dpt_test-gy", act_for=True,
                  region_id=_region_id(session, "330922202"))  # fmt: skip
    session.commit()
    admin = client.post("/api/v1/incidents", json=incident_body(), headers={"X-Actor": "li.hotline"})
    assert admin.status_code == 403 and admin.get_json()["error"] == {
        "code": "actor_not_allowed",
        "message": "X-Actor is only for integration tokens granted act-for; your own identity is recorded",
        "field": "X-Actor",
    }
    bridge = {"Authorization": "Bearer dpt_test-bridge"}
    unknown = client.post("/api/v1/incidents", json=incident_body(), headers={**bridge, "X-Actor": "nobody"})
    assert unknown.status_code == 403 and unknown.get_json()["error"]["field"] == "X-Actor"
    narrow = {"Authorization": "Bearer dpt_test-gy", "X-Actor": "li.hotline"}  # a county account, a township token
    assert client.post("/api/v1/incidents", json=incident_body(), headers=narrow).status_code == 403
    created = client.post("/api/v1/incidents", json=incident_body(), headers={**bridge, "X-Actor": "li.hotline"})
    assert created.status_code == 201
    event = session.scalar(select(Event).where(Event.action == "incident.created"))
    assert (event.actor, event.on_behalf_of) == ("bridge", "li.hotline")


def test_audit_verify_shows_principal_and_on_behalf_of_and_both_are_in_the_hash(client, session, runner, database_url):
    add_account(session, "li.hotline", "dispatcher", PASSWORD)
    add_api_token(session, "bridge", "dispatcher", "dpt_test-bridge", act_for=True)
    session.commit()
    headers = {"Authorization": "Bearer dpt_test-bridge", "X-Actor": "li.hotline"}
    assert client.post("/api/v1/incidents", json=incident_body(), headers=headers).status_code == 201
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "incident.created: bridge on behalf of li.hotline" in result.output
    import psycopg

    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("ALTER TABLE event DISABLE TRIGGER event_no_update_delete")  # an attacker with the database
        conn.execute("UPDATE event SET on_behalf_of = 'wang.other' WHERE action = 'incident.created'")
        conn.execute("ALTER TABLE event ENABLE TRIGGER event_no_update_delete")
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1 and "does not match its hash" in broken.output


# -- 2. no known passwords ---------------------------------------------------------------------------


def test_the_production_start_makes_no_account_and_nobody_signs_in_until_an_administrator_is_made(
    start_server, empty_database_url, tmp_path
):
    server = start_server(production=True, DATABASE_URL=empty_database_url)  # an empty database: seeds Shengsi
    import requests

    http = requests.Session()
    form = http.get(f"{server.url}/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    for username in ("admin", "dispatcher", "supervisor", "planner"):
        answer = http.post(
            f"{server.url}/login",
            data={"username": username, "password": f"demo-{username}", "csrf_token": csrf},
            allow_redirects=False,
        )
        assert answer.status_code in (401, 429), username  # wrong, then this address waits
    assert "demo-admin" not in server.log() and "nobody can sign in" in server.log()


def test_the_first_administrator_comes_from_a_password_file_read_at_start(start_server, empty_database_url, tmp_path):
    secret = tmp_path / "admin-password"
    secret.write_text("a long and uncommon sentence\n")
    server = start_server(production=True, DATABASE_URL=empty_database_url, DISPATCH_ADMIN_PASSWORD_FILE=secret)
    assert "created the administrator admin" in server.log()
    import requests

    http = requests.Session()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', http.get(f"{server.url}/login").text).group(1)
    answer = http.post(
        f"{server.url}/login",
        data={"username": "admin", "password": "a long and uncommon sentence", "csrf_token": csrf},
        allow_redirects=False,
    )
    assert answer.status_code == 302


def test_demo_accounts_are_made_once_and_a_deleted_or_changed_one_does_not_come_back(session):
    for table in (ApiToken.__table__, AccountSession.__table__, Account.__table__):  # a database with no account
        session.execute(table.delete().where(table.c.account_id.isnot(None)) if table is ApiToken.__table__ else
                        table.delete())  # fmt: skip
    session.commit()
    assert [a[0] for a in ensure_demo_accounts(session)] == ["dispatcher", "planner", "supervisor", "admin"]
    session.commit()
    admin = session.scalar(select(Account).where(Account.username == "admin"))
    admin.username = "root"  # renamed by its administrator
    session.execute(Account.__table__.delete().where(Account.username == "planner"))
    session.commit()
    again = [a[0] for a in ensure_demo_accounts(session)]
    assert again == ["dispatcher", "supervisor"], "no demo admin or demo planner again"
    assert session.scalar(select(Account.id).where(Account.username == "admin")) is None


def test_account_commands_prompt_check_the_policy_and_end_sessions(app, runner, anonymous, tmp_path):
    weak = runner.invoke(args=["add-account", "zhao", "--role", "admin"], input="password1\npassword1\n")
    assert weak.exit_code == 1 and "at least 10 characters" in weak.output
    common = runner.invoke(args=["add-account", "zhao", "--role", "admin"], input="1234567890\n1234567890\n")
    assert common.exit_code == 1 and "most common passwords" in common.output
    assert "--password" not in runner.invoke(args=["add-account", "--help"]).output.replace("--password-file", "")
    made = runner.invoke(args=["add-account", "zhao", "--role", "admin"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert made.exit_code == 0, made.output
    assert _sign_in(anonymous, "zhao").status_code == 302
    assert anonymous.get("/api/v1/incidents").status_code == 200
    new_password = tmp_path / "pw"
    new_password.write_text("another long sentence here\n")
    changed = runner.invoke(args=["set-password", "zhao", "--password-file", str(new_password)])
    assert changed.exit_code == 0 and "sessions and tokens are ended" in changed.output
    assert anonymous.get("/api/v1/incidents").status_code == 401, "the old session ended with the password"
    assert _sign_in(anonymous, "zhao", "another long sentence here").status_code == 302
    assert runner.invoke(args=["disable-account", "zhao"]).exit_code == 0
    assert anonymous.get("/api/v1/incidents").status_code == 401
    assert _sign_in(anonymous, "zhao", "another long sentence here").status_code == 401
    assert runner.invoke(args=["enable-account", "zhao"]).exit_code == 0
    assert _sign_in(anonymous, "zhao", "another long sentence here").status_code == 302
    assert runner.invoke(args=["set-role", "zhao", "planner"]).exit_code == 0
    assert anonymous.get("/api/v1/incidents").status_code == 401, "a role change ends the session"
    listing = runner.invoke(args=["list-accounts"]).output
    assert re.search(r"zhao\s+planner\s+everywhere\s+-\s+active", listing), listing


# -- 7. sessions, sign-in ---------------------------------------------------------------------------------


def test_a_cookie_captured_before_logout_no_longer_works(app, anonymous, session):
    assert _sign_in(anonymous, "test-dispatcher").status_code == 302
    stolen = anonymous.get_cookie("session").value
    anonymous.post("/logout", data={"csrf_token": _csrf(anonymous)})
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/api/v1/incidents").status_code == 401
    ended = session.scalar(select(AccountSession.revoked_reason))
    assert ended == "signed_out"


def test_sign_in_is_throttled_then_locked_until_unlocked_and_all_is_on_the_record(app, anonymous, runner, session):
    codes = []
    for _ in range(4):
        codes.append(_sign_in(anonymous, "test-dispatcher", "wrong password").status_code)
    assert codes[:3] == [401, 401, 401]
    assert codes[3] == 429, "the 4th attempt within 2 s waits"
    throttled = _sign_in(anonymous, "test-dispatcher")
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1, "even the right password"
    from dispatch.store.models import LoginThrottle

    # Time passes (the waits double up to 15 minutes): lift the waits, keep the count.
    session.execute(LoginThrottle.__table__.update().values(blocked_until=None))
    session.commit()
    for _ in range(LOCK_AFTER):
        session.execute(LoginThrottle.__table__.update().values(blocked_until=None))
        session.commit()
        last = _sign_in(anonymous, "test-dispatcher", "wrong password")
    assert last.status_code == 423
    session.execute(LoginThrottle.__table__.update().values(blocked_until=None))
    session.commit()
    assert _sign_in(anonymous, "test-dispatcher").status_code == 423, "locked: the right password does not open it"
    assert "locked" in runner.invoke(args=["list-accounts"]).output
    assert runner.invoke(args=["unlock-account", "test-dispatcher"]).exit_code == 0
    session.execute(LoginThrottle.__table__.delete())  # the address's wait too
    session.commit()
    assert _sign_in(anonymous, "test-dispatcher").status_code == 302
    actions = session.scalars(select(Event.action).where(Event.entity_type == "account")).all()
    assert {"account.sign_in_failed", "account.locked", "account.unlocked", "account.signed_in"} <= set(actions)


@pytest.mark.parametrize(
    "target", ["/%09/evil.example", "//evil.example", "/\\evil.example", "https://evil.example", "/%0a/evil"]
)
def test_next_only_leads_to_this_site(anonymous, target):
    answer = anonymous.post(
        "/login",
        data={"username": "test-dispatcher", "password": PASSWORD, "csrf_token": _csrf(anonymous), "next": target},
    )
    # never the outside address: the dispatcher's own screen (every role lands on its own)
    assert answer.status_code == 302 and answer.headers["Location"] == "/command"
    form = anonymous.get(f"/login?next={target}").get_data(as_text=True)
    assert 'name="next" value="/"' in form


def test_session_cookies_are_secure_over_https(app):
    https = app.test_client()
    https.get("/login", base_url="https://dispatch.example")
    cookie = https.get_cookie("session", domain="dispatch.example")
    assert cookie is not None and cookie.secure
    plain = app.test_client()
    plain.get("/login")
    assert not plain.get_cookie("session").secure


# -- 5. scope ------------------------------------------------------------------------------------------


def test_every_endpoint_has_a_scope_rule(app):
    missing = [rule.endpoint for rule in app.url_map.iter_rules() if scope_rule_for(rule.endpoint) is None]
    assert missing == []
    assert set(ENDPOINT_ACTIONS) <= {r.endpoint for r in app.url_map.iter_rules()} | {"socketio_transport"}


def test_a_township_account_sees_and_directs_its_zone_only(app, client, anonymous, session):
    gouqi = session.scalar(select(Region).where(Region.code == GOUQI_TOWNSHIP))
    add_account(session, "gouqi.duty", "dispatcher", PASSWORD, region_id=gouqi.id)
    session.commit()
    ours = client.post("/api/v1/incidents", json=incident_body(at=GOUQI)).get_json()
    theirs = client.post("/api/v1/incidents", json=incident_body(at=CAIYUAN)).get_json()
    assert _sign_in(anonymous, "gouqi.duty").status_code == 302
    listed = {i["id"] for i in anonymous.get("/api/v1/incidents").get_json()["incidents"]}
    assert ours["id"] in listed and theirs["id"] not in listed
    snapshot = anonymous.get("/api/v1/command/snapshot").get_json()
    assert {i["id"] for i in snapshot["incidents"]} == {ours["id"]}
    refused = anonymous.get(f"/api/v1/incidents/{theirs['id']}")
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "out_of_scope"
    assert anonymous.post(f"/api/v1/incidents/{theirs['id']}/dispatch", json={"squad_ids": [1]}).status_code == 403
    far = make_squad(session, at=CAIYUAN).id  # stationed in Caiyuan, outside Gouqi's zone
    session.commit()
    sent = anonymous.post(f"/api/v1/incidents/{ours['id']}/dispatch", json={"squad_ids": [far]})
    assert sent.status_code == 403 and "outside your scope" in sent.get_json()["error"]["message"]
    filed = anonymous.post("/api/v1/incidents", json=incident_body(at=CAIYUAN))
    assert filed.status_code == 403, "nor files incidents elsewhere"
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    window = {"start": start.isoformat(), "end": (start + dt.timedelta(days=7)).isoformat()}
    for authority in ("dept-market", "dept-health"):  # two departments, one Caiyuan business: a proposal
        target = {"name": "菜园镇某饭店", "location": {"type": "Point", "coordinates": list(CAIYUAN)}}
        body = {"authority": authority, "target": target, "window": window}
        assert client.post("/api/v1/inspection-requests", json=body).status_code == 201
    assert client.get("/api/v1/inspection-requests").get_json()["requests"], "the county sees them"
    assert client.get("/api/v1/joint-inspections/proposals").get_json()["proposals"]
    assert anonymous.get("/api/v1/inspection-requests").get_json()["requests"] == []
    assert anonymous.get("/api/v1/joint-inspections/proposals").get_json()["proposals"] == []
    assert anonymous.get("/api/v1/joint-inspections").get_json()["joint_inspections"] == []
    assert client.get("/api/v1/plans").get_json()["plans"], "the county's plans"
    assert anonymous.get("/api/v1/plans").get_json()["plans"] == [], "a township edits no county plan"


def test_a_squad_of_another_county_is_not_dispatched_without_an_assistance_request(client, session):
    load_dataset_into(session, load_dataset(PROJECT_ROOT / "gis" / "data" / "guiyang"))
    session.commit()
    invalidate_caches()
    incident = client.post("/api/v1/incidents", json=incident_body(at=GOUQI)).get_json()
    guiyang = make_squad(session, at=(106.71, 26.58), region="520102001", authority="gy-municipal-bureau")
    session.commit()
    refused = client.post(f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [guiyang.id]})
    body = refused.get_json()["error"]
    assert refused.status_code == 409 and body["code"] == "outside_county" and "嵊泗县" in body["message"]
    # Shengsi asks a Guiyang department for assistance on this incident: then its squads may come.
    department = session.scalar(select(Authority.code).where(Authority.code.like("gy-dept-%")).limit(1))
    asked = client.post(
        "/api/v1/assistance-requests",
        json={"from": "county-bureau", "to": department, "incident_id": incident["id"], "question": "请派员协助"},
        headers={"Authorization": "Bearer dpt_test-org-county-bureau"},
    )
    assert asked.status_code == 201, asked.get_json()
    sent = client.post(f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [guiyang.id]})
    assert sent.status_code == 201, sent.get_json()


# -- 6. a revoked tablet --------------------------------------------------------------------------------


@pytest.mark.live
def test_a_revoked_tablet_is_disconnected_within_two_seconds(live_server, store):
    from tests.realtime_clients import Tablet, close_quickly

    squad = make_squad(store, at=GOUQI, region=GOUQI_TOWNSHIP)
    row, token = issue_token(store, squad.id)
    store.commit()
    tablet = Tablet(live_server.url, token)
    try:
        assert tablet.client.connected
        revoke(store, row.id)
        store.commit()
        revoked_at = time.monotonic()
        while tablet.client.connected and time.monotonic() - revoked_at < 10:
            time.sleep(0.05)
        assert not tablet.client.connected, "one sweep a second ends it (dispatch.live.revocations)"
    finally:
        close_quickly(tablet.client)
    forget_tokens()


def test_every_route_about_a_place_refuses_a_principal_scoped_elsewhere(app, client, session):
    """The table: each route whose scope rule names a place, for an admin token of Gouqi township
    (the matrix lets an admin through, so the scope alone refuses) against Caiyuan's records."""
    from dispatch.http.auth import _PLACE_OF

    gouqi = session.scalar(select(Region.id).where(Region.code == GOUQI_TOWNSHIP))
    add_api_token(session, "gouqi-admin", "admin", "dpt_test-gouqi", region_id=gouqi)
    squad = make_squad(session, at=CAIYUAN)
    session.commit()
    incident = client.post("/api/v1/incidents", json=incident_body(at=CAIYUAN)).get_json()
    task = client.post(f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [squad.id]}).get_json()
    plan = client.get("/api/v1/plans").get_json()["plans"][0]
    ids = {"incident_id": incident["id"], "task_id": task["tasks"][0]["id"], "plan_id": plan["id"]}
    gouqi_admin = {"Authorization": "Bearer dpt_test-gouqi"}
    checked = []
    for rule in app.url_map.iter_rules():
        if scope_rule_for(rule.endpoint) not in _PLACE_OF or rule.arguments - set(ids):
            continue
        url = rule.build({k: ids[k] for k in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            answer = client.open(url, method=method, json={}, headers=gouqi_admin)
            assert answer.status_code == 403, (method, url, answer.get_data(as_text=True)[:200])
            assert answer.get_json()["error"]["code"] == "out_of_scope", (method, url)
            assert client.open(url, method=method, json={}).status_code != 403, ("in scope for the county", url)
            checked.append(f"{method} {rule.rule}")
    assert len(checked) >= 12, checked


def test_behind_a_configured_proxy_the_client_address_and_https_are_believed(database_url, tmp_path):
    from dispatch import create_app
    from dispatch.store.db import db
    from dispatch.store.models import LoginThrottle

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "DATA_DIR": tmp_path, "PROXY_COUNT": 1})
    try:
        proxied = app.test_client()
        forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
        proxied.get("/login", headers=forwarded)
        assert proxied.get_cookie("session").secure, "TLS ended at the proxy: the cookie is still Secure"
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', proxied.get("/login", headers=forwarded).text).group(1)
        proxied.post("/login", data={"username": "x", "password": "y", "csrf_token": csrf}, headers=forwarded)
        with app.app_context():
            keys = set(db.session.scalars(select(LoginThrottle.key)))
        assert "address:203.0.113.7" in keys, keys
    finally:
        with app.app_context():
            db.session.remove()
        db.dispose()
