"""The settings table, the profiles and the loading pipeline.

Order of precedence, lowest first: the defaults in ``SETTINGS`` -> the profile's defaults ->
an optional TOML file (``CREDITREG_CONFIG``) -> ``CREDITREG_<KEY>`` environment variables ->
explicit overrides (tests, CLI). Every value is coerced and checked, and all problems are
reported together in one :class:`ConfigError` whose message names each bad key.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import os
import re
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

log = logging.getLogger(__name__)

ENV_PREFIX = "CREDITREG_"
# Environment variables with our prefix that are not settings: they choose how settings are
# loaded, or configure the test suite or the benchmarks. They must not be reported as unknown keys.
RESERVED_ENV = {"CREDITREG_CONFIG", "CREDITREG_PROFILE"}
RESERVED_ENV_PREFIXES = ("CREDITREG_TEST_", "CREDITREG_BENCH_")

PROFILES = ("dev", "test", "production")


class ConfigError(Exception):
    """The configuration cannot be used; the message names every offending key."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration:\n  - " + "\n  - ".join(problems))


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected a boolean (true/false, 1/0, yes/no, on/off)")


def _parse_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("expected an integer")
    if isinstance(raw, int):
        return raw
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ValueError("expected an integer") from None


def _parse_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError("expected a number")
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise ValueError("expected a number") from None


def _parse_str(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("expected a string")
    return raw


def _key_bytes(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _parse_key32(raw: Any) -> str:
    text = _parse_str(raw)
    try:
        key = _key_bytes(text)
    except ValueError:
        raise ValueError("expected base64url text") from None
    if len(key) != 32:
        raise ValueError("expected the base64url encoding of exactly 32 bytes")
    return text


KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")
KEY_ID_RULE = "1 to 32 letters, digits, '.', '_' or '-'"


def _parse_key_id(raw: Any) -> str:
    text = _parse_str(raw).strip()
    if not KEY_ID.fullmatch(text):
        raise ValueError(f"a key id is {KEY_ID_RULE}")
    return text


def _parse_keyring(raw: Any) -> dict[str, str]:
    """Named keys as ``id:key,id:key`` (each key the base64url of 32 bytes), or a TOML table.

    The message of a bad entry names its position, never the key.
    """
    if isinstance(raw, Mapping):
        pairs = [(str(k), v) for k, v in raw.items()]
    else:
        entries = [e.strip() for e in _parse_str(raw).split(",") if e.strip()]
        pairs = [(name, key) for name, _, key in (e.partition(":") for e in entries)]
    ring: dict[str, str] = {}
    for position, (key_id, key) in enumerate(pairs, start=1):
        try:
            name = _parse_key_id(key_id)
            ring[name] = _parse_key32(key)
        except ValueError as exc:
            raise ValueError(f"entry {position} (id:key): {exc}") from None
    return ring


def _parse_list(
    raw: Any, parse: Callable[[str], Any], example: str, parsed_kind: type | None = None
) -> list[Any]:
    """Each item of a comma-separated list (or a TOML list), parsed; a TOML value that is
    already of ``parsed_kind`` is kept as it is."""
    items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    parsed = []
    for item in items:
        if parsed_kind is not None and isinstance(item, parsed_kind):
            parsed.append(item)
            continue
        text = str(item).strip()
        if not text:
            continue
        try:
            parsed.append(parse(text))
        except ValueError:
            raise ValueError(f"{text!r} is not {example}") from None
    return parsed


def _parse_dates(raw: Any) -> tuple[date, ...]:
    """A comma-separated list of ISO dates (a TOML list of dates or strings works too)."""
    dates = _parse_list(raw, date.fromisoformat, "a date like 2026-10-01", parsed_kind=date)
    return tuple(sorted(set(dates)))


def _parse_names(raw: Any) -> tuple[str, ...]:
    """A comma-separated list of names (a TOML list works too), in the order given, once each."""
    names = _parse_list(raw, lambda text: text, "a name")
    return tuple(dict.fromkeys(names))


def _parse_days(raw: Any) -> tuple[int, ...]:
    """A comma-separated list of day counts (a TOML list works too), each at least 1,
    shortest first, once each."""
    days = _parse_list(raw, int, "a whole number of days", parsed_kind=int)
    if any(d < 1 for d in days):
        raise ValueError("every number of days must be at least 1")
    return tuple(sorted(set(days)))


def _parse_networks(raw: Any) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """A comma-separated list of networks in CIDR notation (a TOML list works too)."""
    return tuple(_parse_list(raw, ipaddress.ip_network, "a network like 10.20.0.0/16"))


PARSERS: dict[str, Callable[[Any], Any]] = {
    "dates": _parse_dates,
    "names": _parse_names,
    "days": _parse_days,
    "networks": _parse_networks,
    "bool": _parse_bool,
    "int": _parse_int,
    "float": _parse_float,
    "str": _parse_str,
    "key32": _parse_key32,
    "key_id": _parse_key_id,
    "keyring": _parse_keyring,
}


@dataclass(frozen=True)
class Setting:
    key: str
    kind: str
    default: Any
    help: str
    secret: bool = False
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    optional: bool = False

    @property
    def env_name(self) -> str:
        return ENV_PREFIX + self.key

    def parse(self, raw: Any) -> Any:
        if raw is None or (self.optional and raw == ""):
            if self.optional:
                return None
            raise ValueError("a value is required")
        value = PARSERS[self.kind](raw)
        if self.choices is not None:
            # A list setting's choices apply to each of its items.
            for item in value if isinstance(value, tuple) else (value,):
                if item not in self.choices:
                    shown = f"{item!r}: " if isinstance(value, tuple) else ""
                    raise ValueError(f"{shown}expected one of {', '.join(self.choices)}")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be at least {self.minimum:g}")
        return value


# The record categories (registry.records.RecordCategory, which a test keeps equal): the
# settings are read before the domain is imported.
RECORD_CATEGORIES = (
    "administrative_licence",
    "administrative_penalty",
    "court_judgment",
    "dishonest_debtor",
    "tax_arrears",
    "contract_performance",
    "payment_experience",
    "loan_default",
    "honour",
    "credit_commitment",
    "consumer_complaint",
)
# Events that last until they end: a debt is unpaid, a judgment unperformed, until it is not.
OPEN_ENDED_CATEGORIES = (
    "loan_default",
    "tax_arrears",
    "dishonest_debtor",
    "court_judgment",
    "contract_performance",
    "payment_experience",
)

# Categories whose amounts about a person (tax, income, deposits, property) need the person's
# written consent; the registry's records carry tax amounts only in tax arrears.
PERSON_AMOUNT_CONSENT_CATEGORIES = ("tax_arrears",)

# Development secrets are fixed rather than random so that hashes of identity numbers stay
# stable across restarts of a demo; production refuses every one of them.
DEFAULT_SECRETS = {
    "SECRET_KEY": "insecure-development-secret-key",
    "IDENTITY_HASH_KEY": "insecure-development-identity-hash-key",
    "IDENTITY_ENCRYPTION_KEY": base64.urlsafe_b64encode(b"insecure-development-aes-key-32b")
    .decode()
    .rstrip("="),
    "REGISTRY_SIGNING_KEY": base64.urlsafe_b64encode(b"insecure-development-ed25519-key")
    .decode()
    .rstrip("="),
    "EVIDENCE_ENCRYPTION_KEY": base64.urlsafe_b64encode(b"insecure-development-evidence-32")
    .decode()
    .rstrip("="),
}

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "SECRET_KEY",
        "str",
        DEFAULT_SECRETS["SECRET_KEY"],
        "Signs console sessions and CSRF tokens.",
        secret=True,
    ),
    Setting(
        "IDENTITY_HASH_KEY",
        "str",
        DEFAULT_SECRETS["IDENTITY_HASH_KEY"],
        "HMAC key for the keyed hash of personal ID numbers (used for matching).",
        secret=True,
    ),
    Setting(
        "IDENTITY_ENCRYPTION_KEY",
        "key32",
        DEFAULT_SECRETS["IDENTITY_ENCRYPTION_KEY"],
        "AES-256-GCM key (base64url, 32 bytes) for the encrypted copy of ID numbers.",
        secret=True,
    ),
    Setting(
        "REGISTRY_SIGNING_KEY",
        "key32",
        DEFAULT_SECRETS["REGISTRY_SIGNING_KEY"],
        "The registry's Ed25519 signing key (base64url of the 32-byte seed): signs receipts.",
        secret=True,
    ),
    Setting(
        "EVIDENCE_ENCRYPTION_KEY",
        "key32",
        DEFAULT_SECRETS["EVIDENCE_ENCRYPTION_KEY"],
        "AES-256-GCM key (base64url, 32 bytes) that seals the stored body of every signed "
        "request (it holds ID numbers).",
        secret=True,
    ),
    Setting(
        "EVIDENCE_ENCRYPTION_KEY_ID",
        "key_id",
        "k1",
        "Name of EVIDENCE_ENCRYPTION_KEY, stored with each body it seals; give a new key a "
        "new name.",
    ),
    Setting(
        "EVIDENCE_ENCRYPTION_OLD_KEYS",
        "keyring",
        None,
        "Earlier evidence keys, kept to open the bodies they sealed: id:key,id:key.",
        secret=True,
        optional=True,
    ),
    Setting(
        "DATABASE_URL",
        "str",
        None,
        "SQLAlchemy URL of the system of record; default: SQLite file VAR_DIR/creditreg.db.",
        optional=True,
    ),
    Setting(
        "DATABASE_PASSWORD",
        "str",
        None,
        "Password of DATABASE_URL's user, put into the URL percent-encoded, so that it may "
        "hold any character (@ / : % # ?); the URL then names the user without a password.",
        secret=True,
        optional=True,
    ),
    Setting(
        "REGISTRY_TIMEZONE",
        "str",
        "Asia/Shanghai",
        "IANA time zone of the registry's calendar: 'today', decision days, deadlines.",
    ),
    Setting(
        "VAR_DIR",
        "str",
        "var",
        "Directory for the SQLite database and other local state; a relative path is taken "
        "from the instance directory (the source checkout, or <prefix>/var/creditreg-instance "
        "when installed), never from the working directory.",
    ),
    Setting("DATABASE_POOL_SIZE", "int", 5, "Connection pool size (PostgreSQL).", minimum=1),
    Setting(
        "SEARCH_BACKEND",
        "str",
        "sql",
        "Search engine: sql (embedded), opensearch or elasticsearch.",
        choices=("sql", "opensearch", "elasticsearch"),
    ),
    Setting(
        "SEARCH_URL", "str", None, "URL of the OpenSearch/Elasticsearch cluster.", optional=True
    ),
    Setting(
        "SEARCH_PASSWORD",
        "str",
        None,
        "Password of SEARCH_URL's user, put into the URL percent-encoded, as DATABASE_PASSWORD "
        "is into DATABASE_URL.",
        secret=True,
        optional=True,
    ),
    Setting(
        "SEARCH_CA_CERTS",
        "str",
        None,
        "CA bundle (PEM file) the cluster's certificates are checked against, for an https "
        "SEARCH_URL; unset: the client's usual trusted CAs.",
        optional=True,
    ),
    Setting("SEARCH_INDEX_PREFIX", "str", "creditreg", "Prefix of every index and alias name."),
    Setting(
        "SEARCH_INDEX_SHARDS",
        "int",
        1,
        "Primary shards of each new versioned index (an engine): fixed at creation, so a "
        "change applies from the next `search reindex`. About 20-25 GB a shard: one holds "
        "some 25 million subjects.",
        minimum=1,
    ),
    Setting(
        "SEARCH_INDEX_REPLICAS",
        "int",
        None,
        "Replica copies of each shard of a new index (an engine); unset, the cluster's index "
        "template or its default (1) decides. 0 on a single node, where a replica is never "
        "placed.",
        minimum=0,
        optional=True,
    ),
    Setting(
        "SEARCH_TIMEOUT", "float", 5.0, "Seconds before a search request gives up.", minimum=0.1
    ),
    Setting("HOST", "str", "127.0.0.1", "Address `creditreg serve` listens on."),
    Setting(
        "TRUSTED_PROXIES",
        "int",
        0,
        "Reverse proxies in front of the app whose X-Forwarded-For, -Proto and -Host give "
        "the client's address and the scheme and host it used (0: those of the connection; "
        "set it behind a proxy, or every client counts as the proxy in the per-address "
        "limits, and a request signed for https:// is checked as http://).",
        minimum=0,
    ),
    Setting("PORT", "int", 8000, "Port `creditreg serve` listens on (PORT also works).", minimum=1),
    Setting("SERVER_THREADS", "int", 8, "Threads of the embedded server.", minimum=1),
    Setting(
        "LOG_LEVEL", "str", "INFO", "Logging level.", choices=("DEBUG", "INFO", "WARNING", "ERROR")
    ),
    Setting(
        "WORKER_POLL_INTERVAL",
        "float",
        1.0,
        "Seconds between two rounds of the worker.",
        minimum=0.05,
    ),
    Setting(
        "PASSWORD_HASH_TIME_COST", "int", 3, "Argon2id iterations for staff passwords.", minimum=1
    ),
    Setting(
        "PASSWORD_HASH_MEMORY_KIB", "int", 65536, "Argon2id memory for staff passwords.", minimum=8
    ),
    Setting(
        "PASSWORD_HASH_CONCURRENCY",
        "int",
        2,
        "Staff password hashes or checks one process runs at the same time.",
        minimum=1,
    ),
    Setting(
        "PASSWORD_HASH_WAIT_SECONDS",
        "float",
        1.0,
        "Seconds a password check waits for a free hashing slot before the request is "
        "answered 503.",
        minimum=0.0,
    ),
    Setting(
        "SIGNATURE_CLOCK_SKEW",
        "int",
        60,
        "Seconds of clock difference tolerated on a signature's created and expires.",
        minimum=0,
    ),
    Setting(
        "SIGNATURE_MAX_VALIDITY",
        "int",
        300,
        "Longest a member signature may be valid (expires - created), in seconds.",
        minimum=1,
    ),
    Setting("SUBMISSION_MAX_RECORDS", "int", 1000, "Most records in one submission.", minimum=1),
    Setting(
        "RATE_LIMIT_PER_MINUTE",
        "int",
        600,
        "Signed requests a member may make per minute (0: no limit).",
        minimum=0,
    ),
    Setting("SCREENING_MAX_ROWS", "int", 10000, "Most rows in one screening request.", minimum=1),
    Setting(
        "SCREENING_SYNC_MAX_ROWS",
        "int",
        1000,
        "Screenings up to this many rows are answered at once; larger ones become jobs.",
        minimum=1,
    ),
    Setting(
        "SCREENING_MATCH_THRESHOLD",
        "float",
        0.85,
        "Score from which a screening row is decided a match.",
        minimum=0.0,
    ),
    Setting(
        "SCREENING_POSSIBLE_THRESHOLD",
        "float",
        0.6,
        "Score from which a screening row is a possible match (below: none).",
        minimum=0.0,
    ),
    # Seller ratings (DOMAIN.md "Seller ratings"): intake rules, summaries, moderation.
    Setting(
        "SELLER_RATING_WINDOW_DAYS",
        "int",
        90,
        "Days after an order within which its buyer may rate it.",
        minimum=1,
    ),
    Setting(
        "SELLER_RATING_SUMMARY_WINDOWS",
        "days",
        "30,90,365",
        "The rolling windows, in days, a shop's rating summary is given for besides its "
        "lifetime (comma-separated; the longest also decides whether the monthly trend shows).",
    ),
    Setting(
        "SELLER_RATING_MIN_COUNT",
        "int",
        10,
        "Ratings a shop needs in a window before its summary is shown.",
        minimum=1,
    ),
    Setting(
        "SELLER_RATING_SAME_BUYER_DAYS",
        "int",
        7,
        "Repeated ratings of a shop by one buyer within this many days count once.",
        minimum=1,
    ),
    Setting("SELLER_RATING_BATCH_MAX", "int", 1000, "Most ratings in one batch.", minimum=1),
    Setting(
        "SELLER_RATING_BURST_PER_DAY",
        "int",
        50,
        "Ratings of one shop dated on one day from which they are flagged for review.",
        minimum=2,
    ),
    Setting(
        "SELLER_RATING_BUYER_MAX",
        "int",
        10,
        "Ratings from one buyer hash within SELLER_RATING_BUYER_DAYS that are flagged.",
        minimum=2,
    ),
    Setting(
        "SELLER_RATING_BUYER_DAYS",
        "int",
        30,
        "The span of days SELLER_RATING_BUYER_MAX counts over.",
        minimum=1,
    ),
    Setting(
        "SELLER_RATING_TEXT_DUPLICATES",
        "int",
        3,
        "Orders carrying the same rating text from which they are flagged.",
        minimum=2,
    ),
    Setting(
        "SELLER_RATING_TEXT_MIN_CHARS",
        "int",
        10,
        "Shorter texts (letters and digits) are not compared for duplicates.",
        minimum=1,
    ),
    Setting(
        "SELLER_RATING_POSITIVE_FROM",
        "int",
        4,
        "An overall score (1-5) of at least this is positive in a shop's positive share.",
        minimum=2,
    ),
    Setting(
        "SELLER_RATING_NEGATIVE_UP_TO",
        "int",
        2,
        "An overall score (1-5) of at most this is negative; the scores between the two are "
        "neutral (in the distribution and the averages, not in the share).",
        minimum=1,
    ),
    Setting(
        "REPORT_AVAILABLE_DAYS",
        "int",
        30,
        "Days a generated report can be fetched again (as JSON, HTML, PDF) before it expires.",
        minimum=1,
    ),
    Setting(
        "OWN_REPORTS_FREE_PER_YEAR",
        "int",
        2,
        "Own reports a subject gets free each calendar year (then refused until 1 January).",
        minimum=0,
    ),
    Setting(
        "RATING_SCORECARD",
        "str",
        "2026-01",
        "Scorecard version rating proposals use: config/scorecards/<version>.toml.",
    ),
    Setting(
        "RATING_AUTO_APPROVE_UNCHANGED",
        "bool",
        False,
        "Publish a new rating proposal without review when its grade equals the published one "
        "(recorded as approved by the system, reason 'grade unchanged').",
    ),
    Setting(
        "RATING_SECOND_REVIEW_FROM_GRADES",
        "int",
        1,
        "An override this many grades or more from the scorecard's grade waits for a second "
        "reviewer (1: every override, four eyes on any change).",
        minimum=1,
    ),
    Setting(
        "LIST_APPROVALS_BLACKLIST",
        "int",
        2,
        "Distinct reviewers who must approve an entry on a blacklist of any kind.",
        minimum=1,
    ),
    Setting(
        "LIST_APPROVALS_REDLIST",
        "int",
        1,
        "Distinct reviewers who must approve a redlist entry.",
        minimum=1,
    ),
    Setting(
        "PILOT_USCCS",
        "names",
        "91350100M0001TGQXM",
        "USCCs issued in the pilot before the check character was fixed, accepted with the "
        "warning uscc.pilot_checksum (comma-separated); any other bad check character is "
        "refused.",
    ),
    Setting(
        "LIST_KINDS_FILE",
        "str",
        "",
        "TOML file of the list kinds' rules (period, extension, repair, publicity); empty: "
        "the shipped config/list_kinds.toml.",
    ),
    Setting(
        "JOINT_MEASURES_FILE",
        "str",
        "",
        "TOML catalogue of the joint measures (联合奖惩) a list entry names and members report "
        "applying: code, text, legal basis, the list kinds each attaches to; empty: the "
        "shipped config/joint_measures.toml.",
    ),
    # Retention and publication periods (DOMAIN.md): registry.retention applies them.
    Setting(
        "RETENTION_NEGATIVE_YEARS",
        "int",
        5,
        "Years from the end of the event after which a negative record leaves reports, "
        "lookups and the index for the sealed archive.",
        minimum=1,
    ),
    Setting(
        "RETENTION_OPEN_CATEGORIES",
        "names",
        ",".join(OPEN_ENDED_CATEGORIES),
        "Record categories whose event goes on until it ends (an unpaid default, unpaid tax): "
        "a negative record of these without an end (ended_at) is kept until its submitter "
        "sends the end, and its 5 years count from there (comma-separated category names).",
        choices=RECORD_CATEGORIES,
    ),
    Setting(
        "PERSON_AMOUNT_CONSENT_CATEGORIES",
        "names",
        ",".join(PERSON_AMOUNT_CONSENT_CATEGORIES),
        "Record categories whose amount about a person (income, deposits, property, tax) is "
        "accepted only with the reference of the person's written consent "
        "(consent_reference); comma-separated category names.",
        choices=RECORD_CATEGORIES,
    ),
    Setting(
        "PERSON_NOTICE_WAIT_DAYS",
        "int",
        10,
        "Days after the registry's own notice to a person (recorded by staff: creditreg "
        "persons notice-served) before a negative record on that person, held until the "
        "person is told, is shared; a submitter's confirmation that the person was told ends "
        "the hold at once.",
        minimum=1,
    ),
    Setting(
        "OPEN_RECORD_CONFIRM_DAYS",
        "int",
        365,
        "Days a negative record of RETENTION_OPEN_CATEGORIES may stay open (no end) before its "
        "submitter is asked to confirm it is still open; each confirmation starts the days "
        "again.",
        minimum=1,
    ),
    Setting(
        "PUBLICITY_WORKING_DAYS",
        "int",
        7,
        "Working days after its decision within which an administrative licence or penalty "
        "is to be published (双公示); one the registry receives later is accepted and marked "
        "late.",
        minimum=1,
    ),
    Setting(
        "PENALTY_PUBLICATION_MONTHS_MINOR",
        "int",
        3,
        "Most months a minor administrative penalty could be published (minor ones are "
        "never shown publicly; the end is still marked).",
        minimum=1,
    ),
    Setting(
        "PENALTY_PUBLICATION_MONTHS_GENERAL",
        "int",
        12,
        "Months from the decision after which a general administrative penalty stops being "
        "published.",
        minimum=1,
    ),
    Setting(
        "PENALTY_PUBLICATION_MONTHS_SERIOUS",
        "int",
        36,
        "Months from the decision after which a serious administrative penalty stops being "
        "published.",
        minimum=1,
    ),
    Setting(
        "PENALTY_REPAIR_MONTHS_GENERAL",
        "int",
        3,
        "Months from its decision a general administrative penalty stays published before the "
        "subject may apply for credit repair (信用修复) to end its publication early.",
        minimum=0,
    ),
    Setting(
        "PENALTY_REPAIR_MONTHS_SERIOUS",
        "int",
        12,
        "Months from its decision a serious administrative penalty stays published before the "
        "subject may apply for credit repair to end its publication early.",
        minimum=0,
    ),
    Setting(
        "OBJECTION_WINDOW_WORKING_DAYS",
        "int",
        10,
        "Working days the subject has to object after the prior notice.",
        minimum=1,
    ),
    Setting(
        "OBJECTION_ANSWER_DAYS",
        "int",
        20,
        "Calendar days the submitting member has to answer an objection (异议) to a record "
        "or a published list entry; unanswered, it is escalated to the reviewers.",
        minimum=1,
    ),
    Setting(
        "REPAIR_ACK_WORKING_DAYS",
        "int",
        10,
        "Working days within which the registry acknowledges a repair application; an "
        "application unacknowledged after them is escalated and shown late.",
        minimum=1,
    ),
    Setting(
        "REPAIR_DECISION_WORKING_DAYS",
        "int",
        3,
        "Working days the authority has to decide an acknowledged repair application; an "
        "application undecided after them is escalated and shown late.",
        minimum=1,
    ),
    Setting(
        "NOTIFY_SENDER",
        "str",
        "log",
        "How notices go out: log (written to the log) or email (through SMTP_HOST).",
        choices=("log", "email"),
    ),
    Setting("SMTP_HOST", "str", "localhost", "SMTP server for the email sender."),
    Setting("SMTP_PORT", "int", 25, "SMTP port for the email sender.", minimum=1),
    Setting("NOTIFY_FROM", "str", "registry@localhost", "Sender address of notices."),
    Setting(
        "CALENDAR_DIR",
        "str",
        "",
        "Folder of the public-holiday calendars staff add (`creditreg calendar add`), one "
        "<year>.toml each, beside the years shipped in config/calendars.",
    ),
    Setting(
        "HOLIDAYS",
        "dates",
        "",
        "Single public holidays added to the published calendars (comma-separated ISO "
        "dates), for deadlines counted in working days.",
    ),
    Setting(
        "MAKEUP_WORKDAYS",
        "dates",
        "",
        "Weekend days that are working days (调休), comma-separated ISO dates.",
    ),
    # Portfolio monitoring and its webhooks (DOMAIN.md "Monitoring and screening").
    Setting(
        "MONITORING_PORTFOLIO_MAX",
        "int",
        100_000,
        "Most subjects one member may watch.",
        minimum=1,
    ),
    Setting(
        "MONITORING_WEBHOOK_ALLOW_HTTP_LOOPBACK",
        "bool",
        False,
        "Accept http:// webhook URLs on 127.0.0.1, ::1 or localhost (tests, local use); "
        "production refuses it.",
    ),
    Setting(
        "MONITORING_WEBHOOK_PUBLIC_ONLY",
        "bool",
        True,
        "Send webhooks to public internet addresses only: a URL whose host is or resolves "
        "to a loopback, private, link-local (cloud metadata), shared or reserved address is "
        "refused at registration, and again at each delivery, which connects to the address "
        "it checked. Off in dev and test; production refuses to turn it off.",
    ),
    Setting(
        "MONITORING_WEBHOOK_ALLOWED_NETWORKS",
        "networks",
        "",
        "Non-public networks (comma-separated CIDR) webhook receivers may be in all the "
        "same, e.g. a member's private line; production refuses loopback, link-local and "
        "metadata addresses in it.",
    ),
    Setting(
        "MONITORING_WEBHOOK_TIMEOUT",
        "float",
        5.0,
        "Seconds a webhook receiver has to answer an attempt.",
        minimum=0.05,
    ),
    Setting(
        "MONITORING_WEBHOOK_MAX_ATTEMPTS",
        "int",
        10,
        "Attempts of one delivery before it is marked failed.",
        minimum=1,
    ),
    Setting(
        "MONITORING_WEBHOOK_BACKOFF",
        "float",
        30.0,
        "Seconds before a failed delivery's second attempt; doubled for each further one.",
        minimum=0.0,
    ),
    Setting(
        "MONITORING_WEBHOOK_BACKOFF_MAX",
        "float",
        3600.0,
        "The longest wait between two attempts of a delivery, in seconds.",
        minimum=0.0,
    ),
    Setting(
        "MONITORING_WEBHOOK_BATCH", "int", 100, "Most events in one webhook delivery.", minimum=1
    ),
    Setting(
        "MONITORING_WEBHOOK_CONCURRENCY",
        "int",
        8,
        "Deliveries a worker sends at the same time (to different members).",
        minimum=1,
    ),
    # The staff console and the public pages (admin/).
    Setting(
        "CONSOLE_LOGIN_MAX_FAILURES",
        "int",
        5,
        "Failed console sign-ins in a row of one username from one client address after which "
        "that address must wait before trying the name again.",
        minimum=1,
    ),
    Setting(
        "CONSOLE_LOCKOUT_MINUTES",
        "int",
        15,
        "Minutes of the first wait; each further failure from the address doubles it.",
        minimum=1,
    ),
    Setting(
        "CONSOLE_LOCKOUT_MAX_MINUTES",
        "int",
        1440,
        "The longest wait, in minutes; failures are forgotten after as long without one.",
        minimum=1,
    ),
    Setting(
        "CONSOLE_LOGIN_RATE_LIMIT_PER_MINUTE",
        "int",
        20,
        "Console sign-in attempts one client address may make per minute, counted in the "
        "database across every worker process, before any password is checked.",
        minimum=1,
    ),
    Setting(
        "CONSOLE_IDLE_MINUTES",
        "int",
        30,
        "Minutes without a request after which a console session ends.",
        minimum=1,
    ),
    Setting(
        "PUBLIC_RATE_LIMIT_PER_MINUTE",
        "int",
        120,
        "Public page requests one client address may make per minute, counted in each "
        "worker process (0: no limit).",
        minimum=0,
    ),
    # The transparency log (registry.tlog).
    Setting(
        "REGISTRY_NAME",
        "str",
        "creditreg.localhost",
        "The registry's name (a host name): the transparency log's origin is <name>/log "
        "unless TLOG_ORIGIN says otherwise.",
    ),
    Setting(
        "PUBLIC_BASE_URL",
        "str",
        None,
        "Where the public reaches the registry (https://host[:port]), for the links it "
        "publishes, such as the Atom feeds' ids; default: https://REGISTRY_NAME.",
        optional=True,
    ),
    Setting(
        "TLOG_ORIGIN",
        "str",
        None,
        "Origin line of the transparency log's checkpoints, and the name of the key that "
        "signs them; default: REGISTRY_NAME/log. Never change it once checkpoints are out.",
        optional=True,
    ),
    Setting(
        "TLOG_CHECKPOINT_INTERVAL",
        "float",
        1.0,
        "Seconds between two checkpoints of the transparency log (signed when it grew).",
        minimum=0.05,
    ),
    Setting("DEMO_SEED", "int", 20151001, "Seed of the generated demo dataset."),
    Setting("DEMO_SUBJECTS", "int", 3000, "Number of enterprises in the demo dataset.", minimum=10),
)
SETTINGS_BY_KEY = {s.key: s for s in SETTINGS}

# What each profile changes from the defaults. `production` changes nothing: it only adds the
# checks in `_check_production`.
PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    # Webhook receivers on this machine or the local network, for trying things out.
    "dev": {
        "MONITORING_WEBHOOK_ALLOW_HTTP_LOOPBACK": True,
        "MONITORING_WEBHOOK_PUBLIC_ONLY": False,
    },
    # Cheap password hashing keeps the suite fast; the algorithm stays the same.
    "test": {
        "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_KIB": 1024,
        "LOG_LEVEL": "WARNING",
        "MONITORING_WEBHOOK_ALLOW_HTTP_LOOPBACK": True,
        "MONITORING_WEBHOOK_PUBLIC_ONLY": False,
    },
    "production": {},
}


@dataclass(frozen=True)
class Settings(Mapping[str, Any]):
    """Validated settings: read them as ``settings["PORT"]`` or ``settings.PORT``."""

    profile: str
    data: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["data"][key]
        except KeyError:
            raise AttributeError(key) from None

    def redacted(self) -> dict[str, Any]:
        """The values with every secret replaced, safe to print or log: secret settings
        entirely, and in URLs their password and any query parameter named like a secret."""
        return {
            key: ("<set>" if SETTINGS_BY_KEY[key].secret and value else _printable(value))
            for key, value in self.data.items()
            if key in SETTINGS_BY_KEY
        }


def _printable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [item.isoformat() if isinstance(item, date) else str(item) for item in value]
    if isinstance(value, str):
        return redact_url(value)
    return value


REDACTED = "***"
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
# SQLAlchemy's reading of a URL: the username stops at ":" or "/", the password at the next "@".
_SQLALCHEMY_PASSWORD = re.compile(r"[^:/]*:([^@]*)@")
_SECRET_PARAMETER = re.compile(r"pass|pwd|secret|token|key|auth|credential", re.IGNORECASE)


def redact_url(text: str) -> str:
    """``text`` with the password of a URL, and the value of every query parameter named
    like a secret (password, secret, token, key...), replaced by ``***``; other text as is."""
    scheme = _URL_SCHEME.match(text)
    if scheme is None:
        return text
    spans = _password_spans(text, scheme.end())
    userinfo_end = max([end for _, end in spans], default=scheme.end())
    spans += _secret_parameter_spans(text, text.find("?", userinfo_end))
    return _replace_spans(text, spans)


def _authority_end(text: str, start: int) -> int:
    return min([i for i in (text.find(c, start) for c in "/?#") if i != -1], default=len(text))


def _password_spans(text: str, start: int) -> list[tuple[int, int]]:
    """Where the password is, as both urllib (the search clients) and SQLAlchemy (the
    database URL) would read it: they split a malformed authority differently."""
    spans = []
    at = text.rfind("@", start, _authority_end(text, start))
    colon = text.find(":", start, at) if at != -1 else -1
    if colon != -1:
        spans.append((colon + 1, at))
    sqlalchemy_password = _SQLALCHEMY_PASSWORD.match(text, start)
    if sqlalchemy_password is not None:
        spans.append(sqlalchemy_password.span(1))
    return spans


def url_with_password(url: str, password: str) -> str:
    """``url`` with ``password`` after the user it names, every character but letters,
    digits and ``-._~`` percent-encoded: SQLAlchemy and the search clients decode it back,
    and none of ``@ / : % # ?`` can end the password early or start another part of the URL.

    :raises ValueError: if the URL names no user, or holds a password already.
    """
    scheme = _URL_SCHEME.match(url)
    if scheme is None:
        raise ValueError("is not a URL")
    at = url.rfind("@", scheme.end(), _authority_end(url, scheme.end()))
    if at == -1:
        raise ValueError("names no user to give the password to (scheme://user@host/...)")
    if ":" in url[scheme.end() : at]:
        raise ValueError("holds a password already: give it in one place only")
    return f"{url[:at]}:{quote(password, safe='')}{url[at:]}"


def _secret_parameter_spans(text: str, query_start: int) -> list[tuple[int, int]]:
    if query_start == -1:
        return []
    query_end = text.find("#", query_start)
    query_end = len(text) if query_end == -1 else query_end
    spans = []
    offset = query_start + 1
    for pair in text[offset:query_end].split("&"):
        name, equals, _value = pair.partition("=")
        if equals and _SECRET_PARAMETER.search(name):
            spans.append((offset + len(name) + 1, offset + len(pair)))
        offset += len(pair) + 1
    return spans


def _replace_spans(text: str, spans: list[tuple[int, int]]) -> str:
    merged: list[list[int]] = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    shown, last = [], 0
    for begin, end in merged:
        shown.append(text[last:begin] + REDACTED)
        last = end
    return "".join(shown) + text[last:]


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError([f"CREDITREG_CONFIG: file {path} does not exist"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"CREDITREG_CONFIG: {path} is not valid TOML ({exc})"]) from None
    return {str(k).upper(): v for k, v in data.items()}


def load_settings(
    profile: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build and validate the settings.

    :param profile: ``dev``, ``test`` or ``production``; default ``CREDITREG_PROFILE`` or ``dev``.
    :param environ: the environment to read (default ``os.environ``).
    :param overrides: values that win over everything else (tests, CLI options).
    :raises ConfigError: naming every key whose value is missing, malformed or refused.
    """
    env = os.environ if environ is None else environ
    profile = profile or env.get("CREDITREG_PROFILE") or "dev"
    if profile not in PROFILES:
        raise ConfigError(
            [
                f"CREDITREG_PROFILE: unknown profile {profile!r}, "
                f"expected one of {', '.join(PROFILES)}"
            ]
        )

    raw: dict[str, Any] = {s.key: s.default for s in SETTINGS}
    sources = {s.key: "default" for s in SETTINGS}
    for key, value in PROFILE_DEFAULTS[profile].items():
        raw[key], sources[key] = value, f"profile {profile}"

    notes: list[str] = []
    config_path = env.get("CREDITREG_CONFIG")
    if config_path:
        for key, value in _read_file(Path(config_path)).items():
            if key not in SETTINGS_BY_KEY:
                notes.append(f"{config_path}: unknown key {key} ignored")
                continue
            raw[key], sources[key] = value, f"file {config_path}"

    # The conventional PORT variable of hosting platforms works too; ours wins over it.
    if "PORT" in env and ENV_PREFIX + "PORT" not in env:
        raw["PORT"], sources["PORT"] = env["PORT"], "environment PORT"
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        if name.startswith(RESERVED_ENV_PREFIXES):
            continue
        key = name[len(ENV_PREFIX) :]
        if key not in SETTINGS_BY_KEY:
            notes.append(f"{name}: unknown setting ignored")
            continue
        raw[key], sources[key] = value, f"environment {name}"

    for key, value in (overrides or {}).items():
        if key not in SETTINGS_BY_KEY:
            raise ConfigError([f"{key}: unknown setting"])
        raw[key], sources[key] = value, "override"

    problems: list[str] = []
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        try:
            values[setting.key] = setting.parse(raw[setting.key])
        except ValueError as exc:
            shown = "<secret>" if setting.secret else repr(raw[setting.key])
            problems.append(f"{_where(setting, sources)}: {exc}, got {shown}")

    if not problems:
        problems.extend(_put_passwords_into_urls(values))
        problems.extend(_check_consistency(values, sources))
        if profile == "production":
            problems.extend(_check_production(values, sources))
    if problems:
        raise ConfigError(problems)

    # Relative folders are the instance's, wherever a command is run from: `creditreg users
    # add` typed in another directory must find the registry's database, not make a new one.
    values["VAR_DIR"] = str(anchored(values["VAR_DIR"]))
    if values["CALENDAR_DIR"]:
        values["CALENDAR_DIR"] = str(anchored(values["CALENDAR_DIR"]))
    if values["LIST_KINDS_FILE"]:
        values["LIST_KINDS_FILE"] = str(anchored(values["LIST_KINDS_FILE"]))
        _check_list_kinds(values["LIST_KINDS_FILE"])
    if values["JOINT_MEASURES_FILE"]:
        values["JOINT_MEASURES_FILE"] = str(anchored(values["JOINT_MEASURES_FILE"]))
    # The shipped catalogue too: it is edited in place as often as replaced.
    _check_joint_measures(values["JOINT_MEASURES_FILE"])
    if values["DATABASE_URL"] is None:
        db_file = Path(values["VAR_DIR"]) / "creditreg.db"
        values["DATABASE_URL"] = f"sqlite:///{db_file}"
    if values["PUBLIC_BASE_URL"] is None:
        values["PUBLIC_BASE_URL"] = f"https://{values['REGISTRY_NAME']}"
    values["PUBLIC_BASE_URL"] = values["PUBLIC_BASE_URL"].rstrip("/")
    for note in notes:
        log.warning("configuration: %s", note)
    return Settings(profile=profile, data=values, sources=sources, warnings=tuple(notes))


def instance_dir() -> Path:
    """The folder relative paths of the configuration are taken from: the source checkout
    the registry runs from (where ``make demo`` puts ``var/``), or, for an installed package,
    ``<prefix>/var/creditreg-instance`` (as Flask places an installed app's instance folder)."""
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file():
        return checkout
    return Path(sys.prefix) / "var" / "creditreg-instance"


def anchored(path: str) -> Path:
    """``path`` made absolute: a relative one is taken from :func:`instance_dir`."""
    given = Path(path).expanduser()
    return given if given.is_absolute() else (instance_dir() / given).resolve()


def _where(setting: Setting, sources: Mapping[str, str]) -> str:
    source = sources.get(setting.key, "default")
    if source.startswith("environment"):
        return source.split(" ", 1)[1]
    return f"{setting.env_name} ({source})"


def _check_list_kinds(path: str) -> None:
    """A list-kinds file that cannot be read or breaks a rule stops the start."""
    from registry import list_kinds  # the registry package imports the settings

    try:
        list_kinds.load(path)
    except list_kinds.ListKindsError as exc:
        raise ConfigError([f"{ENV_PREFIX}LIST_KINDS_FILE: {exc}"]) from exc


def _check_joint_measures(path: str) -> None:
    """A catalogue of joint measures that cannot be read or breaks a rule stops the start."""
    from registry import joint_measures  # the registry package imports the settings

    try:
        joint_measures.load(path)
    except joint_measures.JointMeasuresError as exc:
        raise ConfigError([f"{ENV_PREFIX}JOINT_MEASURES_FILE: {exc}"]) from exc


# Each password setting, and the URL setting it goes into.
PASSWORD_URLS = {"DATABASE_PASSWORD": "DATABASE_URL", "SEARCH_PASSWORD": "SEARCH_URL"}


def _put_passwords_into_urls(values: dict[str, Any]) -> list[str]:
    """A password given apart goes into its URL here, encoded; a deployment cannot encode
    it (Compose only pastes a variable in), and a raw ``@`` or ``/`` would break the URL."""
    problems = []
    for password_key, url_key in PASSWORD_URLS.items():
        password, url = values[password_key], values[url_key]
        if password is None:
            continue
        if url is None:
            problems.append(
                f"{ENV_PREFIX}{password_key}: set, but {ENV_PREFIX}{url_key}, which it goes "
                "into, is not"
            )
            continue
        try:
            values[url_key] = url_with_password(url, password)
        except ValueError as exc:
            problems.append(
                f"{ENV_PREFIX}{url_key}: {redact_url(url)!r} {exc}, and "
                f"{ENV_PREFIX}{password_key} is set"
            )
    return problems


def _check_consistency(values: Mapping[str, Any], sources: Mapping[str, str]) -> list[str]:
    problems = []
    if values["EVIDENCE_ENCRYPTION_KEY_ID"] in (values["EVIDENCE_ENCRYPTION_OLD_KEYS"] or {}):
        problems.append(
            f"{ENV_PREFIX}EVIDENCE_ENCRYPTION_OLD_KEYS: names the current key id "
            f"{values['EVIDENCE_ENCRYPTION_KEY_ID']}; an earlier key needs a name of its own"
        )
    if values["SEARCH_BACKEND"] != "sql" and not values["SEARCH_URL"]:
        problems.append(
            f"{ENV_PREFIX}SEARCH_URL: required when {ENV_PREFIX}SEARCH_BACKEND is "
            f"{values['SEARCH_BACKEND']}"
        )
    problems.extend(_check_search_ca_certs(values))
    positive, negative = (
        values["SELLER_RATING_POSITIVE_FROM"],
        values["SELLER_RATING_NEGATIVE_UP_TO"],
    )
    if not negative < positive <= 5:
        problems.append(
            f"{ENV_PREFIX}SELLER_RATING_NEGATIVE_UP_TO ({negative}) must be below "
            f"{ENV_PREFIX}SELLER_RATING_POSITIVE_FROM ({positive}), which is at most 5"
        )
    base = values["PUBLIC_BASE_URL"]
    if base is not None and not _is_base_url(base):
        problems.append(
            f"{ENV_PREFIX}PUBLIC_BASE_URL: expected http(s)://host[:port] without a path, "
            f"query or user, got {base!r}"
        )
    return problems


def _check_search_ca_certs(values: Mapping[str, Any]) -> list[str]:
    """For an engine, the CA bundle must exist at the start (the clients would only fail at
    their first request) and only means something over TLS: with an http URL nothing would
    be checked against it."""
    ca_certs, url = values["SEARCH_CA_CERTS"], values["SEARCH_URL"]
    if ca_certs is None or values["SEARCH_BACKEND"] == "sql":
        return []
    name = f"{ENV_PREFIX}SEARCH_CA_CERTS"
    if not Path(ca_certs).is_file():
        return [f"{name}: no file at {ca_certs!r}"]
    if url and not url.lower().startswith("https://"):
        return [
            f"{name}: set, but {ENV_PREFIX}SEARCH_URL is not https://, so no certificate "
            "would be checked against it"
        ]
    return []


def _is_base_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
        port_ok = parts.port is None or parts.port > 0  # raises for one that is not a number
    except ValueError:
        return False
    return (
        port_ok
        and parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.path in ("", "/")
        and not (parts.query or parts.fragment or parts.username or "?" in text)
    )


# The registry's own host and the cloud metadata services: never a webhook receiver in
# production, whatever the allow-list says.
HOST_AND_METADATA_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "100.100.100.200/32",  # Alibaba Cloud's metadata service
        "::/127",
        "::ffff:0:0/96",  # IPv4-mapped: any of the above, spelt in IPv6
        "fe80::/10",
        "fd00:ec2::254/128",  # AWS's metadata service over IPv6
    )
)


def _check_production(values: Mapping[str, Any], sources: Mapping[str, str]) -> list[str]:
    problems = []
    for key, default in DEFAULT_SECRETS.items():
        if values[key] == default:
            problems.append(
                f"{ENV_PREFIX}{key}: production refuses the built-in development value; "
                "set a secret of your own"
            )
    development_evidence_key = _key_bytes(DEFAULT_SECRETS["EVIDENCE_ENCRYPTION_KEY"])
    if any(
        _key_bytes(key) == development_evidence_key
        for key in (values["EVIDENCE_ENCRYPTION_OLD_KEYS"] or {}).values()
    ):
        problems.append(
            f"{ENV_PREFIX}EVIDENCE_ENCRYPTION_OLD_KEYS: production refuses the built-in "
            "development key among the earlier keys"
        )
    if len(values["SECRET_KEY"]) < 32:
        problems.append(f"{ENV_PREFIX}SECRET_KEY: must be at least 32 characters in production")
    if len(values["IDENTITY_HASH_KEY"]) < 32:
        problems.append(
            f"{ENV_PREFIX}IDENTITY_HASH_KEY: must be at least 32 characters in production"
        )
    if values["MONITORING_WEBHOOK_ALLOW_HTTP_LOOPBACK"]:
        problems.append(
            f"{ENV_PREFIX}MONITORING_WEBHOOK_ALLOW_HTTP_LOOPBACK: production sends webhooks "
            "over HTTPS only"
        )
    if not values["MONITORING_WEBHOOK_PUBLIC_ONLY"]:
        problems.append(
            f"{ENV_PREFIX}MONITORING_WEBHOOK_PUBLIC_ONLY: production never sends webhooks "
            "into its own networks; list a member's private network in "
            f"{ENV_PREFIX}MONITORING_WEBHOOK_ALLOWED_NETWORKS instead"
        )
    for network in values["MONITORING_WEBHOOK_ALLOWED_NETWORKS"]:
        if any(
            network.version == host.version and network.overlaps(host)
            for host in HOST_AND_METADATA_NETWORKS
        ):
            problems.append(
                f"{ENV_PREFIX}MONITORING_WEBHOOK_ALLOWED_NETWORKS: {network} takes in "
                "loopback, link-local or cloud metadata addresses, which production refuses"
            )
    if values["DATABASE_URL"] is None:
        problems.append(
            f"{ENV_PREFIX}DATABASE_URL: required in production (the SQLite default is for "
            "development and demos)"
        )
    return problems
