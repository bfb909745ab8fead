"""The OpenAPI description of submissions: the records, the receipts and the registry's keys
(merged into ``api.openapi``)."""

from __future__ import annotations

from typing import Any

from flask import current_app

from api.openapi_schemas import object_schema, schema_name
from api.schemas import (
    CATEGORY_SCHEMAS,
    AmountSchema,
    PersonNoticeSchema,
    RevokeSchema,
    SubjectRefSchema,
    SubmissionSchema,
)
from registry.intake import RECEIPT_TYPE


def _record_schemas() -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    for category, schema in CATEGORY_SCHEMAS.items():
        document = object_schema(schema, f"An upsert of a {category} record.")
        document["properties"]["category"] = {"const": str(category)}
        schemas[f"{schema_name(type(schema))}Record"] = document
    schemas["RevokeRecord"] = object_schema(RevokeSchema(), "Revokes one of the member's records.")
    return schemas


def components() -> dict[str, Any]:
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
        "Amount": object_schema(AmountSchema(), "A sum of money as a decimal string."),
        "SubjectRef": object_schema(SubjectRefSchema()),
        "PersonNotice": object_schema(
            PersonNoticeSchema(), "The submitter's word that the person was told."
        ),
        **_record_schemas(),
        "Submission": {
            **object_schema(SubmissionSchema(), "A batch of records, applied all or nothing."),
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
    }
    record_refs = [{"$ref": f"#/components/schemas/{name}"} for name in _record_schemas()]
    components["Submission"]["properties"]["records"] = {
        "type": "array",
        "minItems": 1,
        "maxItems": current_app.extensions["creditreg.settings"].SUBMISSION_MAX_RECORDS,
        "items": {"oneOf": record_refs},
    }
    return components
