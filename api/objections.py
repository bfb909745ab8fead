"""``/api/v1/objections``: objections (异议) to credit records, list entries and ratings.

The subject objects through the member that represents it (:func:`api.ratings.represents`)
or, for a shop, its platform; any other member only to an item of a subject it has looked up
(the query log shows it), else 403 ``objection-not-allowed``. Only the subject's
representative attaches a statement. The member that submitted the item answers. Escalated
objections are decided by reviewers with ``creditreg objections``.

An objection is shown to the member that filed it, the member that must answer it, and the
subject's representative; to anyone else it does not exist (404).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import fields, validate

from api import problems
from api.auth import current_caller, signed
from api.schemas import StrictSchema
from registry import objections, paging
from registry.audit import Actor, ActorKind
from registry.db import db
from registry.errors import Forbidden, NotFound
from registry.listings import ListObjection
from registry.objections import Objection, ObjectionStatus, Outcome
from registry.runtime import current_runtime
from registry.subjects import Subject, represents

bp = Blueprint("objections", __name__, url_prefix="/api/v1")

ITEM_KINDS = ("record", "list_entry", "rating")

ALREADY_DISPUTED = problems.register(
    "already-disputed",
    409,
    "Already disputed",
    "The item already has an open objection, and is marked disputed; one objection per item "
    "at a time.",
)
OBJECTION_STATE = problems.register(
    "objection-state",
    409,
    "Not allowed in the objection's state",
    "The objection (or its item) is not in a state that allows this; `current_status` says "
    "which it is. An escalated objection is decided by a reviewer.",
)
NOT_CORRECTED = problems.register(
    "correction-missing",
    409,
    "No correction sent",
    "`corrected` needs a corrected version of the record sent after the objection was filed: "
    "send the correction (a submission upserting the record), then answer.",
)
OUTCOME_UNAVAILABLE = problems.register(
    "outcome-unavailable",
    409,
    "Outcome unavailable",
    "The outcome does not exist for this kind of item; `allowed_outcomes` lists those that do.",
)
OBJECTION_NOT_ALLOWED = problems.register(
    "objection-not-allowed",
    403,
    "Not a party to the subject",
    "An objection to a record or a published list entry is filed by the subject's side (the "
    "member that is the subject or operates the shop, or the shop's platform), or by a member "
    "that has looked the subject up, as the query log shows.",
)
problems.map_domain_error(objections.NoStandingToObject, OBJECTION_NOT_ALLOWED)
problems.map_domain_error(objections.AlreadyDisputed, ALREADY_DISPUTED)
problems.map_domain_error(objections.ObjectionStateError, OBJECTION_STATE)
problems.map_domain_error(objections.NotCorrected, NOT_CORRECTED)
problems.map_domain_error(objections.OutcomeUnavailable, OUTCOME_UNAVAILABLE)


class ObjectionRequestSchema(StrictSchema):
    item_kind = fields.String(
        required=True,
        validate=validate.OneOf(ITEM_KINDS),
        metadata={
            "description": "record, list_entry (in its notice window or published), or "
            "rating (the subject's appeal of its published rating)"
        },
    )
    item_id = fields.UUID(required=True, metadata={"description": "the registry's id of the item"})
    grounds = fields.String(
        required=True,
        validate=validate.Length(min=1, max=8000),
        metadata={"description": "why the item is wrong, with the facts that show it"},
    )
    statement = fields.String(
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "the subject's statement shown beside the item (subject only)"},
    )


class AnswerSchema(StrictSchema):
    outcome = fields.String(required=True, validate=validate.OneOf([str(o) for o in Outcome]))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class StatementSchema(StrictSchema):
    statement = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class InboxParamsSchema(StrictSchema):
    role = fields.String(
        load_default="answerer",
        validate=validate.OneOf(["answerer", "filer"]),
        metadata={"description": "objections the caller must answer, or those it filed"},
    )
    status = fields.String(validate=validate.OneOf([str(s) for s in ObjectionStatus]))
    after = fields.String(
        validate=validate.Length(min=1, max=paging.TOKEN_MAX),
        metadata={"description": "the `next_after` of the page before; absent: the first page"},
    )
    limit = fields.Integer(
        load_default=100,
        validate=validate.Range(min=1, max=500),
        metadata={"description": "objections per page"},
    )


# Answerers work oldest deadline first; filers read newest first. The id settles ties.
ANSWERER_ORDER = (paging.Key(Objection.due_at), paging.Key(Objection.id))
FILER_ORDER = (paging.Key(Objection.filed_at, descending=True), paging.Key(Objection.id))

OBJECTION_REQUEST = ObjectionRequestSchema()
ANSWER = AnswerSchema()
STATEMENT = StatementSchema()
INBOX_PARAMS = InboxParamsSchema()


def _body(schema: StrictSchema) -> dict[str, Any] | Response:
    return problems.load_or_problem(
        schema, request.get_json(silent=True) or {}, "{count} field error(s); nothing changed"
    )


def _speaks_for(subject: Subject) -> bool:
    return represents(current_caller().member, subject)


def _visible(objection_id: str) -> Objection:
    """The objection, if the caller is a party to it; otherwise it does not exist."""
    objection = objections.get_objection(db.session, objection_id)
    member_id = current_caller().member_id
    if member_id in (objection.filer_member_id, objection.answering_member_id):
        return objection
    subject = db.session.get(Subject, objection.subject_id)
    if subject is not None and _speaks_for(subject):
        return objection
    raise NotFound("no objection with this id")


@bp.post("/objections")
@signed()
def file_objection() -> ResponseReturnValue:
    """Object to a record, a list entry or a rating.

    ---
    post:
      operationId: fileObjection
      summary: Object to a record, a list entry or a rating
      requestBody: ObjectionRequest
      responses:
        201:
          description: Done.
          content:
            application/json:
              schema: ObjectionFiled
      description: The subject objects through the member that represents it (or, for a shop,
        its platform), and only its representative may attach a `statement`; another member
        objects only to an item of a subject it has looked up (the query log shows it), else
        403 objection-not-allowed. The item is disputed at once, and the submitting member
        must answer within OBJECTION_ANSWER_DAYS days.
      problems: [401, 403, 404, 409, 422, 429]
    """
    body = _body(OBJECTION_REQUEST)
    if isinstance(body, Response):
        return body
    runtime = current_runtime()
    filed = objections.object_to(
        db.session,
        member=current_caller().member,
        item_kind=body["item_kind"],
        item_id=str(body["item_id"]),
        grounds=body["grounds"],
        statement=body.get("statement"),
        speaks_for=_speaks_for,
        answer_days=objections.answer_days_from_settings(runtime.settings),
        at=runtime.clock.now(),
    )
    response = jsonify({"item_kind": body["item_kind"], **filed.view()})
    response.status_code = 201
    if filed.objection is not None:
        response.headers["Location"] = f"/api/v1/objections/{filed.objection.id}"
    return response


@bp.get("/objections")
@signed()
def inbox() -> ResponseReturnValue:
    """The caller's objections: to answer (oldest due first) or filed by it (newest first).

    ---
    get:
      operationId: listObjections
      summary: Objections the caller must answer, or filed
      parameters:
        - in: query
          schema: InboxParamsSchema
      responses:
        200:
          description: The objections.
          content:
            application/json:
              schema: ObjectionList
      problems: [401, 422, 429]
    """
    params = problems.load_or_problem(
        INBOX_PARAMS, request.args.to_dict(), "{count} parameter error(s)"
    )
    if isinstance(params, Response):
        return params
    member_id = current_caller().member_id
    query = sa.select(Objection)
    if params["role"] == "answerer":
        query, order = query.where(Objection.answering_member_id == member_id), ANSWERER_ORDER
    else:
        query, order = query.where(Objection.filer_member_id == member_id), FILER_ORDER
    if "status" in params:
        query = query.where(Objection.status == params["status"])
    try:
        page = paging.keyset_page(
            db.session, query, order, after=params.get("after"), size=params["limit"]
        )
    except ValueError:
        return problems.problem_response(
            problems.VALIDATION,
            "1 parameter error(s)",
            errors=[{"field": "after", "message": paging.BAD_AFTER}],
        )
    found = page.items
    answer: dict[str, Any] = {"objections": [o.view() for o in found], "next_after": page.next}
    if params["role"] == "filer" and "after" not in params:
        # Objections in a list entry's notice window are the list workflow's (they suspend
        # publication and a reviewer answers them): listed apart, with their entry, on the
        # first page only, the newest 500: they are filed only while an entry about the
        # member's own subject is in its notice window, so a member has few.
        notice_objections = db.session.scalars(
            sa.select(ListObjection)
            .where(ListObjection.filed_by == f"{ActorKind.MEMBER}:{member_id}")
            .order_by(ListObjection.filed_at.desc(), ListObjection.id)
            .limit(500)
        ).all()
        answer["notice_objections"] = [
            {**o.view(), "entry_id": str(o.entry_id), "entry_state": o.entry.state}
            for o in notice_objections
        ]
    return jsonify(answer)


@bp.get("/objections/<objection_id>")
@signed()
def get_objection(objection_id: str) -> ResponseReturnValue:
    """One objection.

    ---
    get:
      operationId: getObjection
      summary: One objection
      description: The filer, the answering member or the subject's representative; 404 to
        others.
      responses:
        200:
          description: The objection.
          content:
            application/json:
              schema: GeneralObjection
      problems: [401, 404, 429]
    """
    return jsonify(_visible(objection_id).view())


@bp.post("/objections/<objection_id>/answer")
@signed()
def answer(objection_id: str) -> ResponseReturnValue:
    """The submitting member answers: corrected, revoked, or upheld with a reason.

    ---
    post:
      operationId: answerObjection
      summary: 'The submitting member answers: corrected, revoked or upheld'
      requestBody: ObjectionAnswer
      responses:
        200:
          description: Done.
          content:
            application/json:
              schema: GeneralObjection
      description: '`corrected` needs a corrected version of the record sent since the objection;
        `revoked` revokes the record (or takes the list entry down); `upheld` keeps it, with
        the reason. A list entry is not corrected in place.'
      problems: [401, 403, 404, 409, 422, 429]
    """
    body = _body(ANSWER)
    if isinstance(body, Response):
        return body
    objection = _visible(objection_id)
    objections.answer(
        db.session,
        objection,
        member=current_caller().member,
        outcome=body["outcome"],
        reason=body["reason"],
        at=current_runtime().clock.now(),
    )
    return jsonify(objection.view())


@bp.post("/objections/<objection_id>/statement")
@signed()
def statement(objection_id: str) -> ResponseReturnValue:
    """The subject's statement, added or replaced, shown beside the item.

    ---
    post:
      operationId: objectionStatement
      summary: The subject adds or replaces its statement, shown beside the item
      requestBody: ObjectionStatement
      responses:
        200:
          description: Done.
          content:
            application/json:
              schema: GeneralObjection
      problems: [401, 403, 404, 409, 422, 429]
    """
    body = _body(STATEMENT)
    if isinstance(body, Response):
        return body
    objection = _visible(objection_id)
    subject = db.session.get(Subject, objection.subject_id)
    if subject is None or not _speaks_for(subject):
        raise Forbidden("only the subject, through the member that represents it, adds a statement")
    objections.attach_statement(
        db.session,
        objection,
        actor=Actor(ActorKind.MEMBER, str(current_caller().member_id)),
        statement=body["statement"],
        at=current_runtime().clock.now(),
    )
    return jsonify(objection.view())
