"""Where a served single signed write spends its time: a profile and a statement count.

    .venv/bin/python bench/profile_intake.py [--database-url URL] [--requests 300]
                                             [--batch-size 1] [--top 30]

Builds the application on a scratch database (default: a SQLite file in a temporary
directory; a PostgreSQL URL must name a database containing "bench", which is emptied),
registers a member, sends ``--requests`` signed submissions of ``--batch-size`` new records
each through the WSGI stack (Flask's test client: the whole application, without the HTTP
server's socket work) and prints the statements run per request, by kind, and the top of a
cProfile of those requests by own time and by cumulative time.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import admit_member, wipe_database  # noqa: E402
from ingest import Records, submission_body  # noqa: E402

from api.client import RequestSigner  # noqa: E402
from registry.app import create_app  # noqa: E402
from registry.db import db  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--no-profile", action="store_true", help="only time the requests (CPU and wall)"
    )
    args = parser.parse_args()
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
        started, cpu_started = time.perf_counter(), time.process_time()
        if not args.no_profile:
            profile.enable()
        for n in range(args.requests):
            send(f"profiled-{n}")
        profile.disable()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        sa.event.remove(engine, "before_cursor_execute", count)
        db.dispose(app)

    print(
        f"{sa.make_url(url).get_backend_name()}: {args.requests} requests of "
        f"{args.batch_size} record(s), {1000 * elapsed / args.requests:.2f} ms each, "
        f"{1000 * cpu / args.requests:.2f} ms CPU "
        f"({'without' if args.no_profile else 'under'} the profiler, client signing included)"
    )
    total = sum(statements.values())
    print(f"statements per request: {total / args.requests:.1f}")
    for name, number in statements.most_common():
        print(f"  {number / args.requests:5.2f}  {name}")
    if args.no_profile:
        return
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profile, stream=text).strip_dirs().sort_stats(order).print_stats(args.top)
        print(text.getvalue())


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
