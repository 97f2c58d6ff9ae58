"""The server stays responsive: slow and idle connections neither block /healthz nor live forever."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask

from api.serving import waitress_options


@pytest.fixture
def served(app: Flask) -> Iterator[int]:
    from waitress.server import create_server

    options = waitress_options(2, streams=0, channel_timeout=2)
    server = create_server(app, host="127.0.0.1", port=0, **options)
    threading.Thread(target=server.run, daemon=True).start()
    yield server.effective_port
    server.close()


def healthz_seconds(port: int) -> float:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/healthz")
    assert connection.getresponse().status == 200
    connection.close()
    return time.monotonic() - started


def test_many_clients_trickling_headers_do_not_block_healthz(served: int) -> None:
    trickling = []
    for _ in range(150):  # more than waitress's default connection limit of 100
        sock = socket.create_connection(("127.0.0.1", served))
        sock.sendall(b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\n")
        trickling.append(sock)
    try:
        assert healthz_seconds(served) < 1.0
    finally:
        for sock in trickling:
            sock.close()


def test_a_stalled_connection_is_closed(served: int) -> None:
    sock = socket.create_connection(("127.0.0.1", served), timeout=15)
    sock.sendall(b"GET / HTTP/1.1\r\n")
    started = time.monotonic()
    assert sock.recv(1024) == b""  # the server hung up
    assert time.monotonic() - started < 10
    sock.close()


def test_chats_get_threads_of_their_own() -> None:
    options = waitress_options(8, streams=16)
    assert options["threads"] == 24 and options["connection_limit"] >= 1000


def test_a_request_needs_one_pooled_connection(app: Flask) -> None:
    """With one connection in the pool, signed-in requests still answer: no request takes a second
    connection while holding the first (which deadlocks a busy server once the pool is held)."""
    from sqlalchemy import create_engine

    from tests.people import user_client

    url = app.extensions["modelcatalog.engine"].url
    app.extensions["modelcatalog.engine"] = create_engine(
        url, pool_size=1, max_overflow=0, pool_timeout=2
    )
    client = user_client(app, "ops", "viewer")
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json()["checks"]["database"] == "ok"
    for path in ("/api/v1/models?license=apache-2.0", "/api/v1/datasets", "/api/v1/licenses"):
        assert client.get(path).status_code == 200, path
    verdicts = client.post("/api/v1/compliance", json={"models": ["gpt2"], "use": "commercial"})
    assert verdicts.status_code == 200


def test_a_request_that_finds_no_free_connection_gets_503(app: Flask) -> None:
    from sqlalchemy import create_engine

    url = app.extensions["modelcatalog.engine"].url
    busy = create_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.5)
    app.extensions["modelcatalog.engine"] = busy
    with busy.connect():  # the only connection, held elsewhere
        answer = app.test_client().get("/api/v1/models")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "2"
    assert answer.get_json()["detail"] == "The database is busy; try again shortly."
    assert app.test_client().get("/api/v1/models").status_code == 200  # free again
