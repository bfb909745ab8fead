"""A credit report as a PDF, rendered from the stored report content.

The Chinese text is set in the Adobe CID font STSong-Light, which PDF readers supply for
Simplified Chinese: nothing is embedded and no font file ships with the registry.
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
BODY = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12, wordWrap="CJK")
SMALL = ParagraphStyle("small", parent=BODY, fontSize=7.5, leading=10)
TITLE = ParagraphStyle("title", parent=BODY, fontSize=16, leading=20, spaceAfter=4)
HEADING = ParagraphStyle("heading", parent=BODY, fontSize=12, leading=16, spaceBefore=8)


def _p(text: Any, style: ParagraphStyle = BODY) -> Paragraph:
    # Paragraph reads a small markup language: everything from the report is escaped.
    return Paragraph(escape("" if text is None else str(text)), style)


def _table(header: list[str], rows: list[list[Any]], widths: list[float]) -> Table:
    data = [[_p(h, SMALL) for h in header], *([_p(c, SMALL) for c in row] for row in rows)]
    table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def render_pdf(report: dict[str, Any], digest: str) -> bytes:
    subject = report["subject"]
    story: list[Any] = [
        _p("信用报告 / Credit report", TITLE),
        _p(
            f"Report {report['report_id']} · generated {report['generated_at']} · "
            f"purpose {report['purpose']} · SHA-256 {digest}",
            SMALL,
        ),
        _p("主体 / Subject", HEADING),
        _table(
            ["Name", "Kind", "Identifier", "Region / industry"],
            [
                [
                    subject["name"],
                    subject["kind"],
                    subject.get("uscc")
                    or subject.get("id_number_masked")
                    or subject.get("shop_id"),
                    f"{subject.get('region') or '–'} / {subject.get('industry') or '–'}",
                ]
            ],
            [60, 25, 55, 40],
        ),
        _p("名单 / List entries", HEADING),
    ]
    entries = report["list_entries"]
    story.append(
        _table(
            ["List", "Authority", "Document", "Since", "Until"],
            [
                [
                    e["list"] + (" · disputed" if e.get("disputed") else ""),
                    e["authority"],
                    e["document_number"],
                    e["published_at"],
                    e["until"],
                ]
                for e in entries
            ],
            [20, 50, 45, 32, 32],
        )
        if entries
        else _p("None published.")
    )
    story.append(_p("信用评级 / Rating", HEADING))
    rating = report.get("rating")
    if rating:
        story.append(
            _p(
                f"Grade {rating['grade']} (scorecard grade {rating['model_grade']}), score "
                f"{rating['score']}/100, risk {rating['risk_band']}, "
                f"scorecard {rating['scorecard']}"
            )
        )
        story.append(
            _table(
                ["Line", "Points", "Detail"],
                [
                    [
                        line["kind"] + (f" · {line['rule']}" if line.get("rule") else ""),
                        line["points"],
                        line.get("detail") or line.get("record_id") or line.get("entry_id") or "",
                    ]
                    for line in rating["explanation"]
                ],
                [55, 20, 105],
            )
        )
    else:
        story.append(_p("No published rating."))
    story.append(_p("信用记录 / Records", HEADING))
    if not report["records"]:
        story.append(_p("No records."))
    for group in report["records"]:
        story.append(_p(f"{group['category']} ({group['count']})"))
        story.append(
            _table(
                ["Date", "Polarity", "Severity", "Authority", "Document", "Status"],
                [
                    [
                        r.get("decided_at") or r.get("occurred_at"),
                        r["polarity"],
                        r.get("severity") or "–",
                        r.get("authority") or "–",
                        r.get("document_number") or "–",
                        r["status"]
                        + (" · disputed" if r.get("disputed") else "")
                        + (
                            f" · late, due {r['publicity_due_on']}"
                            if r.get("publicity_late")
                            else ""
                        )
                        + (" · held until you are told" if r.get("held_for_notice") else ""),
                    ]
                    for r in group["records"]
                ],
                [22, 20, 20, 50, 40, 28],
            )
        )
        story.append(Spacer(1, 3 * mm))
    if report["kind"] == "own":
        story.append(_p("告知中的名单认定 / Entries in their notice stage", HEADING))
        pending = report.get("pending_list_entries") or []
        if not pending:
            story.append(_p("None."))
        for e in pending:
            notice = e["notice"]
            served = (
                f"served {notice['served_on']} ({notice['channel']}); objections until "
                f"{notice['objection_deadline']} inclusive"
                if notice["served"]
                else "not served yet"
            )
            story.append(_p(f"{e['list']} · {e['authority']} · {e['document_number']}"))
            story.append(_p(f"{e['reason']} — {e['legal_basis']}"))
            story.append(_p(f"Notice issued {notice['issued_at']}; {served}."))
            if notice.get("objection_deadline_warning"):
                story.append(_p(notice["objection_deadline_warning"]["detail"]))
            story.append(_p(e["how_to_object"]))
            story.append(Spacer(1, 2 * mm))
        story.append(_p("名单历史 / List history", HEADING))
        history = report.get("list_history") or []
        story.append(
            _table(
                ["List", "State", "Authority", "Published", "Removed"],
                [
                    [
                        e["list"],
                        e["state"]
                        + (f" ({e['removal_reason']})" if e.get("removal_reason") else ""),
                        e["authority"],
                        e.get("published_at") or "–",
                        e.get("removed_at") or "–",
                    ]
                    for e in history
                ],
                [20, 35, 55, 35, 35],
            )
            if history
            else _p("Never on a list.")
        )
        story.append(_p("查询记录 / Who looked", HEADING))
        queries = report.get("queries") or []
        story.append(
            _table(
                ["When", "Member", "Purpose", "How"],
                [[q["at"], q["member"], q["purpose"], q["kind"]] for q in queries],
                [45, 60, 45, 30],
            )
            if queries
            else _p("Nobody has looked the subject up.")
        )
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Credit report {report['report_id']}",
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
    )
    document.build(story)
    return buffer.getvalue()
