"""The one CSV writer of the registry: every CSV it serves is written here.

A spreadsheet that opens a CSV runs a cell beginning with ``=``, ``+``, ``-`` or ``@`` (some
also after a leading tab or carriage return) as a formula. Names, reasons and references come
from members, so a subject named ``=HYPERLINK(...)`` would run on the reader's machine. Such
text cells are written with a leading ``'`` (OWASP's rule for CSV injection), which
spreadsheets show as text and never evaluate.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from flask import Response

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


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
    return Response(out.getvalue(), mimetype="text/csv", headers=headers)
