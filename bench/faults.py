"""Faults under load: PostgreSQL restarted during a burst, a worker killed in the middle.

    .venv/bin/python bench/faults.py [--seconds 20] [--restart-at 6] [--down 3] [--clients 4]

PostgreSQL here is a private cluster made for the run (``initdb`` into a temporary
directory, as the ``postgres`` user when run as root, on a free port), never a shared one;
it is stopped and deleted at the end. On it: the scratch database ``creditreg_bench_faults``,
gunicorn (``registry.wsgi:app``) and two ``creditreg worker`` processes.

For ``--seconds`` the clients send signed batch and single-record submissions. A client
that gets 503 waits for Retry-After and sends the same submission again (same submission
id and body, a new nonce); a client whose connection breaks does the same. At
``--restart-at`` seconds the cluster is stopped (``pg_ctl stop -m fast``), left down for
``--down`` seconds and started again; a second later one ``creditreg worker`` is killed
with SIGKILL (whatever it held is rolled back by PostgreSQL) and another started.

It exits 1 unless: no answer but 201, 200 (a replayed submission) or 503 with
Retry-After; every submission ends with a receipt; every record of every receipt is
stored once at its version and every submission once; the outbox drains and
``creditreg search verify``, ``log verify`` and ``audit verify`` are clean.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import admit_member, free_port, recreate_databases  # noqa: E402
from load import (  # noqa: E402
    Client,
    Tally,
    final_checks,
    start_gunicorn,
    start_worker,
    stop,
)

from api.client import RequestSigner  # noqa: E402

FAULTS_DB = "creditreg_bench_faults"


class PrivateCluster:
    """A PostgreSQL cluster of its own in a temporary directory, on a free port."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise SystemExit("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
        self.bin = Path(found[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="creditreg-faults-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        self.start()

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.root)  # noqa: S603

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--restart-at", type=float, default=6)
    parser.add_argument("--down", type=float, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp/creditreg-bench-faults"))
    args = parser.parse_args()
    args.log_dir.mkdir(parents=True, exist_ok=True)

    cluster = PrivateCluster()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        (url,) = recreate_databases(cluster.admin_url, [FAULTS_DB])
        members = [
            admit_member(url, name=f"故障测试银行{n}", roles=["submitter"], migrate_first=n == 0)
            for n in range(args.clients)
        ]
        extra = {"CREDITREG_RATE_LIMIT_PER_MINUTE": "0"}
        port = free_port()
        server = start_gunicorn(url, port, 2, 4, extra, args.log_dir / "gunicorn.log")
        workers = [start_worker(url, extra, args.log_dir / f"worker-{n}.log") for n in range(2)]
        processes += [server, *workers]
        clients = [
            Client(n, port, RequestSigner(key_id, private), retry_503=True)
            for n, (_, private, key_id) in enumerate(members)
        ]
        events: list[str] = []

        def faults() -> None:
            time.sleep(args.restart_at)
            cluster.stop("fast")
            events.append(f"{time.monotonic() - started:.1f} s: PostgreSQL stopped (fast)")
            time.sleep(args.down)
            cluster.start()
            events.append(f"{time.monotonic() - started:.1f} s: PostgreSQL started")
            time.sleep(1)
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait()
            replacement = start_worker(url, extra, args.log_dir / "worker-2.log")
            processes.append(replacement)
            events.append(
                f"{time.monotonic() - started:.1f} s: worker killed (SIGKILL), another started"
            )

        def burst(client: Client) -> None:
            while time.monotonic() - started < args.seconds:
                try:
                    client.batch() if client.rng.random() < 0.4 else client.single()
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    client.tally.problems.append(f"client error: {exc!r}")

        started = time.monotonic()
        threads = [threading.Thread(target=burst, args=(c,)) for c in clients]
        threads.append(threading.Thread(target=faults))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        total = Tally()
        for client in clients:
            total.merge(client.tally)

        report = [*events, ""]
        codes = sorted(total.statuses.items())
        report.append(
            "answers: " + ", ".join(f"{kind} {status}: {n}" for (kind, status), n in codes)
        )
        report.append(
            f"submissions sent again after a 503 or a broken connection: {total.retried}; "
            f"receipts: {len(total.receipts)} in {elapsed:.1f} s"
        )
        broken = Counter(
            p.split(" connection error ")[-1][:80] for p in total.problems if "; retried" in p
        )
        if broken:
            report.append(
                "connections broken, sent again: "
                + ", ".join(f"{m} x{n}" for m, n in broken.items())
            )
        bad = [f"{k} {s}" for (k, s) in total.statuses if s not in (200, 201, 503)]
        report.append(
            f"{'ok' if not bad else 'FAIL'}: answers"
            + (f": unexpected {bad}" if bad else ": only 201, 200 (replayed) and 503")
        )
        # Connection errors while the server's pool reconnects are retried; anything
        # else a client saw is a failure.
        problems = [p for p in total.problems if "; retried" not in p]
        report.append(
            f"{'ok' if not problems else 'FAIL'}: every submission ended with a receipt"
            + (f" ({len(problems)} problems, e.g. {problems[:3]})" if problems else "")
        )
        ids = [r["submission_id"] for r in total.receipts]
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as connection:
            stored = connection.scalar(sa.text("SELECT count(*) FROM submissions"))
        engine.dispose()
        report.append(
            f"{'ok' if stored == len(set(ids)) == len(ids) else 'FAIL'}: {stored} submissions "
            f"stored for {len(set(ids))} submission ids with a receipt"
        )
        report += final_checks(url, total.receipts, extra)
    finally:
        for process in processes:
            stop(process)
        cluster.remove()
    print("\n".join(report))
    if any(line.startswith("FAIL") for line in report):
        sys.exit(1)


if __name__ == "__main__":
    main()
