"""Where a served single signed write spends its time: a profile and a statement count.

    .venv/bin/python bench/profile_intake.py [--database-url URL] [--requests 300]
                                             [--batch-size 1] [--top 30] [--no-profile | --phases]

Builds the application on a scratch database (default: a SQLite file in a temporary
directory; a PostgreSQL URL must name a database containing "bench", which is emptied),
registers a member, sends ``--requests`` signed submissions of ``--batch-size`` new records
each through the WSGI stack (Flask's test client: the whole application, without the HTTP
server's socket work) and prints the statements run per request, by kind, and the top of a
cProfile of those requests by own time and by cumulative time.

``--phases`` replaces the profile by the wall time of each step of the served path (JSON
parsing, authentication, validation, the intake's steps, the inserts table by table, the
commit), timed around the functions that do them: a profiler slows small functions far more
than database calls, and so misstates the shares. The timers themselves add about a
microsecond a call (a few a record).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import functools
import io
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import admit_member, wipe_database  # noqa: E402
from ingest import Records, submission_body  # noqa: E402

import api.auth  # noqa: E402
import api.submissions  # noqa: E402
import registry.db  # noqa: E402
import registry.intake  # noqa: E402
import registry.tlog  # noqa: E402
from api.client import RequestSigner  # noqa: E402
from registry.app import create_app  # noqa: E402
from registry.db import db  # noqa: E402
from registry.receipts import RegistrySigner  # noqa: E402

# The steps of the served path --phases times: (label, owner, attribute). Indented labels are
# parts of the unindented step above them.
PHASES: list[tuple[str, Any, str]] = [
    ("authentication (signature, key, nonce)", api.auth, "authenticate"),
    ("JSON parsing", api.submissions, "parse_body"),
    ("replay check", registry.intake, "replay_or_conflict"),
    ("validation", api.submissions, "load_submission"),
    ("intake (accept_submission)", registry.intake, "accept_submission"),
    ("  identifiers checked", registry.intake, "_subject_key"),
    ("  known subjects looked up", registry.intake, "_known_subjects"),
    ("  the member's records looked up", registry.intake, "find_member_records"),
    ("  records applied (rows built)", registry.intake, "_apply"),
    ("  log entry", registry.tlog, "append"),
    ("  receipt signed", RegistrySigner, "sign"),
    ("  writes at the end of the block", registry.db, "_write_deferred"),
    ("commit", Session, "commit"),
    ("receipt as the response", api.submissions, "jsonify"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--top", type=int, default=30)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--no-profile", action="store_true", help="only time the requests (CPU and wall)"
    )
    mode.add_argument(
        "--phases", action="store_true", help="the wall time of each step, without a profiler"
    )
    args = parser.parse_args()
    timer = PhaseTimer()
    with tempfile.TemporaryDirectory(prefix="creditreg-profile-") as directory:
        url = wipe_database(args.database_url or f"sqlite:///{directory}/profile.db")
        _member, private_key, key_id = admit_member(
            url, name="剖析银行", roles=["submitter"], migrate_first=True
        )
        signer = RequestSigner(key_id, private_key)
        app = create_app(
            {"DATABASE_URL": url, "LOG_LEVEL": "WARNING", "RATE_LIMIT_PER_MINUTE": 100_000_000}
        )
        client = app.test_client()
        records = Records()
        statements: collections.Counter[str] = collections.Counter()

        def send(label: str) -> None:
            body = submission_body(label, records.take(args.batch_size))
            path = "/api/v1/submissions"
            headers = {"Host": "localhost", "Content-Type": "application/json"}
            headers.update(signer.headers_for("POST", f"http://localhost{path}", body, headers))
            answer = client.post(path, data=body, headers=headers)
            if answer.status_code != 201:
                raise SystemExit(f"refused: {answer.status_code} {answer.get_data()[:300]!r}")

        for n in range(20):  # warm-up: imports, pools, statement caches
            send(f"warm-up-{n}")
        with app.app_context():
            engine = db.engine

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements[statement_kind(statement)] += 1

        sa.event.listen(engine, "before_cursor_execute", count)
        profile = cProfile.Profile()
        timing = timer.timing() if args.phases else contextlib.nullcontext()
        with timing:
            started, cpu_started = time.perf_counter(), time.process_time()
            if not (args.no_profile or args.phases):
                profile.enable()
            for n in range(args.requests):
                send(f"profiled-{n}")
            profile.disable()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        sa.event.remove(engine, "before_cursor_execute", count)
        db.dispose(app)

    profiled = not (args.no_profile or args.phases)
    print(
        f"{sa.make_url(url).get_backend_name()}: {args.requests} requests of "
        f"{args.batch_size} record(s), {1000 * elapsed / args.requests:.2f} ms each, "
        f"{1000 * cpu / args.requests:.2f} ms CPU "
        f"({'under' if profiled else 'without'} the profiler, client signing included)"
    )
    total = sum(statements.values())
    print(f"statements per request: {total / args.requests:.1f}")
    for name, number in statements.most_common():
        print(f"  {number / args.requests:5.2f}  {name}")
    if args.phases:
        timer.report(args.requests, elapsed)
    if not profiled:
        return
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profile, stream=text).strip_dirs().sort_stats(order).print_stats(args.top)
        print(text.getvalue())


class PhaseTimer:
    """Wall time spent in each of :data:`PHASES`, and in the inserts table by table."""

    def __init__(self) -> None:
        self.seconds: collections.Counter[str] = collections.Counter()

    @contextlib.contextmanager
    def timing(self) -> Iterator[None]:
        """Time the phases during the block; the functions are put back after it."""
        originals = [(owner, name, getattr(owner, name)) for _label, owner, name in PHASES]
        originals.append((registry.db, "_insert_rows", registry.db._insert_rows))
        try:
            for label, owner, name in PHASES:
                setattr(owner, name, self._timed(label, getattr(owner, name)))
            registry.db._insert_rows = self._timed_insert(registry.db._insert_rows)
            yield
        finally:
            for owner, name, original in originals:
                setattr(owner, name, original)

    def _timed(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started

        return timed

    def _timed_insert(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(session: Session, table: sa.Table, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(session, table, *args, **kwargs)
            finally:
                self.seconds[f"    INSERT {table.name}"] += time.perf_counter() - started

        return timed

    def report(self, requests: int, elapsed: float) -> None:
        per_request = elapsed / requests
        print(f"\nwall time a request: {1000 * per_request:.2f} ms")
        inserts = sorted(
            (label for label in self.seconds if label.startswith("    INSERT")),
            key=lambda label: -self.seconds[label],
        )
        outer = 0.0
        for label, _owner, _name in PHASES:
            self._line(label, requests, per_request)
            if not label.startswith(" "):
                outer += self.seconds[label]
            if label.strip().startswith("writes at the end"):
                for insert in inserts:
                    self._line(insert, requests, per_request)
        rest = per_request - outer / requests
        share = 100 * rest / per_request
        print(f"  {1000 * rest:8.2f} ms {share:5.1f} %  the rest (Flask, WSGI, the client signing)")

    def _line(self, label: str, requests: int, per_request: float) -> None:
        seconds = self.seconds[label] / requests
        print(f"  {1000 * seconds:8.2f} ms {100 * seconds / per_request:5.1f} %  {label}")


def statement_kind(statement: str) -> str:
    """``VERB table``: the statement's verb and the first table it names."""
    words = statement.replace("(", " ").replace(",", " ").split()
    verb = words[0].upper()
    after = {"SELECT": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE", "DELETE": "FROM"}.get(verb)
    rest = [w.strip('"') for w in words]
    if after in rest:
        return f"{verb} {rest[rest.index(after) + 1]}"
    return " ".join(words[:3])


if __name__ == "__main__":
    main()
