"""The OpenAPI description of screening: the request, the result and the job (merged into
``api.openapi``)."""

from __future__ import annotations

from typing import Any

from registry.querylog import QueryPurpose


def components() -> dict[str, Any]:
    return {
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
                                            "description": "each feature (uscc, trade_name, "
                                            "division, industry, legal_form, branch, region), "
                                            "its similarity, weight, contribution to the score "
                                            "and detail (`trade name 金瑞祥 / 金瑞[祥→详]`); a "
                                            "last item `decision` says why the candidate is at "
                                            "most a possible match",
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
    }
