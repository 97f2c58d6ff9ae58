"""Several web workers (gunicorn processes) on one PostgreSQL catalog answer as one service."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ingest.snapshot import bundled_snapshot_lines, import_snapshot
from tests.people import make_user
from tests.served import ServedWorkers, served_environment

MYSTERY = {"id": "acme/mystery", "downloads": 5000, "cardData": {"license": "other"}}
MIT = {
    "repo": "acme/mystery",
    "kind": "model",
    "field": "license",
    "value": "mit",
    "source": "LICENSE@abc",
    "comment": "it is MIT",
}


@pytest.fixture
def workers(pg_engine: Engine, tmp_path: Path) -> Iterator[ServedWorkers]:
    pytest.importorskip("gunicorn", reason="--workers needs gunicorn: pip install -e '.[ray]'")
    with Session(pg_engine) as session:
        import_snapshot(session, [*bundled_snapshot_lines(), json.dumps(MYSTERY)])
    env = served_environment(pg_engine, tmp_path, MODELCATALOG_DEMO_BACKEND="off")
    served = ServedWorkers(env, tmp_path / "serve.log")
    try:
        served.wait_ready()
        yield served
    finally:
        served.stop()


def test_a_curation_through_one_worker_changes_search_in_every_worker(
    workers: ServedWorkers, pg_engine: Engine
) -> None:
    search = "/api/v1/models?author=acme&commercial=true"
    # Every worker answers once first, so each holds a search index built before the write.
    before = workers.from_every_worker(search)
    assert {answer.body["total"] for answer in before} == {0}
    made = workers.request(
        "POST", "/api/v1/curations", MIT, make_user(pg_engine, "rita", "reviewer")
    )
    assert made.status == 201, made.body
    after = workers.from_every_worker(search)
    assert len({answer.worker for answer in after}) == 2
    assert {tuple(m["id"] for m in answer.body["items"]) for answer in after} == {("acme/mystery",)}


def test_with_demos_off_every_worker_answers_demo_requests_with_503(
    workers: ServedWorkers, pg_engine: Engine
) -> None:
    token = make_user(pg_engine, "vera", "viewer")
    answer = workers.request("POST", "/api/v1/demos", {"model": "acme/mystery"}, token)
    assert answer.status == 503 and answer.headers["Content-Type"] == "application/problem+json"
    assert "MODELCATALOG_DEMO_BACKEND=off" in answer.body["detail"]
