"""``creditreg calendar``: the public-holiday calendars working-day deadlines are counted in."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
from flask.cli import with_appcontext

from registry.calendar import (
    CalendarFileError,
    WorkingCalendar,
    missing_years_ahead,
    published_years,
    read_year,
)
from registry.clock import local_date
from registry.runtime import current_runtime


@click.group("calendar")
def calendar_group() -> None:
    """Public holidays and make-up working days, one published year per file."""


@calendar_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="print as JSON")
@with_appcontext
def calendar_show(as_json: bool) -> None:
    """The years covered, their sources, and any year the next deadlines may reach that no
    calendar covers (exit 1 then: those days are counted as plain weekdays)."""
    runtime = current_runtime()
    settings = runtime.settings
    today = local_date(runtime.clock.now())
    years = published_years(settings.CALENDAR_DIR)
    calendar = WorkingCalendar.of(settings.HOLIDAYS, settings.MAKEUP_WORKDAYS, years)
    missing = missing_years_ahead(calendar, today)
    if as_json:
        shown = {
            "years": [
                {"year": y.year, "source": y.source, "holidays": len(y.holidays)} for y in years
            ],
            "missing": missing,
        }
        click.echo(json.dumps(shown, ensure_ascii=False))
    else:
        for year in years:
            click.echo(f"{year.year}  {len(year.holidays):3d} holidays  {year.source}")
        for year_missing in missing:
            click.echo(
                f"{year_missing}  no calendar: working days counted as plain weekdays "
                "until it is added (creditreg calendar add FILE)"
            )
    if missing:
        raise SystemExit(1)


@calendar_group.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="replace a year already added")
@with_appcontext
def calendar_add(file: Path, replace: bool) -> None:
    """Add a year's calendar, published by the State Council, from FILE (TOML: year, source,
    holidays, makeup_workdays; see config/calendars/2026.toml). It is checked, then copied
    into CALENDAR_DIR as <year>.toml; every process reads it at its next deadline."""
    folder = current_runtime().settings.CALENDAR_DIR
    if not folder:
        raise click.ClickException("set CREDITREG_CALENDAR_DIR to the folder calendars go in")
    try:
        year = read_year(file)
    except CalendarFileError as exc:
        raise click.ClickException(str(exc)) from None
    target = Path(folder) / f"{year.year}.toml"
    if target.exists() and not replace:
        raise click.ClickException(f"{year.year} is there already: --replace to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(file, target)
    click.echo(
        f"{year.year}: {len(year.holidays)} holidays, {len(year.makeup_workdays)} "
        f"make-up working days ({year.source})"
    )
