"""Errors raised by domain operations.

Each carries a stable ``code`` that the API turns into a problem type and the CLI prints;
the domain itself knows nothing about HTTP status codes.
"""

from __future__ import annotations

from typing import Any


class Worded(str):
    """A text with values in it that a page can still put in its own language: the string is
    the English text, as the API answers it; ``template`` (%-style, a catalogue entry: the
    Makefile extracts ``Worded``'s first argument) and ``values`` let the console translate
    the template first and put the values in after. Make it before the exception that
    carries it: the extractor skips a call nested inside another extracted call."""

    template: str
    values: dict[str, object]

    def __new__(cls, template: str, **values: object) -> Worded:
        text = super().__new__(cls, template % values)
        text.template = template
        text.values = values
        return text

    def __getnewargs_ex__(self) -> tuple[tuple[str], dict[str, object]]:
        # A copy or an unpickled one is made from the template, not from the worded text.
        return (self.template,), self.values


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
