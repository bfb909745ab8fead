"""Logging set-up, with a last line of defence for personal ID numbers.

The code never logs an ID number on purpose; the redacting filter makes sure that one slipped
into a message (say, inside a database error that quotes a parameter) is masked anyway.
"""

from __future__ import annotations

import logging
import re

# 17 digits and a digit or X, not inside a longer run of digits or letters.
ID_NUMBER_PATTERN = re.compile(r"(?<![0-9A-Za-z])(\d{4})\d{10}(\d{3}[0-9Xx])(?![0-9A-Za-z])")


def redact(text: str) -> str:
    """Mask everything that looks like a resident ID number, as ``1101**********002X``."""
    return ID_NUMBER_PATTERN.sub(lambda m: m.group(1) + "*" * 10 + m.group(2), text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, redacted, so the handler does not print the raw one.
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(formatted)
        return True


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(isinstance(h, _RegistryHandler) for h in root.handlers):
        handler = _RegistryHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    root.setLevel(level)
    # Alembic announces its context on every revision lookup (each /readyz); only its
    # warnings matter at run time. `creditreg db upgrade` reports what it did itself.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLevelName(level)))


class _RegistryHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler we installed, so repeated app creation does not stack handlers."""
