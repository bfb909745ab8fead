"""Input schemas of the member API: every field checked at the boundary, all errors at once.

Each record category has its own schema with the fields that category needs; a submission
is loaded record by record so that every error carries its record index.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from flask import has_app_context
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from config.settings import PERSON_AMOUNT_CONSENT_CATEGORIES
from registry import person_notices
from registry.clock import local_date
from registry.identifiers import (
    ID_NUMBER_IN_TEXT,
    IdentifierError,
    contains_id_number,
    normalize_shop_id,
    validate_id_number,
    validate_uscc,
)
from registry.records import Polarity, RecordCategory, Severity
from registry.subjects import SubjectKind

MAX_TEXT = 2000
CURRENCY = re.compile(r"^[A-Z]{3}$")
DECIMAL = re.compile(r"^\d{1,18}(\.\d{1,2})?$")
NUL_REFUSED = "the NUL character (U+0000) is not allowed"


def has_nul(value: Any) -> bool:
    """Whether ``value`` is text with a NUL character in it.

    PostgreSQL cannot hold NUL in text and fails the whole statement (the request was a
    500), where SQLite stored it: the API refuses it in every text it reads, so both
    databases see the same requests.
    """
    return isinstance(value, str) and "\x00" in value


def refuse_nul(value: Any) -> None:
    """:raises ValidationError: ``value`` holds a NUL character (see :func:`has_nul`)."""
    if has_nul(value):
        raise ValidationError(NUL_REFUSED)


class StrictSchema(Schema):
    """The base of the API's input schemas. Refuses unknown fields; NUL in any text field
    (its own error, beside the field's other errors); and text that holds a resident ID
    number: a member's text is stored and shown as written, and an ID number is kept only
    hashed, encrypted and masked."""

    class Meta:
        unknown = RAISE

    # Fields whose value is an identifier the registry checks or protects itself.
    not_free_text: ClassVar[frozenset[str]] = frozenset()
    # Query parameters are not stored as typed (the query log masks any number in them), so
    # their schemas turn the ID-number check off: a member may search for what it holds.
    stores_text: ClassVar[bool] = True

    @validates_schema(skip_on_field_errors=False)
    def _no_id_numbers_in_text(self, data: dict[str, Any], **_: Any) -> None:
        if not self.stores_text:
            return
        errors = {
            name: [ID_NUMBER_IN_TEXT]
            for name, value in data.items()
            if isinstance(value, str)
            and name not in self.not_free_text
            and contains_id_number(value)
        }
        if errors:
            raise ValidationError(errors)

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        if isinstance(field_obj, fields.String):
            # A new list: a schema's field copies share their validators list.
            field_obj.validators = [*field_obj.validators, refuse_nul]


class AmountSchema(StrictSchema):
    value = fields.String(required=True)
    currency = fields.String(
        required=True,
        validate=validate.Regexp(CURRENCY, error="an ISO 4217 code in capitals, e.g. CNY"),
    )

    @validates_schema(skip_on_field_errors=False)
    def _check_value(self, data: dict[str, Any], **_: Any) -> None:
        value = data.get("value")
        if value is not None and not DECIMAL.match(value):
            raise ValidationError(
                'a non-negative decimal string with at most 2 decimals, e.g. "1250.00"', "value"
            )

    @post_load
    def _to_decimal(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        try:
            data["value"] = Decimal(data["value"])
        except InvalidOperation:  # pragma: no cover - the regexp already refused it
            raise ValidationError("not a decimal", "value") from None
        return data


class SubjectRefSchema(StrictSchema):
    """How a record names its subject: the kind and that kind's identifier, plus a name."""

    not_free_text = frozenset({"id_number"})

    kind = fields.String(required=True, validate=validate.OneOf([str(k) for k in SubjectKind]))
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    uscc = fields.String(validate=validate.Length(min=1, max=40))
    id_number = fields.String(validate=validate.Length(min=1, max=40))
    platform = fields.UUID(
        metadata={
            "description": "the platform member's id (shops); default: the submitting platform"
        }
    )
    shop_id = fields.String(validate=validate.Length(min=1, max=128))
    operator_uscc = fields.String(validate=validate.Length(min=1, max=40))
    region_code = fields.String(
        validate=validate.Regexp(r"^\d{6}$", error="a six-digit GB/T 2260 code")
    )
    industry_code = fields.String(validate=validate.Length(min=1, max=8))

    @validates_schema(skip_on_field_errors=False)
    def _identifier_fits_kind(self, data: dict[str, Any], **_: Any) -> None:
        kind = data.get("kind")
        allowed = {
            "enterprise": {"uscc"},
            "person": {"id_number"},
            "shop": {"shop_id", "platform", "operator_uscc"},
        }.get(kind or "", set())
        errors: dict[str, list[str]] = {}
        required = {"enterprise": "uscc", "person": "id_number", "shop": "shop_id"}.get(kind or "")
        if required and not data.get(required):
            errors[required] = [f"required for a subject of kind {kind}"]
        for other in ("uscc", "id_number", "shop_id", "platform", "operator_uscc"):
            if other in data and other not in allowed and kind:
                errors.setdefault(other, []).append(f"not allowed for a subject of kind {kind}")
        if errors:
            raise ValidationError(errors)


class PersonNoticeSchema(StrictSchema):
    """The submitter's word that the person was told of a negative record about them."""

    told_on = fields.Date(required=True, metadata={"description": "the day the person was told"})
    channel = fields.String(
        required=True,
        validate=validate.OneOf([str(c) for c in person_notices.Channel]),
        metadata={"description": "how the person was told"},
    )


class RecordSchema(StrictSchema):
    """What every upserted record has; category schemas tighten it."""

    record_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    op = fields.String(required=True, validate=validate.Equal("upsert"))
    reason = fields.String(validate=validate.Length(min=1, max=MAX_TEXT))
    category = fields.String(
        required=True, validate=validate.OneOf([str(c) for c in RecordCategory])
    )
    subject = fields.Nested(SubjectRefSchema, required=True)
    polarity = fields.String(required=True, validate=validate.OneOf([str(p) for p in Polarity]))
    severity = fields.String(validate=validate.OneOf([str(s) for s in Severity]))
    decided_at = fields.Date()
    occurred_at = fields.Date()
    ended_at = fields.Date()
    authority = fields.String(validate=validate.Length(min=1, max=200))
    document_number = fields.String(validate=validate.Length(min=1, max=100))
    legal_basis = fields.String(validate=validate.Length(min=1, max=MAX_TEXT))
    summary = fields.String(validate=validate.Length(min=1, max=MAX_TEXT))
    amount = fields.Nested(AmountSchema)
    consent_reference = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "the reference of the person's written consent, required for an "
            "amount about a person in the categories of PERSON_AMOUNT_CONSENT_CATEGORIES "
            "(default: tax_arrears)"
        },
    )

    person_notice = fields.Nested(
        PersonNoticeSchema,
        metadata={
            "description": "negative information about a person: the day and the channel the "
            "person was told of it; without it the record is held from lookups and reports "
            "until the submitter confirms the person was told (POST "
            "/api/v1/records/person-notices) or PERSON_NOTICE_WAIT_DAYS after the registry's "
            "own notice"
        },
    )

    # Subclasses name what their category needs and which polarities it can have.
    required_fields: tuple[str, ...] = ()
    polarities: tuple[str, ...] = tuple(str(p) for p in Polarity)
    severity_required = False

    @validates_schema(skip_on_field_errors=False)
    def _category_rules(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        category = data.get("category")
        for name in self.required_fields:
            if data.get(name) in (None, ""):
                errors.setdefault(name, []).append(f"required for category {category}")
        polarity = data.get("polarity")
        if polarity and polarity not in self.polarities:
            errors.setdefault("polarity", []).append(
                f"a {category} record is {' or '.join(self.polarities)}"
            )
        if self.severity_required and not data.get("severity"):
            errors.setdefault("severity", []).append(f"required for category {category}")
        if data.get("severity") and polarity and polarity != Polarity.NEGATIVE:
            errors.setdefault("severity", []).append("only negative records have a severity")
        if (
            data.get("amount")
            and (data.get("subject") or {}).get("kind") == SubjectKind.PERSON
            and category in _consent_categories()
            and not data.get("consent_reference")
        ):
            errors.setdefault("consent_reference", []).append(
                f"an amount about a person in a {category} record needs the reference of the "
                "person's written consent"
            )
        errors.update(_person_notice_errors(data))
        start = data.get("decided_at") or data.get("occurred_at")
        ended = data.get("ended_at")
        if isinstance(start, date) and isinstance(ended, date) and ended < start:
            errors.setdefault("ended_at", []).append("cannot be before the decision or event")
        if errors:
            raise ValidationError(errors)


def _person_notice_errors(record: dict[str, Any]) -> dict[str, list[str]]:
    notice = record.get("person_notice")
    if not notice:
        return {}
    subject_kind = (record.get("subject") or {}).get("kind") or ""
    if not person_notices.needs_notice(subject_kind, record.get("polarity") or ""):
        return {"person_notice": ["only for a negative record on a person"]}
    if has_app_context() and "told_on" in notice:
        # Checked with the schema so that it is reported with every other error; the member
        # client, outside the registry, leaves the date to the registry's clock.
        from registry.runtime import current_runtime

        late = person_notices.told_too_late(
            notice["told_on"], local_date(current_runtime().clock.now())
        )
        if late:
            return {"person_notice.told_on": [late]}
    return {}


def _consent_categories() -> tuple[str, ...]:
    """PERSON_AMOUNT_CONSENT_CATEGORIES of the running registry; its default outside one
    (the member client checks a file before sending it)."""
    if has_app_context():
        from registry.runtime import current_runtime

        return tuple(current_runtime().settings.PERSON_AMOUNT_CONSENT_CATEGORIES)
    return PERSON_AMOUNT_CONSENT_CATEGORIES


class LicenceSchema(RecordSchema):
    required_fields = ("authority", "document_number", "decided_at")
    polarities = ("positive", "neutral")


class PenaltySchema(RecordSchema):
    required_fields = ("authority", "document_number", "legal_basis", "decided_at")
    polarities = ("negative",)
    severity_required = True


class CourtJudgmentSchema(RecordSchema):
    required_fields = ("authority", "document_number", "decided_at")


class DishonestDebtorSchema(RecordSchema):
    required_fields = ("authority", "document_number", "decided_at")
    polarities = ("negative",)


class TaxArrearsSchema(RecordSchema):
    required_fields = ("authority", "amount", "occurred_at")
    polarities = ("negative",)


class ContractPerformanceSchema(RecordSchema):
    required_fields = ("authority", "occurred_at")


class PaymentExperienceSchema(RecordSchema):
    required_fields = ("amount", "due_date", "days_past_due")
    due_date = fields.Date()
    days_past_due = fields.Integer(strict=True, validate=validate.Range(min=0, max=36500))

    @validates_schema(skip_on_field_errors=False)
    def _lateness_fits_polarity(self, data: dict[str, Any], **_: Any) -> None:
        late = data.get("days_past_due")
        polarity = data.get("polarity")
        if late is None or polarity is None:
            return
        if late > 0 and polarity != Polarity.NEGATIVE:
            raise ValidationError("a late payment is negative", "polarity")
        if late == 0 and polarity == Polarity.NEGATIVE:
            raise ValidationError("a payment on time is not negative", "polarity")


class LoanDefaultSchema(RecordSchema):
    required_fields = ("authority", "amount", "occurred_at")
    polarities = ("negative",)
    days_past_due = fields.Integer(strict=True, validate=validate.Range(min=1, max=36500))


class HonourSchema(RecordSchema):
    required_fields = ("authority", "decided_at", "summary")
    polarities = ("positive",)


class CreditCommitmentSchema(RecordSchema):
    required_fields = ("decided_at", "summary")
    polarities = ("positive", "neutral")


class ConsumerComplaintSchema(RecordSchema):
    required_fields = ("occurred_at", "summary")
    polarities = ("negative",)


CATEGORY_SCHEMAS: dict[str, RecordSchema] = {
    RecordCategory.ADMINISTRATIVE_LICENCE: LicenceSchema(),
    RecordCategory.ADMINISTRATIVE_PENALTY: PenaltySchema(),
    RecordCategory.COURT_JUDGMENT: CourtJudgmentSchema(),
    RecordCategory.DISHONEST_DEBTOR: DishonestDebtorSchema(),
    RecordCategory.TAX_ARREARS: TaxArrearsSchema(),
    RecordCategory.CONTRACT_PERFORMANCE: ContractPerformanceSchema(),
    RecordCategory.PAYMENT_EXPERIENCE: PaymentExperienceSchema(),
    RecordCategory.LOAN_DEFAULT: LoanDefaultSchema(),
    RecordCategory.HONOUR: HonourSchema(),
    RecordCategory.CREDIT_COMMITMENT: CreditCommitmentSchema(),
    RecordCategory.CONSUMER_COMPLAINT: ConsumerComplaintSchema(),
}


class RevokeSchema(StrictSchema):
    record_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    op = fields.String(required=True, validate=validate.Equal("revoke"))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT))


REVOKE_SCHEMA = RevokeSchema()


class SubmissionSchema(StrictSchema):
    submission_id = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=128),
            validate.Regexp(r"^[A-Za-z0-9._:-]+$", error="letters, digits, '.', '_', ':' or '-'"),
        ],
    )
    records = fields.List(fields.Raw(), required=True)


SUBMISSION_SCHEMA = SubmissionSchema()


def load_record(raw: Any) -> dict[str, Any]:
    """Validate one record with the schema its ``op`` and ``category`` call for.

    :raises ValidationError: with every problem of the record.
    """
    if not isinstance(raw, dict):
        raise ValidationError({"_schema": ["a record is a JSON object"]})
    schema = _record_schema(raw)
    if schema is None:
        # The base schema refuses the category and reports every other problem with it.
        return RecordSchema().load(raw)
    return schema.load(raw)


def _record_schema(raw: Any) -> Schema | None:
    """The schema a record's ``op`` and ``category`` call for; None when there is none (not
    an object, or no known category: :func:`load_record` says what is wrong)."""
    if not isinstance(raw, dict):
        return None
    if raw.get("op") == "revoke":
        return REVOKE_SCHEMA
    category = raw.get("category")
    return CATEGORY_SCHEMAS.get(category) if isinstance(category, str) else None


def _load_records(records: list[Any], errors: dict[str, Any]) -> list[dict[str, Any] | None]:
    """Every record validated, in order (None for a refused one, its errors added to
    ``errors`` in the records' order).

    The records of one schema are loaded together (``many=True``), which costs far less a
    record than a load each; a group with any error is loaded again record by record, so
    that every error reads exactly as :func:`load_record` words it, under its record's
    index."""
    loaded: list[dict[str, Any] | None] = [None] * len(records)
    refused: dict[int, Any] = {}

    def load_one(index: int) -> None:
        try:
            loaded[index] = load_record(records[index])
        except ValidationError as exc:
            refused[index] = exc.messages

    groups: dict[int, tuple[Schema, list[int]]] = {}
    for index, raw in enumerate(records):
        schema = _record_schema(raw)
        if schema is None:
            load_one(index)
        else:
            groups.setdefault(id(schema), (schema, []))[1].append(index)
    for schema, indexes in groups.values():
        try:
            group = schema.load([records[i] for i in indexes], many=True)
        except ValidationError:
            for index in indexes:
                load_one(index)
            continue
        for index, record in zip(indexes, group, strict=True):
            loaded[index] = record
    for index in sorted(refused):
        errors[f"records.{index}"] = refused[index]
    return loaded


def load_submission(document: Any, max_records: int) -> tuple[str, list[dict[str, Any]]]:
    """Validate a whole submission; all errors of all records are raised together.

    Error keys are field paths: ``records.3.amount.value``.

    :raises ValidationError: listing every problem.
    """
    if not isinstance(document, dict):
        raise ValidationError({"_schema": ["the body is a JSON object"]})
    errors: dict[str, Any] = {}
    try:
        envelope = SUBMISSION_SCHEMA.load(document)
        records = envelope["records"]
    except ValidationError as exc:
        # The records are checked all the same, so that one answer lists every error.
        errors.update(exc.messages if isinstance(exc.messages, dict) else {})
        raw_records = document.get("records")
        records = raw_records if isinstance(raw_records, list) and "records" not in errors else []
    if not records and "records" not in errors:
        errors["records"] = ["at least one record is required"]
    if len(records) > max_records:
        raise ValidationError({"records": [f"at most {max_records} records per submission"]})
    loaded: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, record in enumerate(_load_records(records, errors)):
        if record is None:
            continue
        first = seen.setdefault(record["record_id"], index)
        if first != index:
            errors[f"records.{index}"] = {
                "record_id": [f"repeats record {first}; send one change per record per submission"]
            }
        loaded.append(record)
    if errors:
        # The identifiers' checksums are the domain's to check (registry.intake), once the
        # submission is valid; when it is not, they are checked here too, so that the member
        # sees every error in one answer rather than the next ones after fixing these.
        _add_identifier_errors(records, errors)
        raise ValidationError(errors)
    return envelope["submission_id"], loaded


IDENTIFIER_FIELDS = {"enterprise": "uscc", "person": "id_number", "shop": "shop_id"}


def _add_identifier_errors(records: list[Any], errors: dict[str, Any]) -> None:
    """Add to ``errors`` each record's invalid subject identifier the schema let through."""
    checks: dict[str, Callable[[str], object]] = {
        "uscc": validate_uscc,
        "id_number": validate_id_number,
        "shop_id": normalize_shop_id,
    }
    for index, raw in enumerate(records):
        subject = raw.get("subject") if isinstance(raw, dict) else None
        if not isinstance(subject, dict):
            continue
        field = IDENTIFIER_FIELDS.get(str(subject.get("kind")))
        value = subject.get(field) if field else None
        if field is None or not isinstance(value, str) or has_nul(value):
            continue
        try:
            checks[field](value)
        except IdentifierError as exc:
            # Beside the record's schema errors; an error the schema found on the same
            # field (or on the whole subject) is kept as it is.
            record_errors = errors.setdefault(f"records.{index}", {})
            subject_errors = (
                record_errors.setdefault("subject", {}) if isinstance(record_errors, dict) else None
            )
            if isinstance(subject_errors, dict):
                subject_errors.setdefault(field, [str(exc)])
