import pytest

from registry.logs import redact
from registry.security import (
    EvidenceCipher,
    HashingBusy,
    IdentityVault,
    PasswordPolicyError,
    Passwords,
)
from tests.console_helpers import Argon2Checks

KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"  # base64url of 32 bytes


def test_keyed_hash_is_stable_and_depends_on_the_key():
    vault = IdentityVault(hash_key="one", encryption_key=KEY)
    assert vault.keyed_hash("11010519491231002X") == vault.keyed_hash("11010519491231002X")
    other = IdentityVault(hash_key="two", encryption_key=KEY)
    assert vault.keyed_hash("11010519491231002X") != other.keyed_hash("11010519491231002X")
    assert "11010519491231002X" not in vault.keyed_hash("11010519491231002X")


def test_encryption_round_trip_random_nonce_and_wrong_key():
    vault = IdentityVault(hash_key="k", encryption_key=KEY)
    first = vault.encrypt("11010519491231002X")
    assert first != vault.encrypt("11010519491231002X")
    assert "11010519491231002X" not in first
    assert vault.decrypt(first) == "11010519491231002X"
    other = IdentityVault(hash_key="k", encryption_key="A" * 43)
    with pytest.raises(ValueError):
        other.decrypt(first)


def test_evidence_bodies_are_sealed_under_the_current_key_and_open_after_rotation():
    body = b'{"records": [{"subject": {"id_number": "11010519491231002X"}}]}'
    before = EvidenceCipher(key_id="k1", key=KEY)
    sealed = before.seal(body)
    assert sealed.startswith(b"ev1:k1:") and b"11010519491231002X" not in sealed
    assert sealed != before.seal(body)  # a fresh nonce each time
    after = EvidenceCipher(key_id="k2", key="A" * 43, older_keys={"k1": KEY})
    assert after.open(sealed) == body
    assert after.seal(body).startswith(b"ev1:k2:")
    with pytest.raises(ValueError, match="key id 'k1', not configured"):
        EvidenceCipher(key_id="k2", key="A" * 43).open(sealed)
    # The header is authenticated: a body cannot be passed off as sealed under another key.
    with pytest.raises(ValueError, match="does not decrypt"):
        EvidenceCipher(key_id="k3", key=KEY).open(sealed.replace(b"ev1:k1:", b"ev1:k3:"))
    with pytest.raises(ValueError, match="not sealed"):
        before.open(body)


def test_passwords_need_twelve_characters():
    passwords = Passwords(time_cost=1, memory_kib=1024)
    with pytest.raises(PasswordPolicyError):
        passwords.hash("elevenchars")
    stored = passwords.hash("twelve chars")
    assert passwords.verify(stored, "twelve chars")
    assert not passwords.verify(stored, "twelve chars!")
    assert not passwords.verify("garbage", "twelve chars")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id 11010519491231002X failed", "id 1101**********002X failed"),
        ("lower 11010519491231002x", "lower 1101**********002x"),
        ("(11010519491231002X)", "(1101**********002X)"),
        ("order 1234567890123456789012 stays", "order 1234567890123456789012 stays"),
        ("uscc 91110000600037341L stays", "uscc 91110000600037341L stays"),
    ],
)
def test_log_redaction(text, expected):
    assert redact(text) == expected


def test_at_most_the_configured_number_of_hashes_run_at_once():
    passwords = Passwords(time_cost=1, memory_kib=1024, concurrency=2, wait_seconds=0)
    stored = passwords.hash("twelve chars")
    with Argon2Checks(held=2) as checks:
        checks.hold(passwords)
        checks.hold(passwords)
        with pytest.raises(HashingBusy):
            passwords.verify(stored, "twelve chars")
        with pytest.raises(HashingBusy):
            passwords.hash("another twelve chars")
        assert checks.count == 2
    assert passwords.verify(stored, "twelve chars")
