"""Credit reports over the signed API: consents, member reports, the subject's own report.

``GET /api/v1/subjects/{id}/report`` generates a report (logged like every lookup) and
answers its JSON; the stored report is then fetched again as JSON, printable HTML or PDF
from ``/api/v1/reports/{id}``, by the member that asked for it only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError, fields, validate, validates_schema

from api import problems
from api.auth import current_caller, signed
from api.schemas import StrictSchema
from registry import listings, reports
from registry.audit import Actor, ActorKind
from registry.db import db, get_by_id
from registry.errors import Forbidden, NotFound
from registry.members import MemberRole
from registry.querylog import QueryKind, QueryPurpose, log_query
from registry.runtime import current_runtime
from registry.seller_ratings import policy_from_settings
from registry.subjects import Subject, SubjectKind, lock_subjects, represents

bp = Blueprint("reports_api", __name__, url_prefix="/api/v1")

CONSENT_REQUIRED = problems.register(
    "consent-required",
    403,
    "Consent required",
    "A report on a person needs a consent the member recorded for that person, valid today "
    "and given for the purpose stated.",
)
OWN_REPORT_QUOTA = problems.register(
    "own-report-quota",
    429,
    "Own-report quota used",
    "The subject has had the free own reports of this calendar year; the next is free from "
    "the date in next_free.",
)
problems.map_domain_error(reports.ConsentRequired, CONSENT_REQUIRED)
problems.map_domain_error(reports.OwnReportQuota, OWN_REPORT_QUOTA)
REPORT_EXPIRED = problems.register(
    "report-expired",
    410,
    "Report no longer available",
    "A stored report is kept for REPORT_AVAILABLE_DAYS days; generate a new one.",
)
problems.map_domain_error(reports.ReportExpired, REPORT_EXPIRED)

PURPOSES = [str(p) for p in QueryPurpose]


class ConsentSchema(StrictSchema):
    not_free_text = frozenset({"id_number"})

    subject_id = fields.UUID(metadata={"description": "the person's subject id"})
    id_number = fields.String(
        validate=validate.Length(min=1, max=40),
        metadata={
            "description": "or the person's ID number (never stored in clear), whether or not "
            "the registry holds the person"
        },
    )
    reference = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "the member's reference of the signed consent it keeps"},
    )
    purpose = fields.String(required=True, validate=validate.OneOf(PURPOSES))
    given_on = fields.Date(required=True)
    valid_until = fields.Date(required=True)

    @validates_schema(skip_on_field_errors=False)
    def _one_person(self, data: dict[str, Any], **_: Any) -> None:
        if ("subject_id" in data) == ("id_number" in data):
            raise ValidationError("name the person by subject_id or by id_number", "subject_id")


class ReportParamsSchema(StrictSchema):
    stores_text = False  # query parameters (see StrictSchema)

    purpose = fields.String(required=True, validate=validate.OneOf(PURPOSES))
    consent = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "the consent id; required for a person"},
    )


CONSENT = ConsentSchema()
REPORT_PARAMS = ReportParamsSchema()


def _subject(subject_id: str) -> Subject:
    return get_by_id(db.session, Subject, subject_id, what="subject")


def _actor() -> Actor:
    return Actor(ActorKind.MEMBER, str(current_caller().member_id))


@bp.post("/consents")
@signed(MemberRole.QUERIER)
def record_consent() -> ResponseReturnValue:
    """A person's consent, named by subject id or by ID number. By number it is recorded and
    answered alike whether or not the registry holds the person (it applies if they come).

    ---
    post:
      operationId: recordConsent
      summary: Record a person's consent to a report
      requestBody: Consent
      responses:
        201:
          description: Done.
          content:
            application/json:
              schema: ConsentRecord
      problems: [401, 403, 404, 409, 422, 429]
    """
    body = problems.load_or_problem(
        CONSENT, request.get_json(silent=True) or {}, "{count} field error(s); nothing changed"
    )
    if isinstance(body, Response):
        return body
    runtime = current_runtime()
    consent = reports.record_consent(
        db.session,
        actor=_actor(),
        member=current_caller().member,
        vault=runtime.vault,
        subject=_subject(str(body["subject_id"])) if "subject_id" in body else None,
        id_number=body.get("id_number"),
        reference=body["reference"],
        purpose=body["purpose"],
        given_on=body["given_on"],
        valid_until=body["valid_until"],
        at=runtime.clock.now(),
    )
    response = jsonify(consent.summary())
    response.status_code = 201
    return response


@bp.delete("/consents/<consent_id>")
@signed(MemberRole.QUERIER)
def revoke_consent(consent_id: str) -> ResponseReturnValue:
    """Revoke a consent the member recorded.

    ---
    delete:
      operationId: revokeConsent
      summary: Revoke a consent the member recorded
      responses:
        200:
          description: The revoked consent.
          content:
            application/json:
              schema: ConsentRecord
      problems: [401, 403, 404, 409, 429]
    """
    consent = reports.own_consent(db.session, current_caller().member, consent_id)
    reports.revoke_consent(db.session, consent, actor=_actor(), at=current_runtime().clock.now())
    return jsonify(consent.summary())


def _report_response(report: reports.CreditReport, status: int) -> Response:
    response = jsonify({"report": report.content, "digest": report.digest})
    response.status_code = status
    response.headers["Location"] = f"/api/v1/reports/{report.id}"
    return response


@bp.get("/subjects/<subject_id>/report")
@signed(MemberRole.QUERIER)
def member_report(subject_id: str) -> ResponseReturnValue:
    """A credit report on a subject (logged; a person needs a consent).

    ---
    get:
      operationId: memberReport
      summary: A credit report on a subject (logged; a person needs a consent)
      parameters:
        - in: query
          schema: ReportParamsSchema
      responses:
        200:
          description: The report; Location names it for the HTML and PDF renderings.
          content:
            application/json:
              schema: CreditReport
      problems: [401, 403, 404, 422, 429]
    """
    params = problems.load_or_problem(
        REPORT_PARAMS, request.args.to_dict(), "{count} parameter error(s)"
    )
    if not isinstance(params, dict):
        return params
    runtime = current_runtime()
    now = runtime.clock.now()
    caller = current_caller()
    member = caller.member
    subject = _subject(subject_id)
    consent = None
    if subject.kind == SubjectKind.PERSON:
        consent = reports.check_consent(
            db.session,
            member=member,
            subject=subject,
            consent_id=params.get("consent"),
            purpose=params["purpose"],
            at=now,
        )
    report = reports.issue_report(
        db.session,
        subject,
        actor=_actor(),
        member=member,
        kind=reports.ReportKind.MEMBER,
        purpose=params["purpose"],
        consent=consent,
        at=now,
        seller_policy=policy_from_settings(runtime.settings),
    )
    log_query(
        db.session,
        member_id=caller.member_id,
        key_id=caller.key_id,
        at=now,
        kind=QueryKind.REPORT,
        purpose=params["purpose"],
        query={"subject_id": str(subject.id), "report_id": str(report.id)},
        results=1,
        subject_ids=[str(subject.id)],
    )
    return _report_response(report, 200)


@bp.post("/subjects/<subject_id>/own-report")
@signed()
def own_report(subject_id: str) -> ResponseReturnValue:
    """The subject's own report, through the member that is the subject (same USCC) or
    operates it (a shop): free a configurable number of times a calendar year.

    ---
    post:
      operationId: ownReport
      summary: The subject's own report, with every query of it (free twice a year)
      responses:
        201:
          description: The report.
          content:
            application/json:
              schema: CreditReport
      problems: [401, 403, 404, 429]
    """
    runtime = current_runtime()
    subject = _subject(subject_id)
    member = current_caller().member
    if not represents(member, subject):
        raise Forbidden("only the subject itself asks for its own report")
    # The report shows the subject's entries in their notice stage: handing it over serves
    # the notices not served yet, so the report carries their windows. The subject's row
    # first, as every writer of the audit chain that holds it takes it (registry.subjects).
    lock_subjects(db.session, [subject.id])
    listings.deliver_notices(
        db.session,
        member,
        via=f"POST /api/v1/subjects/{subject.id}/own-report, key {current_caller().key_id}",
        policy=listings.policy_from_settings(runtime.settings),
        at=runtime.clock.now(),
        subject_ids=[subject.id],
    )
    report = reports.issue_own_report(
        db.session,
        subject,
        actor=_actor(),
        member=member,
        settings=runtime.settings,
        at=runtime.clock.now(),
    )
    return _report_response(report, 201)


def _readable_report(report_id: str) -> reports.CreditReport:
    report = reports.get_report(db.session, report_id)
    caller = current_caller()
    if report.member_id != caller.member_id:
        # Another member's report does not exist as far as this caller can tell.
        raise NotFound("no report with this id")
    if report.kind == reports.ReportKind.MEMBER and str(MemberRole.QUERIER) not in caller.roles:
        raise Forbidden("reading a report on a counterparty needs the querier role")
    days = current_runtime().settings.REPORT_AVAILABLE_DAYS
    if current_runtime().clock.now() > report.generated_at + timedelta(days=days):
        # A stored report is a copy of a moment: past this, records may have left the
        # registry (retention, repair) and the copy must not outlive them. Ask again.
        raise reports.ReportExpired(
            f"reports stay available for {days} days; generate a new one",
            generated_at=report.content["generated_at"],
        )
    return report


@bp.app_context_processor
def _report_words() -> dict[str, Any]:
    """The report's words for report.html, in the reader's language (the default outside a
    request, as when staff write one with ``creditreg reports own``)."""
    from flask import has_request_context
    from flask_babel import get_locale

    from api import report_text

    language = report_text.language_of(str(get_locale()) if has_request_context() else None)
    return {
        "label": lambda group, code: report_text.label(group, code, language),
        "both": report_text.both,
        "amount": lambda value: report_text.amount(value, language),
    }


@bp.get("/reports/<report_id>")
@signed()
def get_report(report_id: str) -> ResponseReturnValue:
    """A report the member asked for, again.

    ---
    get:
      operationId: getReport
      summary: A report the member asked for, again
      responses:
        200:
          description: The stored report.
          content:
            application/json:
              schema: CreditReport
      problems: [401, 403, 404, 410, 429]
    """
    return _report_response(_readable_report(report_id), 200)


@bp.get("/reports/<report_id>.html")
@signed()
def report_html(report_id: str) -> ResponseReturnValue:
    """The report as a printable HTML page.

    ---
    get:
      operationId: getReportHtml
      summary: The report as a printable HTML page
      responses:
        200:
          description: The report as a printable HTML page
          content:
            text/html:
              schema:
                type: string
      problems: [401, 403, 404, 410, 429]
    """
    report = _readable_report(report_id)
    return render_template("report.html", report=report.content, digest=report.digest)


@bp.get("/reports/<report_id>.pdf")
@signed()
def report_pdf(report_id: str) -> ResponseReturnValue:
    """The report as a PDF document.

    ---
    get:
      operationId: getReportPdf
      summary: The report as a PDF document
      responses:
        200:
          description: The report as a PDF document
          content:
            application/pdf:
              schema:
                type: string
      problems: [401, 403, 404, 410, 429]
    """
    from flask_babel import get_locale

    from api.report_pdf import render_pdf

    report = _readable_report(report_id)
    # The reader's language (Accept-Language, or the site's language cookie) sets how codes,
    # dates and amounts read; the headings are in both languages.
    return Response(
        render_pdf(report.content, report.digest, language=str(get_locale())),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="credit-report-{report.id}.pdf"'},
    )
