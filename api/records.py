"""``/api/v1/records``: a submitter's open records to confirm (registry.open_records), and
its negative records on persons held until the person is told (registry.person_notices).

A negative record of an open-ended category (a loan default, tax arrears...) without an end
stays in the registry until its submitter sends the end. Once it has been open
``OPEN_RECORD_CONFIRM_DAYS`` since it began, or since the submitter last confirmed it, it is
listed here for the submitter to confirm, and the submitter either sends the end (a
correction setting ``ended_at``) or confirms that it still goes on.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import fields, validate

from api import problems
from api.auth import current_caller, signed
from api.params import integer_arg
from api.schemas import NUL_REFUSED, StrictSchema, has_nul, refuse_nul
from registry import open_records, person_notices
from registry.audit import Actor, ActorKind
from registry.clock import local_date
from registry.db import db
from registry.members import MemberRole
from registry.retention import policy_from_settings
from registry.runtime import current_runtime

bp = Blueprint("records", __name__, url_prefix="/api/v1/records")

PAGE_DEFAULT = 100
PAGE_MAX = 1000


class ConfirmationSchema(StrictSchema):
    record_ids = fields.List(
        # The items' own checks: the schema adds the NUL check to its direct fields only.
        fields.String(validate=[validate.Length(min=1, max=128), refuse_nul]),
        required=True,
        validate=validate.Length(min=1, max=open_records.CONFIRM_MAX),
        metadata={
            "description": "the member's own ids of records whose event still goes on (no "
            "end yet); all are confirmed or none"
        },
    )


CONFIRMATION = ConfirmationSchema()


@bp.get("/confirmations/due")
@signed(MemberRole.SUBMITTER)
def confirmations_due() -> ResponseReturnValue:
    """The caller's open records due for confirmation, by record id (keyset pages).

    ---
    get:
      operationId: openRecordsDue
      summary: The member's open records due for confirmation
      description: Records due for confirmation (how an open record is kept, confirmed and
        ended is said in `OpenRecord`). Submitters only; in the order of the member's record
        ids, a page at a time.
      parameters:
        - RecordPageLimit
        - RecordPageAfter
      responses:
        200:
          description: The records, by record id.
          content:
            application/json:
              schema: OpenRecordsDue
      problems: [401, 403, 422, 429]
    """
    errors: list[dict[str, str]] = []
    limit = integer_arg("limit", errors, default=PAGE_DEFAULT, minimum=1, maximum=PAGE_MAX)
    after = _after_record_id(errors)
    if errors:
        return problems.problem_response(problems.VALIDATION, "bad query", errors=errors)
    runtime = current_runtime()
    policy = policy_from_settings(runtime.settings)
    records = open_records.due_records(
        db.session,
        current_caller().member_id,
        today=local_date(runtime.clock.now()),
        policy=policy,
        after=after,
        limit=limit,
    )
    items = [open_records.view(record, policy) for record in records]
    return jsonify(
        records=items,
        next_after=items[-1]["record_id"] if len(items) == limit else None,
        confirm_days=policy.open_confirm_days,
    )


def _after_record_id(errors: list[dict[str, str]]) -> str | None:
    """The ``after`` parameter of a page of records: a member's own record id."""
    after = request.args.get("after")
    if after is not None and not 1 <= len(after) <= 128:
        errors.append({"field": "after", "message": "a record id of 1 to 128 characters"})
    elif has_nul(after):
        errors.append({"field": "after", "message": NUL_REFUSED})
    return after


@bp.post("/confirmations")
@signed(MemberRole.SUBMITTER)
def confirm() -> ResponseReturnValue:
    """The caller confirms that these records of its own are still open.

    ---
    post:
      operationId: confirmOpenRecords
      summary: Confirm that records of the member's are still open
      description: 'Each confirmation is recorded with its time (`confirmed_at`) and audited,
        and starts OPEN_RECORD_CONFIRM_DAYS again; a record may be confirmed before it is
        due. All or nothing: the 422 lists every id that names no open record of the member
        (`record_ids.<index>`: unknown or another member''s, revoked, ended, or of a category
        not kept open). To end a record instead, send it corrected with its `ended_at`.'
      requestBody: OpenRecordConfirmation
      responses:
        200:
          description: Confirmed; when each falls due next.
          content:
            application/json:
              schema: OpenRecordsConfirmed
      problems: [401, 403, 422, 429]
    """
    document = request.get_json(silent=True)
    if not isinstance(document, dict):
        return problems.problem_response(
            problems.MALFORMED_BODY, 'the body is a JSON object: {"record_ids": ["...", ...]}'
        )
    body = problems.load_or_problem(
        CONFIRMATION, document, "{count} field error(s); nothing changed"
    )
    if isinstance(body, Response):
        return body
    runtime = current_runtime()
    caller = current_caller()
    policy = policy_from_settings(runtime.settings)
    confirmed = open_records.confirm_open(
        db.session,
        actor=Actor(ActorKind.MEMBER, str(caller.member_id)),
        member=caller.member,
        record_ids=body["record_ids"],
        at=runtime.clock.now(),
        policy=policy,
    )
    return jsonify(records=[open_records.view(record, policy) for record in confirmed])


class PersonNoticeItemSchema(StrictSchema):
    record_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"description": "the member's own id of a record held until the person is told"},
    )
    told_on = fields.Date(required=True, metadata={"description": "the day the person was told"})
    channel = fields.String(
        required=True,
        validate=validate.OneOf([str(c) for c in person_notices.Channel]),
        metadata={"description": "how the person was told"},
    )


class PersonNoticesSchema(StrictSchema):
    notices = fields.List(
        fields.Nested(PersonNoticeItemSchema),
        required=True,
        validate=validate.Length(min=1, max=person_notices.CONFIRM_MAX),
        metadata={"description": "all are recorded or none"},
    )


PERSON_NOTICES = PersonNoticesSchema()


@bp.get("/person-notices/held")
@signed(MemberRole.SUBMITTER)
def person_notices_held() -> ResponseReturnValue:
    """The caller's negative records on persons held until the person is told, by record id
    (keyset pages).

    ---
    get:
      operationId: heldRecords
      summary: The member's records held until the person is told
      description: Records held until the person is told (see `HeldRecord`). Submitters
        only; in the order of the member's record ids, a page at a time.
      parameters:
        - RecordPageLimit
        - RecordPageAfter
      responses:
        200:
          description: The held records, by record id.
          content:
            application/json:
              schema: HeldRecords
      problems: [401, 403, 422, 429]
    """
    errors: list[dict[str, str]] = []
    limit = integer_arg("limit", errors, default=PAGE_DEFAULT, minimum=1, maximum=PAGE_MAX)
    after = _after_record_id(errors)
    if errors:
        return problems.problem_response(problems.VALIDATION, "bad query", errors=errors)
    policy = person_notices.policy_from_settings(current_runtime().settings)
    records = person_notices.held_records(
        db.session, current_caller().member_id, after=after, limit=limit
    )
    items = [person_notices.view(record, policy) for record in records]
    return jsonify(
        records=items,
        next_after=items[-1]["record_id"] if len(items) == limit else None,
        wait_days=policy.wait_days,
    )


@bp.post("/person-notices")
@signed(MemberRole.SUBMITTER)
def confirm_person_notices() -> ResponseReturnValue:
    """The caller says each person was told of its held record: the records are shared.

    ---
    post:
      operationId: recordPersonNotices
      summary: Say that persons were told of records held until they are
      description: 'Records held until the person is told (see `HeldRecord`). Each hold
        ends at once: the record is shared, the notice (day, channel) is
        kept with it and audited. All or nothing: the 422 lists every notice that names no
        held record of the member (`notices.<index>.record_id`) or is dated after today
        (`notices.<index>.told_on`).'
      requestBody: PersonNotices
      responses:
        200:
          description: Recorded; the records are shared.
          content:
            application/json:
              schema: PersonNoticesRecorded
      problems: [401, 403, 422, 429]
    """
    document = request.get_json(silent=True)
    if not isinstance(document, dict):
        return problems.problem_response(
            problems.MALFORMED_BODY,
            'the body is a JSON object: {"notices": [{"record_id": "...", "told_on": '
            '"YYYY-MM-DD", "channel": "letter"}, ...]}',
        )
    body = problems.load_or_problem(
        PERSON_NOTICES, document, "{count} field error(s); nothing changed"
    )
    if isinstance(body, Response):
        return body
    runtime = current_runtime()
    caller = current_caller()
    confirmed = person_notices.confirm_told(
        db.session,
        actor=Actor(ActorKind.MEMBER, str(caller.member_id)),
        member=caller.member,
        notices=body["notices"],
        at=runtime.clock.now(),
    )
    policy = person_notices.policy_from_settings(runtime.settings)
    return jsonify(records=[person_notices.view(record, policy) for record in confirmed])
