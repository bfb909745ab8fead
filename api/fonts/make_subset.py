"""Make ``WenQuanYiMicroHei-subset.ttf`` from WenQuanYi Micro Hei (文泉驿微米黑).

The credit report PDF embeds this font (api.report_pdf). The source is the regular face of
``wqy-microhei.ttc`` 0.2.0-beta, as Debian's ``fonts-wqy-microhei`` package installs it
(/usr/share/fonts/truetype/wqy/wqy-microhei.ttc). Its outlines are TrueType (glyf), which
reportlab embeds as subsets; the OpenType/CFF builds of Noto Sans CJK it cannot read.

The subset keeps every character of the face but the Korean syllables and jamo (a third of
its glyphs, no use in a Chinese registry): Latin with pinyin tones, punctuation, symbols, and
all 20,932 ideographs of the CJK Unified Ideographs block (GBK's hanzi and more), so a
rarely written character in a name still has its glyph. Hinting and layout tables go: the
PDF needs neither. Run with fontTools (a development dependency)::

    python api/fonts/make_subset.py /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

OUT = Path(__file__).resolve().parent / "WenQuanYiMicroHei-subset.ttf"
KOREAN = [(0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xAC00, 0xD7FF)]


def make(source: Path, out: Path = OUT) -> None:
    # The collection's proportional face, not the Mono; the date stays the source's.
    font = TTFont(source, fontNumber=0, recalcTimestamp=False)
    kept = [code for code in font.getBestCmap() if not any(lo <= code <= hi for lo, hi in KOREAN)]
    options = subset.Options()
    options.hinting = False
    options.layout_features = []
    options.glyph_names = False
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.drop_tables += ["FFTM"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=kept)
    subsetter.subset(font)
    font.save(out)
    print(f"{out}: {len(kept)} characters, {out.stat().st_size} bytes")


if __name__ == "__main__":
    make(Path(sys.argv[1]))
