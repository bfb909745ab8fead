"""The OpenAPI description of subject lookups: search hits and a subject by id (merged into
``api.openapi``)."""

from __future__ import annotations

from typing import Any

from api.openapi_schemas import NEXT_AFTER, nullable_strings

# What a search hit and a subject by id both show.
SUBJECT_LOOKUP_FIELDS: dict[str, Any] = {
    **nullable_strings("uscc", "shop_id", "platform_id", "region", "industry", "grade"),
    "lists": {"type": "array", "items": {"type": "string"}},
    "list_entries": {"type": "array", "items": {"type": "object"}},
    "record_counts": {"$ref": "#/components/schemas/RecordCounts"},
}


def components() -> dict[str, Any]:
    return {
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
                "name_parts": {
                    "type": "object",
                    "description": "a name searched: how the nearest of the subject's names "
                    "compares with it, part by part (division, trade name 字号, industry, "
                    "legal form, branch), and what keeps it from being the same company",
                    "required": ["name", "parts", "differences"],
                    "properties": {
                        "name": {"type": "string"},
                        "parts": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["feature", "similarity", "detail"],
                                "properties": {
                                    "feature": {
                                        "enum": [
                                            "trade_name",
                                            "division",
                                            "industry",
                                            "legal_form",
                                            "branch",
                                        ]
                                    },
                                    "similarity": {"type": "number"},
                                    "detail": {"type": "string"},
                                },
                            },
                        },
                        "differences": {"type": "array", "items": {"type": "string"}},
                    },
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
                **nullable_strings("id_number_masked", "operator_uscc"),
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
    }
