import json

from registry.worker import Worker


def ready(app):
    """The operator's report: `creditreg ready`, with its exit code."""
    result = app.test_cli_runner().invoke(args=["ready"])
    return result.exit_code, json.loads(result.output)


def statuses_only(body):
    return all(set(check) == {"status"} for check in body["checks"].values())


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_ok_on_a_migrated_database(app, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {
            "database": {"status": "ok"},
            "search": {"status": "ok"},
            "worker": {"status": "not-seen"},
            # 25 November 2026: the next deadlines may reach 2027, whose calendar the State
            # Council had not published when the shipped ones were made.
            "calendar": {"status": "years-missing"},
        },
    }
    code, body = ready(app)
    assert code == 0 and body["status"] == "ok"
    assert body["checks"]["database"]["revision"] == body["checks"]["database"]["head"]
    assert body["checks"]["search"] == {
        "status": "ok",
        "backend": "sql",
        "detail": "served by the database",
        "refused_documents": 0,
        "dialect": body["checks"]["database"]["dialect"],
    }


def test_the_worker_host_and_pid_are_for_the_operator_not_the_public(app, client, clock):
    with app.app_context():
        from registry.db import db

        Worker(db.new_session, clock, jobs=[], identity="host-a:1").run_round()
    public = client.get("/readyz")
    assert public.get_json()["checks"]["worker"] == {"status": "ok"}
    assert "host-a" not in public.get_data(as_text=True)
    code, body = ready(app)
    assert code == 0
    assert body["checks"]["worker"]["status"] == "ok"
    assert body["checks"]["worker"]["worker_id"] == "host-a:1"


def test_readyz_is_503_before_migrations(fresh_sqlite_url, make_app):
    app = make_app(fresh_sqlite_url)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    body = response.get_json()
    assert body["status"] == "unavailable" and statuses_only(body)
    assert body["checks"]["database"]["status"] == "migrations-pending"
    code, report = ready(app)
    assert code == 1 and report["checks"]["database"]["revision"] == []


def test_readyz_is_503_when_the_database_is_unreachable(make_app):
    app = make_app("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"] == {"status": "unavailable"}
    assert body["checks"]["search"] == {"status": "unavailable"}
    code, report = ready(app)
    assert code == 1
    assert report["checks"]["database"] == {"status": "unavailable", "error": "OperationalError"}


def test_readyz_names_a_degraded_search_engine(database_url, migrated_engine, make_app):
    # Nothing listens on port 1: the engine is down, the registry is degraded, not unready.
    app = make_app(
        database_url, SEARCH_BACKEND="opensearch", SEARCH_URL="http://127.0.0.1:1", SEARCH_TIMEOUT=1
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded" and statuses_only(body)
    assert body["checks"]["search"]["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "ok"
    code, report = ready(app)
    assert code == 0 and report["checks"]["search"]["backend"] == "opensearch"


def test_readyz_with_a_live_opensearch_server(
    database_url, migrated_engine, make_app, osmem_server
):
    app = make_app(database_url, SEARCH_BACKEND="opensearch", SEARCH_URL=osmem_server.url)
    body = app.test_client().get("/readyz").get_json()
    assert body["status"] == "ok"
    assert body["checks"]["search"] == {"status": "ok"}
    code, report = ready(app)
    assert code == 0
    assert report["checks"]["search"]["backend"] == "opensearch"
    assert report["checks"]["search"]["version"]
