"""The OpenAPI description of platforms' seller ratings: batches, receipts and a shop's summary
(merged into ``api.openapi``)."""

from __future__ import annotations

from typing import Any

from flask import current_app

from api.openapi_schemas import object_schema
from api.seller_ratings import ScoresSchema, SellerRatingBatchSchema, SellerRatingSchema
from registry.seller_ratings import RECEIPT_TYPE as SELLER_RATING_RECEIPT_TYPE


def _seller_rating_components() -> dict[str, Any]:
    batch = object_schema(SellerRatingBatchSchema(), "A platform's batch of seller ratings.")
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
        "SellerRating": object_schema(SellerRatingSchema(), "One buyer's rating of one order."),
        "Scores": object_schema(ScoresSchema(), "Detailed scores, 1 to 5."),
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


def components() -> dict[str, Any]:
    return {**_seller_rating_components()}
