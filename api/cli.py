"""Commands around the signed API.

``creditreg submissions verify`` runs on the registry's side: it re-verifies stored evidence.
``creditreg client ...`` runs on a member's machine: it needs no registry configuration,
only the registry's URL and the member's private key.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import click
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from flask.cli import with_appcontext

from api.client import RegistryClient, RegistryError, registry_public_keys, write_private_key
from api.httpsig import content_digest, verify_stored_request
from api.member_cli import COMMANDS as MEMBER_COMMANDS
from api.member_cli import echo_json, registry_options, send
from api.tlog_cli import COMMANDS as LOG_COMMANDS
from registry.cli import key_algorithm_option
from registry.db import db
from registry.members import KeyAlgorithm, MemberKey, jwk_thumbprint, load_public_key, public_jwk
from registry.receipts import verify_signed_document
from registry.runtime import current_runtime
from registry.submissions import Submission

# --- creditreg submissions -----------------------------------------------------------------


@click.group("submissions")
def submissions_group() -> None:
    """Stored submissions and their evidence."""


def _find_submission(reference: str, member_id: str | None) -> Submission:
    """By the registry's id, or by the member's own submission id (with --member if shared)."""
    session = db.session
    try:
        found = session.get(Submission, uuid.UUID(reference))
        if found is not None:
            return found
    except ValueError:
        pass
    query = sa.select(Submission).where(Submission.submission_id == reference)
    if member_id is not None:
        query = query.where(Submission.member_id == uuid.UUID(member_id))
    matches = session.scalars(query.limit(2)).all()
    if not matches:
        raise click.ClickException(f"no submission {reference}")
    if len(matches) > 1:
        raise click.ClickException("several members used this submission id: add --member")
    return matches[0]


@submissions_group.command("verify")
@click.argument("reference")
@click.option("--member", "member_id", default=None, help="member id, if the id is ambiguous")
@click.option("--json", "as_json", is_flag=True, help="print every check as JSON")
@with_appcontext
def submissions_verify(reference: str, member_id: str | None, as_json: bool) -> None:
    """Re-verify a stored submission from its evidence alone.

    REFERENCE is the registry's submission id or the member's own. Checks that the stored
    body opens with the evidence keys, that the stored signature base matches the
    Signature-Input the member sent, that the body matches the signed digest, that the
    member's key signed the base, and that the receipt the registry returned is its own
    signature over this body. Exits 1 if any check fails.
    """
    submission = _find_submission(reference, member_id)
    key = db.session.get(MemberKey, submission.key_id)
    if key is None:  # pragma: no cover - a foreign key guarantees it
        raise click.ClickException("the signing key is missing")
    public_key = load_public_key(key.public_key_pem, KeyAlgorithm(key.algorithm))
    # Opened here and nowhere else: the body is only compared, never shown.
    try:
        body = current_runtime().evidence_cipher.open(submission.body)
        opened = {"check": "body-sealed", "ok": True, "detail": "the body opens with its key"}
    except ValueError as exc:
        body = b""
        opened = {"check": "body-sealed", "ok": False, "detail": str(exc)}
    checks = [opened] + [
        {"check": c.name, "ok": c.ok, "detail": c.detail}
        for c in verify_stored_request(
            signature_input=submission.signature_input,
            signature=submission.signature,
            signature_base=submission.signature_base,
            body=body,
            public_key=public_key,
        )
    ]
    checks.append(_receipt_check(submission, body))
    ok = all(check["ok"] for check in checks)
    if as_json:
        echo_json(
            {
                "id": str(submission.id),
                "member_id": str(submission.member_id),
                "submission_id": submission.submission_id,
                "key_id": submission.key_id,
                "verified": ok,
                "checks": checks,
            }
        )
    else:
        click.echo(f"submission {submission.submission_id} ({submission.id}) signed by {key.id}")
        for check in checks:
            click.echo(f"  {'ok  ' if check['ok'] else 'FAIL'} {check['check']}: {check['detail']}")
        click.echo("verified" if ok else "NOT verified")
    if not ok:
        sys.exit(1)


def _receipt_check(submission: Submission, body: bytes) -> dict[str, Any]:
    signed = submission.receipt or {}
    receipt = signed.get("receipt") or {}
    signer = current_runtime().signer
    if signed.get("registry_key_id") != signer.key_id:
        return {
            "check": "receipt",
            "ok": False,
            "detail": "the receipt names a registry key this registry does not hold",
        }
    valid = verify_signed_document(receipt, signed.get("receipt_signature", ""), signer.public_key)
    # The digest of the stored body itself, not the stored digest column: either could be
    # what was edited.
    matches = receipt.get("body_digest") == content_digest(body) and receipt.get(
        "submission_id"
    ) == (submission.submission_id)
    return {
        "check": "receipt",
        "ok": valid and matches,
        "detail": "the registry's signed receipt is for this body"
        if valid and matches
        else "the receipt's signature or its body digest does not match",
    }


# --- creditreg client ----------------------------------------------------------------------


@click.group("client")
def client_group() -> None:
    """A member's tools: make a key, send records, search, screen, fetch reports, object,
    watch a portfolio, sign any API request. Needs no registry configuration."""


# verify-receipt, audit-log, verify-screening; search, screen, report, objections, ...
for _command in (*LOG_COMMANDS, *MEMBER_COMMANDS):
    client_group.add_command(_command)


@client_group.command("keygen")
@click.option(
    "--out",
    "private_path",
    default="member.key",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="where to write the private key (PEM); the public key goes beside it as .pub",
)
@key_algorithm_option
@click.option("--json", "as_json", is_flag=True, help="print the key id and files as JSON")
def client_keygen(private_path: Path, algorithm: str, as_json: bool) -> None:
    """Make a request-signing key pair.

    Give the public key (.pub) to the registry's administrator (`creditreg keys add`); keep
    the private key on the member's side, readable by its owner only.
    """
    public_path = private_path.with_suffix(".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise click.ClickException(f"{path} exists; refusing to overwrite a key")
    private_key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey = (
        ed25519.Ed25519PrivateKey.generate()
        if algorithm == "ed25519"
        else ec.generate_private_key(ec.SECP256R1())
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_private_key(private_path, private_key)
    public_path.write_bytes(public_pem)
    key_id = jwk_thumbprint(public_jwk(private_key.public_key()))
    if as_json:
        echo_json(
            {
                "key_id": key_id,
                "algorithm": algorithm,
                "private_key_file": str(private_path),
                "public_key_file": str(public_path),
                "public_key_pem": public_pem.decode(),
            }
        )
    else:
        click.echo(f"key id {key_id} ({algorithm})")
        click.echo(f"private key: {private_path} (keep it secret)")
        click.echo(f"public key:  {public_path} (register it: creditreg keys add)")


@dataclass
class _Batch:
    number: int
    first_line: int
    lines: list[int]
    records: list[dict[str, Any]]


@dataclass
class SubmitSummary:
    batches: int = 0
    sent: int = 0
    replayed: int = 0
    skipped: int = 0
    rejected: int = 0
    records: dict[str, int] = field(default_factory=dict)


def _errors_by_record(problem: dict[str, Any]) -> dict[int, list[dict[str, Any]]] | None:
    """A 422's errors by the index of the record each is about; None when one of them is
    about the submission as a whole (then no record can be set aside)."""
    by_record: dict[int, list[dict[str, Any]]] = {}
    for item in problem.get("errors", []):
        parts = str(item.get("field", "")).split(".")
        if len(parts) < 2 or parts[0] != "records" or not parts[1].isdigit():
            return None
        by_record.setdefault(int(parts[1]), []).append(item)
    return by_record or None


def _set_aside(
    batch: _Batch, by_record: dict[int, list[dict[str, Any]]], rejects: IO[str]
) -> _Batch:
    """Write the refused records of ``batch`` to ``rejects`` with their errors (one JSON
    line each, with the file's line number); the batch of the others."""
    for index in sorted(by_record):
        errors = [
            {"field": ".".join(str(e["field"]).split(".")[2:]) or "record", "message": e["message"]}
            for e in by_record[index]
        ]
        line = {"line": batch.lines[index], "record": batch.records[index], "errors": errors}
        rejects.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
    rejects.flush()
    kept = [i for i in range(len(batch.records)) if i not in by_record]
    return _Batch(
        batch.number,
        batch.first_line,
        [batch.lines[i] for i in kept],
        [batch.records[i] for i in kept],
    )


def _read_records(path: Path) -> tuple[list[int], list[dict[str, Any]]]:
    """The records of a JSON Lines file and their line numbers; every bad line is reported."""
    lines: list[int] = []
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"line {number}: not JSON ({exc.msg})")
                continue
            if not isinstance(record, dict):
                problems.append(f"line {number}: a record must be a JSON object")
                continue
            lines.append(number)
            records.append(record)
    if problems:
        raise click.ClickException(
            "the file has bad lines, nothing was sent:\n" + "\n".join(problems)
        )
    if not records:
        raise click.ClickException("the file holds no records")
    return lines, records


def _batches(lines: list[int], records: list[dict[str, Any]], size: int) -> Iterator[_Batch]:
    for number, start in enumerate(range(0, len(records), size), start=1):
        chunk_lines = lines[start : start + size]
        yield _Batch(number, chunk_lines[0], chunk_lines, records[start : start + size])


def _load_receipts(path: Path) -> dict[str, dict[str, Any]]:
    """Receipts already received, by submission id (a torn last line is ignored)."""
    receipts: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return receipts
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            signed = json.loads(line)
            receipts[signed["receipt"]["submission_id"]] = signed
        except (ValueError, KeyError, TypeError):
            continue
    return receipts


def _send_with_retries(
    client: RegistryClient, submission_id: str, records: list[dict[str, Any]], attempts: int
) -> tuple[dict[str, Any], bool]:
    """Send one batch; retry what may pass later (429, 503, connection errors).

    Re-sending is safe: the same submission id with the same body returns the first receipt.
    Returns the signed receipt and whether the registry had it already.
    """
    body = json.dumps(
        {"submission_id": submission_id, "records": records},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    delay = 1.0
    for attempt in range(1, attempts + 1):
        try:
            response = client.request(
                "POST", "/api/v1/submissions", body=body, content_type="application/json"
            )
        except OSError as exc:
            if attempt == attempts:
                raise click.ClickException(
                    f"the registry is unreachable ({exc}); re-run the same command to resume"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 30)
            continue
        if response.ok:
            replayed = response.headers.get("Idempotent-Replayed") == "true"
            return response.body, replayed
        if response.status in (429, 503) and attempt < attempts:
            retry_after = response.headers.get("Retry-After", "")
            time.sleep(float(retry_after) if retry_after.isdigit() else delay)
            delay = min(delay * 2, 30)
            continue
        raise RegistryError(response)
    raise AssertionError("unreachable")  # pragma: no cover


def _explain_refusal(error: RegistryError, batch: _Batch, sent_before: int) -> str:
    """The problem, with record indexes turned back into the file's line numbers."""
    problem = error.problem
    status = error.response.status
    lines = [
        f"batch {batch.number} refused ({status} {problem.get('type', '')}): "
        f"{problem.get('detail') or problem.get('title')}"
    ]
    for item in problem.get("errors", []):
        pointer = str(item.get("field", ""))
        parts = pointer.split(".")
        where = pointer
        if len(parts) >= 2 and parts[0] == "records" and parts[1].isdigit():
            index = int(parts[1])
            if index < len(batch.lines):
                where = f"line {batch.lines[index]} " + ".".join(parts[2:])
        lines.append(f"  {where.strip()}: {item.get('message')}")
    fix = "fix the file" if status == 422 else "fix the cause"
    lines.append(
        f"{sent_before} batch(es) before this one are kept; {fix} and run the same command again"
    )
    return "\n".join(lines)


@client_group.command("submit")
@click.argument("records_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--member", "member_id", required=True, help="your member id")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 1000))
@click.option(
    "--submission-prefix",
    default=None,
    help="prefix of the submission ids; default: the file's name and content hash",
)
@click.option(
    "--receipts",
    "receipts_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="where receipts are appended; default: FILE.receipts.jsonl",
)
@click.option("--attempts", default=5, show_default=True, type=click.IntRange(1, 100))
@click.option(
    "--rejects",
    "rejects_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="write the records the registry refuses here (JSON Lines: line, record, errors) "
    "and send the others; without it a refused batch stops the command",
)
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@registry_options
def client_submit(
    client: RegistryClient,
    records_file: Path,
    member_id: str,
    batch_size: int,
    submission_prefix: str | None,
    receipts_path: Path | None,
    attempts: int,
    rejects_path: Path | None,
    as_json: bool,
) -> None:
    """Sign and send the records of a JSON Lines file (one record per line) in batches.

    Each batch gets a submission id derived from the file's content and the batch number,
    so running the command again after any failure sends only what the registry lacks:
    batches with a receipt on file are skipped, and a batch the registry already holds is
    answered with its first receipt. Every receipt is checked against the registry's
    published key before it is written down.
    """
    lines, records = _read_records(records_file)
    if submission_prefix is None:
        digest = hashlib.sha256(records_file.read_bytes()).hexdigest()[:16]
        submission_prefix = f"{records_file.stem[:80]}-{digest}"
    receipts_path = receipts_path or records_file.with_name(records_file.name + ".receipts.jsonl")
    on_file = _load_receipts(receipts_path)
    try:
        registry_keys = registry_public_keys(client)
    except OSError as exc:
        reason = getattr(exc, "reason", exc)
        raise click.ClickException(
            f"the registry at {client.base_url} is unreachable ({reason}); nothing was sent"
        ) from None

    summary = SubmitSummary()
    batches = list(_batches(lines, records, batch_size))
    with (
        receipts_path.open("a", encoding="utf-8") as receipts_out,
        rejects_path.open("a", encoding="utf-8") if rejects_path else nullcontext() as rejects,
        click.progressbar(
            length=len(records), label="records", file=sys.stderr, show_pos=True
        ) as progress,
    ):
        for batch in batches:
            submission_id = f"{submission_prefix}-{batch.number:05d}"
            summary.batches += 1
            if submission_id in on_file:
                summary.skipped += 1
                progress.update(len(batch.records))
                continue
            sent = _send_batch(client, submission_id, batch, attempts, rejects, summary)
            if sent is None:  # every record of the batch was refused and set aside
                progress.update(len(batch.records))
                continue
            signed, replayed = sent
            _check_receipt(signed, registry_keys, member_id, submission_id)
            receipts_out.write(json.dumps(signed, ensure_ascii=False, sort_keys=True) + "\n")
            receipts_out.flush()
            summary.replayed += replayed
            summary.sent += not replayed
            for accepted in signed["receipt"]["records"]:
                status = accepted["status"]
                summary.records[status] = summary.records.get(status, 0) + 1
            progress.update(len(batch.records))

    result = {
        "batches": summary.batches,
        "sent": summary.sent,
        "replayed": summary.replayed,
        "skipped": summary.skipped,
        "rejected": summary.rejected,
        "records": summary.records,
        "receipts_file": str(receipts_path),
    }
    if as_json:
        echo_json(result)
    else:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.records.items()))
        click.echo(
            f"{summary.batches} batch(es): {summary.sent} sent, {summary.replayed} already held,"
            f" {summary.skipped} skipped (receipt on file); records: {counts or 'none new'}"
        )
        click.echo(f"receipts in {receipts_path}")
        if summary.rejected:
            click.echo(
                f"{summary.rejected} record(s) refused, with their errors, in {rejects_path}"
            )


def _send_batch(
    client: RegistryClient,
    submission_id: str,
    batch: _Batch,
    attempts: int,
    rejects: IO[str] | None,
    summary: SubmitSummary,
) -> tuple[dict[str, Any], bool] | None:
    """Send a batch; with a rejects file, a 422 about some of its records sets those aside
    and sends the rest under the same submission id (the registry stored nothing of the
    refused request). None when no record was left to send."""
    while True:
        try:
            return _send_with_retries(client, submission_id, batch.records, attempts)
        except RegistryError as exc:
            by_record = _errors_by_record(exc.problem) if exc.response.status == 422 else None
            if rejects is None or by_record is None:
                done = summary.sent + summary.replayed + summary.skipped
                raise click.ClickException(_explain_refusal(exc, batch, done)) from None
            summary.rejected += len(by_record)
            batch = _set_aside(batch, by_record, rejects)
            if not batch.records:
                return None


def _check_receipt(
    signed: dict[str, Any],
    registry_keys: dict[str, ed25519.Ed25519PublicKey],
    member_id: str,
    submission_id: str,
) -> None:
    receipt = signed.get("receipt", {})
    key = registry_keys.get(signed.get("registry_key_id", ""))
    if key is None or not verify_signed_document(receipt, signed.get("receipt_signature", ""), key):
        raise click.ClickException(
            f"the receipt for {submission_id} does not verify with the registry's published key"
        )
    if receipt.get("member_id") != member_id or receipt.get("submission_id") != submission_id:
        raise click.ClickException(
            f"the receipt for {submission_id} names another member or submission"
        )


@client_group.command("request")
@click.argument("method", type=click.Choice(["GET", "POST", "PUT", "DELETE"], case_sensitive=False))
@click.argument("path")
@click.option(
    "--data",
    default=None,
    help="the body: JSON text, or @FILE to send a file's bytes (JSON unless --content-type)",
)
@click.option("--content-type", default=None, help="the body's media type; default: JSON")
@registry_options
def client_request(
    client: RegistryClient,
    method: str,
    path: str,
    data: str | None,
    content_type: str | None,
) -> None:
    """Sign and send one request to the registry's API, and print the answer: any operation
    of the API reference, without writing signing code. PATH is the path with its query,
    e.g. /api/v1/objections?role=filer. Exits 1 when the registry answers an error."""
    if not path.startswith("/"):
        raise click.BadParameter("a path such as /api/v1/subjects?q=华信", param_hint="PATH")
    body = b""
    if data is not None:
        if data.startswith("@"):
            try:
                body = Path(data[1:]).read_bytes()
            except OSError as exc:
                raise click.BadParameter(f"cannot read {data[1:]}: {exc.strerror}") from None
        else:
            body = data.encode()
        if content_type is None:
            try:
                json.loads(body)
            except ValueError:
                raise click.BadParameter(
                    "not JSON; name the media type with --content-type", param_hint="--data"
                ) from None
            content_type = "application/json"
    # A name typed in Chinese goes out percent-encoded, and is signed as it goes out; what
    # is already encoded or reserved stays as typed.
    path = quote(path, safe="/?&=%:@!$'()*+,;~")
    response = send(client, method.upper(), path, body=body, content_type=content_type)
    click.echo(f"{response.status} {response.headers.get('Content-Type', '')}".rstrip(), err=True)
    if isinstance(response.body, dict | list):
        echo_json(response.body)
    elif response.body is not None:
        click.echo(response.body)
    if not response.ok:
        sys.exit(1)
