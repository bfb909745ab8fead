"""Errors raised by domain operations.

Each carries a stable ``code`` that the API turns into a problem type and the CLI prints;
the domain itself knows nothing about HTTP status codes.
"""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    code = "registry-error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFound(RegistryError):
    code = "not-found"


class Conflict(RegistryError):
    code = "conflict"


class InvalidInput(RegistryError):
    """Input that passed the schema but breaks a domain rule; ``errors`` maps field -> messages."""

    code = "invalid-input"

    def __init__(
        self, detail: str, errors: dict[str, list[str]] | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail, **extensions)
        self.errors = errors or {}


class Forbidden(RegistryError):
    code = "forbidden"
