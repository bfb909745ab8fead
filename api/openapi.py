"""The OpenAPI 3.1 description of the API, built from the code it describes.

Request schemas come from the marshmallow schemas that validate requests, problem types from
the problem catalogue, so the document cannot drift from what the registry enforces. A test
checks that every route of the app is described and that real responses match.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
from contextvars import ContextVar
from importlib.resources import files
from pathlib import Path
from typing import Any

from apispec import APISpec, yaml_utils
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    json,
    render_template,
    request,
)
from flask.typing import ResponseReturnValue
from marshmallow import Schema
from werkzeug.routing import Rule

from api import monitoring_openapi, permissions, problems, records_openapi, tlog_openapi
from api.auth import ACCEPT_SIGNATURE
from api.listings import (
    AppliedMeasureSchema,
    DecisionSchema,
    ExtensionSchema,
    ObjectionSchema,
    ProposalSchema,
    ReasonSchema,
    RepairSchema,
    ServiceSchema,
)
from api.objections import (
    AnswerSchema,
    ObjectionRequestSchema,
    StatementSchema,
)
from api.ratings import AppealSchema
from api.reports import ConsentSchema
from api.schemas import (
    CATEGORY_SCHEMAS,
    AmountSchema,
    PersonNoticeSchema,
    RecordSchema,
    RevokeSchema,
    SubjectRefSchema,
    SubmissionSchema,
)
from api.seller_ratings import ScoresSchema, SellerRatingBatchSchema, SellerRatingSchema
from registry.intake import RECEIPT_TYPE
from registry.list_kinds import LIST_NAMES, ListKind
from registry.listings import ListingState, NoticeChannel
from registry.querylog import QueryPurpose
from registry.seller_ratings import RECEIPT_TYPE as SELLER_RATING_RECEIPT_TYPE

bp = Blueprint("openapi", __name__, template_folder="templates")

# /api/docs renders the document with Swagger UI, from the copy the flask-swagger-ui package
# installs (no CDN: the pages' Content-Security-Policy allows the registry's own scripts
# only); its start-up script is a file of the registry's, since no inline script may run.
SWAGGER_UI = Path(str(files("flask_swagger_ui") / "dist"))
RENDERER_ASSETS = {
    "swagger-ui-bundle.js": (SWAGGER_UI, "text/javascript"),
    "swagger-ui.css": (SWAGGER_UI, "text/css"),
    "favicon-32x32.png": (SWAGGER_UI, "image/png"),
    "api_docs.js": (Path(__file__).parent / "static", "text/javascript"),
}
RENDERER_ASSET_MAX_AGE = 3600

JSON = "application/json"


def _nullable_strings(*names: str) -> dict[str, Any]:
    return {name: {"type": ["string", "null"]} for name in names}


# What a search hit and a subject by id both show.
SUBJECT_LOOKUP_FIELDS: dict[str, Any] = {
    **_nullable_strings("uscc", "shop_id", "platform_id", "region", "industry", "grade"),
    "lists": {"type": "array", "items": {"type": "string"}},
    "list_entries": {"type": "array", "items": {"type": "object"}},
    "record_counts": {"$ref": "#/components/schemas/RecordCounts"},
}

PROBLEM = problems.PROBLEM_MEDIA_TYPE
# The one paging convention of the API (README, "Paging"): a page ends with the token of the
# page after it, sent back as `after`.
NEXT_AFTER: dict[str, Any] = {
    "type": ["string", "null"],
    "description": "an opaque token: send it as `after` for the next page; null on the last",
}


# --- marshmallow to JSON Schema (2020-12, as OpenAPI 3.1 uses), by apispec's plugin ----------

# The plugin of the document being built: a request schema is converted by the plugin of
# the spec it goes in, which registers the schemas it nests and refers to them by name.
_PLUGIN: ContextVar[MarshmallowPlugin] = ContextVar("openapi_marshmallow_plugin")


def _schema_name(schema: type[Schema] | Schema) -> str:
    schema_class = schema if isinstance(schema, type) else type(schema)
    return schema_class.__name__.removesuffix("Schema")


def _object_schema(schema: Schema, description: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = _PLUGIN.get().converter.schema2jsonschema(schema)  # type: ignore[union-attr]
    document["type"] = "object"
    if isinstance(schema, RecordSchema):
        # The category rules the schema checks in code, stated for readers and generators.
        document["properties"]["polarity"] = {"type": "string", "enum": list(schema.polarities)}
        required = document.setdefault("required", [])
        required += [name for name in schema.required_fields if name not in required]
        if schema.severity_required and "severity" not in required:
            required.append("severity")
    doc = description or (type(schema).__doc__ or "").strip()
    if doc:
        document["description"] = " ".join(doc.split())
    return document


def _record_schemas() -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    for category, schema in CATEGORY_SCHEMAS.items():
        document = _object_schema(schema, f"An upsert of a {category} record.")
        document["properties"]["category"] = {"const": str(category)}
        schemas[f"{_schema_name(type(schema))}Record"] = document
    schemas["RevokeRecord"] = _object_schema(RevokeSchema(), "Revokes one of the member's records.")
    return schemas


# --- the document ---------------------------------------------------------------------------


# What a refused request looks like: every field error at once, each with its dotted path.
FIELD_ERRORS_EXAMPLE = {
    "type": problems.VALIDATION.uri,
    "title": problems.VALIDATION.title,
    "status": 422,
    "detail": "2 field error(s)",
    "errors": [
        {"field": "records.0.amount.value", "message": "Not a valid decimal."},
        {"field": "records.1.decided_at", "message": "Missing data for required field."},
    ],
}


def _problem_responses(*statuses: int) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for problem_type in problems.PROBLEM_TYPES.values():
        by_status.setdefault(problem_type.status, []).append(problem_type.uri)
    responses: dict[str, Any] = {}
    for status in statuses:
        kinds = ", ".join(f"`{uri}`" for uri in sorted(by_status.get(status, [])))
        response: dict[str, Any] = {
            "description": f"Problem types: {kinds}." if kinds else "A problem.",
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if status == 401:
            response["headers"] = {
                "Accept-Signature": {
                    "description": "How to sign (RFC 9421 section 5.1).",
                    "schema": {"type": "string"},
                }
            }
        if status in (429, 503):
            response["headers"] = {
                "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}
            }
        if status == 422:
            response["content"][PROBLEM]["example"] = FIELD_ERRORS_EXAMPLE
        responses[str(status)] = response
    return responses


SIGNATURE_SCHEME = f"""Every member request is signed with HTTP Message Signatures (RFC 9421)
using a key registered for the member (`ed25519`, or `ecdsa-p256-sha256`). The signature must
cover `@method`, `@authority`, `@path` (as sent, percent-encoding included), `@query` when the
URL has a query, and `content-digest` (RFC 9530, `sha-256`) when there is a body; it may cover
more, and should cover `content-type` with a body (the registry's own client does; it is not
required, so that older clients keep working). Parameters: `keyid` (the key's
RFC 7638 thumbprint, given when the key is registered), `created`, `expires` (at most 300 s
after `created`), `nonce` (8 to 128 characters, once per key). Clock skew of 60 s is allowed
by default. The registry answers an unsigned request with `Accept-Signature: {ACCEPT_SIGNATURE}`.
Every refusal is a 401 whose problem `type` names the reason."""


def _path(name: str, *, uuid: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "format": "uuid"} if uuid else {"type": "string"}
    return {"name": name, "in": "path", "required": True, "schema": schema}


# --- joint measures (联合奖惩) -------------------------------------------------------------------

# What an entry shows of its measures, in every view of it.
ENTRY_MEASURES: dict[str, Any] = {
    "measures": {
        "type": "array",
        "items": {"$ref": "#/components/schemas/EntryMeasure"},
        "description": "the measures the entry names, from the catalogue of joint measures; "
        "empty for an entry proposed before the catalogue, which has only `measures_text`",
    },
    "measures_text": {
        "type": "string",
        "description": "the measures as worded: the named measures' texts, or the free text "
        "of an entry proposed before the catalogue",
    },
}


def _measure_components() -> dict[str, Any]:
    return {
        "EntryMeasure": {
            "type": "object",
            "description": "A measure an entry names, with its wording and legal basis as "
            "proposed.",
            "required": ["code", "text", "legal_basis"],
            "properties": {
                "code": {"type": "string"},
                "text": {"type": "string"},
                "legal_basis": {"type": "string"},
            },
        },
        "Measure": {
            "type": "object",
            "description": "A measure of the catalogue (config/joint_measures.toml).",
            "required": ["code", "text", "legal_basis", "kinds"],
            "properties": {
                "code": {"type": "string"},
                "text": {"type": "string", "description": "Chinese, with an English gloss"},
                "legal_basis": {"type": "string"},
                "kinds": {
                    "type": "array",
                    "items": {"enum": [str(kind) for kind in ListKind]},
                    "description": "the lists it attaches to",
                },
            },
        },
        "MeasureCatalogue": {
            "type": "object",
            "required": ["measures"],
            "properties": {
                "measures": {"type": "array", "items": {"$ref": "#/components/schemas/Measure"}}
            },
        },
        "AppliedMeasureReport": _object_schema(
            AppliedMeasureSchema(), "A member's report that it applied a joint measure."
        ),
        "MeasureApplication": {
            "type": "object",
            "description": "A measure a member reported applying: who, which, on which day.",
            "required": ["id", "entry_id", "code", "member_id", "applied_on", "reported_at"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "entry_id": {"type": "string", "format": "uuid"},
                "code": {"type": "string"},
                "text": {
                    "type": ["string", "null"],
                    "description": "the catalogue's text; null for a code it no longer has",
                },
                "member_id": {"type": "string", "format": "uuid"},
                "member_name": {"type": "string"},
                "applied_on": {"type": "string", "format": "date"},
                "reference": {"type": ["string", "null"]},
                "reported_at": {"type": "string", "format": "date-time"},
            },
        },
        "MeasuresApplied": {
            "type": "object",
            "required": ["entry_id", "list", "state", "measures", "measures_text", "applied"],
            "properties": {
                "entry_id": {"type": "string", "format": "uuid"},
                "list": {"enum": [str(kind) for kind in ListKind]},
                "state": {"enum": [str(state) for state in ListingState]},
                **ENTRY_MEASURES,
                "applied": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/MeasureApplication"},
                    "description": "every report for the entry's proposer; another regulator's own",
                },
            },
        },
    }


# --- credit reports -----------------------------------------------------------------------------


def _report_components() -> dict[str, Any]:
    return {
        "Consent": _object_schema(
            ConsentSchema(), "A person's consent the member keeps, recorded before a report."
        ),
        "ConsentRecord": {
            "type": "object",
            "required": ["id", "subject_id", "purpose", "given_on", "valid_until"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "subject_id": {
                    "type": ["string", "null"],
                    "format": "uuid",
                    "description": "the subject named by id; null for a consent recorded by "
                    "ID number, which applies to whoever holds the number, now or later",
                },
                "reference": {"type": "string"},
                "purpose": {"enum": [str(p) for p in QueryPurpose]},
                "given_on": {"type": "string", "format": "date"},
                "valid_until": {"type": "string", "format": "date"},
                "revoked_at": {"type": ["string", "null"]},
            },
        },
        "CreditReport": {
            "type": "object",
            "description": "A stored report and the SHA-256 of its content (canonical JSON).",
            "required": ["report", "digest"],
            "properties": {
                "digest": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "report": {
                    "type": "object",
                    "required": [
                        "report_id",
                        "kind",
                        "generated_at",
                        "purpose",
                        "subject",
                        "list_entries",
                        "rating",
                        "records",
                    ],
                    "properties": {
                        "report_id": {"type": "string", "format": "uuid"},
                        "kind": {"enum": ["member", "own"]},
                        "generated_at": {"type": "string"},
                        "purpose": {"type": "string"},
                        "subject": {"type": "object"},
                        "list_entries": {"type": "array", "items": {"type": "object"}},
                        "list_history": {
                            "type": "array",
                            "description": "own reports: published and removed entries",
                            "items": {"type": "object"},
                        },
                        "pending_list_entries": {
                            "type": "array",
                            "description": "own reports: entries in their notice stage, with "
                            "the notice and how to object (handing the report over serves "
                            "their notices on the subject's member)",
                            "items": {"$ref": "#/components/schemas/PendingListEntry"},
                        },
                        "rating": {"type": ["object", "null"]},
                        "rating_history": {"type": "array", "items": {"type": "object"}},
                        "records": {
                            "type": "array",
                            "description": "active records grouped by category; a licence "
                            "or penalty (双公示) carries `publicity_due_on`, the last working "
                            "day to publish it, and `publicity_late`, true when the registry "
                            "received it later (null for other categories)",
                            "items": {"type": "object"},
                        },
                        "seller_ratings": {"type": ["object", "null"]},
                        "queries": {
                            "type": "array",
                            "description": "own reports: every query that returned the subject",
                            "items": {"type": "object"},
                        },
                    },
                },
            },
        },
    }


# --- seller ratings ---------------------------------------------------------------------------


def _seller_rating_components() -> dict[str, Any]:
    batch = _object_schema(SellerRatingBatchSchema(), "A platform's batch of seller ratings.")
    batch["properties"]["ratings"] = {
        "type": "array",
        "minItems": 1,
        "maxItems": current_app.extensions["creditreg.settings"].SELLER_RATING_BATCH_MAX,
        "items": {"$ref": "#/components/schemas/SellerRating"},
    }
    window = {
        "type": "object",
        "required": ["count", "shown"],
        "description": "Below `minimum_count` only `count`, `shown: false` and a `note`.",
        "properties": {
            "days": {"type": ["integer", "null"]},
            "from": {"type": ["string", "null"], "format": "date"},
            "count": {"type": "integer"},
            "shown": {"type": "boolean"},
            "note": {"type": "string"},
            "positive_share": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "positives": {"type": "integer"},
            "neutrals": {"type": "integer"},
            "negatives": {"type": "integer"},
            "averages": {"type": "object", "additionalProperties": {"type": "number"}},
            "distribution": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
    }
    return {
        "SellerRatingReceipt": {
            "type": "object",
            "required": ["type", "member_id", "key_id", "batch_id", "body_digest", "ratings"],
            "properties": {
                "type": {"const": SELLER_RATING_RECEIPT_TYPE},
                "member_id": {"type": "string", "format": "uuid"},
                "key_id": {"type": "string"},
                "batch_id": {"type": "string"},
                "body_digest": {"type": "string"},
                "received_at": {"type": "string", "format": "date-time"},
                "ratings": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["index", "order_id", "rating_id"],
                        "properties": {
                            "index": {"type": "integer", "minimum": 0},
                            "order_id": {"type": "string"},
                            "rating_id": {"type": "string", "format": "uuid"},
                        },
                    },
                },
            },
        },
        "SignedSellerRatingReceipt": {
            "type": "object",
            "description": "Signed like a submission's receipt (see `SignedReceipt`).",
            "required": ["receipt", "receipt_signature", "registry_key_id"],
            "properties": {
                "receipt": {"$ref": "#/components/schemas/SellerRatingReceipt"},
                "receipt_signature": {"type": "string"},
                "registry_key_id": {"type": "string"},
            },
        },
        "SellerRatingBatch": batch,
        "SellerRating": _object_schema(SellerRatingSchema(), "One buyer's rating of one order."),
        "Scores": _object_schema(ScoresSchema(), "Detailed scores, 1 to 5."),
        "SellerSummary": {
            "type": "object",
            "description": "A shop's ratings over rolling windows (by default 30, 90 and 365 "
            "days, named `30d`, `90d`, `365d`; `SELLER_RATING_SUMMARY_WINDOWS`) and its "
            "lifetime, relative to `as_of`, its monthly trend, and its operating company.",
            "required": ["platform", "shop_id", "as_of", "minimum_count", "windows", "trend"],
            "properties": {
                "platform": {"type": "object"},
                "shop_id": {"type": "string"},
                "shop": {"type": ["object", "null"]},
                "as_of": {"type": "string", "format": "date"},
                "minimum_count": {"type": "integer"},
                "positive_share_definition": {"type": "string"},
                "counting": {"type": "string"},
                "windows": {
                    "type": "object",
                    "required": ["lifetime"],
                    "properties": {"lifetime": window},
                    "patternProperties": {"^[0-9]+d$": window},
                    "additionalProperties": False,
                },
                "trend": {
                    "type": "array",
                    "description": "the last 12 months (empty below the minimum count)",
                    "items": {
                        "type": "object",
                        "properties": {
                            "month": {"type": "string"},
                            "count": {"type": "integer"},
                            "average": {"type": ["number", "null"]},
                        },
                    },
                },
                "operator": {
                    "type": ["object", "null"],
                    "description": "the operating company: published list entries, and "
                    "`grade` (null while none is published)",
                },
            },
        },
    }


# --- objections -------------------------------------------------------------------------------


def _objection_components() -> dict[str, Any]:
    from registry.objections import ItemKind, ObjectionStatus, Outcome

    nullable_time = {"type": ["string", "null"], "format": "date-time"}
    return {
        "ObjectionRequest": _object_schema(
            ObjectionRequestSchema(), "An objection (异议) to a record, a list entry or a rating."
        ),
        "ObjectionAnswer": _object_schema(
            AnswerSchema(), "The submitting member's answer, always with a reason."
        ),
        "ObjectionStatement": _object_schema(StatementSchema(), "The subject's statement."),
        "GeneralObjection": {
            "type": "object",
            "description": "An objection to a record or a published list entry: disputed "
            "while open or escalated; answered by the submitting member within the answer "
            "period, or decided by a reviewer once escalated.",
            "required": ["id", "item_kind", "item_id", "status", "disputed", "due_at"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "item_kind": {"enum": [str(k) for k in ItemKind]},
                "item_id": {"type": "string", "format": "uuid"},
                "subject_id": {"type": "string", "format": "uuid"},
                "for_subject": {"type": "boolean"},
                "answering_member_id": {"type": "string", "format": "uuid"},
                "grounds": {"type": "string"},
                "statement": {"type": ["string", "null"]},
                "status": {"enum": [str(s) for s in ObjectionStatus]},
                "disputed": {"type": "boolean"},
                "filed_at": {"type": "string", "format": "date-time"},
                "due_at": {"type": "string", "format": "date-time"},
                "escalated_at": nullable_time,
                "answered_at": nullable_time,
                "answered_late": {"type": ["boolean", "null"]},
                "outcome": {"enum": [*(str(o) for o in Outcome), None]},
                "reason": {"type": ["string", "null"]},
            },
        },
        "ObjectionFiled": {
            "type": "object",
            "description": "The objection filed. `delegated_to` is null for a general "
            "objection (its fields follow), `rating_appeal` for a rating (under `appeal`), "
            "`notice_objection` for a list entry in its notice window (under `objection`; "
            "it suspends publication).",
            "required": ["item_kind", "delegated_to"],
            "properties": {
                "item_kind": {"enum": ["record", "list_entry", "rating"]},
                "delegated_to": {"enum": [None, "rating_appeal", "notice_objection"]},
                "appeal": {"type": "object"},
                "objection": {"type": "object"},
            },
        },
        "ObjectionList": {
            "type": "object",
            "required": ["objections", "next_after"],
            "properties": {
                "objections": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/GeneralObjection"},
                },
                "next_after": NEXT_AFTER,
                "notice_objections": {
                    "type": "array",
                    "description": "`role=filer`, first page only: objections filed in a "
                    "list entry's notice window (the newest 500)",
                },
            },
        },
        "DisputedItem": {
            "type": "object",
            "required": ["item_kind", "item_id", "since", "status"],
            "properties": {
                "item_kind": {"enum": [str(k) for k in ItemKind]},
                "item_id": {"type": "string", "format": "uuid"},
                "since": {"type": "string", "format": "date-time"},
                "status": {"enum": [str(s) for s in ObjectionStatus]},
                "statement": {"type": ["string", "null"]},
            },
        },
    }


def _components() -> dict[str, Any]:
    receipt_record = {
        "type": "object",
        "required": ["index", "record_id", "registry_id", "subject_id", "version", "status"],
        "properties": {
            "index": {"type": "integer", "minimum": 0},
            "record_id": {"type": "string"},
            "registry_id": {"type": "string", "format": "uuid"},
            "subject_id": {"type": "string", "format": "uuid"},
            "version": {"type": "integer", "minimum": 1},
            "status": {"enum": ["created", "corrected", "unchanged", "revoked"]},
        },
    }
    components: dict[str, Any] = {
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details.",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {
                    "type": "string",
                    "description": "Stable; `GET` it for a description.",
                    "enum": sorted(p.uri for p in problems.PROBLEM_TYPES.values()),
                },
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "errors": {
                    "type": "array",
                    "description": "Every field error at once; `field` is a dotted path such "
                    "as `records.3.amount.value`.",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        },
        "ProblemType": {
            "type": "object",
            "required": ["type", "status", "title", "description"],
            "properties": {
                "type": {"type": "string"},
                "status": {"type": "integer"},
                "title": {"type": "string"},
                "description": {"type": "string"},
            },
        },
        "Amount": _object_schema(AmountSchema(), "A sum of money as a decimal string."),
        "SubjectRef": _object_schema(SubjectRefSchema()),
        "PersonNotice": _object_schema(
            PersonNoticeSchema(), "The submitter's word that the person was told."
        ),
        **_record_schemas(),
        "Submission": {
            **_object_schema(SubmissionSchema(), "A batch of records, applied all or nothing."),
        },
        "Receipt": {
            "type": "object",
            "required": [
                "type",
                "member_id",
                "key_id",
                "submission_id",
                "body_digest",
                "received_at",
                "records",
            ],
            "properties": {
                "type": {"const": RECEIPT_TYPE},
                "member_id": {"type": "string", "format": "uuid"},
                "key_id": {"type": "string"},
                "submission_id": {"type": "string"},
                "body_digest": {"type": "string", "description": "RFC 9530 Content-Digest"},
                "received_at": {"type": "string", "format": "date-time"},
                "records": {"type": "array", "items": receipt_record},
                "log_index": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "the submission's entry in the transparency log",
                },
            },
        },
        "SignedReceipt": {
            "type": "object",
            "description": "`receipt_signature` is Ed25519 (base64url) over the RFC 8785 "
            "canonical form of `receipt`, by the key `registry_key_id` of the JWKS.",
            "required": ["receipt", "receipt_signature", "registry_key_id"],
            "properties": {
                "receipt": {"$ref": "#/components/schemas/Receipt"},
                "receipt_signature": {"type": "string"},
                "registry_key_id": {"type": "string"},
            },
        },
        "JWKS": {
            "type": "object",
            "required": ["keys"],
            "properties": {
                "keys": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kty", "crv", "x", "kid"],
                        "properties": {
                            "kty": {"const": "OKP"},
                            "crv": {"const": "Ed25519"},
                            "x": {"type": "string"},
                            "kid": {"type": "string"},
                            "alg": {"const": "EdDSA"},
                            "use": {"const": "sig"},
                        },
                    },
                }
            },
        },
        "RecordCounts": {
            "type": "object",
            "description": "Active records by polarity, and by category and polarity.",
            "required": ["total", "negative", "positive", "neutral", "by_category"],
            "properties": {
                "total": {"type": "integer"},
                "negative": {"type": "integer"},
                "positive": {"type": "integer"},
                "neutral": {"type": "integer"},
                "by_category": {"type": "object", "additionalProperties": {"type": "object"}},
            },
        },
        "SubjectHit": {
            "type": "object",
            "required": ["id", "kind", "name", "score", "highlights"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "kind": {"enum": ["enterprise", "person", "shop"]},
                "name": {"type": "string"},
                "names": {"type": "array", "items": {"type": "string"}},
                **SUBJECT_LOOKUP_FIELDS,
                "disputed": {
                    "type": "integer",
                    "description": "how many of the subject's items are under an open "
                    "objection (异议)",
                },
                "score": {"type": "number"},
                "highlights": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "names with the matched text in <em>, HTML-escaped",
                },
            },
        },
        "SearchResult": {
            "type": "object",
            "required": ["hits", "total", "facets", "next", "next_after"],
            "properties": {
                "hits": {"type": "array", "items": {"$ref": "#/components/schemas/SubjectHit"}},
                "total": {"type": "integer"},
                "facets": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": {"type": "integer"},
                    },
                },
                "next_after": NEXT_AFTER,
                "next": {
                    "type": ["string", "null"],
                    "description": "older name of `next_after`",
                },
            },
        },
        "Subject": {
            "type": "object",
            "description": "A subject as the database has it now (never a stale projection).",
            "required": ["id", "kind", "name", "names", "record_counts", "revision"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "kind": {"enum": ["enterprise", "person", "shop"]},
                "name": {"type": "string"},
                "names": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "valid_from": {"type": ["string", "null"]},
                            "valid_until": {"type": ["string", "null"]},
                        },
                    },
                },
                **SUBJECT_LOOKUP_FIELDS,
                **_nullable_strings("id_number_masked", "operator_uscc"),
                "uscc_warnings": {"type": "array", "items": {"type": "string"}},
                "pending_list_entries": {
                    "type": "array",
                    "description": "Only to the member that is the subject (or operates the "
                    "shop): its entries in their notice stage, with the notice and how to "
                    "object. Handing them over serves their notices.",
                    "items": {"$ref": "#/components/schemas/PendingListEntry"},
                },
                "penalty_publication": {
                    "type": "object",
                    "description": "Active administrative penalties by publication status: "
                    "published, not_published (minor) and publication_ended (past the "
                    "period for their severity; members still see them until retention ends).",
                    "properties": {
                        "published": {"type": "integer"},
                        "not_published": {"type": "integer"},
                        "publication_ended": {"type": "integer"},
                    },
                },
                "disputed": {
                    "type": "array",
                    "description": "Items under an open objection (异议), with the subject's "
                    "statement.",
                    "items": {"$ref": "#/components/schemas/DisputedItem"},
                },
                "statements": {
                    "type": "array",
                    "description": "The subject's statements beside items whose objection "
                    "was answered upheld.",
                    "items": {"$ref": "#/components/schemas/DisputedItem"},
                },
                "rating": {
                    "type": ["object", "null"],
                    "description": "The published rating: grade (as decided), model grade, "
                    "0-100 score, risk band, scorecard version and the explanation, whose "
                    "points add up to the score.",
                },
                "rating_history": {
                    "type": "array",
                    "description": "Ratings this one replaced, newest first (no explanation).",
                    "items": {"type": "object"},
                },
                "revision": {"type": "integer"},
                "updated_at": {"type": ["string", "null"]},
            },
        },
        "ScreeningRequest": {
            "type": "object",
            "required": ["purpose", "rows"],
            "properties": {
                "purpose": {"enum": [str(p) for p in QueryPurpose]},
                "rows": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "description": "a name and/or a USCC; region narrows the match",
                        "properties": {
                            "name": {"type": "string", "maxLength": 300},
                            "uscc": {"type": "string"},
                            "region": {"type": "string", "pattern": "^[0-9]{6}$"},
                            "reference": {"type": "string"},
                        },
                    },
                },
            },
        },
        "ScreeningResult": {
            "type": "object",
            "required": ["rows", "summary"],
            "properties": {
                "rows": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["row", "decision", "score", "matches"],
                        "properties": {
                            "row": {"type": "integer"},
                            "reference": {"type": ["string", "null"]},
                            "input": {"type": "object"},
                            "decision": {"enum": ["match", "possible", "none", "error"]},
                            "score": {"type": "number", "minimum": 0, "maximum": 1},
                            "errors": {
                                "type": "array",
                                "description": "a row that could not be screened: what is "
                                "wrong with each field (a field in error is not echoed)",
                                "items": {
                                    "type": "object",
                                    "required": ["field", "message"],
                                    "properties": {
                                        "field": {"type": "string"},
                                        "message": {"type": "string"},
                                    },
                                },
                            },
                            "matches": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["subject_id", "score", "explanation"],
                                    "properties": {
                                        "subject_id": {"type": "string"},
                                        "score": {"type": "number"},
                                        "decision": {"enum": ["match", "possible", "none"]},
                                        "explanation": {
                                            "type": "array",
                                            "description": "each feature, its similarity, "
                                            "weight and contribution to the score",
                                            "items": {"type": "object"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
                "summary": {"type": "object", "additionalProperties": {"type": "integer"}},
                "thresholds": {"type": "object"},
            },
        },
        "ScreeningJob": {
            "type": "object",
            "required": ["id", "status", "total_rows", "done_rows"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "status": {"enum": ["queued", "running", "done", "failed"]},
                "total_rows": {"type": "integer"},
                "done_rows": {"type": "integer"},
                "created_at": {"type": ["string", "null"]},
                "finished_at": {"type": ["string", "null"]},
                "error": {"type": ["string", "null"]},
            },
        },
        "Proposal": _object_schema(ProposalSchema(), "A regulator's proposal of a list entry."),
        "Reason": _object_schema(ReasonSchema()),
        "Extension": _object_schema(ExtensionSchema()),
        "Objection": _object_schema(ObjectionSchema()),
        "Appeal": _object_schema(AppealSchema(), "A subject's appeal of its published rating."),
        "RepairApplicationRequest": _object_schema(RepairSchema()),
        "RepairDecision": _object_schema(DecisionSchema()),
        "ServiceRecord": _object_schema(
            ServiceSchema(),
            "A notice the proposer served itself: the channel, the date of service (the "
            "objection window counts its working days from the day after) and a reference.",
        ),
        "DeadlineWarning": {
            "type": ["object", "null"],
            "description": "Set when the deadline was counted over a year no public-holiday "
            "calendar covers (as /readyz reports it): there working days were counted as "
            "plain weekdays.",
            "required": ["status", "missing", "detail"],
            "properties": {
                "status": {"const": "years-missing"},
                "missing": {"type": "array", "items": {"type": "integer"}},
                "detail": {"type": "string"},
            },
        },
        "Notice": {
            "type": "object",
            "description": "The prior notice (告知) of an entry: issued at approval, served on "
            "the subject's member when it reads it, or by a channel recorded with its date.",
            "required": ["issued_at", "served", "channel", "served_on"],
            "properties": {
                "issued_at": {"type": ["string", "null"]},
                "served": {"type": "boolean"},
                "channel": {"enum": [None, *(str(c) for c in NoticeChannel)]},
                "served_on": {"type": ["string", "null"], "format": "date"},
                "delivered_at": {
                    "type": ["string", "null"],
                    "description": "member channel: when the notice was handed to the member",
                },
                "reference": {"type": ["string", "null"]},
                "member_id": {"type": ["string", "null"]},
                "objection_deadline": {"type": ["string", "null"], "format": "date"},
                "objection_deadline_warning": {"$ref": "#/components/schemas/DeadlineWarning"},
            },
        },
        "PendingListEntry": {
            "type": "object",
            "description": "An entry in its notice stage as its subject sees it: what is "
            "proposed and on what basis, the notice and its window, how to object.",
            "required": ["id", "list", "state", "notice", "how_to_object", "objections"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "list": {"enum": [str(kind) for kind in ListKind]},
                "state": {"const": "notice"},
                "subject_id": {"type": "string", "format": "uuid"},
                "subject_name": {"type": "string"},
                "authority": {"type": "string"},
                "reason": {"type": "string"},
                "legal_basis": {"type": "string"},
                "document_number": {"type": "string"},
                **ENTRY_MEASURES,
                "period_months": {"type": "integer"},
                "notice": {"$ref": "#/components/schemas/Notice"},
                "how_to_object": {"type": "string"},
                "objections": {"type": "array", "items": {"type": "object"}},
                "title": {"type": "string", "description": "/notices: the notice's title"},
                "text": {"type": "string", "description": "/notices: the notice's text"},
            },
        },
        "Notices": {
            "type": "object",
            "required": ["notices"],
            "properties": {
                "notices": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/PendingListEntry"},
                }
            },
        },
        "ListEntry": {
            "type": "object",
            "description": "An entry as its proposer sees it: state, allowed actions, reviews, "
            "the notice, objections and dates.",
            "required": ["id", "list", "state", "allowed_actions", "notice", "objection_deadline"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "list": {"enum": [str(kind) for kind in ListKind]},
                "side": {"enum": ["blacklist", "redlist"]},
                "state": {"enum": [str(state) for state in ListingState]},
                "allowed_actions": {"type": "array", "items": {"type": "string"}},
                "notice": {
                    "type": "object",
                    "description": "issued_at, served, channel, served_on, delivered_at, "
                    "reference, member_id (see Notice)",
                },
                "objection_deadline": {
                    "type": ["string", "null"],
                    "format": "date",
                    "description": "the window's last day, counted from service; null "
                    "until the notice is served",
                },
                "objection_deadline_warning": {"$ref": "#/components/schemas/DeadlineWarning"},
                **ENTRY_MEASURES,
                "measures_applied": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/MeasureApplication"},
                    "description": "the measures members reported applying",
                },
            },
        },
        "PublicList": {
            "type": "object",
            "required": ["list", "total", "entries", "next_after"],
            "properties": {
                "list": {"enum": LIST_NAMES},
                "total": {"type": "integer"},
                "next_after": NEXT_AFTER,
                "page": {"type": "integer", "description": "only when `page` was sent"},
                "size": {"type": "integer", "description": "only when `page` was sent"},
                "entries": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "disputed", "subject_statement"],
                        "properties": {
                            **ENTRY_MEASURES,
                            "disputed": {
                                "type": "boolean",
                                "description": "an objection (异议) to the entry is open",
                            },
                            "subject_statement": {
                                "type": ["string", "null"],
                                "description": "the subject's statement on the entry, shown "
                                "while disputed and after an objection upheld",
                            },
                        },
                    },
                },
            },
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"enum": ["ok", "degraded", "unavailable"]},
                "checks": {"type": "object", "additionalProperties": {"type": "object"}},
            },
        },
    }
    record_refs = [{"$ref": f"#/components/schemas/{name}"} for name in _record_schemas()]
    components["Submission"]["properties"]["records"] = {
        "type": "array",
        "minItems": 1,
        "maxItems": current_app.extensions["creditreg.settings"].SUBMISSION_MAX_RECORDS,
        "items": {"oneOf": record_refs},
    }

    components.update(_seller_rating_components())
    components.update(_report_components())
    components.update(_measure_components())
    components.update(monitoring_openapi.components())
    components.update(_objection_components())
    components.update(tlog_openapi.components())
    components.update(records_openapi.components())
    return components


INTRODUCTION = (
    "Members send credit records over signed requests and receive signed receipts. Errors "
    "are RFC 9457 problem details with a stable `type`."
)


def _description() -> str:
    """The document's introduction, in Markdown as the reference renders it: the signing
    scheme, then the catalogue of problem types."""
    catalogue = sorted(problems.PROBLEM_TYPES.values(), key=lambda p: (p.status, p.slug))
    rows = [f"| [`{p.uri}`]({p.uri}) | {p.status} | {p.title} |" for p in catalogue]
    return "\n\n".join(
        [
            INTRODUCTION,
            "## Signing requests",
            " ".join(SIGNATURE_SCHEME.split()),
            "## Problem types",
            "\n".join(["| type | status | title |", "| --- | --- | --- |", *rows]),
        ]
    )


def build_document() -> dict[str, Any]:
    """The document: apispec's, its schemas converted from marshmallow by its plugin."""
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title="creditreg",
        version="1",
        openapi_version="3.1.0",
        plugins=[plugin],
        info={
            "summary": "Public-credit information-sharing registry",
            "description": _description(),
        },
        jsonSchemaDialect="https://spec.openapis.org/oas/3.1/dialect/base",
    )
    token = _PLUGIN.set(plugin)
    try:
        components = _components()
    finally:
        _PLUGIN.reset(token)
    for name, component in components.items():
        if name in spec.components.schemas:
            # Registered already by the plugin, as a schema nested in another: the same
            # schema, which the explicit entry describes.
            spec.components.schemas[name] = component
        else:
            spec.components.schema(name, component)
    for name, response in SHARED_RESPONSES.items():
        spec.components.response(name, response)
    for name, parameter in PARAMETERS.items():
        spec.components.parameter(name, parameter["in"], parameter)
    spec.components.security_scheme(
        "memberSignature",
        {
            "type": "apiKey",
            "in": "header",
            "name": "Signature",
            "description": " ".join(SIGNATURE_SCHEME.split()),
        },
    )
    for path, operations in route_operations(current_app).items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


# --- the operations, from the routes ------------------------------------------------------

# The console is a staff UI, not part of the API; static files are not operations.
UNDESCRIBED_ENDPOINTS = ("static", "public.static")
ROUTE_ARGUMENT = re.compile(r"<(?:(?P<converter>[a-z]+):)?(?P<name>\w+)>")
# Path arguments that name a row of the registry by its UUID, whatever their route's
# converter (a view that takes any text answers a malformed one with its own problem).
UUID_ARGUMENTS = frozenset(
    {
        "application_id",
        "consent_id",
        "entry_id",
        "job_id",
        "objection_id",
        "rating_id",
        "record_id",
        "report_id",
        "subject_id",
    }
)


def described_rules(app: Flask) -> list[Rule]:
    """The routes the document describes: every one but the console's and static files."""
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in UNDESCRIBED_ENDPOINTS and not rule.endpoint.startswith("console.")
    ]


def openapi_path(rule: Rule) -> str:
    return ROUTE_ARGUMENT.sub(r"{\g<name>}", rule.rule)


def route_operations(app: Flask) -> dict[str, dict[str, Any]]:
    """Each route's operations, as its view's docstring describes them after ``---`` (YAML,
    read by apispec), completed from what the route itself says: its path parameters, who
    may call it (``api.permissions``: public, or signed by a member) and its problems."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in described_rules(app):
        described = yaml_utils.load_operations_from_docstring(
            app.view_functions[rule.endpoint].__doc__ or ""
        )
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = described.get(method.lower())
            if operation is not None:  # the test of the document names any route left out
                paths.setdefault(openapi_path(rule), {})[method.lower()] = _complete_operation(
                    rule, copy.deepcopy(operation)
                )
    return paths


# Bodies several operations take, named in their docstrings (`requestBody: PortfolioRows`).
REQUEST_BODIES: dict[str, Any] = {**monitoring_openapi.REQUEST_BODIES}

# Parameters several operations take, named in their docstrings (`- LogIndex`).
PARAMETERS: dict[str, dict[str, Any]] = {**records_openapi.PARAMETERS, **tlog_openapi.PARAMETERS}

# Answers many operations give, named in their docstrings' responses (`201: Done`).
SHARED_RESPONSES: dict[str, Any] = {
    "Done": {"description": "Done.", "content": {JSON: {"schema": {"type": "object"}}}},
    "HtmlPage": {"description": "HTML", "content": {"text/html": {"schema": {}}}},
    # Every public page is limited per client address (PUBLIC_RATE_LIMIT_PER_MINUTE,
    # admin.web): past it the page is a short plain-text answer, in both languages.
    "PageRateLimited": {
        "description": "Too many requests from this address this minute "
        "(PUBLIC_RATE_LIMIT_PER_MINUTE); plain text.",
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
}


def _complete_operation(rule: Rule, operation: dict[str, Any]) -> dict[str, Any]:
    """The operation as the document states it. Besides OpenAPI, a docstring may say
    ``problems: [401, 404]`` for the problem answers of those statuses, and name a request
    body by the schema it sends as JSON (``requestBody: Proposal``) or by a body several
    routes take (``monitoring_openapi.REQUEST_BODIES``)."""
    # Grouped in the reference by blueprint: the routes of one part of the registry together.
    operation.setdefault("tags", [rule.endpoint.rpartition(".")[0] or "public"])
    public = permissions.ACCESS.get(rule.endpoint) == permissions.PUBLIC
    operation["security"] = [] if public else [{"memberSignature": []}]
    parameters = [
        PARAMETERS[p] if isinstance(p, str) else p for p in operation.get("parameters", [])
    ]
    given = {p.get("name") for p in parameters if p.get("in") == "path"}
    path_parameters = [
        _path(match["name"], uuid=match["converter"] == "uuid" or match["name"] in UUID_ARGUMENTS)
        for match in ROUTE_ARGUMENT.finditer(rule.rule)
        if match["name"] not in given
    ]
    if path_parameters or "parameters" in operation:
        operation["parameters"] = [*path_parameters, *operation.get("parameters", [])]
    body = operation.get("requestBody")
    if isinstance(body, str):
        operation["requestBody"] = copy.deepcopy(REQUEST_BODIES.get(body)) or {
            "required": True,
            "content": {JSON: {"schema": body}},
        }
    responses = operation.setdefault("responses", {})
    statuses = operation.pop("problems", [])
    # Every JSON body is read with a nesting limit (api/json_body.py), so every operation
    # that takes a body may answer that 400.
    if "requestBody" in operation and 400 not in statuses:
        statuses = [400, *statuses]
    for status, response in _problem_responses(*statuses).items():
        responses.setdefault(status, response)
    return operation


def app_document() -> dict[str, Any]:
    """The document, built once per app: it describes the code, which does not change."""
    document = current_app.extensions.get("creditreg.openapi")
    if document is None:
        document = current_app.extensions["creditreg.openapi"] = build_document()
    return document  # type: ignore[no-any-return]


@bp.get("/api/openapi.json")
def openapi_document() -> ResponseReturnValue:
    """This document.

    ---
    get:
      operationId: openapi
      summary: This document
      responses:
        200:
          description: OpenAPI 3.1
          content:
            application/json:
              schema:
                type: object
    """
    return Response(json.dumps(app_document(), ensure_ascii=False), mimetype=JSON)


@bp.get("/api/docs")
def api_docs() -> ResponseReturnValue:
    """This document, rendered for reading.

    ---
    get:
      operationId: apiDocs
      summary: This document, rendered for reading
      responses:
        200: HtmlPage
    """
    return render_template("api_docs.html")


@bp.get("/api/docs/assets/<name>")
def renderer_asset(name: str) -> ResponseReturnValue:
    """A file of the rendered reference: Swagger UI's script, style sheet and icon, as installed
    with the registry, and the script that starts it.

    ---
    get:
      operationId: apiDocsAsset
      summary: 'A file of the rendered reference: Swagger UI''s script, style sheet and icon,
        as installed with the registry, and the script that starts it'
      parameters:
        - name: name
          in: path
          required: true
          schema:
            enum:
              - api_docs.js
              - favicon-32x32.png
              - swagger-ui-bundle.js
              - swagger-ui.css
      responses:
        200:
          description: The file.
          content:
            text/javascript:
              schema:
                type: string
            text/css:
              schema:
                type: string
            image/png:
              schema:
                type: string
      problems: [404]
    """
    if name not in RENDERER_ASSETS:
        return problems.problem_response(
            problems.NOT_FOUND, f"the reference's files are {', '.join(sorted(RENDERER_ASSETS))}"
        )
    content, etag = _renderer_asset(name)
    response = Response(content, mimetype=RENDERER_ASSETS[name][1])
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = RENDERER_ASSET_MAX_AGE
    return response.make_conditional(request)


@functools.cache
def _renderer_asset(name: str) -> tuple[bytes, str]:
    """The file's bytes and their digest, read once: a few files the package installed,
    which do not change while the registry runs."""
    content = (RENDERER_ASSETS[name][0] / name).read_bytes()
    return content, hashlib.sha256(content).hexdigest()[:32]
