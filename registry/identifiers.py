"""Identifiers of the field: USCC (GB 32100-2015), resident ID numbers (GB 11643-1999), shop ids.

Error messages never contain the identifier itself: a person's ID number is personal data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {ch: i for i, ch in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
USCC_AUTHORITIES = frozenset("123456789ANY")
# Codes issued in the pilot before the check character was fixed: accepted with a warning.
# The list is the PILOT_USCCS setting's (the app sets it at start, :func:`use_pilot_usccs`);
# this is its default.
DEFAULT_PILOT_USCCS = ("91350100M0001TGQXM",)
_pilot_usccs: list[frozenset[str]] = [frozenset(DEFAULT_PILOT_USCCS)]


def use_pilot_usccs(codes: Iterable[str]) -> None:
    """Make ``codes`` the known pilot codes (the app does at start, from PILOT_USCCS)."""
    _pilot_usccs[:] = [frozenset(normalize_uscc(code) for code in codes)]


_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_ID_CHECK = "10X98765432"


class IdentifierError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class UsccCheck:
    code: str
    warnings: tuple[str, ...]
    registration_authority: str
    entity_type: str
    region_code: str
    organisation_code: str


@dataclass(frozen=True)
class IdNumberCheck:
    number: str
    region_code: str
    birth_date: date
    sex: str


def normalize_uscc(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw)
    return re.sub(r"[\s\-]", "", text).upper()


def uscc_check_character(first17: str) -> str:
    total = sum(_USCC_VALUES[ch] * w for ch, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(raw: str, *, known_pilot_codes: Iterable[str] = ()) -> UsccCheck:
    """:raises IdentifierError: length, charset, authority, region or checksum."""
    code = normalize_uscc(raw)
    if len(code) != 18:
        raise IdentifierError("uscc.length", f"expected 18 characters, got {len(code)}")
    if any(ch not in _USCC_VALUES for ch in code):
        raise IdentifierError("uscc.charset", "contains a character outside the USCC alphabet")
    if code[0] not in USCC_AUTHORITIES:
        raise IdentifierError("uscc.authority", "unknown registration authority code")
    if not code[2:8].isdigit():
        raise IdentifierError("uscc.region", "region code must be six digits")
    warnings: tuple[str, ...] = ()
    if uscc_check_character(code[:17]) != code[17]:
        if code in _pilot_usccs[0] or code in {normalize_uscc(c) for c in known_pilot_codes}:
            warnings = ("uscc.pilot_checksum",)
        else:
            raise IdentifierError("uscc.checksum", "check character does not match")
    return UsccCheck(code, warnings, code[0], code[1], code[2:8], code[8:17])


def is_valid_uscc(raw: str) -> bool:
    try:
        validate_uscc(raw)
    except IdentifierError:
        return False
    return True


def normalize_id_number(raw: str) -> str:
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", raw)).upper()


def id_number_check_character(first17: str) -> str:
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def validate_id_number(raw: str, *, today: date | None = None) -> IdNumberCheck:
    """:raises IdentifierError: length, charset, region, birth date or checksum."""
    number = normalize_id_number(raw)
    if len(number) != 18:
        raise IdentifierError("id_number.length", f"expected 18 characters, got {len(number)}")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise IdentifierError("id_number.charset", "expected 17 digits and a digit or X")
    if number[0] == "0":
        raise IdentifierError("id_number.region", "region code cannot start with 0")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentifierError("id_number.birth_date", "birth date is not a real date") from None
    if birth < date(1900, 1, 1) or birth > (today or date.today()):
        raise IdentifierError("id_number.birth_date", "birth date out of range")
    if id_number_check_character(number[:17]) != number[17]:
        raise IdentifierError("id_number.checksum", "check character does not match")
    return IdNumberCheck(number, number[:6], birth, "male" if int(number[16]) % 2 else "female")


def mask_id_number(number: str) -> str:
    number = normalize_id_number(number)
    if len(number) != 18:
        raise IdentifierError("id_number.length", f"expected 18 characters, got {len(number)}")
    return number[:4] + "*" * 10 + number[14:]


# An ID number inside free text: as typed, or in its 6-8-4 groups apart by a space or a
# hyphen; any decimal digits (full-width ones too); not part of a longer run of digits,
# while letters next to it do not hide it ("PAY-11010519491231002X").
_ID_NUMBER_IN_TEXT = re.compile(r"(?<!\d)(\d{6})[ -]?(\d{8})[ -]?(\d{3}[\dXx\uff38\uff58])(?!\d)")

ID_NUMBER_IN_TEXT = (
    "holds a resident ID number, which the registry keeps only hashed and encrypted: "
    "leave it out of this text"
)


def _id_number_at(match: re.Match[str]) -> str | None:
    try:
        # Any birth date that exists: a number born "in the future" is still a number.
        return validate_id_number("".join(match.groups()), today=date.max).number
    except IdentifierError:
        return None


def contains_id_number(text: str) -> bool:
    """Whether free text holds a resident ID number that passes the GB 11643 checks."""
    return any(_id_number_at(match) for match in _ID_NUMBER_IN_TEXT.finditer(text))


def id_number_errors(**texts: str | None) -> dict[str, list[str]]:
    """Field errors for the texts that hold a resident ID number: what people type at the
    registry's counter (how they checked who asked, a person's grounds) is kept as typed, so
    a number in it would be kept in clear. The API's schemas refuse the same
    (api.schemas.StrictSchema); this is the check for what reaches the domain otherwise."""
    return {
        name: [ID_NUMBER_IN_TEXT]
        for name, text in texts.items()
        if text and contains_id_number(text)
    }


def mask_id_numbers(text: str) -> str:
    """The text with every resident ID number in it masked, as ``1101**********002X``."""

    def masked(match: re.Match[str]) -> str:
        number = _id_number_at(match)
        return mask_id_number(number) if number else match.group()

    return _ID_NUMBER_IN_TEXT.sub(masked, text)


def normalize_shop_id(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        raise IdentifierError("shop_id.empty", "a shop id is required")
    if len(text) > 128:
        raise IdentifierError("shop_id.length", "at most 128 characters")
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in text):
        raise IdentifierError("shop_id.charset", "no whitespace or control characters")
    return text
