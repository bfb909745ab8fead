"""``/api/v1/log``: the transparency log, public; and a submission's inclusion proof.

Checkpoints are served as C2SP signed notes (``text/plain``), proofs as base64 hashes. The
entries carry no personal data: a submission's entry holds what its receipt holds
(member, key id, body digest, record ids and versions), a list event's entry what the public
list shows. What would trace an entry to a person (a person's record ids, a person's list
entry and subject ids) is shown as null, and then the entry's exact bytes are not served:
a member proves its own submission from its receipt (:mod:`api.tlog_verify`).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue

from api import problems
from api.auth import Caller, current_caller, signed
from api.httpsig import content_digest
from api.params import integer_arg, parse_integer
from registry import intake, tlog
from registry.db import db
from registry.runtime import current_runtime

bp = Blueprint("tlog", __name__, url_prefix="/api/v1")

PROOF_PENDING = problems.register(
    "proof-pending",
    409,
    "Not yet in a checkpoint",
    "The entry is in the log but no signed checkpoint covers it yet; checkpoints follow "
    "within TLOG_CHECKPOINT_INTERVAL seconds while the worker runs.",
)
NO_CHECKPOINT = "no checkpoint has been signed yet"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _invalid(errors: list[dict[str, str]]) -> Response:
    return problems.problem_response(
        problems.VALIDATION, f"{len(errors)} parameter error(s)", errors=errors
    )


@bp.get("/log/checkpoint")
def checkpoint() -> ResponseReturnValue:
    """The latest signed checkpoint, a C2SP tlog-checkpoint signed note.

    ---
    get:
      operationId: logCheckpoint
      summary: The transparency log's latest signed checkpoint
      description: 'An append-only Merkle tree (RFC 9162: leaf SHA-256(0x00 || entry), node
        SHA-256(0x01 || left || right)) of every accepted submission and every list publication,
        extension and removal. Each entry is RFC 8785 canonical JSON; a submission''s entry
        is made of its receipt''s fields, so a member can recompute its leaf. Checkpoints
        are C2SP tlog-checkpoint signed notes (origin, size, base64 root; signature line `—
        <origin> base64(key hash || Ed25519 signature)`) by the key of `/api/v1/registry/keys`;
        the registry never signs two inconsistent ones. `creditreg client verify-receipt`
        and `creditreg client audit-log` verify them.'
      responses:
        200:
          description: A C2SP signed note.
          content:
            text/plain:
              schema:
                type: string
      problems: [404]
    """
    latest = tlog.latest_checkpoint(db.session)
    if latest is None:
        return problems.problem_response(problems.NOT_FOUND, NO_CHECKPOINT)
    response = Response(latest.note, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/log/entries/<index>")
def entry(index: str) -> ResponseReturnValue:
    """One entry of the transparency log.

    ---
    get:
      operationId: logEntry
      summary: One entry of the transparency log
      parameters:
        - LogEntryIndex
      responses:
        200:
          description: The entry.
          content:
            application/json:
              schema: LogEntry
      problems: [404, 422]
    """
    session = db.session
    number = parse_integer(index)
    if number is None:
        return _invalid([{"field": "index", "message": "a non-negative integer"}])
    found = session.get(tlog.LogEntry, number) if number < tlog.log_size(session) else None
    if found is None:
        return problems.problem_response(problems.NOT_FOUND, "the log has no entry at this index")
    raw = bytes(found.entry)
    shown, withheld = tlog.public_view(session, found.kind, json.loads(raw))
    return jsonify(
        index=number,
        kind=found.kind,
        entry=shown,
        # The exact bytes would carry what was withheld; the leaf hash alone still proves
        # the entry's place in the tree.
        entry_base64=None if withheld else _b64(raw),
        withheld=withheld,
        leaf_hash=_b64(bytes(found.leaf_hash)),
    )


@bp.get("/log/proof/inclusion")
def inclusion_proof() -> ResponseReturnValue:
    """Inclusion proof of an entry in the tree of a given size.

    ---
    get:
      operationId: logInclusionProof
      summary: Inclusion proof of an entry in the tree of a given size
      description: 'RFC 9162 2.1.3: the hashes to combine with the entry''s leaf hash to reach
        the root of the tree of `size` entries.'
      parameters:
        - LogIndex
        - LogSize
      responses:
        200:
          description: The proof.
          content:
            application/json:
              schema: InclusionProof
      problems: [422]
    """
    errors: list[dict[str, str]] = []
    index = integer_arg("index", errors)
    size = integer_arg("size", errors, minimum=1)
    session = db.session
    if not errors and not index < size <= tlog.log_size(session):
        errors.append({"field": "size", "message": "above index, at most the log's size"})
    if errors:
        return _invalid(errors)
    hashes = tlog.tree_for(session, size).inclusion_proof(index, size)
    return jsonify(index=index, tree_size=size, proof=[_b64(h) for h in hashes])


@bp.get("/log/proof/consistency")
def consistency_proof() -> ResponseReturnValue:
    """Consistency proof between two tree sizes.

    ---
    get:
      operationId: logConsistencyProof
      summary: Consistency proof between two tree sizes
      description: 'RFC 9162 2.1.4: proves the tree of `from` entries is a prefix of the tree
        of `to` entries.'
      parameters:
        - LogFrom
        - LogTo
      responses:
        200:
          description: The proof.
          content:
            application/json:
              schema: ConsistencyProof
      problems: [422]
    """
    errors: list[dict[str, str]] = []
    first = integer_arg("from", errors)
    second = integer_arg("to", errors)
    session = db.session
    if not errors and not first <= second <= tlog.log_size(session):
        errors.append({"field": "to", "message": "at least from, at most the log's size"})
    if errors:
        return _invalid(errors)
    hashes = tlog.tree_for(session, second).consistency_proof(first, second)
    return jsonify(**{"from": first, "to": second, "proof": [_b64(h) for h in hashes]})


def receipt_with_proof(receipt: dict[str, Any], proof: tlog.ProofBundle) -> dict[str, Any]:
    return {**receipt, "log_proof": proof.text}


@bp.get("/submissions/<submission_id>/proof")
@signed()
def submission_proof(submission_id: str) -> ResponseReturnValue:
    """The signed receipt with its C2SP tlog-proof, once a checkpoint covers its entry.

    ---
    get:
      operationId: getSubmissionProof
      summary: A receipt with the proof that its submission is in the log
      description: Available once a signed checkpoint covers the receipt's `log_index` (409
        `proof-pending` until then, with Retry-After).
      parameters:
        - name: submission_id
          in: path
          required: true
          schema:
            type: string
            maxLength: 128
      responses:
        200:
          description: The receipt and its proof.
          content:
            application/json:
              schema: ReceiptWithProof
      problems: [401, 403, 404, 409, 429, 503]
    """
    session = db.session
    found = intake.find_submission(session, current_caller().member, submission_id)
    if found is None or found.receipt is None:
        return problems.problem_response(
            problems.NOT_FOUND, "the member has no submission with this id"
        )
    index = found.receipt["receipt"].get("log_index")
    if index is None:
        return problems.problem_response(
            problems.NOT_FOUND, "this submission was accepted before the log began"
        )
    covering = tlog.covering_checkpoint(session, index)
    if covering is None:
        interval = current_runtime().settings.TLOG_CHECKPOINT_INTERVAL
        return problems.problem_response(
            PROOF_PENDING,
            f"entry {index} is not in a signed checkpoint yet",
            headers={"Retry-After": str(max(1, round(interval)))},
            log_index=index,
        )
    return jsonify(receipt_with_proof(found.receipt, tlog.proof_bundle(session, index, covering)))


SCREENING_STATEMENT_TYPE = "creditreg.screening-statement/v1"


def signed_screening(
    caller: Caller, purpose: str, results: dict[str, Any], body: bytes
) -> dict[str, Any]:
    """A screening result signed "as of": the query's digest, the results and the latest
    signed checkpoint, so a member can later show what the registry answered and when."""
    runtime = current_runtime()
    latest = tlog.latest_checkpoint(db.session)
    statement = {
        "type": SCREENING_STATEMENT_TYPE,
        "member_id": str(caller.member_id),
        "key_id": caller.key_id,
        "purpose": purpose,
        "query_digest": content_digest(body),
        "issued_at": runtime.clock.now().isoformat().replace("+00:00", "Z"),
        "checkpoint": latest.note if latest is not None else None,
        "results": results,
    }
    return {
        "statement": statement,
        "signature": runtime.signer.sign(statement),
        "registry_key_id": runtime.signer.key_id,
    }
