"""What the modules describing the API share: marshmallow schemas converted to JSON Schema
(2020-12, as OpenAPI 3.1 uses) by apispec's plugin, and a few common pieces."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

from api import problems
from api.schemas import RecordSchema

JSON = "application/json"
PROBLEM = problems.PROBLEM_MEDIA_TYPE
# The one paging convention of the API (README, "Paging"): a page ends with the token of the
# page after it, sent back as `after`.
NEXT_AFTER: dict[str, Any] = {
    "type": ["string", "null"],
    "description": "an opaque token: send it as `after` for the next page; null on the last",
}

# The plugin of the document being built (api.openapi.build_document): a request schema is
# converted by the plugin of the spec it goes in, which registers the schemas it nests and
# refers to them by name.
PLUGIN: ContextVar[MarshmallowPlugin] = ContextVar("openapi_marshmallow_plugin")


def schema_name(schema: type[Schema] | Schema) -> str:
    schema_class = schema if isinstance(schema, type) else type(schema)
    return schema_class.__name__.removesuffix("Schema")


def object_schema(schema: Schema, description: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = PLUGIN.get().converter.schema2jsonschema(schema)  # type: ignore[union-attr]
    document["type"] = "object"
    if isinstance(schema, RecordSchema):
        # The category rules the schema checks in code, stated for readers and generators.
        document["properties"]["polarity"] = {"type": "string", "enum": list(schema.polarities)}
        required = document.setdefault("required", [])
        required += [name for name in schema.required_fields if name not in required]
        if schema.severity_required and "severity" not in required:
            required.append("severity")
    doc = description or (type(schema).__doc__ or "").strip()
    if doc:
        document["description"] = " ".join(doc.split())
    return document


def nullable_strings(*names: str) -> dict[str, Any]:
    return {name: {"type": ["string", "null"]} for name in names}
