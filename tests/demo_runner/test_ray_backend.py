"""The demo API on the `ray` backend: a real local Ray head (2 CPUs), two Serve replicas, the tiny model.

The tests share one cluster and run in order; the last one stops the cluster. The one with two\nweb workers needs PostgreSQL (TEST_POSTGRES_URL), as `make test-ray` gives it.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.app import create_app
from api.settings import Settings
from catalog.db import make_engine, upgrade_schema
from demo_runner.generate import MAX_BATCH
from demo_runner.settings import BackendKind, DemoSettings, ScaleSettings
from ingest.snapshot import import_snapshot
from tests.demo_runner.conftest import CPU, add_tiny
from tests.demo_runner.ray_cluster import RayHead
from tests.demo_runner.streams import answering, served
from tests.fakehub import FakeHub
from tests.people import make_user, token_client
from tests.served import ServedWorkers, served_environment

pytestmark = pytest.mark.ray
MODELS = ["tiny/llama", "tiny/second", "tiny/third", "tiny/fourth"]
# The tiny tokenizer on a wider network: slow enough per token (and to convert) to watch a decode
# or a build stop.
WIDE, SLOW = "tiny/wide", "tiny/slow"
GREEDY_LONG = {"max_tokens": 1024, "temperature": 0}


@pytest.fixture(scope="module")
def ray_head() -> Iterator[RayHead]:
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # as the head: see RayHead
    head = RayHead.started(num_cpus=2)
    yield head
    import ray

    ray.shutdown()
    head.stop()
    head.remove()
    if saved is None:
        os.environ.pop("RAY_AUTH_MODE", None)
    else:
        os.environ["RAY_AUTH_MODE"] = saved


@pytest.fixture(scope="module")
def ray_hub(tiny_model_dir: Path, wide_model_dir: Path) -> Iterator[FakeHub]:
    hub = FakeHub().start()
    for repo_id in MODELS:
        add_tiny(hub, repo_id, tiny_model_dir)
    for repo_id in (WIDE, SLOW):
        add_tiny(hub, repo_id, wide_model_dir)
    yield hub
    hub.stop()


def add_models(engine: Engine) -> None:
    lines = [
        json.dumps({"id": m, "pipeline_tag": "text-generation", "tags": ["llama"],
                    "cardData": {"license": "apache-2.0"}})
        for m in [*MODELS, WIDE, SLOW]
    ]  # fmt: skip
    with Session(engine) as session:
        import_snapshot(session, lines)


@pytest.fixture(scope="module")
def ray_database(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('raydb') / 'catalog.db'}")
    upgrade_schema(engine)
    add_models(engine)
    return engine


def make_app(database: Engine, hub: FakeHub, head: RayHead, cache: Path) -> Flask:
    from demo_runner.backends import make_backend

    demo = DemoSettings(cache_dir=cache, endpoint=hub.url)
    app = create_app({"TESTING": True}, Settings(database_url=str(database.url), demo=demo))
    scale = ScaleSettings(
        backend=BackendKind.RAY, ray_address=head.address, models_per_replica=1,
        min_replicas=2, max_replicas=2, replica_cpus=0.5, build_cpus=1, silent_after_s=30,
    )  # fmt: skip
    backend = make_backend(demo, scale, database_url=str(database.url))
    backend.choice = CPU  # type: ignore[attr-defined]
    app.extensions["modelcatalog.demos"] = backend
    return app


@pytest.fixture(scope="module")
def ray_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The converted-model cache every worker of the cluster shares (the deployment's path)."""
    return tmp_path_factory.mktemp("raycache")


@pytest.fixture(scope="module")
def ray_app(ray_database: Engine, ray_hub: FakeHub, ray_head: RayHead, ray_cache: Path) -> Flask:
    return make_app(ray_database, ray_hub, ray_head, ray_cache)


def signed_in(app: Flask) -> Any:
    """A client of a signed-in viewer: starting demos needs a user (one per app and database)."""
    users = app.extensions.setdefault("tests.demo_user", {})
    if "token" not in users:
        users["token"] = make_user(
            app.extensions["modelcatalog.engine"], f"demo-{id(app)}", "viewer"
        )
    return token_client(app, users["token"])


def wait_state(client: Any, location: str, states: tuple[str, ...] = ("ready", "failed"),
               timeout: float = 240) -> dict[str, Any]:  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(location).json
        if state["state"] in states:
            return state
        time.sleep(0.05)
    raise AssertionError(f"{location} never reached {states}: {state}")


def ready_demo(client: Any, model: str) -> str:
    started = client.post("/api/v1/demos", json={"model": model})
    assert started.status_code == 202, started.json
    location = started.headers["Location"]
    state = wait_state(client, location)
    assert state["state"] == "ready", state
    return location


def chat(client: Any, location: str, **options: Any) -> Any:
    body = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8, **options}
    return client.post(f"{location}/v1/chat/completions", json=body)


def sse_events(lines: Iterator[bytes]) -> Iterator[Any]:
    for raw in lines:
        for line in raw.decode().splitlines():
            if line.startswith("data: "):
                data = line[len("data: ") :]
                yield data if data == "[DONE]" else json.loads(data)


def model_key(app: Flask, location: str) -> str:
    key: str = app.extensions["modelcatalog.demos"]._record(location.rsplit("/", 1)[1]).model_key
    return key


def routed(app: Flask, location: str) -> dict[str, Any]:
    """The replica Serve routes this demo's requests to: its pid, what it holds, what it decodes."""
    handle, _builder = app.extensions["modelcatalog.demos"]._connect()
    options = handle.options(multiplexed_model_id=model_key(app, location))
    found: dict[str, Any] = options.describe.remote().result(timeout_s=60)
    return found


def holders(app: Flask, location: str) -> list[dict[str, Any]]:
    """Every replica that holds this demo's model (a model can be held by both; Serve spreads
    requests among its holders, so a dozen asks reach each of two but for a chance in 2,000)."""
    key, found = model_key(app, location), {}
    for _ in range(12):
        answer = routed(app, location)
        if key in answer["models"]:
            found[answer["replica"]] = answer
    return list(found.values())


def decoding(app: Flask, location: str) -> int:
    """Requests waiting or decoding for this demo's model, over every replica that holds it."""
    return sum(holder["active"] for holder in holders(app, location))


def replica(app: Flask, location: str) -> dict[str, Any]:
    """The replica that holds this demo's model. Serve routes by model id only once the replicas
    have reported what they hold, so until then a request can reach the other replica: ask until
    the answer comes from the holder."""
    deadline = time.monotonic() + 60
    while model_key(app, location) not in (found := routed(app, location))["models"]:
        assert time.monotonic() < deadline, f"no replica holds {model_key(app, location)}: {found}"
        time.sleep(0.1)
    return found


def test_a_demo_builds_on_the_cluster_and_answers_like_the_local_one(ray_app: Flask) -> None:
    client = signed_in(ray_app)
    location = ready_demo(client, "tiny/llama")
    answer = chat(client, location, temperature=0)
    assert answer.status_code == 200, answer.json
    assert answer.json["usage"]["completion_tokens"] == 8
    assert answer.json["choices"][0]["message"]["content"]
    streamed = chat(client, location, temperature=0, stream=True)
    events = list(sse_events(iter(streamed.response)))
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert events[-1] == "[DONE]" and text == answer.json["choices"][0]["message"]["content"]
    # A second POST for the same model is the same job, answered from the database.
    again = client.post("/api/v1/demos", json={"model": "tiny/llama"})
    assert again.headers["Location"] == location


def test_three_models_share_two_replicas_and_the_least_recently_used_is_unloaded(
    ray_app: Flask,
) -> None:
    client = signed_in(ray_app)
    locations = [ready_demo(client, model) for model in MODELS[:3]]
    for location in locations + locations[:1]:
        assert chat(client, location).status_code == 200
    # Serve routes by model id only once the replicas have reported what they hold, and the model
    # no replica holds goes to either: a dozen asks per model see both replicas (but for a chance
    # in 2,000), whatever the reports say yet.
    seen: dict[str, dict[str, Any]] = {}
    for location in locations:
        for _ in range(12):
            answer = routed(ray_app, location)
            seen[answer["replica"]] = answer
    assert len(seen) == 2  # both replicas serve
    assert all(len(r["models"]) <= 1 for r in seen.values())  # one model each: others unloaded
    assert sum(r["unloaded"] for r in seen.values()) >= 1


def chats_together(app: Flask, location: str, count: int, **options: Any) -> list[int]:
    """The statuses of `count` chats sent at once, each by its own client."""
    answers: list[int] = []

    def ask() -> None:
        answers.append(chat(signed_in(app), location, **options).status_code)

    threads = [threading.Thread(target=ask) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_concurrent_streams_for_one_model_are_decoded_in_one_batch(ray_app: Flask) -> None:
    client = signed_in(ray_app)
    location = ready_demo(client, "tiny/llama")
    before = max(replica(ray_app, location)["batches"], default=0)
    assert chats_together(ray_app, location, 4, max_tokens=64) == [200] * 4
    assert max(replica(ray_app, location)["batches"]) > max(before, 1)


def test_streams_past_one_batch_for_one_model_go_to_the_other_replica_too(ray_app: Flask) -> None:
    # A replica decodes MAX_BATCH streams at a time. Two more for the same model, while a full
    # batch decodes, are routed to the other replica (which loads the model as well) instead of
    # queueing behind the batch while that replica idles.
    client = signed_in(ray_app)
    location = ready_demo(client, WIDE)
    replica(ray_app, location)  # Serve's router knows the holder: requests go there first
    assert len(holders(ray_app, location)) == 1
    count = MAX_BATCH + 2
    assert chats_together(ray_app, location, count, **GREEDY_LONG) == [200] * count
    assert len(holders(ray_app, location)) == 2


def full_decode_seconds(client: Any, location: str) -> float:
    """How long the wide model takes for its longest answer (the tests stop it well before)."""
    started = time.monotonic()
    whole = chat(client, location, **GREEDY_LONG)
    seconds = time.monotonic() - started
    assert whole.status_code == 200, whole.json
    assert whole.json["usage"]["completion_tokens"] > 500 and seconds > 1.5, (
        "the model answers too fast for this test to see a decode stop",
        whole.json["usage"],
        seconds,
    )
    return seconds


def test_a_prompt_longer_than_the_context_is_422_before_a_stream_starts(ray_app: Flask) -> None:
    # As on the local backend: the replica's refusal is an error answer, not an event inside a
    # started stream.
    client = signed_in(ray_app)
    location = ready_demo(client, "tiny/llama")
    long = [{"role": "user", "content": "Hello there, how are you today? " * 300}]
    for stream in (False, True):
        answer = client.post(
            f"{location}/v1/chat/completions", json={"messages": long, "stream": stream}
        )
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
        assert "512 tokens" in answer.json["detail"] and "max_tokens" in answer.json["detail"]


def test_a_generation_past_its_time_limit_is_504_from_the_replica(ray_app: Flask) -> None:
    client = signed_in(ray_app)
    location = ready_demo(client, WIDE)
    full_s = full_decode_seconds(client, location)
    backend = ray_app.extensions["modelcatalog.demos"]
    saved = backend.settings
    backend.settings = replace(saved, request_timeout_s=full_s / 4)
    try:
        started = time.monotonic()
        answer = chat(client, location, **GREEDY_LONG)
        assert answer.status_code == 504, answer.json
        assert "longer than" in answer.json["detail"]
        assert time.monotonic() - started < full_s / 2
        streamed = chat(client, location, stream=True, **GREEDY_LONG)
        events = list(sse_events(iter(streamed.response)))
        errors = [e["error"] for e in events if isinstance(e, dict) and "error" in e]
        assert [error["type"] for error in errors] == ["GenerationTimedOut"]
        assert events[-1] == "[DONE]"
    finally:
        backend.settings = saved
    assert decoding(ray_app, location) == 0


def test_a_client_disconnect_stops_the_decode_on_the_replica(ray_app: Flask) -> None:
    client = signed_in(ray_app)
    location = ready_demo(client, WIDE)
    full_s = full_decode_seconds(client, location)
    token = ray_app.extensions["tests.demo_user"]["token"]
    body = {"messages": [{"role": "user", "content": "Hello"}], **GREEDY_LONG}
    with served(ray_app) as port, answering(port, location, token, body, 60) as sock:
        assert decoding(ray_app, location) == 1
        sock.close()
        gone = time.monotonic()
        while decoding(ray_app, location) and time.monotonic() - gone < full_s / 2:
            time.sleep(0.05)
        assert decoding(ray_app, location) == 0, "the replica decoded for nobody"


def test_deleting_a_building_demo_cancels_its_build_on_the_cluster(
    ray_app: Flask, ray_cache: Path, ray_hub: FakeHub
) -> None:
    import ray

    # The Hub answers this model's files slowly, so the build is surely still downloading when
    # the job is deleted, however fast the machine converts.
    slow_files = ray_hub.inject(f"/{SLOW}/resolve/", delay=5.0, times=1000)
    client = signed_in(ray_app)
    started = client.post("/api/v1/demos", json={"model": SLOW})
    assert started.status_code == 202, started.json
    location = started.headers["Location"]
    job_id = location.rsplit("/", 1)[1]
    _handle, builder = ray_app.extensions["modelcatalog.demos"]._connect()

    def builds() -> dict[str, list[str]]:
        return ray.get(builder.describe.remote(), timeout=30)

    deadline = time.monotonic() + 60
    while job_id not in builds()["running"]:
        assert time.monotonic() < deadline, client.get(location).json
        time.sleep(0.05)
    assert client.delete(location).status_code == 204
    deadline = time.monotonic() + 60
    while job_id in builds()["running"]:
        assert time.monotonic() < deadline, "the build went on after its job was deleted"
        time.sleep(0.05)
    ray_hub.faults.remove(slow_files)
    assert job_id in builds()["cancelled"]  # stopped for its deleted job, not built and loaded
    assert client.get(location).status_code == 404
    left = [p.name for p in (ray_cache / "converted").iterdir()]
    assert not [name for name in left if "slow" in name or name.startswith(".tmp-")], left


def test_a_replica_killed_mid_stream_ends_it_with_an_error_and_the_next_request_is_served(
    ray_app: Flask,
) -> None:
    client = signed_in(ray_app)
    location = ready_demo(client, WIDE)  # slow enough to be killed mid-answer
    streamed = chat(client, location, stream=True, **GREEDY_LONG)
    events = sse_events(iter(streamed.response))
    assert next(events)["choices"][0]["delta"] == {"role": "assistant"}
    assert "content" in next(events)["choices"][0]["delta"]  # a replica is answering now
    victim = next(holder for holder in holders(ray_app, location) if holder["active"])
    os.kill(victim["pid"], signal.SIGKILL)
    rest = list(events)
    errors = [e["error"] for e in rest if isinstance(e, dict) and "error" in e]
    assert errors and "replica" in errors[0]["message"] and rest[-1] == "[DONE]"
    deadline = time.monotonic() + 120
    while (answer := chat(client, location)).status_code != 200 and time.monotonic() < deadline:
        time.sleep(1)  # Serve notices the dead replica; the request goes to the other one
    assert answer.status_code == 200, answer.json
    assert replica(ray_app, location)["pid"] != victim["pid"]


def test_a_web_worker_restarted_while_a_job_converts_finds_the_job_going_on(
    ray_database: Engine, ray_hub: FakeHub, ray_head: RayHead, ray_cache: Path
) -> None:
    import ray

    first = make_app(ray_database, ray_hub, ray_head, ray_cache)
    started = signed_in(first).post("/api/v1/demos", json={"model": "tiny/fourth"})
    location = started.headers["Location"]
    seen = wait_state(signed_in(first), location, ("converting", "loading", "ready"))
    first.extensions["modelcatalog.demos"].close()
    ray.shutdown()  # the web process leaves the cluster, as a restarted worker would
    second = make_app(ray_database, ray_hub, ray_head, ray_cache)
    client = signed_in(second)
    assert client.get(location).json["state"] in ("converting", "loading", "ready"), seen
    final = wait_state(client, location)
    assert final["state"] == "ready", final
    assert chat(client, location).status_code == 200


def test_two_web_workers_on_postgresql_answer_for_one_demo_and_outlive_their_processes(
    pg_engine: Engine, ray_hub: FakeHub, ray_head: RayHead, ray_cache: Path, tmp_path: Path
) -> None:
    add_models(pg_engine)
    token = make_user(pg_engine, "wendy", "viewer")
    env = served_environment(
        pg_engine, tmp_path, MODELCATALOG_DEMO_BACKEND="ray", RAY_ADDRESS=ray_head.address,
        RAY_AUTH_MODE="disabled", MODELCATALOG_DEMO_CACHE=str(ray_cache),
        HF_ENDPOINT=ray_hub.url, MODELCATALOG_DEMO_DEVICE="cpu",
        MODELCATALOG_DEMO_COMPUTE_TYPE="int8", MODELCATALOG_RAY_MODELS_PER_REPLICA="1",
        MODELCATALOG_RAY_MIN_REPLICAS="2", MODELCATALOG_RAY_MAX_REPLICAS="2",
        MODELCATALOG_RAY_REPLICA_CPUS="0.5",
    )  # fmt: skip
    served = ServedWorkers(env, tmp_path / "serve.log")
    try:
        served.wait_ready()
        started = served.request("POST", "/api/v1/demos", {"model": "tiny/llama"}, token)
        assert started.status == 202, started.body
        location = started.headers["Location"]
        deadline = time.monotonic() + 240
        while (job := served.request("GET", location).body)["state"] not in ("ready", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        assert job["state"] == "ready", job
        answers = served.from_every_worker(location)
        assert {tuple(sorted(answer.body.items())) for answer in answers} == {
            tuple(sorted(job.items()))
        }
        # Every process that ever saw the demo dies; new ones answer for it from the database.
        served.wait_ready(previous=served.kill_workers())
        assert served.request("GET", location).body == job
        body = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4}
        chat_answer = served.request("POST", f"{location}/v1/chat/completions", body, token)
        assert chat_answer.status == 200, chat_answer.body
        assert chat_answer.body["usage"]["completion_tokens"] == 4
        assert served.request("DELETE", location, token=token).status == 204  # its owner's
        assert served.request("GET", location).status == 404
    finally:
        served.stop()


def test_with_the_cluster_stopped_search_answers_and_demos_are_503(
    ray_app: Flask, ray_head: RayHead
) -> None:
    client = signed_in(ray_app)
    location = ready_demo(client, "tiny/llama")
    ray_head.stop()
    assert client.get("/api/v1/models?q=tiny").status_code == 200
    assert client.get("/api/v1/models/tiny/llama/compliance?use=commercial").status_code == 200
    assert client.get(location).json["state"] == "ready"  # job state is in the database
    for answer in (
        client.post("/api/v1/demos", json={"model": "tiny/second"}),
        chat(client, location),
    ):
        assert answer.status_code == 503
        assert answer.mimetype == "application/problem+json"
        assert "Ray cluster" in answer.json["detail"]
