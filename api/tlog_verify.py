"""A member's verifier for the registry's transparency log, independent of the server's code.

It implements on its own what a member needs to check the registry without trusting it:
RFC 9162 leaf and node hashes and its inclusion and consistency verification algorithms
(2.1.3.2, 2.1.4.2), C2SP signed notes and tlog-checkpoints, C2SP tlog-proof bundles, and the
log entry of a submission made from its receipt (RFC 8785, with the ``rfc8785`` package).
It imports nothing of the registry's tree code: a bug there cannot hide here.

Every check raises :class:`VerificationError` with a sentence that says what did not hold.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

SUBMISSION_ENTRY_TYPE = "creditreg.log-entry.submission/v1"
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
EM_DASH = "\u2014"


class VerificationError(Exception):
    """Something the registry gave does not verify."""


# --- RFC 9162 -------------------------------------------------------------------------------


def hash_leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion_proof(
    leaf: bytes, index: int, size: int, proof: list[bytes]
) -> bytes | None:
    """RFC 9162 2.1.3.2: the root the proof leads to, or None if it cannot be a proof."""
    if index >= size or index < 0:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = hash_children(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn //= 2
                    sn //= 2
        else:
            r = hash_children(r, p)
        fn //= 2
        sn //= 2
    return r if sn == 0 else None


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> None:
    if root_from_inclusion_proof(leaf, index, size, proof) != root:
        raise VerificationError(
            f"the inclusion proof of entry {index} does not lead to the root of tree size {size}"
        )


def consistent(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 2.1.4.2 (with the trivial cases: equal sizes, and the empty tree)."""
    if first > second or first < 0:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of 2
        path = [first_root, *path]
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn //= 2
        sn //= 2
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn //= 2
                    sn //= 2
        else:
            sr = hash_children(sr, c)
        fn //= 2
        sn //= 2
    return sn == 0 and fr == first_root and sr == second_root


# --- C2SP signed notes and checkpoints ------------------------------------------------------


@dataclass(frozen=True)
class SignedCheckpoint:
    origin: str
    size: int
    root: bytes
    note: str

    @property
    def root_b64(self) -> str:
        return base64.b64encode(self.root).decode()


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise VerificationError(f"{what} is not base64") from None


def note_key_hash(name: str, public_key: bytes) -> bytes:
    """C2SP signed-note key hash for Ed25519: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    return hashlib.sha256(name.encode() + b"\x0a" + b"\x01" + public_key).digest()[:4]


def verify_note(note: str, name: str, public_key: ed25519.Ed25519PublicKey) -> str:
    """Check ``note`` carries a valid signature by ``name``'s key; returns the signed text.

    :raises VerificationError: malformed, or no valid signature by that key.
    """
    text, separator, signatures = note.partition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise VerificationError("the checkpoint is not a signed note")
    text += "\n"
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    expected_hash = note_key_hash(name, raw)
    for line in signatures[:-1].split("\n"):
        if not line.startswith(EM_DASH + " "):
            raise VerificationError("the checkpoint has a malformed signature line")
        parts = line[2:].split(" ")
        if len(parts) != 2 or parts[0] != name:
            continue
        blob = _b64decode(parts[1], "a note signature")
        if len(blob) != 4 + 64 or blob[:4] != expected_hash:
            continue
        try:
            public_key.verify(blob[4:], text.encode())
        except InvalidSignature:
            raise VerificationError(
                f"the signature by {name} on the checkpoint is invalid"
            ) from None
        return text
    raise VerificationError(
        f"the checkpoint carries no signature by {name} with the registry's key"
    )


def parse_checkpoint(note: str) -> SignedCheckpoint:
    """Read origin, size and root (C2SP tlog-checkpoint) without checking the signature."""
    text = note.partition("\n\n")[0]
    lines = text.split("\n")
    if len(lines) < 3 or not lines[0]:
        raise VerificationError("the checkpoint does not have origin, size and root lines")
    if not lines[1].isdigit() or (lines[1] != "0" and lines[1].startswith("0")):
        raise VerificationError("the checkpoint's size is not a decimal number")
    root = _b64decode(lines[2], "the checkpoint's root hash")
    if len(root) != 32:
        raise VerificationError("the checkpoint's root hash is not 32 bytes")
    return SignedCheckpoint(lines[0], int(lines[1]), root, note)


def verify_checkpoint(note: str, public_key: ed25519.Ed25519PublicKey) -> SignedCheckpoint:
    """A checkpoint signed by the registry's key under its origin's name."""
    checkpoint = parse_checkpoint(note)
    verify_note(note, checkpoint.origin, public_key)
    return checkpoint


def check_consistency(old: SignedCheckpoint, new: SignedCheckpoint, proof: list[bytes]) -> None:
    """:raises VerificationError: the two checkpoints cannot both be true of one log."""
    if old.origin != new.origin:
        raise VerificationError(f"the checkpoints are of two logs ({old.origin}, {new.origin})")
    if new.size < old.size:
        raise VerificationError(
            f"the log shrank: checkpoint {new.size} after checkpoint {old.size}"
        )
    if new.size == old.size and new.root != old.root:
        raise VerificationError(
            f"FORK: two signed checkpoints of size {old.size} with different roots "
            f"({old.root_b64} and {new.root_b64})"
        )
    if not consistent(old.size, new.size, old.root, new.root, proof):
        raise VerificationError(
            f"INCONSISTENT: checkpoint {new.size} does not extend checkpoint {old.size}: "
            "the log's history was rewritten"
        )


# --- tlog-proof bundles ---------------------------------------------------------------------


@dataclass(frozen=True)
class Proof:
    extra: bytes | None
    index: int
    hashes: list[bytes]
    checkpoint_note: str


def parse_proof(text: str) -> Proof:
    """C2SP tlog-proof: header, optional ``extra``, ``index``, hashes, blank line, checkpoint."""
    head, separator, note = text.partition("\n\n")
    lines = head.split("\n")
    if not separator or not lines or lines[0] != PROOF_HEADER:
        raise VerificationError(f"the proof is not a {PROOF_HEADER} bundle")
    position, extra = 1, None
    if position < len(lines) and lines[position].startswith("extra "):
        extra = _b64decode(lines[position][6:], "the proof's extra data")
        position += 1
    if position >= len(lines) or not lines[position].startswith("index "):
        raise VerificationError("the proof has no index line")
    index_text = lines[position][6:]
    if not index_text.isdigit():
        raise VerificationError("the proof's index is not a number")
    hashes = [_b64decode(line, "a proof hash") for line in lines[position + 1 :]]
    if any(len(h) != 32 for h in hashes):
        raise VerificationError("a proof hash is not 32 bytes")
    return Proof(extra, int(index_text), hashes, note)


def build_proof(index: int, hashes: list[bytes], checkpoint_note: str, extra: bytes | None) -> str:
    lines = [PROOF_HEADER]
    if extra is not None:
        lines.append("extra " + base64.b64encode(extra).decode())
    lines.append(f"index {index}")
    lines += [base64.b64encode(h).decode() for h in hashes]
    return "\n".join(lines) + "\n\n" + checkpoint_note


# --- receipts -------------------------------------------------------------------------------


def submission_entry(receipt: Mapping[str, Any]) -> bytes:
    """The log entry of a submission, made from its receipt, in RFC 8785 form."""
    try:
        document = {
            "type": SUBMISSION_ENTRY_TYPE,
            "member_id": receipt["member_id"],
            "key_id": receipt["key_id"],
            "submission_id": receipt["submission_id"],
            "body_digest": receipt["body_digest"],
            "received_at": receipt["received_at"],
            "records": [
                {
                    "record_id": r["record_id"],
                    "registry_id": r["registry_id"],
                    "version": r["version"],
                    "status": r["status"],
                }
                for r in receipt["records"]
            ],
        }
    except (KeyError, TypeError) as exc:
        raise VerificationError(f"the receipt lacks {exc}") from None
    return bytes(rfc8785.dumps(document))


def keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, ed25519.Ed25519PublicKey]:
    keys: dict[str, ed25519.Ed25519PublicKey] = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and "kid" in jwk:
            raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
            keys[jwk["kid"]] = ed25519.Ed25519PublicKey.from_public_bytes(raw)
    return keys


def verify_document_signature(
    document: Any, signature_b64url: str, public_key: ed25519.Ed25519PublicKey, what: str
) -> None:
    try:
        signature = base64.urlsafe_b64decode(signature_b64url + "=" * (-len(signature_b64url) % 4))
        public_key.verify(signature, rfc8785.dumps(document))
    except (InvalidSignature, ValueError, TypeError):
        raise VerificationError(f"the registry's signature on the {what} does not verify") from None


def registry_key(
    keys: Mapping[str, ed25519.Ed25519PublicKey], key_id: str | None
) -> ed25519.Ed25519PublicKey:
    key = keys.get(key_id or "")
    if key is None:
        raise VerificationError(f"the registry key {key_id} is not in the registry's key set")
    return key


@dataclass(frozen=True)
class ReceiptResult:
    log_index: int
    checkpoint: SignedCheckpoint
    leaf_hash: bytes


def verify_receipt(
    signed: Mapping[str, Any],
    proof_text: str,
    keys: Mapping[str, ed25519.Ed25519PublicKey],
) -> ReceiptResult:
    """Verify a signed receipt and its log proof, offline.

    Checks the registry's signature on the receipt, rebuilds the log entry from the receipt,
    checks the bundle's entry is that one, that the checkpoint is signed by the registry's key,
    and that the inclusion proof leads from the entry's leaf to the checkpoint's root.
    """
    receipt = signed.get("receipt")
    if not isinstance(receipt, Mapping):
        raise VerificationError("the file holds no receipt")
    key = registry_key(keys, signed.get("registry_key_id"))
    verify_document_signature(receipt, str(signed.get("receipt_signature", "")), key, "receipt")
    log_index = receipt.get("log_index")
    if not isinstance(log_index, int):
        raise VerificationError("the receipt names no log index (it predates the log)")
    entry = submission_entry(receipt)
    proof = parse_proof(proof_text)
    if proof.index != log_index:
        raise VerificationError(
            f"the proof is for entry {proof.index}, the receipt for entry {log_index}"
        )
    if proof.extra is not None and proof.extra != entry:
        raise VerificationError(f"the log's entry {log_index} is not this receipt's submission")
    checkpoint = verify_checkpoint(proof.checkpoint_note, key)
    leaf = hash_leaf(entry)
    verify_inclusion(leaf, log_index, checkpoint.size, proof.hashes, checkpoint.root)
    return ReceiptResult(log_index, checkpoint, leaf)


def verify_screening(
    signed: Mapping[str, Any], keys: Mapping[str, ed25519.Ed25519PublicKey]
) -> Mapping[str, Any]:
    """A signed screening statement: the registry's signature, and its checkpoint's."""
    statement = signed.get("statement")
    if not isinstance(statement, Mapping):
        raise VerificationError("the file holds no screening statement")
    key = registry_key(keys, signed.get("registry_key_id"))
    verify_document_signature(statement, str(signed.get("signature", "")), key, "statement")
    note = statement.get("checkpoint")
    if note is not None:
        verify_checkpoint(str(note), key)
    return statement
