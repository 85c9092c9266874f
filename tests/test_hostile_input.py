"""Hostile input on every route of the app: no answer is a 5xx, and every 4xx of /api, /open311
and /ogc is a JSON error with a code and a message (each interface in its own format).

The sweep walks ``app.url_map``: every route and method, as an admin token. Each JSON field of a
sample body (a body the route accepts, so the hostile value travels as far as it can) in turn
holds lone surrogates, a 10,000-character string, NaN / Infinity / 1e400 (every number:
coordinates included), a time in 2099 (every time) and a list nested 1,000 deep; each query
parameter a route reads and each path segment gets the same (a lone surrogate on the wire is
its UTF-8 form, ``%ED%A0%80``). Open311's form fields get them too.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import inspect
import json
import os
import re
import time
from urllib.parse import quote

import pytest
from sqlalchemy import select

from dispatch.http.contract import document
from dispatch.http.standards.open311 import hash_key
from dispatch.store.models import Officer
from dispatch.tablets import issue_token
from tests.conftest import TOKENS, as_org, as_person
from tests.factories import incident_body

OPEN311_KEY = "hostile-sweep-key"
SURROGATES = ("\ud800", "a\udfffb")  # a lone high and a lone low surrogate
OVERSIZE = "嵊" * 10_000
FUTURE = "2099-01-01T00:00:00+08:00"
RAW_NUMBERS = ("NaN", "Infinity", "-Infinity", "1e400", "-1e400")
DEEP = "[" * 1000 + "]" * 1000
# On the wire (query strings, paths, forms) a lone surrogate is its UTF-8 form: invalid UTF-8.
WIRE_SURROGATES = ("%ED%A0%80", "a%ED%BF%BFb")
WIRE_VALUES = (*WIRE_SURROGATES, quote(OVERSIZE), "NaN", "Infinity", "-1e400", quote(FUTURE), "%5B" * 1000)
AUTH = {"Authorization": f"Bearer {TOKENS['api'][1]}"}
# Acts the seeds reserve to an organisation or a person go with its token (role admin for the
# organisations), so that a hostile value gets past the scope check to the act itself.
ACTING = {
    "oversight.api.": "county-bureau",
    "oversight.api.new_notice": "shengsi-justice",
    "oversight.api.notice_review": "shengsi-justice",
    "oversight.api.new_visit": "shengsi-justice",
    "oversight.api.notice_decision": "shengsi-gov",
    "oversight.api.referral_response": "dept-emergency",
    "oversight.api.assistance_on_site": "dept-market",
    "oversight.api.assistance_answer": "dept-market",
    "oversight.api.assistance_extend": "dept-market",
    "oversight.api.share_record": "dept-market",
    "oversight.api.criminal_referral_status": "shengsi-police",
}
PEOPLE = {"oversight.api.review_outcome": "reviewer-cb-wang"}


def _auth(endpoint: str) -> dict:
    """The Authorization header the sweep sends to ``endpoint``: the admin token, or the acting one."""
    if endpoint in PEOPLE:
        return as_person(PEOPLE[endpoint])
    org = ACTING.get(endpoint) or next((o for prefix, o in ACTING.items() if endpoint.startswith(prefix)), None)
    return as_org(org) if org else AUTH


SKIPPED_METHODS = {"HEAD", "OPTIONS"}
# Known 500s in modules this sweep's author does not own, each with the one-line fix it needs;
# remove an entry once fixed (the sweep then checks it like the rest).
KNOWN: list[re.Pattern] = []
# What a route's view reads from its query string, besides what its source names.
QUERY_PARAMS_BY_PREFIX = {
    "/api/": ("crs", "out_crs"),
    "/ogc": ("f", "bbox", "datetime", "limit", "offset", "crs", "out_crs"),
    "/open311": ("api_key", "jurisdiction_id", "out_crs", "crs"),
}
_QUERY_READ = re.compile(r"""(?:request\.args\.get|_date_arg|_int_param)\(\s*["'](\w+)["']""")
_RAW = re.compile(r'"@@RAW(\d+)@@"')


class Raw:
    """A JSON token written as is (NaN, 1e400, a deep nest): what json.dumps will not write."""

    def __init__(self, text: str):
        self.text = text


def hostile_json(body) -> str:
    """``body`` as JSON text, lone surrogates as ``\\ud800`` escapes and Raw tokens as written."""
    raws: list[str] = []

    def mark(value):
        if isinstance(value, Raw):
            raws.append(value.text)
            return f"@@RAW{len(raws) - 1}@@"
        if isinstance(value, dict):
            return {key: mark(inner) for key, inner in value.items()}
        if isinstance(value, list):
            return [mark(inner) for inner in value]
        return value

    text = json.dumps(mark(body), ensure_ascii=True)
    return _RAW.sub(lambda m: raws[int(m.group(1))], text)


def leaves(value, path=()):
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            yield from leaves(inner, (*path, key))
    elif isinstance(value, list) and value:
        for index, inner in enumerate(value):
            yield from leaves(inner, (*path, index))
    else:
        yield path, value


def replaced(body, path, value):
    changed = copy.deepcopy(body)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def _is_time(value) -> bool:
    if not isinstance(value, str) or len(value) < 10:
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def hostile_bodies(sample: dict):
    """(what, JSON text) for each hostile family in each field of ``sample``, and the whole body."""
    yield "body nested 1,000 deep", DEEP
    yield "an object nested 1,000 deep", '{"a":' * 1000 + "1" + "}" * 1000
    yield "a key with a lone surrogate", hostile_json({**sample, "\ud800": 1})
    for path, value in leaves(sample):
        if not path:
            continue
        where = ".".join(map(str, path))
        for surrogate in SURROGATES:
            yield f"{where} = {surrogate!r}", hostile_json(replaced(sample, path, surrogate))
        yield f"{where} nested 1,000 deep", hostile_json(replaced(sample, path, Raw(DEEP)))
        if isinstance(value, str):
            yield f"{where} = 10,000 characters", hostile_json(replaced(sample, path, OVERSIZE))
            yield f"{where} = a list of 10,000-character strings", hostile_json(replaced(sample, path, [OVERSIZE] * 3))
        if _is_time(value):
            yield f"{where} = {FUTURE}", hostile_json(replaced(sample, path, FUTURE))
        if isinstance(value, int | float) and not isinstance(value, bool):
            for raw in RAW_NUMBERS:
                yield f"{where} = {raw}", hostile_json(replaced(sample, path, Raw(raw)))
            yield f"{where} = 10**400", hostile_json(replaced(sample, path, Raw("1" + "0" * 400)))


# -- the app's data, so that sample bodies are accepted and paths name rows that exist -------------


def _post(client, path, body, endpoint=""):
    response = client.post(
        path, data=hostile_json(body), headers={**_auth(endpoint), "Content-Type": "application/json"}
    )
    if os.environ.get("SWEEP_VERBOSE"):
        print(path, response.status_code, response.get_data(as_text=True)[:200])
    return response.get_json(silent=True) or {}


def _zone_geometry():
    return {"type": "Polygon", "coordinates": [[[122.40, 30.70], [122.50, 30.70], [122.50, 30.76], [122.40, 30.70]]]}


def _samples(client, session) -> tuple[dict[str, dict], dict[str, str]]:
    """Sample bodies by endpoint, and the values of path parameters: rows made for the sweep."""
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(microsecond=0)
    soon, later = (now + dt.timedelta(days=2)).isoformat(), (now + dt.timedelta(days=2, hours=2)).isoformat()
    incident = _post(client, "/api/v1/incidents", incident_body(at=(122.45, 30.73)))
    original = _post(client, "/api/v1/incidents", incident_body(at=(122.451, 30.73), description="同一摊贩"))
    squads = client.get("/api/v1/squads", headers=AUTH).get_json()["features"]
    squad = next(f["properties"]["id"] for f in squads if f["properties"]["code"] == "cb-caiyuan")
    market_squad = next(f["properties"]["id"] for f in squads if f["properties"]["code"] == "ms-county")
    task = _post(client, f"/api/v1/incidents/{incident.get('id', 1)}/dispatch", {"squad_ids": [squad]})
    plan = _post(client, "/api/v1/plans", {})
    officer = session.scalar(select(Officer.id).where(Officer.name == "许海峰"))
    second = session.scalar(select(Officer.id).where(Officer.name == "胡思远"))
    case_body = {"authority": "county-bureau", "matter": "CM-001", "summary": "占用人行道经营海鲜排档",
                 "party": {"name": "嵊泗某某海鲜排档", "business_id": "91330922MA2B3C4D5E"}, "major": False,
                 "enforcer_ids": [officer, second]}  # fmt: skip
    case = _post(client, "/api/v1/cases", case_body, "oversight.api.new_case")
    review_body = {"proposed_decision": "罚款人民币五千元"}
    review = _post(
        client, f"/api/v1/cases/{case.get('id', 1)}/legal-reviews", review_body, "oversight.api.request_review"
    )
    referral_body = {"to": "dept-emergency", "matter": "EM-001", "summary": "某加油站违规储存危险化学品",
                     "referred_at": now.isoformat()}  # fmt: skip
    referral = _post(client, "/api/v1/referrals", referral_body, "oversight.api.new_referral")
    assistance_body = {"to": "dept-market", "question": "请对抽检的散装白酒出具质量检验意见"}
    assistance = _post(client, "/api/v1/assistance-requests", assistance_body, "oversight.api.new_assistance_request")
    dispute_body = {"party_a": "county-bureau", "party_b": "dept-culture", "incident_id": incident.get("id", 1),
                    "subject": "基湖沙滩帐篷经营管辖争议", "provisional_squad_id": squad}  # fmt: skip
    dispute = _post(client, "/api/v1/disputes", dispute_body, "oversight.api.new_dispute")
    notice_body = {"authority": "county-bureau", "method": "individual_case", "problem": "处罚决定未载明法律依据",
                   "required_action": "补正法律依据并重新送达", "case_ids": [case.get("id", 1)],
                   "deadline": (now + dt.timedelta(days=30)).date().isoformat()}  # fmt: skip
    notice = _post(client, "/api/v1/supervision-notices", notice_body, "oversight.api.new_notice")
    target = {"name": "嵊泗某某海鲜排档", "business_id": "91330922MA2B3C4D5E",
              "location": {"type": "Point", "coordinates": [122.45, 30.73]}}  # fmt: skip
    inspection_body = {"authority": "dept-market", "domain": "market_supervision", "target": target,
                       "window": {"start": soon, "end": later}, "purpose": "食品安全检查"}  # fmt: skip
    inspection = _post(client, "/api/v1/inspection-requests", inspection_body)
    zones = [{"code": "caiyuan", "name": "菜园片区", "name_en": "Caiyuan", "hub": "330922100",
              "members": ["330922100"], "geometry": _zone_geometry()}]  # fmt: skip
    samples = {
        "api.create_incident": incident_body(at=(122.45, 30.73), external_id="sweep-1", address="菜园镇沙河路"),
        "api.dispatch_incident": {"squad_ids": [squad], "note": "请尽快到场"},
        "api.mark_incident_duplicate": {"of": original.get("id", 2)},
        "api.transition_task": {
            "to": "acknowledged",
            "reason": "收到",
            "note": "在路上",
            "location": {"type": "Point", "coordinates": [122.45, 30.73]},
        },
        "api.new_inspection_request": inspection_body,
        "api.new_joint_inspection": {
            "target": target,
            "slot": {"start": soon, "end": later},
            "squad_ids": [market_squad, squad],
            "lead_squad_id": market_squad,
            "request_ids": [inspection.get("id", 1)],
            "domains": ["market_supervision", "comprehensive"],
        },
        "api.post_positions": {
            "fixes": [
                {
                    "id": "f1",
                    "lon": 122.45,
                    "lat": 30.73,
                    "crs": "wgs84",
                    "time": now.isoformat(),
                    "accuracy": 8,
                    "speed": 3,
                    "heading": 90,
                }
            ]
        },
        "api.new_draft": {"region": "330922", "name": "草案", "name_en": "Draft"},
        "api.update_plan": {"version": plan.get("version", 1), "zones": zones, "name": "草案", "name_en": "Draft"},
        "api.validate_edit": {"zones": zones, "version": plan.get("version", 1)},
        "api.publish_plan": {"version": plan.get("version", 1), "effective_at": soon},
        "oversight.api.new_case": case_body,
        "oversight.api.request_review": review_body,
        "oversight.api.review_outcome": {"outcome": "passed", "reasons": "事实清楚"},
        "oversight.api.issue_decision": {
            "number": "嵊综执罚〔2026〕1号",
            "content": "罚款五千元",
            "fine_yuan": 5000,
            "issued_at": now.isoformat(),
        },
        "oversight.api.transfer_case": {"to": "shengsi-police", "suspected_offence": "非法经营罪"},
        "oversight.api.criminal_referral_status": {"to": "accepted", "note": "已受理"},
        "oversight.api.new_referral": referral_body,
        "oversight.api.referral_response": {"action": "explained", "note": "非本部门职责"},
        "oversight.api.new_assistance_request": assistance_body,
        "oversight.api.assistance_on_site": {"officers": "市场监管所张三、李四", "at": now.isoformat()},
        "oversight.api.assistance_answer": {"opinion": "检验合格", "evidence": ["检验报告 JY-2026-001"]},
        "oversight.api.assistance_extend": {
            "reason": "需送省检",
            "until": (now + dt.timedelta(days=20)).date().isoformat(),
        },
        "oversight.api.new_dispute": dispute_body,
        "oversight.api.dispute_step": {
            "step": "request",
            "points": [{"point": "管辖", "view_a": "文旅", "basis_a": "条例", "view_b": "综合执法", "basis_b": "目录"}],
            "other": "请协调",
        },
        "oversight.api.new_notice": notice_body,
        "oversight.api.notice_response": {"response": "已补正"},
        "oversight.api.notice_review": {"accepted": True, "note": "整改到位"},
        "oversight.api.notice_decision": {
            "penalty_decision_id": 1,
            "action": "revoke",
            "ground": "no_legal_basis",
            "legal_basis": "行政处罚法",
            "content": "撤销该处罚决定",
        },
        "oversight.api.new_visit": {
            "authority": "county-bureau",
            "method": "case_file_review",
            "on_site": True,
            "supervisors": ["supervisor-zhao", "supervisor-qian"],
            "place": "菜园镇",
            "visited_at": now.isoformat(),
            "findings": "抽查案卷10件",
        },
        "oversight.api.add_training": {"taken_on": now.date().isoformat(), "hours": 8, "course": "行政处罚法"},
        "oversight.api.share_record": {
            "kind": "licence",
            "authority": "dept-market",
            "title": "食品经营许可证",
            "party": {"name": "嵊泗某某海鲜排档", "business_id": "91330922MA2B3C4D5E"},
            "domains": ["market_supervision"],
            "made_at": now.isoformat(),
            "data": {"licence_no": "JY13309220001234"},
        },
    }
    ids = {
        "incident_id": incident.get("id", 1),
        "task_id": (task.get("tasks") or [{"id": 1}])[0]["id"],
        "plan_id": plan.get("id", 1),
        "case_id": case.get("id", 1),
        "review_id": review.get("id", 1),
        "request_id": assistance.get("id", 1),
        "dispute_id": dispute.get("id", 1),
        "notice_id": notice.get("id", 1),
        "officer_id": officer,
        "squad_id": squad,
        "joint_id": 1,
        "fmt": "json",
        "collection_id": "incidents",
        "feature_id": incident.get("id", 1),
        "service_code": "CM-001",
        "service_request_id": incident.get("id", 1),
        "code": plan.get("code", "x"),
        "filename": "app.css",
        "tablet_token": issue_token(session, squad)[1],
    }
    session.commit()
    referral_ids = {"oversight.api.referral_response": referral.get("id", 1)}
    return samples, {k: str(v) for k, v in ids.items()} | {f"referral_id@{k}": str(v) for k, v in referral_ids.items()}


def _path(rule, values: dict[str, str], override: tuple[str, str] | None = None) -> str:
    def sub(match):
        name = match.group(2)
        if override and override[0] == name:
            return override[1]
        return values.get(f"{name}@{rule.endpoint}") or values.get(name, "1")

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", sub, rule.rule)


def _query_params(app, rule) -> list[str]:
    names = set()
    view = app.view_functions.get(rule.endpoint)
    if view is not None:
        with contextlib.suppress(OSError, TypeError):  # a view without source (a C function)
            names |= set(_QUERY_READ.findall(inspect.getsource(view)))
    for prefix, params in QUERY_PARAMS_BY_PREFIX.items():
        if rule.rule.startswith(prefix):
            names |= set(params)
    # a declared operation (dispatch.http.contract) reads what its document says
    declared = document(app)["paths"].get(re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule), {})
    names |= {p["name"] for op in declared.values() for p in op.get("parameters", []) if p["in"] == "query"}
    return sorted(names)


# -- the checks ------------------------------------------------------------------------------------


def error_shape_ok(path: str, response) -> bool:
    """A 4xx of /api, /open311 or /ogc is JSON naming a code and saying what is wrong."""
    if not path.startswith(("/api/", "/open311", "/ogc")) or response.status_code < 400:
        return True
    body = response.get_json(silent=True)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):  # the API's (and an unknown path's)
        return bool(body["error"].get("code")) and bool(body["error"].get("message"))
    if path.startswith("/open311"):  # GeoReport v2: [{"code", "description"}]
        return isinstance(body, list) and bool(body) and {"code", "description"} <= set(body[0])
    if path.startswith("/ogc"):  # OGC API exceptions: {"code", "description"}
        return isinstance(body, dict) and bool(body.get("code")) and bool(body.get("description"))
    return False


class Sweep:
    """Sends each request as the route's principal; collects every 5xx and malformed error."""

    def __init__(self, client, tablet_token: str):
        self.client = client
        self.tablet = {"Authorization": f"Bearer {tablet_token}"}  # the positions route is a tablet's
        self.failures: list[str] = []
        self.requests = 0

    def check(self, what: str, path: str, response) -> None:
        self.requests += 1
        if any(known.fullmatch(what) for known in KNOWN):
            return
        if response.status_code >= 500 or not error_shape_ok(path, response):
            text = response.get_data(as_text=True)[:160].replace("\n", " ")
            self.failures.append(f"{what}: {response.status_code} {text}")

    def send(self, what: str, path: str, method: str, endpoint: str = "", **kwargs) -> None:
        try:
            headers = self.tablet if endpoint == "api.post_positions" else _auth(endpoint)
            response = self.client.open(path, method=method, headers=headers, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the app raised through the test client: a 500 on a server
            self.requests += 1
            self.failures.append(f"{what}: raised {type(exc).__name__}: {str(exc)[:120]}")
            return
        if os.environ.get("SWEEP_VERBOSE") and what.endswith(" sample"):
            print(what, response.status_code, response.get_data(as_text=True)[:160])
        self.check(what, path, response)

    def json(self, endpoint: str, method: str, path: str, what: str, body: str) -> None:
        data = body.encode("utf-8", "surrogatepass")
        self.send(f"{method} {path[:80]} {what}", path, method, endpoint, data=data, content_type="application/json")

    def get(self, endpoint: str, path: str, what: str, query: str = "") -> None:
        if path.startswith("/open311") and not query.startswith("api_key="):  # reads need the client's key
            query = f"api_key={OPEN311_KEY}&{query}"
        self.send(f"GET {path[:80]} {what}", path, "GET", endpoint, query_string=query)


@pytest.fixture
def sweep_app(app):
    app.config["OPEN311_API_KEYS"] = {hash_key(OPEN311_KEY): "hostile-sweep"}
    return app


def test_no_hostile_input_on_any_route_gets_a_server_error(sweep_app, session):
    started = time.monotonic()
    client = sweep_app.test_client()
    samples, values = _samples(client, session)
    sweep = Sweep(client, values["tablet_token"])
    routes = 0
    for rule in sorted(sweep_app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted(rule.methods - SKIPPED_METHODS):
            routes += 1
            path = _path(rule, values)
            for name in rule.arguments:  # each path segment
                for wire in (*WIRE_SURROGATES, "x" * 10_000, "NaN"):
                    mutated = _path(rule, values, (name, wire))
                    if method == "GET":
                        sweep.get(rule.endpoint, mutated, f"path {name}={wire[:12]}")
                    else:
                        sweep.json(rule.endpoint, method, mutated, f"path {name}={wire[:12]}", "{}")
            if method == "GET":
                sweep.get(rule.endpoint, path, "plain")
                for param in _query_params(sweep_app, rule):
                    for wire in WIRE_VALUES:
                        sweep.get(rule.endpoint, path, f"{param}={wire[:12]}", f"{param}={wire}")
                continue
            if rule.endpoint == "open311.create_request":
                continue  # form-encoded: test_open311_form_fields_take_hostile_values
            sample = samples.get(rule.endpoint, {})
            sweep.json(rule.endpoint, method, path, "sample", hostile_json(sample))
            for what, body in hostile_bodies(sample):
                sweep.json(rule.endpoint, method, path, what, body)
    assert routes > 90, "the sweep walks every route"
    assert sweep.failures == [], f"{len(sweep.failures)} of {sweep.requests} requests:\n" + "\n".join(sweep.failures)
    assert time.monotonic() - started < 90


def test_open311_form_fields_take_hostile_values(sweep_app):
    client = sweep_app.test_client()
    sample = {"api_key": OPEN311_KEY, "service_code": "CM-001", "lat": "30.73", "long": "122.45",
              "description": "人行道上有流动摊贩", "address_string": "菜园镇沙河路", "first_name": "张",
              "phone": "13800000000", "attribute[external_id]": "sweep-1", "attribute[source]": "hotline_12345"}  # fmt: skip
    failures = []
    for name in sample:
        for wire in WIRE_VALUES:
            form = "&".join(f"{quote(k)}={wire if k == name else quote(v)}" for k, v in sample.items())
            response = client.post(
                "/open311/v2/requests.json", data=form, content_type="application/x-www-form-urlencoded"
            )
            if response.status_code >= 500 or not error_shape_ok("/open311", response):
                failures.append(f"{name}={wire[:12]}: {response.status_code} {response.get_data(as_text=True)[:160]}")
    assert failures == [], "\n".join(failures)
