"""The ``creditreg`` command line: one command for every administrative task.

Commands that create something print it as JSON with ``--json``. Each command is one unit of
work: it commits once at the end, or changes nothing.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from registry import migrate
from registry.audit import Actor, ActorKind
from registry.db import db, make_engine
from registry.errors import RegistryError
from registry.runtime import current_runtime

F = TypeVar("F", bound=Callable[..., Any])

CLI_ACTOR = Actor(ActorKind.SYSTEM, "cli")


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))


def domain_command(func: F) -> F:
    """Run in an app context, commit on success, and turn domain errors into a clean exit 1."""

    @functools.wraps(func)
    @with_appcontext
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = func(*args, **kwargs)
            db.session.commit()
            return result
        except RegistryError as exc:
            db.session.rollback()
            click.echo(f"error: {exc.detail}", err=True)
            for field, messages in getattr(exc, "errors", {}).items():
                for message in messages:
                    click.echo(f"  {field}: {message}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("expected an ISO 8601 time such as 2027-01-01T00:00:00Z") from None
    if parsed.tzinfo is None:
        raise click.BadParameter("give a time zone (e.g. a trailing Z for UTC)")
    return parsed


def _roles(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


# --- db ----------------------------------------------------------------------------------------


@click.group("db")
def db_group() -> None:
    """Schema migrations."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (creating it if needed)."""
    _ensure_sqlite_directory()
    migrate.upgrade(db.engine, revision, settings=current_runtime().settings)
    state = migrate.describe(db.engine)
    click.echo(f"database at {', '.join(state['current']) or 'base'}")  # type: ignore[arg-type]


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Show the database's revision and the code's head."""
    _echo_json(migrate.describe(db.engine))


@db_group.command("check")
@with_appcontext
def db_check() -> None:
    """Fail if the models and the migrated schema disagree (run after `db upgrade`)."""
    with db.engine.connect() as connection:
        if not migrate.is_at_head(connection):
            click.echo("error: the database is not at the head revision", err=True)
            sys.exit(1)
        differences = migrate.pending_differences(connection)
    if differences:
        click.echo("error: the models differ from the migrations:", err=True)
        for difference in differences:
            click.echo(f"  {difference}", err=True)
        sys.exit(1)
    click.echo("models and migrations agree")


def _ensure_sqlite_directory() -> None:
    url = db.engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


# --- members and keys -------------------------------------------------------------------------


@click.group("members")
def members_group() -> None:
    """Member organisations."""


@members_group.command("add")
@click.option("--name", required=True)
@click.option(
    "--kind",
    required=True,
    help="bank, lender, marketplace, enterprise, rating_agency or regulator",
)
@click.option(
    "--roles", required=True, help="comma-separated: submitter,querier,regulator,platform"
)
@click.option("--uscc", default=None, help="the member's own unified social credit code")
@click.option(
    "--platform-code",
    default=None,
    help="for a platform: its short name in public seller URLs, e.g. taobao",
)
@click.option("--json", "as_json", is_flag=True, help="print the created member as JSON")
@domain_command
def members_add(
    name: str, kind: str, roles: str, uscc: str | None, platform_code: str | None, as_json: bool
) -> None:
    """Admit a member organisation."""
    from registry.members import add_member

    member = add_member(
        db.session,
        actor=CLI_ACTOR,
        name=name,
        kind=kind,
        roles=_roles(roles),
        uscc=uscc,
        platform_code=platform_code,
        now=current_runtime().clock.now(),
    )
    if as_json:
        _echo_json(member.summary())
    else:
        roles = ", ".join(sorted(member.roles))
        click.echo(f"member {member.id} admitted: {member.name} ({roles})")


@members_group.command("list")
@with_appcontext
def members_list() -> None:
    """List members as JSON."""
    import sqlalchemy as sa

    from registry.members import Member

    members = db.session.scalars(sa.select(Member).order_by(Member.created_at)).all()
    _echo_json([m.summary() for m in members])


key_algorithm_option = click.option(
    "--algorithm",
    default="ed25519",
    show_default=True,
    type=click.Choice(["ed25519", "ecdsa-p256-sha256"]),
    help="signature algorithm of the key",
)


@click.group("keys")
def keys_group() -> None:
    """Members' request-signing keys."""


@keys_group.command("add")
@click.option("--member", "member_id", required=True, help="member id")
@click.option(
    "--public-key",
    "public_key_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM file with the public key",
)
@key_algorithm_option
@click.option("--valid-from", default=None, help="ISO 8601 time; default now")
@click.option("--valid-until", default=None, help="ISO 8601 time; default no end")
@click.option("--json", "as_json", is_flag=True, help="print the registered key as JSON")
@domain_command
def keys_add(
    member_id: str,
    public_key_file: Path,
    algorithm: str,
    valid_from: str | None,
    valid_until: str | None,
    as_json: bool,
) -> None:
    """Register a member's public key."""
    from registry.members import add_key, get_member

    member = get_member(db.session, member_id)
    key = add_key(
        db.session,
        actor=CLI_ACTOR,
        member=member,
        public_key_pem=public_key_file.read_text(),
        algorithm=algorithm,
        valid_from=_parse_time(valid_from),
        valid_until=_parse_time(valid_until),
        now=current_runtime().clock.now(),
    )
    if as_json:
        _echo_json(key.summary())
    else:
        click.echo(f"key {key.id} registered for member {member.id}")


# A key id is a base64url thumbprint, which begins with "-" once in 64 keys: unknown options
# are taken as arguments, so that such an id is read as the key id and not as an option.
@keys_group.command("revoke", context_settings={"ignore_unknown_options": True})
@click.argument("key_id")
@click.option("--reason", required=True)
@click.option("--json", "as_json", is_flag=True, help="print the revoked key as JSON")
@domain_command
def keys_revoke(key_id: str, reason: str, as_json: bool) -> None:
    """Revoke a key at once."""
    from registry.members import revoke_key

    key = revoke_key(
        db.session, actor=CLI_ACTOR, key_id=key_id, reason=reason, now=current_runtime().clock.now()
    )
    if as_json:
        _echo_json(key.summary())
    else:
        click.echo(f"key {key.id} revoked")


# --- staff users ------------------------------------------------------------------------------


@click.group("users")
def users_group() -> None:
    """Staff accounts of the console."""


@users_group.command("add")
@click.option("--username", required=True)
@click.option("--roles", required=True, help="comma-separated: admin,reviewer,regulator")
@click.option("--display-name", default=None)
@click.option(
    "--regulator-member",
    default=None,
    help="for regulator staff: the id of the regulator member they act for",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="read the password from standard input instead of prompting",
)
@click.option(
    "--require-password-change",
    is_flag=True,
    help="the person must choose their own password at the first sign-in "
    "(for a password typed here by someone else)",
)
@click.option("--json", "as_json", is_flag=True, help="print the created account as JSON")
@domain_command
def users_add(
    username: str,
    roles: str,
    display_name: str | None,
    regulator_member: str | None,
    password_stdin: bool,
    require_password_change: bool,
    as_json: bool,
) -> None:
    """Create a staff account (the password is never taken from the command line).

    The password is the one typed here, so by default it stands: the person creating their
    own account (the first administrator) chose it. ``--require-password-change`` is for an
    account made for someone else.
    """
    from registry.members import get_member
    from registry.staff import add_staff_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    member = get_member(db.session, regulator_member) if regulator_member else None
    runtime = current_runtime()
    user = add_staff_user(
        db.session,
        actor=CLI_ACTOR,
        passwords=runtime.passwords,
        username=username,
        password=password,
        roles=_roles(roles),
        display_name=display_name,
        regulator_member=member,
        password_change_required=require_password_change,
        now=runtime.clock.now(),
    )
    if as_json:
        _echo_json(user.summary())
    else:
        click.echo(f"staff user {user.username} created ({', '.join(sorted(user.roles))})")


@users_group.command("totp-enroll")
@click.argument("username")
@domain_command
def users_totp_enroll(username: str) -> None:
    """Give an account a new TOTP second factor; prints the otpauth URI once."""
    from registry import staff_auth, totp

    runtime = current_runtime()
    user = staff_auth.get_user(db.session, username)
    secret = staff_auth.enroll_totp(
        db.session, user, vault=runtime.vault, actor=CLI_ACTOR, now=runtime.clock.now()
    )
    click.echo(totp.provisioning_uri(secret, user.username))


@users_group.command("unlock")
@click.argument("username")
@domain_command
def users_unlock(username: str) -> None:
    """Forget an account's failed sign-ins from every address: none has to wait."""
    from registry import staff_auth

    runtime = current_runtime()
    user = staff_auth.get_user(db.session, username)
    staff_auth.unlock(
        db.session, user, vault=runtime.vault, actor=CLI_ACTOR, now=runtime.clock.now()
    )
    click.echo(f"staff user {user.username} unlocked")


@users_group.command("reset-password")
@click.argument("username")
@domain_command
def users_reset_password(username: str) -> None:
    """Give an account a new random password, printed once; its sessions end, its failed
    sign-ins are forgotten, and the person must choose their own password at the next
    sign-in."""
    from registry import staff_auth

    runtime = current_runtime()
    user = staff_auth.get_user(db.session, username)
    password = staff_auth.reset_password(
        db.session,
        user,
        actor=CLI_ACTOR,
        passwords=runtime.passwords,
        vault=runtime.vault,
        now=runtime.clock.now(),
    )
    click.echo(password)


# --- running ----------------------------------------------------------------------------------


def serve_app(app: Flask, host: str, port: int, threads: int) -> None:
    from waitress import serve

    click.echo(f"creditreg serving on http://{host}:{port}")
    serve(app, host=host, port=port, threads=threads, ident="creditreg")


@click.command("serve")
@click.option("--host", default=None, help="default: HOST setting")
@click.option("--port", type=int, default=None, help="default: PORT setting")
@with_appcontext
def serve_command(host: str | None, port: int | None) -> None:
    """Serve the web app and API with the embedded production-grade server (waitress)."""
    settings = current_runtime().settings
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    serve_app(app, host or settings.HOST, port or settings.PORT, settings.SERVER_THREADS)


@click.command("worker")
@click.option("--rounds", type=int, default=None, help="stop after this many rounds")
@click.option(
    "--check",
    "check_max_age",
    type=float,
    default=None,
    metavar="SECONDS",
    help="health check: exit 0 if a worker on this host beat within SECONDS",
)
@with_appcontext
def worker_command(rounds: int | None, check_max_age: float | None) -> None:
    """Run the background jobs until stopped (Ctrl-C)."""
    from registry.worker import host_heartbeat_age

    runtime = current_runtime()
    if check_max_age is not None:
        age = host_heartbeat_age(db.session, runtime.clock.now())
        if age is None or age > check_max_age:
            click.echo(f"unhealthy: last heartbeat {age if age is not None else 'never'}", err=True)
            sys.exit(1)
        click.echo(f"healthy: last heartbeat {age:.1f}s ago")
        return
    worker = _make_worker(runtime, current_app.extensions["creditreg.search"])
    click.echo(f"worker {worker.identity} running {len(worker.jobs)} job(s)")
    try:
        done = worker.run_forever(max_rounds=rounds)
    except KeyboardInterrupt:
        click.echo("worker stopped")
        return
    click.echo(f"worker finished after {done} round(s)")


@click.group("demo", invoke_without_command=True)
@click.option(
    "--subjects",
    type=int,
    default=None,
    help="enterprises to generate (default: DEMO_SUBJECTS setting)",
)
@click.option("--seed", type=int, default=None, help="default: DEMO_SEED setting")
@click.option("--no-serve", is_flag=True, help="migrate and load the data, then exit")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@click.pass_context
@with_appcontext
def demo_command(
    context: click.Context,
    subjects: int | None,
    seed: int | None,
    no_serve: bool,
    host: str | None,
    port: int | None,
) -> None:
    """Migrate the database, load a generated dataset (once), and serve.

    `creditreg demo advance --days N` moves the registry's date forward meanwhile.
    """
    if context.invoked_subcommand is not None:
        return
    from registry.demo import DemoSpec, load_demo

    runtime = current_runtime()
    settings = runtime.settings
    if settings.profile == "production":
        # It would load made-up members and records, and make an administrator whose
        # password it prints.
        raise click.ClickException("the demo runs only in a demo or test registry, never here")
    _ensure_sqlite_directory()
    migrate.upgrade(db.engine, settings=settings)
    spec = DemoSpec(
        seed=settings.DEMO_SEED if seed is None else seed,
        enterprises=settings.DEMO_SUBJECTS if subjects is None else subjects,
    )
    from registry.demo_tour import instructions, prepare_tour

    click.echo(f"loading the demo data ({spec.enterprises} enterprises) ...", err=True)
    summary = load_demo(
        db.session, runtime, spec, progress=lambda line: click.echo(f"  {line}", err=True)
    )
    db.session.commit()
    if summary.loaded:
        click.echo(f"demo data loaded: {summary.describe()}")
        tour = prepare_tour(
            db.session, runtime, summary.members, Path(settings.VAR_DIR) / "demo-keys"
        )
        db.session.commit()
    else:
        click.echo(f"demo data already present: {summary.describe()}")
        tour = None
    # Index what was loaded, so lookups answer from the first request.
    from search.sync import drain

    search = current_app.extensions["creditreg.search"]
    click.echo("indexing the subjects for search ...", err=True)
    indexed = drain(db.session, search, runtime.clock.now(), max_batches=10_000)
    click.echo(f"search index: {indexed} change(s) applied")
    url = f"http://{host or settings.HOST}:{port or settings.PORT}"
    if tour is not None:
        click.echo(instructions(tour, runtime, url))
    else:
        click.echo(
            f"\nThe registry is at {url}/ (public search), {url}/console/ (staff). The demo's "
            "staff accounts (demo-admin, demo-reviewer, demo-reviewer-2, demo-regulator) keep "
            "the passwords printed when they were made; `creditreg users reset-password "
            "demo-admin` prints a new one. Member keys are in "
            f"{Path(settings.VAR_DIR) / 'demo-keys'}."
        )
    if not no_serve:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        # The demo is one process: the worker runs beside the server, so records sent
        # during the demo reach the index too.
        worker = _make_worker(runtime, search)

        def run_worker() -> None:
            # A thread has no application context of its own; the worker's sessions need it.
            with app.app_context():
                worker.run_forever()

        threading.Thread(target=run_worker, name="demo-worker", daemon=True).start()
        serve_app(app, host or settings.HOST, port or settings.PORT, settings.SERVER_THREADS)


@demo_command.command("advance")
@click.option("--days", type=click.IntRange(1, 3650), required=True, help="how many days")
@with_appcontext
def demo_advance_command(days: int) -> None:
    """Move the registry's date DAYS forward (dev and test profiles only).

    Every process of this registry (the demo's server and worker, other commands) reads
    the new date at once: deadlines fall due and the worker acts on them within a round,
    so a list entry can be watched through its notice, objection window, publication and
    repair in a few minutes. The date never moves back.
    """
    from registry.clock import OffsetClock, local_date

    runtime = current_runtime()
    clock = runtime.clock
    if runtime.settings.profile == "production" or not isinstance(clock, OffsetClock):
        raise click.ClickException("the date moves only in a demo or test registry, never here")
    total = clock.advance(days)
    click.echo(
        f"the registry's date is now {local_date(clock.now()).isoformat()} "
        f"({total.days} day(s) ahead of the real one)"
    )


def _make_worker(runtime: Any, search: Any) -> Any:
    """A worker running every job of the registry against the app's search backend."""
    from registry.worker import Worker, default_jobs
    from search.screening import Thresholds

    settings = runtime.settings
    thresholds = Thresholds(
        settings.SCREENING_MATCH_THRESHOLD, settings.SCREENING_POSSIBLE_THRESHOLD
    )
    from registry.notifications import sender_from_settings

    return Worker(
        db.new_session,
        runtime.clock,
        jobs=default_jobs(search, thresholds, sender_from_settings(settings), settings),
        poll_interval=settings.WORKER_POLL_INTERVAL,
    )


@click.command("backup")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(out: Path) -> None:
    """Back up the database to OUT (and OUT.json, its manifest); never overwrites."""
    from registry.backup import BackupError, backup

    try:
        result = backup(db.engine, out, now=current_runtime().clock.now())
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    manifest = result.manifest
    click.echo(
        f"backed up {sum(manifest['tables'].values())} rows of {len(manifest['tables'])} "
        f"tables to {out} ({manifest['bytes']} bytes, sha256 {manifest['sha256'][:16]})"
    )


@click.command("restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--into",
    "target_url",
    required=True,
    help="the empty database to restore into (a SQLAlchemy URL)",
)
def restore_command(backup_file: Path, target_url: str) -> None:
    """Restore BACKUP_FILE into an empty database, then check its row counts."""
    from registry.backup import BackupError, restore

    engine = make_engine(target_url)
    try:
        manifest = restore(backup_file, engine)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    click.echo(
        f"restored {sum(manifest['tables'].values())} rows of {len(manifest['tables'])} "
        f"tables (schema {', '.join(manifest['revisions'])}); row counts match the manifest"
    )
    click.echo(
        "next: CREDITREG_DATABASE_URL=<that url> creditreg db upgrade, then "
        "creditreg search verify --repair (or search reindex for an engine)"
    )


@click.command("config")
@with_appcontext
def config_command() -> None:
    """Show the effective settings and where each came from (secrets, and passwords inside
    URLs, redacted)."""
    settings = current_runtime().settings
    _echo_json(
        {
            "profile": settings.profile,
            "values": settings.redacted(),
            "sources": dict(settings.sources),
        }
    )


def register_commands(app: Flask) -> None:
    from api.cli import submissions_group
    from api.health import ready_command
    from registry.calendar_cli import calendar_group
    from registry.listings_cli import listings_group
    from registry.monitoring_cli import monitoring_group
    from registry.objections_cli import objections_group
    from registry.person_notices_cli import held_command, notice_served_command
    from registry.publicity_cli import records_group
    from registry.ratings_cli import ratings_group
    from registry.reports_cli import reports_group
    from registry.retention_cli import archive_group
    from registry.seller_ratings_cli import sellers_group
    from registry.tlog_cli import audit_group, log_group
    from search.cli import search_group

    ratings_group.add_command(sellers_group)  # creditreg ratings sellers ...
    records_group.add_command(held_command)  # creditreg records held
    records_group.add_command(notice_served_command)  # creditreg records notice-served
    for command in (
        submissions_group,
        search_group,
        listings_group,
        calendar_group,
        objections_group,
        ratings_group,
        reports_group,
        archive_group,
        records_group,
        monitoring_group,
        log_group,
        audit_group,
        db_group,
        members_group,
        keys_group,
        users_group,
        serve_command,
        worker_command,
        demo_command,
        config_command,
        ready_command,
        backup_command,
        restore_command,
    ):
        app.cli.add_command(command)
