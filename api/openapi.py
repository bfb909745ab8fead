"""The OpenAPI 3.1 description of the API, built from the code it describes.

Request schemas come from the marshmallow schemas that validate requests, problem types from
the problem catalogue, so the document cannot drift from what the registry enforces. A test
checks that every route of the app is described and that real responses match.
"""

from __future__ import annotations

from contextvars import ContextVar
from importlib.resources import files
from pathlib import Path
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, current_app, json, render_template, send_from_directory
from flask.typing import ResponseReturnValue
from marshmallow import Schema

from api import monitoring_openapi, problems, records_openapi, tlog_openapi
from api.auth import ACCEPT_SIGNATURE
from api.listings import (
    PUBLIC_LIST_COLUMNS,
    AppliedMeasureSchema,
    DecisionSchema,
    ExtensionSchema,
    ObjectionSchema,
    ProposalSchema,
    PublicListSchema,
    ReasonSchema,
    RepairSchema,
    ServiceSchema,
)
from api.objections import (
    AnswerSchema,
    InboxParamsSchema,
    ObjectionRequestSchema,
    StatementSchema,
)
from api.ratings import AppealSchema
from api.reports import ConsentSchema, ReportParamsSchema
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
from api.subjects import SearchParamsSchema, SubjectParamsSchema
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
    "swagger-ui-bundle.js": SWAGGER_UI,
    "swagger-ui.css": SWAGGER_UI,
    "favicon-32x32.png": SWAGGER_UI,
    "api_docs.js": Path(__file__).parent / "static",
}
RENDERER_ASSET_MAX_AGE = 3600

JSON = "application/json"
CSV_CONTENT: dict[str, Any] = {"text/csv": {"schema": {"type": "string"}}}
CSV_CHARSETS = (
    "UTF-8 (a byte-order mark is accepted) unless the Content-Type declares another charset: "
    "GB18030, GBK and GB2312 are read as GB18030 (what Excel on Chinese Windows saves); any "
    "other is a 415, bytes invalid in the charset a 422 `csv-not-decodable`"
)
BOM_PARAMETER: dict[str, Any] = {
    "name": "bom",
    "in": "query",
    "required": False,
    "description": "`1`: a CSV answer starts with a UTF-8 byte-order mark, so that Excel reads "
    "it as UTF-8 (also asked with `Accept: text/csv; bom=1`)",
    "schema": {"enum": ["1", "true", "0", "false"]},
}
SCREENING_RESULT: dict[str, Any] = {
    "description": "The result.",
    "content": {
        JSON: {"schema": {"$ref": "#/components/schemas/ScreeningResult"}},
        **CSV_CONTENT,
    },
}


def _nullable_strings(*names: str) -> dict[str, Any]:
    return {name: {"type": ["string", "null"]} for name in names}


# What a search hit and a subject by id both show.
SUBJECT_LOOKUP_FIELDS: dict[str, Any] = {
    **_nullable_strings("uscc", "shop_id", "platform_id", "region", "industry", "grade"),
    "lists": {"type": "array", "items": {"type": "string"}},
    "list_entries": {"type": "array", "items": {"type": "object"}},
    "record_counts": {"$ref": "#/components/schemas/RecordCounts"},
}

JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
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


def _query_parameters(schema: Schema) -> list[dict[str, Any]]:
    """A marshmallow schema of query parameters as OpenAPI parameters (one per field)."""
    parameters: list[dict[str, Any]] = _PLUGIN.get().converter.schema2parameters(  # type: ignore[union-attr]
        schema, location="query"
    )
    return parameters


def _record_schemas() -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    for category, schema in CATEGORY_SCHEMAS.items():
        document = _object_schema(schema, f"An upsert of a {category} record.")
        document["properties"]["category"] = {"const": str(category)}
        schemas[f"{_schema_name(type(schema))}Record"] = document
    schemas["RevokeRecord"] = _object_schema(RevokeSchema(), "Revokes one of the member's records.")
    return schemas


# --- the document ---------------------------------------------------------------------------


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
        responses[str(status)] = response
    return responses


def _json(ref: str, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        **extra,
    }


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


def _signed_post(
    operation_id: str,
    summary: str,
    request_schema: str,
    response_schema: str | None,
    status: int,
    path_parameter: str | None = None,
) -> dict[str, Any]:
    response: dict[str, Any] = (
        _json(response_schema, "Done.")
        if response_schema
        else {"description": "Done.", "content": {JSON: {"schema": {"type": "object"}}}}
    )
    return {
        "operationId": operation_id,
        "summary": summary,
        "security": [{"memberSignature": []}],
        "parameters": [_path(path_parameter)] if path_parameter else [],
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{request_schema}"}}},
        },
        "responses": {
            str(status): response,
            **_problem_responses(401, 403, 404, 409, 422, 429),
        },
    }


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


def _measure_paths() -> dict[str, Any]:
    signed: list[dict[str, list[str]]] = [{"memberSignature": []}]
    report = _signed_post(
        "reportAppliedMeasure",
        "A regulator reports that it applied a joint measure to the subject of a published "
        "entry (its own, or any on a public list)",
        "AppliedMeasureReport",
        "MeasureApplication",
        201,
        "entry_id",
    )
    report["description"] = (
        "Who is the signing member, when the day given (`applied_on`) and the time the report "
        "was received. The code must attach to the entry's list and the day fall between "
        "the entry's publication and today: a 422 with the field errors `code` and "
        "`applied_on`, every one at once, otherwise. An entry that is not published is a 409 "
        "`/problems/entry-not-in-force`. The same report again (member, code, day, reference) "
        "answers 200 with the first one and records nothing."
    )
    report["responses"]["200"] = _json("MeasureApplication", "Reported before: the first report.")
    return {
        "/api/v1/listings/{entry_id}/measures": {
            "post": report,
            "get": {
                "operationId": "listAppliedMeasures",
                "summary": "The entry's measures and the reports of measures applied (all for "
                "its proposer, a regulator's own for another)",
                "security": signed,
                "parameters": [_path("entry_id")],
                "responses": {
                    "200": _json("MeasuresApplied", "The measures and the reports."),
                    **_problem_responses(401, 403, 404, 429),
                },
            },
        },
        "/api/v1/public/measures": {
            "get": {
                "operationId": "measureCatalogue",
                "summary": "The catalogue of joint measures (联合奖惩措施): the codes a proposal "
                "names and a report cites, with the lists each attaches to",
                "security": [],
                "responses": {"200": _json("MeasureCatalogue", "The catalogue.")},
            }
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


def _report_paths() -> dict[str, Any]:
    signed: list[dict[str, list[str]]] = [{"memberSignature": []}]
    report_id = [_path("report_id")]

    def rendering(operation_id: str, summary: str, media_type: str) -> dict[str, Any]:
        return {
            "get": {
                "operationId": operation_id,
                "summary": summary,
                "security": signed,
                "parameters": report_id,
                "responses": {
                    "200": {
                        "description": summary,
                        "content": {media_type: {"schema": {"type": "string"}}},
                    },
                    **_problem_responses(401, 403, 404, 410, 429),
                },
            }
        }

    return {
        "/api/v1/consents": {
            "post": _signed_post(
                "recordConsent",
                "Record a person's consent to a report",
                "Consent",
                "ConsentRecord",
                201,
            )
        },
        "/api/v1/consents/{consent_id}": {
            "delete": {
                "operationId": "revokeConsent",
                "summary": "Revoke a consent the member recorded",
                "security": signed,
                "parameters": [_path("consent_id")],
                "responses": {
                    "200": _json("ConsentRecord", "The revoked consent."),
                    **_problem_responses(401, 403, 404, 409, 429),
                },
            }
        },
        "/api/v1/subjects/{subject_id}/report": {
            "get": {
                "operationId": "memberReport",
                "summary": "A credit report on a subject (logged; a person needs a consent)",
                "security": signed,
                "parameters": [_path("subject_id"), *_query_parameters(ReportParamsSchema())],
                "responses": {
                    "200": _json(
                        "CreditReport",
                        "The report; Location names it for the HTML and PDF renderings.",
                    ),
                    **_problem_responses(401, 403, 404, 422, 429),
                },
            }
        },
        "/api/v1/subjects/{subject_id}/own-report": {
            "post": {
                "operationId": "ownReport",
                "summary": "The subject's own report, with every query of it (free twice a year)",
                "security": signed,
                "parameters": [_path("subject_id")],
                "responses": {
                    "201": _json("CreditReport", "The report."),
                    **_problem_responses(401, 403, 404, 429),
                },
            }
        },
        "/api/v1/reports/{report_id}": {
            "get": {
                "operationId": "getReport",
                "summary": "A report the member asked for, again",
                "security": signed,
                "parameters": report_id,
                "responses": {
                    "200": _json("CreditReport", "The stored report."),
                    **_problem_responses(401, 403, 404, 410, 429),
                },
            }
        },
        "/api/v1/reports/{report_id}.html": rendering(
            "getReportHtml", "The report as a printable HTML page", "text/html"
        ),
        "/api/v1/reports/{report_id}.pdf": rendering(
            "getReportPdf", "The report as a PDF document", "application/pdf"
        ),
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


# The next page of a list, for readers of the body and of the CSV alike.
NEXT_LINK = {
    "Link": {
        "description": 'The next page\'s address, `<…>; rel="next"`; absent on the last page.',
        "schema": {"type": "string"},
    }
}
ATOM_EXAMPLE = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<id>https://credit.example.gov.cn/api/v1/public/lists/blacklist.atom</id>
<title>creditreg blacklist</title><updated>2026-03-02T09:00:00+00:00</updated>
<entry><id>urn:creditreg:list-entry:0b9c…:published</id>
<title>北京华信科技有限公司: published — 北京市市场监督管理局</title>
<updated>2026-03-02T09:00:00+00:00</updated>
<summary>…</summary></entry>
</feed>"""

# Every public page is limited per client address (PUBLIC_RATE_LIMIT_PER_MINUTE, admin.web):
# past it the page is a short plain-text answer, in both languages.
PAGE_RATE_LIMITED = {
    "429": {
        "description": "Too many requests from this address this minute "
        "(PUBLIC_RATE_LIMIT_PER_MINUTE); plain text.",
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


def _page_paths() -> dict[str, Any]:
    """The public pages beside the home page (the staff console is not part of the API)."""

    def page(operation: str, summary: str, status: int = 200, *problems: int) -> dict[str, Any]:
        content: dict[str, Any] = {"text/html": {"schema": {}}}
        names = {"subjectPage": "subject_id", "switchLanguage": "code"}
        parameters = (
            [
                {
                    "name": names[operation],
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                }
            ]
            if operation in names
            else []
        )
        return {
            "get": {
                "operationId": operation,
                "summary": summary,
                "security": [],
                "parameters": parameters,
                "responses": {
                    str(status): {"description": "HTML" if status == 200 else "Redirect"}
                    | ({"content": content} if status == 200 else {}),
                    **_problem_responses(*problems),
                    **PAGE_RATE_LIMITED,
                },
            }
        }

    return {
        "/subjects/{subject_id}": page(
            "subjectPage", "An enterprise's or a shop's public page (never a person's)", 200, 404
        ),
        "/help/objections-and-repair": page("helpPage", "How to object and apply for repair"),
        "/language/{code}": page("switchLanguage", "Choose zh_CN or en (a cookie)", 302, 404),
    }


def _seller_rating_paths() -> dict[str, Any]:
    seller_parameters = [_path("platform", uuid=False), _path("shop_id", uuid=False)]
    seller_parameters[0]["description"] = "the platform's code, or its member id"
    return {
        "/api/v1/seller-ratings": {
            "post": {
                "operationId": "submitSellerRatings",
                "summary": "Send buyers' seller ratings (platforms)",
                "description": "One rating per order, dated within SELLER_RATING_WINDOW_DAYS "
                "after the order and not before it. All or nothing: any invalid rating "
                "refuses the batch, and the 422 lists every error with its rating index "
                "(`ratings.3.rated_on`). A platform rates only its own shops (403 "
                "`not-own-platform`). The same `batch_id` and body again returns the first "
                "receipt (200); the same id with another body is a 409.",
                "security": [{"memberSignature": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {"schema": {"$ref": "#/components/schemas/SellerRatingBatch"}}
                    },
                },
                "responses": {
                    "201": _json(
                        "SignedSellerRatingReceipt",
                        "Accepted; the receipt is signed by the registry.",
                        headers={"Location": {"schema": {"type": "string"}}},
                    ),
                    "200": _json(
                        "SignedSellerRatingReceipt",
                        "Already accepted: the first receipt again.",
                        headers={"Idempotent-Replayed": {"schema": {"const": "true"}}},
                    ),
                    **_problem_responses(400, 401, 403, 409, 413, 415, 422, 429, 503),
                },
            }
        },
        "/api/v1/seller-ratings/{batch_id}": {
            "get": {
                "operationId": "getSellerRatingBatch",
                "summary": "The receipt of one of the platform's batches",
                "security": [{"memberSignature": []}],
                "parameters": [_path("batch_id", uuid=False)],
                "responses": {
                    "200": _json("SignedSellerRatingReceipt", "The receipt."),
                    **_problem_responses(401, 403, 404, 429, 503),
                },
            }
        },
        "/api/v1/public/sellers/{platform}/{shop_id}": {
            "get": {
                "operationId": "publicSeller",
                "summary": "A shop's ratings summary, trend and operating company; no login",
                "security": [],
                "parameters": seller_parameters,
                "responses": {
                    "200": _json("SellerSummary", "The summary."),
                    **_problem_responses(404),
                },
            }
        },
        "/sellers/{platform}/{shop_id}": {
            "get": {
                "operationId": "sellerPage",
                "summary": "A shop's ratings as a web page, with charts",
                "security": [],
                "parameters": seller_parameters,
                "responses": {
                    "200": {"description": "HTML", "content": {"text/html": {"schema": {}}}},
                    **_problem_responses(404),
                    **PAGE_RATE_LIMITED,
                },
            }
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


def _objection_paths() -> dict[str, Any]:
    signed: list[dict[str, list[str]]] = [{"memberSignature": []}]
    objection_id = _path("objection_id")
    visible = "The filer, the answering member or the subject's representative; 404 to others."
    return {
        "/api/v1/objections": {
            "post": {
                **_signed_post(
                    "fileObjection",
                    "Object to a record, a list entry or a rating",
                    "ObjectionRequest",
                    "ObjectionFiled",
                    201,
                ),
                "description": "The subject objects through the member that represents it "
                "(or, for a shop, its platform), and only its representative may attach a "
                "`statement`; another member objects only to an item of a subject it has "
                "looked up (the query log shows it), else 403 objection-not-allowed. The item "
                "is disputed at once, and the submitting member must answer within "
                "OBJECTION_ANSWER_DAYS days.",
            },
            "get": {
                "operationId": "listObjections",
                "summary": "Objections the caller must answer, or filed",
                "security": signed,
                "parameters": _query_parameters(InboxParamsSchema()),
                "responses": {
                    "200": _json("ObjectionList", "The objections."),
                    **_problem_responses(401, 422, 429),
                },
            },
        },
        "/api/v1/objections/{objection_id}": {
            "get": {
                "operationId": "getObjection",
                "summary": "One objection",
                "description": visible,
                "security": signed,
                "parameters": [objection_id],
                "responses": {
                    "200": _json("GeneralObjection", "The objection."),
                    **_problem_responses(401, 404, 429),
                },
            }
        },
        "/api/v1/objections/{objection_id}/answer": {
            "post": {
                **_signed_post(
                    "answerObjection",
                    "The submitting member answers: corrected, revoked or upheld",
                    "ObjectionAnswer",
                    "GeneralObjection",
                    200,
                    "objection_id",
                ),
                "description": "`corrected` needs a corrected version of the record sent "
                "since the objection; `revoked` revokes the record (or takes the list entry "
                "down); `upheld` keeps it, with the reason. A list entry is not corrected "
                "in place.",
            }
        },
        "/api/v1/objections/{objection_id}/statement": {
            "post": _signed_post(
                "objectionStatement",
                "The subject adds or replaces its statement, shown beside the item",
                "ObjectionStatement",
                "GeneralObjection",
                200,
                "objection_id",
            )
        },
    }


def _components_and_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    public_list_parameters = [
        _path("list_kind", uuid=False),
        *_query_parameters(PublicListSchema()),
    ]
    signed: list[dict[str, list[str]]] = [{"memberSignature": []}]
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
    paths: dict[str, Any] = {
        "/api/v1/submissions": {
            "post": {
                "operationId": "createSubmission",
                "summary": "Send credit records",
                "description": "All or nothing: any invalid record refuses the whole "
                "submission, and the 422 lists every error with its record index. Sending "
                "the same `submission_id` and body again returns the first receipt (200); "
                "the same id with another body is a 409.",
                "security": signed,
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {"schema": {"$ref": "#/components/schemas/Submission"}},
                        "application/x-ndjson": {
                            "schema": {
                                "type": "string",
                                "description": 'First line `{"submission_id": ...}`, then '
                                "one record per line.",
                            }
                        },
                    },
                },
                "responses": {
                    "201": _json(
                        "SignedReceipt",
                        "Accepted; the receipt is signed by the registry.",
                        headers={
                            "Location": {"schema": {"type": "string"}},
                        },
                    ),
                    "200": _json(
                        "SignedReceipt",
                        "Already accepted: the first receipt again.",
                        headers={
                            "Idempotent-Replayed": {"schema": {"const": "true"}},
                        },
                    ),
                    **_problem_responses(400, 401, 403, 409, 413, 415, 422, 429, 503),
                },
            }
        },
        "/api/v1/submissions/{submission_id}": {
            "get": {
                "operationId": "getSubmission",
                "summary": "The receipt of one of the caller's submissions",
                "security": signed,
                "parameters": [
                    {
                        "name": "submission_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "maxLength": 128},
                    }
                ],
                "responses": {
                    "200": _json("SignedReceipt", "The receipt."),
                    **_problem_responses(401, 403, 404, 429, 503),
                },
            }
        },
        "/api/v1/subjects": {
            "get": {
                "operationId": "searchSubjects",
                "summary": "Find counterparties by name, code, pinyin, with filters and facets",
                "description": "Enterprises and shops by name (Chinese, Traditional or "
                "Simplified, pinyin or initials, any legal form), USCC or shop id; a person "
                "only by `id_number`. Written to the query log with the stated purpose.",
                "security": signed,
                "parameters": _query_parameters(SearchParamsSchema()),
                "responses": {
                    "200": _json("SearchResult", "The hits, facet counts and next-page token."),
                    **_problem_responses(401, 403, 422, 429, 503),
                },
            }
        },
        "/api/v1/subjects/{subject_id}": {
            "get": {
                "operationId": "getSubject",
                "summary": "A subject from the database",
                "security": signed,
                "parameters": [
                    {
                        "name": "subject_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    },
                    *_query_parameters(SubjectParamsSchema()),
                ],
                "responses": {
                    "200": _json("Subject", "The subject."),
                    **_problem_responses(401, 403, 404, 422, 429, 503),
                },
            }
        },
        "/api/v1/screening": {
            "post": {
                "operationId": "screen",
                "summary": "Screen a list of names and codes",
                "description": "Up to SCREENING_MAX_ROWS rows. Small lists are answered at "
                "once (JSON, or CSV with `format=csv` or `Accept: text/csv`); larger ones "
                "become a job (202, Location). An exact USCC is decisive; otherwise one "
                "scorer ranks the backend's candidates, with an explanation per score. A row "
                "that cannot be screened is answered with decision `error` and its `errors` "
                "(counted in the summary) while the others are screened; with "
                "`all_or_nothing=true`, or when no row is good, the request is a 422 with "
                "every error.",
                "security": signed,
                "parameters": [
                    {
                        "name": "purpose",
                        "in": "query",
                        "required": False,
                        "description": "for a text/csv body",
                        "schema": {"enum": [str(p) for p in QueryPurpose]},
                    },
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {"enum": ["json", "csv"]},
                    },
                    BOM_PARAMETER,
                    {
                        "name": "all_or_nothing",
                        "in": "query",
                        "required": False,
                        "description": "`true`: one bad row refuses the whole request (422)",
                        "schema": {"enum": ["true", "false"]},
                    },
                    {
                        "name": "signed",
                        "in": "query",
                        "required": False,
                        "description": "`true`: answer (at once) with a `SignedScreening`, "
                        "the result signed with the query digest and the log checkpoint",
                        "schema": {"enum": ["true", "false"]},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {"schema": {"$ref": "#/components/schemas/ScreeningRequest"}},
                        "text/csv": {
                            "schema": {
                                "type": "string",
                                "description": "header line with name, uscc, region, "
                                "reference; " + CSV_CHARSETS,
                            }
                        },
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "purpose": {"type": "string"},
                                    "file": {"type": "string", "format": "binary"},
                                    "charset": {
                                        "type": "string",
                                        "description": "the file's charset, when its part "
                                        "does not declare it",
                                    },
                                },
                            }
                        },
                    },
                },
                "responses": {
                    "200": {
                        **SCREENING_RESULT,
                        "content": {
                            JSON: {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/ScreeningResult"},
                                        {"$ref": "#/components/schemas/SignedScreening"},
                                    ]
                                }
                            },
                            **CSV_CONTENT,
                        },
                    },
                    "202": _json("ScreeningJob", "Queued as a job; follow Location."),
                    **_problem_responses(400, 401, 403, 415, 422, 429, 503),
                },
            }
        },
        "/api/v1/screening/jobs/{job_id}": {
            "get": {
                "operationId": "screeningJob",
                "summary": "A screening job's progress",
                "security": signed,
                "parameters": [JOB_ID],
                "responses": {
                    "200": _json("ScreeningJob", "Progress."),
                    **_problem_responses(401, 403, 404, 429),
                },
            }
        },
        "/api/v1/screening/jobs/{job_id}/result": {
            "get": {
                "operationId": "screeningJobResult",
                "summary": "A finished screening job's result (JSON or CSV)",
                "security": signed,
                "parameters": [
                    JOB_ID,
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {"enum": ["json", "csv"]},
                    },
                    BOM_PARAMETER,
                    {
                        "name": "signed",
                        "in": "query",
                        "required": False,
                        "description": "`true`: answer (at once) with a `SignedScreening`, "
                        "the result signed with the query digest and the log checkpoint",
                        "schema": {"enum": ["true", "false"]},
                    },
                ],
                "responses": {
                    "200": {
                        **SCREENING_RESULT,
                        "content": {
                            JSON: {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/ScreeningResult"},
                                        {"$ref": "#/components/schemas/SignedScreening"},
                                    ]
                                }
                            },
                            **CSV_CONTENT,
                        },
                    },
                    **_problem_responses(401, 403, 404, 409, 422, 429),
                },
            }
        },
        "/api/v1/listings": {
            "post": _signed_post(
                "proposeListing",
                "Propose a blacklist or redlist entry (regulators)",
                "Proposal",
                "ListEntry",
                201,
            )
        },
        "/api/v1/listings/{entry_id}": {
            "get": {
                "operationId": "getListing",
                "summary": "One of the regulator's own entries",
                "security": signed,
                "parameters": [_path("entry_id")],
                "responses": {
                    "200": _json("ListEntry", "The entry."),
                    **_problem_responses(401, 403, 404, 429),
                },
            }
        },
        "/api/v1/listings/{entry_id}/withdraw": {
            "post": _signed_post(
                "withdrawListing", "Withdraw a proposal", "Reason", "ListEntry", 200, "entry_id"
            )
        },
        "/api/v1/listings/{entry_id}/revoke": {
            "post": _signed_post(
                "revokeListing",
                "Take a published entry down",
                "Reason",
                "ListEntry",
                200,
                "entry_id",
            )
        },
        "/api/v1/listings/{entry_id}/extend": {
            "post": _signed_post(
                "extendListing",
                "Extend a published entry's period (1 to 36 months)",
                "Extension",
                "ListEntry",
                200,
                "entry_id",
            )
        },
        "/api/v1/listings/{entry_id}/service": {
            "post": _signed_post(
                "recordListingService",
                "Record a notice the proposer served (post, in person, announcement, e-mail) "
                "with its date: the objection window starts then",
                "ServiceRecord",
                "ListEntry",
                200,
                "entry_id",
            )
        },
        "/api/v1/listings/{entry_id}/publish": {
            "post": {
                "operationId": "publishListing",
                "summary": "Publish at once an entry whose notice was served and whose "
                "objection window has closed with no objection waiting",
                "description": "The worker publishes such entries within a minute anyway. "
                "Refused with `/problems/notice-not-served` while the notice was never "
                "served, `/problems/objection-window-open` until the day after "
                "`objection_deadline`, `/problems/objection-pending` while an objection "
                "waits for its answer.",
                "security": signed,
                "parameters": [_path("entry_id")],
                "responses": {
                    "200": _json("ListEntry", "The published entry."),
                    **_problem_responses(401, 403, 404, 409, 429),
                },
            }
        },
        "/api/v1/notices": {
            "get": {
                "operationId": "listNotices",
                "summary": "The prior notices (告知) of list entries about the calling member "
                "(or a shop it operates), while they are in their notice stage",
                "description": "Reading them serves the notices not served yet on the member: "
                "the delivery time is recorded and the objection window runs from that day. "
                "The member's own report and its subject view serve them the same way.",
                "security": signed,
                "responses": {
                    "200": _json("Notices", "The entries in their notice stage."),
                    **_problem_responses(401, 429),
                },
            }
        },
        "/api/v1/listings/{entry_id}/objections": {
            "post": _signed_post(
                "objectToListing",
                "Object during the notice window (suspends publication)",
                "Objection",
                None,
                201,
                "entry_id",
            )
        },
        "/api/v1/ratings/{rating_id}/appeals": {
            "post": _signed_post(
                "appealRating",
                "The rated subject (or the member representing it) appeals its rating",
                "Appeal",
                None,
                201,
                "rating_id",
            )
        },
        "/api/v1/listings/{entry_id}/repairs": {
            "post": _signed_post(
                "applyForRepair",
                "The listed subject's own member applies for credit repair, with evidence and "
                "a public commitment, once the entry's minimum period is over",
                "RepairApplicationRequest",
                None,
                201,
                "entry_id",
            )
        },
        "/api/v1/records/{record_id}/repairs": {
            "post": _signed_post(
                "applyForPenaltyRepair",
                "The subject's own member asks that a published administrative penalty stop "
                "being published, once its severity's minimum period is over (general 3 "
                "months, serious 12, from the decision; settings); the authority that "
                "submitted it decides",
                "RepairApplicationRequest",
                None,
                201,
                "record_id",
            )
        },
        "/api/v1/repairs/{application_id}/decision": {
            "post": _signed_post(
                "decideRepair",
                "The authority grants or refuses a repair, with a reason",
                "RepairDecision",
                None,
                200,
                "application_id",
            )
        },
        "/api/v1/public/lists/{list_kind}": {
            "get": {
                "operationId": "publicList",
                "summary": "Published entries of a side (`blacklist`, `redlist`) or of a public "
                "kind (`judgment_debtor`, …). A kind that is not public "
                "(config/list_kinds.toml) is a 404.",
                "security": [],
                "parameters": public_list_parameters,
                "responses": {
                    "200": _json("PublicList", "A page of entries.", headers=NEXT_LINK),
                    **_problem_responses(404, 422),
                },
            }
        },
        "/api/v1/public/lists/{list_kind}.csv": {
            "get": {
                "operationId": "publicListCsv",
                "summary": "The same page of entries as CSV, a row an entry",
                "description": "Columns: "
                + ", ".join(f"`{c}`" for c in PUBLIC_LIST_COLUMNS)
                + ". `measures` holds the measures as worded, `measure_codes` their codes "
                "separated by spaces. The next page's address is in the `Link` header only.",
                "security": [],
                "parameters": public_list_parameters,
                "responses": {
                    "200": {
                        "description": "The entries as CSV (UTF-8).",
                        "headers": NEXT_LINK,
                        "content": {
                            "text/csv": {
                                "schema": {"type": "string"},
                                "example": ",".join(PUBLIC_LIST_COLUMNS) + "\r\n",
                            }
                        },
                    },
                    **_problem_responses(404, 422),
                },
            }
        },
        "/api/v1/public/lists/{list_kind}.atom": {
            "get": {
                "operationId": "publicListAtom",
                "summary": "The list's publications and removals as an Atom feed (RFC 4287), "
                "newest first, the last 100, for feed readers",
                "security": [],
                "parameters": [_path("list_kind", uuid=False)],
                "responses": {
                    "200": {
                        "description": "An Atom feed; each entry's id names the list entry "
                        "and the event (`published` or `removed`).",
                        "content": {
                            "application/atom+xml": {
                                "schema": {"type": "string"},
                                "example": ATOM_EXAMPLE,
                            }
                        },
                    },
                    **_problem_responses(404),
                },
            }
        },
        "/api/v1/registry/keys": {
            "get": {
                "operationId": "registryKeys",
                "summary": "The registry's public signing keys (JWKS)",
                "security": [],
                "responses": {"200": _json("JWKS", "The key set.")},
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/api/docs/assets/{name}": {
            "get": {
                "operationId": "apiDocsAsset",
                "summary": "A file of the rendered reference: Swagger UI's script, style sheet "
                "and icon, as installed with the registry, and the script that starts it",
                "security": [],
                "parameters": [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": sorted(RENDERER_ASSETS)},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The file.",
                        "content": {
                            "text/javascript": {"schema": {"type": "string"}},
                            "text/css": {"schema": {"type": "string"}},
                            "image/png": {"schema": {"type": "string"}},
                        },
                    },
                    **_problem_responses(404),
                },
            }
        },
        "/api/docs": {
            "get": {
                "operationId": "apiDocs",
                "summary": "This document, rendered for reading",
                "security": [],
                "responses": {
                    "200": {"description": "HTML", "content": {"text/html": {"schema": {}}}}
                },
            }
        },
        "/problems/{slug}": {
            "get": {
                "operationId": "problemType",
                "summary": "What a problem type means",
                "security": [],
                "parameters": [
                    {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": _json("ProblemType", "The description."),
                    **_problem_responses(404),
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "The process is up",
                "security": [],
                "responses": {"200": _json("Health", "Up.")},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Database reachable and migrated; search reachable or degraded "
                "(each check's status only; `creditreg ready` gives the details)",
                "security": [],
                "responses": {
                    "200": _json("Health", "Ready (status ok or degraded)."),
                    "503": _json("Health", "Not ready."),
                },
            }
        },
        "/lists/{list_kind}": {
            "get": {
                "operationId": "listPage",
                "summary": "A public list as a web page, with filters",
                "security": [],
                "parameters": [
                    _path("list_kind", uuid=False),
                    *_query_parameters(PublicListSchema()),
                ],
                "responses": {
                    "200": {"description": "HTML", "content": {"text/html": {"schema": {}}}},
                    **_problem_responses(404),
                    **PAGE_RATE_LIMITED,
                },
            }
        },
        "/": {
            "get": {
                "operationId": "home",
                "summary": "The public home page: a search of enterprises and shops, 20 "
                "results a page",
                "security": [],
                "parameters": [
                    {
                        "name": "q",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "a name, USCC or shop id; the page searches its "
                        "first 200 characters",
                    },
                    {
                        "name": "after",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "the page token of the results' next-page link",
                    },
                ],
                "responses": {
                    "200": {"description": "HTML", "content": {"text/html": {"schema": {}}}},
                    **PAGE_RATE_LIMITED,
                },
            }
        },
    }
    paths.update(_page_paths())
    paths.update(_seller_rating_paths())
    paths.update(_report_paths())
    paths.update(_measure_paths())
    paths.update(monitoring_openapi.paths(_problem_responses))
    paths.update(_objection_paths())
    paths.update(tlog_openapi.paths(_problem_responses))
    paths.update(records_openapi.paths(_problem_responses))
    # Every JSON body is read with a nesting limit (api/json_body.py), so every operation
    # that takes a body may answer that 400.
    for item in paths.values():
        for operation in item.values():
            if "requestBody" in operation:
                operation["responses"].setdefault("400", _problem_responses(400)["400"])
    return components, paths


INFO = {
    "summary": "Public-credit information-sharing registry",
    "description": "Members send credit records over signed requests and receive signed "
    "receipts. Errors are RFC 9457 problem details with a stable `type`.",
}


def build_document() -> dict[str, Any]:
    """The document: apispec's, its schemas converted from marshmallow by its plugin."""
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title="creditreg",
        version="1",
        openapi_version="3.1.0",
        plugins=[plugin],
        info=INFO,
        jsonSchemaDialect="https://spec.openapis.org/oas/3.1/dialect/base",
    )
    token = _PLUGIN.set(plugin)
    try:
        components, paths = _components_and_paths()
    finally:
        _PLUGIN.reset(token)
    for name, component in components.items():
        if name in spec.components.schemas:
            # Registered already by the plugin, as a schema nested in another: the same
            # schema, which the explicit entry describes.
            spec.components.schemas[name] = component
        else:
            spec.components.schema(name, component)
    spec.components.security_scheme(
        "memberSignature",
        {
            "type": "apiKey",
            "in": "header",
            "name": "Signature",
            "description": " ".join(SIGNATURE_SCHEME.split()),
        },
    )
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def app_document() -> dict[str, Any]:
    """The document, built once per app: it describes the code, which does not change."""
    document = current_app.extensions.get("creditreg.openapi")
    if document is None:
        document = current_app.extensions["creditreg.openapi"] = build_document()
    return document  # type: ignore[no-any-return]


@bp.get("/api/openapi.json")
def openapi_document() -> ResponseReturnValue:
    return Response(json.dumps(app_document(), ensure_ascii=False), mimetype=JSON)


@bp.get("/api/docs")
def api_docs() -> ResponseReturnValue:
    return render_template("api_docs.html")


@bp.get("/api/docs/assets/<name>")
def renderer_asset(name: str) -> ResponseReturnValue:
    folder = RENDERER_ASSETS.get(name)
    if folder is None:
        return problems.problem_response(
            problems.NOT_FOUND, f"the reference's files are {', '.join(sorted(RENDERER_ASSETS))}"
        )
    return send_from_directory(folder, name, max_age=RENDERER_ASSET_MAX_AGE)
