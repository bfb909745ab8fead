"""What ``creditreg demo`` hands a newcomer, so that the registry can be tried at once.

* A console account for each staff role — an administrator, two reviewers (list entries
  need two approvals) and the market regulator's staff — each with a random password that
  is printed once and must be changed at the first sign-in.
* A key for each member the tour speaks as (a bank that looks counterparties up, an
  enterprise that is itself the subject of a list entry, the market regulator, a
  marketplace), written to ``VAR_DIR/demo-keys`` (owner-only) and registered.
* The steps to try, among them a list entry taken through its notice, service, objection
  window, publication and repair with ``creditreg demo advance``.

Made once, with the demo data; a registry that already has them is left as it is.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.orm import Session

from api.client import write_private_key
from registry.audit import Actor, ActorKind
from registry.clock import local_date
from registry.listings import ListEntry, ListingState
from registry.members import Member, add_key
from registry.runtime import Runtime
from registry.staff import StaffUser, add_staff_user
from registry.subjects import Subject, represented_by

TOUR_ACTOR = Actor(ActorKind.SYSTEM, "demo")
# (username, roles, the demo member a regulator account works for)
STAFF = [
    ("demo-admin", ["admin"], None),
    ("demo-reviewer", ["reviewer"], None),
    ("demo-reviewer-2", ["reviewer"], None),
    ("demo-regulator", ["regulator"], "market"),
]
# The members the tour speaks as, by their key in registry.demo's member list.
KEYS = ("bank", "supplier", "market", "taohuo")


@dataclass
class Tour:
    accounts: list[tuple[str, str, str]] = field(default_factory=list)  # username, roles, pw
    keys: dict[str, tuple[Member, Path]] = field(default_factory=dict)
    entry: ListEntry | None = None  # the supplier's own entry, in its notice stage


def prepare_tour(
    session: Session, runtime: Runtime, members: dict[str, Member], key_dir: Path
) -> Tour:
    """Make the staff accounts and member keys (flushes, never commits)."""
    tour = Tour()
    now = runtime.clock.now()
    if session.scalar(sa.select(StaffUser.id).where(StaffUser.username == STAFF[0][0])):
        return tour
    for username, roles, regulator in STAFF:
        password = secrets.token_urlsafe(12)
        add_staff_user(
            session,
            actor=TOUR_ACTOR,
            passwords=runtime.passwords,
            username=username,
            password=password,
            roles=roles,
            regulator_member=members[regulator] if regulator else None,
            password_change_required=True,
            now=now,
        )
        tour.accounts.append((username, ",".join(roles), password))
    key_dir.mkdir(parents=True, exist_ok=True)
    for name in KEYS:
        private = ed25519.Ed25519PrivateKey.generate()
        path = key_dir / f"{name}.key"
        # A key left from an earlier demo database is replaced with the one registered now.
        write_private_key(path, private, replace=True)
        public = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        add_key(session, actor=TOUR_ACTOR, member=members[name], public_key_pem=public.decode())
        tour.keys[name] = (members[name], path)
    tour.entry = session.scalar(
        sa.select(ListEntry)
        .join(Subject, Subject.id == ListEntry.subject_id)
        .where(ListEntry.state == ListingState.NOTICE, represented_by(members["supplier"]))
    )
    return tour


def instructions(tour: Tour, runtime: Runtime, url: str) -> str:
    """The text ``creditreg demo`` prints: how to sign in and what to try."""
    lines = [
        "",
        f"The registry is at {url}/ (public search), {url}/console/ (staff), {url}/api/docs (API).",
        "",
        "Staff accounts (the password is shown this once; each is changed at the first sign-in):",
    ]
    lines += [f"  {user:<16} {roles:<9} {password}" for user, roles, password in tour.accounts]
    if not tour.keys:
        return "\n".join(lines[:2])
    lines += ["", "Member keys (sign API requests with creditreg client request ... --key FILE):"]
    lines += [
        f"  {name:<9} {member.name}  {path}  (roles: {', '.join(sorted(member.roles))})"
        for name, (member, path) in tour.keys.items()
    ]
    bank = tour.keys["bank"][1]
    lines += [
        "",
        "Try:",
        f"  export CREDITREG_CLIENT_URL={url}",
        f'  creditreg client request GET "/api/v1/subjects?q=华信&purpose=counterparty_check" '
        f"--key {bank}",
    ]
    if tour.entry is not None:
        today = local_date(runtime.clock.now()).isoformat()
        entry, supplier = tour.entry.id, tour.keys["supplier"][1]
        market = tour.keys["market"][1]
        lines += [
            "",
            f"A list entry from notice to repair ({tour.entry.subject.name} on "
            f"{tour.entry.list_kind}, entry {entry}):",
            f"  creditreg listings serve {entry} --reviewer demo-reviewer --channel post "
            f"--served-on {today} --reference DEMO-1",
            "  creditreg demo advance --days 20     # past its objection window (10 working days)",
            "  creditreg listings run-due           # published (the demo's worker also does it)",
            f"  creditreg client request POST /api/v1/listings/{entry}/repairs --key {supplier} "
            '--data \'{"correction_evidence": "年度报告已补报", '
            '"credit_commitment": "本企业承诺按期公示年度报告"}\'',
            "  creditreg listings acknowledge-repair APPLICATION_ID --reviewer demo-reviewer",
            f"  creditreg client request POST /api/v1/repairs/APPLICATION_ID/decision "
            f'--key {market} --data \'{{"grant": true, "reason": "已纠正失信行为"}}\'',
            f"  creditreg listings show {entry}     # removed, with its history",
        ]
    return "\n".join(lines)
