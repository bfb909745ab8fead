"""``creditreg reports own``: a subject's own report, issued by staff at the subject's request.

A person is no member of the registry and cannot sign API requests: they ask in person (or
through the authority's counter), staff check their identity and issue the report here. The
same yearly quota applies as to reports a subject asks for over the API.
"""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from registry import reports
from registry.audit import Actor, ActorKind
from registry.db import db, get_by_id
from registry.errors import NotFound, RegistryError
from registry.runtime import current_runtime
from registry.staff import StaffRole, StaffStatus, StaffUser
from registry.subjects import Subject


@click.group("reports")
def reports_group() -> None:
    """Credit reports issued by staff."""


@reports_group.command("own")
@click.argument("subject_id")
@click.option("--staff", "username", required=True, help="the administrator or reviewer issuing it")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="where to write it: .pdf, .html or .json",
)
@with_appcontext
def own_report(subject_id: str, username: str, out: Path) -> None:
    """Issue SUBJECT_ID's own report (after checking the person's identity in person)."""
    session = db.session
    # Usernames are stored in lower case (registry.staff); match them as sign-in does.
    name = username.strip().lower()
    user = session.scalar(sa.select(StaffUser).where(StaffUser.username == name))
    allowed = {StaffRole.ADMIN, StaffRole.REVIEWER}
    if user is None or user.status != StaffStatus.ACTIVE or not allowed & user.roles:
        raise click.ClickException(f"{username} is not an active administrator or reviewer")
    try:
        subject = get_by_id(session, Subject, subject_id, what="subject")
    except NotFound as exc:
        raise click.ClickException(exc.detail) from None
    runtime = current_runtime()
    try:
        report = reports.issue_own_report(
            session,
            subject,
            actor=Actor(ActorKind.STAFF, str(user.id)),
            member=None,
            settings=runtime.settings,
            at=runtime.clock.now(),
        )
    except RegistryError as exc:
        session.rollback()
        raise click.ClickException(exc.detail) from exc
    rendered = render(report, out.suffix.lower())
    session.commit()  # the registry records the report before anyone holds a copy
    out.write_bytes(rendered)
    click.echo(f"report {report.id} written to {out}")


def render(report: reports.CreditReport, suffix: str) -> bytes:
    import json

    from flask import render_template

    if suffix == ".pdf":
        from api.report_pdf import render_pdf

        return render_pdf(report.content, report.digest)
    if suffix == ".html":
        return render_template("report.html", report=report.content, digest=report.digest).encode()
    return json.dumps(
        {"report": report.content, "digest": report.digest}, ensure_ascii=False, indent=2
    ).encode()
