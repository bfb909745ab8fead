"""The matching evaluation set: enterprise subjects and labelled screening queries.

Everything comes from one seed (the same seed gives the same set) and from data kept here
and in the registry: division names from ``config/regions.tsv`` (GB/T 2260), industry terms
from ``data/industries.tsv``, trade-name characters from ``data/trade_chars.txt``. Nothing is
downloaded.

A subject's name is built the way enterprise names are registered: administrative division +
trade name (字号, two to four characters) + industry term + legal form
(北京华信科技有限公司), some with the division in parentheses after the industry term
(华信科技（北京）有限公司), some branches of another subject (北京华信科技有限公司上海分公司),
some with a former name. A trade name is used with one industry term only, so that dropping
the division still names one company; it may recur with other industries.

Queries are what members send in a screening row (``name`` and/or ``uscc``), each labelled
with the subject it means (``expected``), or with None for the near-miss negatives: names
close to a real one that no subject bears (see :data:`KINDS` and :data:`NEGATIVE_KINDS`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import zhconv
from pypinyin import lazy_pinyin

from registry.demo import make_uscc
from registry.regions import REGIONS_FILE

DATA = Path(__file__).resolve().parent / "data"

# Query kinds whose right answer is a subject, in table order.
KINDS = (
    "exact",
    "traditional",
    "legal form swapped",
    "division dropped",
    "division into parentheses",
    "full-width and spaces",
    "messy identifier",
    "trade name char replaced",
    "trade name char inserted/dropped",
    "pinyin",
    "english",
    "former name",
)
# Kinds of query also made from branches (the others change what a branch name lacks).
BRANCH_KINDS = {
    "exact",
    "traditional",
    "full-width and spaces",
    "messy identifier",
    "trade name char replaced",
}
# Near misses: no subject bears the name; the right answer is "no such company".
NEGATIVE_KINDS = (
    "unused trade name 1 char away",
    "trade name in another division",
    "trade name in another industry",
)

# Legal forms of the names, with their weights and the forms a member may write instead.
FORMS = {
    "有限公司": (55, ("有限责任公司", "股份有限公司")),
    "有限责任公司": (25, ("有限公司",)),
    "股份有限公司": (15, ("有限公司",)),
    "合伙企业（有限合伙）": (5, ("有限公司",)),
}
ENGLISH_FORMS = {
    "有限公司": ("Co., Ltd.", "Company Limited", "Limited"),
    "有限责任公司": ("Co., Ltd.", "Company Limited", "Limited Liability Company"),
    "股份有限公司": ("Co., Ltd.", "Joint Stock Co., Ltd.", "Company Limited by Shares"),
    "合伙企业（有限合伙）": ("LP", "Limited Partnership"),
}
FORMER_SHARE = 0.05  # companies with a former name
BRANCH_SHARE = 0.05  # companies with a branch (分公司), itself a subject
PAREN_SHARE = 0.2  # names with the division in parentheses
# Companies whose trade name is one character away from an earlier company's in the same
# division and industry (苏州金瑞祥电子 beside 苏州金瑞电子): the near names a registry holds.
NEIGHBOUR_SHARE = 0.15
# Where companies crowd: these divisions are drawn this many times as often as the others,
# so that near names in one division are as common as they are in a big city.
CROWDED = {
    "北京": 12,
    "上海": 12,
    "深圳": 10,
    "广州": 8,
    "杭州": 6,
    "苏州": 6,
    "成都": 5,
    "重庆": 5,
    "武汉": 4,
    "南京": 4,
    "天津": 4,
    "西安": 3,
    "青岛": 3,
    "宁波": 3,
}


@dataclass(frozen=True)
class Division:
    name: str  # as written in names: 北京, 苏州, 江苏
    full: str  # as in the GB/T 2260 list: 北京市, 苏州市, 江苏省
    counties: tuple[str, ...]  # county-level codes under it, for region codes and USCCs


@dataclass(frozen=True)
class Industry:
    term: str
    english: str
    code: str


@dataclass(frozen=True)
class NameParts:
    """A registered name by its parts; :meth:`render` writes it."""

    division: str
    trade: str
    industry: str
    form: str
    parenthesised: bool = False  # 华信科技（北京）有限公司
    branch: str | None = None  # the branch's division: …上海分公司

    def render(self) -> str:
        if self.parenthesised:
            name = f"{self.trade}{self.industry}（{self.division}）{self.form}"
        else:
            name = f"{self.division}{self.trade}{self.industry}{self.form}"
        return f"{name}{self.branch}分公司" if self.branch else name


@dataclass(frozen=True)
class SubjectSpec:
    key: str  # S00001
    parts: NameParts
    uscc: str
    region_code: str
    industry_code: str
    former: NameParts | None = None

    @property
    def name(self) -> str:
        return self.parts.render()

    @property
    def former_name(self) -> str | None:
        return self.former.render() if self.former else None


@dataclass(frozen=True)
class Query:
    key: str  # Q00001
    kind: str
    row: dict[str, str]  # the screening row as a member sends it: name and/or uscc
    expected: str | None  # the subject's key; None: no such company

    @property
    def negative(self) -> bool:
        return self.expected is None


@dataclass
class EvaluationSet:
    seed: int
    subjects: list[SubjectSpec]
    queries: list[Query]
    by_key: dict[str, SubjectSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_key = {s.key: s for s in self.subjects}

    def fingerprint(self) -> list[tuple[Any, ...]]:
        """Everything that defines the set, to compare two generations."""
        return [(s.key, s.name, s.former_name, s.uscc, s.region_code) for s in self.subjects] + [
            (q.key, q.kind, tuple(sorted(q.row.items())), q.expected) for q in self.queries
        ]


# --- data -----------------------------------------------------------------------------------


def _data_lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def trade_chars() -> str:
    return "".join(
        dict.fromkeys("".join(line.strip() for line in _data_lines(DATA / "trade_chars.txt")))
    )


def industries() -> list[Industry]:
    rows = [line.split("\t") for line in _data_lines(DATA / "industries.tsv")]
    return [Industry(*row) for row in rows[1:]]


def divisions() -> list[Division]:
    """Prefecture-level cities, the four municipalities and the provinces of GB/T 2260, as
    names write them (苏州, 北京, 江苏), each with its county-level codes."""
    rows = [line.split("\t") for line in _data_lines(REGIONS_FILE)][1:]
    counties: dict[str, list[str]] = {}
    for code, _, _ in rows:
        if not code.endswith("00"):
            counties.setdefault(code[:4], []).append(code)
            counties.setdefault(code[:2], []).append(code)
    found: dict[str, Division] = {}
    for code, name, _ in rows:
        if code.endswith("0000"):
            if name.endswith(("市", "省")):  # a municipality or a province
                short, under = name[:-1], counties.get(code[:2])
            else:  # autonomous regions and the SARs: names write them in full or not at all
                continue
        elif code.endswith("00") and name.endswith("市") and len(name) >= 3:
            short, under = name[:-1], counties.get(code[:4])
        else:
            continue
        if under and short not in found:
            found[short] = Division(short, name, tuple(under))
    return list(found.values())


# --- subjects -------------------------------------------------------------------------------


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.chars = trade_chars()
        self.industries = industries()
        self.industry_by_term = {i.term: i for i in self.industries}
        self.divisions = divisions()
        self.division_by_name = {d.name: d for d in self.divisions}
        self.division_weights = [CROWDED.get(d.name, 1) for d in self.divisions]
        self.forms = list(FORMS)
        self.form_weights = [FORMS[f][0] for f in self.forms]
        self.trades: set[str] = set()  # every trade name some subject's name uses
        self.pairs: set[tuple[str, str]] = set()  # (trade name, industry term) in use
        self.trades_by_industry: dict[str, set[str]] = {}
        self.names: set[str] = set()  # every subject name, current and former
        self.usccs: set[str] = set()

    def trade(self) -> str:
        length = self.rng.choices((2, 3, 4), (60, 30, 10))[0]
        return "".join(self.rng.choice(self.chars) for _ in range(length))

    def new_parts(self, division: str | None = None, trade: str | None = None) -> NameParts:
        """Parts of a name no subject uses yet, its (trade name, industry) pair free."""
        while True:
            parts = NameParts(
                division=division
                or self.rng.choices(self.divisions, self.division_weights)[0].name,
                trade=trade or self.trade(),
                industry=self.rng.choice(self.industries).term,
                form=self.rng.choices(self.forms, self.form_weights)[0],
                parenthesised=self.rng.random() < PAREN_SHARE,
            )
            if (parts.trade, parts.industry) not in self.pairs and parts.render() not in self.names:
                return parts

    def claim(self, parts: NameParts) -> None:
        self.trades.add(parts.trade)
        self.pairs.add((parts.trade, parts.industry))
        self.trades_by_industry.setdefault(parts.industry, set()).add(parts.trade)
        self.names.add(parts.render())

    def edit(self, trade: str, change: str) -> str | None:
        """``trade`` with one character replaced, inserted or dropped (a trade name keeps two
        to four), that no subject's trade name is; None if the draws found none."""
        for _ in range(20):
            at = self.rng.randrange(len(trade))
            char = self.rng.choice(self.chars)
            if change == "replace":
                made = trade[:at] + char + trade[at + 1 :]
            elif change == "insert" and len(trade) < 4:
                at = self.rng.randrange(len(trade) + 1)
                made = trade[:at] + char + trade[at:]
            elif change == "drop" and len(trade) > 2:
                made = trade[:at] + trade[at + 1 :]
            else:
                return None
            if made != trade and made not in self.trades:
                return made
        return None

    def neighbour(self, of: NameParts) -> NameParts | None:
        """A new company in ``of``'s division and industry, its trade name one edit away."""
        trade = self.edit(of.trade, self.rng.choice(("replace", "insert", "drop")))
        if trade is None:
            return None
        parts = replace(
            of,
            trade=trade,
            form=self.rng.choices(self.forms, self.form_weights)[0],
            parenthesised=self.rng.random() < PAREN_SHARE,
        )
        return None if parts.render() in self.names else parts

    def identity(self, division: str) -> tuple[str, str]:
        """(region code, USCC) of a subject registered in ``division``."""
        region = self.rng.choice(self.division_by_name[division].counties)
        uscc = make_uscc(self.rng, region)
        while uscc in self.usccs:
            uscc = make_uscc(self.rng, region)
        self.usccs.add(uscc)
        return region, uscc

    def subjects(self, count: int) -> list[SubjectSpec]:
        made: list[SubjectSpec] = []
        companies: list[NameParts] = []
        while len(made) < count:
            parts = None
            if companies and self.rng.random() < NEIGHBOUR_SHARE:
                parts = self.neighbour(self.rng.choice(companies))
            parts = parts or self.new_parts()
            self.claim(parts)
            companies.append(parts)
            former = None
            if self.rng.random() < FORMER_SHARE:
                # Half renamed their trade name, half only their line of business.
                keep_trade = parts.trade if self.rng.random() < 0.5 else None
                former = self.new_parts(parts.division, keep_trade)
                self.claim(former)
            region, uscc = self.identity(parts.division)
            industry = self.industry_by_term[parts.industry].code
            made.append(SubjectSpec(f"S{len(made) + 1:05d}", parts, uscc, region, industry, former))
            if len(made) < count and self.rng.random() < BRANCH_SHARE:
                city = self.rng.choice([d for d in self.divisions if d.name != parts.division])
                branch = replace(parts, branch=city.name)
                self.names.add(branch.render())
                region, uscc = self.identity(city.name)
                made.append(SubjectSpec(f"S{len(made) + 1:05d}", branch, uscc, region, industry))
        return made


# --- queries --------------------------------------------------------------------------------


def _one_edit_apart(left: str, right: str) -> bool:
    """Whether one replacement, insertion or deletion turns ``left`` into ``right``."""
    if len(left) == len(right):
        return sum(a != b for a, b in zip(left, right, strict=True)) == 1
    short, long = sorted((left, right), key=len)
    if len(long) - len(short) != 1:
        return False
    return any(long[:at] + long[at + 1 :] == short for at in range(len(long)))


def _title(syllables: list[str]) -> str:
    return "".join(syllables).capitalize()


class _Queries:
    """Makers of each kind of query: a subject (drawn by the caller) in, a row out, or None
    when the kind does not apply to that subject."""

    def __init__(self, gen: _Generator, subjects: list[SubjectSpec]) -> None:
        self.gen = gen
        self.rng = gen.rng
        self.subjects = subjects
        self.companies = [s for s in subjects if s.parts.branch is None]
        self.with_former = [s for s in subjects if s.former is not None]
        # the branch divisions of each trade name (a "trade name in another division"
        # negative avoids them: the branch is a near answer of its own)
        self.branch_divisions: dict[str, set[str]] = {}
        for s in subjects:
            if s.parts.branch:
                self.branch_divisions.setdefault(s.parts.trade, set()).add(s.parts.branch)
        self.seen: set[str] = set()  # query names made so far, so none is asked twice

    def pool(self, kind: str) -> list[SubjectSpec]:
        """The subjects a kind of query is made from: branches only where their name keeps
        its shape (no division to drop or move, no legal form at the end)."""
        if kind == "former name":
            return self.with_former
        if kind in BRANCH_KINDS:
            return self.subjects
        return self.companies

    def make(self, kind: str, subject: SubjectSpec) -> dict[str, str] | None:
        maker: Callable[[SubjectSpec], str | dict[str, str] | None] = getattr(
            self, "_" + kind.replace(" ", "_").replace("-", "_").replace("/", "_")
        )
        made = maker(subject)
        if made is None:
            return None
        row = {"name": made} if isinstance(made, str) else made
        name = row.get("name")
        if name is not None:
            if name in self.seen:
                return None
            self.seen.add(name)
        return row

    # positives

    def _exact(self, s: SubjectSpec) -> str:
        return s.name

    def _traditional(self, s: SubjectSpec) -> str | None:
        converted = zhconv.convert(s.name, self.rng.choice(("zh-hant", "zh-tw", "zh-hk")))
        return converted if converted != s.name else None

    def _legal_form_swapped(self, s: SubjectSpec) -> str:
        return replace(s.parts, form=self.rng.choice(FORMS[s.parts.form][1])).render()

    def _division_dropped(self, s: SubjectSpec) -> str:
        return f"{s.parts.trade}{s.parts.industry}{s.parts.form}"

    def _division_into_parentheses(self, s: SubjectSpec) -> str | None:
        if s.parts.parenthesised:
            return None
        return replace(s.parts, parenthesised=True).render()

    def _full_width_and_spaces(self, s: SubjectSpec) -> str:
        text = s.name.replace("（", "(").replace("）", ")")
        chars = list(text)
        for _ in range(self.rng.randint(1, 3)):
            at = self.rng.randrange(1, len(chars))
            chars.insert(at, self.rng.choice((" ", "\u3000", "  ")))
        return self.rng.choice(("", " ", "\u3000")) + "".join(chars) + self.rng.choice(("", " "))

    def _messy_identifier(self, s: SubjectSpec) -> dict[str, str]:
        code = s.uscc
        style = self.rng.randrange(4)
        if style == 0:
            code = " ".join(code[i : i + 4] for i in range(0, 18, 4))
        elif style == 1:
            code = f"{code[:2]}-{code[2:8]}-{code[8:17]}-{code[17]}"
        elif style == 2:  # full-width, as a Chinese input method types it
            code = "".join(chr(ord(c) + 0xFEE0) for c in code)
        if self.rng.random() < 0.5:
            code = code.lower()
        code = self.rng.choice(("", " ")) + code + self.rng.choice(("", " ", "\t"))
        if self.rng.random() < 0.5:
            return {"uscc": code}
        # The name of another company: a clerk's copying slip. The code decides.
        other = self.rng.choice(self.subjects)
        return {"uscc": code, "name": other.name} if other is not s else {"uscc": code}

    def _typo(self, parts: NameParts, change: str) -> str | None:
        """The name with its trade name changed by one character, into one no subject has
        and no other trade name of its industry is one edit away from: the subject stays the
        one nearest answer."""
        typo = self.gen.edit(parts.trade, change)
        if typo is None:
            return None
        others = self.gen.trades_by_industry[parts.industry] - {parts.trade}
        if any(_one_edit_apart(typo, other) for other in others):
            return None
        return replace(parts, trade=typo).render()

    def _trade_name_char_replaced(self, s: SubjectSpec) -> str | None:
        return self._typo(s.parts, "replace")

    def _trade_name_char_inserted_dropped(self, s: SubjectSpec) -> str | None:
        return self._typo(s.parts, self.rng.choice(("insert", "drop")))

    def _pinyin(self, s: SubjectSpec) -> str:
        p = s.parts
        words = [_title(lazy_pinyin(part)) for part in (p.division, p.trade, p.industry)]
        if p.parenthesised:
            words = [words[1], words[2], f"({words[0]})"]
        if self.rng.random() < 0.5:
            words.append(" ".join(lazy_pinyin(p.form.replace("（", "").replace("）", ""))).title())
        text = " ".join(words)
        return text.lower() if self.rng.random() < 0.5 else text

    def _english(self, s: SubjectSpec) -> str:
        p = s.parts
        division, trade = _title(lazy_pinyin(p.division)), _title(lazy_pinyin(p.trade))
        industry = self.gen.industry_by_term[p.industry].english
        form = self.rng.choice(ENGLISH_FORMS[p.form])
        if p.parenthesised:
            return f"{trade} {industry} ({division}) {form}"
        return f"{division} {trade} {industry} {form}"

    def _former_name(self, s: SubjectSpec) -> str | None:
        return s.former_name

    # negatives: names no subject bears

    def _unused_trade_name_1_char_away(self, s: SubjectSpec) -> str | None:
        return self._trade_name_char_replaced(s)

    def _trade_name_in_another_division(self, s: SubjectSpec) -> str | None:
        taken = {s.parts.division} | self.branch_divisions.get(s.parts.trade, set())
        other = self.rng.choice(self.gen.divisions).name
        if other in taken:
            return None
        name = replace(s.parts, division=other).render()
        return None if name in self.gen.names else name

    def _trade_name_in_another_industry(self, s: SubjectSpec) -> str | None:
        current = s.parts.industry
        other = self.rng.choice(self.gen.industries).term
        # Another line of business: no shared character (科技 and 网络科技 are too near).
        if set(other) & set(current) or (s.parts.trade, other) in self.gen.pairs:
            return None
        name = replace(s.parts, industry=other).render()
        return None if name in self.gen.names else name


def _spread(total: int, kinds: tuple[str, ...]) -> list[tuple[str, int]]:
    share, extra = divmod(total, len(kinds))
    return [(kind, share + (1 if index < extra else 0)) for index, kind in enumerate(kinds)]


def generate(
    subjects: int = 5000, queries: int = 2400, negatives: int = 600, seed: int = 20240601
) -> EvaluationSet:
    """``subjects`` subjects; ``queries`` positive queries spread evenly over :data:`KINDS`
    and ``negatives`` over :data:`NEGATIVE_KINDS`."""
    gen = _Generator(seed)
    made = gen.subjects(subjects)
    makers = _Queries(gen, made)
    rows: list[Query] = []
    for kind, count in _spread(queries, KINDS) + _spread(negatives, NEGATIVE_KINDS):
        pool = makers.pool(kind)
        negative = kind in NEGATIVE_KINDS
        done = tries = 0
        while done < count and pool:
            tries += 1
            if tries > 50 * count + 100:
                raise ValueError(f"cannot make {count} queries of kind {kind!r} from this set")
            subject = gen.rng.choice(pool)
            row = makers.make(kind, subject)
            if row is None:
                continue
            expected = None if negative else subject.key
            rows.append(Query(f"Q{len(rows) + 1:05d}", kind, row, expected))
            done += 1
    return EvaluationSet(seed, made, rows)
