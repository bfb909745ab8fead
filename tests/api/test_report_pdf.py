"""The credit report PDF: its font embedded with a glyph for every character it shows, the
content of the HTML report, and codes, dates and amounts in the reader's language.

The PDFs are read back as a reader would: pypdf parses them, the text each page draws is
decoded through the fonts' ToUnicode maps, and fontTools opens the embedded font files to
find the glyph behind every code drawn.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

import flask_babel
import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from pypdf.generic import ContentStream

from api import report_text
from api.report_pdf import render_pdf
from registry import list_kinds, listings, querylog, records, reports, subjects
from registry.records import upsert_record
from registry.scorecard import SCORECARD_DIR, load_scorecard
from tests import factories
from tests.api.test_reports import PURPOSE, company, querier, report  # noqa: F401 (fixtures)
from tests.factories import TEST_ACTOR

DIGEST = "5f0c" * 16
# Characters reportlab cannot draw from the font show as the .notdef box (glyph 0) or as
# an empty glyph; whitespace is drawn empty on purpose.
BLANK = {" ", "\u3000", "\xa0"}


@dataclass
class Drawn:
    """What a PDF draws: its text, the fonts it draws with, the fonts it names without
    embedding them (drawn or not), and the characters that came out as no glyph."""

    text: str = ""
    fonts: set[str] = field(default_factory=set)
    not_embedded: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)


def _to_unicode(cmap: str) -> dict[int, str]:
    mapping: dict[int, str] = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
        for code, uni in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(code, 16)] = bytes.fromhex(uni).decode("utf-16-be")
    for block in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.S):
        for lo, hi, start in re.findall(
            r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
        ):
            first = int(start, 16)
            for offset, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                mapping[code] = chr(first + offset)
    return mapping


class _Font:
    def __init__(self, font: dict) -> None:
        self.name = str(font["/BaseFont"])
        descriptor = font.get("/FontDescriptor")
        embedded = descriptor.get_object().get("/FontFile2") if descriptor else None
        to_unicode = font.get("/ToUnicode")
        self.unicode = (
            _to_unicode(to_unicode.get_object().get_data().decode("latin-1"))
            if to_unicode is not None
            else {code: chr(code) for code in range(256)}  # a standard font: WinAnsi, near enough
        )
        self.glyphs: dict[int, bool] = {}
        if embedded is not None:
            ttf = TTFont(io.BytesIO(embedded.get_object().get_data()))
            order = ttf.getGlyphOrder()
            glyf = ttf["glyf"]
            for table in ttf["cmap"].tables:
                for code, name in table.cmap.items():
                    glyph = glyf[name]
                    # A real glyph: not .notdef, and with an outline (contours or components).
                    self.glyphs[code] = order.index(name) != 0 and glyph.numberOfContours != 0


def _raw(value: object) -> bytes:
    # pypdf decodes a string it can read as text; the font's codes are its original bytes.
    if isinstance(value, bytes):
        return value
    return value.get_original_bytes()  # type: ignore[attr-defined]


def _strings(operands: list, operator: bytes) -> Iterator[bytes]:
    if operator == b"TJ":
        for item in operands[0]:
            if isinstance(item, bytes | str):
                yield _raw(item)
    elif operator in (b"Tj", b"'", b'"'):
        yield _raw(operands[-1])


def read(data: bytes) -> Drawn:
    """Everything the PDF ``data`` draws, decoded code by code through the font used."""
    reader = PdfReader(io.BytesIO(data))
    drawn = Drawn()
    parts: list[str] = []
    for page in reader.pages:
        fonts = page["/Resources"]["/Font"]
        for font in fonts.values():
            descriptor = font.get_object().get("/FontDescriptor")
            if descriptor is None or "/FontFile2" not in descriptor.get_object():
                drawn.not_embedded.add(str(font.get_object()["/BaseFont"]))
        parsed: dict[str, _Font] = {}
        key: str | None = None
        for operands, operator in ContentStream(page.get_contents(), reader).operations:
            if operator == b"Tf":
                key = str(operands[0])  # a page starts by choosing a font it may never use
                continue
            for raw in _strings(operands, operator):
                assert key is not None, "text drawn before any font was chosen"
                if key not in parsed:
                    parsed[key] = _Font(fonts[key].get_object())
                current = parsed[key]
                drawn.fonts.add(current.name)
                for code in raw:
                    char = current.unicode.get(code, "\ufffd")
                    parts.append(char)
                    if char not in BLANK and not current.glyphs.get(code, False):
                        drawn.missing.add(char)
            if operator in (b"ET", b"T*", b"Td", b"TD", b"Tm"):
                parts.append("\n")
    drawn.text = "".join(parts)
    return drawn


def _flat(text: str) -> str:
    # Table cells wrap their text over lines: compare without the breaks.
    return re.sub(r"\s+", "", text)


def strings_of(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_of(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_of(item)


# --- a report full of Chinese -------------------------------------------------------------

RECORD_ID = "8d1c2f1e-0000-4000-8000-000000000001"
ENTRY_ID = "8d1c2f1e-0000-4000-8000-000000000002"
# Text the report shows as it is, in Chinese, including rarer characters of names (堃, 喆,
# 珺, 燊 are outside GB2312) and full-width punctuation.
SHOWN_AS_IS = {
    "name": "深圳市堃喆珺燊贸易有限责任公司",
    "former_name": "深圳市华信电子商务有限公司",
    "authority": "深圳市市场监督管理局南山监管局",
    "document": "深市监南罚〔2026〕第0815号",
    "summary": "未按规定期限公示2025年度报告，经责令限期改正后仍未改正；罚款并通报批评。",
    "court": "广东省深圳市中级人民法院",
    "judgment": "（2025）粤03执恢字第1234号",
    "judgment_summary": "拒不履行生效判决确定的给付义务，法院依法纳入失信被执行人名单。",
    "reason": "有履行能力而拒不履行生效法律文书确定的义务",
    "legal_basis": "《最高人民法院关于公布失信被执行人名单信息的若干规定》第一条",
    "measure": "限制乘坐飞机、列车软卧等高消费行为",
    "measure_basis": "《关于对失信被执行人实施联合惩戒的合作备忘录》",
    "measures_text": "限制高消费；限制参与政府采购",
    "override": "复核认为处罚已整改完毕，维持原评分卡等级。",
    "pending_reason": "连续两年未报送年度报告且无法取得联系",
    "pending_basis": "《企业信息公示暂行条例》第十七条",
    "how_to_object": "请在异议期内通过会员账户或书面向登记机构提出异议（注明本条认定）。",
    "warning": "异议期截止日所在年度的法定节假日尚未公布，截止日按周末推算，请以公告为准。",
    "member": "招商银行股份有限公司深圳分行",
    "repair": "纠正失信行为、履行法定义务后，可自2027年3月1日起申请信用修复。",
}


def chinese_report() -> dict:
    """A subject's own report with every section filled, in the shape build_report gives."""
    s = SHOWN_AS_IS
    return {
        "report_id": "0b5e6c1a-7d7e-4d57-9a53-2f1f6a0d9c11",
        "kind": "own",
        "generated_at": "2026-11-25T08:00:00Z",
        "purpose": "subject_consent",
        "subject": {
            "id": "4c7a",
            "kind": "enterprise",
            "name": s["name"],
            "uscc": "91440300MA5FXXXX1Q",
            "id_number_masked": None,
            "shop_id": None,
            "platform_id": None,
            "operator_uscc": None,
            "region": "440305",
            "industry": "F51",
            "names": [
                {"name": s["former_name"], "valid_from": None, "valid_until": "2024-06-30"},
                {"name": s["name"], "valid_from": "2024-07-01", "valid_until": None},
            ],
        },
        "list_entries": [
            {
                "id": ENTRY_ID,
                "list": "judgment_debtor",
                "side": "blacklist",
                "authority": s["court"],
                "reason": s["reason"],
                "legal_basis": s["legal_basis"],
                "document_number": s["judgment"],
                "measures": [
                    {"code": "no-luxury", "text": s["measure"], "legal_basis": s["measure_basis"]}
                ],
                "measures_text": s["measures_text"],
                "published_at": "2026-03-01T02:00:00Z",
                "until": "2029-03-01T02:00:00Z",
                "how_to_object": "File an objection (异议) with the registry, naming this entry.",
                "how_to_repair": s["repair"],
                "disputed": True,
            }
        ],
        "rating": {
            "id": "r",
            "status": "published",
            "grade": "B",
            "model_grade": "C",
            "score": 48,
            "risk_band": "moderate",
            "scorecard": "2026-01",
            "overridden": True,
            "override_reason": s["override"],
            "published_at": "2026-10-01T01:00:00Z",
            "explanation": [
                {"kind": "base", "points": "60", "detail": "every rated subject starts here"},
                {
                    "kind": "record",
                    "record_id": RECORD_ID,
                    "rule": "penalty-general",
                    "points": "-7.50",
                },
                {
                    "kind": "list_entry",
                    "entry_id": ENTRY_ID,
                    "list": "judgment_debtor",
                    "points": "-5",
                },
                {"kind": "rounding", "points": "0.50"},
            ],
        },
        "rating_history": [],
        "records": [
            {
                "category": "administrative_penalty",
                "count": 1,
                "records": [
                    {
                        "id": RECORD_ID,
                        "category": "administrative_penalty",
                        "polarity": "negative",
                        "severity": "general",
                        "status": "active",
                        "decided_at": "2026-02-03",
                        "occurred_at": None,
                        "authority": s["authority"],
                        "document_number": s["document"],
                        "summary": s["summary"],
                        "amount": {"value": "1234567.8", "currency": "CNY"},
                        "publicity_due_on": "2026-02-12",
                        "publicity_late": True,
                        "disputed": True,
                    }
                ],
            },
            {
                "category": "dishonest_debtor",
                "count": 1,
                "records": [
                    {
                        "id": "8d1c2f1e-0000-4000-8000-000000000003",
                        "category": "dishonest_debtor",
                        "polarity": "negative",
                        "severity": "serious",
                        "status": "active",
                        "decided_at": "2025-12-31",
                        "authority": s["court"],
                        "document_number": s["judgment"],
                        "summary": s["judgment_summary"],
                        "amount": {"value": "98000", "currency": "CNY"},
                        "publicity_due_on": None,
                        "publicity_late": None,
                        "disputed": False,
                        "held_for_notice": True,
                    }
                ],
            },
        ],
        "seller_ratings": {
            "windows": {
                "90d": {"days": 90, "count": 3, "shown": False, "note": "fewer than 10"},
                "lifetime": {
                    "days": None,
                    "count": 1204,
                    "shown": True,
                    "positive_share": 0.9375,
                    "averages": {"overall": 4.62},
                },
            }
        },
        "list_history": [
            {
                "id": ENTRY_ID,
                "list": "abnormal",
                "state": "removed",
                "authority": s["authority"],
                "document_number": s["document"],
                "published_at": "2024-05-06T02:00:00Z",
                "removed_at": "2025-05-06T02:00:00Z",
                "removal_reason": "repaired",
            }
        ],
        "pending_list_entries": [
            {
                "id": "p",
                "list": "serious_illegal",
                "state": "notice",
                "authority": s["authority"],
                "reason": s["pending_reason"],
                "legal_basis": s["pending_basis"],
                "document_number": s["document"],
                "measures": [],
                "measures_text": s["measures_text"],
                "period_months": 36,
                "notice": {
                    "issued_at": "2026-11-20T03:00:00Z",
                    "served": True,
                    "channel": "post",
                    "served_on": "2026-11-23",
                    "objection_deadline": "2026-12-07",
                    "objection_deadline_warning": {"detail": s["warning"]},
                },
                "how_to_object": s["how_to_object"],
                "objections": [],
            }
        ],
        "queries": [
            {
                "member": s["member"],
                "at": "2026-11-24T06:30:00Z",
                "kind": "report",
                "purpose": "credit_assessment",
            }
        ],
    }


def test_the_font_is_embedded_and_draws_every_character_of_a_chinese_report():
    content = chinese_report()
    drawn = read(render_pdf(content, DIGEST))

    assert drawn.fonts and all("WenQuanYiMicroHei" in name for name in drawn.fonts)
    assert drawn.not_embedded == set()
    assert drawn.missing == set()
    # Everything the report holds in Chinese is drawn, and drawn with a glyph.
    flat = _flat(drawn.text)
    for key, value in SHOWN_AS_IS.items():
        assert _flat(value) in flat, key
    shown = {c for value in strings_of(SHOWN_AS_IS) for c in value if c not in BLANK}
    assert shown <= set(drawn.text) and not shown & drawn.missing


def test_a_character_the_font_lacks_is_caught():
    # Korean syllables are left out of the shipped subset: the check must see the box.
    content = chinese_report()
    content["subject"]["name"] += "한국"
    drawn = read(render_pdf(content, DIGEST))
    assert drawn.missing and "한국" not in drawn.text


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [
        (
            "zh_CN",
            [
                "¥1,234,567.80",
                "¥98,000.00",
                "2026年2月3日",
                "2026年11月25日16:00",  # 08:00 UTC in the registry's zone (Beijing)
                "负面",
                "一般",
                "严重",
                "有效",
                "本人查询",
                "信用评估",
                "邮寄送达",
                "已移出（信用修复）",
                "中等",
                "93.8%",
                "4.62",
                "1,204",
                "近90天",
            ],
            ["Negative", "credit_assessment", "administrative_penalty", "1234567.8"],
        ),
        (
            "en",
            [
                "CN¥1,234,567.80",
                "3Feb2026",
                "25Nov202616:00",
                "Negative",
                "Serious",
                "Creditassessment",
                "bypost",
                "Removed (repaired)",
                "moderate",
                "Last90days",
            ],
            ["负面", "credit_assessment", "2026-02-03"],
        ),
    ],
)
def test_codes_dates_and_amounts_read_in_the_readers_language(language, expected, absent):
    flat = _flat(read(render_pdf(chinese_report(), DIGEST, language=language)).text)
    for text in expected:
        assert _flat(text) in flat, text
    for text in absent:
        assert _flat(text) not in flat, text
    # The headings are in both languages whichever the reader's.
    assert _flat("行政处罚 / Administrative penalty") in flat
    assert _flat("失信被执行人名单 / Dishonest judgment debtors") in flat


def test_the_pdf_carries_what_the_html_report_carries():
    flat = _flat(read(render_pdf(chinese_report(), DIGEST)).text)
    s = SHOWN_AS_IS
    wanted = [
        DIGEST,
        "0b5e6c1a-7d7e-4d57-9a53-2f1f6a0d9c11",
        "91440300MA5FXXXX1Q",
        "广东省深圳市南山区 (440305) / F51",
        s["former_name"] + "(…–2024年6月30日)",
        # the list entry: disputed, its measures with their basis, its period and repair
        "有异议 · disputed",
        s["measure"] + "（" + s["measure_basis"] + "）",
        "2026年3月1日–2029年3月1日",
        s["repair"],
        # the rating, its override and explanation (a record line names its document)
        "B",
        "48 / 100",
        s["override"],
        "信用记录 · penalty-general",
        "-7.50",
        "名单 · 失信被执行人名单",
        # records: summaries, amounts and marks
        s["summary"],
        "逾期公示 late: due 2026年2月12日",
        "待告知，暂不共享 · held until you are told",
        # seller ratings, the notice stage, the history and who looked
        "店铺评价 / Seller ratings",
        s["measures_text"],
        "36 个月 / months from publication",
        "2026年12月7日（含 / inclusive）",
        s["warning"],
        s["how_to_object"],
        s["member"],
    ]
    for text in wanted:
        assert _flat(text) in flat, text
    # A rating line on a record or an entry names its document, not its id.
    assert RECORD_ID not in flat and ENTRY_ID not in flat


def test_every_code_of_the_report_has_its_words():
    groups = {
        "subject_kind": subjects.SubjectKind,
        "category": records.RecordCategory,
        "polarity": records.Polarity,
        "severity": records.Severity,
        "record_status": records.RecordStatus,
        "list": list_kinds.ListKind,
        "list_state": listings.ListingState,
        "removal_reason": listings.RemovalReason,
        "notice_channel": listings.NoticeChannel,
        "purpose": querylog.QueryPurpose,
        "query_kind": querylog.QueryKind,
        "report_kind": reports.ReportKind,
    }
    for group, enum in groups.items():
        assert issubclass(enum, StrEnum)
        for code in enum:
            zh, en = report_text.LABELS[group][code]
            assert re.search(r"[\u4e00-\u9fff]", zh), (group, code)
            assert en and not re.search(r"[\u4e00-\u9fff]", en), (group, code)
    for path in SCORECARD_DIR.glob("*.toml"):
        for band, _ in load_scorecard(path.stem).risk_bands:
            assert band in report_text.LABELS["risk_band"], (path.name, band)


def test_the_served_pdf_follows_the_readers_language(session, clock, querier, company):  # noqa: F811
    regulator = factories.member(session, kind="regulator", roles=("regulator", "submitter"))
    upsert_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        subject=company,
        member_record_id="P-2",
        fields={
            "category": "administrative_penalty",
            "polarity": "negative",
            "severity": "serious",
            "authority": "北京市市场监督管理局",
            "document_number": "京市监罚〔2026〕2号",
            "decided_at": clock.now().date(),
            "summary": "销售不合格产品，没收违法所得并处罚款。",
            "amount_value": Decimal("250000.5"),
            "amount_currency": "CNY",
        },
        now=clock.now(),
    )
    session.commit()
    location = report(querier, company).headers["Location"]
    chinese = read(querier.get(location + ".pdf").data)
    # The HTML rendering reads the same codes and amounts from the same table.
    page = querier.get(location + ".html").get_data(as_text=True)
    assert "行政处罚 / Administrative penalty" in page and "销售不合格产品" in page
    assert "¥250,000.50" in page and "<td>严重</td>" in page and "serious" not in page
    # The test's app context outlives its requests, and Flask-Babel keeps the first
    # request's language in it: forget it, as a new request in production starts without.
    flask_babel.refresh()
    english = read(
        querier.get(location + ".pdf", extra_headers={"Accept-Language": "en-GB,en;q=0.9"}).data
    )
    assert chinese.missing == english.missing == set() and not chinese.not_embedded
    for drawn in (chinese, english):
        flat = _flat(drawn.text)
        assert _flat("销售不合格产品，没收违法所得并处罚款。") in flat
        assert "京市监罚〔2026〕2号" in flat and "北京华信科技有限公司" in flat
    assert "¥250,000.50" in _flat(chinese.text) and "严重" in _flat(chinese.text)
    assert "CN¥250,000.50" in _flat(english.text) and "Serious" in _flat(english.text)
