"""The `--backend ray` part of bench/demo.py: one model, the same streams on the local and ray backends.

Both backends are driven through the interface the API uses (`ready_model(...).stream(...)`), so the
difference is what the deployment handle, Serve's router and the replica add. Ray runs as a local
instance this script starts (`ray.init`) and shuts down; every wait has a deadline.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo_runner.backends import ChatModel
from demo_runner.device import DeviceChoice
from demo_runner.generate import GenerationParams
from demo_runner.jobs import DemoManager
from demo_runner.settings import BackendKind, DemoSettings, ScaleSettings

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = [
    "Write a short story about a robot who learns to paint.",
    "Explain how a bicycle works to a child.",
    "Describe the water cycle in a few paragraphs.",
    "Write a letter to a friend about a trip to the mountains.",
]
STREAM_TIMEOUT_S = 300.0
READY_TIMEOUT_S = 600.0


@dataclass
class StreamRun:
    """One concurrency level on one backend."""

    streams: int
    wall_s: float
    pieces: int
    ttft_ms: list[float]

    @property
    def pieces_per_s(self) -> float:
        return self.pieces / self.wall_s

    def row(self) -> dict[str, Any]:
        return {
            "streams": self.streams,
            "tok_s": self.pieces_per_s,
            "ttft_p50_ms": statistics.median(self.ttft_ms),
            "ttft_max_ms": max(self.ttft_ms),
            "pieces": self.pieces,
            "wall_s": self.wall_s,
        }


def one_stream(model: ChatModel, prompt: str, params: GenerationParams) -> tuple[float, int]:
    """(seconds to the first piece, pieces) of one streamed answer; a piece is one decoded token."""
    start = time.perf_counter()
    first = None
    pieces = 0
    for _piece in model.stream([{"role": "user", "content": prompt}], params, STREAM_TIMEOUT_S):
        first = first or time.perf_counter() - start
        pieces += 1
    return first or time.perf_counter() - start, pieces


def concurrent_streams(model: ChatModel, count: int, params: GenerationParams) -> StreamRun:
    """`count` streams released together; wall time from the release to the last piece."""
    results: list[tuple[float, int]] = []
    failures: list[BaseException] = []
    gate = threading.Barrier(count + 1)

    def run(prompt: str) -> None:
        gate.wait()
        try:
            results.append(one_stream(model, prompt, params))
        except BaseException as exc:  # reported below: a benchmark must not hide a failed stream
            failures.append(exc)

    threads = [
        threading.Thread(target=run, args=(PROMPTS[i % len(PROMPTS)],), daemon=True)
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    gate.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join(STREAM_TIMEOUT_S)
    wall = time.perf_counter() - start
    if failures or len(results) != count:
        raise RuntimeError(f"{count} streams: {len(results)} finished, failures: {failures[:3]}")
    return StreamRun(count, wall, sum(r[1] for r in results), [r[0] * 1000 for r in results])


def start_latency_ms(model: ChatModel, repeats: int) -> list[float]:
    """Time to the first piece of one-token answers, one after another (the per-request overhead)."""
    params = GenerationParams(max_tokens=1, temperature=0)
    return [one_stream(model, PROMPTS[0], params)[0] * 1000 for _ in range(repeats)]


def measure(
    model: ChatModel, streams: list[int], params: GenerationParams, repeats: int
) -> dict[str, Any]:
    one_stream(model, PROMPTS[0], GenerationParams(max_tokens=8, temperature=0))  # warm-up
    starts = start_latency_ms(model, repeats)
    return {
        "start_p50_ms": statistics.median(starts),
        "start_p90_ms": statistics.quantiles(starts, n=10)[-1] if len(starts) > 1 else starts[0],
        "runs": [concurrent_streams(model, count, params).row() for count in streams],
    }


def wait_ready(read: Callable[[], Any], deadline: float) -> Any:
    while time.monotonic() < deadline:
        job = read()
        if job.state == "ready":
            return job
        if job.state == "failed":
            raise RuntimeError(f"the demo failed: {job.error}")
        time.sleep(0.2)
    raise TimeoutError("the demo was not ready in time")


@contextmanager
def local_ray(cpus: int) -> Iterator[None]:
    """A Ray instance in this process (head, raylet, workers), shut down on the way out."""
    import ray

    from demo_runner.ray_serve import NAMESPACE

    # Ray's workers import demo_runner and catalog from this checkout.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
    )
    # A throwaway instance on the loopback address: no token to write into ~/.ray.
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    temp = tempfile.mkdtemp(prefix="mcray", dir="/tmp")  # Ray's socket paths must stay short
    ray.init(
        num_cpus=cpus,
        _node_ip_address="127.0.0.1",
        num_gpus=0,
        namespace=NAMESPACE,
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=temp,
    )
    try:
        yield
    finally:
        from ray import serve

        try:
            serve.shutdown()
        finally:
            ray.shutdown()
            shutil.rmtree(temp, ignore_errors=True)


def bench_backends(
    repo: str,
    gguf: Path,
    choice: DeviceChoice,
    *,
    streams: list[int],
    max_tokens: int,
    replicas: int,
    repeats: int,
    work: Path,
) -> dict[str, Any]:
    """The same measurements on the local backend, then on a Ray Serve deployment of `replicas`."""
    from catalog.db import make_engine, upgrade_schema
    from catalog.demo_jobs import DemoJobStore
    from demo_runner.ray_backend import RayBackend

    settings = DemoSettings(cache_dir=work / "demos", threads=choice.intra_threads)
    params = GenerationParams(max_tokens=max_tokens, temperature=0)
    deadline = time.monotonic() + READY_TIMEOUT_S
    local = DemoManager(settings, choice=choice)
    try:
        started = time.perf_counter()
        started_job = local.start(repo, gguf_file=gguf)
        job = wait_ready(lambda: local.get(started_job.id), deadline)
        build_s = time.perf_counter() - started
        model = local.ready_model(job.id)
        assert model is not None
        local_figures = measure(model, streams, params, repeats)
    finally:
        local.close()  # the model leaves memory before the replicas load theirs

    url = f"sqlite:///{work / 'jobs.db'}"
    upgrade_schema(make_engine(url))
    scale = ScaleSettings(
        backend=BackendKind.RAY,
        min_replicas=replicas,
        max_replicas=replicas,
        replica_cpus=1.0,
        build_cpus=1.0,
    )
    # One logical CPU per replica and one for the build task (it only finds the cached conversion).
    with local_ray(cpus=replicas + 1):
        backend = RayBackend(settings, scale, DemoJobStore(url), choice=choice)
        try:
            started = time.perf_counter()
            job = backend.start(repo, gguf_file=gguf)
            wait_ready(lambda: backend.get(job.id), time.monotonic() + READY_TIMEOUT_S)
            ray_ready_s = time.perf_counter() - started
            remote = backend.ready_model(job.id)
            assert remote is not None
            ray_figures = measure(remote, streams, params, repeats)
        finally:
            backend.close()
    return {
        "local": {**local_figures, "ready_s": build_s},
        "ray": {**ray_figures, "ready_s": ray_ready_s, "replicas": replicas},
    }


def print_table(figures: dict[str, Any], repo: str, device: str, max_tokens: int) -> None:
    local, ray = figures["local"], figures["ray"]
    print(
        f"\nDemo backends on {repo} ({device}), greedy, up to {max_tokens} new tokens; "
        f"ray: {ray['replicas']} replicas on a local Ray instance\n"
    )
    print(
        f"| {'streams':>7} | {'local tok/s':>11} | {'ray tok/s':>9} | {'ray/local':>9} "
        f"| {'local TTFT p50 ms':>17} | {'ray TTFT p50 ms':>15} |"
    )
    print(f"|{'-' * 9}|{'-' * 13}|{'-' * 11}|{'-' * 11}|{'-' * 19}|{'-' * 17}|")
    for ours, theirs in zip(local["runs"], ray["runs"], strict=True):
        print(
            f"| {ours['streams']:>7} | {ours['tok_s']:>11.1f} | {theirs['tok_s']:>9.1f} "
            f"| {theirs['tok_s'] / ours['tok_s']:>9.2f} | {ours['ttft_p50_ms']:>17.0f} "
            f"| {theirs['ttft_p50_ms']:>15.0f} |"
        )
    added = ray["start_p50_ms"] - local["start_p50_ms"]
    print(
        f"\nstream start (1-token answers, one after another): local p50 "
        f"{local['start_p50_ms']:.1f} ms (p90 {local['start_p90_ms']:.1f}), ray p50 "
        f"{ray['start_p50_ms']:.1f} ms (p90 {ray['start_p90_ms']:.1f}): "
        f"the deployment handle adds {added:.1f} ms p50"
    )
    print(
        f"ready from the converted cache: local {local['ready_s']:.1f} s (conversion included), "
        f"ray {ray['ready_s']:.1f} s (deploy, build task, load on a replica)"
    )
    print("aims: <= 10 ms p50 added per stream start; aggregate ray tok/s >= local")
