"""``creditreg objections``: the reviewers' queue of escalated objections, for operators,
and the objections and statements of persons, who have no member, filed at the registry's
counter.

As with ``creditreg listings``, decisions are made as a named staff account with the
reviewer role and audited under it; what staff file for a person carries how they checked
who asked.
"""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from registry import objections
from registry.db import db, get_by_id
from registry.listings_cli import reviewer_actor, run_action
from registry.runtime import current_runtime
from registry.subjects import Subject


@click.group("objections")
def objections_group() -> None:
    """Objections (异议) to records and list entries: the reviewers' queue and decisions."""


@objections_group.command("queue")
@with_appcontext
def queue() -> None:
    """Escalated objections (unanswered past their due time), longest overdue first."""
    run_action(lambda: [o.view() for o in objections.queue(db.session)])


@objections_group.command("show")
@click.argument("objection_id")
@with_appcontext
def show(objection_id: str) -> None:
    """One objection with its item, grounds, statement, dates and outcome."""
    run_action(lambda: objections.get_objection(db.session, objection_id).view())


@objections_group.command("decide")
@click.argument("objection_id")
@click.option("--reviewer", required=True, help="the reviewer's staff username")
@click.option(
    "--outcome",
    required=True,
    type=click.Choice([str(o) for o in objections.Outcome]),
    help="corrected (the member sent a correction), revoked (the item is taken back), upheld",
)
@click.option("--reason", required=True)
@with_appcontext
def decide(objection_id: str, reviewer: str, outcome: str, reason: str) -> None:
    """Decide an escalated objection."""
    actor, regulator = reviewer_actor(reviewer)

    def act() -> dict[str, Any]:
        return objections.decide(
            db.session,
            objections.get_objection(db.session, objection_id),
            reviewer=actor,
            reviewer_regulator_id=regulator,
            outcome=outcome,
            reason=reason,
            at=current_runtime().clock.now(),
        ).view()

    run_action(act)


@objections_group.command("run-due")
@with_appcontext
def run_due() -> None:
    """Escalate what is overdue now (the worker does this every minute)."""
    run_action(
        lambda: {"escalated": objections.escalate_due(db.session, current_runtime().clock.now())}
    )


@objections_group.command("file-for-person")
@click.option(
    "--item-kind",
    required=True,
    type=click.Choice([str(k) for k in objections.ItemKind]),
    help="a credit record or a list entry",
)
@click.option("--item", "item_id", required=True, help="the item's registry id")
@click.option("--person", "person_id", required=True, help="the person's subject id")
@click.option("--grounds", required=True, help="what the person says is wrong")
@click.option("--statement", help="the person's statement, shown beside the item")
@click.option("--identity-check", required=True, help="how the person's identity was checked")
@click.option("--reviewer", required=True, help="the reviewer's staff username")
@with_appcontext
def file_for_person(
    item_kind: str,
    item_id: str,
    person_id: str,
    grounds: str,
    statement: str | None,
    identity_check: str,
    reviewer: str,
) -> None:
    """File a person's objection to a record or a list entry about them (the same answer
    period as any objection; a list entry in its notice window gets the notice objection)."""
    actor, _ = reviewer_actor(reviewer)
    runtime = current_runtime()

    def act() -> dict[str, Any]:
        return objections.object_for_person(
            db.session,
            staff=actor,
            person=get_by_id(db.session, Subject, person_id, what="subject"),
            item_kind=item_kind,
            item_id=item_id,
            grounds=grounds,
            statement=statement,
            identity_check=identity_check,
            answer_days=objections.answer_days_from_settings(runtime.settings),
            at=runtime.clock.now(),
        ).view()

    run_action(act)


@objections_group.command("statement-for-person")
@click.argument("objection_id")
@click.option("--person", "person_id", required=True, help="the person's subject id")
@click.option("--statement", required=True, help="the person's statement, shown beside the item")
@click.option("--identity-check", required=True, help="how the person's identity was checked")
@click.option("--reviewer", required=True, help="the reviewer's staff username")
@with_appcontext
def statement_for_person(
    objection_id: str, person_id: str, statement: str, identity_check: str, reviewer: str
) -> None:
    """Add (or replace) a person's statement beside an objection about them."""
    actor, _ = reviewer_actor(reviewer)

    def act() -> dict[str, Any]:
        return objections.statement_for_person(
            db.session,
            objections.get_objection(db.session, objection_id),
            staff=actor,
            person=get_by_id(db.session, Subject, person_id, what="subject"),
            statement=statement,
            identity_check=identity_check,
            at=current_runtime().clock.now(),
        ).view()

    run_action(act)
