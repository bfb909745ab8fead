from registry.worker import Worker


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_ok_on_a_migrated_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["revision"] == body["checks"]["database"]["head"]
    assert body["checks"]["search"] == {
        "status": "ok",
        "backend": "sql",
        "detail": "served by the database",
        "dialect": body["checks"]["database"]["dialect"],
    }
    assert body["checks"]["worker"] == {"status": "not-seen"}


def test_readyz_reports_a_worker_heartbeat(app, client, clock):
    with app.app_context():
        from registry.db import db

        Worker(db.new_session, clock, jobs=[], identity="host-a:1").run_round()
    body = client.get("/readyz").get_json()
    assert body["checks"]["worker"]["status"] == "ok"
    assert body["checks"]["worker"]["worker_id"] == "host-a:1"


def test_readyz_is_503_before_migrations(fresh_sqlite_url, make_app):
    app = make_app(fresh_sqlite_url)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "migrations-pending"
    assert body["checks"]["database"]["revision"] == []


def test_readyz_is_503_when_the_database_is_unreachable(make_app):
    app = make_app("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"] == {"status": "unavailable", "error": "OperationalError"}
    assert body["checks"]["search"]["status"] == "unavailable"


def test_readyz_names_a_degraded_search_engine(database_url, migrated_engine, make_app):
    # Nothing listens on port 1: the engine is down, the registry is degraded, not unready.
    app = make_app(
        database_url, SEARCH_BACKEND="opensearch", SEARCH_URL="http://127.0.0.1:1", SEARCH_TIMEOUT=1
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["search"]["status"] == "unavailable"
    assert body["checks"]["search"]["backend"] == "opensearch"
    assert body["checks"]["database"]["status"] == "ok"


def test_readyz_with_a_live_opensearch_server(
    database_url, migrated_engine, make_app, osmem_server
):
    app = make_app(database_url, SEARCH_BACKEND="opensearch", SEARCH_URL=osmem_server.url)
    body = app.test_client().get("/readyz").get_json()
    assert body["status"] == "ok"
    assert body["checks"]["search"]["status"] == "ok"
    assert body["checks"]["search"]["backend"] == "opensearch"
    assert body["checks"]["search"]["version"]
