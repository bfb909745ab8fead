"""``creditreg log ...`` and ``creditreg audit ...``: the registry's side of its own proofs."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from flask.cli import with_appcontext

from registry import tlog
from registry.audit import verify_chain
from registry.chains import read_head
from registry.db import db
from registry.runtime import current_runtime


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))


@click.group("log")
def log_group() -> None:
    """The transparency log: checkpoints and a full check of the stored log."""


@log_group.command("checkpoint")
@with_appcontext
def checkpoint_command() -> None:
    """Sign a checkpoint now, if the log grew (the worker does it every interval)."""
    runtime = current_runtime()
    session = db.session
    origin = tlog.origin_from_settings(runtime.settings)
    try:
        made = tlog.checkpoint_or_halt(session, runtime.signer, origin, runtime.clock.now())
    except tlog.SigningHalted as exc:
        raise click.ClickException(f"NOT signed; checkpoint signing is stopped: {exc}") from None
    session.commit()
    if made is None:
        click.echo("the log did not grow; no new checkpoint")
    else:
        click.echo(made.note, nl=False)


@log_group.command("verify")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def verify_command(as_json: bool) -> None:
    """Recompute the tree from every stored entry and check each signed checkpoint against
    it. Exits 1 on the first discrepancy."""
    runtime = current_runtime()
    report = tlog.verify_log(db.session, runtime.signer)
    head = read_head(db.session)
    halted = head.signing_halted if head is not None else None
    if as_json:
        _echo_json({**report.__dict__, "signing_halted": halted})
    elif report.ok:
        click.echo(f"log verified: {report.size} entries, {report.checkpoints} checkpoint(s)")
    else:
        click.echo(f"LOG NOT VERIFIED after {report.size} entries: {report.problem}", err=True)
    if halted and not as_json:
        click.echo(f"checkpoint signing is stopped: {halted}", err=True)
    if not report.ok:
        sys.exit(1)


@click.group("audit")
def audit_group() -> None:
    """The audit events."""


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def audit_verify_command(as_json: bool) -> None:
    """Walk the audit events' hash chain; report the first edited or removed event.
    Exits 1 if the chain is broken."""
    report = verify_chain(db.session)
    if as_json:
        _echo_json(report.__dict__)
    elif report.ok:
        click.echo(
            f"audit chain verified: {report.checked} event(s)"
            + (f"; {report.unchained} older event(s) predate the chain" if report.unchained else "")
        )
    else:
        where = f" (audit event id {report.event_id})" if report.event_id is not None else ""
        click.echo(
            f"AUDIT CHAIN BROKEN at position {report.at_seq}{where}: {report.problem}", err=True
        )
    if not report.ok:
        sys.exit(1)
