"""Keyset paging: a page of rows after a position, and the position as an opaque token.

A page continues after the sort key of the last row the reader saw, never at an offset: rows
added or removed meanwhile neither repeat nor skip rows, and a deep page costs what the first
does. The token is that key in URL-safe base64 (JSON inside). It is opaque to readers, who
only send back what they received; it carries nothing they could not see on the page, so a
forged one only moves the position, and one that does not decode is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

# Longer than any token this module writes (a time, a UUID and brackets are under 120).
TOKEN_MAX = 200
BAD_AFTER = "not a page token of this registry"


@dataclass(frozen=True)
class Key:
    """One column of a page's sort order; the last key must be unique (the primary key)."""

    column: InstrumentedAttribute[Any]
    descending: bool = False

    def ordered(self) -> sa.ColumnElement[Any]:
        return self.column.desc() if self.descending else self.column.asc()

    def parse(self, value: Any) -> Any:
        sql_type = self.column.type
        if isinstance(sql_type, sa.TypeDecorator):  # UTCDateTime: a DateTime underneath
            sql_type = sql_type.impl_instance
        kind = sql_type.python_type
        if kind is datetime:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:  # the columns refuse naive times (registry.db)
                raise ValueError(BAD_AFTER)
            return moment
        if kind is uuid.UUID:
            return uuid.UUID(value)
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(BAD_AFTER)
            return value
        if not isinstance(value, str):
            raise ValueError(BAD_AFTER)
        return value


@dataclass
class Page:
    items: list[Any]
    next: str | None  # the token of the page after this one; None on the last page


def encode(values: Sequence[Any]) -> str:
    """The token of a position: the last row's sort key."""
    plain = [
        v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v
        for v in values
    ]
    raw = json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(token: str, keys: Sequence[Key]) -> list[Any]:
    """:raises ValueError: the token was not written by :func:`encode` for these keys."""
    if not token or len(token) > TOKEN_MAX:
        raise ValueError(BAD_AFTER)
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError(BAD_AFTER)
        return [key.parse(value) for key, value in zip(keys, values, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValueError(BAD_AFTER) from None


def _after(keys: Sequence[Key], values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """Rows past the position in the sort order. Spelt out column by column, not as a row
    comparison, because the directions may differ (newest first, then by id)."""
    key, value = keys[0], values[0]
    past = key.column < value if key.descending else key.column > value
    if len(keys) == 1:
        return past
    return sa.or_(past, sa.and_(key.column == value, _after(keys[1:], values[1:])))


def keyset_page(
    session: Session,
    query: sa.Select[Any],
    keys: Sequence[Key],
    *,
    after: str | None,
    size: int,
) -> Page:
    """The ``size`` entities of ``query`` (a select of one mapped class) that follow the
    position ``after`` in the order of ``keys``.

    :raises ValueError: ``after`` is not a token of these keys.
    """
    if after is not None:
        query = query.where(_after(keys, decode(after, keys)))
    rows = list(session.scalars(query.order_by(*(key.ordered() for key in keys)).limit(size + 1)))
    if len(rows) <= size:
        return Page(rows, None)
    rows = rows[:size]
    return Page(rows, encode([getattr(rows[-1], key.column.key) for key in keys]))
