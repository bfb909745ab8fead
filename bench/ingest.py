"""Signed intake throughput against a running server on PostgreSQL, with its two yardsticks.

    .venv/bin/python bench/ingest.py [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                                     [--seconds 10] [--clients 8] [--batches 10] [--batch-size 500]
                                     [--database creditreg_bench]

It creates two scratch databases, ``creditreg_bench`` and ``creditreg_bench_ceiling``
(dropped first if they exist; ``--database NAME`` makes them NAME and NAME_ceiling, so that
two people benchmarking on one PostgreSQL server do not drop each other's), migrates both,
registers a member and its key, starts ``creditreg serve`` on a free port and measures, in
this order:

1. 500-record batches: signed POST /api/v1/submissions, one client after the other,
   each batch new records about new enterprises. Records/s.
2. The raw ceiling: the rows those batches wrote (subjects, names, records, versions,
   submissions, audit events) inserted again into the second database with plain
   SQLAlchemy Core ``executemany``, 500 rows a statement, one transaction per statement.
   Records/s. Goal: batches reach at least 50 % of it.
3. The unsigned no-op: GET /healthz from ``--clients`` threads on keep-alive connections.
   Requests/s.
4. 1-record submissions, signed, from the same number of threads. Records/s. Goal: at least
   40 % of the no-op rate.

Rate limiting is lifted for the run (CREDITREG_RATE_LIMIT_PER_MINUTE); everything else is
the server as deployed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    Connection,
    admit_member,
    free_port,
    recreate_databases,
    start_server,
)

from api.client import RequestSigner  # noqa: E402
from registry import migrate  # noqa: E402
from registry.db import Base  # noqa: E402
from registry.demo import make_uscc  # noqa: E402

BENCH_DB = "creditreg_bench"
# Rows made before the measurement (copied to the ceiling database untimed) and rows that
# exist only to authenticate requests (not part of the data a submission stores).
SETUP_TABLES = {"members", "member_roles", "member_keys", "alembic_version"}
REQUEST_STATE_TABLES = {"request_nonces", "rate_windows", "worker_heartbeats"}


class Records:
    """New penalty records about new enterprises, unique across threads."""

    def __init__(self) -> None:
        self._serial = itertools.count(1)
        self._lock = threading.Lock()

    def take(self, count: int) -> list[dict[str, Any]]:
        with self._lock:
            numbers = [next(self._serial) for _ in range(count)]
        return [self._record(n) for n in numbers]

    @staticmethod
    def _record(number: int) -> dict[str, Any]:
        uscc = make_uscc(random.Random(number), "110105")  # noqa: S311 - test data
        return {
            "record_id": f"BENCH-{number:08d}",
            "op": "upsert",
            "category": "administrative_penalty",
            "subject": {"kind": "enterprise", "uscc": uscc, "name": f"基准{number}科技有限公司"},
            "polarity": "negative",
            "severity": "general",
            "decided_at": "2025-03-01",
            "authority": "北京市市场监督管理局",
            "document_number": f"京市监罚〔2025〕{number}号",
            "legal_basis": "《中华人民共和国广告法》第五十五条",
            "summary": "发布虚假广告",
            "amount": {"value": "20000.00", "currency": "CNY"},
        }


def submission_body(submission_id: str, records: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {"submission_id": submission_id, "records": records},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def run_for(
    seconds: float, clients: int, work: Callable[[Connection], int], make: Callable[[], Connection]
) -> tuple[int, float, list[str]]:
    """Run ``work`` in a loop on ``clients`` threads for ``seconds``; returns (units, elapsed,
    errors). ``work`` returns the units it completed (records or requests)."""
    done = [0] * clients
    errors: list[str] = []
    stop = threading.Event()

    def loop(slot: int) -> None:
        connection = make()
        while not stop.is_set():
            try:
                done[slot] += work(connection)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(repr(exc))
                connection = make()

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return sum(done), time.perf_counter() - started, errors


def measure_batches(
    port: int, signer: RequestSigner, records: Records, batches: int, size: int, label: str
) -> tuple[int, float]:
    connection = Connection(port, signer)
    bodies = [submission_body(f"{label}-{n}", records.take(size)) for n in range(batches)]
    started = time.perf_counter()
    for body in bodies:
        status, answer, _ = connection.send("POST", "/api/v1/submissions", body)
        if status != 201:
            raise SystemExit(f"batch refused: {status} {answer[:500]!r}")
    return batches * size, time.perf_counter() - started


def measure_ceiling(
    source_url: str, target_url: str, chunk: int
) -> tuple[int, float, dict[str, int]]:
    """Insert the rows the batches wrote into an empty copy of the schema with Core
    executemany; returns (records, elapsed, rows per table)."""
    source = sa.create_engine(source_url)
    target = sa.create_engine(target_url)
    migrate.upgrade(target)
    tables = [t for t in Base.metadata.sorted_tables if t.name not in REQUEST_STATE_TABLES]
    rows: dict[str, list[dict[str, Any]]] = {}
    with source.connect() as connection:
        for table in tables:
            rows[table.name] = [dict(r) for r in connection.execute(sa.select(table)).mappings()]
    with target.begin() as connection:
        for table in tables:
            if table.name in SETUP_TABLES and rows[table.name]:
                connection.execute(table.insert(), rows[table.name])
    timed = [t for t in tables if t.name not in SETUP_TABLES and rows[t.name]]
    # Best of three, each into emptied tables: the ceiling should be the fastest this
    # machine manages, not a run that happened to meet a checkpoint.
    runs = []
    for _ in range(3):
        with target.begin() as connection:
            names = ", ".join(t.name for t in timed)
            connection.execute(sa.text(f"TRUNCATE {names} CASCADE"))
        started = time.perf_counter()
        for table in timed:
            data = rows[table.name]
            for start in range(0, len(data), chunk):
                with target.begin() as connection:
                    connection.execute(table.insert(), data[start : start + chunk])
        runs.append(time.perf_counter() - started)
    elapsed = min(runs)
    source.dispose()
    target.dispose()
    return len(rows["credit_records"]), elapsed, {t.name: len(rows[t.name]) for t in timed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--server-threads", type=int, default=8)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument(
        "--database",
        default=BENCH_DB,
        type=database_name,
        help="scratch database (dropped and created), and NAME_ceiling beside it",
    )
    args = parser.parse_args()

    bench_url, ceiling_url = recreate_databases(
        args.admin_url, [args.database, f"{args.database}_ceiling"]
    )
    member_id, private_key, key_id = admit_member(
        bench_url, name="基准测试银行", roles=["submitter"], migrate_first=True
    )
    signer = RequestSigner(key_id, private_key)
    port = free_port()
    server = start_server(bench_url, port, args.server_threads)
    records = Records()
    try:
        measure_batches(port, signer, records, 1, 10, "warm-up")  # warm-up: imports, pools, caches
        batch_records, batch_seconds = measure_batches(
            port, signer, records, args.batches, args.batch_size, "batch"
        )
        ceiling_records, ceiling_seconds, ceiling_rows = measure_ceiling(
            bench_url, ceiling_url, args.batch_size
        )

        def noop(connection: Connection) -> int:
            status, _, _ = connection.send("GET", "/healthz")
            if status != 200:
                raise RuntimeError(f"no-op answered {status}")
            return 1

        cpu_before = process_cpu_seconds(server.pid)
        noop_requests, noop_seconds, noop_errors = run_for(
            args.seconds, args.clients, noop, lambda: Connection(port, None)
        )

        serial = itertools.count(1)

        def single(connection: Connection) -> int:
            body = submission_body(f"single-{next(serial)}", records.take(1))
            status, answer, _ = connection.send("POST", "/api/v1/submissions", body)
            if status != 201:
                raise RuntimeError(f"single refused: {status} {answer[:300]!r}")
            return 1

        cpu_middle = process_cpu_seconds(server.pid)
        single_records, single_seconds, single_errors = run_for(
            args.seconds, args.clients, single, lambda: Connection(port, signer)
        )
        cpu_after = process_cpu_seconds(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)

    noop_cpu = single_cpu = None
    if cpu_before is not None and cpu_middle is not None and cpu_after is not None:
        noop_cpu, single_cpu = cpu_middle - cpu_before, cpu_after - cpu_middle
    batch_rate = batch_records / batch_seconds
    ceiling_rate = ceiling_records / ceiling_seconds
    noop_rate = noop_requests / noop_seconds
    single_rate = single_records / single_seconds
    print(f"member {member_id}, key {key_id}, server threads {args.server_threads}")
    print(f"ceiling rows: {ceiling_rows}")
    rows = [
        ("500-record batches, 1 client", f"{batch_rate:,.0f} records/s", batch_seconds, ""),
        ("Core executemany ceiling", f"{ceiling_rate:,.0f} records/s", ceiling_seconds, ""),
        (
            f"unsigned no-op, {args.clients} clients",
            f"{noop_rate:,.0f} requests/s",
            noop_seconds,
            per_request(noop_cpu, noop_requests),
        ),
        (
            f"1-record submissions, {args.clients} clients",
            f"{single_rate:,.0f} records/s",
            single_seconds,
            per_request(single_cpu, single_records),
        ),
    ]
    print("| measure | rate | seconds | server CPU per request |")
    print("|---|---|---|---|")
    for name, rate, seconds, cpu in rows:
        print(f"| {name} | {rate} | {seconds:.2f} | {cpu} |")
    print(f"batches / ceiling: {100 * batch_rate / ceiling_rate:.0f} % (goal >= 50 %)")
    print(f"singles / no-op:   {100 * single_rate / noop_rate:.0f} % (goal >= 40 %)")
    print(f"errors: no-op {len(noop_errors)}, singles {len(single_errors)}")
    for error in (noop_errors + single_errors)[:5]:
        print(f"error: {error}")


def database_name(text: str) -> str:
    """A scratch database name: it goes into DROP DATABASE unquoted, and must say "bench"."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", text) or "bench" not in text:
        raise argparse.ArgumentTypeError("lower-case letters, digits and _, containing 'bench'")
    return text


def per_request(cpu_seconds: float | None, requests: int) -> str:
    if cpu_seconds is None or not requests:
        return "n/a"
    return f"{1000 * cpu_seconds / requests:.2f} ms"


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
