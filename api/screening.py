"""``/api/v1/screening``: a member's list of names and codes against the registry.

Small screenings are answered at once; above ``SCREENING_SYNC_MAX_ROWS`` rows the request
becomes a job that ``creditreg worker`` runs, with progress and a result to download as
JSON or CSV. Rows come as JSON or as CSV (a ``text/csv`` body, or a ``file`` field of a
multipart form) with the columns ``name``, ``uscc``, ``region`` and optionally
``reference`` (the member's own row id, echoed back).
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import fields, validate

from api import json_body, problems
from api.auth import current_caller, signed
from api.csv_export import BOM_FIELD, csv_response
from api.csv_import import CsvDecodeError, request_csv, upload_csv
from api.schemas import NUL_REFUSED, StrictSchema, has_nul
from api.tlog import signed_screening
from registry.db import db
from registry.errors import NotFound
from registry.members import MemberRole
from registry.querylog import QueryKind, QueryPurpose, log_query
from registry.runtime import current_runtime
from registry.screening_jobs import JobStatus, ScreeningJob
from search.screening import (
    ScreeningRow,
    SearchUnavailable,
    Thresholds,
    backend_search,
    matched_subject_ids,
    normalise_row,
    screen,
    summary,
)

bp = Blueprint("screening", __name__, url_prefix="/api/v1")

JOB_NOT_FINISHED = problems.register(
    "job-not-finished",
    409,
    "Job not finished",
    "The screening job is still running; its progress is at the job's URL.",
)
CSV_COLUMNS = ("name", "uscc", "region", "reference")
RESULT_COLUMNS = (
    "row",
    "reference",
    "name",
    "uscc",
    "region",
    "decision",
    "score",
    "match_subject_id",
    "match_name",
    "match_uscc",
    "match_score",
    "match_lists",
    "errors",
)


def thresholds() -> Thresholds:
    settings = current_runtime().settings
    return Thresholds(settings.SCREENING_MATCH_THRESHOLD, settings.SCREENING_POSSIBLE_THRESHOLD)


def _read_request() -> tuple[str | None, list[Any]]:
    """(purpose, raw rows) from a JSON body, a CSV body or a multipart upload.

    :raises ValueError: the body cannot be read.
    """
    mimetype = request.mimetype
    if mimetype == "application/json":
        document = json_body.loads(request.get_data(as_text=True) or "null")
        if not isinstance(document, dict):
            raise ValueError('the body is a JSON object: {"purpose": ..., "rows": [...]}')
        rows = document.get("rows")
        if not isinstance(rows, list):
            raise ValueError("rows must be a list of objects")
        return document.get("purpose"), rows
    if mimetype == "text/csv":
        text = request_csv(request.mimetype_params, request.get_data())
        return request.args.get("purpose"), _csv_rows(text)
    if mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValueError("the form needs a file field with the CSV")
        text = upload_csv(upload, request.form.get("charset"))
        return request.form.get("purpose"), _csv_rows(text)
    raise LookupError(mimetype)


def _csv_rows(text: str) -> list[dict[str, Any]]:
    """:raises ValueError: the CSV cannot be read, or lacks the columns."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        names = {f.strip() for f in reader.fieldnames or []}
        if not {"name", "uscc"} & names:
            raise ValueError("the CSV needs a header line with name and/or uscc columns")
        return [
            {k.strip(): (v or "").strip() for k, v in row.items() if k and k.strip() in CSV_COLUMNS}
            for row in reader
        ]
    except csv.Error as exc:  # e.g. a field past the csv module's size limit
        raise ValueError(f"the CSV cannot be read: line {reader.line_num}: {exc}") from None


class ResultParams(StrictSchema):
    """How a screening result is answered: JSON or CSV, signed or not."""

    stores_text = False  # query parameters (see StrictSchema)

    format = fields.String(validate=validate.OneOf(["json", "csv"]))
    signed = fields.String(
        validate=validate.OneOf(["true", "false"]),
        metadata={
            "description": "`true`: answer (at once) with a `SignedScreening`, the result "
            "signed with the query digest and the log checkpoint"
        },
    )
    bom = BOM_FIELD


class ScreeningParams(ResultParams):
    purpose = fields.String(
        validate=validate.OneOf([str(p) for p in QueryPurpose]),
        metadata={"description": "for a text/csv body"},
    )
    all_or_nothing = fields.String(
        validate=validate.OneOf(["true", "false"]),
        metadata={"description": "`true`: one bad row refuses the whole request (422)"},
    )


RESULT_PARAMS = ResultParams()
SCREENING_PARAMS = ScreeningParams()


@bp.post("/screening")
@signed(MemberRole.QUERIER)
def create_screening() -> ResponseReturnValue:
    """Screen a list of names and codes.

    ---
    post:
      operationId: screen
      summary: Screen a list of names and codes
      description: 'Up to SCREENING_MAX_ROWS rows. Small lists are answered at once (JSON,
        or CSV with `format=csv` or `Accept: text/csv`); larger ones become a job (202, Location).
        An exact USCC is decisive; otherwise one scorer ranks the backend''s candidates, with
        an explanation per score. A row that cannot be screened is answered with decision
        `error` and its `errors` (counted in the summary) while the others are screened; with
        `all_or_nothing=true`, or when no row is good, the request is a 422 with every error.'
      parameters:
        - in: query
          schema: ScreeningParams
      requestBody:
        required: true
        content:
          application/json:
            schema: ScreeningRequest
          text/csv:
            schema:
              type: string
              description: 'header line with name, uscc, region, reference; UTF-8 (a byte-order
                mark is accepted) unless the Content-Type declares another charset: GB18030,
                GBK and GB2312 are read as GB18030 (what Excel on Chinese Windows saves);
                any other is a 415, bytes invalid in the charset a 422 `csv-not-decodable`'
          multipart/form-data:
            schema:
              type: object
              properties:
                purpose:
                  type: string
                file:
                  type: string
                  format: binary
                charset:
                  type: string
                  description: the file's charset, when its part does not declare it
      responses:
        200:
          description: The result.
          content:
            application/json:
              schema:
                oneOf:
                  - $ref: '#/components/schemas/ScreeningResult'
                  - $ref: '#/components/schemas/SignedScreening'
            text/csv:
              schema:
                type: string
        202:
          description: Queued as a job; follow Location.
          content:
            application/json:
              schema: ScreeningJob
      problems: [401, 403, 415, 422, 429, 503]
    """
    params = problems.load_or_problem(
        SCREENING_PARAMS, request.args.to_dict(), "{count} parameter error(s)"
    )
    if isinstance(params, Response):
        return params
    try:
        purpose, raw_rows = _read_request()
    except LookupError:
        return problems.problem_response(
            problems.UNSUPPORTED_MEDIA_TYPE,
            "send application/json, text/csv, or multipart/form-data with a file field",
        )
    except CsvDecodeError as exc:
        return problems.problem_response(exc.problem_type, str(exc))
    except (ValueError, UnicodeDecodeError) as exc:
        return problems.problem_response(problems.MALFORMED_BODY, str(exc))

    settings = current_runtime().settings
    # By default a row that cannot be screened is answered with its errors and the others
    # are screened; all_or_nothing=true refuses the whole request for one bad row.
    all_or_nothing = request.args.get("all_or_nothing") == "true"
    errors: list[dict[str, str]] = []
    row_errors_seen: list[dict[str, str]] = []
    if not isinstance(purpose, str) or purpose not in {str(p) for p in QueryPurpose}:
        errors.append({"field": "purpose", "message": f"one of {', '.join(QueryPurpose)}"})
    if not raw_rows:
        errors.append({"field": "rows", "message": "at least one row"})
    if len(raw_rows) > settings.SCREENING_MAX_ROWS:
        errors.append({"field": "rows", "message": f"at most {settings.SCREENING_MAX_ROWS} rows"})
        raw_rows = []
    rows: list[ScreeningRow] = []
    for index, raw in enumerate(raw_rows):
        if not isinstance(raw, dict):
            row_errors_seen.append({"field": f"rows.{index}", "message": "a row is an object"})
            rows.append(ScreeningRow(errors={"row": "a row is an object"}))
            continue
        row, row_errors = normalise_row(raw)
        for name in CSV_COLUMNS:
            if has_nul(raw.get(name)):
                row_errors.setdefault(name, NUL_REFUSED)
        if row_errors:
            row = replace(row, errors=row_errors, **{k: None for k in row_errors if k != "row"})
        row_errors_seen.extend(
            {"field": f"rows.{index}.{k}", "message": v} for k, v in row_errors.items()
        )
        rows.append(row)
    if all_or_nothing or errors or len(row_errors_seen) == len(rows):
        errors.extend(row_errors_seen)
    if errors:
        return problems.problem_response(
            problems.VALIDATION, f"{len(errors)} error(s); nothing was screened", errors=errors
        )

    caller = current_caller()
    now = current_runtime().clock.now()
    if len(rows) > settings.SCREENING_SYNC_MAX_ROWS:
        job = ScreeningJob(
            id=uuid.uuid4(),
            member_id=caller.member_id,
            key_id=caller.key_id,
            purpose=str(purpose),
            status=JobStatus.QUEUED,
            total_rows=len(rows),
            done_rows=0,
            rows=[row.__dict__ for row in rows],
            results=[],
            created_at=now,
        )
        db.session.add(job)
        response = jsonify(job.progress())
        response.status_code = 202
        response.headers["Location"] = f"/api/v1/screening/jobs/{job.id}"
        return response

    backend = current_app.extensions["creditreg.search"]
    try:
        results = screen(rows, backend_search(backend, db.session), thresholds())
    except SearchUnavailable:
        return problems.search_unavailable(db.session)
    log_screening(caller.member_id, caller.key_id, str(purpose), results, now)
    if request.args.get("signed") == "true":
        document = {
            "rows": results,
            "summary": summary(results),
            "thresholds": thresholds().__dict__,
        }
        return jsonify(signed_screening(caller, str(purpose), document, request.get_data()))
    return _result_response({"rows": results, "summary": summary(results)})


def log_screening(
    member_id: uuid.UUID, key_id: str, purpose: str, results: list[dict[str, Any]], at: Any
) -> None:
    log_query(
        db.session,
        member_id=member_id,
        key_id=key_id,
        at=at,
        kind=QueryKind.SCREENING,
        purpose=purpose,
        query={"rows": len(results)},
        results=len(results),
        subject_ids=matched_subject_ids(results),
    )


def _result_response(result: dict[str, Any]) -> Response:
    wants_csv = request.args.get("format") == "csv" or (
        request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"
    )
    if not wants_csv:
        return jsonify({**result, "thresholds": thresholds().__dict__})
    return csv_response(
        RESULT_COLUMNS,
        (_csv_row(row) for row in result["rows"]),
        filename="screening.csv",
    )


def _csv_row(row: dict[str, Any]) -> dict[str, Any]:
    """One screening row with its best match, flat."""
    best = row["matches"][0] if row["matches"] else {}
    return {
        "row": row["row"],
        "reference": row.get("reference"),
        "name": row["input"]["name"],
        "uscc": row["input"]["uscc"],
        "region": row["input"]["region"],
        "decision": row["decision"],
        "score": row["score"],
        "match_subject_id": best.get("subject_id"),
        "match_name": best.get("name"),
        "match_uscc": best.get("uscc"),
        "match_score": best.get("score"),
        "match_lists": " ".join(best.get("lists", [])),
        "errors": "; ".join(f"{e['field']}: {e['message']}" for e in row.get("errors", [])),
    }


def _own_job(job_id: str) -> ScreeningJob:
    """The caller's job; another member's job does not exist for this one.

    :raises NotFound: answered as a 404 problem.
    """
    try:
        job = db.session.get(ScreeningJob, uuid.UUID(job_id))
    except ValueError:
        job = None
    if job is None or job.member_id != current_caller().member_id:
        raise NotFound("no screening job with this id")
    return job


@bp.get("/screening/jobs/<job_id>")
@signed(MemberRole.QUERIER)
def screening_job(job_id: str) -> ResponseReturnValue:
    """A screening job's progress.

    ---
    get:
      operationId: screeningJob
      summary: A screening job's progress
      responses:
        200:
          description: Progress.
          content:
            application/json:
              schema: ScreeningJob
      problems: [401, 403, 404, 429]
    """
    return jsonify(_own_job(job_id).progress())


@bp.get("/screening/jobs/<job_id>/result")
@signed(MemberRole.QUERIER)
def screening_job_result(job_id: str) -> ResponseReturnValue:
    """A finished screening job's result (JSON or CSV).

    ---
    get:
      operationId: screeningJobResult
      summary: A finished screening job's result (JSON or CSV)
      parameters:
        - in: query
          schema: ResultParams
      responses:
        200:
          description: The result.
          content:
            application/json:
              schema:
                oneOf:
                  - $ref: '#/components/schemas/ScreeningResult'
                  - $ref: '#/components/schemas/SignedScreening'
            text/csv:
              schema:
                type: string
      problems: [401, 403, 404, 409, 422, 429]
    """
    params = problems.load_or_problem(
        RESULT_PARAMS, request.args.to_dict(), "{count} parameter error(s)"
    )
    if isinstance(params, Response):
        return params
    job = _own_job(job_id)
    if job.status != JobStatus.DONE:
        return problems.problem_response(
            JOB_NOT_FINISHED, f"{job.done_rows} of {job.total_rows} rows screened so far"
        )
    return _result_response({"rows": job.results, "summary": summary(job.results)})
