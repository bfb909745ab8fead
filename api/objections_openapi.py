"""The OpenAPI description of objections (异议) and appeals (merged into ``api.openapi``)."""

from __future__ import annotations

from typing import Any

from api.objections import AnswerSchema, ObjectionRequestSchema, StatementSchema
from api.openapi_schemas import NEXT_AFTER, object_schema
from api.ratings import AppealSchema


def _objection_components() -> dict[str, Any]:
    from registry.objections import ItemKind, ObjectionStatus, Outcome

    nullable_time = {"type": ["string", "null"], "format": "date-time"}
    return {
        "ObjectionRequest": object_schema(
            ObjectionRequestSchema(), "An objection (异议) to a record, a list entry or a rating."
        ),
        "ObjectionAnswer": object_schema(
            AnswerSchema(), "The submitting member's answer, always with a reason."
        ),
        "ObjectionStatement": object_schema(StatementSchema(), "The subject's statement."),
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


def components() -> dict[str, Any]:
    return {
        **_objection_components(),
        "Appeal": object_schema(AppealSchema(), "A subject's appeal of its published rating."),
    }
