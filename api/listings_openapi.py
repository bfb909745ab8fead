"""The OpenAPI description of list entries: proposals, notices, decisions, repairs, public lists
and joint measures (merged into ``api.openapi``)."""

from __future__ import annotations

from typing import Any

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
from api.openapi_schemas import NEXT_AFTER, object_schema
from registry.list_kinds import LIST_NAMES, ListKind
from registry.listings import ListingState, NoticeChannel

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
        "AppliedMeasureReport": object_schema(
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


def components() -> dict[str, Any]:
    return {
        **_measure_components(),
        "Proposal": object_schema(ProposalSchema(), "A regulator's proposal of a list entry."),
        "Reason": object_schema(ReasonSchema()),
        "Extension": object_schema(ExtensionSchema()),
        "Objection": object_schema(ObjectionSchema()),
        "RepairApplicationRequest": object_schema(RepairSchema()),
        "RepairDecision": object_schema(DecisionSchema()),
        "ServiceRecord": object_schema(
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
    }
