def test_unknown_route_is_a_problem_document(client):
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == "/problems/not-found"
    assert body["status"] == 404
    assert body["instance"] == "/no/such/thing"


def test_wrong_method_is_a_problem_with_allow(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
    assert "GET" in response.headers["Allow"]
    assert response.get_json()["type"] == "/problems/method-not-allowed"


def test_problem_types_are_dereferenceable(client):
    body = client.get("/problems/validation-failed").get_json()
    assert body["status"] == 422
    assert "every" in body["description"]
    assert client.get("/problems/nonsense").status_code == 404


def test_an_unexpected_error_is_a_500_problem_without_a_trace(app, client, caplog):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals 11010519491231002X")

    response = client.get("/boom")
    assert response.status_code == 500
    body = response.get_json()
    assert body["type"] == "/problems/internal-error"
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_failed_request_rolls_back_its_changes(app, client, session):
    import sqlalchemy as sa

    from registry.db import db
    from registry.members import Member
    from tests import factories

    @app.post("/half")
    def half():
        factories.member(db.session, name="half-applied")
        raise RuntimeError("fails after a write")

    assert client.post("/half").status_code == 500
    assert session.scalar(sa.select(Member).where(Member.name == "half-applied")) is None


def test_a_successful_request_commits_once(app, client, session):
    import sqlalchemy as sa

    from registry.db import db
    from registry.members import Member
    from tests import factories

    @app.post("/whole")
    def whole():
        factories.member(db.session, name="applied")
        return {"ok": True}

    assert client.post("/whole").status_code == 200
    assert session.scalar(sa.select(Member).where(Member.name == "applied")) is not None


def test_a_database_away_is_a_503_with_retry_after_never_a_500(
    session, client, clock, monkeypatch, make_app
):
    # What a PostgreSQL restart looks like to a request: the key lookup of the signature
    # check fails, or the commit does. Either way a 503 the client may retry, never a 500.
    import dataclasses
    import socket

    import sqlalchemy as sa

    from registry.submissions import Submission
    from tests.api.test_submissions import PENALTY, submit
    from tests.signing import signed_member

    member = signed_member(session, client, clock, roles=("submitter",))
    # A real server that is not there: nothing listens on this port.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{port}/creditreg_test_gone")
    response = submit(
        dataclasses.replace(member, client=gone.test_client()), "during-restart", [PENALTY]
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.get_json()["type"] == "/problems/service-unavailable"

    # The commit refused (the server went away after the work was done): the one fault a
    # test cannot cause with a real server without stopping it; bench/faults.py does. Only
    # the request's own commit is refused, once; the nonce it spends afterwards on its own
    # commits for real.
    away = sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))
    real_commit = sa.orm.Session.commit
    refused: list[bool] = []

    def refuse_once(self, *args, **kwargs):
        if not refused:
            refused.append(True)
            raise away
        return real_commit(self, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(sa.orm.Session, "commit", refuse_once)
        response = submit(member, "during-restart", [PENALTY])
    assert refused == [True]
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.get_json()["type"] == "/problems/service-unavailable"
    # Nothing of the refused request was applied.
    assert session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 0

    # Sent again (a new nonce, the same submission id), it is accepted once.
    assert submit(member, "during-restart", [PENALTY]).status_code == 201
    assert submit(member, "during-restart", [PENALTY]).headers["Idempotent-Replayed"] == "true"
