"""Seed data and a signed-in browser-less client for the console and public page tests."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher

from registry import staff_auth
from registry.staff import add_staff_user
from registry.staff_auth import SignInFailures
from registry.subjects import register_subject
from tests.factories import TEST_ACTOR, member

PASSWORD = "a long enough password"
USCC = "91110000600037341L"
NAME = "北京华信科技有限公司"
PROPOSAL = {
    "uscc": USCC,
    "list": "blacklist",
    "authority": "北京市市场监督管理局",
    "reason": "提供虚假材料取得行政许可",
    "legal_basis": "《市场监督管理严重违法失信名单管理办法》第二条",
    "document_number": "京市监严〔2026〕1号",
    "measures": ["bar_government_procurement"],
    "notice_to": "legal@huaxin.example",
}


@dataclass
class Seeded:
    regulator_id: str
    other_regulator_id: str
    subject_id: str
    totp_secret: str


def seed(session, runtime, now) -> Seeded:
    """A regulator, an enterprise, and staff: ada (admin), alice (reviewer, with TOTP), bob
    (reviewer), carol (regulator staff), dave (staff of another regulator)."""
    regulator = member(session, kind="regulator", roles=("regulator",), name="北京市市场监督管理局")
    other = member(session, kind="regulator", roles=("regulator",), name="上海市市场监督管理局")
    subject = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        now=now,
        kind="enterprise",
        name=NAME,
        uscc=USCC,
    )
    users = {
        "ada": (["admin"], None),
        "alice": (["reviewer"], None),
        "bob": (["reviewer"], None),
        "carol": (["regulator"], regulator),
        "dave": (["regulator"], other),
    }
    made = {}
    for username, (roles, linked) in users.items():
        made[username] = add_staff_user(
            session,
            actor=TEST_ACTOR,
            passwords=runtime.passwords,
            username=username,
            password=PASSWORD,
            roles=roles,
            regulator_member=linked,
            now=now,
        )
    secret = staff_auth.enroll_totp(
        session, made["alice"], vault=runtime.vault, actor=TEST_ACTOR, now=now
    )
    session.commit()
    return Seeded(str(regulator.id), str(other.id), str(subject.id), secret)


def failures(session, vault, username: str, address: str = "127.0.0.1") -> int:
    """The failed sign-ins in a row counted for the username from the address."""
    row = session.scalar(
        sa.select(SignInFailures.failures).where(
            SignInFailures.username_key == staff_auth.username_key(vault, username),
            SignInFailures.address == address,
        )
    )
    return row or 0


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str = "/console/login") -> str:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client, username: str, password: str = PASSWORD, code: str = ""):
    token = csrf(client)
    return client.post(
        "/console/login",
        data={"username": username, "password": password, "code": code, "csrf_token": token},
    )


def post(client, path: str, form_page: str, **data):
    return client.post(path, data={**data, "csrf_token": csrf(client, form_page)})


class Argon2Checks:
    """Counts the process's Argon2id password checks while the block runs, and keeps the first
    ``held`` of them running (busy inside Argon2id) until the block ends."""

    def __init__(self, held: int = 0) -> None:
        self.held = held
        self.count = 0
        self._inside = threading.Semaphore(0)
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._verify = PasswordHasher.verify

    def _count(self) -> None:
        with self._lock:
            self.count += 1
            holding = self.count <= self.held
        if holding:
            self._inside.release()
            self._release.wait()

    def hold(self, passwords) -> None:
        """Start one check of ``passwords`` in a thread of its own; return once it is inside
        Argon2id."""
        stored = passwords.hash("a password being checked")
        thread = threading.Thread(target=passwords.verify, args=(stored, "a guess at it"))
        thread.start()
        self._threads.append(thread)
        assert self._inside.acquire(timeout=60), "the held check never started"

    def __enter__(self) -> Argon2Checks:
        verify = self._verify

        def counted(hasher, stored, password):
            self._count()
            return verify(hasher, stored, password)

        PasswordHasher.verify = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *_exc: object) -> None:
        self._release.set()
        for thread in self._threads:
            thread.join()
        PasswordHasher.verify = self._verify  # type: ignore[method-assign]
