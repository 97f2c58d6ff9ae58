"""`modelcatalog serve --workers N` as real processes (gunicorn), and which worker answered a request.

Which worker took a connection is read from the operating system (the worker that holds the
server end of the client's socket), so the app exposes nothing for it.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def served_environment(engine: Engine, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of `serve` on this catalog: demos under tmp_path, limits that tests do not hit."""
    return {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "MODELCATALOG_DEMO_CACHE": str(tmp_path / "demos"),
        "MODELCATALOG_SECRET_KEY": "a shared key for every worker",
        "MODELCATALOG_RATE_LIMIT_ANONYMOUS": "100000/minute",
        "MODELCATALOG_RATE_LIMIT_TOKEN": "100000/minute",
        "HF_ENDPOINT": "http://127.0.0.1:9",
        **extra,
    }


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]
    worker: int  # the pid of the worker process that answered


class ServedWorkers:
    """A gunicorn master (the `modelcatalog serve` process) and its workers, on 127.0.0.1."""

    def __init__(self, env: dict[str, str], log: Path, workers: int = 2) -> None:
        self.port = free_port()
        self.workers = workers
        self.log = log
        command = [sys.executable, "-m", "api", "serve", "--port", str(self.port)]
        command += ["--workers", str(workers), "--threads", "4"]
        environment = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**environment, "PYTHONPATH": str(ROOT), **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def worker_pids(self) -> set[int]:
        import psutil

        return {child.pid for child in psutil.Process(self.process.pid).children()}

    def wait_ready(self, previous: set[int] = frozenset(), timeout: float = 120) -> set[int]:  # type: ignore[assignment]
        """The pids of N live workers, none of them in `previous`, once /healthz answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited: {self.log.read_text()[-3000:]}")
            pids = self.worker_pids()
            if len(pids) == self.workers and not pids & previous:
                try:
                    if self.request("GET", "/healthz").status == 200:
                        return pids
                except OSError:
                    pass
            time.sleep(0.2)
        raise AssertionError(f"the workers did not start: {self.log.read_text()[-3000:]}")

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> Answer:
        """One request on a new connection; the answer says which worker gave it."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            connection.request(
                method, path, json.dumps(body) if body is not None else None, headers
            )
            response = connection.getresponse()
            raw = response.read()
            # The worker still holds the connection (keep-alive): find it before closing.
            worker = self._holder(connection.sock.getsockname()[1])
        finally:
            connection.close()
        parsed = (
            json.loads(raw) if raw and "json" in (response.getheader("Content-Type") or "") else raw
        )
        return Answer(response.status, parsed, dict(response.getheaders()), worker)

    def from_every_worker(
        self, path: str, token: str | None = None, burst: int = 8, bursts: int = 25
    ) -> list[Answer]:
        """GETs sent `burst` at a time until every live worker has answered at least one."""
        answers: list[Answer] = []
        for _ in range(bursts):
            with ThreadPoolExecutor(burst) as pool:
                answers += pool.map(lambda _i: self.request("GET", path, token=token), range(burst))
            if self.worker_pids() <= {answer.worker for answer in answers}:
                return answers
        raise AssertionError(f"not every worker answered {path}: {[a.worker for a in answers]}")

    def _holder(self, client_port: int) -> int:
        import psutil

        for pid in self.worker_pids():
            for connection in psutil.Process(pid).net_connections(kind="tcp"):
                if connection.raddr and connection.raddr.port == client_port:
                    return pid
        return 0  # the worker already closed it: unknown

    def kill_workers(self) -> set[int]:
        """SIGKILL every worker, as a crash would; gunicorn starts new ones. The old pids."""
        old = self.worker_pids()
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        return old

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue
