"""``creditreg records``: reports on the records members send."""

from __future__ import annotations

import json
from datetime import datetime

import click
from flask.cli import with_appcontext

from registry.clock import local_date
from registry.db import db
from registry.publicity import Window, lateness_by_authority
from registry.runtime import current_runtime


@click.group("records")
def records_group() -> None:
    """Credit records: late 双公示 records, records held until a person is told."""


@records_group.command("publicity")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="received on or after this day")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="received on or before this day")
@click.option("--json", "as_json", is_flag=True, help="print as JSON")
@with_appcontext
def publicity_command(since: datetime | None, until: datetime | None, as_json: bool) -> None:
    """Licences and penalties (双公示) received late, per issuing authority: received after
    the working day the decision had to be published by. Default: the last 365 days."""
    runtime = current_runtime()
    window = Window.ending(
        local_date(runtime.clock.now()),
        since.date() if since else None,
        until.date() if until else None,
    )
    if window.until < window.since:
        raise click.BadParameter("--until is before --since", param_hint="--until")
    rows = lateness_by_authority(db.session, window)
    if as_json:
        shown = {
            "since": window.since.isoformat(),
            "until": window.until.isoformat(),
            "working_days": runtime.settings.PUBLICITY_WORKING_DAYS,
            "authorities": [row.view() for row in rows],
        }
        click.echo(json.dumps(shown, ensure_ascii=False))
        return
    click.echo(
        f"received {window.since} to {window.until}; late: after "
        f"{runtime.settings.PUBLICITY_WORKING_DAYS} working days from the decision"
    )
    for row in rows:
        click.echo(
            f"{row.late:6d} late of {row.received:6d} ({100 * row.late_share:5.1f} %)  "
            f"{row.authority or '-'}"
        )
