"""``creditreg archive``: the sealed archive of records whose retention ended.

The only way to read it: there is no API. Every command acts as a named staff account that
must be an active administrator, states a reason, and is audited under that account; a
refused attempt is audited too.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from typing import Any

import click
from flask.cli import with_appcontext

from registry import retention
from registry.audit import Actor
from registry.db import db
from registry.errors import Forbidden, RegistryError
from registry.runtime import current_runtime

admin_option = click.option(
    "--admin", "username", required=True, help="the staff administrator's username"
)
reason_option = click.option(
    "--reason", required=True, help="why the archive is opened (kept in the audit log)"
)


def _as_admin(username: str, reason: str, read: Callable[[Actor], Any]) -> None:
    """Check the account, run the read, commit its audit event, print the result as JSON."""
    session = db.session
    at = current_runtime().clock.now()
    try:
        if not reason.strip():
            raise click.BadParameter("a reason is required", param_hint="--reason")
        actor = retention.archive_reader(session, username, reason=reason, at=at)
        result = read(actor)
        session.commit()
    except Forbidden as exc:
        session.commit()  # keeps the audit event of the refusal
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(1)
    except RegistryError as exc:
        session.rollback()
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(1)
    click.echo(json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True))


@click.group("archive")
def archive_group() -> None:
    """The sealed archive of records past their retention (administrators only)."""


@archive_group.command("list")
@admin_option
@reason_option
@click.option("--subject", "subject_id", default=None, help="only this subject's records")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@with_appcontext
def list_command(username: str, reason: str, subject_id: str | None, limit: int) -> None:
    """Archived records, newest first (without their content)."""
    try:
        subject = uuid.UUID(subject_id) if subject_id else None
    except ValueError:
        raise click.BadParameter("not a subject id", param_hint="--subject") from None
    _as_admin(
        username,
        reason,
        lambda actor: retention.list_archive(
            db.session,
            actor=actor,
            reason=reason,
            at=current_runtime().clock.now(),
            subject_id=subject,
            limit=limit,
        ),
    )


@archive_group.command("show")
@click.argument("record_id")
@admin_option
@reason_option
@with_appcontext
def show_command(record_id: str, username: str, reason: str) -> None:
    """One archived record: its last full state and every version."""
    _as_admin(
        username,
        reason,
        lambda actor: retention.read_archive(
            db.session,
            actor=actor,
            record_id=record_id,
            reason=reason,
            at=current_runtime().clock.now(),
        ),
    )
