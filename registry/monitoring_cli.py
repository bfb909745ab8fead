"""``creditreg monitoring``: the operator's view of webhook deliveries."""

from __future__ import annotations

import json
import uuid

import click
from flask.cli import with_appcontext

from registry import webhooks
from registry.cli import domain_command
from registry.db import db
from registry.runtime import current_runtime


@click.group("monitoring")
def monitoring_group() -> None:
    """Portfolio monitoring: webhook deliveries."""


def _uuid(value: str | None, what: str) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise click.BadParameter(f"{what} is a UUID") from None


@monitoring_group.command("deliveries")
@click.option("--member", "member_id", default=None, help="only this member's (its id)")
@click.option("--all", "show_all", is_flag=True, help="also those delivered or not yet tried")
@click.option("--limit", type=int, default=100, show_default=True)
@with_appcontext
def deliveries_command(member_id: str | None, show_all: bool, limit: int) -> None:
    """Deliveries that failed or are being retried (newest first), as JSON lines."""
    found = webhooks.deliveries(
        db.session,
        member_id=_uuid(member_id, "--member"),
        failing_only=not show_all,
        limit=limit,
    )
    reasons = webhooks.last_attempt_errors(db.session, [delivery.id for delivery in found])
    for delivery in found:
        shown = {**delivery.view(), "last_attempt_error": reasons.get(delivery.id)}
        click.echo(json.dumps(shown, ensure_ascii=False, sort_keys=True))
    if not found:
        click.echo("no failing deliveries" if not show_all else "no deliveries", err=True)


@monitoring_group.command("retry")
@click.argument("delivery_id")
@domain_command
def retry_command(delivery_id: str) -> None:
    """Send a failed delivery again, with a fresh set of attempts."""
    wanted = _uuid(delivery_id, "DELIVERY_ID")
    assert wanted is not None
    delivery = webhooks.retry_delivery(db.session, wanted, at=current_runtime().clock.now())
    click.echo(json.dumps(delivery.view(), ensure_ascii=False, sort_keys=True))
