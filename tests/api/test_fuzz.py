"""Every operation of the published OpenAPI document, fed generated requests: the registry
never answers 500, and every answer matches what the document says it answers. Then the
classes of hostile input that a random draw rarely hits, sent to every operation they apply
to: each is a 4xx problem, and nothing of the request is applied.

Schemathesis generates each case from /api/openapi.json; a signed operation is signed like a
member's client would sign it (after the case is serialised, so the signature covers exactly
what is sent), by a member holding every role. The number of examples per operation is kept
small so the suite stays fast; CREDITREG_FUZZ_EXAMPLES raises it for a longer run.
"""

import json
import os
import re
from urllib.parse import urlencode, urlsplit

import pytest
import requests
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from marshmallow import ValidationError

from api.json_body import MAX_DEPTH
from api.openapi import build_document
from registry.app import create_app
from registry.db import Base
from tests.api.test_listings import PROPOSAL
from tests.api.test_schema_properties import at, replaced, text_leaves
from tests.api.test_submissions import PENALTY
from tests.signing import AUTHORITY, signed_member

SIGNATURE_HEADERS = {"signature", "signature-input"}
# Left out, and why:
# - positive_data_acceptance: the document states each field's form, not the rules across
#   fields (a person is looked up by ID number only, a screening row needs a name or a USCC),
#   so a schema-valid request may rightly get a 422 naming the rule;
# - ignored_auth, missing_required_header: a case here is always signed for real (the
#   signature covers the serialised request, which the generator cannot produce), so those
#   checks' deliberately broken credentials never reach the server. Signature enforcement has
#   its own tests (tests/api/test_signatures.py).
EXCLUDED_CHECKS = [
    schemathesis.checks.positive_data_acceptance,
    schemathesis.checks.ignored_auth,
    schemathesis.checks.missing_required_header,
]
EXAMPLES = int(os.environ.get("CREDITREG_FUZZ_EXAMPLES", "8"))


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: object, value: object) -> bytes:
    """Submissions also come as one JSON record per line."""
    items = value if isinstance(value, list) else [value]
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def _document() -> dict:
    """The document the registry serves, built once from the test profile's settings (the
    operations do not depend on the database)."""
    application = create_app({"DATABASE_URL": "sqlite://"}, profile="test")
    with application.app_context():
        document = build_document()
    # Requests are signed here, for real, after they are generated: the generator is not
    # told of the signature scheme, or it would send and break the header itself.
    document["components"].pop("securitySchemes", None)
    for operations in document["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    return document


DOCUMENT = _document()
API_OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in DOCUMENT["paths"].items()
    if path.startswith("/api/")
    for method, operation in item.items()
]


def parameters(operation: dict) -> list[dict]:
    """The operation's parameters, a shared one (a ``$ref`` to the components) as it is."""
    shared = DOCUMENT["components"].get("parameters", {})
    return [
        shared[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
        for p in operation.get("parameters", [])
    ]


# (method, path template, "query" or "path", name) of every integer parameter.
INTEGER_PARAMETERS = [
    (method, path, parameter["in"], parameter["name"])
    for method, path, operation in API_OPERATIONS
    for parameter in parameters(operation)
    if parameter["schema"].get("type") == "integer"
    or parameter["schema"].get("pattern") == "^[0-9]+$"
]
# (method, path template) of every operation that reads a JSON body.
JSON_BODY_OPERATIONS = [
    (method.upper(), path)
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    if "application/json" in operation.get("requestBody", {}).get("content", {})
]
CSV_BODY_OPERATIONS = [
    (method.upper(), path)
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    if "text/csv" in operation.get("requestBody", {}).get("content", {})
]
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(DOCUMENT)))


@pytest.fixture
def member(session, client, clock):
    return signed_member(
        session,
        client,
        clock,
        kind="regulator",
        roles=("submitter", "querier", "regulator", "platform"),
    )


# The examples all fall in one minute of the test clock: with the default limits (members',
# and public pages' per address), most of them would be answered 429 and never reach the
# operation.
@pytest.mark.settings(RATE_LIMIT_PER_MINUTE=0, PUBLIC_RATE_LIMIT_PER_MINUTE=0)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_500_or_off_its_documented_shape(case, member):
    sent = case.as_transport_kwargs(base_url=f"http://{AUTHORITY}")
    # Serialised exactly as a client would send it; the signature covers these bytes.
    prepared = requests.Request(
        method=sent["method"],
        url=sent["url"],
        params=sent.get("params"),
        headers={k: v for k, v in sent.get("headers", {}).items() if k != "Accept-Encoding"},
        data=sent.get("data"),
        json=sent.get("json"),
        files=sent.get("files"),
    ).prepare()
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    headers = {**dict(prepared.headers), "Host": AUTHORITY}
    if case.operation.path.startswith("/api/") and "/public/" not in case.operation.path:
        headers = {k: v for k, v in headers.items() if k.lower() not in SIGNATURE_HEADERS}
        headers.update(member.signer.headers_for(prepared.method, prepared.url, body, headers))
    split = urlsplit(prepared.url)
    response = member.client.open(
        split.path,
        method=prepared.method,
        data=body,
        headers=headers,
        base_url=f"http://{AUTHORITY}",
        query_string=split.query,
    )
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code == 429:  # a quota of the operation's own may answer 429
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["type"] != "/problems/rate-limited", "never reached it"
    case.validate_response(response, excluded_checks=EXCLUDED_CHECKS)


# --- hostile input, class by class --------------------------------------------------------------

SOME_ID = "7c0d3a52-2a8e-4c43-9d0c-6f1f2d7c5e11"


# What the path parameters that are not ids accept.
PATH_VALUES = {"list_kind": "blacklist", "index": "0"}


def concrete(path: str, values: dict[str, str] | None = None) -> str:
    """The path with ``values`` in its parameters, and elsewhere an id of nothing: no such
    resource, which the checks below must not even reach."""
    given = {**PATH_VALUES, **(values or {})}
    return re.sub(r"\{([^}]+)\}", lambda m: given.get(m.group(1), SOME_ID), path)


def valid_value(schema: dict) -> str:
    """A value the parameter's schema accepts."""
    if "enum" in schema:
        return str(schema["enum"][0])
    if schema.get("type") == "integer":
        return str(schema.get("minimum", 0))
    return {"uuid": SOME_ID, "date": "2026-01-01"}.get(schema.get("format"), "0")


def valid_query(method: str, path: str) -> dict[str, str]:
    """Every required query parameter of the operation, with a value it accepts."""
    operation = DOCUMENT["paths"][path][method.lower()]
    return {
        parameter["name"]: valid_value(parameter["schema"])
        for parameter in parameters(operation)
        if parameter["in"] == "query" and parameter.get("required")
    }


def row_counts(session) -> dict[str, int]:
    """Rows per table, but the nonces': a refused signed request still spends its nonce (so
    that it cannot be replayed) and changes nothing else."""
    counts = sa.union_all(
        *(
            sa.select(sa.literal(table.name), sa.func.count()).select_from(table)
            for table in Base.metadata.sorted_tables
            if table.name != "request_nonces"
        )
    )
    return dict(session.execute(counts).tuples().all())


def assert_refused(response, status: int, problem_type: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == problem_type


def nested(depth: int, kind: str) -> str:
    if kind == "arrays":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def test_every_operation_that_writes_documents_its_json_body():
    # The tests below take their operations from the document: one that forgot its request
    # body would escape them.
    writes = {
        (method.upper(), path)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in ("post", "put", "patch")
    }
    assert writes - set(JSON_BODY_OPERATIONS) == {
        ("POST", "/api/v1/subjects/{subject_id}/own-report"),
        ("POST", "/api/v1/listings/{entry_id}/publish"),
    }


# Just past the limit, and far past Python's recursion limit.
@pytest.mark.parametrize(("kind", "depth"), [("arrays", MAX_DEPTH + 1), ("objects", 100_000)])
@pytest.mark.parametrize(("method", "path"), JSON_BODY_OPERATIONS)
def test_json_nested_too_deep_is_a_400_and_nothing_is_applied(
    member, session, method, path, kind, depth
):
    before = row_counts(session)
    # Inside a field the endpoint knows, so the nesting is what is wrong, not the shape.
    body = '{"items": ' + nested(depth, kind) + ', "rows": [], "records": []}'
    response = member.request(method, concrete(path), body.encode())
    assert_refused(response, 400, "/problems/json-too-deep")
    assert row_counts(session) == before


def test_a_deep_ndjson_line_is_a_400_and_nothing_is_applied(member, session):
    before = row_counts(session)
    body = '{"submission_id": "deep"}\n' + nested(100_000, "arrays") + "\n"
    response = member.request(
        "POST", "/api/v1/submissions", body.encode(), content_type="application/x-ndjson"
    )
    assert_refused(response, 400, "/problems/json-too-deep")
    assert row_counts(session) == before


def test_the_integer_parameters_are_found():
    assert ("GET", "/api/v1/monitoring/events", "query", "after") in INTEGER_PARAMETERS
    assert ("GET", "/api/v1/log/entries/{index}", "path", "index") in INTEGER_PARAMETERS


# Past the 64-bit columns, past int()'s 4,300 digits, a digit int() refuses, a negative.
@pytest.mark.parametrize("value", ["9223372036854775808", "9" * 5000, "²", "-1"])
@pytest.mark.parametrize(("method", "path", "location", "name"), INTEGER_PARAMETERS)
def test_an_integer_parameter_out_of_range_is_a_422_and_nothing_is_applied(
    member, session, method, path, location, name, value
):
    before = row_counts(session)
    query = valid_query(method, path)
    if location == "query":
        query[name] = value
    url = concrete(path, {name: value} if location == "path" else None)
    response = member.request(method, f"{url}?{urlencode(query)}", b"", content_type=None)
    assert_refused(response, 422, "/problems/validation-failed")
    assert name in {error["field"] for error in response.get_json()["errors"]}
    assert row_counts(session) == before


@pytest.mark.parametrize(("method", "path"), CSV_BODY_OPERATIONS)
def test_a_csv_the_csv_module_cannot_read_is_a_400_and_nothing_is_applied(
    member, session, method, path
):
    before = row_counts(session)
    # One field past the csv module's limit of 131,072 characters.
    body = "name,uscc,subject_id\n" + "x" * 200_000 + ",,\n"
    response = member.request(
        method, f"{path}?purpose=compliance_screening", body.encode(), content_type="text/csv"
    )
    assert_refused(response, 400, "/problems/malformed-body")
    assert "field larger than field limit" in response.get_json()["detail"]
    assert row_counts(session) == before


# --- NUL, wherever text comes in ------------------------------------------------------------

# A body for every operation that reads JSON; each of its texts gets a NUL in turn.
EXAMPLE_BODIES = {
    ("POST", "/api/v1/submissions"): {
        "submission_id": "nul-1",
        "records": [
            {
                **PENALTY,
                "subject": {**PENALTY["subject"], "region_code": "110105", "industry_code": "I65"},
                "reason": "更正",
            }
        ],
    },
    ("POST", "/api/v1/screening"): {
        "purpose": "compliance_screening",
        "rows": [
            {
                "name": "华信",
                "uscc": PENALTY["subject"]["uscc"],
                "region": "110105",
                "reference": "r",
            },
        ],
    },
    ("POST", "/api/v1/listings"): {**PROPOSAL, "period_months": 12},
    ("POST", "/api/v1/listings/{entry_id}/withdraw"): {"reason": "依据不足"},
    ("POST", "/api/v1/listings/{entry_id}/measures"): {
        "code": "key_supervision",
        "applied_on": "2026-11-25",
        "reference": "京财采〔2026〕12号",
    },
    ("POST", "/api/v1/listings/{entry_id}/service"): {
        "channel": "post",
        "served_on": "2026-11-25",
        "reference": "挂号信 XA600000001CN",
    },
    ("POST", "/api/v1/listings/{entry_id}/revoke"): {"reason": "依据不足"},
    ("POST", "/api/v1/listings/{entry_id}/extend"): {"reason": "仍未整改", "months": 6},
    ("POST", "/api/v1/listings/{entry_id}/objections"): {"statement": "已整改"},
    ("POST", "/api/v1/ratings/{rating_id}/appeals"): {"grounds": "评分有误"},
    ("POST", "/api/v1/listings/{entry_id}/repairs"): {
        "correction_evidence": "已缴清罚款",
        "credit_commitment": "守法经营",
    },
    ("POST", "/api/v1/records/{record_id}/repairs"): {
        "correction_evidence": "已缴清罚款",
        "credit_commitment": "守法经营",
    },
    ("POST", "/api/v1/repairs/{application_id}/decision"): {"grant": True, "reason": "已整改"},
    ("POST", "/api/v1/seller-ratings"): {
        "batch_id": "batch-1",
        "ratings": [
            {
                "shop_id": "shop-1",
                "order_id": "order-1",
                "buyer_hash": "a" * 64,
                "ordered_on": "2026-11-01",
                "rated_on": "2026-11-20",
                "overall": 5,
                "scores": {"item_as_described": 5, "service": 5, "delivery": 5},
                "text": "很好",
            }
        ],
    },
    ("POST", "/api/v1/consents"): {
        "id_number": "11010519491231002X",
        "reference": "consent-1",
        "purpose": "credit_assessment",
        "given_on": "2026-11-01",
        "valid_until": "2027-11-01",
    },
    ("PUT", "/api/v1/monitoring/portfolio"): {"items": [{"subject_id": SOME_ID, "uscc": "x"}]},
    ("POST", "/api/v1/monitoring/portfolio"): {"items": [{"subject_id": SOME_ID, "uscc": "x"}]},
    ("POST", "/api/v1/monitoring/portfolio/removals"): {
        "items": [{"subject_id": SOME_ID, "uscc": "x"}]
    },
    ("PUT", "/api/v1/monitoring/webhook"): {"url": "https://hooks.example.com/creditreg"},
    ("POST", "/api/v1/objections"): {
        "item_kind": "record",
        "item_id": SOME_ID,
        "grounds": "记录有误",
        "statement": "已整改",
    },
    ("POST", "/api/v1/objections/{objection_id}/answer"): {"outcome": "upheld", "reason": "属实"},
    ("POST", "/api/v1/objections/{objection_id}/statement"): {"statement": "已整改"},
    ("POST", "/api/v1/records/confirmations"): {"record_ids": ["LD-2021-0042"]},
    ("POST", "/api/v1/records/person-notices"): {
        "notices": [{"record_id": "LD-2021-0042", "told_on": "2026-11-20", "channel": "sms"}]
    },
}


NUL_IN_BODIES = [
    pytest.param(method, path, leaf, id=f"{method} {path} {'.'.join(map(str, leaf))}")
    for (method, path), body in EXAMPLE_BODIES.items()
    for leaf in text_leaves(body)
]
# (method, path template, name) of every text query parameter of a bodiless operation.
TEXT_QUERY_PARAMETERS = [
    (method, path, parameter["name"])
    for method, path, operation in API_OPERATIONS
    if "requestBody" not in operation
    for parameter in parameters(operation)
    if parameter["in"] == "query"
    and (method, path, "query", parameter["name"]) not in INTEGER_PARAMETERS
]
# Every route's path parameters, the public pages' too.
PATH_PARAMETERS = [
    (method.upper(), path, name)
    for path, item in DOCUMENT["paths"].items()
    for method in item
    for name in re.findall(r"\{([^}]+)\}", path)
]


def test_every_operation_with_a_json_body_has_an_example():
    assert set(EXAMPLE_BODIES) == set(JSON_BODY_OPERATIONS)


@pytest.mark.parametrize(("method", "path", "leaf"), NUL_IN_BODIES)
def test_nul_in_any_text_of_a_body_is_a_field_error_and_nothing_is_applied(
    member, session, method, path, leaf
):
    before = row_counts(session)
    example = EXAMPLE_BODIES[(method, path)]
    body = replaced(example, leaf, at(example, leaf) + "\x00")
    response = member.request(method, concrete(path), body)
    assert_refused(response, 422, "/problems/validation-failed")
    field = ".".join(map(str, leaf))
    assert field in {error["field"] for error in response.get_json()["errors"]}
    assert row_counts(session) == before


@pytest.mark.parametrize(("method", "path", "name"), TEXT_QUERY_PARAMETERS)
def test_nul_in_a_query_parameter_is_refused_and_nothing_is_applied(
    member, session, method, path, name
):
    before = row_counts(session)
    query = {**valid_query(method, path), name: "a\x00b"}
    response = member.request(
        method, f"{concrete(path)}?{urlencode(query)}", b"", content_type=None
    )
    # Refused by the parameter's own check, or earlier, for an id of nothing.
    assert response.status_code in (404, 422), response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    if response.status_code == 422:
        assert name in {error["field"] for error in response.get_json()["errors"]}
    assert row_counts(session) == before


@pytest.mark.parametrize(("method", "path", "name"), PATH_PARAMETERS)
def test_nul_in_a_path_parameter_matches_no_route(member, session, method, path, name):
    before = row_counts(session)
    # Percent-encoded, as a client sends it: a raw NUL cannot be in a request line.
    url = f"{concrete(path, {name: 'a%00b'})}?{urlencode(valid_query(method, path))}"
    response = member.request(method, url, b"", content_type=None)
    assert_refused(response, 404, "/problems/not-found")
    assert row_counts(session) == before


def test_the_nul_check_is_added_once_per_field():
    from api.listings import PublicListSchema
    from api.schemas import NUL_REFUSED

    for _ in range(3):
        with pytest.raises(ValidationError) as refused:
            PublicListSchema().load({"authority": "a\x00"})
        assert refused.value.messages == {"authority": [NUL_REFUSED]}
