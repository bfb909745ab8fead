"""The OpenAPI description of ``/api/v1/records`` (merged into ``api.openapi``)."""

from __future__ import annotations

from typing import Any

from registry.open_records import CONFIRM_MAX, EVENT_TYPE

JSON = "application/json"

OPEN_RECORDS = (
    "A negative record of an open-ended category (by default loan_default, tax_arrears, "
    "dishonest_debtor, court_judgment, contract_performance, payment_experience: "
    "RETENTION_OPEN_CATEGORIES) sent without an `ended_at` is kept until its submitter sends "
    "the end, a correction setting `ended_at`; its 5 years of retention count from that end. "
    "OPEN_RECORD_CONFIRM_DAYS (365) after the event began, or after the submitter last "
    "confirmed it, the record is due for confirmation: it is listed here from that day on, "
    f"and the submitter gets one `{EVENT_TYPE}` event in its own monitoring stream (`GET "
    "/api/v1/monitoring/events`, and its webhook if it registered one: both for members with "
    "the querier role). The submitter sends "
    "the end, or confirms the record still open, which starts the days again."
)


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def components() -> dict[str, Any]:
    open_record = {
        "type": "object",
        "required": [
            "record_id",
            "registry_id",
            "subject_id",
            "category",
            "open_since",
            "confirmed_at",
            "due_on",
            "requested_at",
        ],
        "properties": {
            "record_id": {"type": "string", "description": "the member's own record id"},
            "registry_id": {"type": "string", "format": "uuid"},
            "subject_id": {"type": "string", "format": "uuid"},
            "category": {"type": "string"},
            "open_since": {
                "type": "string",
                "format": "date",
                "description": "the decision or event date (else the day it was received)",
            },
            "confirmed_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "when the member last confirmed it still open",
            },
            "due_on": {
                "type": "string",
                "format": "date",
                "description": "the day it fell (or falls) due for confirmation",
            },
            "requested_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": f"when the registry last sent the `{EVENT_TYPE}` event",
            },
        },
    }
    return {
        "OpenRecord": {**open_record, "description": OPEN_RECORDS},
        "OpenRecordsDue": {
            "type": "object",
            "required": ["records", "next_after", "confirm_days"],
            "properties": {
                "records": {"type": "array", "items": _ref("OpenRecord")},
                "next_after": {
                    "type": ["string", "null"],
                    "description": "the `after` of the next page; null on the last",
                },
                "confirm_days": {"type": "integer", "description": "OPEN_RECORD_CONFIRM_DAYS"},
            },
        },
        "OpenRecordConfirmation": {
            "type": "object",
            "required": ["record_ids"],
            "properties": {
                "record_ids": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": CONFIRM_MAX,
                    "items": {"type": "string", "minLength": 1, "maxLength": 128},
                    "description": "the member's own ids of records whose event still goes on",
                }
            },
            "additionalProperties": False,
        },
        "OpenRecordsConfirmed": {
            "type": "object",
            "required": ["records"],
            "properties": {"records": {"type": "array", "items": _ref("OpenRecord")}},
        },
    }


def paths(problem_responses: Any) -> dict[str, Any]:
    """The records paths; ``problem_responses(*statuses)`` is ``api.openapi``'s helper."""
    signed: list[dict[str, list[str]]] = [{"memberSignature": []}]
    return {
        "/api/v1/records/confirmations/due": {
            "get": {
                "operationId": "openRecordsDue",
                "summary": "The member's open records due for confirmation",
                "description": OPEN_RECORDS + " Submitters only; in the order of the "
                "member's record ids, a page at a time.",
                "security": signed,
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                    {
                        "name": "after",
                        "in": "query",
                        "required": False,
                        "description": "the `next_after` of the previous page",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The records, by record id.",
                        "content": {JSON: {"schema": _ref("OpenRecordsDue")}},
                    },
                    **problem_responses(401, 403, 422, 429),
                },
            }
        },
        "/api/v1/records/confirmations": {
            "post": {
                "operationId": "confirmOpenRecords",
                "summary": "Confirm that records of the member's are still open",
                "description": "Each confirmation is recorded with its time (`confirmed_at`) "
                "and audited, and starts OPEN_RECORD_CONFIRM_DAYS again; a record may be "
                "confirmed before it is due. All or nothing: the 422 lists every id that "
                "names no open record of the member (`record_ids.<index>`: unknown or "
                "another member's, revoked, ended, or of a category not kept open). To "
                "end a record instead, send it corrected with its `ended_at`.",
                "security": signed,
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": _ref("OpenRecordConfirmation")}},
                },
                "responses": {
                    "200": {
                        "description": "Confirmed; when each falls due next.",
                        "content": {JSON: {"schema": _ref("OpenRecordsConfirmed")}},
                    },
                    **problem_responses(400, 401, 403, 422, 429),
                },
            }
        },
    }
