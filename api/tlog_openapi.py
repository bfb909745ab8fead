"""The OpenAPI description of the transparency log's routes (merged into ``api.openapi``)."""

from __future__ import annotations

from typing import Any

from api.params import MAX_SQL_INTEGER
from api.tlog import SCREENING_STATEMENT_TYPE

JSON = "application/json"

LOG_DESCRIPTION = (
    "An append-only Merkle tree (RFC 9162: leaf SHA-256(0x00 || entry), node "
    "SHA-256(0x01 || left || right)) of every accepted submission and every list "
    "publication, extension and removal. Each entry is RFC 8785 canonical JSON; a submission's "
    "entry is made of its receipt's fields, so a member can recompute its leaf. Checkpoints "
    "are C2SP tlog-checkpoint signed notes (origin, size, base64 root; signature line "
    "`— <origin> base64(key hash || Ed25519 signature)`) by the key of "
    "`/api/v1/registry/keys`; the registry never signs two inconsistent ones. "
    "`creditreg client verify-receipt` and `creditreg client audit-log` verify them."
)


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _position(name: str, where: str = "query", minimum: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": True,
        "schema": {"type": "integer", "minimum": minimum, "maximum": MAX_SQL_INTEGER},
    }


# Positions in the log (each a number the database can hold): parameters of the document's
# components, named in the routes' docstrings.
PARAMETERS: dict[str, dict[str, Any]] = {
    "LogEntryIndex": _position("index", "path"),
    "LogIndex": _position("index"),
    "LogSize": _position("size", minimum=1),
    "LogFrom": _position("from"),
    "LogTo": _position("to"),
}


def components() -> dict[str, Any]:
    hashes = {"type": "array", "items": {"type": "string", "description": "base64"}}
    return {
        "LogEntry": {
            "type": "object",
            "required": ["index", "kind", "entry", "entry_base64", "withheld", "leaf_hash"],
            "properties": {
                "index": {"type": "integer", "minimum": 0},
                "kind": {"enum": ["submission", "list"]},
                "entry": {
                    "type": "object",
                    "description": "the entry, parsed; the ids of records and list entries "
                    "about persons (or no longer held) are null",
                },
                "entry_base64": {
                    "type": ["string", "null"],
                    "description": "the entry's exact bytes (the leaf hashes these); null when "
                    "something was withheld",
                },
                "withheld": {
                    "type": "boolean",
                    "description": "ids were withheld: the leaf hash still proves the entry's "
                    "place, and a member rebuilds its own submission's entry from its receipt",
                },
                "leaf_hash": {"type": "string", "description": "base64 SHA-256(0x00 || entry)"},
            },
        },
        "InclusionProof": {
            "type": "object",
            "required": ["index", "tree_size", "proof"],
            "properties": {
                "index": {"type": "integer"},
                "tree_size": {"type": "integer"},
                "proof": hashes,
            },
        },
        "ConsistencyProof": {
            "type": "object",
            "required": ["from", "to", "proof"],
            "properties": {"from": {"type": "integer"}, "to": {"type": "integer"}, "proof": hashes},
        },
        "ReceiptWithProof": {
            "allOf": [_ref("SignedReceipt")],
            "type": "object",
            "required": ["log_proof"],
            "properties": {
                "log_proof": {
                    "type": "string",
                    "description": "C2SP tlog-proof (`c2sp.org/tlog-proof@v1`): the entry as "
                    "`extra`, its `index`, the inclusion proof hashes, a blank line, and the "
                    "signed checkpoint they lead to. Verifies offline.",
                }
            },
        },
        "SignedScreening": {
            "type": "object",
            "description": "`signature` is Ed25519 (base64url) over the RFC 8785 form of "
            "`statement`, by the key `registry_key_id`.",
            "required": ["statement", "signature", "registry_key_id"],
            "properties": {
                "statement": {
                    "type": "object",
                    "required": [
                        "type",
                        "member_id",
                        "key_id",
                        "purpose",
                        "query_digest",
                        "issued_at",
                        "checkpoint",
                        "results",
                    ],
                    "properties": {
                        "type": {"const": SCREENING_STATEMENT_TYPE},
                        "member_id": {"type": "string", "format": "uuid"},
                        "key_id": {"type": "string"},
                        "purpose": {"type": "string"},
                        "query_digest": {
                            "type": "string",
                            "description": "RFC 9530 Content-Digest of the request body",
                        },
                        "issued_at": {"type": "string", "format": "date-time"},
                        "checkpoint": {
                            "type": ["string", "null"],
                            "description": "the latest signed checkpoint when it ran",
                        },
                        "results": _ref("ScreeningResult"),
                    },
                },
                "signature": {"type": "string"},
                "registry_key_id": {"type": "string"},
            },
        },
    }
