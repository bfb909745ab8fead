"""Receipt signing: canonical JSON (RFC 8785) and signatures any member can check."""

import rfc8785
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st

from registry.receipts import RegistrySigner, canonical_json, verify_signed_document

SEED = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
scalars = st.one_of(st.none(), st.booleans(), text, st.integers(-(2**53) + 1, 2**53 - 1))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.text(st.characters(max_codepoint=127), max_size=8), children, max_size=4
        ),
    ),
    max_leaves=20,
)


@given(documents)
def test_canonical_form_is_exactly_rfc_8785(document):
    assert canonical_json(document) == rfc8785.dumps(document)


@given(
    st.dictionaries(
        st.text(max_size=6),
        st.one_of(st.floats(allow_nan=False, allow_infinity=False), text),
        max_size=4,
    )
)
def test_floats_and_any_keys_still_canonical(document):
    assert canonical_json(document) == rfc8785.dumps(document)


def test_a_signed_receipt_verifies_and_any_change_does_not():
    signer = RegistrySigner(SEED)
    receipt = {"submission_id": "s-1", "records": [{"index": 0, "version": 1, "status": "created"}]}
    signature = signer.sign(receipt)
    assert verify_signed_document(receipt, signature, signer.public_key)
    changed = {**receipt, "records": [{"index": 0, "version": 2, "status": "created"}]}
    assert not verify_signed_document(changed, signature, signer.public_key)
    other_key = ed25519.Ed25519PrivateKey.generate().public_key()
    assert not verify_signed_document(receipt, signature, other_key)
