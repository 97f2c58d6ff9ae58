"""The rate limiter's counters: counted as limits counts them, swept by one thread, no thread per hit."""

from __future__ import annotations

import threading
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from api.rate_storage import SWEEP_SECONDS, SweptMemoryStorage


def test_the_uri_selects_the_swept_storage_and_it_counts() -> None:
    storage = storage_from_string("swept-memory://")
    assert isinstance(storage, SweptMemoryStorage)
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("3/minute")
    assert [limiter.hit(limit, "alice") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(limit, "bob")


def test_hits_start_no_threads_and_expired_counters_are_swept() -> None:
    storage = SweptMemoryStorage()
    before = {thread.ident for thread in threading.enumerate()}
    for n in range(200):
        storage.incr(f"key-{n}", expiry=0.05)
        time.sleep(0.001)  # past the stock storage's 10 ms timer, several times over
    started = {thread.ident for thread in threading.enumerate()} - before
    assert not started
    assert len(storage.storage) == 200
    time.sleep(SWEEP_SECONDS * 2.5)
    assert len(storage.storage) == 0 and not storage.expirations
