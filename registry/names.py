"""Name normalisation for matching (provisional)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import zhconv

# zhconv opens its bundled dictionary without closing it when loaded by its default name;
# loading it by path uses a context manager instead.
zhconv.loaddict(str(Path(zhconv.__file__).with_name("zhcdict.json")))

_LEGAL_FORMS = [
    ("股份有限公司", "joint_stock_company"),
    ("有限责任公司", "limited_company"),
    ("有限公司", "limited_company"),
]


@dataclass(frozen=True)
class NormalisedName:
    original: str
    normalised: str
    base: str
    legal_form: str | None


def normalize_text(raw: str) -> str:
    text = zhconv.convert(unicodedata.normalize("NFKC", raw), "zh-cn").casefold()
    return re.sub(r"\s+", " ", text).strip()


def normalize_name(raw: str) -> NormalisedName:
    normalised = normalize_text(raw or "")
    if not normalised:
        raise ValueError("empty name")
    for suffix, form in _LEGAL_FORMS:
        if normalised.endswith(suffix):
            return NormalisedName(raw, normalised, normalised[: -len(suffix)].strip(), form)
    return NormalisedName(raw, normalised, normalised, None)
