"""The duty shift's background work in the serving process: coverage kept live, and the server's
own periodic jobs (alert checks, coverage recomputation, referral escalation, abandoned evidence
uploads), run once across several processes. No external cron.

- ``CoverageFeed``: a sink of the live bus. A committed squad update (a dispatch, a task
  finished, a squad off duty) or a published plan wakes it; it brings ``township_coverage`` up
  to date (``dispatch.coverage``) and the changes go out as ``coverage`` updates. Each process
  handles the changes it committed; coverage's per-county advisory lock orders them.
- ``Scheduler``: every process runs one; the one holding a session-level advisory lock on its
  own connection is the leader and runs the jobs when due (``scheduled_run`` remembers each
  job's last run, so a new leader keeps the period). If the leader dies, its connection closes,
  PostgreSQL frees the lock and another process takes it within a second.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from dispatch import alerts, coverage, evidence
from dispatch.live import bus
from dispatch.live.sio import Loop, socketio
from dispatch.oversight import referrals
from dispatch.store.db import db
from gis import clock

log = logging.getLogger(__name__)

SCHEDULER_LOCK = 0x5C4_ED01  # pg_advisory_lock key of the scheduler's leader


class CoverageFeed:
    """Squads whose status changed, and plans published, brought into coverage in the background."""

    def __init__(self):
        self.app = None
        self._squads: set[int] = set()
        self._full = False
        self._lock = threading.Lock()
        self._loop = Loop(self._run)
        self.updates = 0

    def sink(self, update: dict) -> None:
        """The bus's update sink: cheap, after the commit that caused it."""
        kind = update.get("type")
        if kind == "squad" and "status" in update.get("data", {}):
            with self._lock:
                self._squads.add(update["id"])
        elif kind in ("plan", "suspension", "transport"):  # a published plan; sailings stopped, resumed, retimed
            with self._lock:
                self._full = True
        else:
            return
        self._loop.wake()

    def _run(self) -> None:
        while True:
            self._loop.wait()
            socketio.sleep(0.05)  # a dispatch of several squads arrives as several updates: one pass
            with self._lock:
                squads, self._squads = self._squads, set()
                full, self._full = self._full, False
            if not squads and not full:
                continue
            try:
                with self.app.app_context():
                    session = db.session
                    try:
                        config = self.app.config
                        if full:
                            coverage.recompute(session, config, actor="coverage")
                        else:
                            coverage.update_for_squads(session, sorted(squads), config, actor="coverage")
                        session.commit()
                        self.updates += 1
                    finally:
                        db.session.remove()
            except Exception:  # the database away: the periodic recomputation catches up
                log.exception("coverage update failed (squads %s, full %s)", sorted(squads), full)


feed = CoverageFeed()


def _escalate(session, config) -> dict:
    return {"escalated": len(referrals.escalate_overdue(session, actor="scheduler"))}


def _recompute(session, config) -> dict:
    return {"changed": len(coverage.recompute(session, config, actor="scheduler"))}


def _check_alerts(session, config) -> dict:
    return alerts.check(session, config, actor="scheduler")


def _abandon_uploads(session, config) -> dict:
    return {"abandoned": len(evidence.abandon_stale_uploads(session, config, actor="scheduler"))}


# job -> (its period's setting, what it runs)
JOBS = {
    "alerts": ("SCHEDULE_ALERTS_S", _check_alerts),
    "coverage": ("SCHEDULE_COVERAGE_S", _recompute),
    "escalation": ("SCHEDULE_ESCALATION_S", _escalate),
    "evidence": ("SCHEDULE_EVIDENCE_S", _abandon_uploads),
}


class Scheduler:
    """Periodic jobs, run by whichever process holds the leader's advisory lock."""

    TICK_S = 1.0

    def __init__(self):
        self.app = None
        self.host = f"{socket.gethostname()}:{os.getpid()}"
        self.leader = False
        self._connection = None
        self.runs: dict[str, int] = {}

    def periods(self) -> dict[str, float]:
        return {job: float(self.app.config[setting]) for job, (setting, _) in JOBS.items()}

    def run(self) -> None:
        while True:
            try:
                self.tick()
            except OperationalError as exc:  # the database away (a restart, the server stopping): one line
                log.warning("scheduler: the database is unreachable (%s); trying again", str(exc.orig).splitlines()[0])
                self._resign()
            except Exception:
                log.exception("scheduler tick failed")
                self._resign()
            socketio.sleep(self.TICK_S)

    def tick(self) -> None:
        periods = {job: p for job, p in self.periods().items() if p > 0}
        if not periods:
            return
        if not self._lead():
            return
        with self.app.app_context():
            for job, period in periods.items():
                self._maybe_run(job, period)

    def _lead(self) -> bool:
        """Hold (or try to take) the leader's lock on a connection of our own; check it is alive."""
        if self._connection is None:
            self._connection = db.engine.connect()
        try:
            if self.leader:
                self._connection.execute(text("SELECT 1"))
            else:
                self.leader = bool(
                    self._connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": SCHEDULER_LOCK}).scalar()
                )
                self._connection.commit()
                if self.leader:
                    log.info("scheduler: %s leads the periodic jobs", self.host)
        except Exception:
            self._resign()
            raise
        return self.leader

    def _resign(self) -> None:
        self.leader = False
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # already gone
                pass
            self._connection = None

    def _maybe_run(self, job: str, period: float) -> None:
        session = db.session
        try:
            last = session.execute(
                text("SELECT last_run_at FROM scheduled_run WHERE job = :job"), {"job": job}
            ).scalar()
            now = clock.utc_now()
            if last is not None and (now - last).total_seconds() < period:
                session.rollback()
                return
            started = time.monotonic()
            error = None
            try:
                result = JOBS[job][1](session, self.app.config)
                session.commit()
            except Exception as exc:
                session.rollback()
                log.exception("scheduled job %s failed", job)
                error, result = f"{type(exc).__name__}: {exc}"[:2000], None
            session.execute(
                text("""
                INSERT INTO scheduled_run (job, last_run_at, host, runs, last_error) VALUES (:job, :now, :host, 1, :error)
                ON CONFLICT (job) DO UPDATE SET last_run_at = EXCLUDED.last_run_at, host = EXCLUDED.host,
                    runs = scheduled_run.runs + 1, last_error = EXCLUDED.last_error"""),
                {"job": job, "now": now, "host": self.host, "error": error},
            )
            session.commit()
            self.runs[job] = self.runs.get(job, 0) + 1
            if result:
                log.debug("scheduled job %s: %s in %.0f ms", job, result, (time.monotonic() - started) * 1000)
        finally:
            db.session.remove()


scheduler = Scheduler()


def start(app) -> None:
    """The coverage feed and the scheduler of this serving process (``live.server.start_background_work``)."""
    feed.app = scheduler.app = app
    bus.register(updates=feed.sink)
    socketio.start_background_task(scheduler.run)
