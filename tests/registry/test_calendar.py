"""Working days with holidays and make-up working weekends."""

from datetime import date, timedelta

import pytest
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


# --- the shipped State Council calendars, and years they do not cover -----------------------

from pathlib import Path  # noqa: E402

from registry.calendar import (  # noqa: E402
    CalendarFileError,
    published_years,
    read_year,
)

SHIPPED = WorkingCalendar.of(years=published_years(""))


def test_the_shipped_calendars_cover_2025_and_2026_with_their_makeup_days():
    assert SHIPPED.covered_years == {2025, 2026}
    # National Day 2026: 1-7 October off, Saturday 10 October worked; Sunday 20 September too.
    assert not any(SHIPPED.is_working_day(date(2026, 10, d)) for d in range(1, 8))
    assert SHIPPED.is_working_day(date(2026, 10, 10)) and SHIPPED.is_working_day(date(2026, 9, 20))
    # Spring Festival 2026 is nine days, 15-23 February, with Saturdays 14 and 28 worked.
    assert [d for d in range(14, 29) if SHIPPED.is_working_day(date(2026, 2, d))] == [
        14,
        24,
        25,
        26,
        27,
        28,
    ]


def test_a_window_across_national_day_2026_ends_where_the_calendar_says():
    # From Wednesday 23 September 2026, ten working days: 24, 28, 29, 30 September, then
    # 8, 9, 10 (make-up Saturday), 12, 13, 14 October. Weekdays alone would end on 7 October,
    # in the middle of the holiday.
    assert SHIPPED.add_working_days(date(2026, 9, 23), 10) == date(2026, 10, 14)
    assert SHIPPED.add_working_days(date(2026, 9, 23), 9) == date(2026, 10, 13)
    assert WorkingCalendar().add_working_days(date(2026, 9, 23), 10) == date(2026, 10, 7)


def test_the_years_no_calendar_covers_are_named():
    assert SHIPPED.missing_years(date(2026, 11, 25), date(2027, 1, 24)) == [2027]
    assert SHIPPED.missing_years(date(2025, 3, 1), date(2026, 12, 31)) == []


def write(tmp_path: Path, text: str, name: str = "2027.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('year = 2027\nholidays = ["2027-01-01"]', "source"),
        ('year = 2027\nsource = "x"\nholidays = ["2027-12-31..2028-01-02"]', "inside 2027"),
        ('year = 2027\nsource = "x"\nholidays = ["2027-01-05..2027-01-01"]', "inside 2027"),
        ('year = 2027\nsource = "x"\nmakeup_workdays = ["2027-01-04"]', "is a weekday"),
        (
            'year = 2027\nsource = "x"\n'
            'holidays = ["2027-01-02"]\nmakeup_workdays = ["2027-01-02"]',
            "both",
        ),
        ('year = 2027\nsource = "x"\nholidays = ["2027-02-30"]', "not a date"),
        ("year = ", "2027.toml"),
    ],
)
def test_a_calendar_file_that_says_something_impossible_is_refused(tmp_path, text, message):
    with pytest.raises(CalendarFileError, match=message):
        read_year(write(tmp_path, text))


def test_staff_add_a_year_and_the_deadlines_and_readiness_follow(make_app, tmp_path, clock):
    folder = tmp_path / "calendars"
    app = make_app(f"sqlite:///{tmp_path / 'r.db'}", CALENDAR_DIR=str(folder))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    shown = runner.invoke(args=["calendar", "show", "--json"])
    assert shown.exit_code == 1 and '"missing": [2027]' in shown.output

    notice = write(
        tmp_path,
        'year = 2027\nsource = "国务院办公厅关于2027年部分节假日安排的通知"\n'
        'holidays = ["2027-01-01..2027-01-03"]\nmakeup_workdays = []\n',
    )
    added = runner.invoke(args=["calendar", "add", str(notice)])
    assert added.exit_code == 0, added.output
    assert (folder / "2027.toml").exists()
    assert runner.invoke(args=["calendar", "add", str(notice)]).exit_code != 0  # no --replace
    assert runner.invoke(args=["calendar", "show"]).exit_code == 0
    with app.app_context():
        from registry.listings import policy_from_settings
        from registry.runtime import current_runtime

        calendar = policy_from_settings(current_runtime().settings).calendar
    # Thursday 31 December 2026, one working day: Friday 1 January 2027 is a holiday now.
    assert calendar.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    ready = app.test_client().get("/readyz").get_json()
    assert ready["checks"]["calendar"] == {"status": "ok"}


def test_adding_needs_the_folder_and_a_good_file(make_app, tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'r.db'}")
    bad = write(tmp_path, 'year = 2027\nsource = "x"\nmakeup_workdays = ["2027-01-04"]')
    refused = app.test_cli_runner().invoke(args=["calendar", "add", str(bad)])
    assert refused.exit_code != 0 and "CALENDAR_DIR" in refused.output
    app = make_app(f"sqlite:///{tmp_path / 'r.db'}", CALENDAR_DIR=str(tmp_path / "c"))
    refused = app.test_cli_runner().invoke(args=["calendar", "add", str(bad)])
    assert refused.exit_code != 0 and "is a weekday" in refused.output
    assert not (tmp_path / "c").exists()
