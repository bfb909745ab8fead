"""``creditreg objections``: the reviewers' queue of escalated objections, for operators.

As with ``creditreg listings``, decisions are made as a named staff account with the
reviewer role and audited under it.
"""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from registry import objections
from registry.db import db
from registry.listings_cli import reviewer_actor, run_action
from registry.runtime import current_runtime


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
