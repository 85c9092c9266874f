"""Operations: a request id on every request and log line, JSON logs, /metrics, security headers.

- ``X-Request-Id``: taken from the request when a proxy set one (8 to 64 safe
  characters), otherwise generated; echoed on the response and in every log
  line written while the request runs.
- ``LOG_FORMAT=json`` (the default outside tests) writes one JSON object per
  line: time, level, logger, message, request_id, method, path.
- ``/metrics`` in the Prometheus text format: requests by endpoint and status,
  their latency, the outbox backlog, and what the other layers register in
  ``dispatch.metrics`` (tablets connected, fixes stored). Each process exposes its own figures.
- Security headers on every answer; a Content-Security-Policy on every HTML page (no inline
  script unless it carries the page's ``csp_nonce()``) and a deny-all one on JSON.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
import uuid
from functools import lru_cache
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, has_request_context, request
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from dispatch.metrics import REGISTRY
from dispatch.outbox import backlog
from dispatch.store.db import db

REQUESTS = Counter("dispatch_http_requests_total", "HTTP requests", ["method", "endpoint", "status"], registry=REGISTRY)
LATENCY = Histogram(
    "dispatch_http_request_seconds",
    "HTTP request latency",
    ["endpoint"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BACKLOG = Gauge("dispatch_outbox_backlog", "Tablet messages not yet acknowledged", registry=REGISTRY)

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request it belongs to."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry.update(request_id=getattr(g, "request_id", None), method=request.method, path=request.path)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(fmt: str) -> None:
    """Root logging once per process: JSON lines, or plain text for a terminal."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # One line per request from the servers would drown the log (and cost time on the hot path).
    for noisy in ("werkzeug", "geventwebsocket.handler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _before() -> None:
    incoming = request.environ.get("HTTP_X_REQUEST_ID", "")  # the X-Request-Id header, read directly
    g.request_id = incoming if incoming and _SAFE_ID.match(incoming) else uuid.uuid4().hex
    g.started = time.perf_counter()


_SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)
_JSON_CSP = ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
# The metrics' children by label values (prometheus_client's labels() validates and locks each
# time; a child, once made, is the same object for good).
_request_counters: dict[tuple[str, str, str], object] = {}
_latency_histograms: dict[str, object] = {}


def csp_nonce() -> str:
    """This request's script and style nonce (made on first use): a page's own inline ``<script>``
    and ``<style>`` carry it, and nothing else inline runs, such as markup a value smuggled in."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


@lru_cache(maxsize=8)
def _tile_source(tile_url: str) -> str:
    """The CSP source of an intranet tile server (``TILE_URL``): its scheme and host, a ``{s}``
    subdomain as ``*``; empty for a path of this site (``'self'`` covers it)."""
    parts = urlsplit(tile_url)
    if not parts.scheme or not parts.netloc:
        return ""
    labels = parts.netloc.split(".")
    if "{" in labels[0]:
        labels[0] = "*"
    host = ".".join(labels)
    return f"{parts.scheme}://{host}" if "{" not in host else f"{parts.scheme}:"


def html_policy(nonce: str | None, tile_url: str | None = None) -> str:
    """The Content-Security-Policy of an HTML page: everything from this site, scripts only as
    files of this site or inline with the page's nonce, no plugins, no framing, no <base>.

    Styles: a page that issued a nonce gets nonce-only inline styles too (Folium's ``<style>``
    blocks carry it). A page that issued none (the sign-in page's ``<style>``) keeps
    'unsafe-inline' for styles: CSS cannot run script, and user text reaches no page unescaped.
    Leaflet positions its panes through the CSSOM, which CSP does not govern.
    """
    inline = [f"'nonce-{nonce}'"] if nonce else []
    tiles = _tile_source(tile_url) if tile_url else ""
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *inline],
        "style-src": ["'self'", *(inline or ["'unsafe-inline'"])],
        "img-src": ["'self'", "data:", "blob:", *filter(None, [tiles])],
        "connect-src": ["'self'"],  # the API and the Socket.IO websocket, same host (CSP3: 'self' covers ws:)
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],  # as X-Frame-Options: DENY; no page of ours is framed
        "form-action": ["'self'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def _after(response: Response) -> Response:
    headers = response.headers
    headers["X-Request-Id"] = getattr(g, "request_id", "")
    present = {name.lower() for name, _ in headers.items()}  # a view's own choice stands (setdefault)
    for name, value in _SECURITY_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    if "content-security-policy" not in present:
        if response.mimetype == "application/json":
            headers.add(*_JSON_CSP)
        elif response.mimetype == "text/html":
            tile_url = current_app.config.get("TILE_URL") or os.environ.get("TILE_URL")
            headers.add("Content-Security-Policy", html_policy(g.get("csp_nonce"), tile_url))
    endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
    key = (request.method, endpoint, str(response.status_code))
    counter = _request_counters.get(key)
    if counter is None:
        counter = _request_counters.setdefault(key, REQUESTS.labels(*key))
    counter.inc()
    if hasattr(g, "started"):
        histogram = _latency_histograms.get(endpoint)
        if histogram is None:
            histogram = _latency_histograms.setdefault(endpoint, LATENCY.labels(endpoint))
        histogram.observe(time.perf_counter() - g.started)
    return response


def metrics() -> Response:
    """Prometheus text format (the outbox backlog is read from the database at scrape time)."""
    try:
        BACKLOG.set(backlog(db.session))
    except Exception:  # the database may be down: the other figures still matter
        logging.getLogger(__name__).warning("outbox backlog unavailable for /metrics")
    return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_after)
    app.jinja_env.globals["csp_nonce"] = csp_nonce  # <script nonce="{{ csp_nonce() }}">
    app.add_url_rule("/metrics", "metrics", metrics)
