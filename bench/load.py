"""Concurrent signed submissions and lookups against gunicorn and two workers, then checks.

    .venv/bin/python bench/load.py [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                                   [--seconds 25] [--clients 6] [--gunicorn-workers 3]

It creates the scratch database ``creditreg_bench_load`` (dropped first if it exists),
migrates it, admits one member per client (roles submitter and querier), starts the app
under gunicorn (``registry.wsgi:app``, gthread workers) and two ``creditreg worker``
processes, and then for ``--seconds`` runs:

- ``--clients`` paced clients, each its own member, mixing signed 20-record batches (some
  records re-sent with a change, so versions move), signed 1-record submissions, and
  signed lookups (by name and by id). Each keeps every receipt it is given.
- one greedy client that sends lookups as fast as it can, so its member passes the rate
  limit (``--rate-limit`` a minute, the paced clients stay below it) and gets 429s.

Then it checks, and exits 1 if anything fails:

1. status codes: nothing but 2xx, and 429 for the greedy client only;
2. every record of every receipt is in ``credit_records`` exactly once, and each version a
   receipt names is in ``credit_record_versions`` exactly once; each record's current
   version is the highest a receipt gave it;
3. the outbox drains, and ``creditreg search verify`` is clean;
4. ``creditreg log verify`` and ``creditreg audit verify`` are clean.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ROOT, Connection, admit_member, free_port, recreate_databases  # noqa: E402

from api.client import RequestSigner  # noqa: E402
from registry.demo import make_uscc  # noqa: E402

LOAD_DB = "creditreg_bench_load"
PURPOSE = "counterparty_check"
BATCH_SIZE = 20
CREDITREG = str(Path(sys.executable).with_name("creditreg"))
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


# --- processes --------------------------------------------------------------------------------


def registry_env(url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "CREDITREG_DATABASE_URL": url,
        "CREDITREG_LOG_LEVEL": "WARNING",
        **(extra or {}),
    }


def start_gunicorn(
    url: str, port: int, workers: int, threads: int, extra: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """gunicorn on ``registry.wsgi:app``; returns once /readyz answers 200."""
    env = registry_env(url, {"CREDITREG_DATABASE_POOL_SIZE": str(threads + 1), **extra})
    server = subprocess.Popen(  # noqa: S603 - our own virtualenv's gunicorn
        [
            GUNICORN,
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "5",
            "registry.wsgi:app",
        ],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    wait_ready(port, server)
    return server


def wait_ready(port: int, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def start_worker(url: str, extra: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own console script
        [CREDITREG, "worker"],
        env=registry_env(url, extra),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM if "gunicorn" in str(process.args) else signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def creditreg(url: str, *args: str, extra: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a ``creditreg`` command against ``url``; returns (exit code, output)."""
    done = subprocess.run(  # noqa: S603 - our own console script
        [CREDITREG, *args],
        env=registry_env(url, extra),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    return done.returncode, (done.stdout + done.stderr).strip()


# --- what clients send ------------------------------------------------------------------------


def penalty(client: int, number: int, revision: int = 0) -> dict[str, Any]:
    uscc = make_uscc(random.Random(client * 1_000_000 + number), "110105")  # noqa: S311
    return {
        "record_id": f"LOAD-{client:02d}-{number:07d}",
        "op": "upsert",
        "category": "administrative_penalty",
        "subject": {
            "kind": "enterprise",
            "uscc": uscc,
            "name": f"负载{client}号{number}科技有限公司",
        },
        "polarity": "negative",
        "severity": "general",
        "decided_at": "2025-03-01",
        "authority": "北京市市场监督管理局",
        "document_number": f"京市监罚〔2025〕{client}-{number}号",
        "legal_basis": "《中华人民共和国广告法》第五十五条",
        "summary": "发布虚假广告" + ("（更正）" * revision),
        "amount": {"value": f"{20000 + revision}.00", "currency": "CNY"},
        **({"reason": "更正处罚金额"} if revision else {}),
    }


def body_of(submission_id: str, records: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {"submission_id": submission_id, "records": records},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


@dataclass
class Tally:
    """What one client saw: status codes by kind, latencies, receipts, and problems."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    receipts: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    retried: int = 0

    def merge(self, other: Tally) -> None:
        self.statuses.update(other.statuses)
        for kind, values in other.seconds.items():
            self.seconds[kind].extend(values)
        self.receipts.extend(other.receipts)
        self.problems.extend(other.problems)
        self.retried += other.retried


class Client:
    """One member's client: its own submission ids, records and connection."""

    def __init__(self, number: int, port: int, signer: RequestSigner, *, retry_503: bool) -> None:
        self.number = number
        self.port = port
        self.signer = signer
        self.connection = Connection(port, signer, timeout=60)
        self.tally = Tally()
        self.serials = itertools.count(1)
        self.sent: list[int] = []  # record numbers this client has had accepted
        self.known: set[int] = set()
        self.subject_ids: list[str] = []
        self.retry_503 = retry_503
        self.rng = random.Random(number)  # noqa: S311 - test data

    def send(self, kind: str, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send once; with ``retry_503``, again after Retry-After (a new nonce, the same
        body) while the registry answers 503, for at most a minute."""
        deadline = time.monotonic() + 60
        while True:
            try:
                status, answer, seconds, headers = self._send(method, path, body)
            except (OSError, http.client.HTTPException) as exc:
                # The server closed the connection (a worker restarted, say): reconnect.
                self.connection = Connection(self.port, self.signer, timeout=60)
                if not self.retry_503 or time.monotonic() > deadline:
                    raise
                self.tally.problems.append(f"{kind}: connection error {exc!r}; retried")
                self.tally.retried += 1
                time.sleep(1)
                continue
            self.tally.statuses[(kind, status)] += 1
            self.tally.seconds[kind].append(seconds)
            if status == 503 and self.retry_503 and time.monotonic() < deadline:
                if "Retry-After" not in headers:
                    self.tally.problems.append(f"{kind}: 503 without Retry-After")
                self.tally.retried += 1
                time.sleep(min(float(headers.get("Retry-After", "1")), 2.0))
                continue
            if status == 503 and "Retry-After" not in headers:
                self.tally.problems.append(f"{kind}: 503 without Retry-After")
            return status, answer

    def _send(
        self, method: str, path: str, body: bytes
    ) -> tuple[int, bytes, float, dict[str, str]]:
        http = self.connection
        headers = {"Host": http.authority}
        if body:
            headers["Content-Type"] = "application/json"
        headers.update(
            self.signer.headers_for(method, f"http://{http.authority}{path}", body, headers)
        )
        started = time.perf_counter()
        http.http.request(method, path, body=body or None, headers=headers)
        response = http.http.getresponse()
        answer = response.read()
        return response.status, answer, time.perf_counter() - started, dict(response.getheaders())

    def submit(self, kind: str, records: list[dict[str, Any]], numbers: list[int]) -> None:
        submission_id = f"load-{self.number}-{uuid.uuid4()}"
        status, answer = self.send(
            kind, "POST", "/api/v1/submissions", body_of(submission_id, records)
        )
        if status in (200, 201):
            receipt = json.loads(answer)["receipt"]
            self.tally.receipts.append(receipt)
            fresh = [n for n in numbers if n not in self.known]
            self.known.update(fresh)
            self.sent.extend(fresh)
            self.subject_ids.extend(r["subject_id"] for r in receipt["records"][:1])
        elif status != 429:
            self.tally.problems.append(f"{kind}: {status} {answer[:300]!r}")

    def batch(self) -> None:
        numbers = [next(self.serials) for _ in range(BATCH_SIZE - 5)]
        records = [penalty(self.number, n) for n in numbers]
        # A few records sent before, changed: their versions move on.
        again = self.rng.sample(self.sent, min(5, len(self.sent)))
        records += [penalty(self.number, n, revision=self.rng.randint(1, 9)) for n in again]
        self.submit("batch", records, numbers + again)

    def single(self) -> None:
        number = next(self.serials)
        self.submit("single", [penalty(self.number, number)], [number])

    def lookup(self) -> None:
        if self.subject_ids and self.rng.random() < 0.5:
            subject_id = self.rng.choice(self.subject_ids)
            kind, path = "lookup by id", f"/api/v1/subjects/{subject_id}?purpose={PURPOSE}"
        else:
            number = self.rng.choice(self.sent) if self.sent else 1
            query = urlencode({"q": f"负载{self.number}号{number}", "purpose": PURPOSE})
            kind, path = "lookup by name", f"/api/v1/subjects?{query}"
        status, answer = self.send(kind, "GET", path)
        if status not in (200, 429):
            self.tally.problems.append(f"{kind}: {status} {answer[:300]!r}")

    def step(self) -> None:
        draw = self.rng.random()
        if draw < 0.25:
            self.batch()
        elif draw < 0.55:
            self.single()
        else:
            self.lookup()


def run_clients(
    clients: list[Client], greedy: Client | None, seconds: float, per_second: float
) -> tuple[Tally, Tally, float]:
    """Run the paced clients (at most ``per_second`` requests each) and the greedy one for
    ``seconds``; returns (paced tally, greedy tally, elapsed)."""
    stop_at = time.monotonic() + seconds

    def paced(client: Client) -> None:
        while time.monotonic() < stop_at:
            started = time.monotonic()
            try:
                client.step()
            except Exception as exc:  # noqa: BLE001 - counted and reported
                client.tally.problems.append(f"client error: {exc!r}")
                client.connection = Connection(client.port, client.signer, timeout=60)
            time.sleep(max(0.0, 1 / per_second - (time.monotonic() - started)))

    def unpaced(client: Client) -> None:
        while time.monotonic() < stop_at:
            try:
                client.lookup()
            except Exception as exc:  # noqa: BLE001 - counted and reported
                client.tally.problems.append(f"client error: {exc!r}")
                client.connection = Connection(client.port, client.signer, timeout=60)

    threads = [threading.Thread(target=paced, args=(c,)) for c in clients]
    if greedy is not None:
        threads.append(threading.Thread(target=unpaced, args=(greedy,)))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    total = Tally()
    for client in clients:
        total.merge(client.tally)
    return total, greedy.tally if greedy else Tally(), elapsed


# --- checks -----------------------------------------------------------------------------------


def check_receipts(url: str, receipts: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """Every record of every receipt stored once, at the versions the receipts name;
    returns (records checked, problems)."""
    highest: dict[str, int] = {}
    versions: Counter[tuple[str, int]] = Counter()
    for receipt in receipts:
        for item in receipt["records"]:
            highest[item["registry_id"]] = max(highest.get(item["registry_id"], 0), item["version"])
            if item["status"] != "unchanged":
                versions[(item["registry_id"], item["version"])] += 1
    problems = [f"version {v} of {r} is in {n} receipts" for (r, v), n in versions.items() if n > 1]
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        stored = {
            str(row.id): (row.version, row.copies)
            for row in connection.execute(
                sa.text(
                    "SELECT r.id, r.version, count(*) OVER (PARTITION BY r.member_id,"
                    " r.member_record_id) AS copies FROM credit_records r"
                )
            )
        }
        kept = Counter(
            (str(row.record_id), row.version)
            for row in connection.execute(
                sa.text("SELECT record_id, version FROM credit_record_versions")
            )
        )
    engine.dispose()
    for registry_id, version in highest.items():
        found = stored.get(registry_id)
        if found is None:
            problems.append(f"record {registry_id} of a receipt is not stored")
        elif found[1] != 1:
            problems.append(f"record {registry_id} is stored {found[1]} times")
        elif found[0] != version:
            problems.append(
                f"record {registry_id} is at version {found[0]}, receipts say {version}"
            )
    for (registry_id, version), _ in versions.items():
        if kept[(registry_id, version)] != 1:
            problems.append(
                f"version {version} of {registry_id} is kept {kept[(registry_id, version)]} times"
            )
    return len(highest), problems


def pending_outbox(url: str) -> int:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        count = connection.scalar(
            sa.text("SELECT count(*) FROM search_outbox WHERE processed_at IS NULL")
        )
    engine.dispose()
    return int(count or 0)


def wait_drained(url: str, seconds: float = 180) -> float | None:
    """Seconds until the outbox is empty, or None if it is not within ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if pending_outbox(url) == 0:
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def final_checks(url: str, receipts: list[dict[str, Any]], extra: dict[str, str]) -> list[str]:
    """Receipts against the database, the index, the log and the audit chain: the lines
    of the report, each starting with "ok" or "FAIL"."""
    lines = []
    checked, problems = check_receipts(url, receipts)
    lines.append(
        f"{'ok' if not problems else 'FAIL'}: {len(receipts):,} receipts, {checked:,} records "
        "each stored once at the receipts' version"
        + (f" ({len(problems)} problems, e.g. {problems[:3]})" if problems else "")
    )
    drained = wait_drained(url)
    lines.append(
        f"ok: outbox drained {drained:.1f} s after the clients stopped"
        if drained is not None
        else f"FAIL: outbox not drained: {pending_outbox(url)} rows pending"
    )
    for command in (("search", "verify"), ("log", "verify"), ("audit", "verify")):
        code, output = creditreg(url, *command, extra=extra)
        last = output.splitlines()[-1] if output else ""
        lines.append(f"{'ok' if code == 0 else 'FAIL'}: creditreg {' '.join(command)}: {last}")
    return lines


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def table(paced: Tally, greedy: Tally, elapsed: float) -> list[str]:
    lines = [
        "| requests | count | per second | p50 ms | p95 ms | p99 ms | status codes |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, tally in (("", paced), ("greedy ", greedy)):
        for kind in sorted(tally.seconds):
            values = tally.seconds[kind]
            codes = ", ".join(
                f"{status}: {n:,}" for (k, status), n in sorted(tally.statuses.items()) if k == kind
            )
            lines.append(
                f"| {label}{kind} | {len(values):,} | {len(values) / elapsed:.1f} "
                f"| {statistics.median(values) * 1000:.1f} | {percentile(values, 0.95) * 1000:.1f} "
                f"| {percentile(values, 0.99) * 1000:.1f} | {codes} |"
            )
    records = sum(len(r["records"]) for r in paced.receipts)
    lines.append(
        f"\nrecord writes accepted: {records:,} ({records / elapsed:.1f}/s) in {elapsed:.1f} s"
    )
    return lines


def unexpected_statuses(paced: Tally, greedy: Tally, allowed: set[int]) -> list[str]:
    bad = [f"{k}: {s} x{n}" for (k, s), n in paced.statuses.items() if s not in allowed]
    bad += [f"greedy {k}: {s} x{n}" for (k, s), n in greedy.statuses.items() if s not in {200, 429}]
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--seconds", type=float, default=25)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument(
        "--per-second", type=float, default=4.0, help="most requests a paced client sends a second"
    )
    parser.add_argument("--rate-limit", type=int, default=300, help="RATE_LIMIT_PER_MINUTE")
    parser.add_argument("--gunicorn-workers", type=int, default=3)
    parser.add_argument("--gunicorn-threads", type=int, default=4)
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp/creditreg-bench-load"))
    args = parser.parse_args()
    if args.per_second * 60 >= args.rate_limit * 0.9:
        raise SystemExit("--per-second must keep the paced clients below the rate limit")

    args.log_dir.mkdir(parents=True, exist_ok=True)
    (url,) = recreate_databases(args.admin_url, [LOAD_DB])
    members = [
        admit_member(
            url, name=f"负载测试银行{n}", roles=["submitter", "querier"], migrate_first=n == 0
        )
        for n in range(args.clients + 1)
    ]
    signers = [RequestSigner(key_id, private) for _, private, key_id in members]
    extra = {"CREDITREG_RATE_LIMIT_PER_MINUTE": str(args.rate_limit)}
    port = free_port()
    server = start_gunicorn(
        url,
        port,
        args.gunicorn_workers,
        args.gunicorn_threads,
        extra,
        args.log_dir / "gunicorn.log",
    )
    workers = [start_worker(url, extra, args.log_dir / f"worker-{n}.log") for n in range(2)]
    try:
        clients = [Client(n, port, signers[n], retry_503=False) for n in range(args.clients)]
        greedy = Client(args.clients, port, signers[args.clients], retry_503=False)
        paced, greedy_tally, elapsed = run_clients(clients, greedy, args.seconds, args.per_second)
        report = table(paced, greedy_tally, elapsed)
        bad = unexpected_statuses(paced, greedy_tally, {200, 201})
        report.append(
            f"{'ok' if not bad else 'FAIL'}: status codes"
            + (f": unexpected {bad}" if bad else ": only 2xx, and 429 for the greedy member")
        )
        if not any(s == 429 for (_, s) in greedy_tally.statuses):
            report.append("FAIL: the greedy member was never limited")
        problems = paced.problems + greedy_tally.problems
        if problems:
            report.append(f"FAIL: {len(problems)} client problems, e.g. {problems[:3]}")
        report += final_checks(url, paced.receipts, extra)
    finally:
        for process in (*workers, server):
            stop(process)
    print(
        f"gunicorn {args.gunicorn_workers} workers x {args.gunicorn_threads} threads, "
        f"2 creditreg workers, {args.clients} paced clients (<= {args.per_second}/s each) "
        f"+ 1 greedy, rate limit {args.rate_limit}/min per member\n"
    )
    print("\n".join(report))
    if any(line.startswith("FAIL") for line in report):
        sys.exit(1)


if __name__ == "__main__":
    main()
