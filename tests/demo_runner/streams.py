"""A streamed chat on a raw socket, so that a test can hang up in the middle of an answer."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

from flask import Flask


@contextlib.contextmanager
def served(app: Flask) -> Iterator[int]:
    """The app behind waitress on a free loopback port, for as long as the block runs."""
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=4)

    def run() -> None:
        with contextlib.suppress(OSError):  # closing the server's socket under its loop
            server.run()

    threading.Thread(target=run, daemon=True).start()
    try:
        yield server.effective_port
    finally:
        server.close()


@contextlib.contextmanager
def answering(
    port: int, location: str, token: str, body: dict[str, Any], timeout: float
) -> Iterator[socket.socket]:
    """POST a streamed chat and read until its first content has come: the model is answering.
    The socket is closed when the block ends (the test may close it earlier to hang up)."""
    payload = json.dumps({**body, "stream": True}).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(
            f"POST {location}/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        received = b""
        while b'"content"' not in received:
            received += sock.recv(4096)
        assert received.startswith(b"HTTP/1.1 200")
        yield sock
    finally:
        sock.close()
