"""The background worker: runs the registry's periodic jobs.

Each job runs in its own session and commits on its own, so one failing job never blocks the
others; the worker records a heartbeat that `/readyz` reports. Each feature adds its
jobs to ``default_jobs``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry.clock import Clock
from registry.db import Base

log = logging.getLogger(__name__)


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(
        sa.String(128), primary_key=True, comment="host:pid of the worker process"
    )
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    rounds: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)


JobFunction = Callable[[Session, datetime], int]


def batches_within(step: JobFunction, budget_seconds: float) -> JobFunction:
    """A job that runs ``step`` (one batch; returns how many items it handled) and commits,
    again and again while it finds work, for up to ``budget_seconds`` a round: a backlog
    drains quickly without holding up the other jobs, and what is left waits for the next
    round."""

    def run(session: Session, now: datetime) -> int:
        deadline = time.monotonic() + budget_seconds
        total = 0
        while handled := step(session, now):
            session.commit()
            total += handled
            if time.monotonic() > deadline:
                break
        return total

    return run


MAX_BACKOFF_SECONDS = 60.0


@dataclass(frozen=True)
class Job:
    name: str
    interval_seconds: float
    run: JobFunction  # returns how many items it handled, for the log


def default_jobs(
    search: Any = None, thresholds: Any = None, sender: Any = None, settings: Any = None
) -> list[Job]:
    """Every periodic job of the registry; each feature adds its own here.

    ``search`` is the app's search backend; without it the outbox is left for a worker
    that has one.
    """
    from registry.listings import run_list_jobs
    from registry.objections import escalate_due
    from registry.repairs import escalate_late as escalate_late_repairs
    from registry.staff_auth import purge_job as sign_in_purge

    # Publications and expiries are checked every 15 s: at most a minute late.
    jobs = [
        Job("purge-request-state", 60.0, _purge_nonces(settings)),
        Job("purge-sign-in-state", 60.0, sign_in_purge(settings)),
        Job("list-lifecycle", 15.0, run_list_jobs),
        # Unanswered objections go to the reviewers' queue at most a minute late.
        Job("objection-deadlines", 60.0, escalate_due),
        # Repair applications past their stage's last working day: escalated within a minute.
        Job("repair-deadlines", 60.0, escalate_late_repairs),
    ]
    if settings is not None:
        from registry.ratings import rating_job, requeue_aged

        jobs.append(Job("rating-proposals", 1.0, rating_job(settings)))
        jobs.append(Job("rating-ageing", 3600.0, requeue_aged))
        from registry.retention import retention_job

        # Periods end on calendar days: a record leaves at most five minutes into its day.
        jobs.append(Job("retention", 300.0, retention_job(settings)))
        from registry.open_records import confirmation_job

        # Asked on the day a record falls due, at most five minutes into it.
        jobs.append(Job("open-record-confirmations", 300.0, confirmation_job(settings)))
        from registry.person_notices import release_job

        # A held record is shared at most five minutes into the day its wait ends.
        jobs.append(Job("person-notice-releases", 300.0, release_job(settings)))
        jobs.extend(monitoring_jobs(settings))
        from registry.tlog import checkpoint_job

        jobs.append(
            Job("tlog-checkpoint", settings.TLOG_CHECKPOINT_INTERVAL, checkpoint_job(settings))
        )
    if sender is not None:
        from registry.notifications import send_pending

        jobs.append(Job("notifications", 5.0, lambda s, now: send_pending(s, sender, now)))
    if search is not None:
        from search.screening import run_jobs
        from search.sync import drain

        jobs.append(Job("search-outbox", 1.0, lambda session, now: drain(session, search, now)))
        jobs.append(
            Job(
                "screening-jobs",
                1.0,
                lambda session, now: run_jobs(session, search, now, thresholds),
            )
        )
    return jobs


def monitoring_jobs(settings: Any) -> list[Job]:
    """Change detection for watched subjects, and webhook delivery of the events."""
    from api.webhooks import transport_from_settings
    from registry.monitoring import change_job
    from registry.webhooks import DeliveryPolicy, delivery_job

    policy = DeliveryPolicy.from_settings(settings)
    return [
        Job("monitoring-changes", 1.0, change_job()),
        Job("monitoring-webhooks", 1.0, delivery_job(transport_from_settings(settings), policy)),
    ]


def _purge_nonces(settings: Any) -> JobFunction:
    """Nonces are kept past their signature's expiry for longer than the tolerated clock
    skew, whatever SIGNATURE_CLOCK_SKEW says, so no purged nonce's signature can pass."""
    from datetime import timedelta

    from registry import access

    skew = int(settings.SIGNATURE_CLOCK_SKEW) if settings is not None else 0
    keep = max(access.NONCE_RETENTION, timedelta(seconds=skew + 60))
    return lambda session, now: access.purge_expired(session, now, keep=keep)


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    """Runs ``jobs`` when due, forever or for a bounded number of rounds."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        clock: Clock,
        *,
        jobs: list[Job] | None = None,
        poll_interval: float = 1.0,
        identity: str | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.jobs = default_jobs() if jobs is None else list(jobs)
        self.poll_interval = poll_interval
        self.identity = identity or worker_identity()
        self.started_at = clock.now()
        self._next_due: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run_round(self) -> dict[str, int]:
        """Run every job that is due; returns the count each job handled."""
        handled: dict[str, int] = {}
        errors: list[str] = []
        for job in self.jobs:
            due = self._next_due.get(job.name, 0.0)
            if time.monotonic() < due:
                continue
            self._next_due[job.name] = time.monotonic() + job.interval_seconds
            with self.session_factory() as session:
                try:
                    handled[job.name] = job.run(session, self.clock.now())
                    session.commit()
                    self._failures.pop(job.name, None)
                except Exception as exc:  # noqa: BLE001 - one job's failure must not stop the rest
                    session.rollback()
                    # Back off while something it needs is away (the search engine, say):
                    # 2, 4, 8... times the interval, at most a minute.
                    failures = self._failures[job.name] = self._failures.get(job.name, 0) + 1
                    delay = min(job.interval_seconds * 2**failures, MAX_BACKOFF_SECONDS)
                    self._next_due[job.name] = time.monotonic() + delay
                    log.warning(
                        "job %s failed (%s); next try in %.0fs",
                        job.name,
                        type(exc).__name__,
                        delay,
                        exc_info=failures == 1,  # the traceback once, not on every retry
                    )
                    errors.append(f"{job.name}: {type(exc).__name__}")
        self._beat("; ".join(errors) or None)
        return handled

    def _beat(self, error: str | None) -> None:
        now = self.clock.now()
        with self.session_factory() as session:
            row = session.get(WorkerHeartbeat, self.identity)
            if row is None:
                row = WorkerHeartbeat(
                    worker_id=self.identity, started_at=self.started_at, last_seen_at=now, rounds=0
                )
                session.add(row)
            row.last_seen_at = now
            row.rounds += 1
            row.last_error = error
            session.commit()

    def run_forever(self, max_rounds: int | None = None) -> int:
        rounds = 0
        while not self._stop.is_set():
            try:
                self.run_round()
            except sa.exc.OperationalError:
                # The database is away (restart, failover): wait and try again.
                log.warning("database unavailable; retrying in %.1fs", self.poll_interval)
            rounds += 1
            if max_rounds is not None and rounds >= max_rounds:
                break
            self._stop.wait(self.poll_interval)
        return rounds


def latest_heartbeat(session: Session) -> WorkerHeartbeat | None:
    return session.scalar(
        sa.select(WorkerHeartbeat).order_by(WorkerHeartbeat.last_seen_at.desc()).limit(1)
    )


def host_heartbeat_age(session: Session, now: datetime) -> float | None:
    """Seconds since a worker on this host last beat, or None if none ever did."""
    prefix = socket.gethostname() + ":"
    last = session.scalar(
        sa.select(sa.func.max(WorkerHeartbeat.last_seen_at)).where(
            WorkerHeartbeat.worker_id.startswith(prefix, autoescape=True)
        )
    )
    if last is None:
        return None
    if last.tzinfo is None:  # an aggregate bypasses the column type on SQLite
        from datetime import UTC

        last = last.replace(tzinfo=UTC)
    return (now - last).total_seconds()
