"""``creditreg listings``: the reviewers' actions on list entries, for operators.

The console gives reviewers the same actions with forms; these commands act as a named
staff account with the reviewer role, and every action is audited under that account.
"""

from __future__ import annotations

import json
import sys
import uuid

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from registry import listings
from registry.audit import Actor, ActorKind
from registry.db import db
from registry.errors import RegistryError
from registry.runtime import current_runtime
from registry.staff import StaffRole, StaffStatus, StaffUser


def reviewer_actor(username: str) -> tuple[Actor, uuid.UUID | None]:
    user = db.session.scalar(sa.select(StaffUser).where(StaffUser.username == username))
    if user is None or user.status != StaffStatus.ACTIVE or StaffRole.REVIEWER not in user.roles:
        raise click.ClickException(f"{username} is not an active reviewer")
    return Actor(ActorKind.STAFF, str(user.id)), user.regulator_member_id


def run_action(action: object) -> None:
    """Commit the action's work, or report the refusal (state and allowed actions)."""
    try:
        result = action() if callable(action) else action
        db.session.commit()
    except RegistryError as exc:
        db.session.rollback()
        click.echo(f"error: {exc.detail}", err=True)
        for key, value in exc.extensions.items():
            click.echo(f"  {key}: {value}", err=True)
        sys.exit(1)
    click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))


@click.group("listings")
def listings_group() -> None:
    """Blacklist and redlist entries: review, objections, repairs."""


@listings_group.command("show")
@click.argument("entry_id")
@with_appcontext
def show(entry_id: str) -> None:
    """An entry with its state, allowed actions, reviews and objections."""
    run_action(lambda: listings.get_entry(db.session, entry_id).summary())


@listings_group.command("review")
@click.argument("entry_id")
@click.option("--reviewer", required=True, help="the reviewer's staff username")
@click.option("--approve/--reject", required=True)
@click.option("--reason", required=True)
@with_appcontext
def review(entry_id: str, reviewer: str, approve: bool, reason: str) -> None:
    """Approve or reject a proposal (never one's own regulator's)."""
    from registry.notifications import Notices

    actor, regulator = reviewer_actor(reviewer)
    runtime = current_runtime()

    def act() -> dict[str, object]:
        entry = listings.review(
            db.session,
            listings.get_entry(db.session, entry_id),
            reviewer=actor,
            approve=approve,
            reason=reason,
            policy=listings.policy_from_settings(runtime.settings),
            at=runtime.clock.now(),
            reviewer_regulator_id=regulator,
            notifications=Notices(),
        )
        return entry.summary()

    run_action(act)


@listings_group.command("answer-objection")
@click.argument("entry_id")
@click.argument("objection_id")
@click.option("--reviewer", required=True)
@click.option("--uphold/--dismiss", required=True, help="uphold: the entry is rejected")
@click.option("--answer", required=True)
@with_appcontext
def answer_objection(
    entry_id: str, objection_id: str, reviewer: str, uphold: bool, answer: str
) -> None:
    """Answer an objection; a dismissed one lets publication go on."""
    actor, _ = reviewer_actor(reviewer)
    runtime = current_runtime()
    run_action(
        lambda: listings.answer_objection(
            db.session,
            listings.get_entry(db.session, entry_id),
            objection_id,
            reviewer=actor,
            upheld=uphold,
            answer=answer,
            at=runtime.clock.now(),
        ).summary()
    )


@listings_group.command("acknowledge-repair")
@click.argument("application_id")
@click.option("--reviewer", required=True)
@with_appcontext
def acknowledge_repair(application_id: str, reviewer: str) -> None:
    """Acknowledge a repair application; the authority's decision deadline starts."""
    actor, _ = reviewer_actor(reviewer)
    runtime = current_runtime()

    def act() -> dict[str, object]:
        application = db.session.get(listings.RepairApplication, uuid.UUID(application_id))
        if application is None:
            raise listings.NotFound("no repair application with this id")
        return listings.acknowledge_repair(
            db.session,
            application,
            actor=actor,
            policy=listings.policy_from_settings(runtime.settings),
            at=runtime.clock.now(),
        ).view()

    run_action(act)


@listings_group.command("run-due")
@with_appcontext
def run_due() -> None:
    """Publish and expire what is due now (the worker does this every 15 s)."""
    run_action(
        lambda: {"changed": listings.run_list_jobs(db.session, current_runtime().clock.now())}
    )
