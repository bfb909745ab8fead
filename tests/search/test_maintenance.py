"""search verify and reindex, on every backend; and an engine outage in a burst."""

import contextlib
import socket
import threading

from registry.db import db
from registry.outbox import pending_count, touch_subjects
from registry.worker import Job, Worker
from search.engine import EngineBackend, OpenSearchBackend
from search.maintenance import reindex, verify
from search.query import SearchQuery
from search.sync import drain
from tests.api.test_submissions import PENALTY, submit
from tests.search.test_contract import companies  # noqa: F401 - fixture
from tests.signing import signed_member


def test_a_synced_index_verifies_clean(backend, session, companies):  # noqa: F811
    report = verify(session, backend)
    assert report.clean
    assert report.database == report.index == 5
    assert report.database_checksum == report.index_checksum


def test_verify_finds_and_repairs_every_difference(backend, session, clock, companies):  # noqa: F811
    gone, behind = companies["abc"], companies["huaxin"]
    backend.delete([(str(gone.id), gone.revision + 1)], session=session)
    touch_subjects(session, [behind.id], at=clock.now())  # changed, not yet drained
    session.flush()
    report = verify(session, backend)
    assert report.missing == [str(gone.id)] and report.behind == [str(behind.id)]
    assert report.database_checksum != report.index_checksum
    # The deleted document left a tombstone at revision + 1: rewriting it needs a reindex,
    # which is what verify says by leaving it missing after a repair.
    repaired = verify(session, backend, repair=True)
    assert repaired.repaired >= 1
    after = verify(session, backend)
    assert after.behind == []


def test_verify_walks_both_sides_in_pages_and_finds_the_same(backend, session, clock, companies):  # noqa: F811
    # Pages of two over five subjects: every kind of difference at a page boundary.
    gone, behind = companies["abc"], companies["huaxin"]
    backend.delete([(str(gone.id), gone.revision + 1)], session=session)
    touch_subjects(session, [behind.id], at=clock.now())
    stray = {**backend.get(str(companies["tencent"].id), session=session)}
    stray["id"] = "ffffffff-ffff-4fff-bfff-ffffffffffff"  # after every real id
    backend.index([stray], session=session)
    session.flush()
    whole = verify(session, backend).as_dict()
    paged = verify(session, backend, page=2).as_dict()
    assert paged == whole
    assert (paged["missing"], paged["behind"], paged["extra"]) == (
        [str(gone.id)],
        [str(behind.id)],
        [stray["id"]],
    )
    assert (paged["database"], paged["index"]) == (5, 5)


def test_reindex_rebuilds_everything_and_switches_at_once(backend, session, clock, companies):  # noqa: F811
    before = backend.search(SearchQuery(text="华信"), session=session).total
    result = reindex(session, backend, clock.now())
    assert result["documents"] == 5
    if isinstance(backend, EngineBackend):
        assert result["index"].endswith("-v2") and result["previous"].endswith("-v1")
        assert backend.current_index() == result["index"]
        assert not backend.client.indices.exists(index=result["previous"])
        backend.refresh()
    assert verify(session, backend).clean
    assert backend.search(SearchQuery(text="华信"), session=session).total == before


class Outage:
    """A TCP relay in front of the search server that can be cut and restored: to the
    registry, exactly a server that went away and came back."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen()
        self.up = True
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if not self.up:
                    client.close()
                    continue
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def cut(self) -> None:
        with self.lock:
            self.up = False
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.sockets.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


def test_an_engine_outage_in_a_burst_loses_nothing(session, client, clock, osmem_server):
    target = int(osmem_server.url.rsplit(":", 1)[1].strip("/"))
    outage = Outage(target)
    backend = OpenSearchBackend.connect(f"http://127.0.0.1:{outage.port}", "outage", 2)
    worker = Worker(
        lambda: db.session,
        clock,
        jobs=[Job("search-outbox", 0.0, lambda s, now: drain(s, backend, now))],
        poll_interval=0,
        identity="outage-test",
    )
    member = signed_member(session, client, clock, roles=("submitter",))
    try:
        for n in range(20):
            record = {
                **PENALTY,
                "record_id": f"B-{n}",
                "subject": {**PENALTY["subject"], "uscc": factories_uscc(n)},
            }
            assert submit(member, f"burst-{n}", [record]).status_code == 201
            if n == 5:
                worker.run_round()  # the first few reach the index
                outage.cut()  # the engine goes away mid-burst
            if n > 5 and n % 5 == 0:
                worker._next_due.clear()
                worker.run_round()  # fails, backs off; the rows stay queued
        assert pending_count(session) == 14
        outage.restore()
        worker._next_due.clear()
        worker.run_round()
        assert pending_count(session) == 0
        report = verify(session, backend)
        assert report.clean and report.index == 20
    finally:
        outage.close()
        backend.close()
        direct = OpenSearchBackend.connect(osmem_server.url, "outage", 5)
        direct.client.indices.delete(index="outage-subjects-*", ignore_unavailable=True)
        direct.close()


def factories_uscc(n):
    from tests import factories

    return factories.uscc(1000 + n)


def test_the_search_commands(app, session, client, clock):
    member = signed_member(session, client, clock, roles=("submitter",))
    submit(member, "cli-1", [PENALTY])
    runner = app.test_cli_runner()
    dirty = runner.invoke(args=["search", "verify", "--json"])
    assert dirty.exit_code == 1  # queued, not yet indexed
    assert '"missing"' in dirty.output
    repaired = runner.invoke(args=["search", "verify", "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert "now clean" in repaired.output
    rebuilt = runner.invoke(args=["search", "reindex", "--json"])
    assert rebuilt.exit_code == 0 and '"documents": 1' in rebuilt.output
    assert runner.invoke(args=["search", "verify"]).exit_code == 0
