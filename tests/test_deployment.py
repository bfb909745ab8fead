"""docker-compose.yml cannot run here (no Docker engine), so its content is checked instead:
services, pinned images, health checks, volumes, and that the environment it gives the app is
a valid production configuration of this very code base. The image and `make` install the
hash-pinned locks under requirements/, which must hold everything pyproject.toml asks for."""

import base64
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from config import SETTINGS_BY_KEY, load_settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def interpolate(value: str, secrets: dict[str, str]) -> str:
    """Resolve ${VAR:?message} and ${VAR:-default} the way docker compose does, from
    `secrets`."""

    def substitute(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if default is not None and name not in secrets:
            return default
        assert name in secrets, f"compose needs {name}, which the test does not provide"
        return secrets[name]

    return re.sub(r"\$\{([A-Z0-9_]+)(?::\?[^}]*|:-([^}]*))?\}", substitute, value)


SECRETS = {
    "CREDITREG_DB_PASSWORD": "db-password-for-test",
    "ELASTIC_PASSWORD": "elastic-password-for-test",
    "CREDITREG_SECRET_KEY": "k" * 48,
    "CREDITREG_IDENTITY_HASH_KEY": "h" * 48,
    "CREDITREG_IDENTITY_ENCRYPTION_KEY": base64.urlsafe_b64encode(bytes(range(32))).decode(),
    "CREDITREG_REGISTRY_SIGNING_KEY": base64.urlsafe_b64encode(bytes(range(1, 33))).decode(),
    "CREDITREG_EVIDENCE_ENCRYPTION_KEY": base64.urlsafe_b64encode(bytes(range(2, 34))).decode(),
}


def test_services_are_the_production_pieces(compose):
    assert {"db", "search", "migrate", "app", "worker"} <= set(compose["services"])


def test_images_are_pinned_to_a_major_version(compose):
    services = compose["services"]
    assert re.fullmatch(r"postgres:16(\.\d+)?(-[a-z0-9]+)?", services["db"]["image"])
    search_image = services["search"]["image"]
    assert re.fullmatch(
        r"docker\.elastic\.co/elasticsearch/elasticsearch:(8|9)\.\d+\.\d+", search_image
    )
    for name, service in services.items():
        assert not str(service.get("image", "")).endswith(":latest"), name


def test_app_environment_is_a_valid_production_configuration(compose):
    for name in ("app", "worker", "migrate"):
        raw_env = compose["services"][name]["environment"]
        env = {key: interpolate(str(value), SECRETS) for key, value in raw_env.items()}
        for key in env:
            assert key.startswith("CREDITREG_"), key
            assert key == "CREDITREG_PROFILE" or key[len("CREDITREG_") :] in SETTINGS_BY_KEY, key
        settings = load_settings(environ=env)
        assert settings.profile == "production"
        assert not settings.warnings
        assert settings.SEARCH_BACKEND == "elasticsearch"
        # The app talks to the services of this file, on their standard ports.
        assert "@db:5432/" in settings.DATABASE_URL
        assert settings.DATABASE_URL.startswith("postgresql+psycopg://")
        assert "@search:9200" in settings.SEARCH_URL


def test_secrets_are_never_written_in_the_file(compose):
    for name in ("app", "worker", "migrate"):
        env = compose["services"][name]["environment"]
        for key, setting in SETTINGS_BY_KEY.items():
            if not setting.secret:
                continue
            # A secret the registry can do without (earlier keys) may be left empty.
            pattern = r"\$\{[A-Z_]+:-\}" if setting.optional else r"\$\{[A-Z_]+:\?[^}]+\}"
            assert re.fullmatch(pattern, env[f"CREDITREG_{key}"]), key
    assert re.fullmatch(
        r"\$\{[A-Z_]+:\?[^}]+\}", compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"]
    )


def test_database_credentials_agree(compose):
    db_env = compose["services"]["db"]["environment"]
    app_url = compose["services"]["app"]["environment"]["CREDITREG_DATABASE_URL"]
    assert f"://{db_env['POSTGRES_USER']}:" in app_url
    assert app_url.endswith(f"/{db_env['POSTGRES_DB']}")
    assert "CREDITREG_DB_PASSWORD" in db_env["POSTGRES_PASSWORD"]
    assert "CREDITREG_DB_PASSWORD" in app_url


def test_elasticsearch_is_single_node_with_explicit_security(compose):
    env = compose["services"]["search"]["environment"]
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "true"
    assert "xpack.security.http.ssl.enabled" in env
    assert "ports" not in compose["services"]["search"], "the search engine is not published"
    assert "ports" not in compose["services"]["db"], "the database is not published"


def test_app_port_matches_gunicorn_and_settings(compose):
    app = compose["services"]["app"]
    assert app["ports"] == ["8000:8000"]
    assert "0.0.0.0:8000" in app["command"]
    assert app["environment"]["CREDITREG_PORT"] == "8000"
    module, attribute = app["command"][-1].split(":")
    assert (ROOT / (module.replace(".", "/") + ".py")).read_text().count(f"{attribute} = ") == 1


def test_health_checks_and_start_order(compose):
    services = compose["services"]
    for name in ("db", "search", "app", "worker"):
        assert services[name]["healthcheck"]["test"], name
    assert "/readyz" in " ".join(services["app"]["healthcheck"]["test"])
    assert services["worker"]["healthcheck"]["test"][1:3] == ["creditreg", "worker"]
    for name in ("app", "worker"):
        depends = services[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["search"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["creditreg", "db", "upgrade"]


def test_named_volumes_are_declared_and_used(compose):
    declared = set(compose["volumes"])
    used = set()
    for service in compose["services"].values():
        for mount in service.get("volumes", []):
            used.add(mount.split(":", 1)[0])
    assert used == declared == {"pgdata", "esdata"}


def test_dockerfile_ships_every_package_and_runs_unprivileged():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("registry", "api", "search", "admin", "config", "migrations"):
        assert f"COPY {package} ./{package}" in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)


def test_the_access_log_never_keeps_a_query_string(compose):
    # Lookups by ID number carry the number in the query: the access log shows paths only.
    command = compose["services"]["app"]["command"]
    log_format = command[command.index("--access-logformat") + 1]
    assert "%(U)s" in log_format  # the path alone
    for with_query in ("%(r)s", "%(q)s"):  # the request line, the query string
        assert with_query not in log_format


# The locks: every install, here and in the image, takes hash-pinned packages from them alone.
LOCKS = ROOT / "requirements"


def locked_pins(lock: Path) -> dict[str, tuple[Version, list[str]]]:
    """Each package of a lock file: its pinned version and the hashes it is installed with."""
    pins = {}
    for entry in lock.read_text().replace("\\\n", " ").splitlines():
        entry = entry.split("#", 1)[0].strip()
        if not entry:
            continue
        requirement, *hashes = (part.strip() for part in entry.split("--hash="))
        pinned = Requirement(requirement)
        (specifier,) = pinned.specifier
        assert specifier.operator == "==", f"{lock.name}: {requirement} is not pinned"
        pins[canonicalize_name(pinned.name)] = (Version(specifier.version), hashes)
    return pins


def declared_requirements() -> dict[str, list[str]]:
    """What pyproject.toml asks for, by the lock that must hold it."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    return {
        "build.txt": pyproject["build-system"]["requires"],
        "runtime.txt": project["dependencies"],
        "dev.txt": project["dependencies"] + project["optional-dependencies"]["dev"],
    }


@pytest.mark.parametrize("lock_name", ["build.txt", "runtime.txt", "dev.txt"])
def test_every_declared_requirement_is_pinned_with_hashes(lock_name):
    pins = locked_pins(LOCKS / lock_name)
    for name, (_, hashes) in pins.items():
        assert hashes and all(h.startswith("sha256:") for h in hashes), f"{name} has no hash"
    for declared in map(Requirement, declared_requirements()[lock_name]):
        name = canonicalize_name(declared.name)
        assert name in pins, f"{declared} is not in {lock_name}: run `make lock`"
        version, _ = pins[name]
        assert declared.specifier.contains(version, prereleases=True), (
            f"{lock_name} pins {name}=={version}, outside {declared}: run `make lock`"
        )


def test_the_locks_agree_where_they_overlap():
    # The tests run on the dev lock: they prove something of production only on the same versions.
    build, runtime, dev = (
        locked_pins(LOCKS / name) for name in ("build.txt", "runtime.txt", "dev.txt")
    )
    for narrower, wider in ((runtime, dev), (build, dev)):
        for name in narrower.keys() & wider.keys():
            assert narrower[name][0] == wider[name][0], name
    assert runtime.keys() <= dev.keys()


def pip_installs(script: str) -> list[list[str]]:
    """The arguments of every `pip install` in a shell script, after `install`."""
    commands = re.split(r"&&|;|\n", script.replace("\\\n", " "))
    return [
        shlex.split(command.split("pip install", 1)[1])
        for command in commands
        if "pip install" in command
    ]


def installs_only_from(installs: list[list[str]], locks: list[str]) -> None:
    """The locks in this order, each with --require-hashes, then the project alone: no other."""
    *from_locks, project = installs
    for arguments in from_locks:
        assert "-r" in arguments and "--require-hashes" in arguments, (
            f"not a hash-checked lock: pip install {shlex.join(arguments)}"
        )
    assert [arguments[arguments.index("-r") + 1] for arguments in from_locks] == locks
    # Once the build lock is in, no isolated build: it would fetch an unpinned setuptools to
    # build a package published only as source.
    assert all("--no-build-isolation" in arguments for arguments in installs[1:])
    assert "--no-deps" in project and project[-1] == "."


def test_make_installs_the_dev_lock_and_reinstalls_when_a_lock_changes():
    makefile = (ROOT / "Makefile").read_text()
    variables = dict(re.findall(r"^([A-Z_]+)\s*:?=\s*(.*)$", makefile, re.M))

    def expand(text: str) -> str:
        return re.sub(r"\$\(([A-Z_]+)\)", lambda m: expand(variables.get(m.group(1), "")), text)

    rule = re.search(r"^\$\(STAMP\):(.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert rule, "the Makefile has no $(STAMP) rule"
    prerequisites = expand(rule.group(1)).split()
    recipe = expand(rule.group(2))
    installs = pip_installs(recipe)
    assert pip_installs(expand(makefile)) == installs, "an install outside the $(STAMP) rule"
    installs_only_from(installs, ["requirements/build.txt", "requirements/dev.txt"])
    assert installs[-1][-2:] == ["-e", "."]
    assert {"pyproject.toml", "requirements/build.txt", "requirements/dev.txt"} <= set(
        prerequisites
    )
    assert re.search(r"^lock:", makefile, re.M), "`make lock` refreshes the locks"


def test_the_image_installs_the_runtime_lock_with_hashes():
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs_only_from(
        pip_installs(dockerfile), ["requirements/build.txt", "requirements/runtime.txt"]
    )
    assert "dev.txt" not in dockerfile
