"""The rate limiter's in-process counters, with one sweeper thread for the life of the process.

limits' memory storage frees the counters of past windows from a timer thread that it starts again
whenever the previous one has finished: under steady traffic a new thread every 10 ms, and on a busy
server each start waits its turn for the interpreter lock inside some request. Counting itself does
not depend on that thread (a counter past its window is dropped when next read); the sweep only
frees memory. So one long-lived thread sweeps once a second and the storage never starts another.
Selected by `RATELIMIT_STORAGE_URI = "swept-memory://"`.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from limits.storage import MemoryStorage

SWEEP_SECONDS = 1.0


class SweptMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["swept-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.timer.cancel()
        # The storage starts a timer only when `self.timer` is not alive: this one always is.
        self.timer = _Sweeper(self)  # type: ignore[assignment]
        self.timer.start()

    def sweep(self) -> None:
        """Drop the counters and window entries that have expired."""
        self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class _Sweeper(threading.Thread):
    def __init__(self, storage: SweptMemoryStorage) -> None:
        super().__init__(name="rate-limit-sweeper", daemon=True)
        self.storage = weakref.ref(storage)  # a storage no app uses any more can be collected
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(SWEEP_SECONDS):
            storage = self.storage()
            if storage is None:
                return
            storage.sweep()
            del storage

    def cancel(self) -> None:
        self.stopped.set()
