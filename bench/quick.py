"""``make bench-quick``: the intake's three ratios in under two minutes, to catch a regression.

    .venv/bin/python bench/quick.py [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Runs ``bench/ingest.py``'s measures at a small size on SQLite (files in a temporary
directory) and, when an admin URL is given (``--admin-url`` or CREDITREG_BENCH_ADMIN_URL),
on PostgreSQL too (scratch databases ``creditreg_bench_quick`` and its ``_ceiling``). The
figures are rougher than ingest.py's full run: compare ratios, not rates, and rerun before
believing a change of a few points.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import Figures, format_ms, percentile, prepare_databases, ratios, run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "creditreg_bench_quick"
SIZE = {
    "seconds": 4.0,
    "clients": 8,
    "server_threads": 8,
    "batches": 4,
    "batch_size": 500,
    "concurrent_rounds": 1,
}


def commit() -> str:
    """The commit of the code the server runs: the first PYTHONPATH entry's tree if set (an
    older tree measured with this script), else this one's."""
    python_path = os.environ.get("PYTHONPATH", "").split(os.pathsep)[0]
    try:
        found = subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607 - the developer's git
            cwd=python_path or ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return found.stdout.strip()


def line(backend: str, figures: Figures) -> str:
    return (
        f"| {backend} | {figures.batch_rate:,.0f} / {figures.ceiling_rate:,.0f} = "
        f"**{figures.batch_share:.0f} %** | {figures.single_rate:,.0f} / "
        f"{figures.noop_rate:,.0f} = **{figures.single_share:.1f} %** | "
        f"{format_ms(figures.single_cpu_ms)} | "
        f"{percentile(figures.latencies, 0.5):.2f} / **{figures.p99:.2f} s** |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--admin-url", default=os.environ.get("CREDITREG_BENCH_ADMIN_URL"))
    args = parser.parse_args()
    started = time.perf_counter()
    results: list[tuple[str, Figures]] = []
    with tempfile.TemporaryDirectory(prefix="creditreg-bench-quick-") as directory:
        urls = prepare_databases(DATABASE, admin_url=None, sqlite_dir=Path(directory))
        results.append(("SQLite", run(*urls, **SIZE)))  # type: ignore[arg-type]
    if args.admin_url:
        urls = prepare_databases(DATABASE, admin_url=args.admin_url, sqlite_dir=None)
        results.append(("PostgreSQL", run(*urls, **SIZE)))  # type: ignore[arg-type]
    print(f"bench-quick at {commit()}, {time.perf_counter() - started:.0f} s")
    print(
        "| database | 500-record batches / ceiling (records/s) | 1-record, 8 clients / no-op "
        "| CPU per 1-record | 8 clients' 500-record batches, p50 / p99 |"
    )
    print("|---|---|---|---|---|")
    for backend, figures in results:
        print(line(backend, figures))
    for backend, figures in results:
        for text in ratios(figures):
            print(f"{backend}: {text}")
        if figures.errors:
            print(f"{backend}: {len(figures.errors)} errors, first: {figures.errors[0]}")
    if not args.admin_url:
        print("PostgreSQL skipped: set CREDITREG_BENCH_ADMIN_URL (or pass --admin-url)")


if __name__ == "__main__":
    main()
