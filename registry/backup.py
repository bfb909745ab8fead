"""Backups of the registry's database and their restoration into a fresh database.

PostgreSQL is dumped with ``pg_dump`` in its custom format (consistent: one snapshot) and
restored with ``pg_restore``; SQLite is copied with its online backup API, which is safe while
the registry keeps writing. Each backup has a manifest beside it (``<file>.json``): the
database kind, the schema revision, the row count of every table and the SHA-256 of the
backup file. A restore checks the file against its manifest first, refuses a target that
already holds tables, and afterwards compares the restored row counts with the manifest.
The search index is not in the backup: it is a projection, checked and repaired from the
restored database with ``creditreg search verify --repair`` (or rebuilt with reindex).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from registry import migrate

MANIFEST_FORMAT = "creditreg.backup/v1"


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message says why."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict[str, Any]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per table (the FTS shadow tables and Alembic's own left out)."""
    with engine.connect() as connection:
        return counts_on(connection)


def counts_on(connection: sa.Connection) -> dict[str, int]:
    """Rows per table as ``connection``'s transaction sees them."""
    counts: dict[str, int] = {}
    for name in sorted(sa.inspect(connection).get_table_names()):
        if name == "alembic_version" or name.startswith("search_fts"):
            continue
        table = sa.table(name)
        counts[name] = int(connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
    return counts


def _libpq(engine_url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options for the PostgreSQL client programs: the URL as a libpq URI (its
    query — sslmode, a socket directory — kept), the password through the environment, never
    the command line (where any local user could read it)."""
    url = make_url(engine_url)
    password = url.password
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    environment = dict(os.environ)
    if password:
        environment["PGPASSWORD"] = str(password)
    return [f"--dbname={uri}"], environment


def _run(command: list[str], environment: dict[str, str]) -> None:
    try:
        subprocess.run(command, env=environment, check=True, capture_output=True, text=True)  # noqa: S603
    except FileNotFoundError as exc:
        raise BackupError(f"{command[0]} is not installed") from exc
    except subprocess.CalledProcessError as exc:
        raise BackupError(f"{command[0]} failed: {exc.stderr.strip()[:500]}") from exc


def backup(engine: Engine, out: Path, *, now: datetime) -> BackupResult:
    """Write a backup of the database behind ``engine`` to ``out`` and its manifest."""
    if out.exists():
        raise BackupError(f"{out} exists; a backup never overwrites a file")
    dialect = engine.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise BackupError(f"no backup for {dialect}")
    out.parent.mkdir(parents=True, exist_ok=True)
    # The file holds every record and the identity vault's ciphertexts: owner-only.
    out.touch(mode=0o600, exist_ok=False)
    try:
        if dialect == "postgresql":
            revisions, counts = _dump_postgresql(engine, out)
        else:
            revisions, counts = _copy_sqlite(engine, out)
    except BaseException:
        out.unlink(missing_ok=True)  # never leave half a backup behind
        raise
    manifest = {
        "format": MANIFEST_FORMAT,
        "database": dialect,
        "created_at": now.isoformat().replace("+00:00", "Z"),
        "revisions": revisions,
        "tables": counts,
        "file": out.name,
        "sha256": _sha256(out),
        "bytes": out.stat().st_size,
    }
    manifest_path = Path(f"{out}.json")
    manifest_path.touch(mode=0o600, exist_ok=False)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return BackupResult(out, manifest)


def _dump_postgresql(engine: Engine, out: Path) -> tuple[list[str], dict[str, int]]:
    """pg_dump of one snapshot, the same one the row counts are read from: the registry
    keeps writing meanwhile (nonces, the query log), so two snapshots would disagree."""
    with engine.connect() as connection:
        connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            snapshot = connection.scalar(sa.text("SELECT pg_export_snapshot()"))
            revisions = sorted(migrate.current_revisions(connection))
            counts = counts_on(connection)
            options, environment = _libpq(engine.url.render_as_string(hide_password=False))
            _run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    f"--snapshot={snapshot}",
                    f"--file={out}",
                    *options,
                ],
                environment,
            )
    return revisions, counts


def _copy_sqlite(engine: Engine, out: Path) -> tuple[list[str], dict[str, int]]:
    """SQLite's online backup, then the counts read from the copy itself."""
    source_path = engine.url.database
    if not source_path or source_path == ":memory:":
        raise BackupError("an in-memory database has nothing to back up")
    source, target = sqlite3.connect(source_path), sqlite3.connect(out)
    try:
        source.backup(target)
        # One self-contained file, whatever journal mode the registry runs in.
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        source.close()
        target.close()
    copy = sa.create_engine(f"sqlite:///{out}", poolclass=sa.pool.NullPool)
    try:
        with copy.connect() as connection:
            return sorted(migrate.current_revisions(connection)), counts_on(connection)
    finally:
        copy.dispose()


def read_manifest(backup_file: Path) -> dict[str, Any]:
    path = Path(f"{backup_file}.json")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BackupError(f"no manifest {path}") from exc
    if manifest.get("format") != MANIFEST_FORMAT:
        raise BackupError(f"{path} is not a creditreg backup manifest")
    if _sha256(backup_file) != manifest["sha256"]:
        raise BackupError(f"{backup_file} does not match its manifest (damaged or altered)")
    return manifest


def restore(backup_file: Path, engine: Engine) -> dict[str, Any]:
    """Restore ``backup_file`` into the empty database behind ``engine``; returns the
    manifest after checking the restored row counts against it."""
    manifest = read_manifest(backup_file)
    dialect = engine.dialect.name
    if manifest["database"] != dialect:
        raise BackupError(f"a {manifest['database']} backup cannot be restored into {dialect}")
    with engine.connect() as connection:
        existing = sa.inspect(connection).get_table_names()
    if existing:
        raise BackupError(
            f"the target database holds {len(existing)} table(s); restore into an empty one"
        )
    if dialect == "postgresql":
        options, environment = _libpq(engine.url.render_as_string(hide_password=False))
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--exit-on-error",
                "--single-transaction",
                *options,
                str(backup_file),
            ],
            environment,
        )
    else:
        target_path = engine.url.database
        if not target_path or target_path == ":memory:":
            raise BackupError("restore into a database file")
        engine.dispose()
        source, target = sqlite3.connect(backup_file), sqlite3.connect(target_path)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
    engine.dispose()
    restored = table_counts(engine)
    if restored != manifest["tables"]:
        differing = sorted(
            name
            for name in set(restored) | set(manifest["tables"])
            if restored.get(name) != manifest["tables"].get(name)
        )
        raise BackupError(f"restored row counts differ from the manifest: {', '.join(differing)}")
    return manifest
