"""docker-compose.yml cannot run here (no Docker engine), so its content is checked instead:
services, pinned images, health checks, volumes, the TLS proxy in front of the app (the only
service with ports, and its Caddyfile), and that the environment it gives the app is a valid
production configuration of this very code base, passwords with awkward characters included.
docker-compose.opensearch.yml, laid over it, is read and merged the way Compose merges files,
and the result is held to the same properties. The image and `make` install the hash-pinned
locks under requirements/, which must hold everything pyproject.toml asks for."""

import base64
import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import sqlalchemy as sa
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from config import SETTINGS_BY_KEY, load_settings
from config.settings import PASSWORD_URLS

ROOT = Path(__file__).resolve().parents[1]

# Each engine's deployment: the files, in order, as `docker compose -f A -f B` takes them.
DEPLOYMENTS = {
    "elasticsearch": ["docker-compose.yml"],
    "opensearch": ["docker-compose.yml", "docker-compose.opensearch.yml"],
}
# Each engine's image (pinned to a release of the major version the code supports), the
# variable of its superuser's password, its data directory, and the volume that holds it.
ENGINES = {
    "elasticsearch": {
        "image": r"docker\.elastic\.co/elasticsearch/elasticsearch:(8|9)\.\d+\.\d+",
        "password": "ELASTIC_PASSWORD",
        "user": "elastic",
        "data": "/usr/share/elasticsearch/data",
        "volume": "esdata",
    },
    "opensearch": {
        "image": r"opensearchproject/opensearch:2\.19\.\d+",
        "password": "OPENSEARCH_INITIAL_ADMIN_PASSWORD",
        "user": "admin",
        "data": "/usr/share/opensearch/data",
        "volume": "osdata",
    },
}


class MissingVariable(Exception):
    """Compose stops: a variable the file requires is not set."""


def interpolate(value: str, secrets: dict[str, str]) -> str:
    """Resolve ${VAR:?message}, ${VAR:-default} and $$ the way docker compose does, from
    `secrets`."""

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if default is not None and name not in secrets:
            return default
        if name not in secrets:
            raise MissingVariable(name)
        return secrets[name]

    return re.sub(r"\$\$|\$\{([A-Z0-9_]+)(?::\?[^}]*|:-([^}]*))?\}", substitute, value)


@dataclass
class Tagged:
    """A value marked `!reset` (drop the earlier files' entry) or `!override` (replace it)."""

    tag: str
    value: Any


class ComposeLoader(yaml.SafeLoader):
    pass


def _construct_tagged(loader: ComposeLoader, suffix: str, node: yaml.Node) -> Tagged:
    assert suffix in ("reset", "override"), f"Compose knows no !{suffix}"
    if isinstance(node, yaml.MappingNode):
        return Tagged(suffix, loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Tagged(suffix, loader.construct_sequence(node, deep=True))
    return Tagged(suffix, loader.construct_scalar(node))


ComposeLoader.add_multi_constructor("!", _construct_tagged)


def _untag(tree: Any, path: tuple[str, ...], replaced: list[tuple[str, ...]]) -> Any:
    """The tree without its tags; the paths of tagged entries go into `replaced`."""
    if isinstance(tree, dict):
        clean = {}
        for key, value in tree.items():
            if isinstance(value, Tagged):
                replaced.append((*path, key))
                if value.tag == "reset":
                    continue
                value = value.value
            clean[key] = _untag(value, (*path, key), replaced)
        return clean
    if isinstance(tree, list):
        return [_untag(item, path, replaced) for item in tree]
    return tree


def _interpolate_all(tree: Any, secrets: dict[str, str]) -> Any:
    if isinstance(tree, dict):
        return {key: _interpolate_all(value, secrets) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_interpolate_all(item, secrets) for item in tree]
    return interpolate(tree, secrets) if isinstance(tree, str) else tree


def _mount_parts(mount: str) -> tuple[str, str]:
    """The source and the target of a short-syntax mount (``source:target[:mode]``), whose
    source may be a variable with a default (``${DIR:-./tls}``)."""
    variable = re.match(r"\$\{[^}]*\}", mount)
    split_at = variable.end() if variable else mount.index(":")
    source, target = mount[:split_at], mount[split_at + 1 :].split(":")[0]
    return source, target


def _is_named_volume(source: str) -> bool:
    return not source.startswith((".", "/", "$", "~"))


def _merge(base: Any, other: Any, path: tuple[str, ...]) -> Any:
    """Compose's merge rules, for what these files use: mappings merge key by key (the
    environment by variable), volumes by the path they are mounted at, a command or a
    health check's test is replaced, other sequences are joined."""
    where = path[:1] + ("*",) + path[2:] if path[:1] == ("services",) else path
    if where in (("services", "*", "command"), ("services", "*", "healthcheck", "test")):
        return other
    if where == ("services", "*", "volumes"):
        mounts = {_mount_parts(mount)[1]: mount for mount in base + other}
        return list(mounts.values())
    if isinstance(base, dict) and isinstance(other, dict):
        merged = dict(base)
        for key, value in other.items():
            merged[key] = _merge(base[key], value, (*path, key)) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(other, list):
        return base + other
    return other


def _drop(tree: dict, path: tuple[str, ...]) -> None:
    *parents, last = path
    for key in parents:
        tree = tree.get(key, {})
    tree.pop(last, None)


def load_compose(files: list[str], secrets: dict[str, str] | None = None) -> dict:
    """The configuration `docker compose -f ... -f ...` runs: each file read, its variables
    resolved from `secrets` (when given), its tagged entries removed from what the earlier
    files gave, then merged over them."""
    merged: dict = {}
    for name in files:
        raw = yaml.load((ROOT / name).read_text(), Loader=ComposeLoader)
        replaced: list[tuple[str, ...]] = []
        tree = _untag(raw, (), replaced)
        if secrets is not None:
            tree = _interpolate_all(tree, secrets)
        for path in replaced:
            _drop(merged, path)
        merged = _merge(merged, tree, ())
    return merged


@pytest.fixture(scope="module", params=list(DEPLOYMENTS))
def engine(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def compose(engine) -> dict:
    """The merged files as written, their variables not yet resolved."""
    return load_compose(DEPLOYMENTS[engine])


# What the operator puts in .env. The passwords hold every character that ends a part of a
# URL or starts an escape in it: the registry must get each one whole.
SECRETS = {
    "CREDITREG_PUBLIC_HOST": "credit.example.gov.cn",
    "CREDITREG_DB_PASSWORD": "db p@ss/w:rd%#?",
    "ELASTIC_PASSWORD": "elastic p@ss/w:rd%#?",
    "OPENSEARCH_INITIAL_ADMIN_PASSWORD": "Opensearch p@ss/w:rd%#?1",
    "CREDITREG_SECRET_KEY": "k" * 48,
    "CREDITREG_IDENTITY_HASH_KEY": "h" * 48,
    "CREDITREG_IDENTITY_ENCRYPTION_KEY": base64.urlsafe_b64encode(bytes(range(32))).decode(),
    "CREDITREG_REGISTRY_SIGNING_KEY": base64.urlsafe_b64encode(bytes(range(1, 33))).decode(),
    "CREDITREG_EVIDENCE_ENCRYPTION_KEY": base64.urlsafe_b64encode(bytes(range(2, 34))).decode(),
}


def test_services_are_the_production_pieces(compose):
    assert {"db", "search", "migrate", "app", "worker", "proxy"} <= set(compose["services"])


def test_images_are_pinned_to_a_major_version(compose, engine):
    services = compose["services"]
    assert re.fullmatch(r"postgres:16(\.\d+)?(-[a-z0-9]+)?", services["db"]["image"])
    assert re.fullmatch(ENGINES[engine]["image"], services["search"]["image"])
    assert re.fullmatch(r"caddy:2\.\d+(\.\d+)?", services["proxy"]["image"])
    for name, service in services.items():
        assert not str(service.get("image", "")).endswith(":latest"), name


def test_app_environment_is_a_valid_production_configuration(compose, engine):
    for name in ("app", "worker", "migrate"):
        raw_env = compose["services"][name]["environment"]
        env = {key: interpolate(str(value), SECRETS) for key, value in raw_env.items()}
        for key in env:
            assert key.startswith("CREDITREG_"), key
            assert key == "CREDITREG_PROFILE" or key[len("CREDITREG_") :] in SETTINGS_BY_KEY, key
        settings = load_settings(environ=env)
        assert settings.profile == "production"
        assert not settings.warnings
        assert settings["SEARCH_BACKEND"] == engine
        # The app talks to the services of this file, on their standard ports, as the
        # database's and the engine's own users, with their passwords read back whole.
        database = sa.make_url(settings.DATABASE_URL)
        assert database.drivername == "postgresql+psycopg"
        assert (database.host, database.port) == ("db", 5432)
        assert database.password == SECRETS["CREDITREG_DB_PASSWORD"]
        search = urlsplit(settings.SEARCH_URL)
        assert (search.hostname, search.port) == ("search", 9200)
        assert unquote(search.username or "") == ENGINES[engine]["user"]
        assert unquote(search.password or "") == SECRETS[ENGINES[engine]["password"]]
        # Behind the one proxy, at the address the proxy serves.
        assert settings.TRUSTED_PROXIES == 1
        public_host = SECRETS["CREDITREG_PUBLIC_HOST"]
        assert settings.PUBLIC_BASE_URL.removeprefix("https://") == public_host


def test_secrets_are_never_written_in_the_file(compose, engine):
    required = r"\$\{[A-Z_]+:\?[^}]+\}"
    password = ENGINES[engine]["password"]
    for name in ("app", "worker", "migrate"):
        env = compose["services"][name]["environment"]
        for key, setting in SETTINGS_BY_KEY.items():
            if not setting.secret:
                continue
            # A secret the registry can do without (earlier keys) may be left empty; the
            # registry could connect without a password, these services cannot.
            can_be_empty = setting.optional and key not in PASSWORD_URLS
            pattern = r"\$\{[A-Z_]+:-\}" if can_be_empty else required
            assert re.fullmatch(pattern, env[f"CREDITREG_{key}"]), key
        assert re.fullmatch(r"\$\{" + password + r":\?[^}]+\}", env["CREDITREG_SEARCH_PASSWORD"])
    assert re.fullmatch(required, compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"])
    search_env = compose["services"]["search"]["environment"]
    assert re.fullmatch(r"\$\{" + password + r":\?[^}]+\}", search_env[password])


def test_credentials_agree(compose, engine):
    db_env = compose["services"]["db"]["environment"]
    app_env = compose["services"]["app"]["environment"]
    app_url = app_env["CREDITREG_DATABASE_URL"]
    assert f"://{db_env['POSTGRES_USER']}@" in app_url
    assert app_url.endswith(f"/{db_env['POSTGRES_DB']}")
    assert app_env["CREDITREG_DATABASE_PASSWORD"] == db_env["POSTGRES_PASSWORD"]
    password = ENGINES[engine]["password"]
    search_env = compose["services"]["search"]["environment"]
    assert app_env["CREDITREG_SEARCH_PASSWORD"] == search_env[password]
    assert f"://{ENGINES[engine]['user']}@search:" in app_env["CREDITREG_SEARCH_URL"]


@pytest.mark.parametrize("name", sorted({name for files in DEPLOYMENTS.values() for name in files}))
def test_no_variable_is_pasted_into_a_url(name):
    # Compose pastes a value in as it is: a password with @ / : % # ? in a URL would break
    # it. Passwords go to the registry apart from the URLs (CREDITREG_*_PASSWORD).
    text = (ROOT / name).read_text()
    assert not re.findall(r"://[^\s/\"'@]*\$\{[^}]*\}[^\s/\"'@]*@", text)


def test_only_the_proxy_publishes_ports_and_the_app_scales(compose):
    services = compose["services"]
    for name, service in services.items():
        assert name == "proxy" or "ports" not in service, f"{name} is published"
    # HTTPS, and plain HTTP only to be sent to it.
    assert sorted(services["proxy"]["ports"]) == ["443:443", "80:80"]
    # `--scale app=N` starts N containers: none may claim a fixed name or host port.
    assert "container_name" not in services["app"]


def test_elasticsearch_is_single_node_with_explicit_security():
    env = load_compose(DEPLOYMENTS["elasticsearch"])["services"]["search"]["environment"]
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "true"
    assert "xpack.security.http.ssl.enabled" in env


def test_opensearch_is_single_node_with_its_security_plugin_on():
    search = load_compose(DEPLOYMENTS["opensearch"])["services"]["search"]
    env = search["environment"]
    assert env["discovery.type"] == "single-node"
    # The plugin runs unless one of these turns it off; HTTP TLS is off on purpose (the
    # port is never published), and said so, not left to the image's default.
    assert env.get("plugins.security.disabled", "false") == "false"
    assert env.get("DISABLE_SECURITY_PLUGIN", "false") == "false"
    assert env.get("DISABLE_INSTALL_DEMO_CONFIG", "false") == "false"  # it sets `admin` up
    assert env["plugins.security.ssl.http.enabled"] == "false"
    # Nothing of Elasticsearch is left over: OpenSearch refuses settings it does not know.
    assert not [key for key in env if key.startswith("xpack.") or key.startswith("ES_")]
    assert "ELASTIC_PASSWORD" not in env


def test_the_engine_locks_its_memory_and_fixes_its_heap(compose, engine):
    search = compose["services"]["search"]
    env = search["environment"]
    assert env["bootstrap.memory_lock"] == "true"
    assert search["ulimits"]["memlock"] == {"soft": -1, "hard": -1}
    java_options = env["ES_JAVA_OPTS" if engine == "elasticsearch" else "OPENSEARCH_JAVA_OPTS"]
    heap = dict(re.findall(r"-Xm([sx])(\d+[gm])", java_options))
    assert heap["s"] == heap["x"], "a heap that grows pauses the node while it does"


def test_with_opensearch_the_elasticsearch_password_reaches_nothing():
    # Compose resolves each file's variables before it merges the files, so the base file
    # still asks for ELASTIC_PASSWORD (the README says so); no service may receive it.
    without = {key: value for key, value in SECRETS.items() if key != "ELASTIC_PASSWORD"}
    with pytest.raises(MissingVariable, match="ELASTIC_PASSWORD"):
        load_compose(DEPLOYMENTS["opensearch"], without)
    services = load_compose(DEPLOYMENTS["opensearch"], SECRETS)["services"]
    assert SECRETS["ELASTIC_PASSWORD"] not in json.dumps(services)
    assert SECRETS["OPENSEARCH_INITIAL_ADMIN_PASSWORD"] in json.dumps(services["app"])


def test_the_opensearch_password_is_required():
    secrets = {k: v for k, v in SECRETS.items() if k != "OPENSEARCH_INITIAL_ADMIN_PASSWORD"}
    load_compose(DEPLOYMENTS["elasticsearch"], secrets)  # the base file alone does not need it
    with pytest.raises(MissingVariable, match="OPENSEARCH_INITIAL_ADMIN_PASSWORD"):
        load_compose(DEPLOYMENTS["opensearch"], secrets)


def test_app_port_matches_gunicorn_and_settings(compose):
    app = compose["services"]["app"]
    assert app["expose"] == ["8000"]
    assert "0.0.0.0:8000" in app["command"]
    assert app["environment"]["CREDITREG_PORT"] == "8000"
    module, attribute = app["command"][-1].split(":")
    assert (ROOT / (module.replace(".", "/") + ".py")).read_text().count(f"{attribute} = ") == 1


@dataclass
class CaddyNode:
    """One line of a Caddyfile: its tokens, and the block that follows it."""

    tokens: list[str]
    block: list["CaddyNode"]

    def find(self, *first: str) -> "CaddyNode":
        (node,) = [node for node in self.block if node.tokens[: len(first)] == list(first)]
        return node


def read_caddyfile(text: str) -> CaddyNode:
    """The Caddyfile as a tree of lines: enough of its grammar for the file we ship (one
    directive a line, a block opened by a trailing ``{``, comments from a ``#`` token on)."""
    root = CaddyNode([], [])
    open_blocks = [root]
    for line in text.splitlines():
        tokens = shlex.split(line, comments=True)
        if not tokens:
            continue
        if tokens == ["}"]:
            open_blocks.pop()
            continue
        opens = tokens[-1] == "{"
        node = CaddyNode(tokens[:-1] if opens else tokens, [])
        open_blocks[-1].block.append(node)
        if opens:
            open_blocks.append(node)
    assert open_blocks == [root], "a block is not closed"
    return root


CADDYFILE_IN_THE_CONTAINER = "/etc/caddy/Caddyfile"


@pytest.fixture(scope="module")
def proxy(compose) -> dict:
    return compose["services"]["proxy"]


@pytest.fixture(scope="module")
def caddyfile(proxy) -> CaddyNode:
    """The Caddyfile the proxy runs: a file of this repository, mounted read-only."""
    mounts = [
        mount for mount in proxy["volumes"] if _mount_parts(mount)[1] == CADDYFILE_IN_THE_CONTAINER
    ]
    assert mounts == [f"./deploy/Caddyfile:{CADDYFILE_IN_THE_CONTAINER}:ro"]
    return read_caddyfile((ROOT / "deploy" / "Caddyfile").read_text())


def test_the_proxy_ends_tls_and_routes_every_request_to_every_app_replica(compose, caddyfile):
    site = caddyfile.find("{$CREDITREG_PUBLIC_HOST}")
    assert site.find("tls").tokens == ["tls", "{$CREDITREG_TLS}"]
    assert site.find("header", "Strict-Transport-Security").tokens[2].startswith("max-age=")
    # Every path goes to the app (no matcher), over the compose network's DNS, which answers
    # one address per replica: a fixed upstream would pin the first replica.
    proxied = site.find("reverse_proxy")
    assert proxied.tokens == ["reverse_proxy"]
    port = compose["services"]["app"]["expose"][0]
    assert proxied.find("dynamic").tokens == ["dynamic", "a", "app", port]
    # Port 80 only redirects.
    plain = caddyfile.find("http://{$CREDITREG_PUBLIC_HOST}")
    assert [node.tokens for node in plain.block] == [["redir", "https://{host}{uri}", "permanent"]]


def test_the_proxy_gets_every_variable_its_caddyfile_reads(proxy):
    text = (ROOT / "deploy" / "Caddyfile").read_text()
    read = set(re.findall(r"\{\$([A-Z_]+)\}", text))
    assert read == set(proxy["environment"]) == {"CREDITREG_PUBLIC_HOST", "CREDITREG_TLS"}
    # The site is the app's public address.
    services = load_compose(["docker-compose.yml"], SECRETS)["services"]
    public_host = services["proxy"]["environment"]["CREDITREG_PUBLIC_HOST"]
    assert services["app"]["environment"]["CREDITREG_PUBLIC_BASE_URL"] == f"https://{public_host}"


def test_the_default_certificate_is_read_from_the_mounted_folder(proxy):
    default = re.fullmatch(r"\$\{CREDITREG_TLS:-([^}]+)\}", proxy["environment"]["CREDITREG_TLS"])
    assert default, "CREDITREG_TLS needs a default: the operator's mounted certificate"
    certificate, key = default.group(1).split()
    (folder,) = [
        target
        for source, target in map(_mount_parts, proxy["volumes"])
        if source.startswith("${CREDITREG_TLS_DIR:-")
    ]
    assert f"{folder}:ro" in " ".join(proxy["volumes"])
    assert Path(certificate).parent == Path(key).parent == Path(folder)
    # The operator's key never enters the repository by accident.
    assert "/tls/" in (ROOT / ".gitignore").read_text().splitlines()


def test_health_checks_and_start_order(compose, engine):
    services = compose["services"]
    for name in ("db", "search", "app", "worker"):
        assert services[name]["healthcheck"]["test"], name
    assert "/readyz" in " ".join(services["app"]["healthcheck"]["test"])
    assert services["worker"]["healthcheck"]["test"][1:3] == ["creditreg", "worker"]
    # The engine is healthy once it answers its own user, with its cluster at least yellow.
    (check,) = services["search"]["healthcheck"]["test"][1:]
    credentials = f"{ENGINES[engine]['user']}:$${ENGINES[engine]['password']}"
    assert credentials in check
    assert "/_cluster/health?wait_for_status=yellow" in check
    for name in ("app", "worker"):
        depends = services[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["search"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["creditreg", "db", "upgrade"]


def test_named_volumes_are_declared_and_used(compose, engine):
    declared = set(compose["volumes"])
    used = set()
    for service in compose["services"].values():
        for mount in service.get("volumes", []):
            source, _ = _mount_parts(mount)
            if _is_named_volume(source):
                used.add(source)
    assert used == declared == {"pgdata", ENGINES[engine]["volume"], "caddydata", "caddyconfig"}
    mounts = compose["services"]["search"]["volumes"]
    assert mounts == [f"{ENGINES[engine]['volume']}:{ENGINES[engine]['data']}"]


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
    # Outside the rule, only the matching benchmark's peers (`make bench-matching`), from
    # their own hash-checked lock: never on the path of `make test`.
    elsewhere = [i for i in pip_installs(expand(makefile)) if i not in installs]
    assert [i[i.index("-r") + 1] for i in elsewhere if "-r" in i] == [
        "bench/matching/requirements.txt"
    ] and all("--require-hashes" in i for i in elsewhere), "an install outside the $(STAMP) rule"
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
