"""HTTP sign-in, the permission matrix and the scope check, applied to every request.

Every endpoint maps to one action in ``ENDPOINT_ACTIONS`` and every action to the roles
that may do it (``dispatch.accounts.PERMISSIONS``), and to one scope rule in
``ENDPOINT_SCOPES`` (``dispatch.scope``): what place the request is about, checked against
the principal's region before the view runs; acts reserved to an organisation are checked by
the domain on the ``Actor``. Both are enforced before every request and tested as tables. An
endpoint missing from either is refused to everyone (fail closed), and a test lists any.

Browser sessions live on the server (``account_session``): the cookie holds a random id,
so logout, a password change or a disabled account end them at once.
"""

from __future__ import annotations

import collections
import datetime as dt
import hmac
import os
import secrets
import threading
import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    render_template_string,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select, text
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from dispatch.accounts import SESSION_HOURS, Principal, allowed, identify
from dispatch.scope import OutOfScope, require_region
from dispatch.signin import sign_in, sign_out
from dispatch.store.db import db
from dispatch.store.models import Task
from dispatch.tablets import is_revoked

# endpoint -> action; blueprint-wide defaults below for read-only standard interfaces.
ENDPOINT_ACTIONS: dict[str, str] = {
    "static": "public",
    "auth.login": "public",
    "auth.login_form": "public",
    "auth.logout": "public",
    "api.health": "public",
    "socketio_transport": "public",  # answered by the Socket.IO middleware; each namespace checks its clients
    "metrics": "monitor",
    "api.regions": "read_reference",
    "api.zones": "read_reference",
    "api.squads": "read_reference",
    "api.matters": "read_reference",
    "api.jurisdiction": "read_reference",
    "api.list_catalogue_versions": "read_reference",
    "api.show_catalogue_version": "read_reference",
    "api.publish_catalogue_version": "publish_catalogue",
    "api.openapi_document": "signed_in",
    "api.openapi_docs": "signed_in",
    "api.create_incident": "intake",
    "api.list_incidents": "read_operations",
    "api.show_incident": "read_incident",
    "api.incident_events": "read_operations",
    "api.incident_recommendations": "read_operations",
    "api.command_snapshot": "read_operations",
    "api.list_inspection_requests": "read_operations",
    "api.list_joint_inspections": "read_operations",
    "api.show_joint_inspection": "read_operations",
    "api.joint_inspection_proposals": "dispatch",
    "api.dispatch_incident": "dispatch",
    "api.mark_incident_duplicate": "dispatch",
    "api.preview_incident": "intake",
    "api.attach_incident_call": "intake",
    "api.cancel_incident": "dispatch",
    "api.close_incident": "dispatch",
    "api.reopen_incident": "dispatch",
    "api.undo_incident_duplicate": "dispatch",
    "api.reassign_task": "dispatch",
    "api.coverage_now": "read_operations",
    "api.list_alerts": "read_operations",
    "api.acknowledge_alert": "dispatch",
    "api.new_inspection_request": "dispatch",
    "api.new_joint_inspection": "dispatch",
    "api.show_task": "read_task",
    "api.transition_task": "act_on_task",
    "api.task_route": "read_task",
    "api.post_positions": "report_position",
    "api.add_task_evidence": "act_on_task",
    "api.add_case_evidence": "oversee",
    "api.create_evidence_upload": "act_on_task",
    "api.patch_evidence_upload": "act_on_task",
    "api.show_evidence_upload": "act_on_task",
    "api.get_evidence": "read_task",
    "api.tablet_tasks": "own_tasks",
    "api.plans_index": "read_plans",
    "api.show_plan": "read_plans",
    "api.compare_plan": "read_plans",
    "api.new_draft": "edit_plans",
    "api.update_plan": "edit_plans",
    "api.validate_edit": "edit_plans",
    "api.publish_plan": "edit_plans",
    "api.list_shifts": "read_operations",
    "api.add_shift": "edit_rosters",
    "api.delete_shift": "edit_rosters",
    "api.import_shifts": "edit_rosters",
    "api.set_squad_status": "set_squad_status",
    "api.list_certificate_actions": "read_oversight",
    "api.add_certificate_action": "manage_certificates",
    "api.lift_certificate_suspension": "manage_certificates",
    "api.create_suspension": "dispatch",
    "api.list_suspensions": "read_operations",
    "api.lift_suspension": "dispatch",
    "api.transport_network": "read_operations",
    "api.reload_timetables": "reload_reference",
    "web.index": "signed_in",
    "web.command": "read_operations",
    "web.tablet": "public",  # an empty shell: the tablet signs in with its token, every call is checked
    "web.tablet_sw": "public",  # the tablet's service worker (its shell offline)
    "web.tablet_manifest": "public",
    "web.planner": "read_plans",
    "web.plan_map": "read_plans",
    "web.heat_map": "read_operations",
    "web.case_map": "read_operations",
    "oversight.pages.supervisor_page": "read_oversight",
    "oversight.meeting_pages.meetings_page": "read_oversight",
    "oversight.meeting_pages.campaigns_page": "read_oversight",
}
BLUEPRINT_ACTIONS: dict[str, tuple[str, str]] = {
    # blueprint prefix -> (action for GET, action for writes)
    "open311.": ("public", "public"),  # the public intake: its own api_key
    "ogc.": ("read_reference", "read_reference"),
    "oversight.api.": ("read_oversight", "oversee"),
}
# endpoint -> what place a request is about (its region must lie in the principal's scope):
#   anywhere   reference data, pages, the public and standard interfaces (their own rules)
#   incident   the incident of <incident_id>       task   the incident of <task_id>'s task
#   joint      the joint inspection <joint_id>      plan   the county of plan <plan_id>
#   alert      the township of alert <alert_id> (its own, or its incident's)
#   listed     the view lists only what the principal's scope covers
#   domain     the domain checks the place or organisation on the Actor (intake, oversight acts)
ENDPOINT_SCOPES: dict[str, str] = {
    "static": "anywhere",
    "auth.login": "anywhere",
    "auth.login_form": "anywhere",
    "auth.logout": "anywhere",
    "api.health": "anywhere",
    "socketio_transport": "anywhere",
    "metrics": "anywhere",
    "api.regions": "anywhere",
    "api.zones": "anywhere",
    "api.squads": "anywhere",
    "api.matters": "anywhere",
    "api.jurisdiction": "anywhere",
    "api.list_catalogue_versions": "listed",
    "api.show_catalogue_version": "domain",  # the version's county in scope (the view)
    "api.publish_catalogue_version": "domain",  # the county in scope (dispatch.catalogue:publish)
    "api.openapi_document": "anywhere",
    "api.openapi_docs": "anywhere",
    "api.create_incident": "domain",
    "api.list_incidents": "listed",
    "api.show_incident": "incident",
    "api.incident_events": "incident",
    "api.incident_recommendations": "incident",
    "api.command_snapshot": "listed",
    "api.list_inspection_requests": "listed",
    "api.list_joint_inspections": "listed",
    "api.show_joint_inspection": "joint",
    "api.joint_inspection_proposals": "listed",
    "api.dispatch_incident": "incident",
    "api.mark_incident_duplicate": "incident",
    "api.preview_incident": "domain",
    "api.attach_incident_call": "incident",
    "api.cancel_incident": "incident",
    "api.close_incident": "incident",
    "api.reopen_incident": "incident",
    "api.undo_incident_duplicate": "incident",
    "api.reassign_task": "task",
    "api.coverage_now": "listed",
    "api.list_alerts": "listed",
    "api.acknowledge_alert": "alert",
    "api.new_inspection_request": "domain",
    "api.new_joint_inspection": "domain",
    "api.show_task": "task",
    "api.transition_task": "task",
    "api.task_route": "task",
    "api.post_positions": "anywhere",  # a tablet reports its own squad's positions only
    "api.add_task_evidence": "task",  # and a squad's own task only (the view)
    "api.add_case_evidence": "domain",  # the case's authority (the view: require_organisation)
    "api.create_evidence_upload": "task",
    "api.patch_evidence_upload": "task",
    "api.show_evidence_upload": "task",
    "api.get_evidence": "domain",  # the view finds a task, case or incident of it in the scope (or the squad's own)
    "api.tablet_tasks": "anywhere",  # the token's own squad's tasks only
    "api.plans_index": "listed",
    "api.show_plan": "plan",
    "api.compare_plan": "plan",
    "api.new_draft": "domain",
    "api.update_plan": "plan",
    "api.validate_edit": "plan",
    "api.publish_plan": "plan",
    "api.list_shifts": "listed",
    "api.add_shift": "domain",  # the squad's (or the officer's squad's) station must be in scope
    "api.delete_shift": "domain",
    "api.import_shifts": "domain",  # each line's squad in scope
    "api.set_squad_status": "domain",  # the squad in scope; a tablet its own squad only
    "api.list_certificate_actions": "domain",  # the officer's squad in scope
    "api.add_certificate_action": "domain",
    "api.lift_certificate_suspension": "domain",
    "api.create_suspension": "domain",  # the domain checks the link's, pier's or county's place
    "api.list_suspensions": "listed",
    "api.lift_suspension": "domain",  # the domain checks the suspension's county
    "api.transport_network": "anywhere",
    "api.reload_timetables": "anywhere",
    "web.index": "anywhere",
    "web.command": "anywhere",
    "web.tablet": "anywhere",
    "web.tablet_sw": "anywhere",
    "web.tablet_manifest": "anywhere",
    "web.planner": "anywhere",
    "web.plan_map": "anywhere",
    "web.heat_map": "listed",
    "web.case_map": "incident",
    "oversight.pages.supervisor_page": "anywhere",
    "oversight.meeting_pages.meetings_page": "anywhere",
    "oversight.meeting_pages.campaigns_page": "anywhere",
}
BLUEPRINT_SCOPES: dict[str, str] = {
    "open311.": "anywhere",  # its own api_key
    "ogc.": "anywhere",  # reference layers and incidents without personal data
    "oversight.api.": "domain",  # every act checks its organisation on the Actor (dispatch.scope)
}
# Endpoints where a squad may act only on its own task.
OWN_TASK_ENDPOINTS = {"api.show_task", "api.transition_task", "api.task_route"}


def action_for(endpoint: str | None, method: str) -> str | None:
    if endpoint is None:
        return None
    if endpoint in ENDPOINT_ACTIONS:
        return ENDPOINT_ACTIONS[endpoint]
    for prefix, (read, write) in BLUEPRINT_ACTIONS.items():
        if endpoint.startswith(prefix):
            return read if method in ("GET", "HEAD") else write
    return None


def scope_rule_for(endpoint: str | None) -> str | None:
    if endpoint is None:
        return None
    if endpoint in ENDPOINT_SCOPES:
        return ENDPOINT_SCOPES[endpoint]
    return next((rule for prefix, rule in BLUEPRINT_SCOPES.items() if endpoint.startswith(prefix)), None)


_PLACE_OF = {
    "incident": ("incident_id", "SELECT region_id FROM incident WHERE id = :id"),
    "task": ("task_id", "SELECT i.region_id FROM task t JOIN incident i ON i.id = t.incident_id WHERE t.id = :id"),
    "joint": (
        "joint_id",
        """SELECT coalesce(i.region_id, (SELECT r.id FROM region r WHERE r.level IN ('township', 'street')
                  AND ST_Covers(r.boundary, j.location::geometry) ORDER BY ST_Area(r.boundary) LIMIT 1))
           FROM joint_inspection j LEFT JOIN incident i ON i.id = j.incident_id WHERE j.id = :id""",
    ),
    "plan": ("plan_id", "SELECT region_id FROM coverage_plan WHERE id = :id"),
    "alert": (
        "alert_id",
        "SELECT coalesce(a.region_id, i.region_id) FROM alert a LEFT JOIN incident i ON i.id = a.incident_id"
        " WHERE a.id = :id",
    ),
}


def _check_scope(principal: Principal):
    """The scope rule of the endpoint, for a principal whose region is limited: 403 outside it."""
    rule = scope_rule_for(request.endpoint)
    if rule is None:
        return _refuse(403, "forbidden", f"{request.endpoint} has no scope rule (fail closed)")
    if rule not in _PLACE_OF or principal.region_id is None:
        return None  # anywhere, listed (the view filters), domain (the domain checks)
    arg, query = _PLACE_OF[rule]
    row_id = (request.view_args or {}).get(arg)
    region_id = db.session.scalar(text(query), {"id": row_id}) if row_id is not None else None
    if region_id is None:
        return None  # no such row: the view answers 404
    try:
        require_region(db.session, principal, region_id, f"{rule} {row_id}")
    except OutOfScope as exc:
        return _refuse(403, exc.code, exc.message, "scope")
    return None


def current_principal() -> Principal | None:
    return getattr(g, "principal", None)


def _identify(db_session) -> Principal | None:
    """The bearer token of the Authorization header, else the session cookie's server-side session."""
    header = request.environ.get("HTTP_AUTHORIZATION", "")  # the Authorization header, read directly
    if header.lower().startswith("bearer "):
        return identify(db_session, token=header[7:].strip(), session_id=None)
    return identify(db_session, token=None, session_id=session.get("sid"))


def _refuse(status: int, code: str, message: str, field: str = "Authorization"):
    if request.path.startswith(("/api/", "/ogc", "/open311", "/metrics")) or request.is_json:
        response = jsonify({"error": {"code": code, "message": message, "field": field}})
        response.status_code = status
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="dispatch"'
        return response
    if status == 401:
        return redirect(url_for("auth.login_form", next=request.full_path))
    if status == 403 and request.method in ("GET", "HEAD") and request.accept_mimetypes.accept_html:
        # a screen the role may not use: a page saying so, with a link to the role's own screen
        return render_template("web/forbidden.html", code=code, message=message), 403
    return jsonify({"error": {"code": code, "message": message}}), status


def enforce():
    """before_request: identify, then apply the matrix, the scope rule and a squad's own-task rule."""
    if request.endpoint is None:
        return None  # no such route: a plain 404
    action = action_for(request.endpoint, request.method)
    if action == "public":
        g.principal = None
        if request.headers.get("Authorization"):  # a token sent to a public route still names the actor
            g.principal = _identify(db.session)
        return None
    principal = _identify(db.session)
    g.principal = principal
    if principal is None:
        header = request.environ.get("HTTP_AUTHORIZATION", "")
        if header.lower().startswith("bearer ") and is_revoked(db.session, header[7:].strip()):
            return _refuse(401, "token_revoked", "this tablet's token was revoked: sign in with a new one")
        return _refuse(401, "unauthorized", "sign in, or send Authorization: Bearer <token>")
    if not allowed(principal.role, action):
        return _refuse(403, "forbidden", f"a {principal.role} may not do this ({action})")
    refused = _check_scope(principal)
    if refused is not None:
        return refused
    if request.endpoint in RATE_LIMITED and not _within_rate(principal.name):
        response = _refuse(429, "rate_limited", "too many incidents from this key: slow down")
        response.headers["Retry-After"] = "60"
        return response
    if principal.role == "squad" and request.endpoint in OWN_TASK_ENDPOINTS:
        task_squad = db.session.scalar(select(Task.squad_id).where(Task.id == request.view_args.get("task_id")))
        if task_squad is not None and task_squad != principal.squad_id:
            return _refuse(403, "forbidden", "a squad acts on its own tasks only")
    if principal.role == "squad" and request.endpoint == "api.show_incident":
        mine = db.session.scalar(
            select(Task.id)
            .where(Task.incident_id == request.view_args.get("incident_id"), Task.squad_id == principal.squad_id)
            .limit(1)
        )
        if mine is None:
            return _refuse(403, "forbidden", "a squad sees the incidents of its own tasks only")
    return None


# Intake per key (an integration's token, a person): at most INTAKE_RATE_PER_MINUTE a minute
# per process, a sliding window. A runaway bridge cannot flood the queue.
RATE_LIMITED = {"api.create_incident"}
_recent: dict[str, collections.deque] = {}
_recent_lock = threading.Lock()


def _within_rate(key: str) -> bool:
    limit = int(current_app.config["INTAKE_RATE_PER_MINUTE"])
    now = time.monotonic()
    with _recent_lock:
        window = _recent.setdefault(key, collections.deque())
        while window and now - window[0] > 60:
            window.popleft()
        if len(window) >= limit:
            return False
        window.append(now)
        return True


# -- sign-in pages ---------------------------------------------------------------------------------

bp = Blueprint("auth", __name__)

_LOGIN = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>登录 Sign in · dispatch</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style nonce="{{ csp_nonce() }}">body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.6rem;font-size:1rem}
button{margin-top:1rem;padding:.7rem 1.2rem;font-size:1rem}.err{color:#b00}</style></head><body>
<h1>综合行政执法指挥 · Sign in</h1>
{% if error %}<p class="err">{{ error }}</p>{% endif %}
<form method="post" action="{{ url_for('auth.login') }}">
<input type="hidden" name="csrf_token" value="{{ csrf }}"><input type="hidden" name="next" value="{{ next }}">
<label for="u">用户名 Username</label><input id="u" name="username" autocomplete="username" required>
<label for="p">密码 Password</label><input id="p" name="password" type="password" autocomplete="current-password" required>
<button type="submit">登录 Sign in</button></form></body></html>"""


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def _csrf_ok() -> bool:
    sent = request.form.get("csrf_token", "")
    return bool(sent) and hmac.compare_digest(sent, session.get("csrf", ""))


def _safe_next(target: str | None) -> str:
    """Only a path of this site: browsers drop tabs and newlines and read a backslash as a
    slash, so ``/%09/evil.example`` or ``/\\evil.example`` would leave it; those go to ``/``."""
    if not target or not target.startswith("/") or len(target) > 2000:
        return "/"
    if any(c in target for c in "\\\t\r\n") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//") or "%" in target[:3]:
        return "/"
    return target


def _address() -> str | None:
    return request.remote_addr


# Every role lands on its own screen (the guide's rule); a squad's tablet signs in on /tablet.
HOME: dict[str, str] = {
    "dispatcher": "web.command",
    "admin": "web.command",
    "planner": "web.planner",
    "supervisor": "oversight.pages.supervisor_page",
    "squad": "web.tablet",
}


def home_for(role: str | None) -> str:
    """The path of the role's own screen; the sign-in page for a role without one."""
    endpoint = HOME.get(role or "")
    if endpoint is None or endpoint not in current_app.view_functions:
        return url_for("auth.login_form")
    return url_for(endpoint)


def may_open(role: str | None, target: str) -> bool:
    """Whether ``target`` (a path of this site, with or without a query) is a GET the role may make."""
    adapter = current_app.url_map.bind("localhost")
    path = urlsplit(target).path
    for _ in range(2):  # /x -> /x/ and the like: judge where it leads
        try:
            endpoint, _args = adapter.match(path, method="GET")
        except RequestRedirect as moved:
            path = urlsplit(moved.new_url).path
            continue
        except HTTPException:
            return False
        return endpoint not in ("web.index", "auth.login_form") and allowed(role, action_for(endpoint, "GET"))
    return False


def landing(role: str | None, target: str | None) -> str:
    """Where a person goes after signing in: ``next`` (already a path of this site, ``_safe_next``)
    when the role may open it, else the role's own screen (a planner's next=/command leads to /planner)."""
    if target and target != "/" and may_open(role, target):
        return target
    return home_for(role)


def _login_page(status: int, error: str | None, nxt: str, **headers):
    page = render_template_string(_LOGIN, csrf=csrf_token(), next=nxt, error=error)
    return page, status, headers


@bp.get("/login")
def login_form():
    return _login_page(200, None, _safe_next(request.args.get("next")))


@bp.post("/login")
def login():
    nxt = _safe_next(request.form.get("next"))
    if not _csrf_ok():
        return _login_page(400, "表单已过期，请重试 The form expired: try again", nxt)
    username = request.form.get("username", "")[:200]
    attempt = sign_in(db.session, username, request.form.get("password", "")[:1000], _address())
    db.session.commit()  # failures count even when refused, and the record keeps them
    if attempt.refusal == "locked":
        return _login_page(
            423, "账号已锁定，请联系管理员 This account is locked: ask an administrator to unlock it", nxt
        )
    if attempt.refusal == "throttled":
        return _login_page(
            429,
            f"尝试过多，请 {attempt.retry_after} 秒后再试 Too many attempts: try again in {attempt.retry_after} s",
            nxt,
            **{"Retry-After": str(attempt.retry_after)},
        )
    if attempt.refusal is not None:
        return _login_page(401, "用户名或密码错误 Wrong username or password", nxt)
    session.clear()  # a new session id on sign-in (no fixation)
    session["sid"] = attempt.session_id
    session.permanent = True
    return redirect(landing(attempt.account.role, nxt))


@bp.post("/logout")
def logout():
    if _csrf_ok():
        sign_out(db.session, session.get("sid"), _address())
        db.session.commit()
        session.clear()
    return redirect(url_for("auth.login_form"))


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie, holding the server-side session's id and the CSRF token, without
    its fixed cost on requests that carry no session cookie and leave the session alone
    (scripts and tablets with a bearer token). ``Secure`` when the request came over HTTPS
    (or SESSION_COOKIE_SECURE is set)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.scheme == "https"

    def open_session(self, app: Flask, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()  # as Flask's own does without a cookie, minus building the signer
        return super().open_session(app, request)

    def save_session(self, app: Flask, session, response) -> None:
        if not session and not session.modified and not session.accessed:
            return  # nothing to set, delete or vary on: Flask's own returns too, after reading seven settings
        super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.config.setdefault("INTAKE_RATE_PER_MINUTE", int(os.environ.get("INTAKE_RATE_PER_MINUTE", "120")))
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=SESSION_HOURS),
    )
    app.session_interface = CookieSessions()
    app.register_blueprint(bp)
    app.before_request(enforce)
    app.jinja_env.globals["csrf_token"] = csrf_token
