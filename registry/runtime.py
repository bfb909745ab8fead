"""The services a running registry shares: settings, clock, identity vault, evidence cipher,
password hasher.

Built once by ``create_app`` and kept in ``app.extensions``; domain functions receive what
they need from it as explicit arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from config import Settings
from registry.clock import Clock
from registry.receipts import RegistrySigner
from registry.security import EvidenceCipher, IdentityVault, Passwords

EXTENSION_KEY = "creditreg.runtime"


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    vault: IdentityVault
    passwords: Passwords
    signer: RegistrySigner
    evidence_cipher: EvidenceCipher

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> Runtime:
        return cls(
            settings=settings,
            clock=clock or Clock(),
            vault=IdentityVault(
                hash_key=settings.IDENTITY_HASH_KEY, encryption_key=settings.IDENTITY_ENCRYPTION_KEY
            ),
            signer=RegistrySigner(settings.REGISTRY_SIGNING_KEY),
            evidence_cipher=evidence_cipher(settings),
            passwords=Passwords(
                time_cost=settings.PASSWORD_HASH_TIME_COST,
                memory_kib=settings.PASSWORD_HASH_MEMORY_KIB,
                concurrency=settings.PASSWORD_HASH_CONCURRENCY,
                wait_seconds=settings.PASSWORD_HASH_WAIT_SECONDS,
            ),
        )

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION_KEY] = self


def evidence_cipher(settings: Settings) -> EvidenceCipher:
    return EvidenceCipher(
        key_id=settings.EVIDENCE_ENCRYPTION_KEY_ID,
        key=settings.EVIDENCE_ENCRYPTION_KEY,
        older_keys=settings.EVIDENCE_ENCRYPTION_OLD_KEYS,
    )


def current_runtime() -> Runtime:
    runtime: Runtime = current_app.extensions[EXTENSION_KEY]
    return runtime
