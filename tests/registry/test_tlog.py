"""The transparency log's tree, proofs and checkpoints against an independent reference."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ed25519

from api import tlog_verify as tv
from registry import tlog
from registry.chains import read_head
from tests.conftest import TEST_START

MAX_SIZE = 70


# --- the reference: RFC 9162 2.1.1, 2.1.3.1 and 2.1.4.1 written as the RFC reads -------------


def ref_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def ref_mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return ref_leaf(leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [ref_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return ref_subproof(m, leaves[:k], b) + [ref_mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_mth(leaves[:k])]


def ref_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return ref_subproof(m, leaves, True) if 0 < m < len(leaves) else []


DATA = [f"entry {i}".encode() for i in range(MAX_SIZE)]


class MemoryHashes:
    def __init__(self, data: list[bytes]) -> None:
        self.leaves = [ref_leaf(d) for d in data]

    def lookup(self, keys):
        return {k: self.leaves[k[1]] for k in keys if k[0] == 0 and k[1] < len(self.leaves)}


def check_every_pair(tree_of, data: list[bytes]) -> None:
    for size in range(1, MAX_SIZE + 1):
        tree = tree_of(size)
        leaves = data[:size]
        root = ref_mth(leaves)
        assert tree.root(size) == root, size
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == ref_path(index, leaves), (index, size)
            tv.verify_inclusion(tv.hash_leaf(data[index]), index, size, proof, root)
        for first in range(0, size + 1):
            proof = tree.consistency_proof(first, size)
            assert proof == ref_proof(first, leaves), (first, size)
            first_root = ref_mth(data[:first])
            assert tv.consistent(first, size, first_root, root, proof), (first, size)
            assert tlog.verify_consistency(first, size, first_root, root, proof), (first, size)


def test_proofs_for_every_pair_of_sizes_match_the_reference_in_memory():
    check_every_pair(lambda size: tlog.Tree(MemoryHashes(DATA[:size])), DATA)


def test_verifiers_refuse_wrong_proofs():
    leaves = DATA[:13]
    root = ref_mth(leaves)
    proof = ref_path(5, leaves)
    with pytest.raises(tv.VerificationError):
        tv.verify_inclusion(tv.hash_leaf(b"other"), 5, 13, proof, root)
    with pytest.raises(tv.VerificationError):
        tv.verify_inclusion(tv.hash_leaf(DATA[5]), 6, 13, proof, root)
    consistency = ref_proof(7, leaves)
    old_root = ref_mth(DATA[:7])
    forged = ref_mth([b"forged", *DATA[1:7]])
    assert tv.consistent(7, 13, old_root, root, consistency)
    assert not tv.consistent(7, 13, forged, root, consistency)
    assert not tlog.verify_consistency(7, 13, forged, root, consistency)
    assert not tv.consistent(7, 13, old_root, root, consistency[:-1])
    assert not tv.consistent(13, 7, root, old_root, consistency)


def append_data(session, data: list[bytes]) -> None:
    """Append entries whose canonical JSON is known, so the leaves are the reference's."""
    for item in data:
        tlog.append(session, tlog.EntryKind.LIST, {"d": item.decode()}, TEST_START)
    session.flush()


def canonical(item: bytes) -> bytes:
    return json.dumps({"d": item.decode()}, separators=(",", ":")).encode()


def test_proofs_from_the_database_with_the_subtree_cache_match_the_reference(session, runtime):
    assert tlog.log_size(session) == 0
    data = [canonical(d) for d in DATA]
    origin = "registry.test/log"
    # Checkpoints at uneven sizes leave the cache covering some prefixes and not others.
    for start, end in ((0, 1), (1, 5), (5, 13), (13, 32), (32, 47), (47, 70)):
        append_data(session, DATA[start:end])
        assert tlog.make_checkpoint(session, runtime.signer, origin, TEST_START) is not None
    assert tlog.make_checkpoint(session, runtime.signer, origin, TEST_START) is None  # no growth
    cached = session.scalar(sa.select(sa.func.count()).select_from(tlog.Subtree))
    assert cached == sum(70 >> level for level in range(1, 7))
    check_every_pair(lambda size: tlog.tree_for(session, size), data)


def test_a_proof_reads_a_logarithmic_number_of_hashes(session, runtime, query_counter):
    append_data(session, [f"x{i}".encode() for i in range(300)])
    tlog.make_checkpoint(session, runtime.signer, "registry.test/log", TEST_START)
    query_counter.clear()
    tree = tlog.tree_for(session, 300)
    tree.inclusion_proof(123, 300)
    assert len(tree.memo) <= 2 * 9
    assert len(query_counter) <= 3


def test_a_checkpoint_is_a_c2sp_signed_note_by_the_registry_key(session, runtime):
    append_data(session, DATA[:3])
    checkpoint = tlog.make_checkpoint(session, runtime.signer, "registry.test/log", TEST_START)
    assert checkpoint is not None
    body, _, signatures = checkpoint.note.partition("\n\n")
    origin, size, root = body.split("\n")
    assert (origin, size) == ("registry.test/log", "3")
    assert base64.b64decode(root) == ref_mth([canonical(d) for d in DATA[:3]])
    # One signature line: em dash, key name, base64 of the 4-byte key hash and the signature.
    line = signatures.rstrip("\n")
    assert "\n" not in line and line.startswith("\u2014 registry.test/log ")
    blob = base64.b64decode(line.split(" ")[2])
    public = base64.urlsafe_b64decode(runtime.signer.jwk["x"] + "==")
    key_hash = hashlib.sha256(b"registry.test/log" + b"\n" + b"\x01" + public).digest()[:4]
    assert blob[:4] == key_hash
    ed25519.Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], (body + "\n").encode())
    assert tv.verify_checkpoint(checkpoint.note, runtime.signer.public_key).size == 3
    vkey = tlog.verifier_key(runtime.signer, "registry.test/log")
    assert vkey.split("+")[1] == key_hash.hex()
    # Another key, or an edited note, does not verify.
    with pytest.raises(tv.VerificationError):
        tv.verify_checkpoint(checkpoint.note, ed25519.Ed25519PrivateKey.generate().public_key())
    with pytest.raises(tv.VerificationError):
        tv.verify_checkpoint(checkpoint.note.replace("\n3\n", "\n4\n"), runtime.signer.public_key)


def rewrite_entry(session, index: int) -> None:
    forged = b'{"d":"forged"}'
    session.execute(
        sa.update(tlog.LogEntry)
        .where(tlog.LogEntry.log_index == index)
        .values(entry=forged, leaf_hash=tlog.leaf_hash(forged))
    )
    session.execute(sa.delete(tlog.Subtree))


def test_the_worker_never_signs_a_rewritten_history_and_stops_signing(session, runtime):
    job = tlog.checkpoint_job(runtime.settings)
    append_data(session, DATA[:10])
    assert job(session, TEST_START) == 1
    session.commit()  # as the worker does after each job
    rewrite_entry(session, 4)
    append_data(session, DATA[10:12])
    session.commit()
    with pytest.raises(tlog.SigningHalted):
        job(session, TEST_START)
    head = read_head(session)
    assert "not consistent with signed checkpoint 10" in head.signing_halted
    # Every later round refuses, even if the log looks fine again.
    with pytest.raises(tlog.SigningHalted):
        job(session, TEST_START)
    assert tlog.latest_checkpoint(session).size == 10


def test_a_leaf_that_is_not_its_entry_is_refused(session, runtime):
    append_data(session, DATA[:4])
    session.execute(
        sa.update(tlog.LogEntry).where(tlog.LogEntry.log_index == 2).values(entry=b"{}")
    )
    with pytest.raises(tlog.LogCorrupt, match="entry 2 does not hash"):
        tlog.make_checkpoint(session, runtime.signer, "registry.test/log", TEST_START)


def test_verify_log_recomputes_everything_and_finds_an_altered_entry(session, runtime):
    append_data(session, DATA[:9])
    tlog.make_checkpoint(session, runtime.signer, "registry.test/log", TEST_START)
    append_data(session, DATA[9:20])
    tlog.make_checkpoint(session, runtime.signer, "registry.test/log", TEST_START)
    report = tlog.verify_log(session, runtime.signer)
    assert (report.ok, report.size, report.checkpoints) == (True, 20, 2)
    rewrite_entry(session, 3)
    report = tlog.verify_log(session, runtime.signer)
    assert not report.ok and "checkpoint 9 does not match" in (report.problem or "")


def test_the_worker_signs_checkpoints_at_the_configured_interval(session, runtime):
    from registry.worker import Worker, default_jobs

    jobs = [j for j in default_jobs(settings=runtime.settings) if j.name == "tlog-checkpoint"]
    assert (
        [j.interval_seconds for j in jobs] == [runtime.settings.TLOG_CHECKPOINT_INTERVAL] == [1.0]
    )
    append_data(session, DATA[:2])
    session.commit()
    worker = Worker(lambda: session, runtime.clock, jobs=jobs)
    assert worker.run_round() == {"tlog-checkpoint": 1}
    assert tlog.latest_checkpoint(session).note.startswith("creditreg.localhost/log\n2\n")
