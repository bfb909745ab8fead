"""The OpenAPI description of ``/api/v1/records`` (merged into ``api.openapi``)."""

from __future__ import annotations

from typing import Any

from registry import person_notices
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


PERSON_NOTICES = (
    "Before negative information about a person is shared, the person is told. A negative "
    "record on a person is held from lookups, screening, members' reports, monitoring and "
    "ratings until its submitter confirms that the person was told (the day and the channel: "
    "`person_notice` in the record when it is sent, or here later), or PERSON_NOTICE_WAIT_DAYS "
    "(10) days after the registry's own notice, which staff serve when the submitter does "
    "not confirm. The person's own report shows held records, marked."
)
CHANNELS = [str(c) for c in person_notices.Channel]


# A page of a member's records, in the order of its own record ids: parameters of the
# document's components, named in the routes' docstrings.
PARAMETERS: dict[str, dict[str, Any]] = {
    "RecordPageLimit": {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
    },
    "RecordPageAfter": {
        "name": "after",
        "in": "query",
        "required": False,
        "description": "the `next_after` of the previous page",
        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
    },
}


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
        "HeldRecord": {
            "type": "object",
            "description": PERSON_NOTICES,
            "required": [
                "record_id",
                "registry_id",
                "subject_id",
                "category",
                "held_for_notice",
                "told_on",
                "channel",
                "told_by",
                "shared_from",
            ],
            "properties": {
                "record_id": {"type": "string", "description": "the member's own record id"},
                "registry_id": {"type": "string", "format": "uuid"},
                "subject_id": {"type": "string", "format": "uuid"},
                "category": {"type": "string"},
                "held_for_notice": {"type": "boolean"},
                "told_on": {
                    "type": ["string", "null"],
                    "format": "date",
                    "description": "the day the person was told; null while nobody has said",
                },
                "channel": {"type": ["string", "null"], "enum": [*CHANNELS, None]},
                "told_by": {
                    "type": ["string", "null"],
                    "enum": [*(str(t) for t in person_notices.ToldBy), None],
                    "description": "submitter: the member's word; registry: the registry's "
                    "own notice",
                },
                "shared_from": {
                    "type": ["string", "null"],
                    "format": "date",
                    "description": "held after the registry's notice: the day it is shared",
                },
            },
        },
        "HeldRecords": {
            "type": "object",
            "required": ["records", "next_after", "wait_days"],
            "properties": {
                "records": {"type": "array", "items": _ref("HeldRecord")},
                "next_after": {
                    "type": ["string", "null"],
                    "description": "the `after` of the next page; null on the last",
                },
                "wait_days": {"type": "integer", "description": "PERSON_NOTICE_WAIT_DAYS"},
            },
        },
        "PersonNotices": {
            "type": "object",
            "required": ["notices"],
            "properties": {
                "notices": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": person_notices.CONFIRM_MAX,
                    "items": {
                        "type": "object",
                        "required": ["record_id", "told_on", "channel"],
                        "properties": {
                            "record_id": {"type": "string", "minLength": 1, "maxLength": 128},
                            "told_on": {"type": "string", "format": "date"},
                            "channel": {"type": "string", "enum": CHANNELS},
                        },
                        "additionalProperties": False,
                    },
                }
            },
            "additionalProperties": False,
        },
        "PersonNoticesRecorded": {
            "type": "object",
            "required": ["records"],
            "properties": {"records": {"type": "array", "items": _ref("HeldRecord")}},
        },
        "OpenRecordsConfirmed": {
            "type": "object",
            "required": ["records"],
            "properties": {"records": {"type": "array", "items": _ref("OpenRecord")}},
        },
    }
