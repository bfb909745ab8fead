"""Query and path parameters that endpoints read by hand (the others are loaded by
marshmallow schemas): what each of them accepts, checked the same way everywhere."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.routing import PathConverter, UnicodeConverter, ValidationError

from api.schemas import has_nul

# The largest value of SQLite's and PostgreSQL's 64-bit integer columns: the drivers refuse
# a larger parameter with an error of their own, so no id or position is past it.
MAX_SQL_INTEGER = 2**63 - 1


def parse_integer(text: str, *, minimum: int = 0, maximum: int = MAX_SQL_INTEGER) -> int | None:
    """The integer ``text`` writes in ASCII digits, if it lies in [minimum, maximum]; else None.

    ``str.isdigit`` alone lets through digits ``int`` refuses (``²``) and numbers past the
    columns' range, and ``int`` refuses a string of more than 4,300 digits: each of those
    was a 500.
    """
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None


def integer_arg(
    name: str,
    errors: list[dict[str, str]],
    *,
    default: int | None = None,
    minimum: int = 0,
    maximum: int = MAX_SQL_INTEGER,
) -> int:
    """The integer query parameter ``name``, or ``default`` when it is absent (None: it is
    required). Outside its range it is a field error added to ``errors``, never quietly
    clamped; the value returned then is only a placeholder."""
    raw = request.args.get(name)
    if raw is None and default is not None:
        return default
    value = parse_integer(raw or "", minimum=minimum, maximum=maximum)
    if value is None:
        errors.append({"field": name, "message": f"an integer from {minimum} to {maximum}"})
        return minimum
    return value


class NulRefusing:
    """A path converter that refuses NUL (see :func:`api.schemas.has_nul`): a path with one
    matches no route, a 404, before any handler looks the id up."""

    def to_python(self, value: str) -> str:
        if has_nul(value):
            raise ValidationError()
        return value


class TextConverter(NulRefusing, UnicodeConverter):
    """The default converter, ``<name>`` and ``<string:name>``."""


class PathTextConverter(NulRefusing, PathConverter):
    """``<path:name>``."""


def init_app(app: Flask) -> None:
    """Every route's text path parameters refuse NUL. Call it before any route is added: a
    route keeps the converters that were in place when it was added."""
    app.url_map.converters.update(
        default=TextConverter, string=TextConverter, path=PathTextConverter
    )
