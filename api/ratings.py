"""Ratings over the signed API: a subject appeals its published rating.

Ratings are read with the subject (``GET /api/v1/subjects/{id}`` carries the published
rating, its explanation and its history); reviewers decide proposals and appeals with
``creditreg ratings``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import fields, validate

from api import problems
from api.auth import current_caller, signed
from api.schemas import StrictSchema
from registry import ratings
from registry.audit import Actor, ActorKind
from registry.db import db
from registry.errors import Forbidden
from registry.runtime import current_runtime
from registry.subjects import Subject, represents

bp = Blueprint("ratings_api", __name__, url_prefix="/api/v1")


class AppealSchema(StrictSchema):
    grounds = fields.String(
        required=True,
        validate=validate.Length(min=1, max=10000),
        metadata={"description": "why the rating is wrong, with the facts that show it"},
    )


APPEAL = AppealSchema()


@bp.post("/ratings/<rating_id>/appeals")
@signed()
def appeal(rating_id: str) -> ResponseReturnValue:
    """The subject (through the member that represents it) appeals a published rating.

    ---
    post:
      operationId: appealRating
      summary: The rated subject (or the member representing it) appeals its rating
      requestBody: Appeal
      responses:
        201: Done
      problems: [401, 403, 404, 409, 422, 429]
    """
    body: dict[str, Any] | Response = problems.load_or_problem(
        APPEAL, request.get_json(silent=True) or {}, "{count} field error(s); nothing changed"
    )
    if isinstance(body, Response):
        return body
    session = db.session
    rating = ratings.get_rating(session, rating_id)
    caller = current_caller()
    subject = session.get(Subject, rating.subject_id)
    if subject is None or not represents(caller.member, subject):
        raise Forbidden("only the rated subject, or the member that represents it, may appeal")
    filed = ratings.file_appeal(
        session,
        rating,
        applicant=Actor(ActorKind.MEMBER, str(caller.member_id)),
        grounds=body["grounds"],
        at=current_runtime().clock.now(),
    )
    response = jsonify(filed.summary())
    response.status_code = 201
    return response
