"""``creditreg records held`` and ``creditreg records notice-served``: negative records on
persons held until the person is told (registry.person_notices), for staff.

A person cannot be reached through the API: when a submitter does not confirm that the
person was told, the registry serves its own notice (a letter, or a public announcement when
the person cannot be found) and a reviewer records it here, with its channel and day. The
record is shared PERSON_NOTICE_WAIT_DAYS days later.
"""

from __future__ import annotations

from datetime import datetime

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from registry import person_notices
from registry.db import db, get_by_id
from registry.listings_cli import reviewer_actor, run_action
from registry.records import CreditRecord
from registry.runtime import current_runtime


@click.command("held")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@with_appcontext
def held_command(limit: int) -> None:
    """Negative records on persons held until the person is told, oldest first."""
    policy = person_notices.policy_from_settings(current_runtime().settings)
    records = db.session.scalars(
        sa.select(CreditRecord)
        .where(CreditRecord.held_for_notice.is_(True))
        .order_by(CreditRecord.created_at, CreditRecord.id)
        .limit(limit)
    )
    run_action(lambda: [person_notices.view(record, policy) for record in records])


@click.command("notice-served")
@click.argument("record_id")
@click.option(
    "--channel",
    required=True,
    type=click.Choice([str(c) for c in person_notices.Channel]),
    help="how the registry's notice reached the person",
)
@click.option(
    "--served-on", required=True, type=click.DateTime(["%Y-%m-%d"]), help="the day it was served"
)
@click.option("--reviewer", required=True, help="the reviewer's staff username")
@with_appcontext
def notice_served_command(record_id: str, channel: str, served_on: datetime, reviewer: str) -> None:
    """Record the registry's own notice to the person of RECORD_ID (the registry's id); the
    record is shared PERSON_NOTICE_WAIT_DAYS days after SERVED_ON."""
    actor, _ = reviewer_actor(reviewer)
    runtime = current_runtime()
    policy = person_notices.policy_from_settings(runtime.settings)

    def act() -> dict[str, object]:
        record = get_by_id(db.session, CreditRecord, record_id, what="credit record")
        person_notices.record_registry_notice(
            db.session,
            actor=actor,
            record=record,
            channel=channel,
            served_on=served_on.date(),
            policy=policy,
            at=runtime.clock.now(),
        )
        return person_notices.view(record, policy)

    run_action(act)
