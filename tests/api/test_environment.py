"""A bad environment gives clear answers: a read-only database still serves reads, a broken demo cache turns demos off."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy.engine import Engine

from tests.api.conftest import app_with, seeded_app
from tests.people import user_client


def read_only_app(sqlite_engine: Engine):  # type: ignore[no-untyped-def]
    seeded_app(sqlite_engine)
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
