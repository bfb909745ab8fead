"""The OpenAPI description of ``/api/v1/monitoring`` (merged into ``api.openapi``)."""

from __future__ import annotations

from typing import Any

from api.webhooks import COVERED, DELIVERY_HEADER

JSON = "application/json"
PROBLEM = "application/problem+json"

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


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref(ref)}}}


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


def paths(problem_responses: Any) -> dict[str, Any]:
    """The monitoring paths; ``problem_responses(*statuses)`` is ``api.openapi``'s helper."""
    signed: list[dict[str, list[str]]] = [{"memberSignature": []}]
    portfolio_body = {
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
    change_errors = problem_responses(400, 401, 403, 413, 415, 422, 429)

    def change(operation_id: str, summary: str, description: str) -> dict[str, Any]:
        return {
            "operationId": operation_id,
            "summary": summary,
            "description": description,
            "security": signed,
            "requestBody": portfolio_body,
            "responses": {"200": _json("PortfolioChange", "Done."), **change_errors},
        }

    rows_note = (
        " All or nothing: the 422 lists every bad row, JSON rows as `items.<index>.<field>`, "
        "CSV rows as `rows.<line>.<field>` (header = line 1). At most "
        "MONITORING_PORTFOLIO_MAX subjects per member."
    )
    query = {"in": "query", "required": False}
    return {
        "/api/v1/monitoring/portfolio": {
            "get": {
                "operationId": "getPortfolio",
                "summary": "The member's watched subjects, in pages",
                "security": signed,
                "parameters": [
                    {"name": "after", **query, "schema": {"type": "string", "format": "uuid"}},
                    {
                        "name": "limit",
                        **query,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                ],
                "responses": {
                    "200": _json("PortfolioPage", "A page."),
                    **problem_responses(401, 403, 422, 429),
                },
            },
            "put": change(
                "replacePortfolio",
                "Replace the portfolio",
                "The portfolio becomes exactly these subjects." + rows_note,
            ),
            "post": change(
                "addToPortfolio",
                "Add subjects to the portfolio",
                "Subjects already watched are left as they are." + rows_note,
            ),
        },
        "/api/v1/monitoring/portfolio/removals": {
            "post": change(
                "removeFromPortfolio",
                "Stop watching these subjects",
                "Subjects not in the portfolio are ignored." + rows_note,
            )
        },
        "/api/v1/monitoring/portfolio/{subject_id}": {
            "delete": {
                "operationId": "removePortfolioItem",
                "summary": "Stop watching one subject",
                "security": signed,
                "parameters": [
                    {
                        "name": "subject_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    }
                ],
                "responses": {
                    "204": {"description": "Removed."},
                    **problem_responses(401, 403, 404, 429),
                },
            }
        },
        "/api/v1/monitoring/events": {
            "get": {
                "operationId": "getMonitoringEvents",
                "summary": "The member's change events after a cursor",
                "description": "Events of the subjects the member watched when they happened, "
                "in id order. Call again with `after` = `next_after`.",
                "security": signed,
                "parameters": [
                    {
                        "name": "after",
                        **query,
                        "schema": {"type": "string", "pattern": "^[0-9]+$"},
                    },
                    {
                        "name": "limit",
                        **query,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                ],
                "responses": {
                    "200": _json("MonitoringEvents", "Events."),
                    **problem_responses(401, 403, 422, 429),
                },
            }
        },
        "/api/v1/monitoring/webhook": {
            "get": {
                "operationId": "getWebhook",
                "summary": "The member's webhook and its recent deliveries",
                "security": signed,
                "responses": {
                    "200": _json("Webhook", "The webhook."),
                    **problem_responses(401, 403, 404, 429),
                },
            },
            "put": {
                "operationId": "putWebhook",
                "summary": "Register or change the member's webhook URL",
                "description": "An https:// URL whose host resolves to public internet "
                "addresses only (checked again at each delivery). " + WEBHOOK_DESCRIPTION,
                "security": signed,
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": _ref("WebhookRegistration")}},
                },
                "responses": {
                    "200": _json("Webhook", "Registered."),
                    **problem_responses(400, 401, 403, 422, 429),
                },
            },
            "delete": {
                "operationId": "deleteWebhook",
                "summary": "Stop webhook deliveries (events stay readable by polling)",
                "security": signed,
                "responses": {
                    "204": {"description": "Removed."},
                    **problem_responses(401, 403, 404, 429),
                },
            },
        },
    }
