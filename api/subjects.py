"""``/api/v1/subjects``: counterparty lookup for members.

A search goes to the search backend (a projection, possibly a moment behind); a subject by
id always comes from the database. Both state a purpose and are written to the query log.
A person is found only by ID number (sent in the request, matched by its keyed hash), never
by name, and the answer never carries the number.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api import problems
from api.auth import current_caller, signed
from api.schemas import StrictSchema
from registry import listings
from registry.clock import iso, local_date
from registry.db import db
from registry.identifiers import IdentifierError, validate_id_number
from registry.list_kinds import LIST_NAMES, list_names
from registry.members import MemberRole
from registry.querylog import QueryKind, QueryPurpose, log_query
from registry.reports import check_consent, check_consent_for_number
from registry.runtime import current_runtime
from registry.subjects import Subject, SubjectKind, represents
from search.documents import empty_counts, record_counts
from search.query import SearchQuery, decode_after, encode_after
from search.screening import explain_name

bp = Blueprint("subjects", __name__, url_prefix="/api/v1")

# What a hit shows: the document without the matching machinery.
HIT_FIELDS = (
    "id",
    "kind",
    "name",
    "names",
    "uscc",
    "shop_id",
    "platform_id",
    "region",
    "industry",
    "lists",
    "list_entries",
    "grade",
    "record_counts",
    "disputed",
)


class PurposeSchema(StrictSchema):
    stores_text = False

    purpose = fields.String(
        required=True,
        validate=validate.OneOf([str(p) for p in QueryPurpose]),
        metadata={"description": "why the member looks: recorded in the query log"},
    )


CONSENT_FIELD = fields.String(
    validate=validate.Length(min=1, max=64),
    metadata={
        "description": "a person is looked up only against a consent the member recorded "
        "(POST /api/v1/consents), valid today and for the purpose stated: its id"
    },
)


class SubjectParamsSchema(PurposeSchema):
    consent = CONSENT_FIELD


class SearchParamsSchema(PurposeSchema):
    consent = CONSENT_FIELD
    q = fields.String(validate=validate.Length(min=1, max=200))
    kind = fields.String(validate=validate.OneOf([str(k) for k in SubjectKind]))
    region = fields.String(validate=validate.Regexp(r"^\d{6}$", error="a six-digit GB/T 2260 code"))
    industry = fields.String(validate=validate.Length(min=1, max=8))
    list = fields.String(validate=validate.OneOf(LIST_NAMES))
    grade = fields.String(validate=validate.Length(min=1, max=8))
    id_number = fields.String(validate=validate.Length(min=1, max=40))
    limit = fields.Integer(
        validate=validate.Range(min=1, max=100),
        metadata={"description": "hits per page (20 when absent)"},
    )
    size = fields.Integer(
        validate=validate.Range(min=1, max=100), metadata={"description": "older name of `limit`"}
    )
    after = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "the `next_after` of the page before; absent: the first page"},
    )
    explain = fields.String(
        validate=validate.OneOf(["true", "false"]),
        metadata={
            "description": "`true`: each hit of a name searched says how its name compares, "
            "part by part (`name_parts`); off by default, it costs a lookup about a "
            "millisecond"
        },
    )

    @validates_schema(skip_on_field_errors=False)
    def _persons_by_number_only(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("kind") == SubjectKind.PERSON and not data.get("id_number"):
            raise ValidationError("a person is looked up by ID number only", "id_number")
        if data.get("id_number") and data.get("kind") not in (None, SubjectKind.PERSON):
            raise ValidationError("an ID number looks up a person", "kind")


# Schemas hold no per-request state; building one costs more than loading the parameters.
SEARCH_PARAMS = SearchParamsSchema()
SUBJECT_PARAMS = SubjectParamsSchema()


def _load(schema: Schema) -> dict[str, Any] | Response:
    return problems.load_or_problem(schema, request.args.to_dict(), "{count} parameter error(s)")


@bp.get("/subjects")
@signed(MemberRole.QUERIER)
def search_subjects() -> ResponseReturnValue:
    """Find counterparties by name, code, pinyin, with filters and facets.

    ---
    get:
      operationId: searchSubjects
      summary: Find counterparties by name, code, pinyin, with filters and facets
      description: Enterprises and shops by name (Chinese, Traditional or Simplified, pinyin
        or initials, any legal form), USCC or shop id; a person only by `id_number`. Written
        to the query log with the stated purpose.
      parameters:
        - in: query
          schema: SearchParamsSchema
      responses:
        200:
          description: The hits, facet counts and next-page token.
          content:
            application/json:
              schema: SearchResult
      problems: [401, 403, 422, 429, 503]
    """
    params = _load(SEARCH_PARAMS)
    if not isinstance(params, dict):
        return params
    runtime = current_runtime()
    errors: list[dict[str, str]] = []
    after = None
    if "after" in params:
        try:
            after = decode_after(params["after"])
        except ValueError:
            errors.append({"field": "after", "message": "not a page token of this registry"})
    id_hash = None
    if "id_number" in params:
        try:
            number = validate_id_number(params["id_number"], today=local_date(runtime.clock.now()))
            id_hash = runtime.vault.keyed_hash(number.number)
        except IdentifierError as exc:
            errors.append({"field": "id_number", "message": str(exc)})
    if errors:
        return problems.problem_response(
            problems.VALIDATION, f"{len(errors)} parameter error(s)", errors=errors
        )
    if id_hash:
        # A person: only with the person's consent, named and matching the number searched
        # (so the search cannot tell whether an unknown number is registered).
        check_consent_for_number(
            db.session,
            member=current_caller().member,
            id_number_hash=id_hash,
            consent_id=params.get("consent"),
            purpose=params["purpose"],
            at=runtime.clock.now(),
        )
    kinds = (
        (SubjectKind.PERSON,)
        if id_hash
        else ((params["kind"],) if "kind" in params else (SubjectKind.ENTERPRISE, SubjectKind.SHOP))
    )
    query = SearchQuery(
        text=params.get("q"),
        kinds=tuple(str(k) for k in kinds),
        region=params.get("region"),
        industry=params.get("industry"),
        list_kind=params.get("list"),
        grade=params.get("grade"),
        id_number_hash=id_hash,
        size=params.get("limit") or params.get("size") or 20,
        after=after,
    )
    backend = current_app.extensions["creditreg.search"]
    try:
        result = backend.search(query, session=db.session)
    except Exception:  # noqa: BLE001 - any backend failure is an outage for the caller
        return problems.search_unavailable(db.session)
    caller = current_caller()
    logged = {k: v for k, v in params.items() if k not in ("purpose", "id_number")}
    if id_hash:
        logged["id_number_hash"] = id_hash
    log_query(
        db.session,
        member_id=caller.member_id,
        key_id=caller.key_id,
        at=runtime.clock.now(),
        kind=QueryKind.SEARCH,
        purpose=params["purpose"],
        query=logged,
        results=result.total,
        subject_ids=[hit.id for hit in result.hits],
    )
    # A name searched, and the explanation asked for: each hit says how its name compares,
    # part by part (a code or an ID number searched has no name to compare). Asked for, as
    # it costs a lookup about a millisecond (bench/RESULTS.md).
    by_name = query.text if query.tokens and params.get("explain") == "true" else None
    return jsonify(
        {
            "hits": [
                {
                    **{name: hit.document.get(name) for name in HIT_FIELDS},
                    "score": hit.score,
                    "highlights": hit.highlights,
                    **(
                        {"name_parts": explain_name(by_name, hit.document.get("names") or [])}
                        if by_name and hit.document.get("names")
                        else {}
                    ),
                }
                for hit in result.hits
            ],
            "total": result.total,
            "facets": result.facets,
            # `next` is the name earlier clients read; `next_after` the API's everywhere.
            "next_after": encode_after(result.next_after),
            "next": encode_after(result.next_after),
        }
    )


@bp.get("/subjects/<subject_id>")
@signed(MemberRole.QUERIER)
def get_subject(subject_id: str) -> ResponseReturnValue:
    """The subject as the database has it now.

    ---
    get:
      operationId: getSubject
      summary: A subject from the database
      parameters:
        - in: query
          schema: SubjectParamsSchema
      responses:
        200:
          description: The subject.
          content:
            application/json:
              schema: Subject
      problems: [401, 403, 404, 422, 429, 503]
    """
    params = _load(SUBJECT_PARAMS)
    if not isinstance(params, dict):
        return params
    session = db.session
    try:
        subject = session.get(Subject, uuid.UUID(subject_id))
    except ValueError:
        subject = None
    if subject is None:
        return problems.problem_response(problems.NOT_FOUND, "no subject with this id")
    caller = current_caller()
    if subject.kind == SubjectKind.PERSON:
        check_consent(
            session,
            member=caller.member,
            subject=subject,
            consent_id=params.get("consent"),
            purpose=params["purpose"],
            at=current_runtime().clock.now(),
        )
    log_query(
        session,
        member_id=caller.member_id,
        key_id=caller.key_id,
        at=current_runtime().clock.now(),
        kind=QueryKind.SUBJECT,
        purpose=params["purpose"],
        query={"subject_id": str(subject.id)},
        results=1,
        subject_ids=[str(subject.id)],
    )
    view = subject_view(session, subject)
    if represents(caller.member, subject):
        # The subject itself (or the operator of the shop) also sees its entries in their
        # notice stage and how to object; handing them over serves their notices.
        policy = listings.policy_from_settings(current_runtime().settings)
        view["pending_list_entries"] = [
            entry.pending_view(policy.calendar)
            for entry in listings.deliver_notices(
                session,
                caller.member,
                via=f"GET /api/v1/subjects/{subject.id}, key {caller.key_id}",
                policy=policy,
                at=current_runtime().clock.now(),
                subject_ids=[subject.id],
            )
        ]
    return jsonify(view)


def subject_view(session: sa.orm.Session, subject: Subject) -> dict[str, Any]:
    from registry.listings import published_entries_of
    from registry.objections import shown_with_subject
    from registry.ratings import history
    from registry.retention import penalty_publication

    entries = published_entries_of(session, [subject.id]).get(subject.id, [])
    ratings = history(session, subject.id)
    current = ratings[0] if ratings and ratings[0].status == "published" else None
    counts = record_counts(session, [subject.id]).get(subject.id) or empty_counts()
    objections = shown_with_subject(session, subject.id)
    disputed_ids = {str(o.item_id) for o in objections if o.disputing}
    return {
        "id": str(subject.id),
        "kind": subject.kind,
        "name": subject.name,
        "names": [
            {
                "name": row.name,
                "valid_from": iso(row.valid_from),
                "valid_until": iso(row.valid_until),
            }
            for row in subject.names
        ],
        "uscc": subject.uscc,
        "uscc_warnings": subject.uscc_warnings.split(",") if subject.uscc_warnings else [],
        "id_number_masked": subject.id_number_masked,
        "shop_id": subject.shop_id,
        "platform_id": str(subject.platform_member_id) if subject.platform_member_id else None,
        "operator_uscc": subject.operator_uscc,
        "region": subject.region_code,
        "industry": subject.industry_code,
        "lists": list_names(entry.list_kind for entry in entries),
        "list_entries": [
            {**entry.public_view(), "disputed": str(entry.id) in disputed_ids} for entry in entries
        ],
        "grade": current.final_grade if current else None,
        # The published rating with every point of its score explained, and the ratings it
        # replaced (grades and dates only).
        "rating": current.summary() if current else None,
        "rating_history": [r.summary(explanation=False) for r in ratings[1:]],
        "record_counts": counts,
        # Penalties past their publication period still count above until their retention
        # ends; this says how many the public no longer sees (registry.retention).
        "penalty_publication": penalty_publication(session, subject.id),
        # Items under an open objection (异议), with the subject's statement beside each; and
        # the statements that stay beside items whose objection was answered "upheld".
        "disputed": [_objection_item(o) for o in objections if o.disputing],
        "statements": [_objection_item(o) for o in objections if not o.disputing],
        "revision": subject.revision,
        "updated_at": iso(subject.updated_at),
    }


def _objection_item(objection: Any) -> dict[str, Any]:
    return {
        "item_kind": objection.item_kind,
        "item_id": str(objection.item_id),
        "since": iso(objection.filed_at),
        "status": objection.status,
        "statement": objection.statement,
    }
