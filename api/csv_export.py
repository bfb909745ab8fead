"""The one CSV writer of the registry: every CSV it serves is written here.

A spreadsheet that opens a CSV runs a cell beginning with ``=``, ``+``, ``-`` or ``@`` (some
also after a leading tab or carriage return) as a formula. Names, reasons and references come
from members, so a subject named ``=HYPERLINK(...)`` would run on the reader's machine. Such
text cells are written with a leading ``'`` (OWASP's rule for CSV injection), which
spreadsheets show as text and never evaluate.

Every CSV is UTF-8. Excel opens a CSV as UTF-8 only when it starts with a byte-order mark,
and shows Chinese names as mojibake otherwise; a reader asks for the mark with ``?bom=1``
or ``Accept: text/csv; bom=1``. It is not the default: the mark is a stray character to
every program that is not Excel.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from flask import Response, has_request_context, request
from marshmallow import fields, validate

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# The query parameter that asks for the byte-order mark, for the schemas of CSV endpoints.
BOM_FIELD = fields.String(
    validate=validate.OneOf(["1", "true", "0", "false"]),
    metadata={
        "description": "`1`: a CSV answer starts with a UTF-8 byte-order mark, so that Excel "
        "reads it as UTF-8 (also asked with `Accept: text/csv; bom=1`)"
    },
)


def spreadsheet_safe(value: Any) -> Any:
    """The cell as it is written: text a spreadsheet would run as a formula gets a leading ``'``.

    Numbers pass as they are, negative ones too: the registry formatted them itself (a
    score, a row number), and ``-0.5`` is read as the number it is. A prefix would turn it
    into text and break the column's sums. A number sent by a member reaches a CSV as the
    text it was sent as, and that text is neutralised like any other.
    """
    if value is None or isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def csv_response(
    columns: Sequence[str], rows: Iterable[Mapping[str, Any]], *, filename: str | None = None
) -> Response:
    """A ``text/csv`` response: a header of ``columns``, then each row's values in that
    order (a missing value is an empty cell), every cell through :func:`spreadsheet_safe`."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([spreadsheet_safe(row.get(column)) for column in columns])
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'} if filename else {}
    body = ("\ufeff" if wants_byte_order_mark() else "") + out.getvalue()
    return Response(body, content_type="text/csv; charset=utf-8", headers=headers)


def wants_byte_order_mark() -> bool:
    """The request asks for a UTF-8 byte-order mark: ``?bom=1`` or ``text/csv; bom=1``."""
    if not has_request_context():
        return False
    if request.args.get("bom") in {"1", "true"}:
        return True
    return any(
        "bom=1" in value.replace(" ", "").lower().split(";")[1:]
        for value in request.headers.get("Accept", "").split(",")
        if value.strip().lower().startswith("text/csv")
    )
