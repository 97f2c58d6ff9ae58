"""Generation limits through the service: context, time, disconnects, concurrent streams, abusive clients."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.app import create_app
from api.settings import Settings
from demo_runner.jobs import DemoManager
from demo_runner.limits import RETRY_AFTER_S
from demo_runner.settings import DemoSettings
from ingest.snapshot import import_snapshot
from tests.demo_runner.conftest import add_tiny
from tests.demo_runner.streams import answering, served
from tests.demo_runner.test_demo_api import wait_ready
from tests.fakehub import FakeHub
from tests.people import make_user, token_client

HELLO = [{"role": "user", "content": "Hello there"}]


def catalog_app(engine: Engine, settings: DemoSettings, *repo_ids: str) -> Flask:
    lines = [
        json.dumps({"id": r, "pipeline_tag": "text-generation", "tags": ["llama"]})
        for r in repo_ids
    ]
    with Session(engine) as session:
        import_snapshot(session, lines)
    config = {
        "TESTING": True,
        "RATE_LIMIT_ANONYMOUS": "100000/minute",
        "RATE_LIMIT_TOKEN": "100000/minute",
    }
    app = create_app(config, Settings(database_url=str(engine.url), demo=settings))
    app.config["TEST_TOKEN"] = make_user(app.extensions["modelcatalog.engine"], "dana", "viewer")
    return app


def client_of(app: Flask):  # type: ignore[no-untyped-def]
    """A signed-in client (demos belong to whoever starts them)."""
    return token_client(app, app.config["TEST_TOKEN"])


@pytest.fixture
def limits_app(
    sqlite_engine: Engine, hub: FakeHub, wide_model_dir: Path, tmp_path: Path
) -> Iterator[Flask]:
    add_tiny(hub, "tiny/wide", wide_model_dir)
    settings = DemoSettings(
        cache_dir=tmp_path / "demos",
        endpoint=hub.url,
        max_streams=1,
        max_streams_total=2,
    )
    app = catalog_app(sqlite_engine, settings, "tiny/llama", "tiny/wide")
    yield app
    manager = app.extensions.get("modelcatalog.demos")
    if manager is not None:
        manager.close()


def ready_demo(client, repo_id: str) -> str:  # type: ignore[no-untyped-def]
    location = client.post("/api/v1/demos", json={"model": repo_id}).headers["Location"]
    assert wait_ready(client, location)["state"] == "ready"
    return location


def manager_of(app: Flask) -> DemoManager:
    return app.extensions["modelcatalog.demos"]


def test_a_prompt_longer_than_the_context_is_422_with_the_numbers(limits_app: Flask) -> None:
    client = client_of(limits_app)
    chat = ready_demo(client, "tiny/llama") + "/v1/chat/completions"
    long = [{"role": "user", "content": "Hello there, how are you today? " * 300}]
    for stream in (False, True):
        answer = client.post(chat, json={"messages": long, "stream": stream})
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
        assert "512 tokens" in answer.json["detail"] and "max_tokens" in answer.json["detail"]


def test_max_tokens_is_capped_to_what_the_context_leaves(limits_app: Flask) -> None:
    client = client_of(limits_app)
    chat = ready_demo(client, "tiny/llama") + "/v1/chat/completions"
    body = {"messages": HELLO, "max_tokens": 1024, "temperature": 0}
    usage = client.post(chat, json=body).json["usage"]
    assert usage["prompt_tokens"] + usage["completion_tokens"] <= 512


def test_too_many_streams_are_429_with_retry_after(limits_app: Flask) -> None:
    client = client_of(limits_app)
    chat = ready_demo(client, "tiny/llama") + "/v1/chat/completions"
    body = {"messages": HELLO, "max_tokens": 200, "stream": True}
    first = client.post(chat, json=body, buffered=False)
    assert first.status_code == 200
    refused = client.post(chat, json=body)
    # The demo's own hint, not the rate limiter's window (which it writes on every answer).
    assert refused.status_code == 429 and refused.headers["Retry-After"] == str(RETRY_AFTER_S)
    assert refused.mimetype == "application/problem+json"
    first.close()  # the slot comes back when the stream ends
    assert client.post(chat, json={**body, "stream": False}).status_code == 200


def test_a_generation_past_its_time_limit_is_504(limits_app: Flask) -> None:
    client = client_of(limits_app)
    chat = ready_demo(client, "tiny/llama") + "/v1/chat/completions"
    manager = manager_of(limits_app)
    manager.settings = replace(manager.settings, request_timeout_s=0.0)
    answer = client.post(chat, json={"messages": HELLO})
    assert answer.status_code == 504 and "longer than" in answer.json["detail"]


def test_a_client_disconnect_stops_the_decode_within_a_second(limits_app: Flask) -> None:
    client = client_of(limits_app)
    location = ready_demo(client, "tiny/wide")
    batcher = manager_of(limits_app).ready_model(location.rsplit("/", 1)[1]).batcher
    body = {"messages": HELLO, "max_tokens": 1024, "temperature": 0}
    started = time.monotonic()
    whole = client.post(location + "/v1/chat/completions", json=body).json
    full_decode_s = time.monotonic() - started
    assert whole["usage"]["completion_tokens"] > 500 and full_decode_s > 1.5, (
        "the model answers too fast for this test to see a decode stop",
        whole["usage"],
        full_decode_s,
    )

    token = limits_app.config["TEST_TOKEN"]
    with served(limits_app) as port, answering(port, location, token, body, 30) as sock:
        assert batcher.active() == 1
        sock.close()
        gone = time.monotonic()
        while batcher.active() and time.monotonic() - gone < 1.0:
            time.sleep(0.01)
        assert batcher.active() == 0, "the decode kept running after the client went away"
        assert time.monotonic() - started < full_decode_s * 2


def test_eight_concurrent_post_delete_cycles_leave_the_service_able_to_build_and_answer(
    limits_app: Flask,
) -> None:
    errors: list[str] = []

    def cycle() -> None:
        client = client_of(limits_app)
        for _ in range(2):
            started = client.post("/api/v1/demos", json={"model": "tiny/llama"})
            if started.status_code != 202:
                errors.append(f"POST {started.status_code}")
                continue
            deleted = client.delete(started.headers["Location"])
            if deleted.status_code not in (204, 404):  # another cycle may have deleted it first
                errors.append(f"DELETE {deleted.status_code}")

    threads = [threading.Thread(target=cycle) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    client = client_of(limits_app)
    chat = ready_demo(client, "tiny/llama") + "/v1/chat/completions"
    answer = client.post(chat, json={"messages": HELLO, "max_tokens": 8})
    assert answer.status_code == 200 and answer.json["choices"][0]["message"]["content"] is not None
    manager = manager_of(limits_app)
    assert len(manager.jobs) == 1 and len(manager.loaded) == 1
