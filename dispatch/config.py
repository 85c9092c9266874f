"""Configuration from the environment; ``create_app(test_config)`` overrides it."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The evidence store (files of cases: photos, documents): this folder of DATA_DIR. `flask --app
# dispatch backup` takes it with the database and `restore` puts it back (dispatch.store.backup).
EVIDENCE_DIR = "evidence"


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def from_environment() -> dict:
    """Settings read from environment variables, with the documented defaults."""
    return {
        # No DATABASE_URL: the server starts its own PostGIS under DISPATCH_DATA_DIR.
        "DATABASE_URL": os.environ.get("DATABASE_URL") or None,
        "DATA_DIR": Path(os.environ.get("DISPATCH_DATA_DIR", PROJECT_ROOT / "var")),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or None,
        "SOCKETIO_MESSAGE_QUEUE": os.environ.get("SOCKETIO_MESSAGE_QUEUE") or None,
        "SOCKETIO_ASYNC_MODE": os.environ.get("SOCKETIO_ASYNC_MODE", "threading"),
        # Pages that may open a Socket.IO connection (https://dispatch.example,...); unset: only a
        # page of the host the browser asked for (its Host header). Other origins are refused.
        "SITE_ORIGINS": [o.strip().rstrip("/") for o in os.environ.get("SITE_ORIGINS", "").split(",") if o.strip()]
        or None,
        # Command-centre frames: at most one per FRAME_INTERVAL_S per screen (dispatch.live.frames; several processes: dispatch.live.updates).
        "FRAME_INTERVAL_S": _float("FRAME_INTERVAL_S", 1.0),
        # Tablet messages not acknowledged after ACK_TIMEOUT_S are resent (checked every RESEND_INTERVAL_S).
        "ACK_TIMEOUT_S": _float("ACK_TIMEOUT_S", 10.0),
        "RESEND_INTERVAL_S": _float("RESEND_INTERVAL_S", 2.0),
        "DB_POOL_SIZE": int(os.environ.get("DB_POOL_SIZE", "10")),
        # Possible duplicates: open incidents of the same matter this close, this recent.
        "DUPLICATE_RADIUS_M": _float("DUPLICATE_RADIUS_M", 300.0),
        "DUPLICATE_WINDOW_HOURS": _float("DUPLICATE_WINDOW_HOURS", 24.0),
        # ... of which the intake answer lists the nearest DUPLICATE_LIMIT (at least 1; it counts them all).
        "DUPLICATE_LIMIT": max(1, int(os.environ.get("DUPLICATE_LIMIT", "20"))),
        # At sea, a maritime incident belongs to the nearest county within this distance.
        "SEA_REACH_M": _float("SEA_REACH_M", 30_000.0),
        # Joint inspections: pending requests of one target this close, within this window.
        "JOINT_RADIUS_M": _float("JOINT_RADIUS_M", 100.0),
        "JOINT_WINDOW_DAYS": _float("JOINT_WINDOW_DAYS", 14.0),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", str(1024 * 1024))),
        # A tablet's fix dated more than this after the server's clock is refused (dispatch.positions).
        "FIX_MAX_AHEAD_S": _float("FIX_MAX_AHEAD_S", 300.0),
        # Reverse proxies in front of the server whose X-Forwarded-For/-Proto/-Host are believed:
        # the sign-in throttle then sees the client's address, and cookies are Secure behind TLS.
        "PROXY_COUNT": int(os.environ.get("PROXY_COUNT", "0")),
        # 1: every answer is checked against its declaration (the test suite, make fuzz); off in service
        "CHECK_ANSWERS": os.environ.get("CHECK_ANSWERS", "") == "1",
        # Live 1+X coverage (dispatch.coverage): a township is covered while an available squad of
        # COVERAGE_DOMAIN reaches it within its zone's target (zone.target_minutes, else this one).
        "COVERAGE_TARGET_MINUTES": int(os.environ.get("COVERAGE_TARGET_MINUTES", "45")),
        "COVERAGE_DOMAIN": os.environ.get("COVERAGE_DOMAIN", "comprehensive"),
        # Alerts (dispatch.alerts): a task unacknowledged this long, an SLA due within this many
        # minutes, the position of a squad on a task older than this.
        "ALERT_UNACKNOWLEDGED_S": _float("ALERT_UNACKNOWLEDGED_S", 120.0),
        "ALERT_SLA_DUE_MINUTES": _float("ALERT_SLA_DUE_MINUTES", 10.0),
        "ALERT_STALE_POSITION_MINUTES": _float("ALERT_STALE_POSITION_MINUTES", 15.0),
        # A fix older than this is not trusted by the recommendation and coverage: the squad is
        # placed at the pier by its last fix, else at its station (dispatch.recommend).
        "POSITION_STALE_MINUTES": _float("POSITION_STALE_MINUTES", 30.0),
        # The server's own periodic work (dispatch.live.duty), run by one process at a time:
        # seconds between alert checks, coverage recomputations and referral escalations. 0: off.
        "SCHEDULE_ALERTS_S": _float("SCHEDULE_ALERTS_S", 10.0),
        "SCHEDULE_COVERAGE_S": _float("SCHEDULE_COVERAGE_S", 60.0),
        "SCHEDULE_ESCALATION_S": _float("SCHEDULE_ESCALATION_S", 300.0),
        "SCHEDULE_EVIDENCE_S": _float("SCHEDULE_EVIDENCE_S", 3600.0),
        # Evidence (dispatch.evidence): at most this many bytes per piece; stored in DATA_DIR/evidence,
        # or in the S3-compatible bucket EVIDENCE_S3_BUCKET (EVIDENCE_S3_ENDPOINT: not AWS; credentials
        # from the usual AWS_* variables; keys under EVIDENCE_S3_PREFIX).
        "EVIDENCE_MAX_BYTES": int(os.environ.get("EVIDENCE_MAX_BYTES", str(50 * 1024 * 1024))),
        "EVIDENCE_S3_BUCKET": os.environ.get("EVIDENCE_S3_BUCKET") or None,
        "EVIDENCE_S3_ENDPOINT": os.environ.get("EVIDENCE_S3_ENDPOINT") or None,
        "EVIDENCE_S3_PREFIX": os.environ.get("EVIDENCE_S3_PREFIX", ""),
        # a chunked upload no chunk has reached for this long is abandoned: its bytes deleted
        "EVIDENCE_UPLOAD_TTL_H": _float("EVIDENCE_UPLOAD_TTL_H", 72.0),
        # Open311 media_url: fetched into the evidence store only from these hosts (comma-separated;
        # none by default: kept as a link on the incident's record), within OPEN311_MEDIA_TIMEOUT_S.
        "OPEN311_MEDIA_HOSTS": [
            h.strip().lower() for h in os.environ.get("OPEN311_MEDIA_HOSTS", "").split(",") if h.strip()
        ],
        "OPEN311_MEDIA_TIMEOUT_S": _float("OPEN311_MEDIA_TIMEOUT_S", 5.0),
        "REFERENCE_DATA_DIR": Path(os.environ.get("REFERENCE_DATA_DIR", PROJECT_ROOT / "gis" / "data")),
    }
