"""`creditreg demo` as a user runs it: a server with its worker beside it, in one process."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_demo_serves_with_its_worker_running(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "CREDITREG_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "CREDITREG_DEMO_SUBJECTS": "10",
        "CREDITREG_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(  # noqa: S603 - our own console script
        [str(Path(sys.executable).with_name("creditreg")), "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        worker = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and worker != "ok":
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:  # noqa: S310
                    worker = json.load(r)["checks"]["worker"]["status"]
            except OSError:
                continue
        # The worker thread beats once it runs its first round: it has an app context.
        assert worker == "ok"
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode(errors="replace")
    assert "Traceback" not in output, output[-3000:]
