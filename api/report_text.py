"""How a credit report reads: its codes as Chinese and English words, its dates and amounts
as a reader of either language writes them.

One table for both renderings of a stored report, the PDF (api.report_pdf) and the printable
HTML (api/templates/report.html). A code the table does not know (a risk band a new scorecard
names, say) is shown as it is, never dropped.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal, format_percent

from registry.clock import registry_timezone

LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"
# Babel's locale for each language: British English writes "13 Oct 2026", never 10/13.
_LOCALES = {"zh_CN": "zh_CN", "en": "en_GB"}

# group -> code -> (Chinese, English)
LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "report_kind": {
        "member": ("会员查询报告", "Member's report"),
        "own": ("本人信用报告", "The subject's own report"),
    },
    "subject_kind": {
        "enterprise": ("企业", "Enterprise"),
        "person": ("自然人", "Person"),
        "shop": ("网店", "Online shop"),
    },
    "member_kind": {
        "bank": ("银行", "Bank"),
        "lender": ("放贷机构", "Lender"),
        "marketplace": ("电商平台", "Marketplace"),
        "enterprise": ("企业", "Enterprise"),
        "rating_agency": ("信用评级机构", "Rating agency"),
        "regulator": ("监管部门", "Regulator"),
    },
    "category": {
        "administrative_licence": ("行政许可", "Administrative licence"),
        "administrative_penalty": ("行政处罚", "Administrative penalty"),
        "court_judgment": ("法院判决", "Court judgment"),
        "dishonest_debtor": ("失信被执行人", "Dishonest judgment debtor"),
        "tax_arrears": ("欠税", "Tax arrears"),
        "contract_performance": ("合同履约", "Contract performance"),
        "payment_experience": ("付款记录", "Payment experience"),
        "loan_default": ("贷款违约", "Loan default"),
        "honour": ("表彰荣誉", "Honour"),
        "credit_commitment": ("信用承诺", "Credit commitment"),
        "consumer_complaint": ("消费投诉", "Consumer complaint"),
    },
    "polarity": {
        "positive": ("正面", "Positive"),
        "negative": ("负面", "Negative"),
        "neutral": ("中性", "Neutral"),
    },
    "severity": {
        "minor": ("轻微", "Minor"),
        "general": ("一般", "General"),
        "serious": ("严重", "Serious"),
    },
    "record_status": {
        "active": ("有效", "Active"),
        "revoked": ("已撤销", "Revoked"),
    },
    "list": {
        "judgment_debtor": ("失信被执行人名单", "Dishonest judgment debtors"),
        "serious_illegal": ("严重违法失信名单", "Serious illegality and dishonesty"),
        "watch": ("重点关注名单", "Watch list"),
        "abnormal": ("经营异常名录", "Abnormal operations"),
        "redlist": ("守信激励名单", "Redlist"),
    },
    "list_state": {
        "proposed": ("已提议", "Proposed"),
        "under_review": ("审核中", "Under review"),
        "approved": ("已批准", "Approved"),
        "notice": ("告知中", "In notice"),
        "published": ("已公示", "Published"),
        "removed": ("已移出", "Removed"),
        "rejected": ("已驳回", "Rejected"),
        "withdrawn": ("已撤回", "Withdrawn"),
    },
    "removal_reason": {
        "expired": ("期满移出", "expired"),
        "repaired": ("信用修复", "repaired"),
        "revoked": ("撤销", "revoked"),
    },
    "notice_channel": {
        "member": ("会员账户送达", "through the member"),
        "post": ("邮寄送达", "by post"),
        "in_person": ("直接送达", "in person"),
        "announcement": ("公告送达", "by announcement"),
        "email": ("电子送达", "by e-mail"),
    },
    "purpose": {
        "credit_assessment": ("信用评估", "Credit assessment"),
        "counterparty_check": ("交易对手核查", "Counterparty check"),
        "compliance_screening": ("合规筛查", "Compliance screening"),
        "monitoring": ("持续监测", "Monitoring"),
        "subject_consent": ("本人查询", "The subject's own request"),
    },
    "query_kind": {
        "search": ("搜索", "Search"),
        "subject": ("主体查询", "Subject lookup"),
        "screening": ("批量筛查", "Screening"),
        "report": ("信用报告", "Credit report"),
    },
    "risk_band": {
        "very low": ("很低", "very low"),
        "low": ("低", "low"),
        "moderate": ("中等", "moderate"),
        "high": ("高", "high"),
        "very high": ("很高", "very high"),
    },
    "explanation": {
        "base": ("基础分", "Base"),
        "record": ("信用记录", "Record"),
        "list_entry": ("名单", "List entry"),
        "bounds": ("分数上下限", "Kept to 0-100"),
        "rounding": ("取整", "Rounding"),
        "grade_cap": ("等级上限", "Grade cap"),
        "band_cap": ("风险等级上限", "Risk band cap"),
    },
    "seller_window": {
        "lifetime": ("全部", "Lifetime"),
    },
}


def language_of(value: str | None) -> str:
    """One of :data:`LANGUAGES` for a locale name (``zh``, ``zh_Hans_CN``, ``en_US``…)."""
    return "en" if str(value or "").lower().startswith("en") else DEFAULT_LANGUAGE


def label(group: str, code: str | None, language: str = DEFAULT_LANGUAGE) -> str:
    """``code`` of ``group`` in ``language``; the code itself if the table lacks it."""
    if code is None:
        return "–"
    words = LABELS.get(group, {}).get(code)
    if words is None and group == "seller_window" and code.endswith("d"):
        days = code[:-1]
        words = (f"近{days}天", f"Last {days} days")
    if words is None:
        return code
    return words[1] if language_of(language) == "en" else words[0]


def _moment(value: str) -> date | datetime:
    if len(value) == 10:
        return date.fromisoformat(value)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(registry_timezone())


def day(value: str | None, language: str = DEFAULT_LANGUAGE) -> str:
    """An ISO date or timestamp from the report as a day (2026年10月13日, 13 Oct 2026), a
    timestamp's day being the registry's time zone's; ``–`` for none."""
    if not value:
        return "–"
    moment = _moment(value)
    return format_date(moment, "medium", locale=_LOCALES[language_of(language)])


def when(value: str | None, language: str = DEFAULT_LANGUAGE) -> str:
    """An ISO timestamp as a day and an hour in the registry's time zone."""
    if not value:
        return "–"
    moment = _moment(value)
    locale = _LOCALES[language_of(language)]
    if not isinstance(moment, datetime):
        return format_date(moment, "medium", locale=locale)
    on = format_date(moment, "medium", locale=locale)
    return f"{on} {format_time(moment, 'short', locale=locale)}"


def amount(value: dict[str, Any] | None, language: str = DEFAULT_LANGUAGE) -> str:
    """A record's amount (``{"value": "12345.6", "currency": "CNY"}``) as ¥12,345.60 or
    CN¥12,345.60; empty for none."""
    if not value:
        return ""
    try:
        number = Decimal(str(value["value"]))
    except (InvalidOperation, KeyError):
        return str(value.get("value", ""))
    currency = value.get("currency") or "CNY"
    return format_currency(number, currency, locale=_LOCALES[language_of(language)])


def number(value: Any, language: str = DEFAULT_LANGUAGE) -> str:
    """A count, share or score with the language's separators; ``–`` for none."""
    if value is None:
        return "–"
    return format_decimal(value, locale=_LOCALES[language_of(language)])


def share(value: Any, language: str = DEFAULT_LANGUAGE) -> str:
    """A fraction (0.9375) as a percentage (93.8%); ``–`` for none."""
    if value is None:
        return "–"
    return format_percent(value, "#,##0.0%", locale=_LOCALES[language_of(language)])


def both(group: str, code: str | None) -> str:
    """``code`` in both languages, as the report's headings are: 行政处罚 / Administrative
    penalty (the code alone if the table lacks it)."""
    zh, en = label(group, code, "zh_CN"), label(group, code, "en")
    return zh if zh == en else f"{zh} / {en}"
