"""``/api/v1/listings``: regulators propose and follow blacklist and redlist entries;
members file objections and repair applications for a subject they represent.

Reviews are staff work (the console, and ``creditreg listings``); publication and expiry
are the worker's, and the proposer may publish at once an entry whose window has closed.
The prior notice reaches the member that is (or operates) the subject at ``/api/v1/notices``,
which serves it; the proposer records a notice served by another channel. Public feeds of
published entries are under ``/api/v1/public/lists``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api import problems
from api.auth import current_caller, signed
from api.csv_export import BOM_FIELD, csv_response
from api.schemas import StrictSchema, SubjectRefSchema
from registry import joint_measures, listings, objections, paging, repairs
from registry.audit import Actor, ActorKind
from registry.db import db, get_by_id
from registry.intake import resolve_subject
from registry.listings import ListEntry, ListingState, RepairApplication, Role
from registry.members import Member, MemberRole
from registry.notifications import listing_notice_text
from registry.records import CreditRecord
from registry.runtime import current_runtime
from registry.subjects import Subject, represents

bp = Blueprint("listings", __name__, url_prefix="/api/v1")

INVALID_TRANSITION = problems.register(
    "invalid-transition",
    409,
    "Not allowed in this state",
    "The entry's state does not allow this; `current_state` and `allowed_actions` say "
    "what it is and what may be done.",
)
problems.map_domain_error(listings.InvalidTransition, INVALID_TRANSITION)
problems.map_domain_error(
    listings.NoticeNotServed,
    problems.register(
        "notice-not-served",
        409,
        "Notice not served",
        "The entry's prior notice (告知) has not been served on the subject, so its objection "
        "window has not started and it cannot be published; `notice_issued_at` says when the "
        "notice was issued. It is served when the subject's member reads it at "
        "/api/v1/notices, or when a channel of service is recorded.",
    ),
)
problems.map_domain_error(
    listings.NoticeAlreadyServed,
    problems.register(
        "notice-already-served",
        409,
        "Notice already served",
        "The entry's notice was served before; `served_on` and `channel` say how.",
    ),
)
problems.map_domain_error(
    listings.ObjectionWindowOpen,
    problems.register(
        "objection-window-open",
        409,
        "Objection window open",
        "The subject may still object: the entry is published after `objection_deadline`.",
    ),
)
problems.map_domain_error(
    listings.ObjectionPending,
    problems.register(
        "objection-pending",
        409,
        "Objection pending",
        "An objection to the entry waits for a reviewer's answer (`objections`); "
        "publication is suspended until then.",
    ),
)


problems.map_domain_error(
    listings.ListConflict,
    problems.register(
        "list-conflict",
        409,
        "On a blacklist",
        "A subject on a blacklist of any kind (proposed, in review, in notice or published) "
        "cannot be put on the redlist; `conflicting_entry` names the entry in the way.",
    ),
)
problems.map_domain_error(
    listings.EntryNotInForce,
    problems.register(
        "entry-not-in-force",
        409,
        "Entry not in force",
        "Joint measures are applied, and reported, while the entry is published; "
        "`current_state` says what it is.",
    ),
)
problems.map_domain_error(
    listings.NotExtendable,
    problems.register(
        "list-not-extendable",
        409,
        "Not extendable",
        "Entries of this kind (`list`) are never extended (config/list_kinds.toml).",
    ),
)

# What a proposal may name: a kind, or an older name for one (``blacklist``).
LIST_CODES = [str(k) for k in listings.ListKind] + ["blacklist"]
CATALOGUE = joint_measures.CATALOGUE_NOTE
# Older clients sent the measures as free text: refused, naming where the codes are.
FREE_TEXT_REFUSED = f"a list of measure codes of {CATALOGUE}; free text is no longer taken"
TOO_FEW_OR_MANY_MEASURES = "name from {min} to {max} measure codes of " + CATALOGUE


class ProposalSchema(StrictSchema):
    subject = fields.Nested(SubjectRefSchema, required=True)
    list = fields.String(required=True, validate=validate.OneOf(LIST_CODES))
    authority = fields.String(required=True, validate=validate.Length(min=1, max=200))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    legal_basis = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    document_number = fields.String(required=True, validate=validate.Length(min=1, max=100))
    measures = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(min=1, max=50, error=TOO_FEW_OR_MANY_MEASURES),
        error_messages={"invalid": FREE_TEXT_REFUSED},
        metadata={"description": f"codes of {CATALOGUE}, each attached to the entry's list"},
    )
    # At most the kind's max_period_months (config/list_kinds.toml), checked by the registry.
    period_months = fields.Integer(strict=True, validate=validate.Range(min=1, max=1200))
    notice_to = fields.Email(
        metadata={
            "description": "an address the notice is copied to by e-mail; the copy does not "
            "serve it (the subject's member reads it at /api/v1/notices, or the service by "
            "another channel is recorded)"
        }
    )

    @validates_schema(skip_on_field_errors=False)
    def _measures_of_the_list(self, data: dict[str, Any], **_: Any) -> None:
        """The codes checked against the catalogue here too, so that a proposal with other
        field errors hears of its codes' at the same time (the registry checks them again)."""
        if "measures" not in data:
            return
        policy = _policy()
        kind = policy.list_kinds.resolve(data["list"]) if "list" in data else None
        errors = policy.measures.check(data["measures"], kind)
        if errors:
            raise ValidationError(errors)


class AppliedMeasureSchema(StrictSchema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "the measure's code; it must attach to the entry's list"},
    )
    applied_on = fields.Date(
        required=True,
        metadata={
            "description": "the day the member applied it: not before the entry's "
            "publication, not after today"
        },
    )
    reference = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "the member's own reference: a decision, a tender, a file"},
    )


class ServiceSchema(StrictSchema):
    channel = fields.String(
        required=True,
        validate=validate.OneOf([str(c) for c in listings.RECORDED_CHANNELS]),
        metadata={"description": "how the notice was served"},
    )
    served_on = fields.Date(
        required=True, metadata={"description": "the date of service (not in the future)"}
    )
    reference = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "tracking number, signed receipt, or where it was announced"},
    )


class ReasonSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class ExtensionSchema(ReasonSchema):
    # The upper bounds are the entry's kind's (config/list_kinds.toml), checked by the registry.
    months = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=1200))


class ObjectionSchema(StrictSchema):
    statement = fields.String(required=True, validate=validate.Length(min=1, max=8000))


class RepairSchema(StrictSchema):
    correction_evidence = fields.String(required=True, validate=validate.Length(min=1, max=8000))
    credit_commitment = fields.String(required=True, validate=validate.Length(min=1, max=8000))


class DecisionSchema(StrictSchema):
    grant = fields.Boolean(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=4000))


def _body(schema: Schema) -> dict[str, Any] | Response:
    return problems.load_or_problem(
        schema, request.get_json(silent=True) or {}, "{count} field error(s); nothing changed"
    )


def _member_actor() -> Actor:
    return Actor(ActorKind.MEMBER, str(current_caller().member_id))


def _policy() -> listings.ListPolicy:
    return listings.policy_from_settings(current_runtime().settings)


@bp.post("/listings")
@signed(MemberRole.REGULATOR)
def propose() -> ResponseReturnValue:
    """Propose a blacklist or redlist entry (regulators).

    ---
    post:
      operationId: proposeListing
      summary: Propose a blacklist or redlist entry (regulators)
      requestBody: Proposal
      responses:
        201:
          description: Done.
          content:
            application/json:
              schema: ListEntry
      problems: [401, 403, 404, 409, 422, 429]
    """
    body = _body(ProposalSchema())
    if isinstance(body, Response):
        return body
    runtime = current_runtime()
    caller = current_caller()
    now = runtime.clock.now()
    session = db.session
    subject_id = resolve_subject(
        session, body["subject"], vault=runtime.vault, member=caller.member, now=now
    )
    subject = session.get(Subject, subject_id)
    assert subject is not None
    entry = listings.propose_listing(
        session,
        actor=_member_actor(),
        proposer_member_id=caller.member_id,
        subject=subject,
        list_kind=body["list"],
        authority=body["authority"],
        reason=body["reason"],
        legal_basis=body["legal_basis"],
        document_number=body["document_number"],
        measures=body["measures"],
        period_months=body.get("period_months"),
        notice_to=body.get("notice_to"),
        policy=_policy(),
        at=now,
    )
    session.flush()
    response = jsonify(entry.summary(_policy().calendar))
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/listings/{entry.id}"
    return response


def _own_entry(entry_id: str) -> ListEntry:
    entry = listings.get_entry(db.session, entry_id)
    if entry.proposer_member_id != current_caller().member_id:
        raise listings.NotFound("no list entry with this id")  # never reveal others' entries
    return entry


@bp.get("/listings/<entry_id>")
@signed()
def get_listing(entry_id: str) -> ResponseReturnValue:
    """The proposing regulator's full view; the subject's own member (the company itself, a
    shop's operator) sees what its notice shows, with the objections filed and their
    answers, so it can follow a notice objection. Anyone else: 404.

    ---
    get:
      operationId: getListing
      summary: One of the regulator's own entries
      responses:
        200:
          description: The entry.
          content:
            application/json:
              schema: ListEntry
      problems: [401, 403, 404, 429]
    """
    entry = listings.get_entry(db.session, entry_id)
    caller = current_caller()
    if entry.proposer_member_id == caller.member_id and MemberRole.REGULATOR in caller.roles:
        return jsonify(entry.summary(_policy().calendar))
    if represents(caller.member, entry.subject):
        return jsonify(entry.pending_view(_policy().calendar))
    raise listings.NotFound("no list entry with this id")  # never reveal others' entries


@bp.post("/listings/<entry_id>/withdraw")
@signed(MemberRole.REGULATOR)
def withdraw(entry_id: str) -> ResponseReturnValue:
    """Withdraw a proposal.

    ---
    post:
      operationId: withdrawListing
      summary: Withdraw a proposal
      requestBody: Reason
      responses:
        200:
          description: Done.
          content:
            application/json:
              schema: ListEntry
      problems: [401, 403, 404, 409, 422, 429]
    """
    body = _body(ReasonSchema())
    if isinstance(body, Response):
        return body
    entry = listings.withdraw(
        db.session,
        _own_entry(entry_id),
        actor=_member_actor(),
        reason=body["reason"],
        at=current_runtime().clock.now(),
    )
    return jsonify(entry.summary(_policy().calendar))


@bp.post("/listings/<entry_id>/revoke")
@signed(MemberRole.REGULATOR)
def revoke(entry_id: str) -> ResponseReturnValue:
    """Take a published entry down.

    ---
    post:
      operationId: revokeListing
      summary: Take a published entry down
      requestBody: Reason
      responses:
        200:
          description: Done.
          content:
            application/json:
              schema: ListEntry
      problems: [401, 403, 404, 409, 422, 429]
    """
    body = _body(ReasonSchema())
    if isinstance(body, Response):
        return body
    entry = listings.revoke(
        db.session,
        _own_entry(entry_id),
        actor=_member_actor(),
        role=Role.PROPOSER,
        reason=body["reason"],
        at=current_runtime().clock.now(),
    )
    return jsonify(entry.summary(_policy().calendar))


@bp.post("/listings/<entry_id>/extend")
@signed(MemberRole.REGULATOR)
def extend(entry_id: str) -> ResponseReturnValue:
    """Extend a published entry's period (1 to 36 months).

    ---
    post:
      operationId: extendListing
      summary: Extend a published entry's period (1 to 36 months)
      requestBody: Extension
      responses:
        200:
          description: Done.
          content:
            application/json:
              schema: ListEntry
      problems: [401, 403, 404, 409, 422, 429]
    """
    body = _body(ExtensionSchema())
    if isinstance(body, Response):
        return body
    entry = listings.extend(
        db.session,
        _own_entry(entry_id),
        actor=_member_actor(),
        months=body["months"],
        reason=body["reason"],
        policy=_policy(),
        at=current_runtime().clock.now(),
    )
    return jsonify(entry.summary(_policy().calendar))


@bp.post("/listings/<entry_id>/service")
@signed(MemberRole.REGULATOR)
def record_service(entry_id: str) -> ResponseReturnValue:
    """The proposer records a notice it served itself (post, in person, announcement,
    confirmed e-mail), with the date of service: the objection window starts then.

    ---
    post:
      operationId: recordListingService
      summary: 'Record a notice the proposer served (post, in person, announcement, e-mail)
        with its date: the objection window starts then'
      requestBody: ServiceRecord
      responses:
        200:
          description: Done.
          content:
            application/json:
              schema: ListEntry
      problems: [401, 403, 404, 409, 422, 429]
    """
    body = _body(ServiceSchema())
    if isinstance(body, Response):
        return body
    entry = listings.record_service(
        db.session,
        _own_entry(entry_id),
        actor=_member_actor(),
        role=Role.PROPOSER,
        channel=body["channel"],
        served_on=body["served_on"],
        reference=body["reference"],
        policy=_policy(),
        at=current_runtime().clock.now(),
    )
    return jsonify(entry.summary(_policy().calendar))


@bp.post("/listings/<entry_id>/publish")
@signed(MemberRole.REGULATOR)
def publish(entry_id: str) -> ResponseReturnValue:
    """The proposer publishes at once an entry whose notice was served and whose objection
    window has closed with no objection waiting (the worker does it within a minute).

    ---
    post:
      operationId: publishListing
      summary: Publish at once an entry whose notice was served and whose objection window
        has closed with no objection waiting
      description: The worker publishes such entries within a minute anyway. Refused with
        `/problems/notice-not-served` while the notice was never served,
        `/problems/objection-window-open` until the day after `objection_deadline`,
        `/problems/objection-pending` while an objection waits for its answer.
      responses:
        200:
          description: The published entry.
          content:
            application/json:
              schema: ListEntry
      problems: [401, 403, 404, 409, 429]
    """
    entry = listings.publish(
        db.session,
        _own_entry(entry_id),
        actor=_member_actor(),
        role=Role.PROPOSER,
        at=current_runtime().clock.now(),
    )
    return jsonify(entry.summary(_policy().calendar))


# One rule for both methods: with two, a path whose id the converter refuses (a NUL) would
# be answered 405 by the rule of the other method instead of 404.
@bp.route("/listings/<entry_id>/measures", methods=["GET", "POST"])
@signed(MemberRole.REGULATOR)
def measures(entry_id: str) -> ResponseReturnValue:
    """The entry's measures and the reports of measures applied (all for its proposer, a regulator's
    own for another).

    ---
    get:
      operationId: listAppliedMeasures
      summary: The entry's measures and the reports of measures applied (all for its proposer,
        a regulator's own for another)
      responses:
        200:
          description: The measures and the reports.
          content:
            application/json:
              schema: MeasuresApplied
      problems: [401, 403, 404, 429]
    post:
      operationId: reportAppliedMeasure
      summary: A regulator reports that it applied a joint measure to the subject of a published
        entry (its own, or any on a public list)
      requestBody: AppliedMeasureReport
      responses:
        201:
          description: Done.
          content:
            application/json:
              schema: MeasureApplication
        200:
          description: 'Reported before: the first report.'
          content:
            application/json:
              schema: MeasureApplication
      description: 'Who is the signing member, when the day given (`applied_on`) and the time
        the report was received. The code must attach to the entry''s list and the day fall
        between the entry''s publication and today: a 422 with the field errors `code` and
        `applied_on`, every one at once, otherwise. An entry that is not published is a 409
        `/problems/entry-not-in-force`. The same report again (member, code, day, reference)
        answers 200 with the first one and records nothing.'
      problems: [401, 403, 404, 409, 422, 429]
    """
    if request.method == "GET":
        return _measures_applied(entry_id)
    return _report_measure(entry_id)


def _report_measure(entry_id: str) -> ResponseReturnValue:
    """The signing member reports that it applied one of the joint measures to the subject
    of a published entry (any regulator's: applying them is what joint means).

    Only members with the regulator role: the measures are applied by the state organs that
    implement joint sanctions and incentives (联合奖惩实施单位), which hold that role here; a
    lender's or a marketplace's own decisions about a listed subject are not reported."""
    body = _body(AppliedMeasureSchema())
    if isinstance(body, Response):
        return body
    caller = current_caller()
    application, new = listings.report_measure(
        db.session,
        listings.get_entry(db.session, entry_id),
        actor=_member_actor(),
        member=caller.member,
        code=body["code"],
        applied_on=body["applied_on"],
        reference=body.get("reference"),
        policy=_policy(),
        at=current_runtime().clock.now(),
    )
    db.session.flush()
    response = jsonify(application.view())
    response.status_code = 201 if new else 200
    return response


def _measures_applied(entry_id: str) -> ResponseReturnValue:
    """The entry's measures and the reports of measures applied: all of them for the
    entry's proposer, its own for another regulator (of an entry it could report on)."""
    entry = listings.get_entry(db.session, entry_id)
    member: Member = current_caller().member
    if not listings.known_to(entry, member.id, _policy()):
        raise listings.NotFound("no list entry with this id")  # never reveal others' entries
    return jsonify(
        {
            "entry_id": str(entry.id),
            "list": entry.list_kind,
            "state": entry.state,
            **entry.measures_view(),
            "applied": [
                a.view() for a in listings.applications_seen_by(db.session, entry, member.id)
            ],
        }
    )


@bp.get("/public/measures")
def measures_catalogue() -> ResponseReturnValue:
    """The catalogue of joint measures: what a proposal names and a report cites. No login:
    the measures are those of published State Council and ministry documents.

    ---
    get:
      operationId: measureCatalogue
      summary: 'The catalogue of joint measures (联合奖惩措施): the codes a proposal names and a
        report cites, with the lists each attaches to'
      responses:
        200:
          description: The catalogue.
          content:
            application/json:
              schema: MeasureCatalogue
    """
    return jsonify({"measures": _policy().measures.view()})


@bp.get("/notices")
@signed()
def notices() -> ResponseReturnValue:
    """The prior notices (告知) of list entries about the subject the calling member is, or
    the shops it operates, while they are in their notice stage. Reading them serves those
    not served yet: the objection window starts on the day of this delivery.

    ---
    get:
      operationId: listNotices
      summary: The prior notices (告知) of list entries about the calling member (or a shop
        it operates), while they are in their notice stage
      description: 'Reading them serves the notices not served yet on the member: the delivery
        time is recorded and the objection window runs from that day. The member''s own report
        and its subject view serve them the same way.'
      responses:
        200:
          description: The entries in their notice stage.
          content:
            application/json:
              schema: Notices
      problems: [401, 429]
    """
    caller = current_caller()
    runtime = current_runtime()
    policy = _policy()
    entries = listings.deliver_notices(
        db.session,
        caller.member,
        via=f"GET /api/v1/notices, key {caller.key_id}",
        policy=policy,
        at=runtime.clock.now(),
    )
    return jsonify({"notices": [notice_document(entry, policy) for entry in entries]})


def notice_document(entry: ListEntry, policy: listings.ListPolicy) -> dict[str, Any]:
    """An entry in its notice stage as its subject reads it, with the notice's own text."""
    title, text = listing_notice_text(entry, policy.objection_window_days)
    return {**entry.pending_view(policy.calendar), "title": title, "text": text}


@bp.post("/listings/<entry_id>/objections")
@signed()
def object_to(entry_id: str) -> ResponseReturnValue:
    """A member objects for the subject it represents (the subject's own channel comes with
    the subject pages).

    ---
    post:
      operationId: objectToListing
      summary: Object during the notice window (suspends publication)
      requestBody: Objection
      responses:
        201: Done
      problems: [401, 403, 404, 409, 422, 429]
    """
    body = _body(ObjectionSchema())
    if isinstance(body, Response):
        return body
    entry = listings.get_entry(db.session, entry_id)
    objection = listings.file_objection(
        db.session,
        entry,
        actor=_member_actor(),
        statement=body["statement"],
        at=current_runtime().clock.now(),
    )
    db.session.flush()
    response = jsonify(objection.view())
    response.status_code = 201
    return response


@bp.post("/listings/<entry_id>/repairs")
@signed()
def apply_for_repair(entry_id: str) -> ResponseReturnValue:
    """The listed subject's own member applies for credit repair, with evidence and a public
    commitment, once the entry's minimum period is over.

    ---
    post:
      operationId: applyForRepair
      summary: The listed subject's own member applies for credit repair, with evidence and
        a public commitment, once the entry's minimum period is over
      requestBody: RepairApplicationRequest
      responses:
        201: Done
      problems: [401, 403, 404, 409, 422, 429]
    """
    body = _body(RepairSchema())
    if isinstance(body, Response):
        return body
    application = listings.apply_for_repair(
        db.session,
        listings.get_entry(db.session, entry_id),
        actor=_member_actor(),
        member=current_caller().member,
        correction_evidence=body["correction_evidence"],
        credit_commitment=body["credit_commitment"],
        policy=_policy(),
        at=current_runtime().clock.now(),
    )
    db.session.flush()
    response = jsonify(application.view())
    response.status_code = 201
    return response


@bp.post("/records/<record_id>/repairs")
@signed()
def apply_for_penalty_repair(record_id: str) -> ResponseReturnValue:
    """The subject's member asks that a published administrative penalty stop being
    published, once its minimum period is over (registry.repairs).

    ---
    post:
      operationId: applyForPenaltyRepair
      summary: The subject's own member asks that a published administrative penalty stop
        being published, once its severity's minimum period is over (general 3 months, serious
        12, from the decision; settings); the authority that submitted it decides
      requestBody: RepairApplicationRequest
      responses:
        201: Done
      problems: [401, 403, 404, 409, 422, 429]
    """
    body = _body(RepairSchema())
    if isinstance(body, Response):
        return body
    runtime = current_runtime()
    application = repairs.apply_for_penalty_repair(
        db.session,
        get_by_id(db.session, CreditRecord, record_id, what="credit record"),
        actor=_member_actor(),
        member=current_caller().member,
        correction_evidence=body["correction_evidence"],
        credit_commitment=body["credit_commitment"],
        policy=_policy(),
        rule=repairs.rule_from_settings(runtime.settings),
        settings=runtime.settings,
        at=runtime.clock.now(),
    )
    db.session.flush()
    response = jsonify(application.view())
    response.status_code = 201
    return response


@bp.post("/repairs/<application_id>/decision")
@signed(MemberRole.REGULATOR)
def decide_repair(application_id: str) -> ResponseReturnValue:
    """The authority grants or refuses a repair, with a reason.

    ---
    post:
      operationId: decideRepair
      summary: The authority grants or refuses a repair, with a reason
      requestBody: RepairDecision
      responses:
        200: Done
      problems: [401, 403, 404, 409, 422, 429]
    """
    body = _body(DecisionSchema())
    if isinstance(body, Response):
        return body
    application = _application(application_id)
    listings.decide_repair(
        db.session,
        application,
        actor=_member_actor(),
        grant=body["grant"],
        reason=body["reason"],
        at=current_runtime().clock.now(),
    )
    return jsonify(application.view())


def _application(application_id: str) -> RepairApplication:
    import uuid

    try:
        found = db.session.get(RepairApplication, uuid.UUID(application_id))
    except ValueError:
        found = None
    if found is None:
        raise listings.NotFound("no repair application with this id")
    return found


# --- public lists -----------------------------------------------------------------------------


class PublicListSchema(StrictSchema):
    stores_text = False  # query parameters (see StrictSchema)

    authority = fields.String(validate=validate.Length(min=1, max=200))
    region = fields.String(validate=validate.Regexp(r"^\d{6}$"))
    since = fields.Date()
    after = fields.String(
        validate=validate.Length(min=1, max=paging.TOKEN_MAX),
        metadata={"description": "the `next_after` of the page before; absent: the first page"},
    )
    limit = fields.Integer(
        validate=validate.Range(min=1, max=500),
        metadata={"description": "entries per page (50 when absent)"},
    )
    # The numbered pages of earlier clients, still answered (an offset, so deep pages cost
    # more and may repeat or skip entries published meanwhile): `after` replaces them.
    page = fields.Integer(
        validate=validate.Range(min=1, max=100000),
        metadata={"description": "older: the page's number, counted from 1; use `after`"},
    )
    size = fields.Integer(
        validate=validate.Range(min=1, max=500),
        metadata={"description": "older name of `limit`"},
    )
    bom = BOM_FIELD  # the CSV starts with a byte-order mark (api.csv_export)

    @validates_schema(skip_on_field_errors=False)
    def _one_way_of_paging(self, data: dict[str, Any], **_: Any) -> None:
        if "after" in data and "page" in data:
            raise ValidationError("`after` or `page`, not both", "page")


PUBLIC_LIST_PARAMS = PublicListSchema()
PUBLIC_LIST_COLUMNS = [
    "id", "list", "subject_name", "uscc", "region", "authority", "reason", "legal_basis",
    "document_number", "measures", "measure_codes", "published_at", "until", "disputed",
    "subject_statement",
]  # fmt: skip
PUBLIC_LIST_LIMIT = 50
# Newest publication first; the id settles ties, so every entry has one place in the order.
PUBLISHED_ORDER = (paging.Key(ListEntry.published_at, descending=True), paging.Key(ListEntry.id))


def _page_size(params: dict[str, Any]) -> int:
    return int(params.get("limit") or params.get("size") or PUBLIC_LIST_LIMIT)


def _published(list_kind: str, params: dict[str, Any]) -> tuple[paging.Page, int]:
    """A page of a public list's published entries (one public kind's, or a side's:
    ``blacklist`` is every public kind of blacklist), and how many there are in all. A kind
    that is not public has none.

    :raises ValueError: ``after`` is not a page token of this list.
    """
    query = (
        sa.select(ListEntry)
        .join(Subject, Subject.id == ListEntry.subject_id)
        .where(
            ListEntry.list_kind.in_(_policy().list_kinds.public_kinds(list_kind)),
            ListEntry.state == ListingState.PUBLISHED,
        )
    )
    if "authority" in params:
        query = query.where(ListEntry.authority == params["authority"])
    if "region" in params:
        query = query.where(Subject.region_code == params["region"])
    if "since" in params:
        query = query.where(sa.func.date(ListEntry.published_at) >= params["since"])
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    limit = _page_size(params)
    if "page" in params:
        query = query.offset((params["page"] - 1) * limit)
    page = paging.keyset_page(
        db.session, query, PUBLISHED_ORDER, after=params.get("after"), size=limit
    )
    return page, int(total)


@bp.get("/public/lists/<list_kind>")
def public_list(list_kind: str) -> ResponseReturnValue:
    """Published entries, newest first, a page at a time; no login. The next page's address
    is also in a ``Link: <…>; rel="next"`` header, the only place a CSV reader finds it.

    ---
    get:
      operationId: publicList
      summary: Published entries of a side (`blacklist`, `redlist`) or of a public kind
        (`judgment_debtor`, …). A kind that is not public (config/list_kinds.toml) is a 404.
      parameters:
        - in: query
          schema: PublicListSchema
      responses:
        200:
          description: A page of entries.
          content:
            application/json:
              schema: PublicList
          headers:
            Link:
              description: The next page's address, `<…>; rel="next"`; absent on the last
                page.
              schema:
                type: string
      problems: [404, 422]
    """
    return _public_list(list_kind, "json")


@bp.get("/public/lists/<list_kind>.csv")
def public_list_csv(list_kind: str) -> ResponseReturnValue:
    """The same page as CSV, a row an entry.

    ---
    get:
      operationId: publicListCsv
      summary: The same page of entries as CSV, a row an entry
      description: 'Columns: `id`, `list`, `subject_name`, `uscc`, `region`, `authority`,
        `reason`, `legal_basis`, `document_number`, `measures`, `measure_codes`, `published_at`,
        `until`, `disputed`, `subject_statement`. `measures` holds the measures as worded,
        `measure_codes` their codes separated by spaces. The next page''s address is in the
        `Link` header only.'
      parameters:
        - in: query
          schema: PublicListSchema
      responses:
        200:
          description: The entries as CSV (UTF-8).
          headers:
            Link:
              description: The next page's address, `<…>; rel="next"`; absent on the last
                page.
              schema:
                type: string
          content:
            text/csv:
              schema:
                type: string
              example: >-
                id,list,subject_name,uscc,region,authority,reason,legal_basis,document_number,measures,measure_codes,published_at,until,disputed,subject_statement
      problems: [404, 422]
    """
    return _public_list(list_kind, "csv")


@bp.get("/public/lists/<list_kind>.atom")
def public_list_atom(list_kind: str) -> ResponseReturnValue:
    """The list's publications and removals as an Atom feed.

    ---
    get:
      operationId: publicListAtom
      summary: The list's publications and removals as an Atom feed (RFC 4287), newest first,
        the last 100, for feed readers
      responses:
        200:
          description: An Atom feed; each entry's id names the list entry and the event (`published`
            or `removed`).
          content:
            application/atom+xml:
              schema:
                type: string
              example: |-
                <?xml version="1.0" encoding="utf-8"?>
                <feed xmlns="http://www.w3.org/2005/Atom">
                <id>https://credit.example.gov.cn/api/v1/public/lists/blacklist.atom</id>
                <title>creditreg blacklist</title><updated>2026-03-02T09:00:00+00:00</updated>
                <entry><id>urn:creditreg:list-entry:0b9c…:published</id>
                <title>北京华信科技有限公司: published — 北京市市场监督管理局</title>
                <updated>2026-03-02T09:00:00+00:00</updated>
                <summary>…</summary></entry>
                </feed>
      problems: [404]
    """
    return _public_list(list_kind, "atom")


# The view of each rendering of a public list.
LIST_VIEWS = {"json": "listings.public_list", "csv": "listings.public_list_csv"}


def _public_list(list_kind: str, fmt: str) -> ResponseReturnValue:
    public_lists = _policy().list_kinds.public_lists()
    if list_kind not in public_lists:
        return problems.problem_response(
            problems.NOT_FOUND, f"the public lists are {', '.join(public_lists)}"
        )
    params = problems.load_or_problem(
        PUBLIC_LIST_PARAMS, request.args.to_dict(), "{count} parameter error(s)"
    )
    if isinstance(params, Response):
        return params
    if fmt == "atom":
        return _atom(list_kind)
    try:
        page, total = _published(list_kind, params)
    except ValueError:
        return problems.problem_response(
            problems.VALIDATION,
            "1 parameter error(s)",
            errors=[{"field": "after", "message": paging.BAD_AFTER}],
        )
    views = marked_views(page.items)
    if fmt == "csv":
        # A cell holds text: the measures as worded, and their codes beside them.
        rows = [
            {
                **view,
                "measures": view["measures_text"],
                "measure_codes": " ".join(m["code"] for m in view["measures"]),
            }
            for view in views
        ]
        response = csv_response(PUBLIC_LIST_COLUMNS, rows)
    else:
        document = {"list": list_kind, "total": total, "entries": views, "next_after": page.next}
        if "page" in params:
            document.update(page=params["page"], size=_page_size(params))
        response = jsonify(document)
    if page.next is not None:
        kept: dict[str, Any] = {k: v for k, v in request.args.items() if k not in ("after", "page")}
        link = url_for(LIST_VIEWS[fmt], list_kind=list_kind, **kept, after=page.next)
        response.headers["Link"] = f'<{link}>; rel="next"'
    return response


def marked_views(entries: list[ListEntry]) -> list[dict[str, Any]]:
    """The entries' public views, each with its objection mark (disputed, the subject's
    statement), as every public page and feed shows them."""
    marks = objections.public_marks(
        db.session, objections.ItemKind.LIST_ENTRY, [e.id for e in entries]
    )
    return [{**e.public_view(), **marks.get(str(e.id), objections.NO_MARK)} for e in entries]


def _atom_summary(entry: ListEntry, mark: dict[str, Any]) -> str:
    summary = f"{entry.reason} — {entry.legal_basis} ({entry.document_number})"
    if mark["disputed"]:
        summary += " — 异议处理中 / disputed"
    if mark["subject_statement"]:
        summary += f" — 主体陈述 / the subject's statement: {mark['subject_statement']}"
    return escape(summary)


def _atom(list_kind: str) -> Response:
    """Publications and removals of entries on the list, newest first (the last 100)."""
    entries = db.session.scalars(
        sa.select(ListEntry)
        .where(
            ListEntry.list_kind.in_(_policy().list_kinds.public_kinds(list_kind)),
            ListEntry.published_at.is_not(None),
        )
        .order_by(sa.func.coalesce(ListEntry.removed_at, ListEntry.published_at).desc())
        .limit(100)
    ).all()
    events: list[tuple[datetime, str, ListEntry]] = []
    for entry in entries:
        if entry.published_at is not None:
            events.append((entry.published_at, "published", entry))
        if entry.removed_at is not None:
            events.append((entry.removed_at, f"removed ({entry.removal_reason})", entry))
    events.sort(key=lambda item: item[0], reverse=True)
    marks = objections.public_marks(
        db.session, objections.ItemKind.LIST_ENTRY, [e.id for e in entries]
    )
    # The configured address, never the request's Host: the feed's id must not be whatever
    # a client claims the registry is called.
    self_url = current_runtime().settings.PUBLIC_BASE_URL + url_for(
        "listings.public_list_atom", list_kind=list_kind
    )
    updated = events[0][0].isoformat() if events else "1970-01-01T00:00:00+00:00"
    items = [
        "<entry>"
        f"<id>urn:creditreg:list-entry:{entry.id}:{what.split()[0]}</id>"
        f"<title>{escape(entry.subject.name)}: {escape(what)} — {escape(entry.authority)}</title>"
        f"<updated>{when.isoformat()}</updated>"
        f"<summary>{_atom_summary(entry, marks.get(str(entry.id), objections.NO_MARK))}"
        "</summary>"
        "</entry>"
        for when, what, entry in events[:100]
    ]
    feed = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>{escape(self_url)}</id><title>creditreg {list_kind}</title>"
        f"<updated>{updated}</updated>"
        f'<link rel="self" href="{escape(self_url)}"/>' + "".join(items) + "</feed>"
    )
    return Response(feed, mimetype="application/atom+xml")
