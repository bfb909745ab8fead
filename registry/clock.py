"""Time as the registry sees it.

Deadlines, periods and expiries are computed from a clock object instead of the system time
directly, so tests can move time forward ("time travel") and check what a job does a year later.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The registry's calendar. Times are kept in UTC, but a date — "today", a decision day, a
# deadline, the day a period ends — is a date where the registry operates: at 07:00 in
# Beijing it is already 1 March while UTC still says 28 February. One registry serves one
# jurisdiction, so the zone is one setting (REGISTRY_TIMEZONE) for the whole process.
DEFAULT_TIMEZONE = "Asia/Shanghai"
_zone = ZoneInfo(DEFAULT_TIMEZONE)


def set_registry_timezone(name: str) -> None:
    """Use ``name`` (an IANA zone such as Asia/Shanghai) for the registry's dates."""
    global _zone
    try:
        _zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (REGISTRY_TIMEZONE)") from exc


def registry_timezone() -> ZoneInfo:
    return _zone


def local_date(moment: datetime) -> date:
    """The registry's calendar date at ``moment`` (an aware datetime)."""
    return moment.astimezone(_zone).date()


def start_of_day(day: date) -> datetime:
    """The first instant of ``day`` on the registry's calendar, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=_zone).astimezone(UTC)


class Clock:
    """The system clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def transport_now(self) -> datetime:
        """The time a signed request is checked against (its created and expires, its nonce,
        the rate window): the senders sign with their own clocks, which a demonstration's
        moved date does not move. The registry's clock everywhere else."""
        return self.now()


class ManualClock(Clock):
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(UTC)


class OffsetClock(Clock):
    """The system clock moved forward by the days written in a file, so that a demonstration
    can watch a list entry go through its notice, objection window, publication and repair in
    minutes (``creditreg demo advance``). Every process of the registry (server, worker,
    commands) reads the same file, so they agree on the date. Never used in production.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[float, timedelta] | None = None  # (file's mtime, its offset)

    def offset(self) -> timedelta:
        try:
            modified = self.path.stat().st_mtime
        except FileNotFoundError:
            return timedelta(0)
        with self._lock:
            if self._seen is None or self._seen[0] != modified:
                days = json.loads(self.path.read_text(encoding="utf-8"))["days"]
                self._seen = (modified, timedelta(days=int(days)))
            return self._seen[1]

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset()

    def transport_now(self) -> datetime:
        # Members' clients sign with the real time. (The worker purges spent nonces by the
        # moved date, so in a demonstration they go early: never so in production, which
        # refuses this clock.)
        return datetime.now(UTC)

    def advance(self, days: int) -> timedelta:
        """Move the clock ``days`` further forward (never back); the new offset."""
        if days < 1:
            raise ValueError("the clock only moves forward")
        total = self.offset().days + days
        self.path.parent.mkdir(parents=True, exist_ok=True)
        written = self.path.with_suffix(".tmp")
        written.write_text(json.dumps({"days": total}), encoding="utf-8")
        written.replace(self.path)  # atomic: a reader sees the old offset or the new one
        return timedelta(days=total)


def iso(value: date | datetime | None) -> str | None:
    """A date or a moment as the registry writes it in JSON, audit events and documents:
    ISO 8601, UTC written as Z."""
    return value.isoformat().replace("+00:00", "Z") if value is not None else None
