"""Real search engine nodes for the tests: each a JVM on 127.0.0.1, started from Maven artifacts.

The Maven project in ``search/nodes`` builds every launcher's classpath into
``search/nodes/<engine>/target/lib``; a missing build is made here with ``mvn`` (offline
first, from the local cache, then online). A node prints its URL on standard output and
stops when its standard input closes, so a test run that dies leaves no JVM behind.

Nothing here skips: a node that cannot be built or started fails the tests that need it,
with the reason and the tail of the node's log.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

NODES = Path(__file__).resolve().parent.parent / "search" / "nodes"
HEAP = "512m"
START_TIMEOUT = 180.0
BUILD_TIMEOUT = 900.0

MAIN_CLASSES = {
    "opensearch": "org.creditreg.nodes.OpenSearchNode",
    "elasticsearch": "org.creditreg.nodes.ElasticsearchNode",
}


class EngineUnavailable(RuntimeError):
    """A node could not be built or started; the message says why."""


def _sources(engine: str) -> list[Path]:
    modules = [NODES / engine, NODES / "launcher"]
    return [
        NODES / "pom.xml",
        *(module / "pom.xml" for module in modules),
        *(path for module in modules for path in sorted((module / "src").rglob("*"))),
    ]


def _is_built(engine: str) -> bool:
    launcher = NODES / engine / "target" / "lib" / f"{engine}-node-1.jar"
    if not launcher.is_file():
        return False
    built = launcher.stat().st_mtime
    return all(path.stat().st_mtime <= built for path in _sources(engine) if path.is_file())


def build(engine: str) -> Path:
    """The launcher's classpath directory, built with Maven unless it is up to date. Test
    processes running in parallel build one at a time (the builds share the launcher
    module's target directory), and a process that waited finds the build done."""
    lib = NODES / engine / "target" / "lib"
    if _is_built(engine):
        return lib
    lock_path = Path(tempfile.gettempdir()) / f"creditreg-nodes-{os.getuid()}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_built(engine):
            return lib
        return _build_with_maven(engine, lib)


def _build_with_maven(engine: str, lib: Path) -> Path:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise EngineUnavailable(
            f"the {engine} node is not built and Maven is not installed: "
            f"install it (apt-get install maven) or run `mvn -q package` in {NODES}"
        )
    failures = []
    for offline in (["-o"], []):
        done = subprocess.run(
            [mvn, "-q", "-B", *offline, "-pl", engine, "-am", "clean", "package"],
            cwd=NODES,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
        if done.returncode == 0:
            return lib
        failures.append((done.stdout + done.stderr)[-2000:])
    raise EngineUnavailable(f"building the {engine} node failed:\n{failures[-1]}")


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise EngineUnavailable("no Java runtime: install one (apt-get install default-jdk)")
    return found


@dataclass
class EngineNode:
    """A running node: its URL, its process, and the file its log goes to."""

    engine: str
    url: str
    process: subprocess.Popen[str]
    log: Path
    reader: threading.Thread

    @property
    def workdir(self) -> Path:
        return self.log.parent

    def log_tail(self, size: int = 3000) -> str:
        return _tail(self.log, size)

    def kill(self) -> None:
        """SIGKILL, as a crash or the kernel's OOM killer would: no shutdown, no flush; the
        data directory keeps what the node had made durable."""
        self.process.kill()
        self.stop()

    def restart(self) -> EngineNode:
        """A new process on the same data directory (it listens on a new port)."""
        if self.process.poll() is None:
            self.stop()
        return start(self.engine, self.workdir)

    def stop(self) -> None:
        """Close its standard input (the node then shuts down), kill it if it lingers."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=10)  # it ends at the end of output, once the process is gone
        if self.process.stdout is not None:
            self.process.stdout.close()


def _tail(path: Path, size: int) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def _read_lines(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)
    lines.put("")


def start(engine: str, workdir: Path, heap: str = HEAP) -> EngineNode:
    """Build if needed, start one node with its data under ``workdir``, wait for green.

    ``heap`` is the JVM's -Xms and -Xmx (the tests' small default; benchmarks give more)."""
    lib = build(engine)
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "node.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [
                _java(),
                f"-Xms{heap}",
                f"-Xmx{heap}",
                "-cp",
                f"{lib}/*",
                MAIN_CLASSES[engine],
                "--data",
                str(workdir / "home"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    # Reads standard output to its end, so that nothing the node prints can fill the pipe.
    reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
    reader.start()
    try:
        url = lines.get(timeout=START_TIMEOUT).strip()
    except queue.Empty:
        url = ""
    node = EngineNode(engine, url, process, log, reader)
    if not url.startswith("http://"):
        node.stop()
        raise EngineUnavailable(
            f"the {engine} node did not start (exit code {process.returncode}):\n" + node.log_tail()
        )
    try:
        wait_for_green(url)
    except OSError as error:
        node.stop()
        raise EngineUnavailable(
            f"the {engine} node at {url} did not turn green: {error}\n{node.log_tail()}"
        ) from error
    return node


def wait_for_green(url: str) -> None:
    """Block until the cluster reports green; the engine itself does the waiting."""
    request = f"{url}/_cluster/health?wait_for_status=green&timeout={int(START_TIMEOUT)}s"
    with urllib.request.urlopen(request, timeout=START_TIMEOUT + 10) as response:
        health = json.load(response)
    if health.get("status") != "green":
        raise OSError(f"cluster status {health.get('status')}")


class NodePool:
    """At most one node alive at a time in a test process: asking for another engine (or
    another data directory) stops the running one.

    The machine the suite runs on is small; two idle JVMs would hold memory for nothing.
    Tests are ordered by the engine they need (see tests/search/conftest.py), so each
    engine starts once per test process (per worker, run in parallel). An engine that
    failed to start fails again at once.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: EngineNode | None = None
        self.failures: dict[str, str] = {}

    def node(self, engine: str, *, name: str | None = None) -> EngineNode:
        """The running node of ``engine``, started on the data directory ``name`` (the
        engine's own by default: a test that kills nodes takes another name). A node that
        died is started again on its data."""
        name = name or engine
        if name in self.failures:
            raise EngineUnavailable(self.failures[name])
        running = self.running
        if (
            running is not None
            and (running.engine, running.workdir.name) == (engine, name)
            and running.process.poll() is None
        ):
            return running
        self.close()
        try:
            self.running = start(engine, self.workdir / name)
        except EngineUnavailable as error:
            self.failures[name] = str(error)
            raise
        return self.running

    def restart(self) -> EngineNode:
        """Start the running node again on its data directory (after :meth:`EngineNode.kill`)."""
        assert self.running is not None
        node, self.running = self.running, None
        self.running = node.restart()
        return self.running

    def close(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.running = None
