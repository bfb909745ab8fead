"""The services a running registry shares: settings, clock, identity vault, password hasher.

Built once by ``create_app`` and kept in ``app.extensions``; domain functions receive what
they need from it as explicit arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from config import Settings
from registry.clock import Clock
from registry.receipts import RegistrySigner
from registry.security import IdentityVault, Passwords

EXTENSION_KEY = "creditreg.runtime"


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    vault: IdentityVault
    passwords: Passwords
    signer: RegistrySigner

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> Runtime:
        return cls(
            settings=settings,
            clock=clock or Clock(),
            vault=IdentityVault(
                hash_key=settings.IDENTITY_HASH_KEY, encryption_key=settings.IDENTITY_ENCRYPTION_KEY
            ),
            signer=RegistrySigner(settings.REGISTRY_SIGNING_KEY),
            passwords=Passwords(
                time_cost=settings.PASSWORD_HASH_TIME_COST,
                memory_kib=settings.PASSWORD_HASH_MEMORY_KIB,
                concurrency=settings.PASSWORD_HASH_CONCURRENCY,
                wait_seconds=settings.PASSWORD_HASH_WAIT_SECONDS,
            ),
        )

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION_KEY] = self


def current_runtime() -> Runtime:
    runtime: Runtime = current_app.extensions[EXTENSION_KEY]
    return runtime
