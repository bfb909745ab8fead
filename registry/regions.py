"""Place names for the six-digit administrative division codes (GB/T 2260) that subjects
carry (``region_code``), from ``config/regions.tsv``: pages and reports show 北京市朝阳区,
not 110105."""

from __future__ import annotations

import functools
from pathlib import Path

from registry.config_files import read_table

REGIONS_FILE = Path(__file__).resolve().parent.parent / "config" / "regions.tsv"


@functools.cache
def _names() -> dict[str, str]:
    return {code: full_name for code, _name, full_name in read_table(REGIONS_FILE)}


def region_name(code: str | None) -> str | None:
    """The full name of the division ``code`` names (province, city and county), or of the
    nearest level above it that the list knows (a county code abolished since still names
    its city); None for no code, or a code the list does not know at any level."""
    if not code:
        return None
    names = _names()
    for known in (code, code[:4] + "00", code[:2] + "0000"):
        if known in names:
            return names[known]
    return None


def region_label(code: str | None) -> str:
    """The place name followed by its code, for pages: "北京市朝阳区 (110105)"; the code
    alone when the list does not know it."""
    if not code:
        return "–"
    name = region_name(code)
    return f"{name} ({code})" if name else code
