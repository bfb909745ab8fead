"""The OpenAPI 3.1 description of the API, built with apispec from the code it describes,
and its reference page.

Each route describes its operation in its view's docstring (YAML after ``---``); the builder
walks the app's routes and completes each from the route itself (path parameters, who may
call it, its problem answers). Request and query schemas are the marshmallow schemas that
validate them, converted by apispec's plugin; response schemas are described beside each part
of the registry (``api/*_openapi.py``); problem types come from the problem catalogue. So the
document cannot drift from what the registry enforces, and tests check that every route is
described and that real responses match.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

from apispec import APISpec, yaml_utils
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    json,
    render_template,
    request,
)
from flask.typing import ResponseReturnValue
from werkzeug.routing import Rule

from api import (
    listings_openapi,
    monitoring_openapi,
    objections_openapi,
    permissions,
    problems,
    records_openapi,
    reports_openapi,
    screening_openapi,
    seller_ratings_openapi,
    subjects_openapi,
    submissions_openapi,
    tlog_openapi,
)
from api.auth import ACCEPT_SIGNATURE
from api.openapi_schemas import JSON, PLUGIN, PROBLEM, schema_name

bp = Blueprint("openapi", __name__, template_folder="templates")

# /api/docs renders the document with Swagger UI, from the copy the flask-swagger-ui package
# installs (no CDN: the pages' Content-Security-Policy allows the registry's own scripts
# only); its start-up script is a file of the registry's, since no inline script may run.
SWAGGER_UI = Path(str(files("flask_swagger_ui") / "dist"))
RENDERER_ASSETS = {
    "swagger-ui-bundle.js": (SWAGGER_UI, "text/javascript"),
    "swagger-ui.css": (SWAGGER_UI, "text/css"),
    "favicon-32x32.png": (SWAGGER_UI, "image/png"),
    "api_docs.js": (Path(__file__).parent / "static", "text/javascript"),
}
RENDERER_ASSET_MAX_AGE = 3600


# --- the document ---------------------------------------------------------------------------


# What a refused request looks like: every field error at once, each with its dotted path.
FIELD_ERRORS_EXAMPLE = {
    "type": problems.VALIDATION.uri,
    "title": problems.VALIDATION.title,
    "status": 422,
    "detail": "2 field error(s)",
    "errors": [
        {"field": "records.0.amount.value", "message": "Not a valid decimal."},
        {"field": "records.1.decided_at", "message": "Missing data for required field."},
    ],
}


def _problem_responses(*statuses: int) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for problem_type in problems.PROBLEM_TYPES.values():
        by_status.setdefault(problem_type.status, []).append(problem_type.uri)
    responses: dict[str, Any] = {}
    for status in statuses:
        kinds = ", ".join(f"`{uri}`" for uri in sorted(by_status.get(status, [])))
        response: dict[str, Any] = {
            "description": f"Problem types: {kinds}." if kinds else "A problem.",
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if status == 401:
            response["headers"] = {
                "Accept-Signature": {
                    "description": "How to sign (RFC 9421 section 5.1).",
                    "schema": {"type": "string"},
                }
            }
        if status in (429, 503):
            response["headers"] = {
                "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}
            }
        if status == 422:
            response["content"][PROBLEM]["example"] = FIELD_ERRORS_EXAMPLE
        responses[str(status)] = response
    return responses


SIGNATURE_SCHEME = f"""Every member request is signed with HTTP Message Signatures (RFC 9421)
using a key registered for the member (`ed25519`, or `ecdsa-p256-sha256`). The signature must
cover `@method`, `@authority`, `@path` (as sent, percent-encoding included), `@query` when the
URL has a query, and `content-digest` (RFC 9530, `sha-256`) when there is a body; it may cover
more, and should cover `content-type` with a body (the registry's own client does; it is not
required, so that older clients keep working). Parameters: `keyid` (the key's
RFC 7638 thumbprint, given when the key is registered), `created`, `expires` (at most 300 s
after `created`), `nonce` (8 to 128 characters, once per key). Clock skew of 60 s is allowed
by default. The registry answers an unsigned request with `Accept-Signature: {ACCEPT_SIGNATURE}`.
Every refusal is a 401 whose problem `type` names the reason."""


def _path(name: str, *, uuid: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "format": "uuid"} if uuid else {"type": "string"}
    return {"name": name, "in": "path", "required": True, "schema": schema}


# The modules that describe the responses of each part of the registry, beside its routes.
COMPONENT_MODULES = (
    submissions_openapi,
    subjects_openapi,
    screening_openapi,
    listings_openapi,
    seller_ratings_openapi,
    reports_openapi,
    monitoring_openapi,
    objections_openapi,
    tlog_openapi,
    records_openapi,
)


def _components() -> dict[str, Any]:
    components: dict[str, Any] = {
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details.",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {
                    "type": "string",
                    "description": "Stable; `GET` it for a description.",
                    "enum": sorted(p.uri for p in problems.PROBLEM_TYPES.values()),
                },
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "errors": {
                    "type": "array",
                    "description": "Every field error at once; `field` is a dotted path such "
                    "as `records.3.amount.value`.",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        },
        "ProblemType": {
            "type": "object",
            "required": ["type", "status", "title", "description"],
            "properties": {
                "type": {"type": "string"},
                "status": {"type": "integer"},
                "title": {"type": "string"},
                "description": {"type": "string"},
            },
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"enum": ["ok", "degraded", "unavailable"]},
                "checks": {"type": "object", "additionalProperties": {"type": "object"}},
            },
        },
    }
    for module in COMPONENT_MODULES:
        components.update(module.components())
    return components


INTRODUCTION = (
    "Members send credit records over signed requests and receive signed receipts. Errors "
    "are RFC 9457 problem details with a stable `type`."
)


def _description() -> str:
    """The document's introduction, in Markdown as the reference renders it: the signing
    scheme, then the catalogue of problem types."""
    catalogue = sorted(problems.PROBLEM_TYPES.values(), key=lambda p: (p.status, p.slug))
    rows = [f"| [`{p.uri}`]({p.uri}) | {p.status} | {p.title} |" for p in catalogue]
    return "\n\n".join(
        [
            INTRODUCTION,
            "## Signing requests",
            " ".join(SIGNATURE_SCHEME.split()),
            "## Problem types",
            "\n".join(["| type | status | title |", "| --- | --- | --- |", *rows]),
        ]
    )


def build_document() -> dict[str, Any]:
    """The document: apispec's, its schemas converted from marshmallow by its plugin."""
    plugin = MarshmallowPlugin(schema_name_resolver=schema_name)
    spec = APISpec(
        title="creditreg",
        version="1",
        openapi_version="3.1.0",
        plugins=[plugin],
        info={
            "summary": "Public-credit information-sharing registry",
            "description": _description(),
        },
        jsonSchemaDialect="https://spec.openapis.org/oas/3.1/dialect/base",
    )
    token = PLUGIN.set(plugin)
    try:
        components = _components()
    finally:
        PLUGIN.reset(token)
    for name, component in components.items():
        if name in spec.components.schemas:
            # Registered already by the plugin, as a schema nested in another: the same
            # schema, which the explicit entry describes.
            spec.components.schemas[name] = component
        else:
            spec.components.schema(name, component)
    for name, response in SHARED_RESPONSES.items():
        spec.components.response(name, response)
    for name, parameter in PARAMETERS.items():
        spec.components.parameter(name, parameter["in"], parameter)
    spec.components.security_scheme(
        "memberSignature",
        {
            "type": "apiKey",
            "in": "header",
            "name": "Signature",
            "description": " ".join(SIGNATURE_SCHEME.split()),
        },
    )
    for path, operations in route_operations(current_app).items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


# --- the operations, from the routes ------------------------------------------------------

# The console is a staff UI, not part of the API; static files are not operations.
UNDESCRIBED_ENDPOINTS = ("static", "public.static")
ROUTE_ARGUMENT = re.compile(r"<(?:(?P<converter>[a-z]+):)?(?P<name>\w+)>")
# Path arguments that name a row of the registry by its UUID, whatever their route's
# converter (a view that takes any text answers a malformed one with its own problem).
UUID_ARGUMENTS = frozenset(
    {
        "application_id",
        "consent_id",
        "entry_id",
        "job_id",
        "objection_id",
        "rating_id",
        "record_id",
        "report_id",
        "subject_id",
    }
)


def described_rules(app: Flask) -> list[Rule]:
    """The routes the document describes: every one but the console's and static files."""
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in UNDESCRIBED_ENDPOINTS and not rule.endpoint.startswith("console.")
    ]


def openapi_path(rule: Rule) -> str:
    return ROUTE_ARGUMENT.sub(r"{\g<name>}", rule.rule)


def route_operations(app: Flask) -> dict[str, dict[str, Any]]:
    """Each route's operations, as its view's docstring describes them after ``---`` (YAML,
    read by apispec), completed from what the route itself says: its path parameters, who
    may call it (``api.permissions``: public, or signed by a member) and its problems."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in described_rules(app):
        described = yaml_utils.load_operations_from_docstring(
            app.view_functions[rule.endpoint].__doc__ or ""
        )
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = described.get(method.lower())
            if operation is not None:  # the test of the document names any route left out
                paths.setdefault(openapi_path(rule), {})[method.lower()] = _complete_operation(
                    rule, copy.deepcopy(operation)
                )
    return paths


# Bodies several operations take, named in their docstrings (`requestBody: PortfolioRows`).
REQUEST_BODIES: dict[str, Any] = {**monitoring_openapi.REQUEST_BODIES}

# Parameters several operations take, named in their docstrings (`- LogIndex`).
PARAMETERS: dict[str, dict[str, Any]] = {**records_openapi.PARAMETERS, **tlog_openapi.PARAMETERS}

# Answers many operations give, named in their docstrings' responses (`201: Done`).
SHARED_RESPONSES: dict[str, Any] = {
    "Done": {"description": "Done.", "content": {JSON: {"schema": {"type": "object"}}}},
    "HtmlPage": {"description": "HTML", "content": {"text/html": {"schema": {}}}},
    # Every public page is limited per client address (PUBLIC_RATE_LIMIT_PER_MINUTE,
    # admin.web): past it the page is a short plain-text answer, in both languages.
    "PageRateLimited": {
        "description": "Too many requests from this address this minute "
        "(PUBLIC_RATE_LIMIT_PER_MINUTE); plain text.",
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
}


def _complete_operation(rule: Rule, operation: dict[str, Any]) -> dict[str, Any]:
    """The operation as the document states it. Besides OpenAPI, a docstring may say
    ``problems: [401, 404]`` for the problem answers of those statuses, and name a request
    body by the schema it sends as JSON (``requestBody: Proposal``) or by a body several
    routes take (``monitoring_openapi.REQUEST_BODIES``)."""
    # Grouped in the reference by blueprint: the routes of one part of the registry together.
    operation.setdefault("tags", [rule.endpoint.rpartition(".")[0] or "public"])
    public = permissions.ACCESS.get(rule.endpoint) == permissions.PUBLIC
    operation["security"] = [] if public else [{"memberSignature": []}]
    parameters = [
        PARAMETERS[p] if isinstance(p, str) else p for p in operation.get("parameters", [])
    ]
    given = {p.get("name") for p in parameters if p.get("in") == "path"}
    path_parameters = [
        _path(match["name"], uuid=match["converter"] == "uuid" or match["name"] in UUID_ARGUMENTS)
        for match in ROUTE_ARGUMENT.finditer(rule.rule)
        if match["name"] not in given
    ]
    if path_parameters or "parameters" in operation:
        operation["parameters"] = [*path_parameters, *operation.get("parameters", [])]
    body = operation.get("requestBody")
    if isinstance(body, str):
        operation["requestBody"] = copy.deepcopy(REQUEST_BODIES.get(body)) or {
            "required": True,
            "content": {JSON: {"schema": body}},
        }
    responses = operation.setdefault("responses", {})
    statuses = operation.pop("problems", [])
    # Every JSON body is read with a nesting limit (api/json_body.py), so every operation
    # that takes a body may answer that 400.
    if "requestBody" in operation and 400 not in statuses:
        statuses = [400, *statuses]
    for status, response in _problem_responses(*statuses).items():
        responses.setdefault(status, response)
    return operation


def app_document() -> dict[str, Any]:
    """The document, built once per app: it describes the code, which does not change."""
    document = current_app.extensions.get("creditreg.openapi")
    if document is None:
        document = current_app.extensions["creditreg.openapi"] = build_document()
    return document  # type: ignore[no-any-return]


@bp.get("/api/openapi.json")
def openapi_document() -> ResponseReturnValue:
    """This document.

    ---
    get:
      operationId: openapi
      summary: This document
      responses:
        200:
          description: OpenAPI 3.1
          content:
            application/json:
              schema:
                type: object
    """
    return Response(json.dumps(app_document(), ensure_ascii=False), mimetype=JSON)


@bp.get("/api/docs")
def api_docs() -> ResponseReturnValue:
    """This document, rendered for reading.

    ---
    get:
      operationId: apiDocs
      summary: This document, rendered for reading
      responses:
        200: HtmlPage
    """
    return render_template("api_docs.html")


@bp.get("/api/docs/assets/<name>")
def renderer_asset(name: str) -> ResponseReturnValue:
    """A file of the rendered reference: Swagger UI's script, style sheet and icon, as installed
    with the registry, and the script that starts it.

    ---
    get:
      operationId: apiDocsAsset
      summary: 'A file of the rendered reference: Swagger UI''s script, style sheet and icon,
        as installed with the registry, and the script that starts it'
      parameters:
        - name: name
          in: path
          required: true
          schema:
            enum:
              - api_docs.js
              - favicon-32x32.png
              - swagger-ui-bundle.js
              - swagger-ui.css
      responses:
        200:
          description: The file.
          content:
            text/javascript:
              schema:
                type: string
            text/css:
              schema:
                type: string
            image/png:
              schema:
                type: string
      problems: [404]
    """
    if name not in RENDERER_ASSETS:
        return problems.problem_response(
            problems.NOT_FOUND, f"the reference's files are {', '.join(sorted(RENDERER_ASSETS))}"
        )
    content, etag = _renderer_asset(name)
    response = Response(content, mimetype=RENDERER_ASSETS[name][1])
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = RENDERER_ASSET_MAX_AGE
    return response.make_conditional(request)


@functools.cache
def _renderer_asset(name: str) -> tuple[bytes, str]:
    """The file's bytes and their digest, read once: a few files the package installed,
    which do not change while the registry runs."""
    content = (RENDERER_ASSETS[name][0] / name).read_bytes()
    return content, hashlib.sha256(content).hexdigest()[:32]
