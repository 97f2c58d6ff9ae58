"""How `modelcatalog serve` sizes and guards waitress (numbers measured with bench/load.py).

Waitress has one thread pool. A streaming chat holds a thread for as long as it streams, so the
pool is sized as the request threads asked for *plus* one per chat the demo limits allow
(MODELCATALOG_DEMO_MAX_STREAMS_TOTAL): chats beyond the limit get a 429 at once instead of a
thread, and search and /healthz always find a free one. Connections are read by waitress's event
loop, not by threads, so slow or idle clients cost a socket each: the limit is high, and a
connection that stalls is dropped after `channel_timeout` seconds.
"""

from __future__ import annotations

from typing import Any

CONNECTION_LIMIT = 1000
CHANNEL_TIMEOUT_S = 30


def waitress_options(
    workers: int,
    *,
    streams: int,
    connection_limit: int = CONNECTION_LIMIT,
    channel_timeout: int = CHANNEL_TIMEOUT_S,
) -> dict[str, Any]:
    return {
        "threads": workers + streams,
        "connection_limit": connection_limit,
        "channel_timeout": channel_timeout,
        "cleanup_interval": min(channel_timeout, 30),
        # select() stops at 1024 descriptors; poll() does not.
        "asyncore_use_poll": True,
        "ident": "modelcatalog",
    }
