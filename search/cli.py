"""``creditreg search``: check and rebuild the search index."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from registry.db import db
from registry.runtime import current_runtime


@click.group("search")
def search_group() -> None:
    """The search index: verify it against the database, rebuild it."""


@search_group.command("verify")
@click.option("--repair", is_flag=True, help="rewrite what is missing or behind, drop extras")
@click.option("--json", "as_json", is_flag=True, help="print the whole report as JSON")
@with_appcontext
def verify_command(repair: bool, as_json: bool) -> None:
    """Compare the index with the database; exit 1 if they differ (after --repair: if
    anything is left that a write cannot fix)."""
    from search.maintenance import verify

    backend = current_app.extensions["creditreg.search"]
    report = verify(db.session, backend, repair=repair, now=current_runtime().clock.now())
    db.session.commit()
    after = verify(db.session, backend) if repair else report
    if as_json:
        click.echo(json.dumps({**report.as_dict(), "clean_after": after.clean}, indent=2))
    else:
        click.echo(f"database {report.database} subjects, index {report.index} documents")
        click.echo(f"checksums {report.database_checksum[:16]} / {report.index_checksum[:16]}")
        for kind in ("missing", "behind", "ahead", "extra"):
            items = getattr(report, kind)
            if items:
                click.echo(f"{kind}: {len(items)} (e.g. {', '.join(items[:3])})")
        if report.refused:
            click.echo(f"refused by the engine: {len(report.refused)}, for instance")
        for refusal in report.refused[:3]:
            click.echo(
                f"  {refusal['subject_id']} at revision {refusal['version']}: "
                f"{refusal['error_type']}: {refusal['reason']}"
            )
        if repair:
            click.echo(f"repaired {report.repaired}; now {'clean' if after.clean else 'NOT clean'}")
        elif report.clean:
            click.echo("clean")
    if not after.clean:
        sys.exit(1)


@search_group.command("reindex")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def reindex_command(as_json: bool) -> None:
    """Build a new index from the database and switch to it at once."""
    from search.maintenance import reindex

    backend = current_app.extensions["creditreg.search"]
    result = reindex(db.session, backend, current_runtime().clock.now())
    db.session.commit()
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(
            f"reindexed {result['documents']} documents"
            + (f" into {result['index']}" if "index" in result else "")
        )
