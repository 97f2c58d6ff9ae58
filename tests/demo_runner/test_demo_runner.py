"""The demo runner with a tiny random-weight model: convert, generate, stream, batch, cache, errors."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from demo_runner.cache import ModelCache, directory_size
from demo_runner.errors import BadGenerationRequest
from demo_runner.generate import GenerationParams
from demo_runner.jobs import DemoManager
from demo_runner.settings import DemoSettings
from tests.demo_runner.conftest import CPU, add_tiny
from tests.fakehub import FakeHub

HELLO = [{"role": "user", "content": "Hello there"}]


def ready(manager: DemoManager, repo_id: str):  # type: ignore[no-untyped-def]
    job = manager.wait(manager.start(repo_id), timeout=120)
    assert job.state == "ready", job.error
    return job


def test_close_stops_every_thread_the_manager_started(manager: DemoManager) -> None:
    job = ready(manager, "tiny/llama")
    batcher = job.loaded.batcher
    assert batcher.thread.is_alive()
    manager.close()
    assert not batcher.thread.is_alive()
    assert job.loaded is None and manager.get(job.id) is None
    assert not any(t.name.startswith("demo-") and t.is_alive() for t in threading.enumerate())


def test_a_hub_model_is_downloaded_converted_to_int8_and_answers(
    manager: DemoManager, hub: FakeHub
) -> None:
    job = ready(manager, "tiny/llama")
    assert job.progress == 1.0 and job.compute_type == "int8"
    text, prompt_tokens, completion_tokens = job.loaded.complete(
        HELLO, GenerationParams(max_tokens=12, temperature=0)
    )
    assert isinstance(text, str) and prompt_tokens > 3 and 1 <= completion_tokens <= 12
    downloaded = [r for r in hub.requests if "/resolve/" in r]
    assert any("model.safetensors" in r for r in downloaded) and any(
        "config.json" in r for r in downloaded
    )
    assert (job.loaded.path / "model.bin").is_file() and (job.loaded.path / "demo.json").is_file()


def test_streaming_yields_the_same_answer_piece_by_piece(manager: DemoManager) -> None:
    job = ready(manager, "tiny/llama")
    params = GenerationParams(max_tokens=16, temperature=0)
    pieces = list(job.loaded.stream(HELLO, params))
    assert len(pieces) > 1
    assert "".join(pieces) == job.loaded.complete(HELLO, params)[0]


def test_max_tokens_bounds_the_answer(manager: DemoManager) -> None:
    job = ready(manager, "tiny/llama")
    _, _, produced = job.loaded.complete(
        HELLO, GenerationParams(max_tokens=3, temperature=1.0, top_k=10)
    )
    assert produced <= 3


def test_concurrent_requests_are_batched(manager: DemoManager) -> None:
    job = ready(manager, "tiny/llama")
    params = GenerationParams(max_tokens=24, temperature=0)
    answers: list[str] = []
    threads = [
        threading.Thread(target=lambda: answers.append("".join(job.loaded.stream(HELLO, params))))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 4 and len(set(answers)) == 1  # greedy: the same answer for each
    assert max(job.loaded.batcher.batches) > 1


def test_a_second_build_comes_from_the_cache(hub: FakeHub, tmp_path: Path) -> None:
    settings = DemoSettings(cache_dir=tmp_path / "demos", endpoint=hub.url)
    first = DemoManager(settings, choice=CPU)
    ready(first, "tiny/llama")
    converted = next((tmp_path / "demos" / "converted").iterdir())
    stamp = (converted / "model.bin").stat().st_mtime_ns
    first.delete(next(iter(first.jobs)))
    second = DemoManager(settings, choice=CPU)
    job = ready(second, "tiny/llama")
    assert job.loaded.path == converted and (converted / "model.bin").stat().st_mtime_ns == stamp
    second.delete(job.id)


def test_the_cache_evicts_the_least_recently_used_model(
    tiny_model_dir: Path, hub: FakeHub, tmp_path: Path
) -> None:
    add_tiny(hub, "tiny/second", tiny_model_dir)
    settings = DemoSettings(cache_dir=tmp_path / "demos", endpoint=hub.url)
    manager = DemoManager(settings, choice=CPU)
    first = ready(manager, "tiny/llama")
    manager.cache.max_bytes = int(
        directory_size(first.loaded.path) * 1.5
    )  # room for one model, not two
    manager.delete(first.id)  # unloaded: no longer pinned
    ready(manager, "tiny/second")
    names = [p.name for p in (tmp_path / "demos" / "converted").iterdir()]
    assert len(names) == 1 and names[0].startswith("tiny--second")
    for job_id in list(manager.jobs):
        manager.delete(job_id)


def test_a_crashed_conversion_leaves_nothing_behind(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path / "cache", max_bytes=2**30)

    def crash(out: Path) -> None:
        (out / "model.bin").write_bytes(b"half")
        raise RuntimeError("killed midway")

    with pytest.raises(RuntimeError):
        cache.put("org--m--rev--int8", crash)
    assert list((tmp_path / "cache").iterdir()) == []
    assert cache.get("org--m--rev--int8") is None
    # A process killed mid-write leaves a temporary folder; the next start removes it.
    (tmp_path / "cache" / ".tmp-deadbeef").mkdir()
    ModelCache(tmp_path / "cache", max_bytes=2**30)
    assert list((tmp_path / "cache").iterdir()) == []


def test_at_most_max_loaded_models_stay_in_memory(
    tiny_model_dir: Path, hub: FakeHub, tmp_path: Path
) -> None:
    add_tiny(hub, "tiny/second", tiny_model_dir)
    manager = DemoManager(
        DemoSettings(cache_dir=tmp_path / "d", endpoint=hub.url, max_loaded=1), choice=CPU
    )
    first = ready(manager, "tiny/llama")
    ready(manager, "tiny/second")
    assert first.loaded is None and first.state == "failed" and "unloaded" in first.error
    for job_id in list(manager.jobs):
        manager.delete(job_id)


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ({"model_type": "bert"}, "architecture 'bert' cannot be converted"),
        ({"auto_map": {"AutoModelForCausalLM": "modeling.Custom"}}, "never runs remote code"),
        ({"parameters": 10**13}, "converting it needs about"),
    ],
    ids=["unsupported-architecture", "remote-code", "too-large"],
)
def test_what_cannot_be_demoed_is_refused_before_downloading_weights(
    manager: DemoManager, hub: FakeHub, tiny_model_dir: Path, setup: dict, expected: str
) -> None:
    parameters = setup.pop("parameters", 100_000)
    add_tiny(hub, "tiny/bad", tiny_model_dir, parameters=parameters, **setup)
    job = manager.wait(manager.start("tiny/bad"), timeout=60)
    assert job.state == "failed" and expected in job.error
    assert not any("tiny/bad/resolve/" in r and "safetensors" in r for r in hub.requests)


def test_gated_models_say_log_in_or_accept_the_terms(
    hub: FakeHub, tiny_model_dir: Path, tmp_path: Path
) -> None:
    add_tiny(hub, "meta/gated", tiny_model_dir, gated="manual")
    anonymous = DemoManager(DemoSettings(cache_dir=tmp_path / "a", endpoint=hub.url), choice=CPU)
    job = anonymous.wait(anonymous.start("meta/gated"), timeout=60)
    assert job.state == "failed" and "log in" in job.error and job.error_status == 401
    hub.tokens.add("hf_user")
    logged_in = DemoManager(
        DemoSettings(cache_dir=tmp_path / "b", endpoint=hub.url, token="hf_user"), choice=CPU
    )
    job = logged_in.wait(logged_in.start("meta/gated"), timeout=60)
    assert job.state == "failed" and "accept its terms" in job.error and job.error_status == 403
    hub.accepted.add(("hf_user", "meta/gated"))
    accepted = DemoManager(
        DemoSettings(cache_dir=tmp_path / "c", endpoint=hub.url, token="hf_user"), choice=CPU
    )
    assert ready(accepted, "meta/gated").state == "ready"
    for job_id in list(accepted.jobs):
        accepted.delete(job_id)


def test_no_network_says_the_hub_cannot_be_reached(tmp_path: Path) -> None:
    manager = DemoManager(
        DemoSettings(cache_dir=tmp_path / "d", endpoint="http://127.0.0.1:9"), choice=CPU
    )
    job = manager.wait(manager.start("tiny/llama"), timeout=120)
    assert (
        job.state == "failed" and "cannot be reached" in job.error and "Traceback" not in job.error
    )


def test_a_model_missing_from_the_hub_is_reported(manager: DemoManager) -> None:
    job = manager.wait(manager.start("nobody/nothing"), timeout=60)
    assert job.state == "failed" and "not found" in job.error


@pytest.mark.parametrize(
    "raw",
    [
        {"max_tokens": 0},
        {"max_tokens": 5000},
        {"temperature": -1},
        {"temperature": "hot"},
        {"top_p": 0},
        {"top_p": 1.5},
        {"top_k": 2.5},
        {"max_tokens": True},
    ],
)
def test_generation_parameters_are_validated(raw: dict) -> None:
    from demo_runner.openai_api import parse_chat_request

    with pytest.raises(BadGenerationRequest, match=next(iter(raw))):
        parse_chat_request({"messages": [{"role": "user", "content": "hi"}], **raw})


def test_a_local_gguf_file_is_a_source_too(tmp_path: Path) -> None:
    from demo_runner.sources import gguf_source

    fake = tmp_path / "m.gguf"
    fake.write_bytes(b"GGUF" + b"\0" * 100)
    source = gguf_source(fake, "local/m")
    assert source.kind == "gguf" and source.revision.startswith("gguf-")
    shutil.rmtree(tmp_path)


def test_a_t5_model_runs_as_a_translator(
    manager: DemoManager, hub: FakeHub, tiny_t5_dir: Path
) -> None:
    add_tiny(hub, "tiny/t5", tiny_t5_dir)
    job = ready(manager, "tiny/t5")
    assert job.loaded.runtime == "translator"
    _, prompt_tokens, produced = job.loaded.complete(
        HELLO, GenerationParams(max_tokens=6, temperature=0)
    )
    assert job.loaded.prompt_tokens(HELLO)[-1] == "</s>" and prompt_tokens >= 2
    assert 1 <= produced <= 6
