"""What the transparency log costs the intake: its share of the time of a signed submission.

    .venv/bin/python bench/tlog.py [--database-url URL] [--rounds 8] [--batches 5]
                                   [--batch-size 500] [--singles 200]

The registry runs in process (Flask's test client: the whole request, signature check,
validation, intake and commit, without the network) on a scratch database: a SQLite file, or
a PostgreSQL database whose name contains "bench" (emptied first). Two measures:

1. **Instrumented share.** While submissions run with the log on, the time spent in the log
   append is summed: ``registry.tlog.append`` (head row update, canonical JSON, leaf hash)
   plus the execution of the ``INSERT INTO tlog_entries`` statement. Likewise the audit hash
   chain (``registry.audit.chain_rows`` and its head update). Share = that time / the
   requests' time.
2. **A/B.** Rounds alternate between the log on and the log off (``tlog.append`` replaced by
   a stub, the audit chain skipped), each round on new records; the difference of the medians
   is the whole cost, commit included. It is noisier on a shared machine.

Then the worker's side: one checkpoint over everything appended, and proofs at that size.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import admit_member, wipe_database  # noqa: E402
from ingest import Records, submission_body  # noqa: E402

from api.client import RequestSigner  # noqa: E402
from registry import audit, migrate, tlog  # noqa: E402
from registry.app import create_app  # noqa: E402
from registry.db import db  # noqa: E402
from registry.runtime import current_runtime  # noqa: E402


class Meter:
    """Sums the time spent in the log's and the audit chain's code and statements."""

    def __init__(self) -> None:
        self.log = 0.0
        self.audit = 0.0
        self._started: dict[int, float] = {}

    def wrap(self, function: Callable[..., Any], field: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                setattr(self, field, getattr(self, field) + time.perf_counter() - started)

        return timed

    def before(self, _conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO tlog_entries"):
            self._started[id(cursor)] = time.perf_counter()

    def after(self, _conn: Any, cursor: Any, *_: Any) -> None:
        started = self._started.pop(id(cursor), None)
        if started is not None:
            self.log += time.perf_counter() - started


@contextmanager
def log_off() -> Iterator[None]:
    """The intake without the log: a stub index, no audit chain."""
    append, chain = tlog.append, audit.chain_rows
    tlog.append = lambda *args, **kwargs: 0  # type: ignore[assignment]
    audit.chain_rows = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        yield
    finally:
        tlog.append, audit.chain_rows = append, chain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="sqlite:////tmp/creditreg-bench-tlog.db")
    parser.add_argument("--rounds", type=int, default=8, help="A/B rounds of each kind")
    parser.add_argument("--batches", type=int, default=5, help="batches per round")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--singles", type=int, default=200, help="1-record submissions per round")
    args = parser.parse_args()

    url = wipe_database(args.database_url)
    member_id, private_key, key_id = admit_member(
        url, name="基准测试银行", roles=["submitter"], migrate_first=True
    )
    app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING", "RATE_LIMIT_PER_MINUTE": 0})
    client = app.test_client()
    signer = RequestSigner(key_id, private_key)
    records = Records()
    serial = itertools.count(1)
    authority = "bench.local"

    def post(body: bytes) -> float:
        headers = {"Host": authority, "Content-Type": "application/json"}
        headers.update(
            signer.headers_for("POST", f"http://{authority}/api/v1/submissions", body, headers)
        )
        started = time.perf_counter()
        response = client.post(
            "/api/v1/submissions", data=body, headers=headers, base_url=f"http://{authority}"
        )
        elapsed = time.perf_counter() - started
        if response.status_code != 201:
            raise SystemExit(f"refused: {response.status_code} {response.get_data()[:300]!r}")
        return elapsed

    def batch_round() -> float:
        bodies = [
            submission_body(f"b-{next(serial)}", records.take(args.batch_size))
            for _ in range(args.batches)
        ]
        return sum(post(body) for body in bodies)

    def single_round() -> float:
        bodies = [
            submission_body(f"s-{next(serial)}", records.take(1)) for _ in range(args.singles)
        ]
        return sum(post(body) for body in bodies)

    meter = Meter()
    with app.app_context():
        engine = db.engine
        dialect = engine.dialect.name
        sa.event.listen(engine, "before_cursor_execute", meter.before)
        sa.event.listen(engine, "after_cursor_execute", meter.after)
    tlog.append = meter.wrap(tlog.append, "log")  # type: ignore[method-assign]
    audit.chain_rows = meter.wrap(audit.chain_rows, "audit")  # type: ignore[method-assign]

    batch_round()  # warm-up: imports, pools, caches
    single_round()
    results: dict[str, dict[str, list[float]]] = {
        kind: {"on": [], "off": [], "log": [], "audit": []} for kind in ("batch", "single")
    }
    for _ in range(args.rounds):
        for kind, run in (("batch", batch_round), ("single", single_round)):
            meter.log = meter.audit = 0.0
            total = run()
            results[kind]["on"].append(total)
            results[kind]["log"].append(meter.log / total)
            results[kind]["audit"].append(meter.audit / total)
            with log_off():
                results[kind]["off"].append(run())

    with app.app_context():
        session = db.session
        size = tlog.log_size(session)
        runtime = current_runtime()
        started = time.perf_counter()
        tlog.make_checkpoint(
            session,
            runtime.signer,
            tlog.origin_from_settings(runtime.settings),
            runtime.clock.now(),
        )
        session.commit()
        checkpoint_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for index in range(0, size, max(1, size // 100)):
            tlog.tree_for(session, size).inclusion_proof(index, size)
        proof_ms = 1000 * (time.perf_counter() - started) / len(range(0, size, max(1, size // 100)))
        migrate_state = migrate.describe(db.engine)["current"]
    db.dispose(app)

    print(f"database {dialect} ({migrate_state}), member {member_id}")
    print(
        f"{args.rounds} rounds x ({args.batches} batches of {args.batch_size} records, "
        f"{args.singles} single-record submissions), log on and off alternating"
    )
    print(
        "| submissions | request time, log on (median round) | log append share | "
        "audit chain share | A/B: on vs off |"
    )
    print("|---|---|---|---|---|")
    for kind, label in (("batch", f"{args.batch_size}-record batches"), ("single", "1 record")):
        r = results[kind]
        units = args.batches if kind == "batch" else args.singles
        on, off = statistics.median(r["on"]), statistics.median(r["off"])
        print(
            f"| {label} | {1000 * on / units:.1f} ms each | "
            f"{100 * statistics.median(r['log']):.2f} % | "
            f"{100 * statistics.median(r['audit']):.2f} % | "
            f"{100 * (on - off) / on:+.1f} % |"
        )
    print(
        f"log size {size}: one checkpoint over all of it {checkpoint_seconds:.2f} s; "
        f"an inclusion proof at that size {proof_ms:.2f} ms"
    )


if __name__ == "__main__":
    main()
