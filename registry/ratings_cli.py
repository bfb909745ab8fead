"""``creditreg ratings``: the reviewers' actions on credit ratings, for operators.

As with ``creditreg listings``, each command acts as a named staff account with the reviewer
role and is audited under it.
"""

from __future__ import annotations

from typing import Any

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from registry import ratings
from registry.db import db
from registry.listings_cli import reviewer_actor, run_action
from registry.runtime import current_runtime


def _card() -> Any:
    return ratings.scorecard_from_settings(current_runtime().settings)


@click.group("ratings")
def ratings_group() -> None:
    """Subject credit ratings: proposals, overrides, appeals."""


@ratings_group.command("queue")
@with_appcontext
def queue() -> None:
    """Proposals waiting for a reviewer (and overrides waiting for a second one)."""
    run_action(
        lambda: [
            {"subject_id": str(r.subject_id), **r.summary(explanation=False)}
            for r in ratings.queue(db.session)
        ]
    )


@ratings_group.command("show")
@click.argument("rating_id")
@with_appcontext
def show(rating_id: str) -> None:
    """A rating with its explanation."""
    run_action(lambda: ratings.get_rating(db.session, rating_id).summary())


@ratings_group.command("approve")
@click.argument("rating_id")
@click.option("--reviewer", required=True, help="the reviewer's staff username")
@with_appcontext
def approve(rating_id: str, reviewer: str) -> None:
    """Publish a proposal with the scorecard's grade."""
    actor, _ = reviewer_actor(reviewer)

    def act() -> dict[str, Any]:
        rating = ratings.get_rating(db.session, rating_id)
        ratings.approve(db.session, rating, reviewer=actor, at=current_runtime().clock.now())
        return rating.summary(explanation=False)

    run_action(act)


@ratings_group.command("override")
@click.argument("rating_id")
@click.option("--reviewer", required=True, help="the reviewer's staff username")
@click.option("--grade", required=True)
@click.option("--reason", required=True)
@with_appcontext
def override(rating_id: str, reviewer: str, grade: str, reason: str) -> None:
    """Decide another grade; it waits for a second reviewer (RATING_SECOND_REVIEW_FROM_GRADES)."""
    actor, _ = reviewer_actor(reviewer)

    def act() -> dict[str, Any]:
        rating = ratings.get_rating(db.session, rating_id)
        ratings.override(
            db.session,
            rating,
            reviewer=actor,
            grade=grade,
            reason=reason,
            scorecard=_card(),
            at=current_runtime().clock.now(),
            second_review_from=current_runtime().settings.RATING_SECOND_REVIEW_FROM_GRADES,
        )
        return rating.summary(explanation=False)

    run_action(act)


@ratings_group.command("second-review")
@click.argument("rating_id")
@click.option("--reviewer", required=True, help="another reviewer's staff username")
@click.option("--confirm/--refuse", required=True)
@click.option("--reason", default=None, help="required when refusing")
@with_appcontext
def second_review(rating_id: str, reviewer: str, confirm: bool, reason: str | None) -> None:
    """Confirm an override, or send the proposal back."""
    actor, _ = reviewer_actor(reviewer)

    def act() -> dict[str, Any]:
        rating = ratings.get_rating(db.session, rating_id)
        ratings.second_review(
            db.session,
            rating,
            reviewer=actor,
            confirm=confirm,
            reason=reason,
            at=current_runtime().clock.now(),
        )
        return rating.summary(explanation=False)

    run_action(act)


@ratings_group.command("appeals")
@with_appcontext
def appeals() -> None:
    """Open appeals, oldest first."""
    run_action(lambda: [a.summary() for a in ratings.open_appeals(db.session)])


@ratings_group.command("decide-appeal")
@click.argument("appeal_id")
@click.option("--reviewer", required=True, help="a reviewer who did not approve the rating")
@click.option("--grade", default=None, help="the amended grade; leave out to uphold")
@click.option("--reason", required=True)
@with_appcontext
def decide_appeal(appeal_id: str, reviewer: str, grade: str | None, reason: str) -> None:
    """Uphold the rating or amend its grade."""
    actor, _ = reviewer_actor(reviewer)

    def act() -> dict[str, Any]:
        appeal = ratings.get_appeal(db.session, appeal_id)
        ratings.decide_appeal(
            db.session,
            appeal,
            reviewer=actor,
            grade=grade,
            reason=reason,
            scorecard=_card(),
            at=current_runtime().clock.now(),
            second_review_from=current_runtime().settings.RATING_SECOND_REVIEW_FROM_GRADES,
        )
        return appeal.summary()

    run_action(act)


@ratings_group.command("rescore")
@with_appcontext
def rescore() -> None:
    """Queue every subject with records to be scored again (after a scorecard change)."""
    from registry.records import CreditRecord

    def act() -> dict[str, int]:
        subject_ids = list(db.session.scalars(sa.select(CreditRecord.subject_id).distinct()))
        ratings.enqueue_ratings(db.session, subject_ids, at=current_runtime().clock.now())
        return {"queued": len(subject_ids)}

    run_action(act)
