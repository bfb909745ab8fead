"""The OpenAPI document: valid 3.1, complete, and true to what the registry does."""

import copy
import re

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


def test_the_introduction_lists_the_signing_scheme_and_every_problem_type(document):
    introduction = document["info"]["description"]
    assert "RFC 9421" in introduction
    for problem_type in problems.PROBLEM_TYPES.values():
        assert f"[`{problem_type.uri}`]" in introduction


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


def examples(document):
    """(where, media type, schema, example) of every example of a body the document gives."""
    shared = document["components"].get("responses", {})
    for path, item in document["paths"].items():
        for method, operation in item.items():
            bodies = [("request", operation.get("requestBody", {}))]
            for status, response in operation["responses"].items():
                if "$ref" in response:
                    response = shared[response["$ref"].rsplit("/", 1)[1]]
                bodies.append((status, response))
            for what, body in bodies:
                for media_type, content in body.get("content", {}).items():
                    if "example" in content:
                        where = f"{method.upper()} {path} {what}"
                        yield where, media_type, content["schema"], content["example"]


def test_every_example_matches_its_schema(document):
    found = list(examples(document))
    media_types = {media_type for _where, media_type, _schema, _example in found}
    assert {"application/json", problems.PROBLEM_MEDIA_TYPE, "text/csv"} <= media_types
    assert "application/atom+xml" in media_types
    for where, _media_type, schema, example in found:
        resolvable = {**schema, "components": document["components"]}
        errors = [e.message for e in Draft202012Validator(resolvable).iter_errors(example)]
        assert errors == [], where


def test_the_submission_example_is_accepted_as_it_is(session, client, clock, document):
    """The request example is a real submission: the registry accepts it, and its receipt
    has the documented example's shape."""
    operation = document["paths"]["/api/v1/submissions"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["example"]
    member = signed_member(session, client, clock, kind="regulator", roles=("submitter",))
    response = submit(member, example["submission_id"], example["records"])
    assert response.status_code == 201, response.get_json()
    receipt = response.get_json()["receipt"]
    documented = operation["responses"]["201"]["content"]["application/json"]["example"]
    assert set(receipt) == set(documented["receipt"])
    assert [r["record_id"] for r in receipt["records"]] == [
        r["record_id"] for r in documented["receipt"]["records"]
    ]


def test_the_docs_page_loads_the_renderer_from_the_registry_itself(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    sources = re.findall(r'<(?:script|link)[^>]* (?:src|href)="([^"]+)"', html)
    assert sources, html
    # Every file the page loads is served by the registry: no CDN, no other host.
    assert all(source.startswith("/api/docs/assets/") for source in sources), sources
    assert "<script>" not in html  # no inline script: the CSP would refuse to run it
    types = {}
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        types[source.rsplit("/", 1)[1]] = asset.mimetype
    assert types == {
        "swagger-ui.css": "text/css",
        "favicon-32x32.png": "image/png",
        "swagger-ui-bundle.js": "text/javascript",
        "api_docs.js": "text/javascript",
    }
    # The start-up script reads the document from the registry and turns off the validator
    # badge, which Swagger UI would fetch from another host.
    start = client.get("/api/docs/assets/api_docs.js")
    assert "validatorUrl: null" in start.get_data(as_text=True)
    # The files are cached, and asked again only when they changed.
    again = client.get(
        "/api/docs/assets/api_docs.js", headers={"If-None-Match": start.headers["ETag"]}
    )
    assert again.status_code == 304
    assert 'data-document="/api/openapi.json"' in html


def test_the_reference_files_are_the_ones_the_document_names(document):
    from api.openapi import RENDERER_ASSETS

    parameter = document["paths"]["/api/docs/assets/{name}"]["get"]["parameters"][0]
    assert parameter["schema"]["enum"] == sorted(RENDERER_ASSETS)


def test_an_unknown_renderer_file_is_a_404_problem(client):
    response = client.get("/api/docs/assets/..%2Fpyproject.toml")
    assert response.status_code == 404
    assert response.mimetype == problems.PROBLEM_MEDIA_TYPE
    assert client.get("/api/docs/assets/index.html").status_code == 404


def test_the_docs_page_allows_the_registrys_own_scripts_only(client):
    policy = client.get("/api/docs").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["default-src"] == "'self'"


def test_the_search_lists_its_query_parameters(document):
    parameters = document["paths"]["/api/v1/subjects"]["get"]["parameters"]
    by_name = {p["name"]: p for p in parameters}
    assert {"purpose", "q", "kind", "region", "list", "limit", "after"} <= set(by_name)
    assert all(p["in"] == "query" for p in parameters)
    assert by_name["purpose"]["required"] is True
    assert by_name["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}


def test_the_csv_exports_and_atom_feeds_are_described_with_their_media_types(document):
    def media_types(path):
        return set(document["paths"][path]["get"]["responses"]["200"]["content"])

    assert media_types("/api/v1/public/lists/{list_kind}") == {"application/json"}
    assert media_types("/api/v1/public/lists/{list_kind}.csv") == {"text/csv"}
    assert media_types("/api/v1/public/lists/{list_kind}.atom") == {"application/atom+xml"}
    assert "text/csv" in media_types("/api/v1/screening/jobs/{job_id}/result")
    csv = document["paths"]["/api/v1/public/lists/{list_kind}.csv"]["get"]
    assert "bom" in {p["name"] for p in csv["parameters"]}


def test_the_described_csv_and_atom_are_what_the_registry_serves(client, document):
    for path, media_type in [
        ("/api/v1/public/lists/blacklist.csv", "text/csv"),
        ("/api/v1/public/lists/blacklist.atom", "application/atom+xml"),
    ]:
        response = client.get(path)
        assert response.status_code == 200
        assert response.mimetype == media_type
    header = client.get("/api/v1/public/lists/blacklist.csv").get_data(as_text=True)
    described = document["paths"]["/api/v1/public/lists/{list_kind}.csv"]["get"]
    example = described["responses"]["200"]["content"]["text/csv"]["example"]
    assert header.splitlines()[0] == example.splitlines()[0]
