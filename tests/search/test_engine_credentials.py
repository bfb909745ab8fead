"""The search password, given apart from the URL (CREDITREG_SEARCH_PASSWORD), reaches the
engine whole, whatever it holds: each client is pointed at a plain HTTP server that records
the credentials of the first request it gets."""

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from config import load_settings
from search import create_backend

AWKWARD_PASSWORD = "p@ss/w:rd%#?"


class RecordingHandler(BaseHTTPRequestHandler):
    received: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.received.append(self.headers.get("Authorization"))
        body = b'{"error": "not an engine"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


@pytest.fixture
def recording_server() -> Iterator[tuple[str, list[str | None]]]:
    received: list[str | None] = []
    handler = type("Handler", (RecordingHandler,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("kind", "user"), [("opensearch", "admin"), ("elasticsearch", "elastic")])
def test_the_engine_receives_the_password_whole(kind, user, recording_server):
    address, received = recording_server
    settings = load_settings(
        "test",
        environ={
            "CREDITREG_SEARCH_BACKEND": kind,
            "CREDITREG_SEARCH_URL": f"http://{user}@{address}",
            "CREDITREG_SEARCH_PASSWORD": AWKWARD_PASSWORD,
        },
    )

    def no_database():
        raise AssertionError("an engine backend needs no database")

    backend = create_backend(settings, no_database)
    try:
        assert not backend.health().ok  # the recording server refuses every request
    finally:
        backend.close()
    credentials = f"{user}:{AWKWARD_PASSWORD}".encode()
    assert received[0] == "Basic " + base64.b64encode(credentials).decode()
