"""`creditreg submissions verify`: a stored submission re-verified from its evidence alone."""

import json

import pytest
import sqlalchemy as sa

from registry.submissions import Submission
from tests.api.test_submissions import PENALTY, submit
from tests.signing import signed_member


@pytest.fixture
def accepted(session, client, clock):
    member = signed_member(session, client, clock, kind="regulator", roles=("submitter",))
    response = submit(member, "evidence-1", [PENALTY])
    assert response.status_code == 201
    return session.scalar(sa.select(Submission).where(Submission.submission_id == "evidence-1"))


def verify(app, *args):
    result = app.test_cli_runner().invoke(args=["submissions", "verify", *args, "--json"])
    return result.exit_code, json.loads(result.output)


def failed_checks(report):
    return {check["check"] for check in report["checks"] if not check["ok"]}


def test_an_untouched_submission_verifies_by_either_id(app, accepted):
    for reference in (accepted.submission_id, str(accepted.id)):
        code, report = verify(app, reference)
        assert code == 0
        assert report["verified"] is True
        assert [c["check"] for c in report["checks"]] == [
            "body-sealed",
            "signature-headers",
            "signature-params",
            "covered-components",
            "body-digest",
            "signature",
            "receipt",
        ]


def test_an_edited_body_is_detected(app, session, runtime, accepted):
    # Edited by someone holding the evidence key: the seal is good, the digest is not.
    body = runtime.evidence_cipher.open(accepted.body)
    tampered = runtime.evidence_cipher.seal(body.replace(b"20000.00", b"2000.00"))
    session.execute(sa.update(Submission).where(Submission.id == accepted.id).values(body=tampered))
    code, report = verify(app, accepted.submission_id)
    assert code == 1
    assert failed_checks(report) == {"body-digest", "receipt"}


def test_an_edited_sealed_body_is_detected(app, session, accepted):
    tampered = bytearray(accepted.body)
    tampered[-1] ^= 0x01
    session.execute(
        sa.update(Submission).where(Submission.id == accepted.id).values(body=bytes(tampered))
    )
    code, report = verify(app, accepted.submission_id)
    assert code == 1
    assert failed_checks(report) == {"body-sealed", "body-digest", "receipt"}


def test_an_edited_signature_base_is_detected(app, session, accepted):
    base = accepted.signature_base.replace('"@path": /api/v1/submissions', '"@path": /api/v1/other')
    assert base != accepted.signature_base
    session.execute(
        sa.update(Submission).where(Submission.id == accepted.id).values(signature_base=base)
    )
    code, report = verify(app, accepted.submission_id)
    assert code == 1
    assert failed_checks(report) == {"signature"}


def test_a_base_that_does_not_match_the_signature_input_is_detected(app, session, accepted):
    lines = accepted.signature_base.split("\n")
    lines[-1] = lines[-1].replace("created=", "created=1")
    session.execute(
        sa.update(Submission)
        .where(Submission.id == accepted.id)
        .values(signature_base="\n".join(lines))
    )
    code, report = verify(app, accepted.submission_id)
    assert code == 1
    assert {"signature-params", "signature"} <= failed_checks(report)


def test_a_forged_receipt_is_detected(app, session, accepted):
    signed = dict(accepted.receipt)
    signed["receipt"] = {**signed["receipt"], "records": []}
    session.execute(
        sa.update(Submission).where(Submission.id == accepted.id).values(receipt=signed)
    )
    code, report = verify(app, accepted.submission_id)
    assert code == 1
    assert failed_checks(report) == {"receipt"}


def test_unknown_submission_is_a_clean_error(app, accepted):
    result = app.test_cli_runner().invoke(args=["submissions", "verify", "no-such-id"])
    assert result.exit_code == 1
    assert "no submission no-such-id" in result.output
