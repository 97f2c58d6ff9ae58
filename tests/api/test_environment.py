"""A bad environment gives clear answers: a read-only database still serves reads, a broken demo cache turns demos off."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy.engine import Engine

from tests.api.conftest import app_with, seeded_app
from tests.people import make_user, user_client

TOKENS: dict[str, str] = {}


def read_only_app(sqlite_engine: Engine):  # type: ignore[no-untyped-def]
    seeded_app(sqlite_engine)
    TOKENS["rita"] = make_user(sqlite_engine, "rita", "reviewer")
    path = sqlite_engine.url.database
    sqlite_engine.dispose()
    # A file in rollback-journal mode: the old per-connection WAL pragma had to write to it.
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
    return app_with(f"sqlite:///file:{path}?mode=ro&uri=true")


def test_a_read_only_database_serves_reads(sqlite_engine: Engine) -> None:
    client = read_only_app(sqlite_engine).test_client()
    assert client.get("/api/v1/models?q=falcon").json["total"] > 0
    assert client.get("/api/v1/models/tiiuae/falcon-40b/compliance").status_code == 200
    assert client.get("/").status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json["checks"]["database"] == "read-only"
    assert health.json["status"] == "degraded"


REVIEW = {
    "model": "tiiuae/falcon-40b",
    "use": "commercial",
    "decision": "approved",
    "comment": "MIT",
}


def test_a_write_to_a_read_only_database_is_a_503_that_says_so(sqlite_engine: Engine) -> None:
    from tests.people import token_client

    app = read_only_app(sqlite_engine)
    reviewer = token_client(app, TOKENS["rita"])
    refused = reviewer.post("/api/v1/reviews", json=REVIEW)
    assert refused.status_code == 503 and refused.mimetype == "application/problem+json"
    assert "read-only" in refused.json["detail"]
    assert reviewer.get("/api/v1/models/tiiuae/falcon-40b").status_code == 200  # reads go on


def test_a_read_only_postgresql_role_serves_reads_and_refuses_writes(
    postgres_engine: Engine,
) -> None:
    """A replica-like connection: PostgreSQL itself refuses writes (default_transaction_read_only)."""
    from sqlalchemy import text

    from tests.conftest import _empty, _load_licenses
    from tests.people import token_client

    _empty(postgres_engine)
    _load_licenses(postgres_engine)
    seeded_app(postgres_engine)
    token = make_user(postgres_engine, "rita", "reviewer")
    with postgres_engine.begin() as connection:
        if not connection.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = 'mc_reader'")
        ).first():
            connection.execute(text("CREATE ROLE mc_reader LOGIN PASSWORD 'reader'"))
        connection.execute(text("GRANT USAGE ON SCHEMA public TO mc_reader"))
        connection.execute(text("GRANT SELECT ON ALL TABLES IN SCHEMA public TO mc_reader"))
        connection.execute(text("ALTER ROLE mc_reader SET default_transaction_read_only = on"))
    url = postgres_engine.url.set(username="mc_reader", password="reader")
    app = app_with(url.render_as_string(hide_password=False))
    client = token_client(app, token)
    assert client.get("/api/v1/models?q=falcon").json["total"] > 0
    assert client.get("/api/v1/models/tiiuae/falcon-40b/compliance").status_code == 200
    health = client.get("/healthz").json
    assert health["checks"]["database"] == "read-only" and health["status"] == "degraded"
    refused = client.post("/api/v1/reviews", json=REVIEW)
    assert refused.status_code == 503 and "read-only" in refused.json["detail"]
    app.extensions["modelcatalog.engine"].dispose()


def test_healthz_reports_each_dependency(client) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json["status"] == "ok"
    assert health.json["checks"] == {
        "database": "ok",
        "demo_backend": "local",
        "demo_cache": "ok",
    }


def test_an_unreachable_database_is_503(tmp_path: Path) -> None:
    missing = tmp_path / "absent" / "catalog.db"
    app = app_with(f"sqlite:///file:{missing}?mode=ro&uri=true")
    health = app.test_client().get("/healthz")
    assert health.status_code == 503 and health.json["checks"]["database"].startswith("error")


def unwritable_cache_app(sqlite_engine: Engine):  # type: ignore[no-untyped-def]
    from demo_runner.settings import DemoSettings

    seeded_app(sqlite_engine)
    blocker = Path(tempfile.mkdtemp()) / "a-file"
    blocker.write_text("not a folder")  # a cache path below a file cannot be created, even by root
    return app_with(str(sqlite_engine.url), demo=DemoSettings(cache_dir=blocker / "demos"))


def test_an_unwritable_demo_cache_turns_try_it_off_and_answers_503(sqlite_engine: Engine) -> None:
    client = user_client(unwritable_cache_app(sqlite_engine), "dana", "viewer")
    page = client.get("/models/HuggingFaceTB/SmolLM2-135M-Instruct").get_data(as_text=True)
    assert 'id="try-it-why"' in page and "demos are off on this server" in page
    started = client.post("/api/v1/demos", json={"model": "HuggingFaceTB/SmolLM2-135M-Instruct"})
    assert started.status_code == 503 and started.mimetype == "application/problem+json"
    assert "demo cache" in started.json["detail"]
    health = client.get("/healthz").json
    assert health["status"] == "degraded" and health["checks"]["demo_cache"].startswith(
        "unwritable"
    )
