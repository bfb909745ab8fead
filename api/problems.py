"""RFC 9457 problem details: every error the API gives has this shape.

A problem's ``type`` is a stable relative URI, ``/problems/<slug>``, which the registry serves
as a short description of the problem; clients branch on it, people read ``detail``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, json, request
from marshmallow import Schema, ValidationError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from registry.errors import Conflict, Forbidden, InvalidInput, NotFound, RegistryError

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        return f"/problems/{self.slug}"


# The catalogue of problem types; the OpenAPI document and /problems/<slug> are built from it.
PROBLEM_TYPES: dict[str, ProblemType] = {}


def register(slug: str, status: int, title: str, description: str) -> ProblemType:
    """Add a problem type to the catalogue (each feature registers its own)."""
    problem_type = ProblemType(slug, status, title, description)
    PROBLEM_TYPES[slug] = problem_type
    return problem_type


BAD_REQUEST = register(
    "bad-request",
    400,
    "Bad request",
    "The request could not be read (malformed syntax or framing).",
)
VALIDATION = register(
    "validation-failed",
    422,
    "Validation failed",
    "One or more fields are invalid; `errors` lists every one of them.",
)
NOT_FOUND = register("not-found", 404, "Not found", "There is no such resource.")
METHOD_NOT_ALLOWED = register(
    "method-not-allowed", 405, "Method not allowed", "The resource does not support this method."
)
CONFLICT = register(
    "conflict", 409, "Conflict", "The request conflicts with the current state of the resource."
)
FORBIDDEN = register(
    "forbidden", 403, "Forbidden", "The caller is known but not allowed to do this."
)
PAYLOAD_TOO_LARGE = register(
    "payload-too-large", 413, "Payload too large", "The request body exceeds the registry's limit."
)
UNSUPPORTED_MEDIA_TYPE = register(
    "unsupported-media-type",
    415,
    "Unsupported media type",
    "The request body is not in a media type this endpoint reads.",
)
SERVICE_UNAVAILABLE = register(
    "service-unavailable",
    503,
    "Service unavailable",
    "A dependency is unavailable; retry after the given delay.",
)
SEARCH_UNAVAILABLE = register(
    "search-unavailable",
    503,
    "Search unavailable",
    "The search backend does not answer; retry after the delay in Retry-After. Lookups of a "
    "subject by id still work.",
)
MALFORMED_BODY = register(
    "malformed-body", 400, "Malformed body", "The body is not well-formed JSON (or NDJSON)."
)
CONCURRENT_CHANGE = register(
    "concurrent-change",
    409,
    "Concurrent change",
    "Another request changed the same data at the same moment; retry the request.",
)
INTERNAL = register(
    "internal-error",
    500,
    "Internal error",
    "The registry failed unexpectedly; the incident is logged. Nothing of the request was applied.",
)

_BY_STATUS = {
    400: BAD_REQUEST,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    409: CONFLICT,
    403: FORBIDDEN,
    413: PAYLOAD_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
    422: VALIDATION,
    503: SERVICE_UNAVAILABLE,
}
_BY_DOMAIN_ERROR: dict[type[RegistryError], ProblemType] = {
    NotFound: NOT_FOUND,
    Conflict: CONFLICT,
    InvalidInput: VALIDATION,
    Forbidden: FORBIDDEN,
}


def problem_response(
    problem_type: ProblemType,
    detail: str,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": problem_type.uri,
        "title": problem_type.title,
        "status": status or problem_type.status,
        "detail": detail,
    }
    if request:
        body["instance"] = request.path
    body.update({k: v for k, v in extensions.items() if v is not None})
    response = Response(
        json.dumps(body, ensure_ascii=False), status=body["status"], mimetype=PROBLEM_MEDIA_TYPE
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def search_unavailable(session: Any) -> Response:
    """The answer to a lookup or a screening whose search backend failed (away, too slow,
    or refusing a search): logged with its cause, the request's transaction rolled back
    (nothing of it is logged as a query), and the caller told when to retry."""
    log.warning("search backend failed", exc_info=True)
    session.rollback()
    return problem_response(
        SEARCH_UNAVAILABLE, SEARCH_UNAVAILABLE.description, headers={"Retry-After": "5"}
    )


def map_domain_error(error: type[RegistryError], problem_type: ProblemType) -> None:
    """Answer a domain error class with this problem type (each feature maps its own)."""
    _BY_DOMAIN_ERROR[error] = problem_type


def field_errors(errors: dict[str, Any], prefix: str = "") -> list[dict[str, str]]:
    """Flatten nested marshmallow-style errors into ``[{"field": "records.3.amount", ...}]``."""
    flat: list[dict[str, str]] = []
    for key, value in errors.items():
        # A client may send a field with an empty name: name it visibly, never as "".
        name = str(key) if str(key) != "" else '""'
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(value, dict):
            flat.extend(field_errors(value, path))
        elif isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, dict):
                    flat.extend(field_errors(item, path))
                else:
                    flat.append({"field": path, "message": str(item)})
        else:
            flat.append({"field": path, "message": str(value)})
    return flat


def validation_problem(exc: ValidationError, detail: str) -> Response:
    """422 with every field error of a marshmallow refusal; ``detail`` may name ``{count}``."""
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    errors = field_errors(messages)
    return problem_response(VALIDATION, detail.format(count=len(errors)), errors=errors)


def load_or_problem(schema: Schema, data: Any, detail: str) -> dict[str, Any] | Response:
    """``schema.load(data)``, or the 422 problem listing every error (see
    :func:`validation_problem`)."""
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        return validation_problem(exc, detail)
    return loaded


# Addresses that answer machines only: their errors are problem documents whoever asks.
MACHINE_PREFIXES = ("/api/", "/problems/", "/healthz", "/readyz")


def wants_page() -> bool:
    """Whether this error goes to a person's browser: a page address (the public pages, the
    console), asked for by a client that prefers HTML over JSON. Everything else gets the
    problem document."""
    if request.path.startswith(MACHINE_PREFIXES):
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html" and request.accept_mimetypes["text/html"] > 0


def error_page(status: int, headers: dict[str, str] | None = None) -> Response:
    """The error as a page in the visitor's language (admin/templates/error.html)."""
    from flask import render_template

    body = render_template("error.html", status=status)
    return Response(body, status=status, headers=headers or {}, mimetype="text/html")


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        problem_type = _BY_STATUS.get(exc.code or 500)
        if problem_type is None:
            problem_type = ProblemType(
                f"http-{exc.code}", exc.code or 500, exc.name, exc.description or exc.name
            )
        headers = dict(exc.get_headers()) if exc.code == 405 else {}
        headers.pop("Content-Type", None)
        if wants_page():
            if exc.code == 429 and exc.response is not None:
                headers.update(
                    {k: v for k, v in exc.response.headers.items() if k == "Retry-After"}
                )
            return error_page(exc.code or 500, headers)
        return problem_response(
            problem_type,
            exc.description or problem_type.description,
            status=exc.code,
            headers=headers,
        )

    @app.errorhandler(RegistryError)
    def _domain_error(exc: RegistryError) -> Response:
        problem_type = _BY_DOMAIN_ERROR.get(type(exc))
        if problem_type is None:
            problem_type = next(
                (p for cls, p in _BY_DOMAIN_ERROR.items() if isinstance(exc, cls)), CONFLICT
            )
        errors = field_errors(exc.errors) if isinstance(exc, InvalidInput) else None
        return problem_response(problem_type, exc.detail, errors=errors, **exc.extensions)

    @app.errorhandler(IntegrityError)
    def _integrity_error(exc: IntegrityError) -> Response:
        # A unique constraint caught a race that the checks before it could not see.
        from flask import g

        session = g.get("_creditreg_session")
        if session is not None:
            session.rollback()
        log.warning("request refused by a database constraint: %s", type(exc.orig).__name__)
        return problem_response(CONCURRENT_CHANGE, CONCURRENT_CHANGE.description)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Never a stack trace on the wire; the log keeps it (redacted) for the operator.
        log.exception("unhandled error on %s %s", request.method, request.path)
        from sqlalchemy.exc import OperationalError

        if isinstance(exc, OperationalError):
            if wants_page():
                return error_page(503, {"Retry-After": "5"})
            return problem_response(
                SERVICE_UNAVAILABLE, "the database is unavailable", headers={"Retry-After": "5"}
            )
        if wants_page():
            return error_page(500)
        return problem_response(INTERNAL, INTERNAL.description)
