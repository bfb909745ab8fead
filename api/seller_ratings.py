"""Seller ratings: platforms send their buyers' ratings in signed batches
(``/api/v1/seller-ratings``); anyone reads a shop's summary
(``/api/v1/public/sellers/<platform>/<shop_id>``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError, fields, post_load, validate

from api import json_body, problems
from api.auth import current_caller, signed
from api.httpsig import content_digest
from api.schemas import StrictSchema, has_nul
from registry import seller_ratings as ratings
from registry.clock import local_date
from registry.db import db
from registry.errors import InvalidInput
from registry.identifiers import IdentifierError, normalize_shop_id
from registry.members import MemberRole
from registry.runtime import current_runtime

bp = Blueprint("seller_ratings", __name__, url_prefix="/api/v1")

NOT_OWN_PLATFORM = problems.register(
    "not-own-platform",
    403,
    "Not the caller's platform",
    "A platform submits ratings only for its own shops; `items` lists the ratings that name "
    "another platform. Nothing was stored.",
)
BUYER_HASH = r"^[0-9a-fA-F]{64}$"


def _score(description: str) -> fields.Integer:
    return fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=1, max=5),
        metadata={"description": description},
    )


class ScoresSchema(StrictSchema):
    item_as_described = _score("1-5: the item was as described")
    service = _score("1-5: the seller's communication and service")
    delivery = _score("1-5: shipping speed and care")


class SellerRatingSchema(StrictSchema):
    not_free_text = frozenset({"buyer_hash"})  # hex, checked by its own pattern

    platform = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "the platform's code or member id; default: the caller"},
    )
    shop_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    order_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    buyer_hash = fields.String(
        required=True,
        validate=validate.Regexp(BUYER_HASH, error="64 hexadecimal characters (a SHA-256 hash)"),
        metadata={
            "description": "the platform's hash of its buyer id (e.g. HMAC-SHA256, hex); "
            "the same buyer always gets the same hash. Never the buyer id itself."
        },
    )
    ordered_on = fields.Date(required=True)
    rated_on = fields.Date(required=True)
    overall = _score("1-5 overall; 4-5 positive, 3 neutral, 1-2 negative")
    scores = fields.Nested(ScoresSchema, required=True)
    text = fields.String(validate=validate.Length(max=2000))

    @post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        try:
            data["shop_id"] = normalize_shop_id(data["shop_id"])
        except IdentifierError as exc:
            raise ValidationError(str(exc), "shop_id") from None
        data["buyer_hash"] = data["buyer_hash"].lower()
        return data


class SellerRatingBatchSchema(StrictSchema):
    batch_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    ratings = fields.List(
        fields.Raw(),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "at most SELLER_RATING_BATCH_MAX ratings"},
    )


def _load_ratings(items: list[Any]) -> tuple[list[tuple[int, dict[str, Any]]], dict[str, Any]]:
    """The valid ratings with their indexes, and the errors of the others by index."""
    try:
        loaded = SellerRatingSchema(many=True).load(items)
        return list(enumerate(loaded)), {}
    except ValidationError:
        pass
    # Some are invalid: load one by one to keep every valid rating for the domain checks,
    # so that the answer lists every error of the batch at once.
    valid: list[tuple[int, dict[str, Any]]] = []
    errors: dict[str, Any] = {}
    schema = SellerRatingSchema()
    for index, item in enumerate(items):
        try:
            valid.append((index, schema.load(item)))
        except ValidationError as exc:
            errors[f"ratings.{index}"] = exc.messages
    return valid, errors


@bp.post("/seller-ratings")
@signed(MemberRole.PLATFORM)
def submit_ratings() -> ResponseReturnValue:
    """Send buyers' seller ratings (platforms).

    ---
    post:
      operationId: submitSellerRatings
      summary: Send buyers' seller ratings (platforms)
      description: 'One rating per order, dated within SELLER_RATING_WINDOW_DAYS after the
        order and not before it. All or nothing: any invalid rating refuses the batch, and
        the 422 lists every error with its rating index (`ratings.3.rated_on`). A platform
        rates only its own shops (403 `not-own-platform`). The same `batch_id` and body again
        returns the first receipt (200); the same id with another body is a 409.'
      requestBody: SellerRatingBatch
      responses:
        201:
          description: Accepted; the receipt is signed by the registry.
          content:
            application/json:
              schema: SignedSellerRatingReceipt
          headers:
            Location:
              schema:
                type: string
        200:
          description: 'Already accepted: the first receipt again.'
          content:
            application/json:
              schema: SignedSellerRatingReceipt
          headers:
            Idempotent-Replayed:
              schema:
                const: 'true'
      problems: [401, 403, 409, 413, 415, 422, 429, 503]
    """
    caller = current_caller()
    runtime = current_runtime()
    policy = ratings.policy_from_settings(runtime.settings)
    body = request.get_data(cache=True)
    if request.mimetype != "application/json":
        return problems.problem_response(problems.UNSUPPORTED_MEDIA_TYPE, "send application/json")
    try:
        document = json_body.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        return problems.problem_response(problems.MALFORMED_BODY, str(exc))

    session = db.session
    member = caller.member
    digest = content_digest(body)
    batch_id = document.get("batch_id") if isinstance(document, dict) else None
    # An id with NUL was never stored (the schema refuses it below) and cannot be looked up.
    if isinstance(batch_id, str) and not has_nul(batch_id):
        earlier = ratings.replay_or_conflict(session, member, batch_id, digest)
        if earlier is not None:
            response = jsonify(earlier.receipt)
            response.headers["Idempotent-Replayed"] = "true"
            return response

    loaded = problems.load_or_problem(
        SellerRatingBatchSchema(), document, "{count} field error(s); nothing was stored"
    )
    if not isinstance(loaded, dict):
        return loaded
    items = loaded["ratings"]
    if len(items) > policy.batch_max:
        return problems.problem_response(
            problems.VALIDATION,
            "1 field error(s); nothing was stored",
            errors=[{"field": "ratings", "message": f"at most {policy.batch_max} ratings"}],
        )
    # Least privilege first: a platform never acts for another.
    own = ratings.platform_names(member)
    foreign = [
        index
        for index, item in enumerate(items)
        # A platform that is not a string is a field error, reported by the schema below.
        if isinstance(item, dict)
        and isinstance(item.get("platform"), str)
        and item["platform"] not in own
    ]
    if foreign:
        return problems.problem_response(
            NOT_OWN_PLATFORM,
            f"{len(foreign)} rating(s) name another platform; nothing was stored",
            items=foreign,
        )

    valid, errors = _load_ratings(items)
    errors.update(
        ratings.check_ratings(
            session, member, valid, policy=policy, today=local_date(runtime.clock.now())
        )
    )
    if errors:
        raise InvalidInput("the batch was refused; nothing was stored", _by_index(errors))
    evidence = caller.evidence(
        content_type=request.content_type or "application/json", body=body, body_digest=digest
    )
    batch = ratings.accept_batch(
        session,
        member=member,
        signer=runtime.signer,
        batch_id=loaded["batch_id"],
        ratings=[rating for _, rating in valid],
        evidence=evidence,
        policy=policy,
        now=runtime.clock.now(),
    )
    response = jsonify(batch.receipt)
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/seller-ratings/{batch.batch_id}"
    return response


def _by_index(errors: dict[str, Any]) -> dict[str, Any]:
    """Errors in the order of the ratings they belong to."""

    def order(key: str) -> tuple[int, str]:
        parts = key.split(".")
        return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1, key)

    return {key: errors[key] for key in sorted(errors, key=order)}


@bp.get("/seller-ratings/<batch_id>")
@signed(MemberRole.PLATFORM)
def get_batch(batch_id: str) -> ResponseReturnValue:
    """The receipt of one of the caller's own batches.

    ---
    get:
      operationId: getSellerRatingBatch
      summary: The receipt of one of the platform's batches
      responses:
        200:
          description: The receipt.
          content:
            application/json:
              schema: SignedSellerRatingReceipt
      problems: [401, 403, 404, 429, 503]
    """
    found = ratings.find_batch(db.session, current_caller().member, batch_id)
    if found is None or found.receipt is None:
        return problems.problem_response(
            problems.NOT_FOUND, "the platform has no batch with this id"
        )
    return jsonify(found.receipt)


# --- the public view ---------------------------------------------------------------------------


def seller_view(platform: str, shop_id: str) -> dict[str, Any] | None:
    runtime = current_runtime()
    return ratings.public_seller_view(
        db.session,
        platform,
        shop_id,
        policy=ratings.policy_from_settings(runtime.settings),
        today=local_date(runtime.clock.now()),
    )


@bp.get("/public/sellers/<platform>/<path:shop_id>")
def public_seller(platform: str, shop_id: str) -> ResponseReturnValue:
    """A shop's ratings summary; no login.

    ---
    get:
      operationId: publicSeller
      summary: A shop's ratings summary, trend and operating company; no login
      parameters:
        - name: platform
          in: path
          required: true
          schema:
            type: string
          description: the platform's code, or its member id
      responses:
        200:
          description: The summary.
          content:
            application/json:
              schema: SellerSummary
      problems: [404]
    """
    view = seller_view(platform, shop_id)
    if view is None:
        return problems.problem_response(
            problems.NOT_FOUND, "the registry knows no such shop on this platform"
        )
    response = jsonify(view)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
