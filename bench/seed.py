"""How fast the demo dataset loads: subjects/s and records/s through the domain operations.

    .venv/bin/python bench/seed.py [--enterprises 3000] [--database-url URL]

Without --database-url it uses a new SQLite file in a temporary directory. For PostgreSQL,
pass the URL of an empty database you can wipe (its name must contain "bench" or "test").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import wipe_database  # noqa: E402

from registry import migrate
from registry.app import create_app
from registry.db import db
from registry.demo import DemoSpec, load_demo
from registry.runtime import current_runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enterprises", type=int, default=3000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        if url.startswith("postgresql"):
            wipe_database(url)
        app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
        with app.app_context():
            migrate.upgrade(db.engine)
            started = time.perf_counter()
            summary = load_demo(
                db.session, current_runtime(), DemoSpec(enterprises=args.enterprises)
            )
            db.session.commit()
            elapsed = time.perf_counter() - started
            db.dispose(app)
    subjects = summary.counts["enterprises"] + summary.counts["persons"] + summary.counts["shops"]
    records = summary.counts["records"]
    print(f"backend: {sa.make_url(url).get_backend_name()}")
    print(f"loaded: {summary.describe()}")
    print(f"elapsed: {elapsed:.1f} s")
    print(f"subjects/s: {subjects / elapsed:.0f}; records/s: {records / elapsed:.0f}")


if __name__ == "__main__":
    main()
