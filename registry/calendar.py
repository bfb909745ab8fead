"""Working days: deadlines of the list workflow are counted in them (告知 objection window,
repair acknowledgement and decision).

Saturdays and Sundays are rest days, public holidays are too, and some weekend days are
working days in exchange for a longer holiday (调休). The State Council publishes each year's
calendar in November or December; the registry ships the published years as data
(``config/calendars/<year>.toml``), staff add a new year with ``creditreg calendar add``
(into ``CALENDAR_DIR``), and the ``HOLIDAYS`` / ``MAKEUP_WORKDAYS`` settings add single days.

A year no calendar covers is counted as plain weekdays, and the registry says so: the
calendar knows which years it covers, and ``/readyz``, the console and the CLI name the
years a deadline may reach that it does not.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

SHIPPED_CALENDARS = Path(__file__).resolve().parent.parent / "config" / "calendars"
# How far ahead the registry checks that its calendar covers the year: the longest
# working-day period it counts (10 working days, a few weeks over a long holiday) fits well
# inside it.
HORIZON = timedelta(days=60)


class CalendarFileError(ValueError):
    """A year's calendar file that cannot be read, or says something impossible."""


@dataclass(frozen=True)
class YearCalendar:
    year: int
    source: str
    holidays: frozenset[date]
    makeup_workdays: frozenset[date]


def _days(entries: Any, year: int, field: str) -> set[date]:
    if not isinstance(entries, list):
        raise CalendarFileError(f"{field}: expected a list of dates or date ranges")
    days: set[date] = set()
    for entry in entries:
        text = str(entry)
        first_text, _, last_text = text.partition("..")
        try:
            first = date.fromisoformat(first_text.strip())
            last = date.fromisoformat(last_text.strip()) if last_text else first
        except ValueError:
            raise CalendarFileError(f"{field}: {text!r} is not a date or a range") from None
        if last < first or first.year != year or last.year != year:
            raise CalendarFileError(f"{field}: {text!r} is not a range inside {year}")
        days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    return days


def read_year(path: Path) -> YearCalendar:
    """One year's calendar from its TOML file.

    :raises CalendarFileError: the file is not TOML, lacks ``year`` or ``source``, names a
        day outside its year, a make-up working day that is not a weekend day, or a day that
        is both a holiday and a working day.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CalendarFileError(f"{path.name}: {exc}") from None
    year, source = data.get("year"), data.get("source")
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise CalendarFileError(f"{path.name}: year: expected a year such as 2027")
    if not isinstance(source, str) or not source.strip():
        raise CalendarFileError(f"{path.name}: source: name the notice the days come from")
    holidays = _days(data.get("holidays", []), year, "holidays")
    makeup = _days(data.get("makeup_workdays", []), year, "makeup_workdays")
    if weekdays := sorted(day for day in makeup if day.weekday() < 5):
        raise CalendarFileError(f"{path.name}: makeup_workdays: {weekdays[0]} is a weekday")
    if both := sorted(holidays & makeup):
        raise CalendarFileError(f"{path.name}: {both[0]} is both a holiday and a working day")
    return YearCalendar(year, source.strip(), frozenset(holidays), frozenset(makeup))


@functools.lru_cache(maxsize=8)
def _read_folder(folder: str, stamp: tuple[tuple[str, float], ...]) -> tuple[YearCalendar, ...]:
    # ``stamp`` (each file's name and modification time) is part of the cache key, so a year
    # added while the registry runs is read at the next request.
    return tuple(read_year(Path(folder) / name) for name, _ in stamp)


def read_folder(folder: Path) -> tuple[YearCalendar, ...]:
    """Every ``*.toml`` year calendar in ``folder`` (none if it does not exist)."""
    if not folder.is_dir():
        return ()
    files = sorted(folder.glob("*.toml"))
    return _read_folder(str(folder), tuple((f.name, f.stat().st_mtime) for f in files))


@dataclass(frozen=True)
class WorkingCalendar:
    holidays: frozenset[date] = frozenset()
    makeup_workdays: frozenset[date] = frozenset()
    covered_years: frozenset[int] = frozenset()

    @classmethod
    def of(
        cls,
        holidays: Iterable[date] = (),
        makeup_workdays: Iterable[date] = (),
        years: Iterable[YearCalendar] = (),
    ) -> WorkingCalendar:
        """The calendar of ``years`` with the single ``holidays`` and ``makeup_workdays``
        added; only the years' own files count as covering a year."""
        years = tuple(years)
        return cls(
            frozenset(holidays).union(*(y.holidays for y in years)),
            frozenset(makeup_workdays).union(*(y.makeup_workdays for y in years)),
            frozenset(y.year for y in years),
        )

    def missing_years(self, start: date, end: date) -> list[int]:
        """The years from ``start`` to ``end`` that no published calendar covers: working
        days in them are counted as plain weekdays."""
        return [y for y in range(start.year, end.year + 1) if y not in self.covered_years]

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


@functools.cache
def _shipped_years() -> tuple[YearCalendar, ...]:
    # The shipped files are part of the installed code: read once per process.
    return read_folder(SHIPPED_CALENDARS)


def published_years(calendar_dir: str) -> list[YearCalendar]:
    """The shipped years, and those staff added in ``calendar_dir`` (which win for the same
    year: a corrected notice replaces the shipped one)."""
    years = {y.year: y for y in _shipped_years()}
    if calendar_dir:
        years.update({y.year: y for y in read_folder(Path(calendar_dir))})
    return [years[year] for year in sorted(years)]


def calendar_from_settings(settings: Any) -> WorkingCalendar:
    return WorkingCalendar.of(
        settings.HOLIDAYS, settings.MAKEUP_WORKDAYS, published_years(settings.CALENDAR_DIR)
    )


def missing_years_ahead(calendar: WorkingCalendar, today: date) -> list[int]:
    """The years the deadlines counted from ``today`` may reach that no calendar covers."""
    return calendar.missing_years(today, today + HORIZON)


def deadline_warning(calendar: WorkingCalendar, start: date, end: date) -> dict[str, Any] | None:
    """What a deadline counted from ``start`` to ``end`` carries when it reaches into a year
    no published calendar covers (as ``/readyz`` says it, "years-missing"): there its
    working days were counted as plain weekdays. None when every year is covered."""
    missing = calendar.missing_years(start, end)
    if not missing:
        return None
    years = ", ".join(str(year) for year in missing)
    return {
        "status": "years-missing",
        "missing": missing,
        "detail": f"no public-holiday calendar covers {years}: its working days were counted "
        "as plain weekdays (creditreg calendar add FILE adds the State Council's calendar)",
    }
