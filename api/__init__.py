"""The JSON API for members and the public.

Each request is one unit of work: handlers and domain operations only flush, and the
after-request hook commits once when the response is a success. Anything else rolls back,
so a request never half-applies.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, g, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from api import (
    auth,
    health,
    json_body,
    listings,
    openapi,
    problems,
    ratings,
    records,
    reports,
    screening,
    subjects,
    submissions,
    tlog,
)
from api import monitoring as monitoring_api
from api import objections as objections_api
from api import seller_ratings as seller_ratings_api
from api.auth import spend_nonce_at_commit, spend_nonce_of_failed_request

log = logging.getLogger(__name__)

problems_bp = Blueprint("problems", __name__)


@problems_bp.get("/problems/<slug>")
def problem_type(slug: str) -> ResponseReturnValue:
    """The description behind each problem ``type`` URI.

    ---
    get:
      operationId: problemType
      summary: What a problem type means
      responses:
        200:
          description: The description.
          content:
            application/json:
              schema: ProblemType
      problems: [404]
    """
    found = problems.PROBLEM_TYPES.get(slug)
    if found is None:
        return problems.problem_response(problems.NOT_FOUND, "no such problem type")
    return jsonify(
        type=found.uri, status=found.status, title=found.title, description=found.description
    )


def _commit_unit_of_work(response: Response) -> Response:
    session = g.get("_creditreg_session")
    if session is None:
        return response
    if response.status_code >= 400:
        session.rollback()
        spend_nonce_of_failed_request()
        return response
    try:
        replayed = spend_nonce_at_commit(session)
        if replayed is not None:
            session.rollback()
            return replayed
        session.commit()
        g.pop("_creditreg_nonce", None)  # spent with the request's effects
        return response
    except IntegrityError:
        # Two requests raced for the same unique row; the loser changes nothing.
        session.rollback()
        spend_nonce_of_failed_request()
        log.warning("commit refused by a constraint (concurrent change)")
        return problems.problem_response(
            problems.CONCURRENT_CHANGE, problems.CONCURRENT_CHANGE.description
        )
    except OperationalError:
        session.rollback()
        spend_nonce_of_failed_request()
        log.warning("database unavailable at commit")
        return problems.problem_response(
            problems.SERVICE_UNAVAILABLE,
            "the database is unavailable; nothing was applied",
            headers={"Retry-After": "5"},
        )
    except SQLAlchemyError:
        session.rollback()
        spend_nonce_of_failed_request()
        log.exception("commit failed")
        return problems.problem_response(problems.INTERNAL, problems.INTERNAL.description)


def init_app(app: Flask) -> None:
    auth.init_app(app)
    problems.init_app(app)
    json_body.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(problems_bp)
    app.register_blueprint(submissions.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(subjects.bp)
    app.register_blueprint(screening.bp)
    app.register_blueprint(listings.bp)
    app.register_blueprint(ratings.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(seller_ratings_api.bp)
    app.register_blueprint(monitoring_api.bp)
    app.register_blueprint(objections_api.bp)
    app.register_blueprint(tlog.bp)
    app.register_blueprint(records.bp)
    app.after_request(_commit_unit_of_work)
