"""The demo job flow through the service: POST → 202 → poll → chat (plain and streamed) → DELETE; and Try it in a browser."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.app import create_app
from api.settings import Settings
from demo_runner.settings import DemoSettings
from ingest.snapshot import import_snapshot
from tests.fakehub import FakeHub
from tests.people import make_user, sign_in, token_client, user_client


@pytest.fixture
def demo_app(sqlite_engine: Engine, hub: FakeHub, tmp_path: Path) -> Iterator[Flask]:
    with Session(sqlite_engine) as session:
        import_snapshot(
            session,
            [
                json.dumps(
                    {
                        "id": "tiny/llama",
                        "pipeline_tag": "text-generation",
                        "tags": ["llama"],
                        "cardData": {"license": "llama2"},
                    }
                )
            ],
        )
    app = create_app(
        {"TESTING": True},
        Settings(
            database_url=str(sqlite_engine.url),
            demo=DemoSettings(cache_dir=tmp_path / "demos", endpoint=hub.url),
        ),
    )
    yield app
    manager = app.extensions.get("modelcatalog.demos")
    if manager is not None:
        manager.close()


def wait_ready(client, location: str) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(600):
        state = client.get(location).json
        if state["state"] in ("ready", "failed"):
            return state
        time.sleep(0.1)
    raise AssertionError("demo never became ready")


def test_the_demo_job_flow(demo_app: Flask) -> None:
    client = user_client(demo_app, "dana", "viewer")
    started = client.post("/api/v1/demos", json={"model": "tiny/llama"})
    assert started.status_code == 202
    location = started.headers["Location"]
    assert location.startswith("/api/v1/demos/")
    assert wait_ready(client, location)["state"] == "ready"

    chat = f"{location}/v1/chat/completions"
    answer = client.post(
        chat,
        json={
            "messages": [{"role": "user", "content": "Hello"}],
            "max_tokens": 8,
            "temperature": 0,
        },
    )
    assert answer.status_code == 200
    body = answer.json
    assert (
        body["object"] == "chat.completion" and body["choices"][0]["message"]["role"] == "assistant"
    )
    assert 1 <= body["usage"]["completion_tokens"] <= 8

    streamed = client.post(
        chat,
        json={
            "messages": [{"role": "user", "content": "Hello"}],
            "max_tokens": 8,
            "temperature": 0,
            "stream": True,
        },
    )
    assert streamed.mimetype == "text/event-stream"
    events = [e[len("data: ") :] for e in streamed.get_data(as_text=True).split("\n\n") if e]
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert text == body["choices"][0]["message"]["content"]

    assert client.delete(location).status_code == 204
    assert client.get(location).status_code == 404


def test_demo_errors_are_problems(demo_app: Flask) -> None:
    client = user_client(demo_app, "dana", "viewer")
    assert client.post("/api/v1/demos", json={"model": "not/in-catalog"}).status_code == 404
    assert client.post("/api/v1/demos", json={}).status_code == 422
    assert client.get("/api/v1/demos/nope").status_code == 404
    location = client.post("/api/v1/demos", json={"model": "tiny/llama"}).headers["Location"]
    wait_ready(client, location)
    bad = client.post(f"{location}/v1/chat/completions", json={"messages": [], "max_tokens": 5000})
    assert bad.status_code == 422 and bad.content_type == "application/problem+json"
    assert set(bad.json["errors"]) == {"messages", "max_tokens"}


def test_chatting_before_the_demo_is_ready_is_a_conflict(demo_app: Flask, hub: FakeHub) -> None:
    hub.inject("/api/models/tiny/llama", delay=3)
    client = user_client(demo_app, "dana", "viewer")
    location = client.post("/api/v1/demos", json={"model": "tiny/llama"}).headers["Location"]
    early = client.post(
        f"{location}/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}
    )
    assert early.status_code == 409 and "is downloading" in early.json["detail"]


@pytest.mark.browser
def test_try_it_shows_the_verdict_then_progress_then_a_streamed_answer(demo_app: Flask) -> None:
    from playwright.sync_api import sync_playwright
    from waitress.server import create_server

    from tests.api.test_browser import CHROMIUM, CHROMIUM_ARGS

    if not shutil.which("chromium"):
        pytest.fail("Debian's chromium is not installed: `make test` installs it")
    server = create_server(demo_app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(base_url=f"http://127.0.0.1:{server.effective_port}")
            make_user(demo_app.extensions["modelcatalog.engine"], "dana", "viewer")
            sign_in(page, "dana")
            page.goto("/models/tiny/llama")
            page.click("#try-it-button")
            page.wait_for_url("**/demos/*")
            assert "700 million" in page.inner_text(
                "#demo-obligations"
            )  # the verdict comes before the chat
            page.wait_for_function(
                "document.getElementById('demo-state').textContent === 'ready'", timeout=120_000
            )
            assert page.eval_on_selector("#demo-progress", "e => e.value") == 1
            page.fill("#prompt", "Hello there")
            page.click("#send")
            page.wait_for_selector("#answer-1[data-done='true']", timeout=60_000)
            assert page.inner_text("#answer-1").strip()
            page.screenshot(path="/tmp/modelcatalog-demo-page.png", full_page=True)
            browser.close()
    finally:
        server.close()


def test_a_demo_needs_a_signed_in_user_and_only_its_owner_or_an_admin_deletes_it(
    demo_app: Flask,
) -> None:
    engine = demo_app.extensions["modelcatalog.engine"]
    anonymous = demo_app.test_client()
    refused = anonymous.post("/api/v1/demos", json={"model": "tiny/llama"})
    assert refused.status_code == 401
    assert refused.mimetype == "application/problem+json"
    owner = token_client(demo_app, make_user(engine, "owner", "viewer"))
    other = token_client(demo_app, make_user(engine, "other", "reviewer"))
    admin = token_client(demo_app, make_user(engine, "root", "admin"))
    first = owner.post("/api/v1/demos", json={"model": "tiny/llama"}).headers["Location"]
    wait_ready(owner, first)  # deleting a demo mid-build is the demo runner's own question
    assert anonymous.delete(first).status_code == 401
    assert other.delete(first).status_code == 403
    assert owner.delete(first).status_code == 204
    second = owner.post("/api/v1/demos", json={"model": "tiny/llama"}).headers["Location"]
    wait_ready(owner, second)
    assert admin.delete(second).status_code == 204
