"""``creditreg listings``: the reviewers' actions on list entries, for operators.

The console gives reviewers the same actions with forms; these commands act as a named
staff account with the reviewer role, and every action is audited under that account:
reviews, the service of a notice sent by post, in person, by announcement or e-mail (with
its date and reference), publication once the window has closed, objections and repairs.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import datetime

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from registry import listings
from registry.audit import Actor, ActorKind
from registry.calendar import WorkingCalendar
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
        for field, messages in getattr(exc, "errors", {}).items():
            click.echo(f"  {field}: {'; '.join(messages)}", err=True)
        for key, value in exc.extensions.items():
            click.echo(f"  {key}: {value}", err=True)
        sys.exit(1)
    click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))


@click.group("listings")
def listings_group() -> None:
    """Blacklist and redlist entries: review, objections, repairs."""


def _calendar() -> WorkingCalendar:
    return listings.policy_from_settings(current_runtime().settings).calendar


@listings_group.command("show")
@click.argument("entry_id")
@with_appcontext
def show(entry_id: str) -> None:
    """An entry with its state, allowed actions, reviews, notice and objections."""
    run_action(lambda: listings.get_entry(db.session, entry_id).summary(_calendar()))


@listings_group.command("awaiting-service")
@with_appcontext
def awaiting_service() -> None:
    """Entries in their notice stage whose notice is not served yet, oldest first."""
    run_action(
        lambda: [
            {
                "id": str(entry.id),
                "subject": entry.subject.name,
                "list": entry.list_kind,
                "notice_issued_at": entry.notice_sent_at.isoformat()
                if entry.notice_sent_at
                else None,
            }
            for entry in listings.awaiting_service(db.session)
        ]
    )


@listings_group.command("serve")
@click.argument("entry_id")
@click.option("--reviewer", required=True, help="the reviewer's staff username")
@click.option(
    "--channel", required=True, type=click.Choice([str(c) for c in listings.RECORDED_CHANNELS])
)
@click.option(
    "--served-on",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="the date of service, YYYY-MM-DD: the objection window counts from it",
)
@click.option("--reference", required=True, help="tracking number, receipt or announcement")
@with_appcontext
def serve(entry_id: str, reviewer: str, channel: str, served_on: datetime, reference: str) -> None:
    """Record that the notice was served by CHANNEL on a date; the window starts then."""
    actor, _ = reviewer_actor(reviewer)
    runtime = current_runtime()
    policy = listings.policy_from_settings(runtime.settings)
    run_action(
        lambda: listings.record_service(
            db.session,
            listings.get_entry(db.session, entry_id),
            actor=actor,
            role=listings.Role.REVIEWER,
            channel=channel,
            served_on=served_on.date(),
            reference=reference,
            policy=policy,
            at=runtime.clock.now(),
        ).summary(policy.calendar)
    )


@listings_group.command("publish")
@click.argument("entry_id")
@click.option("--reviewer", required=True, help="the reviewer's staff username")
@with_appcontext
def publish(entry_id: str, reviewer: str) -> None:
    """Publish now an entry whose notice was served and whose window has closed."""
    actor, _ = reviewer_actor(reviewer)
    runtime = current_runtime()
    run_action(
        lambda: listings.publish(
            db.session,
            listings.get_entry(db.session, entry_id),
            actor=actor,
            role=listings.Role.REVIEWER,
            at=runtime.clock.now(),
        ).summary(_calendar())
    )


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
        return entry.summary(_calendar())

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
        ).summary(_calendar())
    )


@listings_group.command("apply-repair")
@click.option("--entry", "entry_id", help="a published list entry about the person")
@click.option("--record", "record_id", help="a published administrative penalty of the person")
@click.option("--reviewer", required=True, help="the staff user filing for the person")
@click.option("--identity-check", required=True, help="how the person's identity was checked")
@click.option("--evidence", required=True, help="evidence that the conduct is corrected")
@click.option("--commitment", required=True, help="the person's public credit commitment")
@with_appcontext
def apply_repair(
    entry_id: str | None,
    record_id: str | None,
    reviewer: str,
    identity_check: str,
    evidence: str,
    commitment: str,
) -> None:
    """File a repair application for a person, who has no member to file it (the identity
    check goes into the audit log)."""
    from registry import repairs
    from registry.db import get_by_id
    from registry.records import CreditRecord

    if (entry_id is None) == (record_id is None):
        raise click.UsageError("name one item: --entry or --record")
    actor, _ = reviewer_actor(reviewer)
    runtime = current_runtime()
    policy = listings.policy_from_settings(runtime.settings)
    common = {
        "actor": actor,
        "member": None,
        "correction_evidence": evidence,
        "credit_commitment": commitment,
        "identity_check": identity_check,
        "policy": policy,
        "at": runtime.clock.now(),
    }

    def act() -> dict[str, object]:
        if entry_id is not None:
            entry = listings.get_entry(db.session, entry_id)
            return listings.apply_for_repair(db.session, entry, **common).view()  # type: ignore[arg-type]
        record = get_by_id(db.session, CreditRecord, record_id or "", what="credit record")
        return repairs.apply_for_penalty_repair(
            db.session,
            record,
            rule=repairs.rule_from_settings(runtime.settings),
            settings=runtime.settings,
            **common,  # type: ignore[arg-type]
        ).view()

    run_action(act)


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
