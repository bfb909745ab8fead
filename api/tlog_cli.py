"""``creditreg client verify-receipt | audit-log | verify-screening``: a member checks the
registry's transparency log from its own machine, with :mod:`api.tlog_verify`.

The commands need only the registry's URL (public endpoints, no key) or, offline, the
registry's key set saved earlier (``--jwks``). ``audit-log`` keeps the checkpoints it has
verified in a state file, so each run proves the log only grew since the last one. Any
mismatch exits 1 with a sentence saying what did not hold; nothing is ever "fixed" quietly.
"""

from __future__ import annotations

import contextlib
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric import ed25519

from api import tlog_verify as tv

DEFAULT_STATE = "creditreg-tlog-state.json"


class _Registry:
    """Plain GETs of the registry's public endpoints."""

    def __init__(self, url: str, timeout: float = 60) -> None:
        if not url.startswith(("http://", "https://")):
            raise click.BadParameter("the registry URL must start with http:// or https://")
        self.base = url.rstrip("/")
        self.timeout = timeout

    def get(self, path: str) -> bytes:
        # The scheme was checked above: only http(s) URLs are ever opened.
        request = urllib.request.Request(self.base + path, method="GET")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return bytes(response.read())
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")
            with contextlib.suppress(ValueError, AttributeError):
                detail = json.loads(detail).get("detail", detail)
            raise _Failed(f"the registry answered {err.code} to {path}: {detail}") from None
        except OSError as exc:
            raise _Failed(f"the registry is unreachable: {exc}") from None

    def json(self, path: str) -> Any:
        return json.loads(self.get(path))

    def checkpoint(self, keys: dict[str, ed25519.Ed25519PublicKey]) -> tv.SignedCheckpoint:
        return _verified_checkpoint(self.get("/api/v1/log/checkpoint").decode(), keys)

    def consistency(self, first: int, second: int) -> list[bytes]:
        body = self.json(f"/api/v1/log/proof/consistency?from={first}&to={second}")
        return [tv._b64decode(h, "a proof hash") for h in body["proof"]]

    def inclusion(self, index: int, size: int) -> list[bytes]:
        body = self.json(f"/api/v1/log/proof/inclusion?index={index}&size={size}")
        return [tv._b64decode(h, "a proof hash") for h in body["proof"]]

    def entry(self, index: int) -> tuple[bytes | None, bytes]:
        """The entry's bytes (None where the registry withholds them: an entry about a
        person) and its leaf hash, checked against the bytes when they are given."""
        body = self.json(f"/api/v1/log/entries/{index}")
        leaf = tv._b64decode(body["leaf_hash"], "a leaf hash")
        if body.get("entry_base64") is None:
            return None, leaf
        entry = tv._b64decode(body["entry_base64"], "an entry")
        if tv.hash_leaf(entry) != leaf:
            raise tv.VerificationError(f"entry {index} does not hash to its leaf hash")
        return entry, leaf


class _Failed(Exception):
    pass


def _verified_checkpoint(
    note: str, keys: dict[str, ed25519.Ed25519PublicKey]
) -> tv.SignedCheckpoint:
    problem: tv.VerificationError | None = None
    for key in keys.values():
        try:
            return tv.verify_checkpoint(note, key)
        except tv.VerificationError as exc:
            problem = exc
    raise problem or tv.VerificationError("the registry publishes no Ed25519 key")


def _keys(registry: _Registry | None, jwks: Path | None) -> dict[str, ed25519.Ed25519PublicKey]:
    if jwks is not None:
        keys = tv.keys_from_jwks(json.loads(jwks.read_text(encoding="utf-8")))
    elif registry is not None:
        keys = tv.keys_from_jwks(registry.json("/api/v1/registry/keys"))
    else:
        raise _Failed("give --url (the registry's keys are fetched) or --jwks (a saved key set)")
    if not keys:
        raise _Failed("the key set holds no Ed25519 key")
    return keys


# --- the state file: the checkpoints this member has verified --------------------------------


def _load_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"origin": None, "latest": None, "seen": {}}
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _save_state(path: Path, state: dict[str, Any], checkpoint: tv.SignedCheckpoint) -> None:
    state["origin"] = checkpoint.origin
    latest = state.get("latest")
    if latest is None or tv.parse_checkpoint(latest).size <= checkpoint.size:
        state["latest"] = checkpoint.note
    state.setdefault("seen", {})[str(checkpoint.size)] = checkpoint.root_b64
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    temporary.replace(path)


def _reconcile(
    registry: _Registry | None,
    state: dict[str, Any],
    known: tv.SignedCheckpoint,
    new: tv.SignedCheckpoint,
) -> None:
    """:raises VerificationError: ``new`` contradicts the checkpoint ``known``."""
    if new.size == known.size:
        tv.check_consistency(known, new, [])  # a fork is visible without a proof
        return
    if registry is None:
        return  # offline: nothing proves how two sizes relate
    low, high = sorted((known, new), key=lambda c: c.size)
    tv.check_consistency(low, high, registry.consistency(low.size, high.size))
    for size, root in state.get("seen", {}).items():
        if int(size) == new.size and root != new.root_b64:
            raise tv.VerificationError(
                f"FORK: checkpoint {size} was seen before with root {root}, now {new.root_b64}"
            )


def _fail(message: str, as_json: bool, **extra: Any) -> None:
    if as_json:
        click.echo(json.dumps({"verified": False, "problem": message, **extra}, indent=2))
    else:
        click.echo(f"NOT VERIFIED: {message}", err=True)
    sys.exit(1)


# --- commands -------------------------------------------------------------------------------

URL_OPTION = click.option("--url", default=None, help="the registry's base URL")
JWKS_OPTION = click.option(
    "--jwks",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="the registry's key set (GET /api/v1/registry/keys, saved) to verify offline",
)


def _read_receipts(path: Path) -> list[Any]:
    """The receipts of a file: one receipt as the registry returned it, or the JSON Lines
    file ``client submit`` appends to (one receipt a line)."""
    text = path.read_text(encoding="utf-8")
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        pass
    receipts = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            receipts.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise _Failed(f"{path.name} line {number} is not JSON ({exc.msg})") from None
    if not receipts:
        raise _Failed(f"{path.name} holds no receipt")
    return receipts


def _verify_one(
    signed: Any,
    registry: _Registry | None,
    keys: dict[str, ed25519.Ed25519PublicKey],
    state_path: Path | None,
) -> dict[str, Any]:
    """Verify one signed receipt (see ``verify-receipt``); its summary.

    :raises tv.VerificationError, _Failed: what did not hold.
    """
    if not isinstance(signed, dict) or not isinstance(signed.get("receipt"), dict):
        raise _Failed("not a signed receipt (an object with receipt and signature)")
    proof_text = signed.get("log_proof")
    receipt = signed["receipt"]
    index = receipt.get("log_index")
    if proof_text is None:
        if registry is None:
            raise _Failed("the file holds no log proof: give --url to fetch one")
        if not isinstance(index, int):
            raise tv.VerificationError("the receipt names no log index (it predates the log)")
        current = registry.checkpoint(keys)
        if current.size <= index:
            raise _Failed(
                f"entry {index} is not in a signed checkpoint yet (size {current.size}); "
                "try again in a few seconds"
            )
        # An entry the registry withholds is the receipt's own: the proof then shows
        # that its leaf is in the tree.
        served, _ = registry.entry(index)
        proof_text = tv.build_proof(
            index,
            registry.inclusion(index, current.size),
            current.note,
            served if served is not None else tv.submission_entry(receipt),
        )
    result = tv.verify_receipt(signed, proof_text, keys)
    if registry is not None:
        if registry.entry(result.log_index)[1] != result.leaf_hash:
            raise tv.VerificationError(
                f"the log now holds another entry at index {result.log_index} than this "
                "receipt's: the entry was altered"
            )
        current = registry.checkpoint(keys)
        _reconcile(registry, {}, result.checkpoint, current)
    if state_path is not None:
        state = _load_state(state_path)
        if state.get("latest"):
            known = _verified_checkpoint(state["latest"], keys)
            _reconcile(registry, state, known, result.checkpoint)
    return {
        "verified": True,
        "submission_id": receipt["submission_id"],
        "log_index": result.log_index,
        "checkpoint_size": result.checkpoint.size,
        "origin": result.checkpoint.origin,
    }


@click.command("verify-receipt")
@click.argument("receipt_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@URL_OPTION
@JWKS_OPTION
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="an audit-log state file: the proof's checkpoint must agree with those seen",
)
@click.option("--json", "as_json", is_flag=True)
def verify_receipt_command(
    receipt_file: Path, url: str | None, jwks: Path | None, state_path: Path | None, as_json: bool
) -> None:
    """Verify signed receipts and that their submissions are in the registry's log.

    RECEIPT_FILE is a receipt as the registry returned it, or the FILE.receipts.jsonl that
    `client submit` writes (every line is verified). With its `log_proof` (from
    GET /api/v1/submissions/{id}/proof) a receipt verifies offline with --jwks. Without one,
    the proof is fetched from --url. With --url the command also checks that the log still
    holds each entry and that the proof's checkpoint is consistent with the current one.
    """
    try:
        registry = _Registry(url) if url else None
        receipts = _read_receipts(receipt_file)
        keys = _keys(registry, jwks)
    except (tv.VerificationError, _Failed) as exc:
        _fail(str(exc), as_json)
        return
    summaries: list[dict[str, Any]] = []
    for number, signed in enumerate(receipts, start=1):
        where = f"line {number}: " if len(receipts) > 1 else ""
        try:
            summaries.append(_verify_one(signed, registry, keys, state_path))
        except (tv.VerificationError, _Failed) as exc:
            summaries.append({"verified": False, "line": number, "problem": f"{where}{exc}"})
    failed = [s for s in summaries if not s["verified"]]
    if len(receipts) == 1 and failed:
        _fail(str(failed[0]["problem"]), as_json)
        return
    if as_json:
        document = (
            summaries[0]
            if len(receipts) == 1
            else {
                "verified": not failed,
                "receipts": summaries,
            }
        )
        click.echo(json.dumps(document, indent=2, sort_keys=True))
    else:
        for summary in summaries:
            if summary["verified"]:
                click.echo(
                    f"receipt {summary['submission_id']} verified: entry {summary['log_index']} "
                    f"is in {summary['origin']} at tree size {summary['checkpoint_size']}"
                )
            else:
                click.echo(f"NOT VERIFIED: {summary['problem']}", err=True)
    if failed:
        if not as_json:
            click.echo(f"{len(failed)} of {len(receipts)} receipts not verified", err=True)
        sys.exit(1)


@click.command("audit-log")
@click.option("--url", required=True, help="the registry's base URL")
@JWKS_OPTION
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_STATE,
    show_default=True,
    help="where the checkpoints verified so far are kept",
)
@click.option(
    "--from",
    "from_size",
    type=click.IntRange(min=0),
    default=None,
    help="prove consistency from this earlier size (one in the state file); "
    "default: the last checkpoint seen",
)
@click.option("--entries", is_flag=True, help="also check every new entry's inclusion")
@click.option("--json", "as_json", is_flag=True)
def audit_log_command(
    url: str,
    jwks: Path | None,
    state_path: Path,
    from_size: int | None,
    entries: bool,
    as_json: bool,
) -> None:
    """Check that the registry's log only grew since the checkpoint seen last.

    Fetches and verifies the current signed checkpoint, then the consistency proof from the
    last one this member verified (kept in --state). A fork (two signed checkpoints that
    cannot both be true), a log that shrank or a rewritten history exits 1, leaving the state
    as it was. The first run records the checkpoint it sees.
    """
    old: tv.SignedCheckpoint | None = None
    new: tv.SignedCheckpoint | None = None
    try:
        registry = _Registry(url)
        keys = _keys(registry, jwks)
        state = _load_state(state_path)
        new = registry.checkpoint(keys)
        if state.get("origin") not in (None, new.origin):
            raise tv.VerificationError(
                f"the state file is for log {state['origin']}, the registry serves {new.origin}"
            )
        if from_size is not None and from_size > 0:
            root = state.get("seen", {}).get(str(from_size))
            if root is None:
                sizes = ", ".join(sorted(state.get("seen", {}), key=int)) or "none"
                raise _Failed(f"no checkpoint of size {from_size} was seen (seen: {sizes})")
            old = tv.SignedCheckpoint(
                new.origin, from_size, tv._b64decode(root, "a stored root"), ""
            )
        elif from_size is None and state.get("latest"):
            old = _verified_checkpoint(state["latest"], keys)
        if old is not None:
            _reconcile(registry, state, old, new)
            if new.size < old.size:
                raise tv.VerificationError(
                    f"the registry serves checkpoint {new.size}, older than {old.size} seen before"
                )
        if entries:
            start = old.size if old is not None else 0
            for index in range(start, new.size):
                _, leaf = registry.entry(index)
                tv.verify_inclusion(
                    leaf, index, new.size, registry.inclusion(index, new.size), new.root
                )
    except (tv.VerificationError, _Failed) as exc:
        evidence = {}
        if old is not None and old.note:
            evidence["checkpoint_seen"] = old.note
        if new is not None:
            evidence["checkpoint_served"] = new.note
        if not as_json:
            for name, note in evidence.items():
                click.echo(f"{name}:\n{note}", err=True)
        _fail(str(exc), as_json, **evidence)
        return
    _save_state(state_path, state, new)
    result = {
        "verified": True,
        "origin": new.origin,
        "from_size": old.size if old is not None else None,
        "size": new.size,
        "root": new.root_b64,
        "entries_checked": (new.size - (old.size if old else 0)) if entries else 0,
    }
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
    elif old is None:
        click.echo(
            f"first checkpoint recorded: {new.origin} size {new.size} root {new.root_b64} "
            "(trusted on first use; later runs prove the log only grows from here)"
        )
    else:
        click.echo(
            f"log consistent: {new.origin} grew from {old.size} to {new.size} entries; "
            f"root {new.root_b64}"
        )


@click.command("verify-screening")
@click.argument("statement_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@URL_OPTION
@JWKS_OPTION
@click.option(
    "--query",
    "query_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="the request body that was sent: its digest must be the statement's",
)
@click.option("--json", "as_json", is_flag=True)
def verify_screening_command(
    statement_file: Path,
    url: str | None,
    jwks: Path | None,
    query_file: Path | None,
    as_json: bool,
) -> None:
    """Verify a signed screening result (POST /api/v1/screening?signed=true): the
    registry's signature, the checkpoint it was computed against and, with --query, that it
    answers this query."""
    try:
        registry = _Registry(url) if url else None
        keys = _keys(registry, jwks)
        signed = json.loads(statement_file.read_text(encoding="utf-8"))
        statement = tv.verify_screening(signed, keys)
        if query_file is not None:
            import base64
            import hashlib

            digest = base64.b64encode(hashlib.sha256(query_file.read_bytes()).digest()).decode()
            if statement.get("query_digest") != f"sha-256=:{digest}:":
                raise tv.VerificationError("the statement answers another query than this file")
    except (tv.VerificationError, _Failed) as exc:
        _fail(str(exc), as_json)
        return
    checkpoint = (
        tv.parse_checkpoint(statement["checkpoint"]) if statement.get("checkpoint") else None
    )
    result = {
        "verified": True,
        "issued_at": statement.get("issued_at"),
        "rows": len(statement.get("results", {}).get("rows", [])),
        "checkpoint_size": checkpoint.size if checkpoint else None,
    }
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
    else:
        click.echo(
            f"screening statement verified: {result['rows']} row(s), issued "
            f"{result['issued_at']}, as of log size {result['checkpoint_size']}"
        )


COMMANDS = (verify_receipt_command, audit_log_command, verify_screening_command)
