"""Working days: deadlines of the list workflow are counted in them (告知 objection window,
repair acknowledgement and decision).

Saturdays and Sundays are rest days, public holidays are too, and some weekend days are
working days in exchange for a longer holiday (调休). Both lists are configuration
(``HOLIDAYS``, ``MAKEUP_WORKDAYS``), published by the State Council each year.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class WorkingCalendar:
    holidays: frozenset[date] = frozenset()
    makeup_workdays: frozenset[date] = frozenset()

    @classmethod
    def of(
        cls, holidays: Iterable[date] = (), makeup_workdays: Iterable[date] = ()
    ) -> WorkingCalendar:
        return cls(frozenset(holidays), frozenset(makeup_workdays))

    def is_working_day(self, day: date) -> bool:
        if day in self.makeup_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, days: int) -> date:
        """The day on which a period of ``days`` working days that starts the day after
        ``start`` ends (the deadline day itself counts; ``days`` >= 1)."""
        if days < 1:
            raise ValueError("a period of working days has at least one day")
        day, counted = start, 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end``."""
        return sum(
            1
            for offset in range(1, (end - start).days + 1)
            if self.is_working_day(start + timedelta(days=offset))
        )
