"""A realistic generated dataset for demos and benchmarks, deterministic for a given seed.

Enterprises with valid USCCs and Chinese or English names (some renamed), persons with valid
resident ID numbers (stored only as hash, ciphertext and mask), shops on two marketplaces,
and credit records of every category and polarity from the members that would send them,
some corrected so their history shows. Everything goes through the domain operations, so
the demo has the same version history as real intake; its records and subjects, made
outside a signed submission, each have their own creation event (a submission's have its
one event: ``registry.provenance``).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.audit import Actor, ActorKind
from registry.clock import local_date
from registry.identifiers import USCC_ALPHABET, id_number_check_character, uscc_check_character
from registry.members import Member, MemberKind, MemberRole, add_member
from registry.records import Polarity, RecordCategory, Severity, upsert_record
from registry.runtime import Runtime
from registry.subjects import Subject, SubjectKind, register_subject, rename_subject

if TYPE_CHECKING:
    from registry.listings import ListPolicy

DEMO_ACTOR = Actor.system("demo")
# The reviewer the demo's history names for the ratings it publishes.
DEMO_REVIEWER = Actor(ActorKind.STAFF, "demo-reviewer-1")

# (GB/T 2260 code, city in Chinese, city in pinyin)
REGIONS = [
    ("110105", "北京", "Beijing"),
    ("110108", "北京", "Beijing"),
    ("310115", "上海", "Shanghai"),
    ("310104", "上海", "Shanghai"),
    ("440305", "深圳", "Shenzhen"),
    ("440106", "广州", "Guangzhou"),
    ("330106", "杭州", "Hangzhou"),
    ("320106", "南京", "Nanjing"),
    ("510107", "成都", "Chengdu"),
    ("420106", "武汉", "Wuhan"),
    ("350102", "福州", "Fuzhou"),
    ("120101", "天津", "Tianjin"),
    ("500103", "重庆", "Chongqing"),
    ("610113", "西安", "Xi'an"),
]
# GB/T 4754 industry code, Chinese trade word, English trade word
INDUSTRIES = [
    ("I65", "科技", "Technology"),
    ("I64", "网络科技", "Network Technology"),
    ("F51", "贸易", "Trading"),
    ("F52", "商贸", "Commerce"),
    ("C39", "电子", "Electronics"),
    ("C34", "机械制造", "Machinery"),
    ("E47", "建筑工程", "Construction"),
    ("K70", "房地产开发", "Real Estate"),
    ("L72", "企业管理咨询", "Management Consulting"),
    ("G54", "物流", "Logistics"),
    ("H62", "餐饮管理", "Catering Management"),
    ("M75", "生物科技", "Biotechnology"),
    ("C27", "医药", "Pharmaceutical"),
    ("A01", "农业发展", "Agricultural Development"),
]
TRADE_SYLLABLES = [
    ("华", "Hua"),
    ("信", "Xin"),
    ("达", "Da"),
    ("恒", "Heng"),
    ("盛", "Sheng"),
    ("瑞", "Rui"),
    ("通", "Tong"),
    ("宏", "Hong"),
    ("远", "Yuan"),
    ("鑫", "Xin"),
    ("泰", "Tai"),
    ("安", "An"),
    ("德", "De"),
    ("隆", "Long"),
    ("新", "Xin"),
    ("丰", "Feng"),
    ("嘉", "Jia"),
    ("锦", "Jin"),
    ("捷", "Jie"),
    ("融", "Rong"),
    ("智", "Zhi"),
    ("云", "Yun"),
    ("海", "Hai"),
    ("星", "Xing"),
    ("博", "Bo"),
    ("创", "Chuang"),
    ("明", "Ming"),
    ("和", "He"),
    ("誉", "Yu"),
    ("君", "Jun"),
]
LEGAL_FORMS = [
    ("有限公司", "Co., Ltd."),
    ("有限责任公司", "Co., Ltd."),
    ("股份有限公司", "Company Limited"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
SHOP_SUFFIXES = ["旗舰店", "专营店", "官方店", "小店", "数码店", "生活馆"]


@dataclass(frozen=True)
class DemoSpec:
    seed: int = 20151001
    enterprises: int = 3000
    persons_per_100_enterprises: int = 5
    shops_per_platform_per_100_enterprises: int = 10


@dataclass
class DemoSummary:
    loaded: bool
    counts: Counter[str] = field(default_factory=Counter)
    # The demo's members by their key below ("bank", "supplier", "market", ...), once loaded.
    members: dict[str, Member] = field(default_factory=dict)

    def describe(self) -> str:
        return ", ".join(f"{value} {key}" for key, value in sorted(self.counts.items()))


def make_uscc(rng: random.Random, region_code: str) -> str:
    """A valid USCC of a company registered with a market regulator (9 1 ...)."""
    organisation = "MA" + "".join(rng.choice(USCC_ALPHABET) for _ in range(7))
    first17 = "91" + region_code + organisation
    return first17 + uscc_check_character(first17)


def make_id_number(rng: random.Random, region_code: str, today: date) -> str:
    birth = date(1955, 1, 1) + timedelta(
        days=rng.randrange((today - date(1955, 1, 1)).days - 18 * 366)
    )
    first17 = f"{region_code}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + id_number_check_character(first17)


def _enterprise_name(rng: random.Random, city: str, city_en: str, english: bool) -> tuple[str, str]:
    syllables = rng.sample(TRADE_SYLLABLES, 2)
    code, trade_zh, trade_en = rng.choice(INDUSTRIES)
    form_zh, form_en = rng.choice(LEGAL_FORMS)
    if english:
        name = f"{city_en} {syllables[0][1]}{syllables[1][1].lower()} {trade_en} {form_en}"
    else:
        name = f"{city}{syllables[0][0]}{syllables[1][0]}{trade_zh}{form_zh}"
    return name, code


def _members(session: Session, rng: random.Random, now: datetime) -> dict[str, Member]:
    specs = [
        (
            "market",
            "北京市市场监督管理局",
            MemberKind.REGULATOR,
            [MemberRole.REGULATOR, MemberRole.SUBMITTER, MemberRole.QUERIER],
            "110000",
        ),
        (
            "tax",
            "国家税务总局上海市税务局",
            MemberKind.REGULATOR,
            [MemberRole.REGULATOR, MemberRole.SUBMITTER],
            "310000",
        ),
        (
            "court",
            "北京市朝阳区人民法院",
            MemberKind.REGULATOR,
            [MemberRole.REGULATOR, MemberRole.SUBMITTER],
            "110105",
        ),
        (
            "bank",
            "华夏示范银行股份有限公司",
            MemberKind.BANK,
            [MemberRole.SUBMITTER, MemberRole.QUERIER],
            "110108",
        ),
        (
            "lender",
            "深圳前海示范小额贷款有限公司",
            MemberKind.LENDER,
            [MemberRole.SUBMITTER, MemberRole.QUERIER],
            "440305",
        ),
        (
            "supplier",
            "上海示范供应链管理有限公司",
            MemberKind.ENTERPRISE,
            [MemberRole.SUBMITTER, MemberRole.QUERIER],
            "310115",
        ),
        (
            "agency",
            "示范信用评级有限公司",
            MemberKind.RATING_AGENCY,
            [MemberRole.SUBMITTER, MemberRole.QUERIER],
            "110105",
        ),
        (
            "taohuo",
            "淘货网络科技有限公司",
            MemberKind.MARKETPLACE,
            [MemberRole.PLATFORM, MemberRole.SUBMITTER, MemberRole.QUERIER],
            "330106",
        ),
        (
            "jingxuan",
            "京选电子商务有限公司",
            MemberKind.MARKETPLACE,
            [MemberRole.PLATFORM, MemberRole.SUBMITTER, MemberRole.QUERIER],
            "110105",
        ),
    ]
    members = {}
    for key, name, kind, roles, region in specs:
        members[key] = add_member(
            session,
            actor=DEMO_ACTOR,
            name=name,
            kind=kind,
            roles=[str(r) for r in roles],
            uscc=make_uscc(rng, region),
            now=now,
        )
    return members


def _days_ago(rng: random.Random, today: date, low: int, high: int) -> date:
    return today - timedelta(days=rng.randint(low, high))


def _money(rng: random.Random, low: int, high: int) -> dict[str, Any]:
    return {"amount_value": Decimal(rng.randint(low, high) * 100), "amount_currency": "CNY"}


def _record_fields(
    rng: random.Random, category: RecordCategory, polarity: Polarity, today: date, serial: int
) -> tuple[str, dict[str, Any]]:
    """The submitting member (by key) and the record's fields, as each category needs them."""
    year = today.year - rng.randint(0, 3)
    decided = _days_ago(rng, today, 20, 4 * 365)
    if category == RecordCategory.ADMINISTRATIVE_LICENCE:
        return "market", {
            "polarity": Polarity.NEUTRAL if polarity == Polarity.NEGATIVE else polarity,
            "authority": "北京市市场监督管理局",
            "decided_at": decided,
            "document_number": f"京市监许字〔{year}〕{serial}号",
            "legal_basis": "《中华人民共和国行政许可法》第三十八条",
            "summary": rng.choice(["食品经营许可", "工业产品生产许可", "医疗器械经营许可"]),
        }
    if category == RecordCategory.ADMINISTRATIVE_PENALTY:
        severity = rng.choice(list(Severity))
        return "market", {
            "polarity": Polarity.NEGATIVE,
            "severity": severity,
            "authority": "北京市市场监督管理局",
            "decided_at": decided,
            "ended_at": decided + timedelta(days=rng.randint(10, 60)),
            "document_number": f"京市监罚〔{year}〕{serial}号",
            "legal_basis": rng.choice(
                [
                    "《中华人民共和国产品质量法》第四十九条",
                    "《中华人民共和国广告法》第五十五条",
                    "《中华人民共和国食品安全法》第一百二十四条",
                ]
            ),
            "summary": rng.choice(["销售不合格产品", "发布虚假广告", "未按规定公示年度报告"]),
            **_money(rng, 20, 2000),
        }
    if category == RecordCategory.COURT_JUDGMENT:
        return "court", {
            "polarity": Polarity.NEGATIVE if polarity == Polarity.NEGATIVE else Polarity.NEUTRAL,
            "authority": "北京市朝阳区人民法院",
            "decided_at": decided,
            "document_number": f"（{year}）京0105民初{serial}号",
            "summary": rng.choice(["买卖合同纠纷", "借款合同纠纷", "劳动争议"]),
            **_money(rng, 50, 50000),
        }
    if category == RecordCategory.DISHONEST_DEBTOR:
        return "court", {
            "polarity": Polarity.NEGATIVE,
            "severity": Severity.SERIOUS,
            "authority": "北京市朝阳区人民法院",
            "decided_at": decided,
            "document_number": f"（{year}）京0105执{serial}号",
            "legal_basis": "《最高人民法院关于公布失信被执行人名单信息的若干规定》第一条",
            "summary": "有履行能力而拒不履行生效法律文书确定义务",
            **_money(rng, 100, 100000),
        }
    if category == RecordCategory.TAX_ARREARS:
        return "tax", {
            "polarity": Polarity.NEGATIVE,
            "severity": Severity.GENERAL,
            "authority": "国家税务总局上海市税务局",
            "occurred_at": decided,
            "document_number": f"沪税欠〔{year}〕{serial}号",
            "legal_basis": "《中华人民共和国税收征收管理法》第四十五条",
            **_money(rng, 10, 30000),
        }
    if category == RecordCategory.CONTRACT_PERFORMANCE:
        return "supplier", {
            "polarity": Polarity.NEGATIVE if polarity == Polarity.NEGATIVE else Polarity.POSITIVE,
            "authority": "上海示范供应链管理有限公司",
            "occurred_at": decided,
            "ended_at": decided + timedelta(days=rng.randint(30, 365)),
            "summary": "按期交付" if polarity != Polarity.NEGATIVE else "逾期交货且未赔偿",
            **_money(rng, 100, 20000),
        }
    if category == RecordCategory.PAYMENT_EXPERIENCE:
        late = polarity == Polarity.NEGATIVE
        days_past_due = rng.choice([15, 30, 60, 90, 120]) if late else 0
        due = decided
        return "supplier", {
            "polarity": Polarity.NEGATIVE if late else Polarity.POSITIVE,
            "authority": "上海示范供应链管理有限公司",
            "occurred_at": due,
            "ended_at": due + timedelta(days=days_past_due),
            "details": {"due_date": due.isoformat(), "days_past_due": days_past_due},
            **_money(rng, 10, 5000),
        }
    if category == RecordCategory.LOAN_DEFAULT:
        return "bank", {
            "polarity": Polarity.NEGATIVE,
            "severity": Severity.SERIOUS,
            "authority": "华夏示范银行股份有限公司",
            "occurred_at": decided,
            "details": {"days_past_due": rng.choice([90, 180, 360])},
            **_money(rng, 500, 200000),
        }
    if category == RecordCategory.HONOUR:
        return "market", {
            "polarity": Polarity.POSITIVE,
            "authority": "北京市市场监督管理局",
            "decided_at": decided,
            "summary": rng.choice(["守合同重信用企业", "纳税信用A级纳税人", "诚信经营示范单位"]),
        }
    if category == RecordCategory.CREDIT_COMMITMENT:
        return "market", {
            "polarity": Polarity.POSITIVE if polarity == Polarity.POSITIVE else Polarity.NEUTRAL,
            "authority": "北京市市场监督管理局",
            "decided_at": decided,
            "summary": "信用承诺书：依法诚信经营，承诺内容真实",
        }
    return "taohuo", {  # consumer complaint
        "polarity": Polarity.NEGATIVE,
        "severity": Severity.MINOR,
        "authority": "淘货网络科技有限公司",
        "occurred_at": decided,
        "summary": rng.choice(["商品与描述不符", "发货延迟", "售后服务未响应"]),
    }


def load_demo(
    session: Session,
    runtime: Runtime,
    spec: DemoSpec,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Load the dataset unless the registry already has members; flushes, never commits.
    ``progress`` hears what is being made, a line at a time (the dataset takes a while)."""
    say = progress or (lambda _line: None)
    if session.scalar(sa.select(sa.func.count()).select_from(Member)):
        counts: Counter[str] = Counter()
        for kind, count in session.execute(
            sa.select(Subject.kind, sa.func.count()).group_by(Subject.kind)
        ):
            counts[f"{kind} subjects"] = count
        return DemoSummary(loaded=False, counts=counts)

    rng = random.Random(spec.seed)  # noqa: S311 - reproducible demo data, not a secret
    now = runtime.clock.now()
    today = local_date(now)
    summary = DemoSummary(loaded=True)
    members = _members(session, rng, now)
    summary.members = members
    summary.counts["members"] = len(members)
    say(f"members: {len(members)}")

    subjects: list[Subject] = []
    for _ in range(spec.enterprises):
        region, city, city_en = rng.choice(REGIONS)
        name, industry = _enterprise_name(rng, city, city_en, english=rng.random() < 0.15)
        subject = register_subject(
            session,
            actor=DEMO_ACTOR,
            vault=runtime.vault,
            kind=SubjectKind.ENTERPRISE,
            name=name,
            uscc=make_uscc(rng, region),
            region_code=region,
            industry_code=industry,
            now=now,
        )
        if rng.random() < 0.05:
            new_name, _ = _enterprise_name(rng, city, city_en, english=False)
            rename_subject(session, actor=DEMO_ACTOR, subject=subject, new_name=new_name, now=now)
            summary.counts["renamed enterprises"] += 1
        subjects.append(subject)
        if len(subjects) % 500 == 0:
            say(f"enterprises: {len(subjects)} of {spec.enterprises}")
    summary.counts["enterprises"] = spec.enterprises

    for _ in range(max(1, spec.enterprises * spec.persons_per_100_enterprises // 100)):
        region, _city, _ = rng.choice(REGIONS)
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        subjects.append(
            register_subject(
                session,
                actor=DEMO_ACTOR,
                vault=runtime.vault,
                kind=SubjectKind.PERSON,
                name=name,
                id_number=make_id_number(rng, region, today),
                region_code=region,
                now=now,
            )
        )
        summary.counts["persons"] += 1

    enterprises = subjects[: spec.enterprises]
    shops_per_platform = max(
        1, spec.enterprises * spec.shops_per_platform_per_100_enterprises // 100
    )
    for platform_key, prefix in (("taohuo", "TH"), ("jingxuan", "JX")):
        for number in range(shops_per_platform):
            operator = rng.choice(enterprises)
            brand = (
                operator.name_normalised[2:4]
                if operator.name_normalised[:1] >= "\u4e00"
                else rng.choice(TRADE_SYLLABLES)[0] + rng.choice(TRADE_SYLLABLES)[0]
            )
            subjects.append(
                register_subject(
                    session,
                    actor=DEMO_ACTOR,
                    vault=runtime.vault,
                    kind=SubjectKind.SHOP,
                    name=brand + rng.choice(SHOP_SUFFIXES),
                    platform=members[platform_key],
                    shop_id=f"{prefix}{100000 + number * 7 + rng.randrange(7)}",
                    operator_uscc=operator.uscc,
                    region_code=operator.region_code,
                    now=now,
                )
            )
            summary.counts["shops"] += 1

    say(f"persons and shops: {summary.counts['persons'] + summary.counts['shops']}")
    _load_records(session, rng, members, subjects, now, summary)
    say(f"credit records: {summary.counts['records']}")
    _load_list_entries(session, rng, runtime, members, subjects, now, summary)
    entries = [f"{n} {kind}" for kind, n in sorted(summary.counts.items()) if "entries" in kind]
    say("list entries: " + ", ".join(entries))
    _rate(session, runtime, now, summary)
    say(
        f"ratings: {summary.counts['published ratings']} published, "
        f"{summary.counts['rating proposals to review']} to review"
    )
    return summary


# Proposals the demo leaves in the reviewers' queue: a queue to work, not one per enterprise.
RATING_PROPOSALS_LEFT = 6


def _rate(session: Session, runtime: Runtime, now: datetime, summary: DemoSummary) -> None:
    """Score every subject with something to rate, as the worker would, and have the demo's
    reviewers approve all the proposals but a handful, the oldest first."""
    from registry import ratings

    card = ratings.scorecard_from_settings(runtime.settings)
    while ratings.propose_due(session, now, scorecard=card, auto_approve_unchanged=False):
        pass
    proposals = ratings.queue(session)
    approved = proposals[: max(0, len(proposals) - RATING_PROPOSALS_LEFT)]
    for proposal in approved:
        ratings.approve(session, proposal, reviewer=DEMO_REVIEWER, at=now)
    summary.counts["published ratings"] = len(approved)
    summary.counts["rating proposals to review"] = len(proposals) - len(approved)


LISTINGS = {
    "serious_illegal": (
        "market",
        "提供虚假材料取得行政许可，情节严重",
        "《市场监督管理严重违法失信名单管理办法》第九条",
        ("bar_government_procurement", "restrict_tendering", "restrict_public_funds"),
    ),
    "judgment_debtor": (
        "court",
        "有履行能力而拒不履行生效法律文书确定的义务",
        "《最高人民法院关于公布失信被执行人名单信息的若干规定》第一条",
        ("restrict_high_consumption", "restrict_tendering", "bar_management_positions"),
    ),
    "abnormal": (
        "market",
        "未按规定期限公示年度报告",
        "《市场主体登记管理条例》第三十五条",
        ("key_supervision",),
    ),
    "redlist": (
        "tax",
        "连续三年纳税信用评价为A级",
        "《纳税信用管理办法》第三十条",
        ("approval_green_channel", "fewer_inspections"),
    ),
}
# Measures other authorities applied to published entries (joint sanctions at work): the
# market regulator refuses a judgment debtor's registration as a company's legal
# representative; the tax office inspects a seriously dishonest firm more often.
APPLIED_MEASURES = (
    ("judgment_debtor", "market", "bar_management_positions", "京市监登驳〔示范〕1号"),
    ("serious_illegal", "tax", "key_supervision", None),
)


def _load_list_entries(
    session: Session,
    rng: random.Random,
    runtime: Runtime,
    members: dict[str, Member],
    subjects: list[Subject],
    now: datetime,
    summary: DemoSummary,
) -> None:
    """A few entries on each list, proposed two months ago, their notices served by post
    two days later, and published now; one still in its notice stage, its notice waiting
    to be served (the console's queue of notices). Two demo reviewers approve them (four
    eyes)."""
    from registry.listings import (
        NoticeChannel,
        Role,
        policy_from_settings,
        propose_listing,
        publish_due,
        record_service,
        review,
    )
    from registry.notifications import Notices

    policy = policy_from_settings(runtime.settings)
    enterprises = [s for s in subjects if s.kind == SubjectKind.ENTERPRISE]
    chosen = rng.sample(enterprises, k=min(len(enterprises), 16))
    # The entry still in its notice stage is about a member itself, the supplier (its annual
    # report filed late), so that the tour can take it through to its repair, which only the
    # subject's own member may apply for (registry.demo_tour).
    supplier = members["supplier"]
    chosen[0] = register_subject(
        session,
        actor=DEMO_ACTOR,
        vault=runtime.vault,
        kind=SubjectKind.ENTERPRISE,
        name=supplier.name,
        uscc=supplier.uscc,
        region_code="310115",
        now=now,
    )
    proposed_at = now - timedelta(days=60)
    reviewers = [
        Actor(ActorKind.STAFF, "demo-reviewer-1"),
        Actor(ActorKind.STAFF, "demo-reviewer-2"),
    ]
    for index, subject in enumerate(chosen):
        # One in three on the redlist; the others on the public blacklist kinds in turn; the
        # supplier's own entry on the abnormal-operations list.
        blacklists = ("serious_illegal", "judgment_debtor", "abnormal")
        black = index - index // 3 - 1  # how many blacklist entries before this one
        list_kind = blacklists[black % len(blacklists)] if index % 3 else "redlist"
        if index == 0:
            list_kind = "abnormal"
        member_key, reason, basis, measures = LISTINGS[list_kind]
        member = members[member_key]
        at = now if index == 0 else proposed_at  # the first stays in its notice window
        entry = propose_listing(
            session,
            actor=Actor(ActorKind.MEMBER, str(member.id)),
            proposer_member_id=member.id,
            subject=subject,
            list_kind=list_kind,
            authority=member.name,
            reason=reason,
            legal_basis=basis,
            document_number=f"示范〔{now.year}〕{index + 1}号",
            measures=measures,
            period_months=None,
            notice_to=None,
            policy=policy,
            at=at,
        )
        for reviewer in reviewers[: policy.approvals.get(list_kind, 1)]:
            review(
                session,
                entry,
                reviewer=reviewer,
                approve=True,
                reason="事实清楚，依据充分",
                policy=policy,
                at=at,
                notifications=Notices(),
            )
        if index:
            served_at = at + timedelta(days=2)
            record_service(
                session,
                entry,
                actor=reviewers[0],
                role=Role.REVIEWER,
                channel=NoticeChannel.POST,
                served_on=local_date(served_at),
                reference=f"挂号信 XA{100000000 + index}CN",
                policy=policy,
                at=served_at,
            )
        summary.counts[f"{list_kind} entries"] += 1
    session.flush()
    publish_due(session, now)
    _report_applied_measures(session, members, policy, now, summary)


def _report_applied_measures(
    session: Session,
    members: dict[str, Member],
    policy: ListPolicy,
    now: datetime,
    summary: DemoSummary,
) -> None:
    from registry.listings import ListEntry, ListingState, report_measure

    for list_kind, member_key, code, reference in APPLIED_MEASURES:
        entry = session.scalars(
            sa.select(ListEntry)
            .where(ListEntry.list_kind == list_kind, ListEntry.state == ListingState.PUBLISHED)
            .order_by(ListEntry.document_number)
        ).first()
        if entry is None:
            continue
        member = members[member_key]
        report_measure(
            session,
            entry,
            actor=Actor(ActorKind.MEMBER, str(member.id)),
            member=member,
            code=code,
            applied_on=local_date(now),
            reference=reference,
            policy=policy,
            at=now,
        )
        summary.counts["measures applied"] += 1


def _load_records(
    session: Session,
    rng: random.Random,
    members: dict[str, Member],
    subjects: list[Subject],
    now: datetime,
    summary: DemoSummary,
) -> None:
    # Every (category, polarity) pair appears at least once, on the first subjects; after
    # that records are drawn at random, negative information being the rarer kind.
    pairs = [(c, p) for c in RecordCategory for p in Polarity]
    serial = 1000
    for index, subject in enumerate(subjects):
        draws = [pairs[index]] if index < len(pairs) else []
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4])):
            polarity = Polarity.NEGATIVE if rng.random() < 0.35 else Polarity.POSITIVE
            category = rng.choice(list(RecordCategory))
            if subject.kind == SubjectKind.SHOP and rng.random() < 0.5:
                category = RecordCategory.CONSUMER_COMPLAINT
            draws.append((category, polarity))
        for category, polarity in draws:
            serial += 1
            member_key, fields = _record_fields(rng, category, polarity, local_date(now), serial)
            if category == RecordCategory.CONSUMER_COMPLAINT and subject.kind == SubjectKind.SHOP:
                platform_key = (
                    "taohuo" if subject.platform_member_id == members["taohuo"].id else "jingxuan"
                )
                member_key = platform_key
                fields["authority"] = members[platform_key].name
            member = members[member_key]
            record, _ = upsert_record(
                session,
                actor=Actor.system(f"demo:{member_key}"),
                member=member,
                subject=subject,
                member_record_id=f"{member_key.upper()}-{serial}",
                fields={"category": category, **fields},
                now=now,
            )
            summary.counts["records"] += 1
            if rng.random() < 0.04 and record.summary:
                upsert_record(
                    session,
                    actor=Actor.system(f"demo:{member_key}"),
                    member=member,
                    subject=subject,
                    member_record_id=record.member_record_id,
                    fields={"summary": record.summary + "（已更正）"},
                    reason="更正笔误 / typo corrected",
                    now=now,
                )
                summary.counts["corrected records"] += 1
