"""Working days with holidays and make-up working weekends."""

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from registry.calendar import WorkingCalendar

# National Day week as an example: 1-7 October off, Saturday 11 October worked instead.
NATIONAL_DAY = WorkingCalendar.of(
    holidays=[date(2025, 10, d) for d in range(1, 9)], makeup_workdays=[date(2025, 10, 11)]
)


def test_weekends_are_rest_days_and_weekdays_work():
    plain = WorkingCalendar()
    assert plain.is_working_day(date(2026, 11, 25))  # Wednesday
    assert not plain.is_working_day(date(2026, 11, 28))  # Saturday


def test_ten_working_days_from_a_wednesday():
    # Wed 25 Nov 2026: Thu 26, Fri 27, Mon 30, Tue 1, Wed 2, Thu 3, Fri 4, Mon 7, Tue 8, Wed 9.
    assert WorkingCalendar().add_working_days(date(2026, 11, 25), 10) == date(2026, 12, 9)


def test_holidays_are_skipped_and_makeup_weekends_counted():
    # From Tuesday 30 September: 1-8 October are holidays, Thursday 9 and Friday 10 work,
    # Saturday 11 is a make-up working day.
    assert NATIONAL_DAY.add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert NATIONAL_DAY.add_working_days(date(2025, 9, 30), 3) == date(2025, 10, 11)
    assert NATIONAL_DAY.add_working_days(date(2025, 9, 30), 4) == date(2025, 10, 13)


@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)), st.integers(1, 60))
def test_the_deadline_is_a_working_day_exactly_n_working_days_later(start, days):
    deadline = NATIONAL_DAY.add_working_days(start, days)
    assert NATIONAL_DAY.is_working_day(deadline)
    assert NATIONAL_DAY.working_days_between(start, deadline) == days
    assert NATIONAL_DAY.working_days_between(start, deadline - timedelta(days=1)) == days - 1


def test_the_registry_calendar_is_the_registry_time_zone():
    from datetime import UTC, date, datetime

    import pytest

    from registry.clock import local_date, set_registry_timezone, start_of_day

    # 23:30 UTC on 30 November is 07:30 on 1 December in Beijing.
    assert local_date(datetime(2026, 11, 30, 23, 30, tzinfo=UTC)) == date(2026, 12, 1)
    assert start_of_day(date(2026, 12, 1)) == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="REGISTRY_TIMEZONE"):
        set_registry_timezone("Mars/Olympus_Mons")
