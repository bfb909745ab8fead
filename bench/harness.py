"""What the benchmarks share: scratch databases, a member with a key, a served registry,
and keep-alive connections that sign what they send."""

from __future__ import annotations

import http.client
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.client import RequestSigner  # noqa: E402
from registry import migrate  # noqa: E402
from registry.app import create_app  # noqa: E402
from registry.audit import Actor  # noqa: E402
from registry.db import db  # noqa: E402
from registry.members import add_key, add_member  # noqa: E402
from search.query import SearchQuery  # noqa: E402

ENGINE_PREFIX = "creditreg-bench"  # the engines' alias: creditreg-bench-subjects
KINDS = ("enterprise", "shop")  # what the API searches when no kind is given
PURPOSE = "counterparty_check"


def api_query(text: str) -> SearchQuery:
    """The query GET /api/v1/subjects builds for ``q`` alone."""
    return SearchQuery(text=text, kinds=KINDS, size=20)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def wipe_database(url: str) -> str:
    """Empty the database at ``url`` (a SQLite file is deleted, a PostgreSQL schema
    dropped); refuses a PostgreSQL database whose name lacks "bench" or "test"."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return url
    if not any(word in (parsed.database or "") for word in ("bench", "test")):
        raise SystemExit("refusing to wipe a database whose name lacks 'bench' or 'test'")
    engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def recreate_databases(admin_url: str, names: Iterable[str]) -> list[str]:
    """Drop and create these PostgreSQL databases; returns their URLs."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    wanted = list(names)
    with admin.connect() as connection:
        for name in wanted:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            connection.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    base = sa.make_url(admin_url)
    return [base.set(database=name).render_as_string(hide_password=False) for name in wanted]


def admit_member(
    url: str, *, name: str, roles: list[str], migrate_first: bool = False
) -> tuple[str, ed25519.Ed25519PrivateKey, str]:
    """A member with these roles and a fresh key; returns (member id, private key, key id)."""
    app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with app.app_context():
        if migrate_first:
            migrate.upgrade(db.engine)
        actor = Actor.system("bench")
        member = add_member(db.session, actor=actor, name=name, kind="bank", roles=roles)
        key = add_key(db.session, actor=actor, member=member, public_key_pem=pem.decode())
        db.session.commit()
        result = (str(member.id), private, key.id)
    db.dispose(app)
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    url: str, port: int, threads: int, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``creditreg serve`` on ``url`` with the rate limit lifted; returns once /readyz is 200."""
    env = {
        **os.environ,
        "CREDITREG_DATABASE_URL": url,
        "CREDITREG_RATE_LIMIT_PER_MINUTE": "100000000",
        "CREDITREG_SERVER_THREADS": str(threads),
        "CREDITREG_DATABASE_POOL_SIZE": str(threads + 2),
        "CREDITREG_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    server = subprocess.Popen(  # noqa: S603 - our own console script
        [str(Path(sys.executable).with_name("creditreg")), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    ready = f"http://127.0.0.1:{port}/readyz"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(ready, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    try:  # say why: the readiness answer names what is missing (migrations, database)
        with urllib.request.urlopen(ready, timeout=5) as response:  # noqa: S310
            answer = response.read()
    except urllib.error.HTTPError as exc:
        answer = exc.read()
    except OSError as exc:
        answer = repr(exc).encode()
    server.terminate()
    raise SystemExit(f"the server did not become ready: {answer[:500]!r}")


class Connection:
    """One keep-alive HTTP connection; requests are signed before the clock starts."""

    def __init__(self, port: int, signer: RequestSigner | None, timeout: float = 3600) -> None:
        self.authority = f"127.0.0.1:{port}"
        self.signer = signer
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def send(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes, float]:
        """(status, body, seconds from sending to the last byte of the answer)."""
        headers = {"Host": self.authority}
        if body:
            headers["Content-Type"] = "application/json"
        if self.signer is not None:
            headers.update(
                self.signer.headers_for(method, f"http://{self.authority}{path}", body, headers)
            )
        started = time.perf_counter()
        self.http.request(method, path, body=body or None, headers=headers)
        response = self.http.getresponse()
        answer = response.read()
        return response.status, answer, time.perf_counter() - started


def process_memory(pid: int) -> dict[str, float]:
    """A process's resident memory in MB from /proc (Linux): ``rss`` (VmRSS), its ``anon``
    part (the heap) and its ``file`` part (mapped files: an engine's mmapped index pages,
    which are the page cache and shared), and ``peak`` (VmHWM). Empty once it has ended."""
    fields = {"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file", "VmHWM": "peak"}
    found: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in fields:
                    found[fields[key]] = int(value.split()[0]) / 1024
    except OSError:
        return {}
    return found


def jvm_heap(url: str) -> dict[str, float]:
    """Heap used and heap max in MB of an engine node, from ``_nodes/stats/jvm`` (the
    first node: the benchmarks run one)."""
    try:
        with urllib.request.urlopen(f"{url}/_nodes/stats/jvm", timeout=5) as response:  # noqa: S310
            nodes = json.load(response)["nodes"]
    except (OSError, ValueError, KeyError):
        return {}
    memory = next(iter(nodes.values()))["jvm"]["mem"]
    return {
        "heap": memory["heap_used_in_bytes"] / 2**20,
        "heap_max": memory["heap_max_in_bytes"] / 2**20,
    }


class MemoryWatch:
    """Samples the memory of named processes (and an engine node's JVM heap) once a second
    in a thread, keeping each figure's peak per phase of the run."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.pids: dict[str, int] = {}
        self.heap_url: str | None = None
        self.phase = "start"
        # phase -> process label -> figure -> peak MB
        self.peaks: dict[str, dict[str, dict[str, float]]] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def watch(self, label: str, pid: int) -> None:
        with self.lock:
            self.pids[label] = pid

    def forget(self, label: str) -> None:
        self.sample()
        with self.lock:
            self.pids.pop(label, None)

    def enter(self, phase: str) -> None:
        """Samples from now on count for ``phase`` (the last one's peaks are taken first)."""
        self.sample()
        with self.lock:
            self.phase = phase
        self.sample()

    def sample(self) -> None:
        with self.lock:
            pids = dict(self.pids)
            phase = self.phase
        figures = {label: process_memory(pid) for label, pid in pids.items()}
        if self.heap_url:
            figures.setdefault("node", {}).update(jvm_heap(self.heap_url))
        with self.lock:
            peaks = self.peaks.setdefault(phase, {})
            for label, values in figures.items():
                kept = peaks.setdefault(label, {})
                for key, value in values.items():
                    kept[key] = max(kept.get(key, 0.0), value)

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()

    def start(self) -> MemoryWatch:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.sample()
        self.stopped.set()
        self.thread.join(timeout=10)
