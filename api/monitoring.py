"""``/api/v1/monitoring``: a member's portfolio, its event stream and its webhook.

The portfolio is sent as JSON (``{"items": [{"subject_id": ...}, {"uscc": ...}]}``) or as
CSV (a ``text/csv`` body, or a ``file`` field of a multipart form) with a ``subject_id``
and/or a ``uscc`` column. A change is all or nothing: every bad row is reported at once,
JSON rows as ``items.<index>.<field>`` (from 0), CSV rows as ``rows.<line>.<field>`` (the
line in the file, the header being line 1).
"""

from __future__ import annotations

import csv
import io
import ipaddress
import uuid
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from api import json_body, problems
from api.auth import current_caller, signed
from api.csv_import import CsvDecodeError, request_csv, upload_csv
from api.params import integer_arg
from api.schemas import NUL_REFUSED, has_nul
from api.webhooks import REFUSED_HOST, AddressPolicy, AddressRefused, default_port
from registry import monitoring, webhooks
from registry.clock import iso
from registry.db import db
from registry.errors import NotFound
from registry.identifiers import IdentifierError, normalize_uscc, validate_uscc
from registry.members import MemberRole
from registry.runtime import current_runtime
from registry.subjects import Subject, SubjectKind

bp = Blueprint("monitoring", __name__, url_prefix="/api/v1/monitoring")

CSV_COLUMNS = ("subject_id", "uscc")
PAGE_DEFAULT = 100
PAGE_MAX = 1000
LOOPBACK_NAMES = {"localhost"}


class _Unreadable(ValueError):
    pass


def _read_rows() -> tuple[str, list[tuple[str, Any]]]:
    """(field prefix, [(row label, raw row)]) from a JSON body, a CSV body or an upload.

    :raises LookupError: an unsupported media type.
    :raises _Unreadable: the body cannot be read.
    :raises CsvDecodeError: a CSV in an unknown charset, or not valid in its charset.
    """
    mimetype = request.mimetype
    if mimetype == "application/json":
        try:
            document = json_body.loads(request.get_data(as_text=True) or "null")
        except ValueError as exc:
            raise _Unreadable(f"the body is not JSON: {exc}") from None
        if not isinstance(document, dict) or not isinstance(document.get("items"), list):
            raise _Unreadable('the body is a JSON object: {"items": [{"subject_id": ...}, ...]}')
        unknown = sorted(set(document) - {"items"})
        if unknown:
            raise _Unreadable(f"unknown field(s) {', '.join(unknown)}: the body has only items")
        return "items", [(str(index), row) for index, row in enumerate(document["items"])]
    if mimetype == "text/csv":
        text = request_csv(request.mimetype_params, request.get_data())
    elif mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise _Unreadable("the form needs a file field with the CSV")
        text = upload_csv(upload, request.form.get("charset"))
    else:
        raise LookupError(mimetype)
    reader = csv.DictReader(io.StringIO(text))
    try:
        names = {(f or "").strip() for f in reader.fieldnames or []}
        if not names & set(CSV_COLUMNS):
            raise _Unreadable("the CSV needs a header line with a subject_id and/or a uscc column")
        rows = []
        for row in reader:
            cleaned = {
                k.strip(): (v or "").strip()
                for k, v in row.items()
                if k and k.strip() in CSV_COLUMNS
            }
            # The file's own line number (header = 1); quoted newlines are not expected here.
            rows.append((str(reader.line_num), {k: v for k, v in cleaned.items() if v}))
    except csv.Error as exc:  # e.g. a field past the csv module's size limit
        raise _Unreadable(f"the CSV cannot be read: line {reader.line_num}: {exc}") from None
    return "rows", rows


def _resolve(prefix: str, rows: list[tuple[str, Any]]) -> tuple[list[uuid.UUID], list[dict]]:
    """The subject ids the rows name, and every row error."""
    errors: list[dict[str, str]] = []
    by_id: dict[str, uuid.UUID] = {}  # row label -> subject id
    wanted_ids: dict[uuid.UUID, list[str]] = {}
    wanted_usccs: dict[str, list[str]] = {}
    for label, raw in rows:
        where = f"{prefix}.{label}"
        if not isinstance(raw, dict):
            errors.append({"field": where, "message": "a row is an object with subject_id or uscc"})
            continue
        unknown = sorted(set(raw) - set(CSV_COLUMNS))
        for name in unknown:
            errors.append({"field": f"{where}.{name}", "message": "unknown field"})
        with_nul = [name for name in CSV_COLUMNS if has_nul(raw.get(name))]
        if with_nul:
            errors.extend({"field": f"{where}.{name}", "message": NUL_REFUSED} for name in with_nul)
            continue
        subject_id, uscc = raw.get("subject_id"), raw.get("uscc")
        if subject_id in (None, "") and uscc in (None, ""):
            errors.append({"field": where, "message": "give a subject_id or a uscc"})
            continue
        if subject_id not in (None, ""):
            try:
                wanted_ids.setdefault(uuid.UUID(str(subject_id)), []).append(label)
            except ValueError:
                errors.append({"field": f"{where}.subject_id", "message": "not a UUID"})
        if uscc not in (None, ""):
            if not isinstance(uscc, str):
                errors.append({"field": f"{where}.uscc", "message": "a string"})
                continue
            try:
                code = validate_uscc(uscc).code
            except IdentifierError as exc:
                code = normalize_uscc(uscc)
                if len(code) != 18:
                    errors.append({"field": f"{where}.uscc", "message": str(exc)})
                    continue
            wanted_usccs.setdefault(code, []).append(label)

    session = db.session
    found_ids: set[uuid.UUID] = set()
    ids = sorted(wanted_ids)
    for chunk in monitoring.chunks(ids):
        found_ids.update(session.scalars(sa.select(Subject.id).where(Subject.id.in_(chunk))))
    found_usccs: dict[str, uuid.UUID] = {}
    codes = sorted(wanted_usccs)
    for chunk in monitoring.chunks(codes):
        found_usccs.update(
            (row.uscc, row.id)
            for row in session.execute(
                sa.select(Subject.uscc, Subject.id).where(
                    Subject.kind == SubjectKind.ENTERPRISE, Subject.uscc.in_(chunk)
                )
            )
        )
    for subject_id, labels in wanted_ids.items():
        for label in labels:
            if subject_id in found_ids:
                by_id[label] = subject_id
            else:
                errors.append(
                    {"field": f"{prefix}.{label}.subject_id", "message": "no such subject"}
                )
    for code, labels in wanted_usccs.items():
        for label in labels:
            resolved = found_usccs.get(code)
            if resolved is None:
                errors.append(
                    {"field": f"{prefix}.{label}.uscc", "message": "no enterprise with this USCC"}
                )
            elif label in by_id and by_id[label] != resolved:
                errors.append(
                    {
                        "field": f"{prefix}.{label}.uscc",
                        "message": "names another subject than subject_id",
                    }
                )
            else:
                by_id[label] = resolved
    # A person is watched only with their consent to monitoring, held by this member.
    persons = _persons_without_monitoring_consent(session, set(by_id.values()))
    for label, subject_id in by_id.items():
        if subject_id in persons:
            errors.append(
                {
                    "field": f"{prefix}.{label}.subject_id",
                    "message": "a person is watched only with a valid consent for monitoring "
                    "(POST /api/v1/consents, purpose monitoring)",
                }
            )
    return sorted(set(by_id.values())), errors


def _persons_without_monitoring_consent(
    session: Any, subject_ids: set[uuid.UUID]
) -> set[uuid.UUID]:
    from registry.clock import local_date
    from registry.reports import Consent

    persons: dict[uuid.UUID, str | None] = {}
    for chunk in monitoring.chunks(sorted(subject_ids)):
        persons.update(
            session.execute(
                sa.select(Subject.id, Subject.id_number_hash).where(
                    Subject.id.in_(chunk), Subject.kind == SubjectKind.PERSON
                )
            ).all()
        )
    if not persons:
        return set()
    today = local_date(current_runtime().clock.now())
    consented = set(
        session.scalars(
            sa.select(Consent.id_number_hash).where(
                Consent.member_id == current_caller().member_id,
                Consent.id_number_hash.in_(sorted(h for h in persons.values() if h)),
                Consent.purpose == "monitoring",
                Consent.revoked_at.is_(None),
                Consent.given_on <= today,
                Consent.valid_until >= today,
            )
        )
    )
    return {person for person, number in persons.items() if number not in consented}


def _rows_or_problem() -> tuple[list[uuid.UUID], int] | Response:
    try:
        prefix, rows = _read_rows()
    except LookupError:
        return problems.problem_response(
            problems.UNSUPPORTED_MEDIA_TYPE,
            "send application/json, text/csv, or multipart/form-data with a file field",
        )
    except CsvDecodeError as exc:
        return problems.problem_response(exc.problem_type, str(exc))
    except _Unreadable as exc:
        return problems.problem_response(problems.MALFORMED_BODY, str(exc))
    limit = current_runtime().settings.MONITORING_PORTFOLIO_MAX
    if len(rows) > limit:
        return problems.problem_response(
            problems.VALIDATION,
            "the portfolio is too large; nothing changed",
            errors=[{"field": prefix, "message": f"at most {limit} subjects"}],
        )
    subject_ids, errors = _resolve(prefix, rows)
    if errors:
        errors.sort(key=_error_order)
        return problems.problem_response(
            problems.VALIDATION, f"{len(errors)} error(s); nothing changed", errors=errors
        )
    return subject_ids, limit


def _error_order(error: dict[str, str]) -> tuple[int, str]:
    parts = error["field"].split(".")
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1, error["field"])


def _change(replace: bool) -> ResponseReturnValue:
    outcome = _rows_or_problem()
    if isinstance(outcome, Response):
        return outcome
    subject_ids, limit = outcome
    # Past the limit: PortfolioTooLarge, a 422 listing the limit, and nothing changed.
    change = monitoring.add_to_portfolio(
        db.session,
        current_caller().member_id,
        subject_ids,
        at=current_runtime().clock.now(),
        replace=replace,
        limit=limit,
    )
    return jsonify(added=change.added, removed=change.removed, total=change.total)


@bp.put("/portfolio")
@signed(MemberRole.QUERIER)
def replace_portfolio() -> ResponseReturnValue:
    """Replace the portfolio.

    ---
    put:
      operationId: replacePortfolio
      summary: Replace the portfolio
      description: 'The portfolio becomes exactly these subjects. All or nothing: the 422
        lists every bad row, JSON rows as `items.<index>.<field>`, CSV rows as `rows.<line>.<field>`
        (header = line 1). At most MONITORING_PORTFOLIO_MAX subjects per member.'
      requestBody: PortfolioRows
      responses:
        200:
          description: Done.
          content:
            application/json:
              schema: PortfolioChange
      problems: [401, 403, 413, 415, 422, 429]
    """
    return _change(replace=True)


@bp.post("/portfolio")
@signed(MemberRole.QUERIER)
def add_to_portfolio() -> ResponseReturnValue:
    """Add subjects to the portfolio.

    ---
    post:
      operationId: addToPortfolio
      summary: Add subjects to the portfolio
      description: 'Subjects already watched are left as they are. All or nothing: the 422
        lists every bad row, JSON rows as `items.<index>.<field>`, CSV rows as `rows.<line>.<field>`
        (header = line 1). At most MONITORING_PORTFOLIO_MAX subjects per member.'
      requestBody: PortfolioRows
      responses:
        200:
          description: Done.
          content:
            application/json:
              schema: PortfolioChange
      problems: [401, 403, 413, 415, 422, 429]
    """
    return _change(replace=False)


@bp.post("/portfolio/removals")
@signed(MemberRole.QUERIER)
def remove_many() -> ResponseReturnValue:
    """Stop watching these subjects.

    ---
    post:
      operationId: removeFromPortfolio
      summary: Stop watching these subjects
      description: 'Subjects not in the portfolio are ignored. All or nothing: the 422 lists
        every bad row, JSON rows as `items.<index>.<field>`, CSV rows as `rows.<line>.<field>`
        (header = line 1). At most MONITORING_PORTFOLIO_MAX subjects per member.'
      requestBody: PortfolioRows
      responses:
        200:
          description: Done.
          content:
            application/json:
              schema: PortfolioChange
      problems: [401, 403, 413, 415, 422, 429]
    """
    outcome = _rows_or_problem()
    if isinstance(outcome, Response):
        return outcome
    member_id = current_caller().member_id
    removed = monitoring.remove_from_portfolio(db.session, member_id, outcome[0])
    return jsonify(
        added=0, removed=removed, total=monitoring.portfolio_count(db.session, member_id)
    )


# A UUID only: /portfolio/removals is another resource, not a subject called "removals".
@bp.delete("/portfolio/<uuid:subject_id>")
@signed(MemberRole.QUERIER)
def remove_one(subject_id: uuid.UUID) -> ResponseReturnValue:
    """Stop watching one subject.

    ---
    delete:
      operationId: removePortfolioItem
      summary: Stop watching one subject
      responses:
        204:
          description: Removed.
      problems: [401, 403, 404, 429]
    """
    member_id = current_caller().member_id
    if not monitoring.remove_from_portfolio(db.session, member_id, [subject_id]):
        raise NotFound("this subject is not in the portfolio")
    return Response(status=204)


@bp.get("/portfolio")
@signed(MemberRole.QUERIER)
def list_portfolio() -> ResponseReturnValue:
    """The member's watched subjects, in pages.

    ---
    get:
      operationId: getPortfolio
      summary: The member's watched subjects, in pages
      parameters:
        - name: after
          in: query
          required: false
          schema:
            type: string
            format: uuid
        - name: limit
          in: query
          required: false
          schema:
            type: integer
            minimum: 1
            maximum: 1000
      responses:
        200:
          description: A page.
          content:
            application/json:
              schema: PortfolioPage
      problems: [401, 403, 422, 429]
    """
    errors: list[dict[str, str]] = []
    limit = integer_arg("limit", errors, default=PAGE_DEFAULT, minimum=1, maximum=PAGE_MAX)
    after: uuid.UUID | None = None
    if "after" in request.args:  # present but empty is an error too, not "from the start"
        try:
            after = uuid.UUID(request.args["after"])
        except ValueError:
            errors.append({"field": "after", "message": "a subject id (UUID)"})
    if errors:
        return problems.problem_response(problems.VALIDATION, "bad query", errors=errors)
    member_id = current_caller().member_id
    page = monitoring.portfolio_page(db.session, member_id, after=after, limit=limit)
    items = [
        {
            "subject_id": str(subject.id),
            "kind": subject.kind,
            "name": subject.name,
            "uscc": subject.uscc,
            "added_at": iso(item.added_at),
        }
        for item, subject in page
    ]
    return jsonify(
        items=items,
        total=monitoring.portfolio_count(db.session, member_id),
        next_after=items[-1]["subject_id"] if len(items) == limit else None,
    )


@bp.get("/events")
@signed(MemberRole.QUERIER)
def list_events() -> ResponseReturnValue:
    """The member's change events after a cursor.

    ---
    get:
      operationId: getMonitoringEvents
      summary: The member's change events after a cursor
      description: Events of the subjects the member watched when they happened, in id order.
        Call again with `after` = `next_after`.
      parameters:
        - name: after
          in: query
          required: false
          schema:
            type: string
            pattern: ^[0-9]+$
        - name: limit
          in: query
          required: false
          schema:
            type: integer
            minimum: 1
            maximum: 1000
      responses:
        200:
          description: Events.
          content:
            application/json:
              schema: MonitoringEvents
      problems: [401, 403, 422, 429]
    """
    errors: list[dict[str, str]] = []
    after = integer_arg("after", errors, default=0)
    limit = integer_arg("limit", errors, default=PAGE_DEFAULT, minimum=1, maximum=PAGE_MAX)
    if errors:
        return problems.problem_response(problems.VALIDATION, "bad query", errors=errors)
    events = monitoring.events_after(
        db.session, current_caller().member_id, after=after, limit=limit
    )
    return jsonify(
        events=[event.view() for event in events],
        next_after=str(events[-1].id) if events else str(after),
        more=len(events) == limit,
    )


# --- the webhook -----------------------------------------------------------------------------


def check_webhook_url(
    url: Any, *, allow_http_loopback: bool, addresses: AddressPolicy
) -> str | None:
    """Why ``url`` cannot receive webhooks, or None if it can."""
    if not isinstance(url, str) or not url:
        return "a URL is required"
    if len(url) > 2000:
        return "at most 2000 characters"
    try:
        parts = urlsplit(url)
        port = default_port(parts)
    except ValueError:
        return "not a valid URL"
    if parts.username is not None or parts.password is not None:
        return "credentials in the URL are refused"
    if parts.fragment:
        return "a fragment has no meaning for a webhook"
    if not parts.hostname:
        return "the URL names no host"
    secure = parts.scheme == "https"
    if not secure and not (
        parts.scheme == "http" and allow_http_loopback and _is_loopback(parts.hostname)
    ):
        return "an https:// URL is required"
    if addresses.public_only:
        try:
            addresses.addresses(parts.hostname, port)
        except AddressRefused:
            # The same words whether the name does not resolve or resolves inside: the
            # registry's name server must not answer questions about its own networks.
            return REFUSED_HOST
    return None


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@bp.put("/webhook")
@signed(MemberRole.QUERIER)
def put_webhook() -> ResponseReturnValue:
    """Register or change the member's webhook URL.

    ---
    put:
      operationId: putWebhook
      summary: Register or change the member's webhook URL
      description: An https:// URL whose host resolves to public internet addresses only
        (checked again at each delivery). How deliveries are sent, signed and sent again
        is said in `WebhookDelivery`.
      requestBody: WebhookRegistration
      responses:
        200:
          description: Registered.
          content:
            application/json:
              schema: Webhook
      problems: [401, 403, 422, 429]
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problems.problem_response(
            problems.MALFORMED_BODY, 'the body is a JSON object: {"url": "https://..."}'
        )
    settings = current_runtime().settings
    errors = [{"field": name, "message": "unknown field"} for name in sorted(set(body) - {"url"})]
    url = body.get("url")
    why = (
        NUL_REFUSED
        if has_nul(url)
        else check_webhook_url(
            url,
            allow_http_loopback=settings.MONITORING_WEBHOOK_ALLOW_HTTP_LOOPBACK,
            addresses=AddressPolicy.from_settings(settings),
        )
    )
    if why:
        errors.append({"field": "url", "message": why})
    if errors:
        return problems.problem_response(
            problems.VALIDATION, f"{len(errors)} error(s); nothing changed", errors=errors
        )
    hook = webhooks.set_webhook(
        db.session, current_caller().member_id, body["url"], at=current_runtime().clock.now()
    )
    return jsonify(_webhook_view(hook))


def _webhook_view(hook: webhooks.Webhook) -> dict[str, Any]:
    signer = current_runtime().signer
    return {**hook.view(), "signing_key_id": signer.key_id}


@bp.get("/webhook")
@signed(MemberRole.QUERIER)
def get_webhook() -> ResponseReturnValue:
    """The member's webhook and its recent deliveries.

    ---
    get:
      operationId: getWebhook
      summary: The member's webhook and its recent deliveries
      responses:
        200:
          description: The webhook.
          content:
            application/json:
              schema: Webhook
      problems: [401, 403, 404, 429]
    """
    member_id = current_caller().member_id
    hook = db.session.get(webhooks.Webhook, member_id)
    if hook is None:
        raise NotFound("no webhook is registered")
    recent = webhooks.deliveries(db.session, member_id=member_id, failing_only=False, limit=20)
    view = _webhook_view(hook)
    view["recent_deliveries"] = [
        {k: v for k, v in d.view().items() if k != "member_id"} for d in recent
    ]
    return jsonify(view)


@bp.delete("/webhook")
@signed(MemberRole.QUERIER)
def delete_webhook() -> ResponseReturnValue:
    """Stop webhook deliveries (events stay readable by polling).

    ---
    delete:
      operationId: deleteWebhook
      summary: Stop webhook deliveries (events stay readable by polling)
      responses:
        204:
          description: Removed.
      problems: [401, 403, 404, 429]
    """
    member_id = current_caller().member_id
    if not webhooks.remove_webhook(db.session, member_id, at=current_runtime().clock.now()):
        raise NotFound("no webhook is registered")
    return Response(status=204)
