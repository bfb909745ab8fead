"""The OpenAPI document: valid 3.1, complete, and true to what the registry does."""

import copy

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi

from api import problems
from api.schemas import load_record
from tests.api.test_submissions import PAYMENT, PENALTY, submit
from tests.signing import signed_member

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def document(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def conforms(document, schema_name, instance):
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    errors = list(Draft202012Validator(schema).iter_errors(instance))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def test_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate_openapi(document)


def test_every_route_is_described(app, document):
    served = {
        (
            method,
            rule.rule.replace("<", "{").replace(">", "}").replace("path:", "").replace("uuid:", ""),
        )
        for rule in app.url_map.iter_rules()
        # The console is a staff UI, not part of the API; static files are not operations.
        if rule.endpoint not in ("static", "public.static")
        and not rule.endpoint.startswith("console.")
        for method in rule.methods - IGNORED_METHODS
    }
    described = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert served == described


def test_every_problem_type_is_listed(document):
    listed = set(document["components"]["schemas"]["Problem"]["properties"]["type"]["enum"])
    assert listed == {p.uri for p in problems.PROBLEM_TYPES.values()}
    assert "/problems/nonce-reused" in listed


def test_the_signature_scheme_is_documented(document):
    scheme = document["components"]["securitySchemes"]["memberSignature"]
    for term in ("RFC 9421", "content-digest", "nonce", "ed25519", "ecdsa-p256-sha256"):
        assert term in scheme["description"]
    assert document["paths"]["/api/v1/submissions"]["post"]["security"] == [{"memberSignature": []}]


@pytest.mark.parametrize(
    ("record", "valid"),
    [
        (PENALTY, True),
        ({k: v for k, v in PENALTY.items() if k != "legal_basis"}, False),
        ({**PENALTY, "polarity": "positive"}, False),
        ({**PENALTY, "colour": "red"}, False),
        (PAYMENT, True),
        ({k: v for k, v in PAYMENT.items() if k != "days_past_due"}, False),
        ({"record_id": "PEN-1", "op": "revoke", "reason": "entered twice"}, True),
        ({"record_id": "PEN-1", "op": "revoke"}, False),
    ],
)
def test_record_schemas_agree_with_the_validation(document, record, valid):
    from marshmallow import ValidationError

    try:
        load_record(copy.deepcopy(record))
        accepted = True
    except ValidationError:
        accepted = False
    envelope = {"submission_id": "s-1", "records": [record]}
    described_valid = not conforms(document, "Submission", envelope)
    assert accepted == valid
    assert described_valid == valid


def test_real_responses_match_their_documented_schemas(session, client, clock, document):
    member = signed_member(session, client, clock, kind="regulator", roles=("submitter",))
    created = submit(member, "doc-1", [PENALTY])
    assert created.status_code == 201
    assert conforms(document, "SignedReceipt", created.get_json()) == []

    refused = submit(member, "doc-2", [{**PENALTY, "amount": {"value": "x", "currency": "cny"}}])
    assert refused.status_code == 422
    assert conforms(document, "Problem", refused.get_json()) == []

    unsigned = client.post("/api/v1/submissions", json={})
    assert unsigned.status_code == 401
    assert conforms(document, "Problem", unsigned.get_json()) == []

    assert conforms(document, "JWKS", client.get("/api/v1/registry/keys").get_json()) == []
    assert conforms(document, "Health", client.get("/readyz").get_json()) == []
    assert conforms(document, "ProblemType", client.get("/problems/key-unknown").get_json()) == []


def test_the_docs_page_renders_every_operation_and_problem(client, document):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for path in document["paths"]:
        assert f"<code>{path}</code>" in html
    for problem_type in problems.PROBLEM_TYPES.values():
        assert problem_type.uri in html
