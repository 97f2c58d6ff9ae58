"""The demo commands as a user runs them: `demo run`, `demo export` (a bundle that starts on its own) and `demo serve`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from tests.fakehub import FakeHub

ROOT = Path(__file__).parents[2]


@pytest.fixture
def env(hub: FakeHub, tmp_path: Path) -> dict[str, str]:
    values = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
        "HF_ENDPOINT": hub.url,
        "MODELCATALOG_DEMO_CACHE": str(tmp_path / "demos"),
        "MODELCATALOG_DEMO_DEVICE": "cpu",
    }
    runner = CliRunner()
    assert runner.invoke(main, ["init", "--no-seed"], env=values).exit_code == 0
    line = tmp_path / "tiny.jsonl"
    line.write_text(
        json.dumps(
            {
                "id": "tiny/llama",
                "pipeline_tag": "text-generation",
                "cardData": {"license": "apache-2.0"},
            }
        )
        + "\n"
    )
    assert runner.invoke(main, ["ingest", "snapshot", str(line)], env=values).exit_code == 0
    return values


def outside_env() -> dict[str, str]:
    """The environment of another machine: not inside a Flask command (CliRunner ran one in-process)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")} | {
        "HF_HUB_OFFLINE": "1"
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chat(port: int) -> dict:
    body = json.dumps(
        {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 5, "temperature": 0}
    ).encode()
    for _ in range(300):
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server never answered")


def test_demo_run_streams_an_answer(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        main, ["demo", "run", "tiny/llama", "--prompt", "Hello", "--max-tokens", "6"], env=env
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip()


def test_demo_run_refuses_a_model_outside_the_catalog(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["demo", "run", "other/model", "--prompt", "Hi"], env=env)
    assert result.exit_code == 2 and "not in the catalog" in result.output


def test_an_exported_bundle_starts_with_one_command(env: dict[str, str], tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    result = CliRunner().invoke(main, ["demo", "export", "tiny/llama", str(bundle)], env=env)
    assert result.exit_code == 0, result.output
    assert {"app.py", "requirements.txt", "README.md", "model"} <= {
        p.name for p in bundle.iterdir()
    }
    assert (bundle / "model" / "model.bin").is_file()
    port = free_port()
    log = (tmp_path / "app.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port)],
        cwd=bundle,
        stdout=log,
        stderr=log,
        env=outside_env(),
    )
    try:
        try:
            answer = chat(port)
        except AssertionError:
            raise AssertionError((tmp_path / "app.log").read_text()[-3000:]) from None
        assert (
            answer["object"] == "chat.completion"
            and answer["choices"][0]["message"]["role"] == "assistant"
        )
    finally:
        server.kill()
        server.wait()
        log.close()


def test_demo_serve_is_an_openai_compatible_server(env: dict[str, str]) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "demo", "serve", "tiny/llama", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        answer = chat(port)
        assert answer["model"] == "tiny/llama" and answer["usage"]["completion_tokens"] >= 1
    finally:
        server.kill()
        server.wait()
