"""The OpenAPI description of credit reports and the consents they need (merged into
``api.openapi``)."""

from __future__ import annotations

from typing import Any

from api.openapi_schemas import object_schema
from api.reports import ConsentSchema
from registry.querylog import QueryPurpose


def _report_components() -> dict[str, Any]:
    return {
        "Consent": object_schema(
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


def components() -> dict[str, Any]:
    return {**_report_components()}
