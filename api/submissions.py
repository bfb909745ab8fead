"""``/api/v1/submissions``: members send credit records; the registry answers with a receipt."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from api import json_body, problems
from api.auth import current_caller, signed
from api.httpsig import content_digest
from api.schemas import has_nul, load_submission
from registry import intake
from registry.db import db
from registry.members import MemberRole
from registry.publicity import rule_from_settings
from registry.runtime import current_runtime

bp = Blueprint("submissions", __name__, url_prefix="/api/v1")

JSON_TYPES = {"application/json"}
NDJSON_TYPES = {"application/x-ndjson", "application/ndjson"}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(body: bytes, mimetype: str) -> Any:
    """The submission document from a JSON body, or an NDJSON body whose first line is the
    header (``{"submission_id": ...}``) and whose other lines are records.

    :raises ValueError: with a message saying where the body is malformed.
    :raises json_body.NestedTooDeep: a document nests too deeply (its own 400 problem).
    """
    text = body.decode("utf-8")
    if mimetype in JSON_TYPES:
        return json_body.loads(text, parse_constant=_reject_constant)
    lines = [
        (number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()
    ]
    if not lines:
        raise ValueError("the body is empty")
    documents = []
    for number, line in lines:
        try:
            documents.append(json_body.loads(line, parse_constant=_reject_constant))
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
    header = documents[0]
    if not isinstance(header, dict) or "records" in header:
        raise ValueError("line 1 must be the header object, without records")
    return {**header, "records": documents[1:]}


@bp.post("/submissions")
@signed(MemberRole.SUBMITTER)
def create_submission() -> ResponseReturnValue:
    """Send credit records.

    ---
    post:
      operationId: createSubmission
      summary: Send credit records
      description: 'All or nothing: any invalid record refuses the whole submission, and the
        422 lists every error with its record index. Sending the same `submission_id` and
        body again returns the first receipt (200); the same id with another body is a 409.'
      requestBody:
        required: true
        content:
          application/json:
            schema: Submission
            example:
              submission_id: 2026-11-25-batch-1
              records:
                - record_id: PEN-2025-0001
                  op: upsert
                  category: administrative_penalty
                  subject:
                    kind: enterprise
                    uscc: 91110000600037341L
                    name: 北京华信科技有限公司
                  polarity: negative
                  severity: general
                  decided_at: '2025-03-01'
                  authority: 北京市市场监督管理局
                  document_number: 京市监罚〔2025〕12号
                  legal_basis: 《中华人民共和国广告法》第五十五条
                  summary: 发布虚假广告
                  amount:
                    value: '20000.00'
                    currency: CNY
          application/x-ndjson:
            schema:
              type: string
              description: 'First line `{"submission_id": ...}`, then one record per line.'
      responses:
        201:
          description: Accepted; the receipt is signed by the registry.
          content:
            application/json:
              schema: SignedReceipt
              example:
                receipt:
                  type: creditreg.submission-receipt/v1
                  member_id: 3f2c1a8e-5b7d-4c2e-9a10-6d4b8e2f7c31
                  key_id: 9Qm3xkq5YI6b0mGvV1yR2vX0Ujz8ctWQ8oFkq1s3Hn4
                  submission_id: 2026-11-25-batch-1
                  body_digest: 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:'
                  received_at: '2026-11-25T09:30:00+00:00'
                  log_index: 4127
                  records:
                    - index: 0
                      record_id: PEN-2025-0001
                      registry_id: 8a1d5c2e-0f4b-4e7a-b6c3-2d9e1f0a7b54
                      subject_id: c47e2b19-6a3d-4f8e-9b05-1e2d3c4b5a69
                      version: 1
                      status: created
                receipt_signature: 2b7mV2Y0xk…
                registry_key_id: registry-2026-1
          headers:
            Location:
              schema:
                type: string
        200:
          description: 'Already accepted: the first receipt again.'
          content:
            application/json:
              schema: SignedReceipt
          headers:
            Idempotent-Replayed:
              schema:
                const: 'true'
      problems: [401, 403, 409, 413, 415, 422, 429, 503]
    """
    caller = current_caller()
    runtime = current_runtime()
    body = request.get_data(cache=True)
    mimetype = request.mimetype
    if mimetype not in JSON_TYPES | NDJSON_TYPES:
        return problems.problem_response(
            problems.UNSUPPORTED_MEDIA_TYPE,
            "send application/json, or application/x-ndjson with a header line",
        )
    try:
        document = parse_body(body, mimetype)
    except (ValueError, UnicodeDecodeError) as exc:
        return problems.problem_response(problems.MALFORMED_BODY, str(exc))

    session = db.session
    member = caller.acting_member
    digest = content_digest(body)
    submission_id = document.get("submission_id") if isinstance(document, dict) else None
    # An id with NUL was never stored (the schema refuses it below) and cannot be looked up.
    if isinstance(submission_id, str) and not has_nul(submission_id):
        receipt = intake.replay_or_conflict(session, member, submission_id, digest)
        if receipt is not None:
            response = jsonify(receipt)
            response.headers["Idempotent-Replayed"] = "true"
            return response

    try:
        submission_id, records = load_submission(document, runtime.settings.SUBMISSION_MAX_RECORDS)
    except ValidationError as exc:
        return problems.validation_problem(exc, "{count} field error(s); nothing was stored")

    evidence = caller.evidence(
        content_type=request.content_type or mimetype, body=body, body_digest=digest
    )
    submission = intake.accept_submission(
        session,
        member=member,
        vault=runtime.vault,
        signer=runtime.signer,
        submission_id=submission_id,
        records=records,
        evidence=evidence,
        now=runtime.clock.now(),
        publicity=rule_from_settings(runtime.settings),
    )
    response = jsonify(submission.receipt)
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/submissions/{submission_id}"
    return response


@bp.get("/submissions/<submission_id>")
@signed()
def get_submission(submission_id: str) -> ResponseReturnValue:
    """The receipt of one of the caller's own submissions.

    ---
    get:
      operationId: getSubmission
      summary: The receipt of one of the caller's submissions
      parameters:
        - name: submission_id
          in: path
          required: true
          schema:
            type: string
            maxLength: 128
      responses:
        200:
          description: The receipt.
          content:
            application/json:
              schema: SignedReceipt
      problems: [401, 403, 404, 429, 503]
    """
    caller = current_caller()
    found = intake.find_submission(db.session, caller.acting_member, submission_id)
    if found is None or found.receipt is None:
        return problems.problem_response(
            problems.NOT_FOUND, "the member has no submission with this id"
        )
    return jsonify(found.receipt)


@bp.get("/registry/keys")
def registry_keys() -> ResponseReturnValue:
    """The registry's public signing keys as a JWKS (RFC 7517); no signature needed.

    ---
    get:
      operationId: registryKeys
      summary: The registry's public signing keys (JWKS)
      responses:
        200:
          description: The key set.
          content:
            application/json:
              schema: JWKS
    """
    response = jsonify(current_runtime().signer.jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
