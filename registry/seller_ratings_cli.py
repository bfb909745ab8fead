"""``creditreg ratings sellers``: the reviewers' queue of flagged seller ratings.

Each decision acts as a named staff account with the reviewer role and is audited under it.
"""

from __future__ import annotations

from typing import Any

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from registry import seller_ratings as ratings
from registry.audit import AuditEvent
from registry.db import db
from registry.errors import NotFound
from registry.listings_cli import reviewer_actor, run_action
from registry.runtime import current_runtime


@click.group("sellers")
def sellers_group() -> None:
    """Seller ratings flagged for review: queue, show, keep, exclude."""


@sellers_group.command("queue")
@click.option("--platform", default=None, help="only this platform (its code or member id)")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@with_appcontext
def queue(platform: str | None, limit: int) -> None:
    """Flagged ratings waiting for a decision, the longest waiting first."""

    def act() -> list[dict[str, Any]]:
        member = None
        if platform is not None:
            member = ratings.find_platform(db.session, platform)
            if member is None:
                raise NotFound("no platform with this code or id")
        return [
            row.reviewer_view()
            for row in ratings.review_queue(db.session, platform=member, limit=limit)
        ]

    run_action(act)


@sellers_group.command("show")
@click.argument("rating_id")
@with_appcontext
def show(rating_id: str) -> None:
    """A rating with its flags, its state, the decisions allowed and its history."""

    def act() -> dict[str, Any]:
        rating = ratings.get_rating(db.session, rating_id)
        events = db.session.scalars(
            sa.select(AuditEvent)
            .where(
                AuditEvent.object_type == "seller_rating",
                AuditEvent.object_id == str(rating.id),
            )
            .order_by(AuditEvent.id)
        )
        return {
            **rating.reviewer_view(),
            "history": [
                {
                    "at": event.occurred_at.isoformat(),
                    "action": event.action,
                    "actor": f"{event.actor_kind}:{event.actor_id}",
                    "reason": event.reason,
                }
                for event in events
            ],
        }

    run_action(act)


def _decide(rating_id: str, reviewer: str, reason: str, decision: ratings.ReviewState) -> None:
    actor = reviewer_actor(reviewer)[0]
    now = current_runtime().clock.now()
    run_action(
        lambda: ratings.decide(
            db.session,
            ratings.get_rating(db.session, rating_id),
            reviewer=actor,
            decision=decision,
            reason=reason,
            at=now,
        ).reviewer_view()
    )


@sellers_group.command("keep")
@click.argument("rating_id")
@click.option("--reviewer", required=True, help="the reviewer's staff username")
@click.option("--reason", required=True)
@with_appcontext
def keep(rating_id: str, reviewer: str, reason: str) -> None:
    """Keep a flagged rating: it goes on counting."""
    _decide(rating_id, reviewer, reason, ratings.ReviewState.KEPT)


@sellers_group.command("exclude")
@click.argument("rating_id")
@click.option("--reviewer", required=True, help="the reviewer's staff username")
@click.option("--reason", required=True)
@with_appcontext
def exclude(rating_id: str, reviewer: str, reason: str) -> None:
    """Exclude a rating: it stops counting at once and stays in the history."""
    _decide(rating_id, reviewer, reason, ratings.ReviewState.EXCLUDED)
