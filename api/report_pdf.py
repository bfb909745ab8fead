"""A credit report as a PDF, rendered from the stored report content.

It carries what the printable HTML (api/templates/report.html) carries, headings in Chinese
and English, codes, dates and amounts in the reader's language (api.report_text). The text
is set in WenQuanYi Micro Hei, shipped with the registry (api/fonts) and embedded: reportlab
writes only the glyphs the report uses, so the PDF prints alike on a machine with no Chinese
font.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from api import report_text as text
from api.report_text import DEFAULT_LANGUAGE
from registry.regions import region_label

FONT = "WenQuanYiMicroHei"
FONT_FILE = Path(__file__).resolve().parent / "fonts" / "WenQuanYiMicroHei-subset.ttf"
BODY = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12, wordWrap="CJK")
SMALL = ParagraphStyle("small", parent=BODY, fontSize=7.5, leading=10)
# A column header breaks between its Chinese and its English words, not inside a word.
HEADER = ParagraphStyle("header", parent=SMALL, wordWrap=None)
TITLE = ParagraphStyle("title", parent=BODY, fontSize=16, leading=20, spaceAfter=4)
HEADING = ParagraphStyle("heading", parent=BODY, fontSize=12, leading=16, spaceBefore=8)
SUBHEADING = ParagraphStyle("subheading", parent=BODY, fontSize=10, leading=14, spaceBefore=4)
WIDTH = 180  # mm between the margins of an A4 page

# The marks beside a record's or an entry's status, in both languages as the HTML has them.
DISPUTED = "有异议 · disputed"
HELD = "待告知，暂不共享 · held until you are told"


@functools.cache
def _font() -> str:
    # Read once per process (35,000 glyphs); each document embeds only the glyphs it uses.
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_FILE)))
    return FONT


def _p(value: Any, style: ParagraphStyle = BODY) -> Paragraph:
    # Paragraph reads a small markup language: everything from the report is escaped, and
    # only its line breaks become markup.
    return Paragraph(escape("" if value is None else str(value)).replace("\n", "<br/>"), style)


def _table(header: list[str], rows: list[list[Any]], widths: list[float]) -> Table:
    data = [[_p(h, HEADER) for h in header], *([_p(c, SMALL) for c in row] for row in rows)]
    table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),  # else Helvetica, named though unused
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _fields(rows: list[tuple[str, Any]]) -> Table:
    """A two-column table of labelled values, the rows with no value left out."""
    shown = [(name, value) for name, value in rows if value not in (None, "", [])]
    table = Table(
        [[_p(name, SMALL), _p(value, SMALL)] for name, value in shown],
        colWidths=[38 * mm, (WIDTH - 38) * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),  # else Helvetica, named though unused
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


class _Report:
    """The story of one report's PDF, in one reader's language."""

    def __init__(self, report: dict[str, Any], digest: str, language: str) -> None:
        self.report = report
        self.digest = digest
        self.language = text.language_of(language)
        self.story: list[Any] = []

    def label(self, group: str, code: str | None) -> str:
        return text.label(group, code, self.language)

    def paren(self, value: str) -> str:
        return f" ({value})" if self.language == "en" else f"（{value}）"

    def day(self, value: str | None) -> str:
        return text.day(value, self.language)

    def when(self, value: str | None) -> str:
        return text.when(value, self.language)

    def add(self, *flowables: Any) -> None:
        self.story.extend(flowables)

    def heading(self, title: str) -> None:
        self.add(_p(title, HEADING))

    def build(self) -> list[Any]:
        self.header()
        self.subject()
        self.list_entries()
        self.rating()
        self.records()
        self.seller_ratings()
        if self.report["kind"] == "own":
            self.pending_entries()
            self.list_history()
            self.queries()
        return self.story

    # --- sections, in the order of the HTML report -----------------------------------------

    def header(self) -> None:
        report = self.report
        self.add(
            _p("信用报告 / Credit report", TITLE),
            _fields(
                [
                    ("报告编号 / Report", report["report_id"]),
                    ("报告类型 / Kind", self.label("report_kind", report["kind"])),
                    ("生成时间 / Generated", self.when(report["generated_at"])),
                    ("查询目的 / Purpose", self.label("purpose", report["purpose"])),
                    ("内容摘要 / SHA-256 of the content", self.digest),
                ]
            ),
        )

    def subject(self) -> None:
        subject = self.report["subject"]
        names = [
            f"{n['name']} ({self.day(n.get('valid_from')) if n.get('valid_from') else '…'} – "
            f"{self.day(n.get('valid_until')) if n.get('valid_until') else '今 / now'})"
            for n in subject.get("names") or []
        ]
        self.heading("主体 / Subject")
        self.add(
            _fields(
                [
                    ("名称 / Name", subject["name"]),
                    ("类型 / Kind", self.label("subject_kind", subject["kind"])),
                    ("统一社会信用代码 / USCC", subject.get("uscc")),
                    ("身份证号 / ID number", subject.get("id_number_masked")),
                    ("店铺 / Shop", subject.get("shop_id")),
                    ("经营者 / Operator USCC", subject.get("operator_uscc")),
                    (
                        "地区 / 行业 / Region / industry",
                        f"{region_label(subject.get('region'))} / {subject.get('industry') or '–'}",
                    ),
                    ("名称记录 / Names", "\n".join(names) if names else None),
                ]
            )
        )

    def entry(self, title: str, rows: list[tuple[str, Any]]) -> None:
        """A list entry, published or in its notice stage, kept on one page."""
        self.add(KeepTogether([_p(title, SUBHEADING), _fields(rows), Spacer(1, 2 * mm)]))

    def entry_fields(self, e: dict[str, Any]) -> list[tuple[str, Any]]:
        return [
            ("认定机关 / Authority", e["authority"]),
            ("文书号 / Document", e["document_number"]),
            ("认定事由 / Reason", e.get("reason")),
            ("依据 / Legal basis", e.get("legal_basis")),
            ("惩戒措施 / Measures", self.measures(e)),
        ]

    def measures(self, entry: dict[str, Any]) -> str | None:
        measures = entry.get("measures") or []
        if not measures:
            return entry.get("measures_text") or None
        return "；".join(
            m["text"] + (f"（{m['legal_basis']}）" if m.get("legal_basis") else "")
            for m in measures
        )

    def list_entries(self) -> None:
        self.heading("名单 / List entries")
        entries = self.report["list_entries"]
        if not entries:
            self.add(_p("无 / None published."))
        for e in entries:
            published = f"{self.day(e['published_at'])} – {self.day(e['until'])}"
            self.entry(
                text.both("list", e["list"]) + (f" · {DISPUTED}" if e.get("disputed") else ""),
                [
                    *self.entry_fields(e),
                    ("公示期 / Published", published),
                    ("信用修复 / Repair", e.get("how_to_repair")),
                ],
            )

    def rating(self) -> None:
        self.heading("信用评级 / Rating")
        rating = self.report.get("rating")
        if not rating:
            self.add(_p("无已公布的评级 / No published rating."))
            return
        self.add(
            _fields(
                [
                    ("等级 / Grade", rating["grade"]),
                    ("评分卡等级 / Scorecard grade", rating["model_grade"]),
                    ("分数 / Score", f"{text.number(rating['score'], self.language)} / 100"),
                    ("风险 / Risk", self.label("risk_band", rating["risk_band"])),
                    ("评分卡 / Scorecard", rating["scorecard"]),
                    ("公布日期 / Published", self.day(rating.get("published_at"))),
                    (
                        "人工调整 / Overridden by reviewers",
                        rating.get("override_reason") if rating.get("overridden") else None,
                    ),
                ]
            ),
            Spacer(1, 2 * mm),
        )
        # A line on a record or an entry names it by its document, as the reader knows it.
        documents = {
            r["id"]: r.get("document_number") or r["id"]
            for group in self.report["records"]
            for r in group["records"]
        }
        documents.update(
            (e["id"], e.get("document_number") or e["id"]) for e in self.report["list_entries"]
        )
        rows = []
        for line in rating.get("explanation") or []:
            name = self.label("explanation", line["kind"])
            if line.get("rule"):
                name += f" · {line['rule']}"
            if line.get("list"):
                name += f" · {self.label('list', line['list'])}"
            detail = (
                line.get("detail")
                or documents.get(line.get("record_id") or line.get("entry_id") or "")
                or line.get("record_id")
                or line.get("entry_id")
                or ""
            )
            rows.append([name, line["points"], detail])
        self.add(_table(["项目 / Line", "分值 / Points", "说明 / Detail"], rows, [60, 20, 100]))

    def records(self) -> None:
        self.heading("信用记录 / Records")
        if not self.report["records"]:
            self.add(_p("无 / No records."))
        for group in self.report["records"]:
            self.add(
                _p(
                    text.both("category", group["category"])
                    + self.paren(text.number(group["count"], self.language)),
                    SUBHEADING,
                )
            )
            self.add(
                _table(
                    [
                        "日期 / Date",
                        "性质 / Polarity",
                        "程度 / Severity",
                        "机关或相对方 / Authority or counterparty",
                        "文书号 / Document",
                        "摘要 / Summary",
                        "金额 / Amount",
                        "状态 / Status",
                    ],
                    [self.record_row(r) for r in group["records"]],
                    [19, 15, 15, 24, 24, 35, 26, 22],
                ),
                Spacer(1, 3 * mm),
            )

    def record_row(self, r: dict[str, Any]) -> list[Any]:
        status = self.label("record_status", r["status"])
        if r.get("disputed"):
            status += f" · {DISPUTED}"
        if r.get("publicity_late"):
            status += f" · 逾期公示 late: due {self.day(r.get('publicity_due_on'))}"
        if r.get("held_for_notice"):
            status += f" · {HELD}"
        return [
            self.day(r.get("decided_at") or r.get("occurred_at")),
            self.label("polarity", r["polarity"]),
            self.label("severity", r.get("severity")),
            r.get("authority") or "–",
            r.get("document_number") or "–",
            r.get("summary") or "",
            text.amount(r.get("amount"), self.language),
            status,
        ]

    def seller_ratings(self) -> None:
        ratings = self.report.get("seller_ratings")
        if not ratings:
            return
        self.heading("店铺评价 / Seller ratings")
        rows = []
        for name, w in ratings["windows"].items():
            shown = w.get("shown")
            rows.append(
                [
                    self.label("seller_window", name),
                    text.number(w["count"], self.language),
                    text.share(w.get("positive_share"), self.language) if shown else "–",
                    text.number((w.get("averages") or {}).get("overall"), self.language)
                    if shown
                    else "–",
                ]
            )
        self.add(
            _table(
                ["期间 / Window", "评价数 / Count", "好评率 / Positive share", "平均分 / Average"],
                rows,
                [45, 45, 45, 45],
            )
        )

    def pending_entries(self) -> None:
        self.heading("告知中的名单认定 / Entries in their notice stage")
        pending = self.report.get("pending_list_entries") or []
        if not pending:
            self.add(_p("无 / None."))
        for e in pending:
            notice = e["notice"]
            if notice["served"]:
                served = ("，" if self.language == "zh_CN" else ", ").join(
                    [self.day(notice["served_on"]), self.label("notice_channel", notice["channel"])]
                )
                deadline = f"{self.day(notice['objection_deadline'])}（含 / inclusive）"
                warning = notice.get("objection_deadline_warning")
                if warning:
                    deadline += f" — {warning['detail']}"
            else:
                served, deadline = "尚未送达 / not served yet", None
            period = e.get("period_months")
            self.entry(
                text.both("list", e["list"]),
                [
                    *self.entry_fields(e),
                    (
                        "公示期限 / Period",
                        f"{period} 个月 / months from publication" if period else None,
                    ),
                    ("告知日期 / Notice issued", self.when(notice.get("issued_at"))),
                    ("送达 / Served", served),
                    ("异议截止 / Objections until", deadline),
                    ("如何异议 / How to object", e.get("how_to_object")),
                ],
            )

    def list_history(self) -> None:
        self.heading("名单历史 / List history")
        history = self.report.get("list_history") or []
        if not history:
            self.add(_p("从未列入名单 / Never on a list."))
            return
        self.add(
            _table(
                [
                    "名单 / List",
                    "状态 / State",
                    "认定机关 / Authority",
                    "文书号 / Document",
                    "公示 / Published",
                    "移出 / Removed",
                ],
                [
                    [
                        self.label("list", e["list"]),
                        self.label("list_state", e["state"])
                        + (
                            self.paren(self.label("removal_reason", e["removal_reason"]))
                            if e.get("removal_reason")
                            else ""
                        ),
                        e["authority"],
                        e.get("document_number") or "–",
                        self.day(e.get("published_at")),
                        self.day(e.get("removed_at")),
                    ]
                    for e in history
                ],
                [30, 28, 44, 34, 22, 22],
            )
        )

    def queries(self) -> None:
        self.heading("查询记录 / Who looked")
        queries = self.report.get("queries") or []
        if not queries:
            self.add(_p("无人查询 / Nobody has looked the subject up."))
            return
        self.add(
            _table(
                ["时间 / When", "会员 / Member", "目的 / Purpose", "方式 / How"],
                [
                    [
                        self.when(q["at"]),
                        q["member"],
                        self.label("purpose", q["purpose"]),
                        self.label("query_kind", q["kind"]),
                    ]
                    for q in queries
                ],
                [40, 70, 40, 30],
            )
        )


def render_pdf(report: dict[str, Any], digest: str, language: str = DEFAULT_LANGUAGE) -> bytes:
    """The stored ``report`` as an A4 PDF, its codes, dates and amounts in ``language``
    (``zh_CN`` or ``en``; headings are in both)."""
    font = _font()
    story = _Report(report, digest, language).build()

    def footer(canvas: Canvas, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.drawString(15 * mm, 8 * mm, f"信用报告 / Credit report {report['report_id']}")
        canvas.drawRightString(
            (15 + WIDTH) * mm, 8 * mm, f"第 {document.page} 页 / Page {document.page}"
        )
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Credit report {report['report_id']}",
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        initialFontName=font,  # no font in the file that is not embedded, even unused
    )
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
