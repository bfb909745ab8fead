import base64
import os
import uuid
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql as psycopg_sql

from config import DEFAULT_SECRETS, ConfigError, load_settings
from config.settings import redact_url
from registry.db import db
from tests.conftest import POSTGRES_URL

STRONG = {
    "CREDITREG_SECRET_KEY": "s" * 40,
    "CREDITREG_IDENTITY_HASH_KEY": "h" * 40,
    "CREDITREG_IDENTITY_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    "CREDITREG_REGISTRY_SIGNING_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    "CREDITREG_EVIDENCE_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    "CREDITREG_DATABASE_URL": "postgresql+psycopg://u:p@db:5432/creditreg",
}


ROOT = Path(__file__).resolve().parents[2]


def test_defaults_give_a_sqlite_file_under_var(monkeypatch, tmp_path):
    # From any working directory: the checkout's var/, never a new one where the command runs.
    monkeypatch.chdir(tmp_path)
    settings = load_settings("dev", environ={})
    assert settings.profile == "dev"
    assert f"sqlite:///{ROOT / 'var' / 'creditreg.db'}" == settings.DATABASE_URL
    assert settings.PORT == 8000
    assert settings.SEARCH_BACKEND == "sql"
    assert settings.sources["PORT"] == "default"


def test_profile_comes_from_environment_and_changes_defaults():
    settings = load_settings(environ={"CREDITREG_PROFILE": "test"})
    assert settings.profile == "test"
    assert settings.PASSWORD_HASH_MEMORY_KIB == 1024
    assert load_settings("dev", environ={}).PASSWORD_HASH_MEMORY_KIB == 65536


def test_unknown_profile_is_refused_by_name():
    with pytest.raises(ConfigError, match="CREDITREG_PROFILE"):
        load_settings(environ={"CREDITREG_PROFILE": "staging"})


def test_precedence_default_file_environment_override(tmp_path):
    config_file = tmp_path / "creditreg.toml"
    config_file.write_text('port = 9000\nlog_level = "DEBUG"\nworker_poll_interval = 2.5\n')
    env = {"CREDITREG_CONFIG": str(config_file), "CREDITREG_LOG_LEVEL": "ERROR"}
    settings = load_settings("dev", environ=env, overrides={"WORKER_POLL_INTERVAL": 0.5})
    assert settings.PORT == 9000
    assert settings.sources["PORT"] == f"file {config_file}"
    assert settings.LOG_LEVEL == "ERROR"
    assert settings.sources["LOG_LEVEL"] == "environment CREDITREG_LOG_LEVEL"
    assert settings.WORKER_POLL_INTERVAL == 0.5


def test_plain_port_variable_is_honoured_but_ours_wins():
    assert load_settings("dev", environ={"PORT": "8123"}).PORT == 8123
    assert load_settings("dev", environ={"PORT": "8123", "CREDITREG_PORT": "8124"}).PORT == 8124


def test_every_bad_key_is_named_at_once():
    env = {
        "CREDITREG_PORT": "eighty",
        "CREDITREG_SEARCH_BACKEND": "solr",
        "CREDITREG_WORKER_POLL_INTERVAL": "0",
    }
    with pytest.raises(ConfigError) as info:
        load_settings("dev", environ=env)
    message = str(info.value)
    assert "CREDITREG_PORT: expected an integer" in message
    assert "CREDITREG_SEARCH_BACKEND: expected one of sql, opensearch, elasticsearch" in message
    assert "CREDITREG_WORKER_POLL_INTERVAL: must be at least 0.05" in message
    assert len(info.value.problems) == 3


def test_unknown_keys_are_reported_not_fatal(tmp_path):
    config_file = tmp_path / "c.toml"
    config_file.write_text("colour = 'blue'\n")
    settings = load_settings(
        "dev",
        environ={
            "CREDITREG_PROTR": "1",
            "CREDITREG_CONFIG": str(config_file),
            "CREDITREG_TEST_DATABASE_URL": "ignored",
        },
    )
    assert any("CREDITREG_PROTR" in w for w in settings.warnings)
    assert any("COLOUR" in w for w in settings.warnings)
    assert not any("TEST_DATABASE_URL" in w for w in settings.warnings)


def test_missing_or_broken_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="CREDITREG_CONFIG: file .* does not exist"):
        load_settings("dev", environ={"CREDITREG_CONFIG": str(tmp_path / "nope.toml")})
    broken = tmp_path / "broken.toml"
    broken.write_text("port = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings("dev", environ={"CREDITREG_CONFIG": str(broken)})


def test_search_engine_needs_a_url():
    with pytest.raises(ConfigError, match="CREDITREG_SEARCH_URL: required"):
        load_settings("dev", environ={"CREDITREG_SEARCH_BACKEND": "opensearch"})
    settings = load_settings(
        "dev",
        environ={
            "CREDITREG_SEARCH_BACKEND": "opensearch",
            "CREDITREG_SEARCH_URL": "http://127.0.0.1:9200",
        },
    )
    assert settings.SEARCH_URL == "http://127.0.0.1:9200"


def test_encryption_key_must_be_32_bytes_and_is_not_echoed():
    short = base64.urlsafe_b64encode(b"too-short-key").decode()
    with pytest.raises(ConfigError) as info:
        load_settings("dev", environ={"CREDITREG_IDENTITY_ENCRYPTION_KEY": short})
    assert "CREDITREG_IDENTITY_ENCRYPTION_KEY" in str(info.value)
    assert short not in str(info.value)


def test_production_refuses_every_default_secret_and_a_missing_database():
    with pytest.raises(ConfigError) as info:
        load_settings("production", environ={})
    message = str(info.value)
    for key in DEFAULT_SECRETS:
        assert f"CREDITREG_{key}: production refuses the built-in development value" in message
    assert "CREDITREG_DATABASE_URL: required in production" in message


def test_production_refuses_a_single_default_secret():
    env = dict(STRONG)
    env["CREDITREG_IDENTITY_HASH_KEY"] = DEFAULT_SECRETS["IDENTITY_HASH_KEY"]
    with pytest.raises(ConfigError) as info:
        load_settings("production", environ=env)
    assert [p.split(":")[0] for p in info.value.problems] == ["CREDITREG_IDENTITY_HASH_KEY"]


def test_production_refuses_the_development_evidence_key_kept_as_an_earlier_key():
    development = DEFAULT_SECRETS["EVIDENCE_ENCRYPTION_KEY"]
    env = dict(STRONG, CREDITREG_EVIDENCE_ENCRYPTION_OLD_KEYS=f"k0:{development}=")
    with pytest.raises(ConfigError) as info:
        load_settings("production", environ=env)
    assert [p.split(":")[0] for p in info.value.problems] == [
        "CREDITREG_EVIDENCE_ENCRYPTION_OLD_KEYS"
    ]
    assert development not in str(info.value)


def test_evidence_keys_are_named_once_and_never_echoed():
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    settings = load_settings(
        "dev",
        environ={
            "CREDITREG_EVIDENCE_ENCRYPTION_KEY_ID": "k2",
            "CREDITREG_EVIDENCE_ENCRYPTION_OLD_KEYS": f"k0:{key}, k1:{key}",
        },
    )
    assert {"k0": key, "k1": key} == settings.EVIDENCE_ENCRYPTION_OLD_KEYS
    assert settings.redacted()["EVIDENCE_ENCRYPTION_OLD_KEYS"] == "<set>"
    with pytest.raises(ConfigError) as info:
        load_settings(
            "dev",
            environ={
                "CREDITREG_EVIDENCE_ENCRYPTION_KEY_ID": "k1",
                "CREDITREG_EVIDENCE_ENCRYPTION_OLD_KEYS": f"k1:{key}",
            },
        )
    assert "names the current key id k1" in str(info.value)
    short = base64.urlsafe_b64encode(os.urandom(16)).decode()
    with pytest.raises(ConfigError) as info:
        load_settings(
            "dev", environ={"CREDITREG_EVIDENCE_ENCRYPTION_OLD_KEYS": f"k0:{key},k9:{short}"}
        )
    assert "entry 2 (id:key): expected the base64url encoding of exactly 32 bytes" in str(
        info.value
    )
    assert short not in str(info.value)


def test_production_refuses_short_secret_key():
    env = dict(STRONG, CREDITREG_SECRET_KEY="short-but-not-default")
    with pytest.raises(ConfigError, match="CREDITREG_SECRET_KEY: must be at least 32"):
        load_settings("production", environ=env)


def test_production_starts_with_real_secrets_and_redacts_them():
    settings = load_settings("production", environ=STRONG)
    assert STRONG["CREDITREG_DATABASE_URL"] == settings.DATABASE_URL
    shown = settings.redacted()
    assert shown["SECRET_KEY"] == "<set>"
    assert STRONG["CREDITREG_SECRET_KEY"] not in repr(shown)


URL_SECRETS = {
    "CREDITREG_DATABASE_URL": "postgresql+psycopg://creditreg:db-pass-1@db:5432/creditreg"
    "?sslmode=require&password=db-pass-2",
    "CREDITREG_SEARCH_URL": "https://elastic:search-pass@es:9200/?api_key=search-key&timeout=5",
}


def test_redacted_hides_passwords_and_secret_parameters_inside_urls():
    shown = load_settings("dev", environ=URL_SECRETS).redacted()
    for secret in ("db-pass-1", "db-pass-2", "search-pass", "search-key"):
        assert secret not in repr(shown), secret
    assert shown["DATABASE_URL"] == (
        "postgresql+psycopg://creditreg:***@db:5432/creditreg?sslmode=require&password=***"
    )
    assert shown["SEARCH_URL"] == "https://elastic:***@es:9200/?api_key=***&timeout=5"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:////var/creditreg.db", "sqlite:////var/creditreg.db"),
        ("postgresql://reader@db/creditreg", "postgresql://reader@db/creditreg"),
        # SQLAlchemy ends the password at the first "@", urllib at the last: both are hidden.
        ("postgresql://u:p@ss@db/creditreg", "postgresql://u:***@db/creditreg"),
        ("postgresql://u:pa/ss@db/creditreg", "postgresql://u:***@db/creditreg"),
        ("https://es:9200/?Token=t&q=1#x", "https://es:9200/?Token=***&q=1#x"),
        ("registry@localhost", "registry@localhost"),
    ],
)
def test_redact_url_reads_a_password_as_every_client_would(url, shown):
    assert redact_url(url) == shown


# Every character that ends a part of a URL, or starts an escape, in one password.
AWKWARD_PASSWORD = "p@ss/w:rd%#?"


def test_passwords_given_apart_go_into_their_urls_encoded():
    settings = load_settings(
        "dev",
        environ={
            "CREDITREG_DATABASE_URL": "postgresql+psycopg://creditreg@db:5432/creditreg",
            "CREDITREG_DATABASE_PASSWORD": AWKWARD_PASSWORD,
            "CREDITREG_SEARCH_BACKEND": "opensearch",
            "CREDITREG_SEARCH_URL": "http://admin@search:9200",
            "CREDITREG_SEARCH_PASSWORD": AWKWARD_PASSWORD,
        },
    )
    # Read back as SQLAlchemy reads the database URL: every part where it belongs.
    database = sa.make_url(settings.DATABASE_URL)
    assert (database.username, database.password) == ("creditreg", AWKWARD_PASSWORD)
    assert (database.host, database.port, database.database) == ("db", 5432, "creditreg")
    # And as urllib reads the search URL (the clients decode the user information after it).
    search = urlsplit(settings.SEARCH_URL)
    assert (search.hostname, search.port, search.path) == ("search", 9200, "")
    assert (unquote(search.username), unquote(search.password)) == ("admin", AWKWARD_PASSWORD)
    shown = settings.redacted()
    assert shown["DATABASE_PASSWORD"] == shown["SEARCH_PASSWORD"] == "<set>"
    assert shown["DATABASE_URL"] == "postgresql+psycopg://creditreg:***@db:5432/creditreg"
    assert shown["SEARCH_URL"] == "http://admin:***@search:9200"
    for hidden in (AWKWARD_PASSWORD, quote(AWKWARD_PASSWORD, safe="")):
        assert hidden not in repr(shown)


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({}, "CREDITREG_DATABASE_PASSWORD: set, but CREDITREG_DATABASE_URL"),
        (
            {"CREDITREG_DATABASE_URL": "sqlite:////srv/creditreg.db"},
            "CREDITREG_DATABASE_URL: 'sqlite:////srv/creditreg.db' names no user",
        ),
        (
            {"CREDITREG_DATABASE_URL": "postgresql+psycopg://creditreg:other@db/creditreg"},
            "CREDITREG_DATABASE_URL: 'postgresql+psycopg://creditreg:***@db/creditreg' holds "
            "a password already",
        ),
    ],
)
def test_a_password_with_no_url_or_user_to_go_to_is_refused(environ, problem):
    environ = {"CREDITREG_DATABASE_PASSWORD": AWKWARD_PASSWORD, **environ}
    with pytest.raises(ConfigError) as info:
        load_settings("dev", environ=environ)
    assert problem in str(info.value)
    assert AWKWARD_PASSWORD not in str(info.value)


def test_the_search_password_needs_a_user_in_the_search_url():
    environ = {
        "CREDITREG_SEARCH_BACKEND": "elasticsearch",
        "CREDITREG_SEARCH_URL": "http://search:9200",
        "CREDITREG_SEARCH_PASSWORD": AWKWARD_PASSWORD,
    }
    with pytest.raises(ConfigError, match="CREDITREG_SEARCH_URL: 'http://search:9200' names no"):
        load_settings("dev", environ=environ)


@pytest.mark.skipif(not POSTGRES_URL, reason="needs CREDITREG_TEST_DATABASE_URL")
def test_the_registry_signs_in_to_postgresql_with_an_awkward_password(make_app):
    server = sa.make_url(POSTGRES_URL)
    role = f"creditreg_test_{uuid.uuid4().hex[:12]}"
    as_superuser = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(as_superuser, autocommit=True) as connection:
        connection.execute(
            psycopg_sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                psycopg_sql.Identifier(role), psycopg_sql.Literal(AWKWARD_PASSWORD)
            )
        )
    try:
        url = server._replace(username=role, password=None).render_as_string()
        # Written into the URL as it stands (what Compose did), the password breaks it.
        pasted = url.replace(f"{role}@", f"{role}:{AWKWARD_PASSWORD}@", 1)
        assert sa.make_url(pasted).password != AWKWARD_PASSWORD
        # Given apart, it signs in.
        app = make_app(url, DATABASE_PASSWORD=AWKWARD_PASSWORD)
        with db.engine_of(app).connect() as connection:
            assert connection.scalar(sa.text("SELECT current_user")) == role
        db.dispose(app)  # its connections go before the role does
    finally:
        with psycopg.connect(as_superuser, autocommit=True) as connection:
            connection.execute(psycopg_sql.SQL("DROP ROLE {}").format(psycopg_sql.Identifier(role)))


def test_the_public_base_url_defaults_to_the_registry_name_and_is_checked():
    named = load_settings("dev", environ={"CREDITREG_REGISTRY_NAME": "credit.example.gov.cn"})
    assert named.PUBLIC_BASE_URL == "https://credit.example.gov.cn"
    for bad in (
        "credit.example.gov.cn",
        "ftp://x",
        "https://x/feeds",
        "https://x?a=1",
        "https://x:y",
    ):
        with pytest.raises(ConfigError, match="CREDITREG_PUBLIC_BASE_URL"):
            load_settings("dev", environ={"CREDITREG_PUBLIC_BASE_URL": bad})


def test_overrides_reject_unknown_keys():
    with pytest.raises(ConfigError, match="NOT_A_SETTING: unknown setting"):
        load_settings("dev", environ={}, overrides={"NOT_A_SETTING": 1})


def test_relative_folders_are_the_instance_s_wherever_a_command_runs(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        "dev", environ={"CREDITREG_VAR_DIR": "state", "CREDITREG_CALENDAR_DIR": "calendars"}
    )
    assert str(ROOT / "state") == settings.VAR_DIR
    assert str(ROOT / "calendars") == settings.CALENDAR_DIR
    assert f"sqlite:///{ROOT / 'state' / 'creditreg.db'}" == settings.DATABASE_URL
    absolute = load_settings("dev", environ={"CREDITREG_VAR_DIR": str(tmp_path / "elsewhere")})
    assert str(tmp_path / "elsewhere") == absolute.VAR_DIR


def test_record_category_lists_name_known_categories_only(tmp_path):
    from config.settings import OPEN_ENDED_CATEGORIES, RECORD_CATEGORIES
    from registry.records import RecordCategory
    from registry.retention import DEFAULT_OPEN_CATEGORIES

    # The settings are read before the domain: their copy of the names must not drift.
    assert set(RECORD_CATEGORIES) == {str(c) for c in RecordCategory}
    assert set(OPEN_ENDED_CATEGORIES) == DEFAULT_OPEN_CATEGORIES
    assert load_settings("test", environ={}).RETENTION_OPEN_CATEGORIES == OPEN_ENDED_CATEGORIES

    settings = load_settings(
        "test", environ={"CREDITREG_RETENTION_OPEN_CATEGORIES": " tax_arrears, loan_default,"}
    )
    assert settings.RETENTION_OPEN_CATEGORIES == ("tax_arrears", "loan_default")
    config = tmp_path / "creditreg.toml"
    config.write_text('retention_open_categories = ["court_judgment"]\n')
    from_file = load_settings("test", environ={"CREDITREG_CONFIG": str(config)})
    assert from_file.RETENTION_OPEN_CATEGORIES == ("court_judgment",)
    none_open = load_settings("test", environ={"CREDITREG_RETENTION_OPEN_CATEGORIES": ""})
    assert none_open.RETENTION_OPEN_CATEGORIES == ()

    with pytest.raises(ConfigError) as refused:
        load_settings(
            "test", environ={"CREDITREG_RETENTION_OPEN_CATEGORIES": "loan_default,unpaid_rent"}
        )
    assert "CREDITREG_RETENTION_OPEN_CATEGORIES" in str(refused.value)
    assert "'unpaid_rent': expected one of" in str(refused.value)
