"""Benchmark: `modelcatalog serve` under load — search mix, compliance batches, streaming chats.

Starts the server on 127.0.0.1 with a fresh SQLite catalog (the bundled snapshot), builds the
SmolLM2 demo once, then runs each workload at each concurrency for a fixed time while a probe asks
`/healthz` four times a second. Prints req/s, p50, p99, errors (5xx or broken connections),
refusals (429, by design) and the slowest `/healthz` per run; writes JSON.

The baseline is measured in the same run: `--baseline-rev REV` extracts that revision of this
repository (git archive) into a temporary folder and runs the same workloads against it first.
Everything is bounded: each run stops after `--seconds`, requests time out, servers are killed.

    .venv/bin/python bench/load.py [--seconds 20] [--baseline-rev REV] [--skip-chats]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # loopback only, by design
DEMO_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
SEARCHES = [
    "/api/v1/models?q=llama",
    "/api/v1/models?license=apache-2.0",
    "/api/v1/models?commercial=true&task=text-generation",
    "/api/v1/models?license_category=permissive&sort=likes",
    "/api/v1/models?q=falcon&per_page=5",
    "/api/v1/datasets",
    "/api/v1/licenses?category=copyleft",
]
REQUEST_TIMEOUT_S = 60
RETRY_WAIT_MAX_S = 5


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    refused: int = 0
    healthz: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, seconds: float, status: int) -> None:
        with self.lock:
            if status == 429:
                self.refused += 1
            elif status >= 500 or status == 0:
                self.errors += 1
            else:
                self.latencies.append(seconds)

    def row(self, elapsed: float) -> dict[str, float]:
        ordered = sorted(self.latencies) or [float("nan")]
        return {
            "req_s": len(self.latencies) / elapsed,
            "p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            "errors": self.errors,
            "refused": self.refused,
            "healthz_max_ms": max(self.healthz or [float("nan")]) * 1000,
        }


# A signed-in user per server (demos need one); servers older than sign-in have none.
TOKENS: dict[int, str] = {}


def _headers(port: int, payload: bytes | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"} if payload else {}
    if port in TOKENS:
        headers["Authorization"] = f"Bearer {TOKENS[port]}"
    return headers


def request(port: int, method: str, path: str, body: dict | None = None) -> int:
    """One request on a new connection; the body is read to the end (a stream until [DONE]).

    A 429 is returned as is, after waiting what its Retry-After asks (as a polite client does).
    """
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_S)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=payload, headers=_headers(port, payload))
        response = connection.getresponse()
        response.read()
        if response.status == 429:
            time.sleep(min(float(response.getheader("Retry-After") or 1), RETRY_WAIT_MAX_S))
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        connection.close()


def probe(port: int, run: Run, stop: threading.Event) -> None:
    while not stop.is_set():
        started = time.monotonic()
        status = request(port, "GET", "/healthz")
        run.healthz.append(time.monotonic() - started if status == 200 else REQUEST_TIMEOUT_S)
        stop.wait(0.25)


def drive(port: int, work: Callable[[int], int], concurrency: int, seconds: float) -> dict:
    """Run `work` from `concurrency` threads for `seconds`, with the /healthz probe alongside."""
    run, stop = Run(), threading.Event()
    deadline = time.monotonic() + seconds

    def loop() -> None:
        while time.monotonic() < deadline:
            started = time.monotonic()
            status = work(port)
            run.record(time.monotonic() - started, status)

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(concurrency)]
    prober = threading.Thread(target=probe, args=(port, run, stop), daemon=True)
    started = time.monotonic()
    prober.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + REQUEST_TIMEOUT_S)
    stop.set()
    prober.join(REQUEST_TIMEOUT_S)
    return run.row(time.monotonic() - started)


def search(port: int) -> int:
    return request(port, "GET", random.choice(SEARCHES))


def compliance_batch(models: list[str]) -> Callable[[int], int]:
    body = {"models": models, "use": "commercial"}
    return lambda port: request(port, "POST", "/api/v1/compliance", body)


def chat(demo_path: str) -> Callable[[int], int]:
    body = {
        "messages": [{"role": "user", "content": "Tell me about the city of Paris."}],
        "max_tokens": 64,
        "temperature": 0,
        "stream": True,
    }
    return lambda port: request(port, "POST", f"{demo_path}/v1/chat/completions", body)


class Server:
    """`modelcatalog serve` from a source tree, on a fresh catalog, killed on exit."""

    def __init__(self, source: Path, workdir: Path, demo_cache: Path) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "PYTHONPATH": str(source),
            "DATABASE_URL": f"sqlite:///{workdir / 'catalog.db'}",
            "MODELCATALOG_DEMO_CACHE": str(demo_cache),
            # The benchmark measures the server, not its rate limiter.
            "MODELCATALOG_RATE_LIMIT_ANONYMOUS": "10000000/minute",
            "MODELCATALOG_RATE_LIMIT_TOKEN": "10000000/minute",
        }
        self.source = source
        command = [sys.executable, "-c", "from api.cli import main; main()"]
        subprocess.run(
            [*command, "init"], env=self.env, cwd=workdir, check=True, capture_output=True
        )
        added = subprocess.run(
            [*command, "users", "add", "bench", "--role", "viewer"],
            env=self.env,
            cwd=workdir,
            capture_output=True,
            text=True,
        )
        if added.returncode == 0:
            TOKENS[self.port] = added.stdout.strip().splitlines()[-1]
        self.process = subprocess.Popen(
            [*command, "serve", "--host", HOST, "--port", str(self.port)],
            env=self.env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "server.log", "wb"),  # noqa: SIM115 - closed with the process
        )
        wait_up(self.port)

    def close(self) -> None:
        self.process.kill()
        self.process.wait(30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_up(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if request(port, "GET", "/healthz") == 200:
            return
        time.sleep(0.2)
    raise SystemExit(f"the server on port {port} did not come up")


def ready_demo(port: int, timeout: float = 600) -> str:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    payload = json.dumps({"model": DEMO_MODEL}).encode()
    connection.request("POST", "/api/v1/demos", payload, _headers(port, payload))
    response = connection.getresponse()
    location = response.getheader("Location")
    if location is None:
        raise SystemExit(f"the demo could not start: {response.status} {response.read()[:300]!r}")
    response.read()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection.request("GET", location, headers=_headers(port, None))
        state = json.loads(connection.getresponse().read())
        if state["state"] in ("ready", "failed"):
            if state["state"] == "failed":
                raise SystemExit(f"the demo failed to build: {state['error']}")
            return location
        time.sleep(1)
    raise SystemExit("the demo did not become ready in time")


def catalog_models(port: int, count: int) -> list[str]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    connection.request("GET", "/api/v1/models?per_page=100")
    items = json.loads(connection.getresponse().read())["items"]
    return [item["id"] for item in items][:count]


def measure(server: Server, args: argparse.Namespace) -> dict[str, dict[str, dict]]:
    results: dict[str, dict[str, dict]] = {"search": {}, "compliance": {}, "chat": {}}
    batch = compliance_batch(catalog_models(server.port, 50))
    for level in args.levels:
        results["search"][str(level)] = drive(server.port, search, level, args.seconds)
        results["compliance"][str(level)] = drive(server.port, batch, level, args.seconds)
    if not args.skip_chats:
        talk = chat(ready_demo(server.port))
        for level in args.chat_levels:
            results["chat"][str(level)] = drive(server.port, talk, level, args.seconds)
            time.sleep(2)  # let decodes of abandoned requests (if the server keeps them) drain
    return results


def extract(rev: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def print_table(results: dict[str, dict]) -> None:
    header = f"{'server':10} {'workload':11} {'c':>3} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'429s':>6} {'max /healthz ms':>15}"
    print(header)
    print("-" * len(header))
    for server, workloads in results.items():
        for workload, levels in workloads.items():
            for level, row in levels.items():
                print(
                    f"{server:10} {workload:11} {level:>3} {row['req_s']:8.1f} {row['p50_ms']:8.1f} "
                    f"{row['p99_ms']:8.1f} {row['errors']:6d} {row['refused']:6d} {row['healthz_max_ms']:15.1f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each run")
    parser.add_argument(
        "--levels", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32, 64]
    )
    parser.add_argument(
        "--chat-levels", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 16, 32, 64]
    )
    parser.add_argument("--baseline-rev", help="a git revision to measure first, in the same run")
    parser.add_argument("--baseline-src", type=Path, help="or a source tree to measure first")
    parser.add_argument("--skip-chats", action="store_true", help="no demo build, no chat runs")
    parser.add_argument("--out", default=str(ROOT / "bench/results/load.json"))
    args = parser.parse_args()
    if not 1 <= args.seconds <= 120 or max(args.levels + args.chat_levels) > 128:
        parser.error(
            "--seconds must be 1-120 and concurrency at most 128 (the run must stay bounded)"
        )

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="load-bench-") as scratch:
        scratch_path = Path(scratch)
        demo_cache = scratch_path / "demos"  # shared: SmolLM2 is converted once for both servers
        trees = {"current": ROOT}
        if args.baseline_rev:
            trees = {
                "baseline": extract(args.baseline_rev, Path(tempfile.mkdtemp(dir=scratch))),
                **trees,
            }
        elif args.baseline_src:
            trees = {"baseline": args.baseline_src.resolve(), **trees}
        for name, source in trees.items():
            workdir = Path(tempfile.mkdtemp(dir=scratch))
            server = Server(source, workdir, demo_cache)
            try:
                results[name] = measure(server, args)
            finally:
                server.close()
            print(f"{name}: done", file=sys.stderr)
    print_table(results)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"seconds": args.seconds, "results": results}, indent=2))


if __name__ == "__main__":
    main()
