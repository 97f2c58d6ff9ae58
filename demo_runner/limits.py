"""How many generations may run at once, per demo and overall; more is refused, not queued.

A refused request costs nothing; a queued one holds a server thread and a connection while it
waits, which is what let streaming chats starve every other request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from demo_runner.errors import DemoBusy

RETRY_AFTER_S = 5


class StreamLimits:
    def __init__(self, per_demo: int, total: int) -> None:
        self.per_demo = per_demo
        self.total = total
        self.running: dict[str, int] = {}
        self.lock = threading.Lock()

    def acquire(self, demo_id: str) -> None:
        """Take a slot for one generation of this demo, or raise DemoBusy."""
        with self.lock:
            if sum(self.running.values()) >= self.total:
                raise DemoBusy(
                    f"{self.total} generations are running on this server; try again shortly",
                    retry_after=RETRY_AFTER_S,
                )
            if self.running.get(demo_id, 0) >= self.per_demo:
                raise DemoBusy(
                    f"{self.per_demo} generations are running on this demo; try again shortly",
                    retry_after=RETRY_AFTER_S,
                )
            self.running[demo_id] = self.running.get(demo_id, 0) + 1

    def release(self, demo_id: str) -> None:
        with self.lock:
            left = self.running.get(demo_id, 0) - 1
            if left > 0:
                self.running[demo_id] = left
            else:
                self.running.pop(demo_id, None)

    @contextmanager
    def slot(self, demo_id: str) -> Iterator[None]:
        self.acquire(demo_id)
        try:
            yield
        finally:
            self.release(demo_id)
