"""The search outbox drained by several worker processes at once, timed (for bench/search.py).

Each worker is what ``creditreg worker`` does for the outbox, without the other jobs:
``search.sync.drain_once`` in a loop on its own session and connection, committing each
batch, until it finds nothing left to claim. On PostgreSQL the workers share the rows
through ``FOR UPDATE SKIP LOCKED``; SQLite gets one worker. They start together (each
connects and imports first, then waits for the others), so the clock measures draining
only. Each reports how its time divided: claiming the rows and building the documents
(``build``: the claim, the document queries and the Python that makes the documents, and
marking the rows processed), writing them to the backend (``write``), and the commit.
"""

from __future__ import annotations

import cProfile
import multiprocessing
import os
import queue
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

# The project first: this directory's search.py would otherwise shadow the search package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import registry.app  # noqa: E402, F401 - every model imported, so that the mappers configure
from registry.db import make_engine  # noqa: E402
from search.engine import ElasticsearchBackend, OpenSearchBackend  # noqa: E402
from search.sql import SqlBackend  # noqa: E402
from search.sync import drain_once  # noqa: E402


@dataclass(frozen=True)
class BackendSpec:
    """What a process needs to make its own backend: the kind, and for an engine its URL
    and index prefix."""

    kind: str
    url: str | None = None
    prefix: str = "creditreg"
    timeout: float = 120.0

    def make(self, engine: Any) -> Any:
        if self.kind == "opensearch":
            return OpenSearchBackend.connect(str(self.url), self.prefix, self.timeout)
        if self.kind == "elasticsearch":
            return ElasticsearchBackend.connect(str(self.url), self.prefix, self.timeout)
        return SqlBackend(lambda: engine)


class TimedWrites:
    """A backend whose writes are timed (drain_once calls index, then delete)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.name = backend.name
        self.seconds = 0.0

    def index(self, documents: Any, *, session: Session | None = None) -> dict[str, int]:
        started = time.perf_counter()
        try:
            return dict(self.backend.index(documents, session=session))
        finally:
            self.seconds += time.perf_counter() - started

    def delete(self, items: Any, *, session: Session | None = None) -> dict[str, int]:
        started = time.perf_counter()
        try:
            return dict(self.backend.delete(items, session=session))
        finally:
            self.seconds += time.perf_counter() - started


@dataclass
class WorkerReport:
    rows: int = 0
    batches: int = 0
    build: float = 0.0
    write: float = 0.0
    commit: float = 0.0
    peak_rss_mb: float = 0.0
    cpu: float = 0.0  # seconds of CPU this process used while draining
    database_cpu: float | None = None  # and its PostgreSQL backend (when local and readable)


@dataclass
class DrainReport:
    rows: int
    seconds: float
    workers: list[WorkerReport] = field(default_factory=list)
    profiles: list[Path] = field(default_factory=list)
    node_cpu: float | None = None  # seconds of CPU the engine node used meanwhile


def process_cpu(pid: int) -> float | None:
    """Seconds of CPU (user and system, all threads) a process has used, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The command name, in parentheses, may hold spaces: count from the last ")".
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _worker(
    database_url: str,
    spec: BackendSpec,
    batch: int,
    ready: Any,
    go: Any,
    results: Any,
    profile_path: str | None,
) -> None:
    engine = make_engine(database_url, pool_size=1)
    backend = spec.make(engine)
    timed = TimedWrites(backend)
    report = WorkerReport()
    profile = cProfile.Profile() if profile_path else None
    with Session(engine) as session:
        connection = session.connection()  # connect before the clock starts
        database_pid = (
            connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            if engine.dialect.name == "postgresql"
            else None
        )
        session.commit()
        ready.release()
        go.wait()
        cpu = _own_cpu()
        database_cpu = process_cpu(database_pid) if database_pid else None
        if profile is not None:
            profile.enable()
        while True:
            started = time.perf_counter()
            written_before = timed.seconds
            count = drain_once(session, timed, datetime.now(UTC), batch=batch)
            built = time.perf_counter()
            session.commit()
            committed = time.perf_counter()
            if not count:
                break
            report.rows += count
            report.batches += 1
            report.write += timed.seconds - written_before
            report.build += built - started - (timed.seconds - written_before)
            report.commit += committed - built
        report.cpu = _own_cpu() - cpu
        if database_pid and database_cpu is not None:
            database_after = process_cpu(database_pid)
            if database_after is not None:
                report.database_cpu = database_after - database_cpu
        if profile is not None:
            profile.disable()
            profile.dump_stats(profile_path)
    if hasattr(backend, "close") and spec.kind != "sql":
        backend.close()
    engine.dispose()
    report.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.put(report)


def drain_in_parallel(
    database_url: str,
    spec: BackendSpec,
    *,
    workers: int,
    batch: int,
    profile_dir: Path | None = None,
    node_pid: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> DrainReport:
    """Drain the outbox with ``workers`` processes; returns rows, seconds and each worker's
    division of its time and CPU (and the CPU the engine node ``node_pid`` used meanwhile).
    With ``profile_dir``, each worker's cProfile goes there; ``progress`` is called with the
    seconds so far every 5 s while they work."""
    context = multiprocessing.get_context("spawn")  # nothing inherited: own connections
    ready = context.Semaphore(0)
    go = context.Event()
    results = context.Queue()
    profiles = [profile_dir / f"drain-{n}.prof" for n in range(workers)] if profile_dir else []
    processes = [
        context.Process(
            target=_worker,
            args=(
                database_url,
                spec,
                batch,
                ready,
                go,
                results,
                str(profiles[n]) if profiles else None,
            ),
            daemon=True,
        )
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        if not ready.acquire(timeout=120):
            raise SystemExit(f"a drain worker did not start (exit code {process.exitcode})")
    started = time.perf_counter()
    node_cpu = process_cpu(node_pid) if node_pid else None
    go.set()
    reports: list[WorkerReport] = []
    while len(reports) < workers:
        try:
            reports.append(results.get(timeout=5))
        except queue.Empty:  # see whether a worker died
            failed = [p for p in processes if p.exitcode not in (None, 0)]
            if failed:
                raise SystemExit(
                    f"a drain worker failed (exit code {failed[0].exitcode}); see above"
                ) from None
            if progress is not None:
                progress(time.perf_counter() - started)
    seconds = time.perf_counter() - started
    node_after = process_cpu(node_pid) if node_pid else None
    for process in processes:
        process.join(timeout=60)
    drained = DrainReport(sum(r.rows for r in reports), seconds, reports, profiles)
    if node_cpu is not None and node_after is not None:
        drained.node_cpu = node_after - node_cpu
    return drained
