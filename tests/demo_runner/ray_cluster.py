"""A real local Ray head (num_cpus=2) in its own process group, for the `ray` backend tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RayHead:
    """`ray start --head --block`: stopping it ends the whole cluster, as a crash of the head would."""

    def __init__(self, num_cpus: int = 2) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # Ray's socket paths must stay short, so not under pytest's deep tmp_path.
        self.temp = Path(tempfile.mkdtemp(prefix="mcray", dir="/tmp"))
        self.log = self.temp / "head.log"
        ray = Path(sys.executable).with_name("ray")
        # A loaded machine starts the dashboard agent slowly; the raylet waits for it.
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_agent_register_timeout_ms": "180000",
            # A throwaway cluster on 127.0.0.1 for one test run: no token to share with the driver.
            "RAY_AUTH_MODE": "disabled",
        }
        command = [
            str(ray), "start", "--head", "--block", f"--port={self.port}",
            f"--num-cpus={num_cpus}", "--num-gpus=0", "--include-dashboard=false",
            "--node-ip-address=127.0.0.1", f"--temp-dir={self.temp}",
            "--object-store-memory=100000000", f"--ray-client-server-port={free_port()}",
            "--disable-usage-stats", f"--dashboard-port={free_port()}",
        ]  # fmt: skip
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @classmethod
    def started(cls, num_cpus: int = 2, attempts: int = 3) -> RayHead:
        """A running head; a start that times out on a busy machine is tried again."""
        for attempt in range(attempts):
            head = cls(num_cpus)
            try:
                return head.wait_ready()
            except RuntimeError:
                head.stop()
                head.remove()
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def wait_ready(self, timeout: float = 120) -> RayHead:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ray head exited: {self.log.read_text()[-3000:]}")
            if "Ray runtime started" in self.log.read_text(errors="replace"):
                return self
            time.sleep(0.5)
        raise RuntimeError(f"ray head did not start: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._kill_leftovers()

    def _kill_leftovers(self) -> None:
        """Ray workers that outlived the head (they are in its process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def remove(self) -> None:
        shutil.rmtree(self.temp, ignore_errors=True)
