"""双公示 (double publicity): administrative licences and penalties are to be published within
7 working days of their decision (DOMAIN.md "Credit records").

The registry publishes what it receives, so it measures the authorities' timeliness at
receipt: a licence or penalty received after the 7th working day that follows its decision
date is late. A late record is accepted like any other (refusing it would only keep an
overdue decision from the public longer), marked (``CreditRecord.publicity_late``, with the
deadline it missed in ``publicity_due_on``), shown so to members with the record, and counted
per authority for staff (:func:`lateness_by_authority`, the console and ``creditreg records
publicity``).

Working days are those of the registry's calendar (registry.calendar: weekends, the State
Council's holidays and make-up working days). The mark is computed at intake, on its hot
path: no query, and each decision date's deadline is counted once per rule
(:meth:`PublicityRule.due_on`), which the intake builds once per submission.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.calendar import WorkingCalendar, calendar_from_settings, published_years
from registry.clock import start_of_day
from registry.records import CreditRecord, RecordCategory

PUBLICITY_CATEGORIES = frozenset(
    {RecordCategory.ADMINISTRATIVE_LICENCE, RecordCategory.ADMINISTRATIVE_PENALTY}
)
DEFAULT_WORKING_DAYS = 7
NOT_MEASURED = {"publicity_due_on": None, "publicity_late": None}


@dataclass
class PublicityRule:
    calendar: WorkingCalendar
    working_days: int = DEFAULT_WORKING_DAYS
    # A submission's records share a few decision dates: each deadline is counted once.
    _due: dict[date, date] = field(default_factory=dict, repr=False, compare=False)

    def due_on(self, decided: date) -> date:
        """The last working day to publish a decision of ``decided``: the day of the
        ``working_days``-th working day after it."""
        due = self._due.get(decided)
        if due is None:
            due = self._due[decided] = self.calendar.add_working_days(decided, self.working_days)
        return due

    def marks(self, category: Any, decided_at: date | None, received_on: date) -> dict[str, Any]:
        """The record's ``publicity_due_on`` and ``publicity_late`` columns: both NULL for a
        category outside 双公示 (or a record without a decision date)."""
        if category not in PUBLICITY_CATEGORIES or decided_at is None:
            return dict(NOT_MEASURED)
        due = self.due_on(decided_at)
        return {"publicity_due_on": due, "publicity_late": received_on > due}


def rule_from_settings(settings: Any) -> PublicityRule:
    return PublicityRule(calendar_from_settings(settings), settings.PUBLICITY_WORKING_DAYS)


@functools.cache
def _shipped_calendar() -> WorkingCalendar:
    return WorkingCalendar.of(years=published_years(""))


def default_rule() -> PublicityRule:
    """The rule without settings (domain calls outside a request, such as the demo's): the
    shipped calendars and 7 working days."""
    return PublicityRule(_shipped_calendar())


# --- the staff report ------------------------------------------------------------------------

REPORT_DAYS = 365  # the report's default window: the last twelve months


@dataclass(frozen=True)
class Window:
    """Days of receipt on the registry's calendar, both included."""

    since: date
    until: date

    @classmethod
    def ending(cls, today: date, since: date | None = None, until: date | None = None) -> Window:
        """From ``since`` to ``until``; by default the :data:`REPORT_DAYS` up to ``today``."""
        until = until or today
        return cls(since or until - timedelta(days=REPORT_DAYS - 1), until)

    def bounds(self) -> tuple[datetime, datetime]:
        return start_of_day(self.since), start_of_day(self.until + timedelta(days=1))


@dataclass(frozen=True)
class AuthorityLateness:
    authority: str | None
    received: int
    late: int
    licences_late: int
    penalties_late: int

    @property
    def late_share(self) -> float:
        return self.late / self.received if self.received else 0.0

    def view(self) -> dict[str, Any]:
        return {
            "authority": self.authority,
            "received": self.received,
            "late": self.late,
            "late_share": round(self.late_share, 4),
            "licences_late": self.licences_late,
            "penalties_late": self.penalties_late,
        }


def lateness_by_authority(session: Session, window: Window) -> list[AuthorityLateness]:
    """Licences and penalties the registry received in ``window``, per issuing authority:
    how many, and how many late; most late first.

    Revoked records count too (they were late when received); records past their retention
    have left for the archive and no longer count."""
    late = CreditRecord.publicity_late.is_(True)
    since, until = window.bounds()

    def late_of(category: RecordCategory) -> Any:
        return sa.func.sum(sa.case((sa.and_(late, CreditRecord.category == category), 1), else_=0))

    query = (
        sa.select(
            CreditRecord.authority,
            sa.func.count(),
            sa.func.sum(sa.case((late, 1), else_=0)),
            late_of(RecordCategory.ADMINISTRATIVE_LICENCE),
            late_of(RecordCategory.ADMINISTRATIVE_PENALTY),
        )
        .where(
            CreditRecord.publicity_late.is_not(None),
            CreditRecord.created_at >= since,
            CreditRecord.created_at < until,
        )
        .group_by(CreditRecord.authority)
    )
    rows = [
        AuthorityLateness(authority, int(count), int(late_count or 0), int(lic or 0), int(pen or 0))
        for authority, count, late_count, lic, pen in session.execute(query)
    ]
    return sorted(rows, key=lambda row: (-row.late, -row.received, row.authority or ""))


def late_count(session: Session, window: Window) -> int:
    """Late licences and penalties received in ``window`` (the dashboard's figure)."""
    since, until = window.bounds()
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(CreditRecord)
            .where(
                CreditRecord.publicity_late.is_(True),
                CreditRecord.created_at >= since,
                CreditRecord.created_at < until,
            )
        )
        or 0
    )
