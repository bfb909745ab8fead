"""Signed lookups served by two code trees side by side: what the registry's own work adds.

    .venv/bin/python bench/lookup_ab.py --database-url URL --tree old=/path/to/worktree
        [--tree new=.] [--backend opensearch|elasticsearch|sql] [--engine-data DIR]
        [--engine-heap 4g] [--lookups 600]

For a database loaded by ``bench/search.py`` (and, for an engine, the node data it left:
``--engine-data`` as given to it, ``--reuse``'s layout). One ``creditreg serve`` per tree,
its ``PYTHONPATH`` set to the tree, all on the same database and the same search backend;
then the same USCC lookups (``GET /api/v1/subjects?q=<USCC>``, signed, one keep-alive
connection to each server) sent to each server in turn, the order alternating from query to
query, with the bare backend's ``search`` of the same query in this process between them
and an unsigned ``GET /healthz`` to each. Whatever the machine does meanwhile falls on every
tree alike, so the trees' difference shows where a run of each after the other would drown
it. A USCC lookup is the one whose bare time varies least. Prints p50, p90 and p99 of each
tree and of the bare search, and each tree's p50 over the bare one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from drain import BackendSpec  # noqa: E402
from harness import (  # noqa: E402
    ENGINE_PREFIX,
    PURPOSE,
    Connection,
    admit_member,
    api_query,
    free_port,
    percentile,
    start_server,
)

from api.client import RequestSigner  # noqa: E402
from tests import engines  # noqa: E402

WARM_UP = 100  # lookups sent to every server (and the bare backend) before timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument(
        "--tree", action="append", required=True, metavar="NAME=DIR", help="repeatable"
    )
    parser.add_argument("--backend", default="opensearch")
    parser.add_argument("--engine-data")
    parser.add_argument("--engine-heap", default="4g")
    parser.add_argument("--lookups", type=int, default=600)
    parser.add_argument("--server-threads", type=int, default=4)
    args = parser.parse_args()
    trees = dict(tree.split("=", 1) for tree in args.tree)
    url = args.database_url
    database = sa.create_engine(url)
    with database.connect() as connection:
        usccs = [
            str(uscc)
            for uscc in connection.scalars(
                sa.text(
                    "SELECT uscc FROM subjects WHERE uscc IS NOT NULL ORDER BY random() LIMIT 500"
                )
            )
        ]
    if not usccs:
        raise SystemExit("no subject with a USCC: load the database with bench/search.py first")
    _, private_key, key_id = admit_member(url, name="对照查询银行", roles=["querier"])
    signer = RequestSigner(key_id, private_key)

    node = None
    servers = []
    try:
        spec = BackendSpec(args.backend)
        if args.backend != "sql":
            if not args.engine_data:
                raise SystemExit("--engine-data: where bench/search.py left the node's data")
            node = engines.start(
                args.backend, Path(args.engine_data) / args.backend, heap=args.engine_heap
            )
            spec = BackendSpec(args.backend, node.url, ENGINE_PREFIX)
        search_env = {"CREDITREG_SEARCH_BACKEND": args.backend}
        if spec.url:
            search_env.update(
                CREDITREG_SEARCH_URL=spec.url,
                CREDITREG_SEARCH_INDEX_PREFIX=spec.prefix,
                CREDITREG_SEARCH_TIMEOUT="60",
            )
        connections: dict[str, tuple[Connection, Connection]] = {}
        for name, tree in trees.items():
            port = free_port()
            root = str(Path(tree).resolve())
            env = {
                **search_env,
                "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
            }
            servers.append(start_server(url, port, args.server_threads, env))
            connections[name] = (Connection(port, signer), Connection(port, None))
        backend = spec.make(database)
        timings = lookups(database, backend, connections, usccs, args.lookups)
    finally:
        for server in servers:
            server.terminate()
        if node is not None:
            node.stop()
    report(timings, args)


def lookups(
    database: sa.Engine,
    backend: object,
    connections: dict[str, tuple[Connection, Connection]],
    usccs: list[str],
    count: int,
) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"bare": []}
    for name in connections:
        timings[name] = []
        timings[f"{name} /healthz"] = []
    names = list(connections)
    with Session(database) as session:
        for number in range(WARM_UP + count):
            text = usccs[number % len(usccs)]
            path = "/api/v1/subjects?" + urlencode({"q": text, "purpose": PURPOSE})
            order = names if number % 2 == 0 else names[::-1]
            seconds: dict[str, float] = {}
            for index, name in enumerate(order):
                signed, plain = connections[name]
                status, answer, seconds[name] = signed.send("GET", path)
                if status != 200:
                    raise SystemExit(f"{name}: lookup refused: {status} {answer[:300]!r}")
                _, _, seconds[f"{name} /healthz"] = plain.send("GET", "/healthz")
                if index == 0:  # the bare search between the servers' turns
                    started = time.perf_counter()
                    backend.search(api_query(text), session=session)  # type: ignore[attr-defined]
                    seconds["bare"] = time.perf_counter() - started
                    session.rollback()
            if number >= WARM_UP:
                for name, value in seconds.items():
                    timings[name].append(value)
    return timings


def report(timings: dict[str, list[float]], args: argparse.Namespace) -> None:
    def quantile(values: list[float], fraction: float) -> float:
        return 1000 * percentile(values, fraction)

    bare = statistics.median(timings["bare"])
    print(f"command: `{' '.join(sys.argv)}`")
    print()
    print(
        f"| {args.lookups} USCC lookups, {args.backend} | p50 ms | p90 ms | p99 ms | p50 / bare |"
    )
    print("|---|---|---|---|---|")
    for name, values in timings.items():
        ratio = (
            ""
            if name == "bare" or "healthz" in name
            else f"{statistics.median(values) / bare:.2f}x"
        )
        print(
            f"| {name} | {quantile(values, 0.5):.2f} | {quantile(values, 0.9):.2f} | "
            f"{quantile(values, 0.99):.2f} | {ratio} |"
        )


if __name__ == "__main__":
    main()
