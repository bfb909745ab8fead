"""The transparency log: an append-only Merkle tree of what the registry accepted and published.

Every accepted submission and every list publication, extension and removal becomes an
entry, appended in the same transaction as the change it records (so an entry exists exactly
when the change does). The tree is RFC 9162's: a leaf hashes as SHA-256(0x00 || entry), a
node as SHA-256(0x01 || left || right), and an entry is the RFC 8785 canonical JSON of a
small document. A submission's entry is made of its receipt's own fields
(:func:`submission_entry`), so a member can recompute the leaf from the receipt alone.

Checkpoints follow C2SP tlog-checkpoint (origin, size, base64 root) as a C2SP signed note
under the registry's Ed25519 key. ``creditreg worker`` signs one when the log grew
(:func:`checkpoint_job`), after checking that the new tree is consistent with the last signed
one; if it is not, it records why, refuses to sign again and says so loudly. So the registry
never signs two checkpoints that contradict each other.

Proofs read the leaf hashes and a cache of perfect subtree hashes (``tlog_subtrees``,
filled when a checkpoint is signed), so a proof reads about log2(size) hashes, not every leaf.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry import chains
from registry.db import Base, add_append_only
from registry.receipts import RegistrySigner, canonical_json
from registry.records import CreditRecord
from registry.subjects import Subject, SubjectKind

log = logging.getLogger(__name__)

SUBMISSION_ENTRY_TYPE = "creditreg.log-entry.submission/v1"
LIST_ENTRY_TYPE = "creditreg.log-entry.list/v1"
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
EMPTY_ROOT = hashlib.sha256(b"").digest()
ED25519_NOTE_TYPE = b"\x01"  # the signed-note signature type of Ed25519


class EntryKind:
    SUBMISSION = "submission"
    LIST = "list"


# --- hashes ---------------------------------------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- storage --------------------------------------------------------------------------------


class LogEntry(Base):
    __tablename__ = "tlog_entries"

    log_index: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(sa.String(16))
    entry: Mapped[bytes] = mapped_column(sa.LargeBinary, comment="RFC 8785 canonical JSON")
    leaf_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), comment="SHA-256(0x00 || entry)")
    created_at: Mapped[datetime]


class Subtree(Base):
    """The hash of a perfect subtree: leaves [position * 2^level, (position + 1) * 2^level)."""

    __tablename__ = "tlog_subtrees"

    level: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))


class Checkpoint(Base):
    __tablename__ = "tlog_checkpoints"

    size: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    note: Mapped[str] = mapped_column(sa.Text, comment="the C2SP signed note, as served")
    created_at: Mapped[datetime]


# --- entries --------------------------------------------------------------------------------


def submission_entry(receipt: Mapping[str, Any]) -> dict[str, Any]:
    """A submission's log entry, from the fields of its receipt (a member's verifier makes
    the same document from the receipt it holds)."""
    return {
        "type": SUBMISSION_ENTRY_TYPE,
        "member_id": receipt["member_id"],
        "key_id": receipt["key_id"],
        "submission_id": receipt["submission_id"],
        "body_digest": receipt["body_digest"],
        "received_at": receipt["received_at"],
        "records": [
            {
                "record_id": item["record_id"],
                "registry_id": item["registry_id"],
                "version": item["version"],
                "status": item["status"],
            }
            for item in receipt["records"]
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def list_entry(entry: Any, event: str, at: datetime) -> dict[str, Any]:
    """A list event's log entry: the entry's public fields as they are after the event."""
    return {
        "type": LIST_ENTRY_TYPE,
        "event": event,
        "at": _iso(at),
        "entry_id": str(entry.id),
        "list": entry.list_kind,
        "subject_id": str(entry.subject_id),
        "authority": entry.authority,
        "reason": entry.reason,
        "legal_basis": entry.legal_basis,
        "document_number": entry.document_number,
        "measures": entry.measures_text,
        # The catalogue codes (none for an entry proposed before the catalogue).
        "measure_codes": [measure.code for measure in entry.measures],
        "published_at": _iso(entry.published_at),
        "until": _iso(entry.publish_until),
        "removed_at": _iso(entry.removed_at),
        "removal_reason": entry.removal_reason,
        "note": entry.outcome_note if event == "removed" else None,
    }


def public_view(
    session: Session, kind: str, document: Mapping[str, Any]
) -> tuple[dict[str, Any], bool]:
    """What the public is shown of an entry, and whether anything was withheld.

    The log is public, but a record or a list entry about a person must not be traced to
    them from it: their ids (the registry's and the member's record id, the entry's and the
    subject's) show as null. Only what is known to be about an enterprise or a shop shows;
    what the registry no longer holds (an archived record) is withheld too. The leaf hashes
    the entry as stored, so inclusion proofs still hold; a member recomputes its own
    submission's entry from its receipt.
    """
    shown = dict(document)
    if kind == EntryKind.SUBMISSION:
        records = [dict(item) for item in document.get("records", [])]
        public = _ids_of_non_persons(session, CreditRecord, [r.get("registry_id") for r in records])
        for item in records:
            if item.get("registry_id") not in public:
                item.update(record_id=None, registry_id=None)
        shown["records"] = records
        withheld = any(item["registry_id"] is None for item in records)
    elif kind == EntryKind.LIST:
        withheld = document.get("subject_id") not in _ids_of_non_persons(
            session, Subject, [document.get("subject_id")]
        )
        if withheld:
            shown.update(entry_id=None, subject_id=None)
    else:
        withheld = False
    return shown, withheld


def _ids_of_non_persons(session: Session, model: Any, ids: Iterable[Any]) -> set[str]:
    """Which of these subject or record ids name an enterprise's or a shop's."""
    wanted = set()
    for value in ids:
        try:
            wanted.add(uuid.UUID(str(value)))
        except ValueError:
            continue
    if not wanted:
        return set()
    query = sa.select(model.id).where(model.id.in_(sorted(wanted)))
    if model is not Subject:
        query = query.join(Subject, Subject.id == model.subject_id)
    query = query.where(Subject.kind != SubjectKind.PERSON)
    return {str(found) for found in session.scalars(query)}


def append(session: Session, kind: str, document: Mapping[str, Any], at: datetime) -> int:
    """Append an entry in the session's transaction; returns its index.

    Indexes are taken from the chain head under its lock, so they are gap-free and in commit
    order; the row itself is written with the transaction's other append-only rows.
    """
    entry = canonical_json(document)
    index = chains.advance(session, log=1).log_start
    add_append_only(
        session,
        LogEntry,
        {
            "log_index": index,
            "kind": kind,
            "entry": entry,
            "leaf_hash": leaf_hash(entry),
            "created_at": at,
        },
    )
    return index


def log_size(session: Session) -> int:
    """Entries committed to the log."""
    size = session.scalar(sa.select(chains.ChainHead.log_size).where(chains.ChainHead.id == 1))
    return int(size or 0)


# --- the tree -------------------------------------------------------------------------------

Key = tuple[int, int]  # (level, position) of a perfect subtree


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def perfect_parts(start: int, end: int) -> list[Key]:
    """The perfect subtrees that make up leaves [start, end), largest first."""
    parts: list[Key] = []
    position, count = start, end - start
    for level in reversed(range(count.bit_length())):
        if count >> level & 1:
            parts.append((level, position >> level))
            position += 1 << level
    return parts


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes make PATH(index, D[size]) (RFC 9162 2.1.3.1), in order."""
    ranges = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    return ranges[::-1]


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes make PROOF(first, D[second]) (RFC 9162 2.1.4.1)."""
    if first <= 0 or first >= second:
        return []
    ranges = []
    start, end, m, whole = 0, second, first, True
    while True:
        size = end - start
        if m == size:
            if not whole:
                ranges.append((start, end))
            break
        k = _split(size)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            whole = False
    return ranges[::-1]


class HashSource(Protocol):
    def lookup(self, keys: set[Key]) -> dict[Key, bytes]:
        """Hashes of those ``keys`` it holds (every leaf of the tree; subtrees if cached)."""
        ...


class Tree:
    """Hashes of a log's subtrees, from a source of leaf hashes and cached subtrees; what is
    not cached is computed from its children and remembered."""

    def __init__(self, source: HashSource) -> None:
        self.source = source
        self.memo: dict[Key, bytes] = {}
        self.computed: set[Key] = set()

    def hashes(self, keys: Iterable[Key]) -> dict[Key, bytes]:
        """:raises LogCorrupt: a leaf the tree needs is missing."""
        wanted = set(keys)
        frontier = {k for k in wanted if k not in self.memo}
        pending: list[Key] = []
        while frontier:
            found = self.source.lookup(frontier)
            self.memo.update(found)
            below: set[Key] = set()
            for level, position in frontier - found.keys():
                if level == 0:
                    raise LogCorrupt(f"the log has no leaf {position}")
                pending.append((level, position))
                below.update(
                    child
                    for child in ((level - 1, 2 * position), (level - 1, 2 * position + 1))
                    if child not in self.memo
                )
            frontier = below
        for level, position in sorted(pending):
            self.memo[(level, position)] = node_hash(
                self.memo[(level - 1, 2 * position)], self.memo[(level - 1, 2 * position + 1)]
            )
            self.computed.add((level, position))
        return {k: self.memo[k] for k in wanted}

    def range_hashes(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        """MTH of each range of leaves (each a range the RFC 9162 recursion makes)."""
        parts = [perfect_parts(start, end) for start, end in ranges]
        known = self.hashes(k for keys in parts for k in keys)
        result = []
        for keys in parts:
            value = known[keys[-1]]
            for key in reversed(keys[:-1]):
                value = node_hash(known[key], value)
            result.append(value)
        return result

    def root(self, size: int) -> bytes:
        return self.range_hashes([(0, size)])[0] if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        if not 0 <= index < size:
            raise ValueError("the index must be below the tree size")
        return self.range_hashes(inclusion_ranges(index, size))

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        if not 0 <= first <= second:
            raise ValueError("the first size must not exceed the second")
        return self.range_hashes(consistency_ranges(first, second))


class LogCorrupt(Exception):
    """The stored log contradicts itself (a missing leaf, a leaf hash that is not its
    entry's, a tree inconsistent with a signed checkpoint)."""


class DatabaseHashes:
    """Leaf hashes from ``tlog_entries``, perfect subtrees from ``tlog_subtrees``."""

    def __init__(self, session: Session, size: int) -> None:
        self.session = session
        self.size = size

    def lookup(self, keys: set[Key]) -> dict[Key, bytes]:
        found: dict[Key, bytes] = {}
        leaves = sorted(position for level, position in keys if level == 0)
        for first, last in _runs(leaves):
            rows = self.session.execute(
                sa.select(LogEntry.log_index, LogEntry.leaf_hash).where(
                    LogEntry.log_index.between(first, last), LogEntry.log_index < self.size
                )
            )
            found.update(((0, int(i)), bytes(h)) for i, h in rows)
        nodes = [key for key in keys if key[0] > 0]
        for chunk in range(0, len(nodes), 500):
            rows = self.session.execute(
                sa.select(Subtree.level, Subtree.position, Subtree.hash).where(
                    sa.tuple_(Subtree.level, Subtree.position).in_(nodes[chunk : chunk + 500])
                )
            )
            found.update(((int(lv), int(p)), bytes(h)) for lv, p, h in rows)
        return found


def _runs(values: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for value in values:
        if runs and runs[-1][1] + 1 == value:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def tree_for(session: Session, size: int) -> Tree:
    return Tree(DatabaseHashes(session, size))


# --- verification (the registry's own check before it signs) ---------------------------------


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 2.1.4.2."""
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if first > second or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


# --- checkpoints ----------------------------------------------------------------------------


def note_key_hash(name: str, public_key: bytes) -> bytes:
    """The C2SP signed-note key hash of an Ed25519 key (signature type 0x01)."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519_NOTE_TYPE + public_key).digest()[:4]


def raw_public_key(signer: RegistrySigner) -> bytes:
    return signer.public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def verifier_key(signer: RegistrySigner, name: str) -> str:
    """The note verifier key (``name+hash+base64``), as Go's ``golang.org/x/mod/sumdb/note``
    and the C2SP tools read it."""
    public = raw_public_key(signer)
    encoded = b64(ED25519_NOTE_TYPE + public)
    return f"{name}+{note_key_hash(name, public).hex()}+{encoded}"


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{b64(root)}\n"


def sign_note(signer: RegistrySigner, name: str, body: str) -> str:
    """A C2SP signed note: the body, a blank line and one signature line."""
    signature = signer.sign_bytes(body.encode())
    key_hash = note_key_hash(name, raw_public_key(signer))
    return f"{body}\n\u2014 {name} {b64(key_hash + signature)}\n"


def latest_checkpoint(session: Session) -> Checkpoint | None:
    return session.scalar(sa.select(Checkpoint).order_by(Checkpoint.size.desc()).limit(1))


def covering_checkpoint(session: Session, index: int) -> Checkpoint | None:
    """The latest checkpoint, if it covers ``index``."""
    latest = latest_checkpoint(session)
    return latest if latest is not None and latest.size > index else None


class SigningHalted(Exception):
    """Checkpoint signing stopped after an inconsistency; an operator must look."""


def _lock_checkpoints(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # One signer at a time across workers (SQLite serialises writers anyway).
        session.execute(sa.text("SELECT pg_advisory_xact_lock(7262850117)"))


def _check_new_leaves(session: Session, start: int, end: int) -> None:
    """Each entry newly covered is really the entry its leaf hash says, with no gap."""
    expected = start
    rows = session.execute(
        sa.select(LogEntry.log_index, LogEntry.entry, LogEntry.leaf_hash)
        .where(LogEntry.log_index >= start, LogEntry.log_index < end)
        .order_by(LogEntry.log_index)
    )
    for index, entry, stored in rows:
        if index != expected:
            raise LogCorrupt(f"the log has no entry {expected}")
        if leaf_hash(bytes(entry)) != bytes(stored):
            raise LogCorrupt(f"entry {index} does not hash to its stored leaf hash")
        expected += 1
    if expected != end:
        raise LogCorrupt(f"the log has no entry {expected}")


def _cache_subtrees(session: Session, tree: Tree, old: int, new: int) -> None:
    """Remember every perfect subtree completed between sizes ``old`` and ``new``."""
    keys = [
        (level, position)
        for level in range(1, new.bit_length())
        for position in range(old >> level, new >> level)
    ]
    if not keys:
        return
    hashes = tree.hashes(keys)
    session.execute(
        sa.insert(Subtree),
        [{"level": lv, "position": p, "hash": hashes[(lv, p)]} for lv, p in keys],
    )


def make_checkpoint(
    session: Session, signer: RegistrySigner, origin: str, now: datetime
) -> Checkpoint | None:
    """Sign a checkpoint of the log as committed, if it grew since the last one; flushes only.

    :raises SigningHalted: signing was stopped by an earlier inconsistency.
    :raises LogCorrupt: the log is not consistent with the last signed checkpoint (the
        caller records it with :func:`halt_signing` and stops).
    """
    _lock_checkpoints(session)
    head = chains.read_head(session)
    if head is not None and head.signing_halted:
        raise SigningHalted(head.signing_halted)
    size = log_size(session)
    latest = latest_checkpoint(session)
    old = latest.size if latest is not None else 0
    if size < old:
        raise LogCorrupt(f"the log holds {size} entries but checkpoint {old} was signed")
    if latest is not None and size == old:
        return None
    _check_new_leaves(session, old, size)
    tree = tree_for(session, size)
    root = tree.root(size)
    if latest is not None:
        proof = tree.consistency_proof(old, size)
        if not verify_consistency(old, size, bytes(latest.root_hash), root, proof):
            raise LogCorrupt(
                f"the log at size {size} is not consistent with signed checkpoint {old}"
            )
    _cache_subtrees(session, tree, old, size)
    checkpoint = Checkpoint(
        size=size,
        root_hash=root,
        note=sign_note(signer, origin, checkpoint_body(origin, size, root)),
        created_at=now,
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint


def halt_signing(session: Session, reason: str) -> None:
    """Stop all further signing (in its own committed transaction)."""
    session.rollback()
    session.execute(
        sa.update(chains.ChainHead)
        .where(chains.ChainHead.id == chains.HEAD_ID)
        .values(signing_halted=reason)
    )
    session.commit()


def checkpoint_or_halt(
    session: Session, signer: RegistrySigner, origin: str, now: datetime
) -> Checkpoint | None:
    """:func:`make_checkpoint`; on an inconsistency, stop all signing for good first.

    :raises SigningHalted: signing was stopped, now or before.
    """
    try:
        return make_checkpoint(session, signer, origin, now)
    except LogCorrupt as exc:
        reason = f"{now.isoformat()}: {exc}"
        halt_signing(session, reason)
        log.critical("transparency log: checkpoint signing STOPPED: %s", exc)
        raise SigningHalted(reason) from exc


def origin_from_settings(settings: Any) -> str:
    return str(settings.TLOG_ORIGIN or f"{settings.REGISTRY_NAME}/log")


def checkpoint_job(settings: Any) -> Callable[[Session, datetime], int]:
    """The worker's job: sign a checkpoint when the log grew; on an inconsistency, stop
    signing for good and fail loudly on every round after."""
    signer = RegistrySigner(settings.REGISTRY_SIGNING_KEY)
    origin = origin_from_settings(settings)

    def run(session: Session, now: datetime) -> int:
        return 1 if checkpoint_or_halt(session, signer, origin, now) is not None else 0

    return run


# --- proofs for members ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProofBundle:
    """An offline-verifiable proof that an entry is in the log (C2SP tlog-proof text, the
    entry itself as its extra data)."""

    index: int
    entry: bytes
    text: str


def proof_bundle(session: Session, index: int, checkpoint: Checkpoint) -> ProofBundle:
    entry = session.scalar(sa.select(LogEntry.entry).where(LogEntry.log_index == index))
    if entry is None:
        raise LogCorrupt(f"the log has no entry {index}")
    hashes = tree_for(session, checkpoint.size).inclusion_proof(index, checkpoint.size)
    lines = [PROOF_HEADER, f"extra {b64(bytes(entry))}", f"index {index}"]
    lines += [b64(h) for h in hashes]
    text = "\n".join(lines) + "\n\n" + checkpoint.note
    return ProofBundle(index, bytes(entry), text)


def walk(session: Session, batch: int = 5000) -> Iterable[tuple[int, bytes, bytes]]:
    """Every entry in index order: (index, entry, stored leaf hash)."""
    last = -1
    while True:
        rows = session.execute(
            sa.select(LogEntry.log_index, LogEntry.entry, LogEntry.leaf_hash)
            .where(LogEntry.log_index > last)
            .order_by(LogEntry.log_index)
            .limit(batch)
        ).all()
        if not rows:
            return
        for index, entry, stored in rows:
            yield int(index), bytes(entry), bytes(stored)
        last = int(rows[-1][0])


@dataclass
class LogReport:
    ok: bool
    size: int
    checkpoints: int
    problem: str | None = None


def verify_log(session: Session, signer: RegistrySigner) -> LogReport:
    """Recompute the whole tree from the stored entries (not from the cache) and check every
    signed checkpoint against it: what a full audit of the registry's own copy does."""
    checkpoints = {
        cp.size: cp for cp in session.scalars(sa.select(Checkpoint).order_by(Checkpoint.size))
    }
    frontier: list[tuple[int, bytes]] = []  # (level, hash) of the perfect subtrees, largest first
    size = 0

    def root() -> bytes:
        if not frontier:
            return EMPTY_ROOT
        value = frontier[-1][1]
        for _, left in reversed(frontier[:-1]):
            value = node_hash(left, value)
        return value

    def check(at: int) -> str | None:
        cp = checkpoints.get(at)
        if cp is None:
            return None
        if bytes(cp.root_hash) != root():
            return f"checkpoint {at} does not match the tree recomputed from the entries"
        origin = cp.note.split("\n", 1)[0]
        expected = sign_note(signer, origin, checkpoint_body(origin, at, root()))
        if cp.note != expected:
            return f"checkpoint {at}'s signed note is not the registry's"
        return None

    for index, entry, stored in walk(session):
        if index != size:
            return LogReport(False, size, len(checkpoints), f"entry {size} is missing")
        if leaf_hash(entry) != stored:
            return LogReport(False, size, len(checkpoints), f"entry {index} was altered")
        value, level = leaf_hash(entry), 0
        while frontier and frontier[-1][0] == level:
            value = node_hash(frontier.pop()[1], value)
            level += 1
        frontier.append((level, value))
        size += 1
        if (problem := check(size)) is not None:
            return LogReport(False, size, len(checkpoints), problem)
    if any(at > size for at in checkpoints):
        return LogReport(False, size, len(checkpoints), "a checkpoint covers missing entries")
    committed = log_size(session)
    if committed != size:
        return LogReport(False, size, len(checkpoints), f"the head says {committed} entries")
    return LogReport(True, size, len(checkpoints))
