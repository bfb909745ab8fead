"""Reading JSON request bodies, with a limit on how deeply they nest.

Python's json module parses nested arrays and objects by recursion: a body of a few
thousand ``[`` raised RecursionError, which no handler expects, and the request ended in a
500. Every JSON body the API reads, through ``request.get_json`` or parsed by its endpoint,
goes through :func:`loads`, which measures the nesting first, without recursion, and refuses
a body deeper than any document of the API is.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider

from api import problems

# The deepest document of the API (a submission: records, a record, its subject or amount)
# nests four levels; the limit leaves room and stays far below the recursion limit.
MAX_DEPTH = 32

TOO_DEEP = problems.register(
    "json-too-deep",
    400,
    "JSON nested too deeply",
    f"The body nests arrays and objects more than {MAX_DEPTH} levels deep, deeper than any "
    "document of the API. Nothing was read or applied.",
)

# A JSON string with its escapes: brackets inside one are text, not nesting.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class NestedTooDeep(Exception):
    """A JSON body nests deeper than :data:`MAX_DEPTH`.

    Not a ValueError on purpose: ``request.get_json(silent=True)`` turns those into "no
    body", and this must reach its own problem answer instead.
    """


def too_deep(text: str) -> bool:
    """Whether ``text`` nests arrays and objects deeper than :data:`MAX_DEPTH` (counted in
    one pass over its brackets, so any depth is measured without recursion)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    for bracket in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_DEPTH:
            return True
    return False


def loads(data: str | bytes, **options: Any) -> Any:
    """``json.loads`` for a request body, refusing deep nesting before parsing.

    :raises NestedTooDeep: the body nests deeper than :data:`MAX_DEPTH`.
    :raises ValueError: the body is not JSON (``json.JSONDecodeError``, or
        ``UnicodeDecodeError`` for bytes that are not text).
    """
    if isinstance(data, bytes | bytearray):
        # What json.loads does with bytes: UTF-8, -16 or -32, told from the first bytes.
        data = bytes(data).decode(json.detect_encoding(data), "surrogatepass")
    if too_deep(data):
        raise NestedTooDeep(f"the body nests deeper than {MAX_DEPTH} levels")
    return json.loads(data, **options)


class DepthLimitedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with request bodies read by :func:`loads`."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s, **kwargs)


def init_app(app: Flask) -> None:
    app.json = DepthLimitedJSONProvider(app)

    @app.errorhandler(NestedTooDeep)
    def _too_deep(exc: NestedTooDeep) -> Response:
        return problems.problem_response(TOO_DEEP, str(exc))
