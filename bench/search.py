"""Subject lookup and batch screening at registry scale, on the SQL search backend.

    .venv/bin/python bench/search.py [--subjects 100000] [--seed 20151001]
                                     [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                                     [--database-url URL] [--lookups 300]
                                     [--screening-rows 10000] [--api-screening-rows N]
                                     [--server-threads 4] [--profile]

Without ``--database-url`` it creates the scratch database ``creditreg_bench_search``
(dropped first if it exists) through ``--admin-url``. ``--database-url`` takes a SQLite URL
(the file is deleted first) or a PostgreSQL database you can wipe (its name must contain
"bench" or "test"). The steps, in this order:

1. Load: ``--subjects`` enterprises generated from ``--seed`` (the same seed gives the same
   data): Chinese names made of a region prefix, a two- to four-character trade name, an
   industry word and a legal form (北京华信科技有限公司, some 华信科技（北京）有限公司 or
   without region), about 7 % English names (ABC Trading Co., Ltd.), 3 % with a former
   name, valid USCCs (``registry.demo.make_uscc``), region and industry codes. The rows go
   into ``subjects``, ``subject_names`` and ``search_outbox`` with SQLAlchemy Core
   ``executemany`` (the domain functions would take hours for a million), 5,000 subjects a
   transaction. Then VACUUM ANALYZE and CHECKPOINT (see ``maintain``).
2. Indexing: ``search.sync.drain_once`` in a loop on one session, committing each batch,
   until the outbox is empty. Documents/s. Then VACUUM ANALYZE and CHECKPOINT again.
3. Lookups: ``--lookups`` queries drawn from the loaded names: two-character fragments,
   full names, pinyin initials and USCCs. Each is timed (a) on the bare backend,
   ``SqlBackend.search`` called in this process with the query the API builds (enterprises
   and shops, 20 hits, facets), and (b) as a signed
   ``GET /api/v1/subjects?q=...&purpose=counterparty_check`` to ``creditreg serve``
   (started on a free port with the rate limit lifted) over one keep-alive connection;
   signing happens before the clock starts. The two runs of a query follow each other, the
   order alternating from query to query, so both find the database equally warm. p50 and
   p99 of both, and their ratio (goal: API at most 2x bare). For reference: unsigned
   ``GET /healthz`` and signed ``GET /api/v1/subjects/{id}`` on the same connection.
4. Screening: ``--screening-rows`` rows (35 % exact current names, 10 % the name in
   Traditional characters, 10 % with another legal form, 10 % USCC alone, 10 % USCC and
   name, 25 % plausible names that exist nowhere; a third of the name rows carry a region)
   screened (a) in this process with ``search.screening.screen`` over ``backend_search``
   and (b) as one signed synchronous ``POST /api/v1/screening`` (the server runs with
   CREDITREG_SCREENING_SYNC_MAX_ROWS raised to the row count). Rows/s and seconds (goal:
   10,000 rows in under 60 s against 100,000 subjects).

``--profile`` adds cProfile listings: the bare lookups, the first 500 screening rows in
process, and the lookups through the Flask app in process (the API path minus HTTP).
Progress goes to stderr; the figures are printed as a markdown table at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import pstats
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import sqlalchemy as sa
import zhconv
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    Connection,
    admit_member,
    free_port,
    recreate_databases,
    start_server,
    wipe_database,
)

from api.client import RequestSigner  # noqa: E402
from registry import migrate  # noqa: E402
from registry.app import create_app  # noqa: E402
from registry.db import db, make_engine  # noqa: E402
from registry.demo import make_uscc  # noqa: E402
from registry.names import normalize_name  # noqa: E402
from registry.outbox import SearchOutbox  # noqa: E402
from registry.subjects import Subject, SubjectName  # noqa: E402
from search.query import SearchQuery  # noqa: E402
from search.screening import (  # noqa: E402
    ScreeningRow,
    Thresholds,
    backend_search,
    normalise_row,
    screen,
    summary,
)
from search.sql import SqlBackend  # noqa: E402
from search.sync import BATCH_SIZE, drain_once  # noqa: E402
from search.text import pinyin_forms  # noqa: E402

BENCH_DB = "creditreg_bench_search"
CHUNK = 5000
KINDS = ("enterprise", "shop")  # what the API searches when no kind is given
PURPOSE = "counterparty_check"

# (GB/T 2260 district code, city as a name prefix, city in English)
REGIONS = [
    ("110105", "北京", "Beijing"),
    ("110108", "北京", "Beijing"),
    ("310115", "上海", "Shanghai"),
    ("310104", "上海", "Shanghai"),
    ("120101", "天津", "Tianjin"),
    ("500103", "重庆", "Chongqing"),
    ("440305", "深圳", "Shenzhen"),
    ("440106", "广州", "Guangzhou"),
    ("330106", "杭州", "Hangzhou"),
    ("330212", "宁波", "Ningbo"),
    ("320106", "南京", "Nanjing"),
    ("320505", "苏州", "Suzhou"),
    ("320214", "无锡", "Wuxi"),
    ("510107", "成都", "Chengdu"),
    ("420106", "武汉", "Wuhan"),
    ("430104", "长沙", "Changsha"),
    ("410105", "郑州", "Zhengzhou"),
    ("610113", "西安", "Xi'an"),
    ("370202", "青岛", "Qingdao"),
    ("370102", "济南", "Jinan"),
    ("350203", "厦门", "Xiamen"),
    ("350102", "福州", "Fuzhou"),
    ("340104", "合肥", "Hefei"),
    ("210102", "沈阳", "Shenyang"),
    ("210202", "大连", "Dalian"),
    ("530102", "昆明", "Kunming"),
    ("441900", "东莞", "Dongguan"),
    ("440604", "佛山", "Foshan"),
    ("130102", "石家庄", "Shijiazhuang"),
    ("230102", "哈尔滨", "Harbin"),
    ("220102", "长春", "Changchun"),
    ("360102", "南昌", "Nanchang"),
    ("520102", "贵阳", "Guiyang"),
    ("450103", "南宁", "Nanning"),
    ("140105", "太原", "Taiyuan"),
    ("620102", "兰州", "Lanzhou"),
    ("650102", "乌鲁木齐", "Urumqi"),
    ("460108", "海口", "Haikou"),
]
# (GB/T 4754 code, industry word, in English)
INDUSTRIES = [
    ("I65", "科技", "Technology"),
    ("I64", "网络科技", "Network Technology"),
    ("I65", "信息技术", "Information Technology"),
    ("I65", "软件", "Software"),
    ("F51", "贸易", "Trading"),
    ("F52", "商贸", "Commerce"),
    ("F51", "进出口", "Import and Export"),
    ("C39", "电子", "Electronics"),
    ("C34", "机械制造", "Machinery"),
    ("C34", "机械设备", "Machinery Equipment"),
    ("E47", "建筑工程", "Construction"),
    ("E50", "装饰工程", "Decoration"),
    ("K70", "房地产开发", "Real Estate"),
    ("K70", "置业", "Property"),
    ("L72", "企业管理咨询", "Management Consulting"),
    ("L72", "投资管理", "Investment Management"),
    ("L72", "广告", "Advertising"),
    ("G54", "物流", "Logistics"),
    ("G58", "供应链管理", "Supply Chain"),
    ("H62", "餐饮管理", "Catering Management"),
    ("M75", "生物科技", "Biotechnology"),
    ("C27", "医药", "Pharmaceutical"),
    ("A01", "农业发展", "Agricultural Development"),
    ("C13", "食品", "Food"),
    ("C18", "服饰", "Garments"),
    ("R86", "文化传媒", "Culture and Media"),
    ("N77", "环保科技", "Environmental Technology"),
    ("D44", "新能源", "New Energy"),
    ("C30", "新材料", "New Materials"),
    ("J66", "融资租赁", "Financial Leasing"),
    ("P83", "教育科技", "Education Technology"),
    ("O80", "家政服务", "Household Services"),
]
# Characters of trade names (字号), the part that tells companies apart.
TRADE_CHARS = "".join(
    dict.fromkeys(
        "华信达恒盛瑞通宏远鑫泰安德隆新丰嘉锦捷融智云海星博创明和誉君中金银天东南方正大成"
        "长久永昌兴旺富荣光辉腾飞龙凤鹏祥福顺利源汇聚联合众力美佳乐康健宝优品精英卓越诚立"
        "义仁泽润霖森林山川江湖洋宇辰阳晨曦雅逸悦欣怡欧亚普惠民世纪时代未来蓝绿洲红万家百"
        "千禧亿兆晟昊凯旭峰岭亨航图骏驰毅坤乾元贞铭鼎皓睿哲思维道赢禾谷茂盈"
    )
)
# Characters no generated name uses: names made of them exist nowhere in the registry.
ABSENT_CHARS = "琪琳璐瑶珂玥翎羽岚澜沐柯楠桐樱枫琦珑璟瑾"
assert not set(ABSENT_CHARS) & set(TRADE_CHARS)
CN_FORMS = [
    ("有限公司", 60),
    ("有限责任公司", 25),
    ("股份有限公司", 12),
    ("合伙企业（有限合伙）", 3),
]
OTHER_FORM = {
    "股份有限公司": "有限公司",
    "有限责任公司": "有限公司",
    "有限公司": "有限责任公司",
    "合伙企业（有限合伙）": "有限公司",
    "Co., Ltd.": "Limited",
    "Company Limited": "Co., Ltd.",
    "Limited": "Co., Ltd.",
    "Inc.": "Corporation",
}
EN_FORMS = ["Co., Ltd.", "Company Limited", "Limited", "Inc."]
EN_BRANDS = [
    "Sino",
    "Golden",
    "Asia Pacific",
    "Great Wall",
    "Oriental",
    "Bright Star",
    "Evergreen",
    "Harmony",
    "Unity",
    "Silver Bay",
    "Jade River",
    "Red Lantern",
    "Summit",
    "Pearl",
    "Dragon Gate",
]
UPPER = "ABCDEFGHJKLMNPRSTUVWXYZ"


# --- the dataset ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """A loaded subject that queries and screening rows are made from."""

    id: uuid.UUID
    name: str
    uscc: str
    region: str
    form: str
    english: bool


class Names:
    """Company names, deterministic for a given random generator."""

    def __init__(self, rng: random.Random, trade_chars: str = TRADE_CHARS) -> None:
        self.rng = rng
        self.trade_chars = trade_chars
        self.cn_forms = [f for f, _ in CN_FORMS]
        self.cn_weights = [w for _, w in CN_FORMS]

    def make(self) -> tuple[str, str, str, str, bool]:
        """(name, region code, industry code, legal form, english)."""
        rng = self.rng
        region, city, city_en = rng.choice(REGIONS)
        industry, word, word_en = rng.choice(INDUSTRIES)
        draw = rng.random()
        if draw < 0.07:
            form = rng.choice(EN_FORMS)
            if rng.random() < 0.5:
                brand = "".join(rng.choice(UPPER) for _ in range(rng.choice((2, 3, 3, 4))))
            else:
                brand = f"{city_en} {rng.choice(EN_BRANDS)}"
            return f"{brand} {word_en} {form}", region, industry, form, True
        length = rng.choices((2, 3, 4), (55, 30, 15))[0]
        trade = "".join(rng.choice(self.trade_chars) for _ in range(length))
        form = rng.choices(self.cn_forms, self.cn_weights)[0]
        if draw < 0.80:
            prefix = city + ("市" if rng.random() < 0.3 else "")
            name = f"{prefix}{trade}{word}{form}"
        elif draw < 0.88:
            name = f"{trade}{word}{form}"
        else:
            name = f"{trade}{word}（{city}）{form}"
        return name, region, industry, form, False


def sample_indexes(subjects: int, wanted: int, seed: int) -> set[int]:
    return set(random.Random(seed ^ 0x5A5A).sample(range(subjects), min(wanted, subjects)))


def generate(
    subjects: int, seed: int, keep: set[int]
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]], list[Sample]]]:
    """Chunks of (subject rows, name rows, samples of the chunk's subjects)."""
    rng = random.Random(seed)
    names = Names(rng)
    issued: set[str] = set()
    start = datetime(2015, 10, 1, tzinfo=UTC)
    for first in range(0, subjects, CHUNK):
        rows: list[dict[str, Any]] = []
        name_rows: list[dict[str, Any]] = []
        samples: list[Sample] = []
        for number in range(first, min(first + CHUNK, subjects)):
            name, region, industry, form, english = names.make()
            uscc = make_uscc(rng, region)
            while uscc in issued:
                uscc = make_uscc(rng, region)
            issued.add(uscc)
            subject_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            created = start + timedelta(minutes=number)
            normalised = normalize_name(name).normalised
            rows.append(
                {
                    "id": subject_id,
                    "kind": "enterprise",
                    "name": name,
                    "name_normalised": normalised,
                    "uscc": uscc,
                    "region_code": region,
                    "industry_code": industry,
                    "revision": 1,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            since = created
            if rng.random() < 0.03:
                former = names.make()[0]
                since = created + timedelta(days=rng.randrange(30, 2000))
                name_rows.append(
                    {
                        "subject_id": subject_id,
                        "name": former,
                        "name_normalised": normalize_name(former).normalised,
                        "valid_from": created,
                        "valid_until": since,
                    }
                )
            name_rows.append(
                {
                    "subject_id": subject_id,
                    "name": name,
                    "name_normalised": normalised,
                    "valid_from": since,
                    "valid_until": None,
                }
            )
            if number in keep:
                samples.append(Sample(subject_id, name, uscc, region, form, english))
        yield rows, name_rows, samples


def load(engine: sa.Engine, subjects: int, seed: int, keep: set[int]) -> tuple[float, list[Sample]]:
    """Insert the dataset; returns (seconds, samples in load order)."""
    subject_table = cast(sa.Table, Subject.__table__)
    name_table = cast(sa.Table, SubjectName.__table__)
    outbox_table = cast(sa.Table, SearchOutbox.__table__)
    samples: list[Sample] = []
    started = time.perf_counter()
    done = 0
    for rows, name_rows, chunk_samples in generate(subjects, seed, keep):
        now = datetime.now(UTC)
        with engine.begin() as connection:
            connection.execute(subject_table.insert(), rows)
            connection.execute(name_table.insert(), name_rows)
            connection.execute(
                outbox_table.insert(), [{"subject_id": r["id"], "enqueued_at": now} for r in rows]
            )
        samples.extend(chunk_samples)
        done += len(rows)
        progress("load", done, subjects, started)
    return time.perf_counter() - started, samples


def maintain(engine: sa.Engine) -> None:
    """Statistics as autovacuum keeps them, and the bulk writes flushed, so the timings that
    follow do not pay for them: VACUUM ANALYZE and CHECKPOINT (PostgreSQL), or ANALYZE and a
    WAL checkpoint (SQLite)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))
            connection.execute(sa.text("CHECKPOINT"))
        return
    # The engine wraps everything in BEGIN (registry.db.make_engine); these need none.
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("ANALYZE")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    finally:
        raw.close()


def index_all(engine: sa.Engine, backend: SqlBackend, subjects: int) -> tuple[int, float]:
    """Drain the outbox into the SQL backend; returns (documents, seconds)."""
    handled = 0
    started = time.perf_counter()
    with Session(engine) as session:
        while True:
            count = drain_once(session, backend, datetime.now(UTC))
            session.commit()
            if not count:
                break
            handled += count
            progress("index", handled, subjects, started, BATCH_SIZE)
    return handled, time.perf_counter() - started


def progress(label: str, done: int, total: int, started: float, every: int = CHUNK) -> None:
    """A line on stderr about every tenth of the way."""
    step = max(total // 10, 1)
    if done % step < every or done == total:
        elapsed = time.perf_counter() - started
        print(f"  {label}: {done:,}/{total:,} in {elapsed:.1f} s", file=sys.stderr, flush=True)


# --- queries and screening rows -----------------------------------------------------------


def make_lookups(samples: list[Sample], count: int, seed: int) -> list[tuple[str, str]]:
    """(category, query text): 2-character fragments, full names, initials, USCCs."""
    rng = random.Random(seed ^ 0x10C)
    chinese = [s for s in samples if not s.english]
    queries: list[tuple[str, str]] = []
    for number in range(count):
        slot = number % 10
        if slot < 4:
            base = normalize_name(rng.choice(chinese).name).base
            start = rng.randrange(len(base) - 1)
            queries.append(("2-character fragment", base[start : start + 2]))
        elif slot < 6:
            queries.append(("full name", rng.choice(samples).name))
        elif slot < 8:
            queries.append(("pinyin initials", pinyin_forms(rng.choice(chinese).name)[1]))
        else:
            queries.append(("USCC", rng.choice(samples).uscc))
    return queries


def other_form(sample: Sample) -> str:
    for form, replacement in OTHER_FORM.items():
        if sample.name.endswith(form):
            return sample.name[: -len(form)] + replacement
    return sample.name


def make_screening(
    samples: list[Sample], count: int, seed: int
) -> list[tuple[str, dict[str, Any]]]:
    """(kind of row, raw row as a member sends it); see the module docstring for the mix."""
    rng = random.Random(seed ^ 0x5C2)
    absent = Names(random.Random(seed ^ 0xAB5), ABSENT_CHARS)
    rows: list[tuple[str, dict[str, Any]]] = []
    for number in range(count):
        sample = rng.choice(samples)
        slot = number % 20
        row: dict[str, Any]
        if slot < 7:
            kind, row = "exact name", {"name": sample.name}
        elif slot < 9:
            kind, row = "Traditional characters", {"name": zhconv.convert(sample.name, "zh-tw")}
        elif slot < 11:
            kind, row = "other legal form", {"name": other_form(sample)}
        elif slot < 13:
            kind, row = "USCC alone", {"uscc": sample.uscc}
        elif slot < 15:
            kind, row = "USCC and name", {"uscc": sample.uscc, "name": sample.name}
        else:
            name, region, _, _, _ = absent.make()
            kind, row = "name that exists nowhere", {"name": name}
            sample = Sample(sample.id, name, "", region, "", False)
        if "uscc" not in row and rng.random() < 1 / 3:
            row["region"] = sample.region
        row["reference"] = f"R{number:05d}"
        rows.append((kind, row))
    return rows


# --- the server and its member ------------------------------------------------------------


def prepare_database(args: argparse.Namespace) -> str:
    """A fresh empty database; returns its URL."""
    if args.database_url:
        return wipe_database(args.database_url)
    (url,) = recreate_databases(args.admin_url, [BENCH_DB])
    return url


def lookup_path(text: str) -> str:
    return "/api/v1/subjects?" + urlencode({"q": text, "purpose": PURPOSE})


# --- measuring ------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass
class Timings:
    by_category: dict[str, list[float]] = field(default_factory=dict)

    def add(self, category: str, seconds: float) -> None:
        self.by_category.setdefault(category, []).append(seconds)
        self.by_category.setdefault("all", []).append(seconds)

    def p(self, category: str, fraction: float) -> float:
        return percentile(self.by_category[category], fraction) * 1000


def api_query(text: str) -> SearchQuery:
    """The query GET /api/v1/subjects builds for ``q`` alone."""
    return SearchQuery(text=text, kinds=KINDS, size=20)


def paired_lookups(
    engine: sa.Engine,
    backend: SqlBackend,
    port: int,
    signer: RequestSigner,
    queries: list[tuple[str, str]],
) -> tuple[Timings, Timings, int]:
    """Each query timed on the bare backend and through the API back to back, the order
    alternating from one query to the next, so that both see the database equally warm (a
    query's second run finds its pages cached; timing all bare runs after a warm-up pass and
    the API runs later compared second runs with first ones). Returns (bare, api, how many
    API totals differ from the bare ones)."""
    bare, api = Timings(), Timings()
    differ = 0
    connection = Connection(port, signer)
    with Session(engine) as session:

        def run_bare(text: str) -> tuple[float, int]:
            started = time.perf_counter()
            result = backend.search(api_query(text), session=session)
            seconds = time.perf_counter() - started
            session.rollback()
            return seconds, result.total

        def run_api(text: str) -> tuple[float, int]:
            status, answer, seconds = connection.send("GET", lookup_path(text))
            if status != 200:
                raise SystemExit(f"lookup refused: {status} {answer[:300]!r}")
            return seconds, int(json.loads(answer)["total"])

        # Warm-up of both processes (imports, pools, compiled statements), on other queries.
        for _, text in queries[-20:]:
            run_bare(text)
            run_api(text)
        for index, (category, text) in enumerate(queries):
            if index % 2 == 0:
                api_seconds, api_total = run_api(text)
                bare_seconds, bare_total = run_bare(text)
            else:
                bare_seconds, bare_total = run_bare(text)
                api_seconds, api_total = run_api(text)
            bare.add(category, bare_seconds)
            api.add(category, api_seconds)
            differ += api_total != bare_total
    return bare, api, differ


def reference_requests(
    port: int, signer: RequestSigner, subject_ids: list[uuid.UUID], count: int
) -> tuple[list[float], list[float]]:
    """Latencies of unsigned GET /healthz and of signed GET /api/v1/subjects/{id}."""
    plain = Connection(port, None)
    signed = Connection(port, signer)
    health: list[float] = []
    by_id: list[float] = []
    for number in range(count + 10):
        _, _, seconds = plain.send("GET", "/healthz")
        subject_id = subject_ids[number % len(subject_ids)]
        status, answer, by_id_seconds = signed.send(
            "GET", f"/api/v1/subjects/{subject_id}?purpose={PURPOSE}"
        )
        if status != 200:
            raise SystemExit(f"subject by id refused: {status} {answer[:300]!r}")
        if number >= 10:
            health.append(seconds)
            by_id.append(by_id_seconds)
    return health, by_id


@dataclass
class ScreeningRun:
    seconds: float
    decisions: dict[str, int]
    search_seconds: float = 0.0
    # kind of row -> seconds its searches took, one entry per row
    per_kind: dict[str, list[float]] = field(default_factory=dict)
    # the slowest SQL statement and its parameters (for EXPLAIN)
    slowest: tuple[float, str, Any] = (0.0, "", None)


def screen_in_process(
    engine: sa.Engine, backend: SqlBackend, rows: list[ScreeningRow], kinds: list[str]
) -> ScreeningRun:
    """screen() over backend_search, timing the searches of each kind of row and keeping
    the slowest statement."""
    run = ScreeningRun(0.0, {})
    searches: list[tuple[str, float]] = []  # (query text, seconds), in the order made

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seconds = time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())
        if seconds > run.slowest[0]:
            run.slowest = (seconds, statement, parameters)

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        with Session(engine) as session:
            search = backend_search(backend, session)

            def timed(query: SearchQuery) -> list[dict[str, Any]]:
                started = time.perf_counter()
                try:
                    return search(query)
                finally:
                    seconds = time.perf_counter() - started
                    run.search_seconds += seconds
                    searches.append((query.text or "", seconds))

            started = time.perf_counter()
            results = screen(rows, timed, Thresholds())
            run.seconds = time.perf_counter() - started
            session.rollback()
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)
    run.decisions = summary(results)
    # screen() searches row after row, each by its USCC and then (unless that was decisive)
    # by its name: hand the searches back to the rows in that order.
    position = 0
    for row, kind in zip(rows, kinds, strict=True):
        seconds = 0.0
        for text in (row.uscc, row.name):
            if text and position < len(searches) and searches[position][0] == text:
                seconds += searches[position][1]
                position += 1
        run.per_kind.setdefault(kind, []).append(seconds)
    assert position == len(searches), "searches left over: rows and searches out of step"
    return run


def explain(engine: sa.Engine, statement: str, parameters: Any) -> str:
    """EXPLAIN ANALYZE of a captured statement (PostgreSQL)."""
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
        ).all()
        connection.rollback()
    return "\n".join(str(r[0]) for r in rows)


def screen_through_api(
    port: int, signer: RequestSigner, raw_rows: list[dict[str, Any]]
) -> tuple[float, dict[str, int]]:
    body = json.dumps(
        {"purpose": "compliance_screening", "rows": raw_rows},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    status, answer, seconds = Connection(port, signer).send("POST", "/api/v1/screening", body)
    if status != 200:
        raise SystemExit(f"screening refused: {status} {answer[:500]!r}")
    return seconds, json.loads(answer)["summary"]


# --- profiling ------------------------------------------------------------------------------


def profiled(label: str, work: Callable[[], object], limit: int = 25) -> None:
    profile = cProfile.Profile()
    profile.enable()
    work()
    profile.disable()
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.strip_dirs().sort_stats(order).print_stats(limit)
        print(f"\n### profile: {label}, by {order}\n")
        print("```")
        print(out.getvalue().strip())
        print("```")


def profile_all(
    url: str,
    engine: sa.Engine,
    backend: SqlBackend,
    queries: list[tuple[str, str]],
    rows: list[ScreeningRow],
    private_key: ed25519.Ed25519PrivateKey,
    key_id: str,
) -> None:
    def lookups() -> None:
        with Session(engine) as session:
            for _, text in queries:
                backend.search(api_query(text), session=session)
                session.rollback()

    def screening() -> None:
        with Session(engine) as session:
            screen(rows[:500], backend_search(backend, session), Thresholds())
            session.rollback()

    profiled("bare lookups", lookups)
    profiled("in-process screening, 500 rows", screening)

    # The API path in process: the Flask app behind the test client, so the profile shows
    # the view, the signature check and the query log without HTTP and threads.
    overrides: dict[str, Any] = {"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    overrides["RATE_LIMIT_PER_MINUTE"] = 0
    app = create_app(overrides)
    client = app.test_client()
    signer = RequestSigner(key_id, private_key)
    authority = "registry.bench"

    def through_app() -> None:
        for _, text in queries:
            path = lookup_path(text)
            headers = {"Host": authority}
            headers.update(signer.headers_for("GET", f"http://{authority}{path}", b"", headers))
            response = client.get(path, headers=headers, base_url=f"http://{authority}")
            if response.status_code != 200:
                raise SystemExit(f"lookup refused: {response.status_code}")

    through_app()  # warm-up
    profiled("API lookups through the Flask app in process", through_app)
    db.dispose(app)


# --- the run ----------------------------------------------------------------------------------


class Report:
    """Markdown lines, each also written to stderr as soon as it is known (a run that stops
    half-way still leaves its figures)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, line: str = "") -> None:
        self.lines.append(line)
        if line.startswith("| ") and not line.startswith("|---"):
            print(f"  {line}", file=sys.stderr, flush=True)

    def print(self) -> None:
        print("\n".join(self.lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20151001)
    parser.add_argument(
        "--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--screening-rows", type=int, default=10_000)
    parser.add_argument(
        "--api-screening-rows",
        type=int,
        default=2_000,
        help="rows of the synchronous POST /api/v1/screening (0: skip)",
    )
    parser.add_argument("--server-threads", type=int, default=4)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure again on the database an earlier run loaded and indexed (same "
        "--subjects, --seed and --database-url): no load, no indexing",
    )
    args = parser.parse_args()
    api_rows = args.api_screening_rows
    command = " ".join([".venv/bin/python bench/search.py", *sys.argv[1:]])
    report = Report()

    if args.reuse:
        url = args.database_url or sa.make_url(args.admin_url).set(
            database=BENCH_DB
        ).render_as_string(hide_password=False)
    else:
        url = prepare_database(args)
    engine = make_engine(url, pool_size=2)
    migrate.upgrade(engine)
    backend = SqlBackend(lambda: engine)
    keep = sample_indexes(args.subjects, 2000, args.seed)
    report.add(f"## bench/search.py: {args.subjects:,} subjects, {engine.dialect.name}")
    report.add()
    report.add(f"command: `{command}`")
    report.add()

    if args.reuse:
        # The same seed generates the same subjects: their samples, without loading them.
        print(f"reusing {engine.url.database}; regenerating the samples", file=sys.stderr)
        samples = [s for _, _, chunk in generate(args.subjects, args.seed, keep) for s in chunk]
    else:
        print(f"loading {args.subjects:,} subjects into {engine.url.database}", file=sys.stderr)
        load_seconds, samples = load(engine, args.subjects, args.seed, keep)
        maintain(engine)
        print("indexing", file=sys.stderr)
        documents, index_seconds = index_all(engine, backend, args.subjects)
        maintain(engine)
        report.add("| phase | count | seconds | rate |")
        report.add("|---|---|---|---|")
        report.add(
            f"| load (Core executemany: subjects, names, outbox) | {args.subjects:,} subjects"
            f" | {load_seconds:.1f} | {args.subjects / load_seconds:,.0f} subjects/s |"
        )
        report.add(
            f"| indexing (drain_once loop, SQL backend) | {documents:,} documents"
            f" | {index_seconds:.1f} | {documents / index_seconds:,.0f} documents/s |"
        )
        report.add()

    queries = make_lookups(samples, args.lookups, args.seed)
    tagged = make_screening(samples, max(args.screening_rows, api_rows), args.seed)
    raw_rows = [raw for _, raw in tagged]
    rows = []
    for raw in raw_rows:
        row, errors = normalise_row(raw)
        if errors:
            raise SystemExit(f"bad screening row {raw}: {errors}")
        rows.append(row)

    screening: ScreeningRun | None = None
    if args.screening_rows:
        print(f"in-process screening of {args.screening_rows:,} rows", file=sys.stderr)
        screening = screen_in_process(
            engine,
            backend,
            rows[: args.screening_rows],
            [kind for kind, _ in tagged[: args.screening_rows]],
        )
        report.add("| screening | rows | seconds | rows/s | match / possible / none |")
        report.add("|---|---|---|---|---|")
        report.add(
            "| in process: screen() over backend_search"
            f" (of which backend search {screening.search_seconds:.1f} s)"
            f" | {args.screening_rows:,} | {screening.seconds:.1f}"
            f" | {args.screening_rows / screening.seconds:,.1f} | {describe(screening.decisions)} |"
        )

    _, private_key, key_id = admit_member(url, name="基准查询银行", roles=["querier"])
    signer = RequestSigner(key_id, private_key)
    port = free_port()
    server = start_server(
        url,
        port,
        args.server_threads,
        {"CREDITREG_SCREENING_SYNC_MAX_ROWS": str(max(api_rows, 1000))},
    )
    try:
        print("lookups, bare and through the API", file=sys.stderr)
        bare, api, differ = paired_lookups(engine, backend, port, signer, queries)
        health, by_id = reference_requests(port, signer, [s.id for s in samples], 100)
        print(
            f"  API lookups p50 {api.p('all', 0.5):.2f} ms (bare {bare.p('all', 0.5):.2f} ms)",
            file=sys.stderr,
        )
        if api_rows:
            print(f"API screening of {api_rows:,} rows", file=sys.stderr)
            seconds, api_decisions = screen_through_api(port, signer, raw_rows[:api_rows])
            if not screening:
                report.add("| screening | rows | seconds | rows/s | match / possible / none |")
                report.add("|---|---|---|---|---|")
            report.add(
                f"| signed POST /api/v1/screening, synchronous | {api_rows:,} | {seconds:.1f}"
                f" | {api_rows / seconds:,.1f} | {describe(api_decisions)} |"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)

    if screening:
        report.add()
        report.add("| screening row kind | rows | search ms per row: mean | p50 | p99 |")
        report.add("|---|---|---|---|---|")
        for kind, values in sorted(screening.per_kind.items()):
            report.add(
                f"| {kind} | {len(values):,} | {1000 * sum(values) / len(values):.1f}"
                f" | {1000 * percentile(values, 0.5):.1f} | {1000 * percentile(values, 0.99):.1f} |"
            )
    report.add()
    report.add(
        f"| lookup ({len(queries)} queries, 1 connection, {args.server_threads} server threads)"
        " | n | bare p50 ms | bare p99 ms | API p50 ms | API p99 ms | API/bare p50 | API/bare p99 |"
    )
    report.add("|---|---|---|---|---|---|---|---|")
    for category in [*sorted(c for c in bare.by_category if c != "all"), "all"]:
        b50, b99 = bare.p(category, 0.5), bare.p(category, 0.99)
        a50, a99 = api.p(category, 0.5), api.p(category, 0.99)
        report.add(
            f"| {category} | {len(bare.by_category[category])} | {b50:.2f} | {b99:.2f}"
            f" | {a50:.2f} | {a99:.2f} | {a50 / b50:.2f}x | {a99 / b99:.2f}x |"
        )
    for label, values in (
        ("reference: unsigned GET /healthz", health),
        ("reference: signed GET /api/v1/subjects/{id}", by_id),
    ):
        report.add(
            f"| {label} | {len(values)} | | | {percentile(values, 0.5) * 1000:.2f}"
            f" | {percentile(values, 0.99) * 1000:.2f} | | |"
        )
    report.add()
    ratio = api.p("all", 0.5) / bare.p("all", 0.5)
    report.add(f"- lookup goal (API <= 2x bare, p50 of all queries): {ratio:.2f}x")
    if screening:
        per_10k = 10_000 * screening.seconds / args.screening_rows
        report.add(f"- screening goal (10,000 rows < 60 s): {per_10k:.0f} s per 10,000 rows")
    if differ:
        report.add(f"- warning: {differ} lookups gave another total through the API than bare")

    if args.profile:
        profile_all(url, engine, backend, queries, rows, private_key, key_id)
        if screening and screening.slowest[1] and engine.dialect.name == "postgresql":
            seconds, statement, parameters = screening.slowest
            print(f"\n### slowest statement of the screening ({1000 * seconds:.0f} ms)\n")
            print("```")
            print(statement)
            print(parameters)
            print(explain(engine, statement, parameters))
            print("```")
    engine.dispose()
    print()
    report.print()


def describe(decisions: dict[str, int]) -> str:
    return " / ".join(f"{decisions.get(k, 0):,}" for k in ("match", "possible", "none"))


if __name__ == "__main__":
    main()
