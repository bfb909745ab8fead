"""Subject lookup and batch screening at registry scale, on each search backend in turn.

    .venv/bin/python bench/search.py [--backend sql,opensearch,elasticsearch]
                                     [--subjects 100000] [--seed 20151001]
                                     [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                                     [--database-url URL] [--lookups 300]
                                     [--screening-rows 10000] [--api-screening-rows N]
                                     [--server-threads 4] [--workers 2] [--batch N]
                                     [--engine-heap 2g] [--engine-url [ENGINE=]URL]
                                     [--engine-data DIR] [--no-bulk-settings]
                                     [--reuse | --resume] [--no-verify] [--profile]

Without ``--database-url`` it creates the scratch database ``creditreg_bench_search``
(dropped first if it exists) through ``--admin-url``. ``--database-url`` takes a SQLite URL
(the file is deleted first) or a PostgreSQL database you can wipe (its name must contain
"bench" or "test"); neither is wiped with ``--reuse`` or ``--resume`` (below). The
database is loaded once; then each backend of ``--backend`` (a
comma-separated list, in that order) goes through steps 2 to 6 alone. An engine is a real
node started here (``tests/engines.py``: OpenSearch 2.19, Elasticsearch 8.19, one JVM with
``--engine-heap``, its data under ``--engine-data``/ENGINE, stopped after its turn) unless
``--engine-url`` names a cluster. Its index is ``creditreg-bench-subjects``, an earlier
run's dropped first (but by ``--reuse`` and ``--resume``).

1. Load: ``--subjects`` enterprises generated from ``--seed`` (the same seed gives the same
   data): Chinese names made of a region prefix, a two- to four-character trade name, an
   industry word and a legal form (北京华信科技有限公司, some 华信科技（北京）有限公司 or
   without region), about 7 % English names (ABC Trading Co., Ltd.), 3 % with a former
   name, valid USCCs (``registry.demo.make_uscc``), region and industry codes. The rows go
   into ``subjects``, ``subject_names`` and ``search_outbox`` by PostgreSQL's COPY
   (``registry.db.copy_rows``; SQLite: Core ``executemany``), not through the domain
   functions, which would take hours for a million; 5,000 subjects a transaction.
   Then VACUUM ANALYZE and CHECKPOINT (see ``maintain``).
2. Indexing: the outbox (every row marked pending again when an earlier backend drained
   it) drained by ``--workers`` processes (``bench/drain.py``: each ``drain_once`` in a
   loop on its own session, ``--batch`` rows a batch, sharing the rows through SKIP
   LOCKED; SQLite: one), into an engine with the bulk-load settings of
   ``EngineBackend.begin_bulk_load`` put back and refreshed at the end (included in the
   time). Documents/s; how each worker's time divided (building, writing, committing); the
   CPU each document cost in the workers, their PostgreSQL backends and the engine node,
   and so the most this machine's CPUs allow. After the SQL backend, VACUUM ANALYZE.
3. ``search verify`` (``search.maintenance.verify``): must be clean. Seconds. Skipped with
   ``--no-verify``.
4. Screening in process: ``--screening-rows`` rows (35 % exact current names, 10 % the
   name in Traditional characters, 10 % with another legal form, 10 % USCC alone, 10 %
   USCC and name, 25 % plausible names that exist nowhere; a third of the name rows carry
   a region) screened with ``search.screening.screen`` over ``backend_search``,
   ``--screening-rows-at-once`` rows asking together (1: row by row). Seconds, decisions,
   and each row's decision compared with the SQL backend's on the same rows (when ``sql``
   is in the run); then each kind of row screened alone, for its time per row. With
   ``--screening-warm-up-rows N``, N other rows of the same mix (another seed) are screened
   first and timed apart: the measured rows then meet a node whose JVM has compiled its hot
   code, as a node serving screenings all day has (a node started for the run has not).
5. Lookups: ``--lookups`` queries drawn from the loaded names: two-character fragments,
   full names, pinyin initials and USCCs. Each is timed (a) on the bare backend, its
   ``search`` called in this process with the query the API builds (enterprises and shops,
   20 hits, facets; for an engine, the client's request to the engine and its answer
   read), and (b) as a signed ``GET /api/v1/subjects?q=...&purpose=counterparty_check`` to
   ``creditreg serve`` (started on a free port with the rate limit lifted and the backend
   configured: CREDITREG_SEARCH_BACKEND, _URL, _INDEX_PREFIX) over one keep-alive
   connection; signing happens before the clock starts. The two runs of a query follow
   each other, the order alternating from query to query, so both find the backend
   equally warm. p50 and p99 of both, and their ratio. For reference: unsigned
   ``GET /healthz`` and signed ``GET /api/v1/subjects/{id}`` on the same connection.
6. Screening through the API: the first ``--api-screening-rows`` rows as one signed
   synchronous ``POST /api/v1/screening`` (CREDITREG_SCREENING_SYNC_MAX_ROWS raised).

Memory is sampled once a second through every step: the node's RSS (its anonymous part,
the JVM, and its mapped index files) and JVM heap (``_nodes/stats/jvm``), the registry
server's RSS, this process's; the peaks of each step are printed. A table of all backends
ends the report. ``--reuse`` measures again on the database and the engines' data an
earlier run left (same ``--subjects``, ``--seed``, ``--database-url``, ``--engine-data``):
no load, no indexing. ``--resume`` finishes a run that was stopped, with one backend and
the same arguments: it loads the chunks not yet loaded, indexes the outbox rows still
pending into the index the run left (unless it had not begun indexing: then the backend
starts afresh, as in a new run), and measures; the rates it prints are of this part.

``--profile`` adds cProfile listings: the drain workers' (merged), the bare lookups, the
first 500 screening rows in process, and the lookups through the Flask app in process (the
API path minus HTTP). Progress goes to stderr; the figures are printed as markdown at the
end.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
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

from drain import BackendSpec, DrainReport, drain_in_parallel, process_cpu  # noqa: E402
from harness import (  # noqa: E402
    ENGINE_PREFIX,
    PURPOSE,
    Connection,
    MemoryWatch,
    admit_member,
    api_query,
    free_port,
    percentile,
    recreate_databases,
    start_server,
    wipe_database,
)

from api.client import RequestSigner  # noqa: E402
from registry import migrate  # noqa: E402
from registry.app import create_app  # noqa: E402
from registry.db import copy_rows, db, make_engine  # noqa: E402
from registry.demo import make_uscc  # noqa: E402
from registry.names import normalize_name  # noqa: E402
from registry.outbox import SearchOutbox  # noqa: E402
from registry.subjects import Subject, SubjectName  # noqa: E402
from search.engine import BULK_LOAD_SETTINGS, EngineBackend  # noqa: E402
from search.maintenance import verify  # noqa: E402
from search.query import SearchQuery  # noqa: E402
from search.screening import (  # noqa: E402
    ROWS_AT_ONCE,
    ScreeningRow,
    Thresholds,
    backend_search,
    normalise_row,
    screen,
    summary,
)
from search.sync import BATCH_SIZE  # noqa: E402
from search.text import pinyin_forms  # noqa: E402
from tests import engines  # noqa: E402

BENCH_DB = "creditreg_bench_search"
ENGINES = ("opensearch", "elasticsearch")
BACKENDS = ("sql", *ENGINES)
CHUNK = 5000

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


def load(
    engine: sa.Engine, subjects: int, seed: int, keep: set[int], *, loaded: int = 0
) -> tuple[float, list[Sample]]:
    """Insert the dataset, but for its first ``loaded`` subjects (an interrupted run's, whole
    chunks: each went in by one transaction); returns (seconds, samples in load order)."""
    subject_table = cast(sa.Table, Subject.__table__)
    name_table = cast(sa.Table, SubjectName.__table__)
    outbox_table = cast(sa.Table, SearchOutbox.__table__)
    if loaded > subjects or (loaded % CHUNK and loaded != subjects):
        raise SystemExit(
            f"--resume: the database holds {loaded:,} subjects, not whole chunks of a"
            f" {subjects:,}-subject run: another --subjects or other data"
        )
    samples: list[Sample] = []
    started = None
    done = 0
    for rows, name_rows, chunk_samples in generate(subjects, seed, keep):
        samples.extend(chunk_samples)
        done += len(rows)
        if done <= loaded:
            # Generated all the same: the seed's sequence goes through every chunk.
            if done == loaded:
                ensure_loaded_by_this_run(engine, rows[-1]["id"])
            continue
        if started is None:
            started = time.perf_counter()
        outbox_rows = [{"subject_id": r["id"], "enqueued_at": datetime.now(UTC)} for r in rows]
        with engine.begin() as connection:
            for table, table_rows in (
                (subject_table, rows),
                (name_table, name_rows),
                (outbox_table, outbox_rows),
            ):
                insert_rows(connection, table, table_rows)
        progress("load", done, subjects, started)
    return (time.perf_counter() - started if started else 0.0), samples


def ensure_loaded_by_this_run(engine: sa.Engine, subject_id: uuid.UUID) -> None:
    """The subjects a stopped run loaded are those this --seed generates: its last one is
    there."""
    with engine.connect() as connection:
        if connection.scalar(sa.select(Subject.id).where(Subject.id == subject_id)) is None:
            raise SystemExit("--resume: the database was loaded with another --seed")


def insert_rows(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL's COPY (the load takes half the time it took by ``executemany``: 100,000
    subjects in 18.3–18.8 s against 33.5–36.5 s), SQLite's ``executemany``."""
    if connection.dialect.name == "postgresql":
        copy_rows(connection, table, tuple(rows[0]), rows)
    else:
        connection.execute(table.insert(), rows)


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


@dataclass
class Timings:
    by_category: dict[str, list[float]] = field(default_factory=dict)

    def add(self, category: str, seconds: float) -> None:
        self.by_category.setdefault(category, []).append(seconds)
        self.by_category.setdefault("all", []).append(seconds)

    def p(self, category: str, fraction: float) -> float:
        return percentile(self.by_category[category], fraction) * 1000


def paired_lookups(
    engine: sa.Engine,
    backend: Any,
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
    # (rows, seconds) of the other rows screened before, untimed for the goal
    warm_up: tuple[int, float] = (0, 0.0)
    # each row's decision, in row order (compared across backends)
    per_row: list[str] = field(default_factory=list)
    # kind of row -> (rows, seconds) of a screening of that kind's rows alone
    per_kind: dict[str, tuple[int, float]] = field(default_factory=dict)
    # the slowest SQL statement and its parameters (for EXPLAIN)
    slowest: tuple[float, str, Any] = (0.0, "", None)


def screen_in_process(
    engine: sa.Engine,
    backend: Any,
    rows: list[ScreeningRow],
    kinds: list[str],
    rows_at_once: int = ROWS_AT_ONCE,
    warm_up_rows: list[ScreeningRow] | None = None,
) -> ScreeningRun:
    """screen() over backend_search, timing its searches and keeping the slowest statement;
    then each kind of row screened on its own, for its time per row (the rows' asks are
    batched, so one row's own time is not seen). ``warm_up_rows`` are screened first, their
    time kept apart."""
    run = ScreeningRun(0.0, {})

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seconds = time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())
        if seconds > run.slowest[0]:
            run.slowest = (seconds, statement, parameters)

    with Session(engine) as session:
        search = backend_search(backend, session)
        if warm_up_rows:
            started = time.perf_counter()
            screen(warm_up_rows, search, Thresholds(), rows_at_once=rows_at_once)
            run.warm_up = (len(warm_up_rows), time.perf_counter() - started)
            session.rollback()

        def timed(queries: list[SearchQuery]) -> list[list[dict[str, Any]]]:
            started = time.perf_counter()
            try:
                return search(queries)
            finally:
                run.search_seconds += time.perf_counter() - started

        sa.event.listen(engine, "before_cursor_execute", before)
        sa.event.listen(engine, "after_cursor_execute", after)
        try:
            started = time.perf_counter()
            results = screen(rows, timed, Thresholds(), rows_at_once=rows_at_once)
            run.seconds = time.perf_counter() - started
        finally:
            sa.event.remove(engine, "before_cursor_execute", before)
            sa.event.remove(engine, "after_cursor_execute", after)
        session.rollback()
        # Warmer than the run above (the same rows again: the common tokens known, the
        # database's and the engine's caches holding their pages): per kind, not a sum.
        for kind in sorted(set(kinds)):
            alike = [row for row, k in zip(rows, kinds, strict=True) if k == kind]
            started = time.perf_counter()
            screen(alike, search, Thresholds(), rows_at_once=rows_at_once)
            run.per_kind[kind] = (len(alike), time.perf_counter() - started)
            session.rollback()
    run.decisions = summary(results)
    run.per_row = [result["decision"] for result in results]
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
    backend: Any,
    search_settings: dict[str, Any],
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
    overrides: dict[str, Any] = {"DATABASE_URL": url, "LOG_LEVEL": "WARNING", **search_settings}
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


@dataclass
class BackendRun:
    """The figures of one backend."""

    kind: str
    version: str = ""
    documents: int = 0
    index_seconds: float = 0.0  # draining, and for an engine the settings put back and refresh
    drained: DrainReport | None = None
    finish_seconds: float = 0.0
    verify_clean: bool = False
    verify_seconds: float = 0.0
    bare: Timings | None = None
    api: Timings | None = None
    screening: ScreeningRun | None = None
    api_screening: tuple[float, dict[str, int]] | None = None
    memory: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


def parse_backends(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [kind for kind in chosen if kind not in BACKENDS]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        raise argparse.ArgumentTypeError(
            f"a comma-separated list of distinct backends among {', '.join(BACKENDS)}"
        )
    return chosen


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return value


def parse_engine_urls(values: list[str], backends: list[str]) -> dict[str, str]:
    """``--engine-url URL`` (every engine of the run) or ``--engine-url opensearch=URL``."""
    urls: dict[str, str] = {}
    for value in values:
        name, equals, url = value.partition("=")
        if equals and name in ENGINES:
            urls[name] = url
        else:
            urls.update({kind: value for kind in ENGINES})
    return {kind: url.rstrip("/") for kind, url in urls.items() if kind in backends}


def indexing_begun(engine: sa.Engine) -> bool:
    """Whether a worker has processed any outbox row."""
    outbox = cast(sa.Table, SearchOutbox.__table__)
    with engine.connect() as connection:
        return (
            connection.scalar(
                sa.select(sa.literal(True)).where(outbox.c.processed_at.is_not(None)).limit(1)
            )
            is not None
        )


def reset_outbox(engine: sa.Engine) -> bool:
    """Mark every outbox row pending again, so the next backend indexes everything; False
    when none had been processed (a fresh load)."""
    outbox = cast(sa.Table, SearchOutbox.__table__)
    with engine.begin() as connection:
        done = connection.execute(
            sa.select(sa.func.count()).where(outbox.c.processed_at.is_not(None))
        ).scalar_one()
        if done:
            connection.execute(sa.update(outbox).values(processed_at=None))
    return bool(done)


def drop_bench_indices(backend: EngineBackend) -> None:
    """The indices an earlier run left behind this prefix (Elasticsearch deletes only by
    name, not by wildcard)."""
    for name in backend.client.indices.get(index=f"{backend.alias}-v*"):
        backend.drop_index(name)


def print_profile(label: str, paths: list[Path], limit: int = 30) -> None:
    stats = pstats.Stats(*(str(path) for path in paths), stream=io.StringIO())
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.strip_dirs().sort_stats(order).print_stats(limit)
        print(f"\n### profile: {label}, by {order}\n")
        print("```")
        print(out.getvalue().strip())
        print("```")


@dataclass
class Workload:
    """What every backend is measured with, made once from the loaded subjects."""

    url: str
    engine: sa.Engine
    subjects: int
    samples: list[Sample]
    queries: list[tuple[str, str]]
    tagged: list[tuple[str, dict[str, Any]]]
    rows: list[ScreeningRow]
    warm_up_rows: list[ScreeningRow]
    private_key: ed25519.Ed25519PrivateKey
    key_id: str


def run_backend(
    kind: str, args: argparse.Namespace, work: Workload, report: Report, engine_urls: dict[str, str]
) -> BackendRun:
    run = BackendRun(kind)
    engine = work.engine
    watch = MemoryWatch().start()
    watch.watch("bench", os.getpid())
    node: engines.EngineNode | None = None
    server: subprocess.Popen[bytes] | None = None
    try:
        spec = BackendSpec(kind)
        if kind in ENGINES:
            engine_url = engine_urls.get(kind)
            if engine_url is None:
                workdir = Path(args.engine_data) / kind
                if not args.keep_index:
                    shutil.rmtree(workdir, ignore_errors=True)
                print(f"starting a {kind} node, heap {args.engine_heap}", file=sys.stderr)
                node = engines.start(kind, workdir, heap=args.engine_heap)
                engine_url = node.url
                watch.watch("node", node.process.pid)
            watch.heap_url = engine_url
            spec = BackendSpec(kind, engine_url, ENGINE_PREFIX)
        backend = spec.make(engine)
        run.version = backend.health().info.get("version", "") if kind in ENGINES else ""
        report.add(f"### {kind} {run.version}".rstrip())
        report.add()

        if not args.reuse:
            node_pid = node.process.pid if node is not None else None
            index_backend(run, spec, backend, args, work, watch, node_pid)
            if run.documents:
                report_indexing(report, run, args)
            else:
                report.add("- indexing: nothing was pending (the stopped run had finished it)")
                report.add()
        elif kind in ENGINES and not backend.client.indices.exists_alias(name=backend.alias):
            raise SystemExit(f"--reuse: {kind} has no index {backend.alias}: run without --reuse")

        if args.verify:
            print(f"{kind}: search verify", file=sys.stderr)
            watch.enter("verify")
            started = time.perf_counter()
            with Session(engine) as session:
                verified = verify(session, backend)
                session.rollback()
            run.verify_seconds = time.perf_counter() - started
            run.verify_clean = verified.clean
            run.documents = run.documents or verified.index
            report.add(
                f"- search verify: {'clean' if verified.clean else 'NOT CLEAN'},"
                f" {verified.index:,} documents for {verified.database:,} subjects,"
                f" {run.verify_seconds:.1f} s"
            )
            report.add()

        if args.screening_rows:
            print(f"{kind}: in-process screening of {args.screening_rows:,} rows", file=sys.stderr)
            watch.enter("screening in process")
            run.screening = screen_in_process(
                engine,
                backend,
                work.rows[: args.screening_rows],
                [k for k, _ in work.tagged[: args.screening_rows]],
                args.screening_rows_at_once,
                work.warm_up_rows,
            )

        search_env = {"CREDITREG_SEARCH_BACKEND": kind}
        if spec.url:
            search_env["CREDITREG_SEARCH_URL"] = spec.url
            search_env["CREDITREG_SEARCH_INDEX_PREFIX"] = spec.prefix
            search_env["CREDITREG_SEARCH_TIMEOUT"] = "60"
        api_rows = args.api_screening_rows
        signer = RequestSigner(work.key_id, work.private_key)
        port = free_port()
        server = start_server(
            work.url,
            port,
            args.server_threads,
            {"CREDITREG_SCREENING_SYNC_MAX_ROWS": str(max(api_rows, 1000)), **search_env},
        )
        watch.watch("server", server.pid)
        print(f"{kind}: lookups, bare and through the API", file=sys.stderr)
        watch.enter("lookups")
        run.bare, run.api, differ = paired_lookups(engine, backend, port, signer, work.queries)
        health, by_id = reference_requests(port, signer, [s.id for s in work.samples], 100)
        print(
            f"  API lookups p50 {run.api.p('all', 0.5):.2f} ms"
            f" (bare {run.bare.p('all', 0.5):.2f} ms)",
            file=sys.stderr,
        )
        if api_rows:
            print(f"{kind}: API screening of {api_rows:,} rows", file=sys.stderr)
            watch.enter("API screening")
            raw_rows = [raw for _, raw in work.tagged[:api_rows]]
            run.api_screening = screen_through_api(port, signer, raw_rows)
        watch.forget("server")
        server.terminate()
        server.wait(timeout=30)
        server = None

        report_screening(report, run, args.screening_rows, api_rows)
        report_lookups(report, run, args.server_threads, differ, health, by_id)

        if args.profile:
            settings = {key.removeprefix("CREDITREG_"): value for key, value in search_env.items()}
            profile_all(
                work.url,
                engine,
                backend,
                settings,
                work.queries,
                work.rows,
                work.private_key,
                work.key_id,
            )
            screening = run.screening
            if screening and screening.slowest[1] and engine.dialect.name == "postgresql":
                seconds, statement, parameters = screening.slowest
                print(f"\n### slowest statement of the screening ({1000 * seconds:.0f} ms)\n")
                print("```")
                print(statement)
                print(parameters)
                print(explain(engine, statement, parameters))
                print("```")
        if kind in ENGINES:
            backend.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        watch.stop()
        if node is not None:
            print(f"stopping the {kind} node", file=sys.stderr)
            node.stop()
    run.memory = watch.peaks
    report_memory(report, run)
    return run


def index_backend(
    run: BackendRun,
    spec: BackendSpec,
    backend: Any,
    args: argparse.Namespace,
    work: Workload,
    watch: MemoryWatch,
    node_pid: int | None,
) -> None:
    """Drain the whole outbox into the backend with the parallel workers, timed."""
    engine = work.engine
    # A resumed run goes on where the stopped one left the outbox and the index.
    if not args.keep_index and reset_outbox(engine):
        print("outbox marked pending again", file=sys.stderr)
        maintain(engine)
    previous: dict[str, str | None] = {}
    if isinstance(backend, EngineBackend):
        if not args.keep_index:
            drop_bench_indices(backend)
        backend.ensure_index()
        if args.bulk_settings:
            previous = backend.begin_bulk_load()
            if all(previous.get(k) == v for k, v in BULK_LOAD_SETTINGS.items()):
                # A stopped run left them: what goes back at the end is the engine's own.
                previous = dict.fromkeys(BULK_LOAD_SETTINGS)
    workers = args.workers if engine.dialect.name == "postgresql" else 1
    batch = args.batch or BATCH_SIZE
    print(
        f"{run.kind}: indexing with {workers} worker(s), {batch} documents a batch",
        file=sys.stderr,
    )
    watch.enter("index")
    profile_dir = Path(tempfile.mkdtemp(prefix="bench-drain-")) if args.profile else None
    outbox = cast(sa.Table, SearchOutbox.__table__)
    pending = sa.select(sa.func.count()).where(outbox.c.processed_at.is_(None))
    reported = [0.0]

    def progress(seconds: float) -> None:
        if seconds - reported[0] < 30:
            return
        reported[0] = seconds
        with engine.connect() as connection:
            left = connection.execute(pending).scalar_one()
        done = work.subjects - left
        print(
            f"  index: {done:,}/{work.subjects:,} in {seconds:.0f} s", file=sys.stderr, flush=True
        )

    drained = drain_in_parallel(
        work.url,
        spec,
        workers=workers,
        batch=batch,
        profile_dir=profile_dir,
        node_pid=node_pid,
        progress=progress,
    )
    started = time.perf_counter()
    node_cpu = process_cpu(node_pid) if node_pid else None
    if isinstance(backend, EngineBackend):
        if args.bulk_settings:
            backend.end_bulk_load(previous)
        else:
            backend.refresh()
        if node_pid is not None:
            # A node started here is alone: a replica could never be assigned, and the
            # index would keep the node yellow, which a restart for --reuse waits out.
            backend.client.indices.put_settings(
                index=backend.alias, body={"index": {"number_of_replicas": 0}}
            )
    run.finish_seconds = time.perf_counter() - started
    node_after = process_cpu(node_pid) if node_pid else None
    if drained.node_cpu is not None and node_cpu is not None and node_after is not None:
        drained.node_cpu += node_after - node_cpu  # the refresh belongs to the indexing
    run.drained = drained
    run.documents = drained.rows
    run.index_seconds = drained.seconds + run.finish_seconds
    if engine.dialect.name == "postgresql" and run.kind == "sql":
        maintain(engine)  # the new search_documents rows, before they are searched
    if profile_dir is not None:
        print_profile(f"{run.kind}: indexing, {workers} worker(s)", drained.profiles)
        shutil.rmtree(profile_dir, ignore_errors=True)


def report_indexing(report: Report, run: BackendRun, args: argparse.Namespace) -> None:
    drained = run.drained
    if drained is None:
        return
    workers = drained.workers
    build = sum(w.build for w in workers)
    write = sum(w.write for w in workers)
    commit = sum(w.commit for w in workers)
    busy = build + write + commit
    batch = args.batch or BATCH_SIZE
    settings = "bulk-load settings, " if run.kind in ENGINES and args.bulk_settings else ""
    report.add(
        "| indexing from the outbox | documents | seconds | documents/s"
        " | worker time: build / write / commit | worker peak RSS MB |"
    )
    report.add("|---|---|---|---|---|---|")
    finish = (
        f" + {run.finish_seconds:.1f} s settings back and refresh" if run.finish_seconds else ""
    )
    resumed = f" (resumed: the last of {args.subjects:,})" if args.resume else ""
    report.add(
        f"| {len(workers)} worker(s), {batch} a batch, {settings}{run.kind}"
        f" | {run.documents:,}{resumed} | {drained.seconds:.1f}{finish}"
        f" | **{run.documents / run.index_seconds:,.0f}**"
        f" | {100 * build / busy:.0f} % / {100 * write / busy:.0f} % / {100 * commit / busy:.0f} %"
        f" | {max(w.peak_rss_mb for w in workers):,.0f} |"
    )
    report.add()
    # CPU is what a shared machine cannot hide: the rate its CPUs would allow if the
    # indexing had them to itself follows from the CPU each document costs.
    per_document = {"workers (Python)": sum(w.cpu for w in workers)}
    database = [w.database_cpu for w in workers]
    if all(cpu is not None for cpu in database):
        per_document["PostgreSQL"] = sum(cpu or 0.0 for cpu in database)
    if drained.node_cpu is not None:
        per_document["engine node"] = drained.node_cpu
    total = sum(per_document.values())
    cpus = os.cpu_count() or 1
    parts = ", ".join(
        f"{label} {1_000_000 * cpu / run.documents:,.0f}" for label, cpu in per_document.items()
    )
    report.add(
        f"- CPU per document, µs: {parts}; total {1_000_000 * total / run.documents:,.0f}"
        f" → at most {cpus * run.documents / total:,.0f} documents/s on {cpus} CPUs"
        f" (used {total / run.index_seconds:.2f} CPUs of {cpus} while indexing)"
    )
    report.add()


def report_screening(report: Report, run: BackendRun, rows: int, api_rows: int) -> None:
    screening = run.screening
    if screening is None and run.api_screening is None:
        return
    report.add("| screening | rows | seconds | rows/s | match / possible / none |")
    report.add("|---|---|---|---|---|")
    if screening is not None and screening.warm_up[0]:
        warm_rows, warm_seconds = screening.warm_up
        report.add(
            f"| in process, other rows first (warm-up, not the goal's) | {warm_rows:,}"
            f" | {warm_seconds:.1f} | {warm_rows / warm_seconds:,.1f} | |"
        )
    if screening is not None:
        report.add(
            "| in process: screen() over backend_search"
            f" (of which backend search {screening.search_seconds:.1f} s)"
            f" | {rows:,} | {screening.seconds:.1f}"
            f" | {rows / screening.seconds:,.1f} | {describe(screening.decisions)} |"
        )
    if run.api_screening is not None:
        seconds, decisions = run.api_screening
        report.add(
            f"| signed POST /api/v1/screening, synchronous | {api_rows:,} | {seconds:.1f}"
            f" | {api_rows / seconds:,.1f} | {describe(decisions)} |"
        )
    report.add()
    if screening is not None:
        report.add("| screening row kind, its rows screened alone | rows | ms per row |")
        report.add("|---|---|---|")
        for row_kind, (count, seconds) in sorted(screening.per_kind.items()):
            report.add(f"| {row_kind} | {count:,} | {1000 * seconds / count:.2f} |")
        report.add()


def report_lookups(
    report: Report,
    run: BackendRun,
    threads: int,
    differ: int,
    health: list[float],
    by_id: list[float],
) -> None:
    bare, api = run.bare, run.api
    assert bare is not None and api is not None
    count = len(bare.by_category["all"])
    report.add(
        f"| lookup ({count} queries, 1 connection, {threads} server threads)"
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
    if differ:
        report.add(f"- warning: {differ} lookups gave another total through the API than bare")
        report.add()


def report_memory(report: Report, run: BackendRun) -> None:
    """Peaks of each phase, sampled once a second."""
    report.add(
        "| memory, peak MB | node RSS (anon + mapped files) | node JVM heap used / max"
        " | registry server RSS | bench process RSS |"
    )
    report.add("|---|---|---|---|---|")
    for phase, labels in run.memory.items():
        if phase == "start":
            continue
        node = labels.get("node", {})
        server = labels.get("server", {})
        bench = labels.get("bench", {})
        node_rss = (
            f"{node['rss']:,.0f} ({node.get('anon', 0):,.0f} + {node.get('file', 0):,.0f})"
            if "rss" in node
            else ""
        )
        heap = f"{node['heap']:,.0f} / {node['heap_max']:,.0f}" if "heap" in node else ""
        processes = " | ".join(
            f"{values['rss']:,.0f}" if "rss" in values else "" for values in (server, bench)
        )
        report.add(f"| {phase} | {node_rss} | {heap} | {processes} |")
    report.add()


def agreement(
    reference: list[str], other: list[str], kinds: list[str]
) -> tuple[float, dict[str, int]]:
    """The share of rows with the same decision, and the differences by kind of row and
    decision ("name that exists nowhere: none → possible")."""
    same = sum(a == b for a, b in zip(reference, other, strict=True))
    differences: dict[str, int] = {}
    for a, b, kind in zip(reference, other, kinds, strict=False):
        if a != b:
            key = f"{kind}: {a} → {b}"
            differences[key] = differences.get(key, 0) + 1
    return same / len(reference), differences


def report_summary(
    report: Report, runs: list[BackendRun], args: argparse.Namespace, kinds: list[str]
) -> None:
    reference = next((r for r in runs if r.kind == "sql" and r.screening), None)
    report.add("### all backends")
    report.add()
    report.add(
        "| backend | indexing documents/s | verify | lookup p50 bare / API (ratio)"
        " | lookup p99 bare / API (ratio) | screening s per 10,000 rows"
        " | decisions as SQL | node RSS peak MB | node heap peak MB | server RSS peak MB |"
    )
    report.add("|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        if args.resume:
            rate = (
                f"{run.documents / run.index_seconds:,.0f} (the last {run.documents:,})"
                if run.documents
                else "(none left to index)"
            )
        else:
            rate = f"{run.documents / run.index_seconds:,.0f}" if run.index_seconds else "(reused)"
        lookups = ["", ""]
        if run.bare is not None and run.api is not None:
            for column, fraction in enumerate((0.5, 0.99)):
                b, a = run.bare.p("all", fraction), run.api.p("all", fraction)
                lookups[column] = f"{b:.2f} / {a:.2f} ms ({a / b:.2f}x)"
        per_10k = agreed = ""
        if run.screening is not None:
            per_10k = f"{10_000 * run.screening.seconds / args.screening_rows:.1f}"
            if reference is not None and reference is not run:
                share, differences = agreement(
                    reference.screening.per_row, run.screening.per_row, kinds
                )
                agreed = f"{100 * share:.2f} %" + (
                    " (" + ", ".join(f"{k}: {v}" for k, v in sorted(differences.items())) + ")"
                    if differences
                    else ""
                )
        peaks = [
            max((p.get(label, {}).get(key, 0.0) for p in run.memory.values()), default=0.0)
            for label, key in (("node", "rss"), ("node", "heap"), ("server", "rss"))
        ]
        memory = " | ".join(f"{peak:,.0f}" if peak else "" for peak in peaks)
        verified = ("clean" if run.verify_clean else "NOT CLEAN") if args.verify else "(not run)"
        report.add(
            f"| {run.kind} {run.version} | {rate} | {verified}"
            f" | {lookups[0]} | {lookups[1]} | {per_10k} | {agreed} | {memory} |"
        )
    report.add()
    report.add(
        "Goals: indexing >= 10,000 documents/s; lookup through the signed API <= 1.5x the bare"
        " query, p50 and p99; screening 10,000 rows <= 30 s (at 1,000,000 subjects), with the"
        " SQL backend's decisions."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", type=parse_backends, default=["sql"])
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20151001)
    parser.add_argument(
        "--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--screening-rows", type=int, default=10_000)
    parser.add_argument(
        "--screening-rows-at-once",
        type=positive,
        default=ROWS_AT_ONCE,
        help=f"rows whose asks go to the backend together (default {ROWS_AT_ONCE}; 1: row by row)",
    )
    parser.add_argument(
        "--screening-warm-up-rows",
        type=int,
        default=0,
        help="other rows screened before the measured ones, timed apart (default 0)",
    )
    parser.add_argument(
        "--api-screening-rows",
        type=int,
        default=2_000,
        help="rows of the synchronous POST /api/v1/screening (0: skip)",
    )
    parser.add_argument("--server-threads", type=int, default=4)
    parser.add_argument(
        "--workers", type=int, default=2, help="drain worker processes (PostgreSQL; SQLite: 1)"
    )
    parser.add_argument(
        "--batch", type=int, default=0, help=f"outbox rows a batch (default {BATCH_SIZE})"
    )
    parser.add_argument(
        "--no-bulk-settings",
        dest="bulk_settings",
        action="store_false",
        help="index into an engine with its serving settings (refresh, replicas, translog)",
    )
    parser.add_argument(
        "--engine-url",
        action="append",
        default=[],
        metavar="[ENGINE=]URL",
        help="an external cluster instead of a node started here (repeatable)",
    )
    parser.add_argument("--engine-heap", default="2g", help="JVM heap of a node started here")
    parser.add_argument(
        "--engine-data",
        default=str(Path(tempfile.gettempdir()) / "creditreg-bench-engines"),
        help="where started nodes keep their data (kept for --reuse)",
    )
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure again on the database (and the engines' data) an earlier run loaded "
        "and indexed (same --subjects, --seed, --database-url, --engine-data): no load, "
        "no indexing",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="finish a run that was stopped (same --subjects, --seed, --database-url, "
        "--engine-data, one engine or sql): load the subjects not loaded yet, index the "
        "outbox rows still pending into the index it left, then measure",
    )
    parser.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="skip `search verify` (at ten million subjects, a quarter of an hour here)",
    )
    args = parser.parse_args()
    if args.resume and (args.reuse or len(args.backend) != 1):
        parser.error("--resume: one backend, and not with --reuse")
    engine_urls = parse_engine_urls(args.engine_url, args.backend)
    command = " ".join([".venv/bin/python bench/search.py", *sys.argv[1:]])
    report = Report()

    if args.reuse or args.resume:
        url = args.database_url or sa.make_url(args.admin_url).set(
            database=BENCH_DB
        ).render_as_string(hide_password=False)
    else:
        url = prepare_database(args)
    engine = make_engine(url, pool_size=2)
    migrate.upgrade(engine)
    # The engines' data and index an earlier run left are kept when measuring them again,
    # and when resuming a run that had begun indexing; otherwise a backend starts afresh.
    args.keep_index = args.reuse or (args.resume and indexing_begun(engine))
    keep = sample_indexes(args.subjects, 2000, args.seed)
    report.add(
        f"## bench/search.py: {args.subjects:,} subjects, {engine.dialect.name},"
        f" backends {', '.join(args.backend)}"
    )
    report.add()
    report.add(f"command: `{command}`")
    report.add()

    if args.reuse:
        # The same seed generates the same subjects: their samples, without loading them.
        print(f"reusing {engine.url.database}; regenerating the samples", file=sys.stderr)
        samples = [s for _, _, chunk in generate(args.subjects, args.seed, keep) for s in chunk]
    else:
        loaded = 0
        if args.resume:
            with engine.connect() as connection:
                loaded = connection.scalar(sa.select(sa.func.count()).select_from(Subject)) or 0
        print(
            f"loading {args.subjects - loaded:,} subjects into {engine.url.database}"
            + (f" ({loaded:,} loaded before)" if loaded else ""),
            file=sys.stderr,
        )
        load_seconds, samples = load(engine, args.subjects, args.seed, keep, loaded=loaded)
        # Also when resuming a complete load: the stopped run may not have got this far.
        maintain(engine)
        if loaded < args.subjects:
            how = (
                "COPY (registry.db.copy_rows)"
                if engine.dialect.name == "postgresql"
                else "Core executemany"
            )
            resumed = f" (resumed: {loaded:,} loaded before)" if loaded else ""
            report.add(
                f"- load ({how}: subjects, names, outbox): {args.subjects - loaded:,}"
                f" subjects in {load_seconds:.1f} s,"
                f" {(args.subjects - loaded) / load_seconds:,.0f} subjects/s{resumed}"
            )
            report.add()

    tagged = make_screening(samples, max(args.screening_rows, args.api_screening_rows), args.seed)
    rows = normalised([raw for _, raw in tagged])
    # Another seed: other samples, other names that exist nowhere.
    warm_up_rows = normalised(
        [raw for _, raw in make_screening(samples, args.screening_warm_up_rows, args.seed + 1)]
    )
    _, private_key, key_id = admit_member(url, name="基准查询银行", roles=["querier"])
    work = Workload(
        url,
        engine,
        args.subjects,
        samples,
        make_lookups(samples, args.lookups, args.seed),
        tagged,
        rows,
        warm_up_rows,
        private_key,
        key_id,
    )
    runs = []
    for kind in args.backend:
        runs.append(run_backend(kind, args, work, report, engine_urls))
    report_summary(report, runs, args, [kind for kind, _ in tagged])
    engine.dispose()
    print()
    report.print()


def normalised(raw_rows: list[dict[str, Any]]) -> list[ScreeningRow]:
    rows = []
    for raw in raw_rows:
        row, errors = normalise_row(raw)
        if errors:
            raise SystemExit(f"bad screening row {raw}: {errors}")
        rows.append(row)
    return rows


def describe(decisions: dict[str, int]) -> str:
    return " / ".join(f"{decisions.get(k, 0):,}" for k in ("match", "possible", "none"))


if __name__ == "__main__":
    main()
