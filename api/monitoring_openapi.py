"""The OpenAPI description of ``/api/v1/monitoring`` (merged into ``api.openapi``)."""

from __future__ import annotations

from typing import Any

from api.webhooks import COVERED, DELIVERY_HEADER

JSON = "application/json"

WEBHOOK_DESCRIPTION = (
    "Deliveries are POSTed as JSON (`WebhookDelivery`) to the member's URL, signed with the "
    "registry's Ed25519 key (RFC 9421): the `keyid` is the `kid` published at "
    "`/api/v1/registry/keys`, the signature covers "
    + ", ".join(f"`{c}`" for c in COVERED)
    + f" (and `@query` when the URL has one). `{DELIVERY_HEADER}` carries the delivery id: "
    "a delivery that got no 2xx answer within the timeout is sent again, with exponential "
    "backoff, so a receiver may see it twice and should deduplicate on it (or on each "
    "event's id). Redirects are not followed."
)


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


# The rows a portfolio change takes, in any of three forms (api.monitoring._read_rows).
REQUEST_BODIES: dict[str, Any] = {
    "PortfolioRows": {
        "required": True,
        "content": {
            JSON: {"schema": _ref("PortfolioItems")},
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "columns subject_id and/or uscc; UTF-8 (a byte-order mark "
                    "is accepted) unless the Content-Type declares GB18030/GBK/GB2312",
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "contentMediaType": "text/csv"},
                        "charset": {
                            "type": "string",
                            "description": "the file's charset, when its part does not say",
                        },
                    },
                }
            },
        },
    }
}


def components() -> dict[str, Any]:
    item = {
        "type": "object",
        "description": "A subject by id, or an enterprise by USCC (both: they must agree).",
        "properties": {
            "subject_id": {"type": "string", "format": "uuid"},
            "uscc": {"type": "string"},
        },
        "additionalProperties": False,
    }
    event = {
        "type": "object",
        "required": ["id", "type", "subject_id", "item_id", "old", "new", "at", "detected_at"],
        "properties": {
            "id": {"type": "string", "description": "increasing; a decimal string"},
            "type": {
                "type": "string",
                "examples": [
                    "record.added",
                    "record.corrected",
                    "record.revoked",
                    "objection.filed",
                    "list.published",
                    "list.extended",
                    "list.removed",
                    "rating.changed",
                    "record.confirmation_due",
                ],
                "description": "a change of a watched subject; or, in the stream of the "
                "member that submitted it alone, `record.confirmation_due`: one of its open "
                "records is due for confirmation (`new` is an `OpenRecord`, see "
                "`/api/v1/records/confirmations/due`)",
            },
            "subject_id": {"type": "string", "format": "uuid"},
            "item_id": {"type": ["string", "null"], "description": "the record, entry, rating"},
            "old": {"type": ["object", "null"], "description": "null when the item is new"},
            "new": {"type": ["object", "null"], "description": "null when the item is gone"},
            "at": {"type": "string", "format": "date-time", "description": "when it changed"},
            "detected_at": {"type": "string", "format": "date-time"},
        },
    }
    delivery = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": {"enum": ["pending", "delivered", "failed"]},
            "events": {"type": "integer"},
            "first_event_id": {"type": "string"},
            "last_event_id": {"type": "string"},
            "attempts": {"type": "integer"},
            "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
            "created_at": {"type": "string", "format": "date-time"},
            "delivered_at": {"type": ["string", "null"], "format": "date-time"},
            "last_status_code": {"type": ["integer", "null"]},
            "last_error": {"type": ["string", "null"]},
        },
    }
    return {
        "PortfolioItems": {
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": item}},
            "additionalProperties": False,
        },
        "PortfolioChange": {
            "type": "object",
            "required": ["added", "removed", "total"],
            "properties": {name: {"type": "integer"} for name in ("added", "removed", "total")},
        },
        "PortfolioPage": {
            "type": "object",
            "required": ["items", "total", "next_after"],
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "subject_id": {"type": "string", "format": "uuid"},
                            "kind": {"type": "string"},
                            "name": {"type": "string"},
                            "uscc": {"type": ["string", "null"]},
                            "added_at": {"type": "string", "format": "date-time"},
                        },
                    },
                },
                "total": {"type": "integer"},
                "next_after": {"type": ["string", "null"], "format": "uuid"},
            },
        },
        "MonitoringEvent": event,
        "MonitoringEvents": {
            "type": "object",
            "required": ["events", "next_after", "more"],
            "properties": {
                "events": {"type": "array", "items": _ref("MonitoringEvent")},
                "next_after": {"type": "string", "description": "the `after` of the next call"},
                "more": {"type": "boolean"},
            },
        },
        "WebhookRegistration": {
            "type": "object",
            "required": ["url"],
            "properties": {"url": {"type": "string", "format": "uri", "maxLength": 2000}},
            "additionalProperties": False,
        },
        "Webhook": {
            "type": "object",
            "required": ["url", "signing_key_id"],
            "properties": {
                "url": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
                "delivered_through": {"type": "string"},
                "signing_key_id": {"type": "string"},
                "recent_deliveries": {"type": "array", "items": _ref("WebhookDeliveryStatus")},
            },
        },
        "WebhookDeliveryStatus": delivery,
        "WebhookDelivery": {
            "type": "object",
            "description": WEBHOOK_DESCRIPTION,
            "required": ["delivery_id", "events"],
            "properties": {
                "delivery_id": {"type": "string", "format": "uuid"},
                "events": {"type": "array", "items": _ref("MonitoringEvent")},
            },
        },
    }
