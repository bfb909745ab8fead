"""Name normalisation: one form of a subject's name that every matcher compares.

Members send names as they find them: full-width letters from Chinese input methods,
Traditional characters from Hong Kong or Taiwan paperwork, stray spaces inside Chinese
names, and the legal form written a dozen ways (有限公司, 有限責任公司, Co., Ltd., Company
Limited...). Matching must not depend on any of that, so a name is reduced to:

- ``normalised``: NFKC (full-width to half-width, ideographic space to space), Traditional
  to Simplified, case-folded, whitespace collapsed, and no space next to a CJK character;
- ``base``: ``normalised`` without its legal-form suffix, the part that tells companies
  apart (腾讯科技(深圳) rather than 有限公司);
- ``legal_form``: which suffix was found, as a stable code, or None.

The search projection and the screening matcher both use these forms, so every backend
sees the same text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import zhconv

# zhconv opens its bundled dictionary without closing it when loaded by its default name;
# loading it by path uses a context manager instead.
zhconv.loaddict(str(Path(zhconv.__file__).with_name("zhcdict.json")))

# Han ideographs (basic, extension A, compatibility, supplementary planes) and CJK punctuation.
_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_SPACE_NEXT_TO_CJK = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")
_WHITESPACE = re.compile(r"\s+")

# Legal-form suffixes, matched on the normalised name. Longer forms come first so that
# 股份有限公司 is not read as 有限公司 and "co., ltd." not as "ltd.". The Chinese forms are
# those of the Company Law, the Partnership Enterprise Law and the Sole Proprietorship
# Enterprise Law; the English ones are what Chinese companies use on English paperwork.
_LEGAL_FORMS: tuple[tuple[str, str], ...] = (
    (r"股份有限公司", "joint_stock_company"),
    (r"有限责任公司", "limited_company"),
    (r"有限公司", "limited_company"),
    (r"(?:合伙企业)?\((?:普通|有限|特殊普通)合伙\)", "partnership"),
    (r"合伙企业", "partnership"),
    (r"个人独资企业", "sole_proprietorship"),
    (r"个体工商户", "individual_business"),
    # The Chinese forms in English and in pinyin, as members' English paperwork has them.
    (
        r"joint[\s-]+stock\s+(?:co|company)\.?\s*,?\s*(?:ltd|limited)\.?"
        r"|company\s+limited\s+by\s+shares|joint[\s-]+stock\s+company",
        "joint_stock_company",
    ),
    (r"limited\s+liability\s+company", "limited_company"),
    (r"(?:limited|general|special\s+general)\s+partnership|l\.?p\.?", "partnership"),
    (
        r"(?:he\s*huo\s*qi\s*ye\s*)?\(?(?:you\s*xian|pu\s*tong|te\s*shu\s*pu\s*tong)\s*he\s*huo\)?"
        r"|he\s*huo\s*qi\s*ye",
        "partnership",
    ),
    (r"gu\s*fen\s*you\s*xian\s*gong\s*si", "joint_stock_company"),
    (r"you\s*xian\s*(?:ze\s*ren\s*)?gong\s*si", "limited_company"),
    (r"(?:co|company)\.?\s*,?\s*(?:ltd|limited)\.?", "limited_company"),
    (r"limited|ltd\.?", "limited_company"),
    (r"gmbh", "limited_company"),
    (r"public limited company|plc\.?", "public_limited_company"),
    (r"l\.?l\.?c\.?", "limited_liability_company"),
    (r"incorporated|inc\.?", "corporation"),
    (r"corporation|corp\.?", "corporation"),
)
# An English form must stand as its own word ("Chemcorp" is not a corporation); a Chinese
# form follows the name directly.
_LEGAL_FORM_PATTERNS = tuple(
    (
        re.compile(
            rf"(?:{pattern})$"
            if re.search(f"[{_CJK}]", pattern)
            else rf"(?:^|(?<=[\s,]))(?:{pattern})$"
        ),
        form,
    )
    for pattern, form in _LEGAL_FORMS
)
_TRAILING_SEPARATORS = " ,.-&"


@dataclass(frozen=True)
class NormalisedName:
    original: str
    normalised: str
    base: str
    legal_form: str | None


def normalize_text(raw: str) -> str:
    """The comparable form of any free text: half-width, Simplified, case-folded, tidy spaces.

    Applying it twice gives the same result as once: case folding can produce characters
    that NFKC changes again, so the steps repeat until nothing moves (in practice once).
    """
    text = raw
    for _ in range(4):
        folded = unicodedata.normalize("NFKC", text)
        folded = zhconv.convert(folded, "zh-cn")
        folded = unicodedata.normalize("NFKC", folded.casefold())
        folded = _WHITESPACE.sub(" ", folded).strip()
        folded = _SPACE_NEXT_TO_CJK.sub("", folded)
        if folded == text:
            break
        text = folded
    return text


def split_legal_form(normalised: str) -> tuple[str, str | None]:
    """Split a normalised name into its base and legal-form code.

    A name that is nothing but a legal form keeps it as its base, so no name becomes empty.
    """
    for pattern, form in _LEGAL_FORM_PATTERNS:
        match = pattern.search(normalised)
        if match is None:
            continue
        base = normalised[: match.start()].rstrip(_TRAILING_SEPARATORS)
        if base:
            return base, form
    return normalised, None


@lru_cache(maxsize=65536)
def normalize_name(raw: str) -> NormalisedName:
    """:raises ValueError: the name is empty once normalised."""
    normalised = normalize_text(raw or "")
    if not normalised:
        raise ValueError("empty name")
    base, legal_form = split_legal_form(normalised)
    return NormalisedName(raw, normalised, base, legal_form)
