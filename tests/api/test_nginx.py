"""The README's nginx configuration, run by Debian's nginx in front of the app."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from api.serving import waitress_options
from api.settings import WebSettings
from tests.api.conftest import app_with, seeded_app

README = Path(__file__).resolve().parents[2] / "README.md"
NGINX = "/usr/sbin/nginx"


def readme_config() -> str:
    blocks = re.findall(r"```nginx\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, "the README shows one nginx configuration"
    return blocks[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main_config(server_block: str, prefix: Path) -> str:
    """The minimal nginx.conf around the README's server block, everything under `prefix`."""
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {name}_temp_path {prefix / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes 1;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\nevents {{ worker_connections 256; }}\n"
        f"http {{\n    access_log off;\n{temp}\n{server_block}\n}}\n"
    )


@pytest.fixture
def proxied(sqlite_engine: Engine, tmp_path: Path) -> Iterator[int]:
    from waitress.server import create_server

    if not Path(NGINX).is_file():
        pytest.fail("Debian's nginx is not installed: `make test` installs it")
    seeded_app(sqlite_engine)
    app = app_with(str(sqlite_engine.url), web=WebSettings(trusted_proxies=1))
    server = create_server(app, host="127.0.0.1", port=0, **waitress_options(4, streams=0))
    threading.Thread(target=server.run, daemon=True).start()
    port = free_port()
    block = readme_config().replace("127.0.0.1:5000", f"127.0.0.1:{server.effective_port}")
    block = block.replace("listen 80;", f"listen 127.0.0.1:{port};")
    (tmp_path / "nginx.conf").write_text(main_config(block, tmp_path))
    nginx = subprocess.Popen(
        [NGINX, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path), "-g", "daemon off;"],
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, nginx)
        yield port
    finally:
        nginx.terminate()
        nginx.wait(10)
        server.close()
        shutil.rmtree(tmp_path, ignore_errors=True)


def wait_for_port(port: int, nginx: subprocess.Popen) -> None:  # type: ignore[type-arg]
    for _ in range(100):
        if nginx.poll() is not None:
            raise AssertionError("nginx did not start; see error.log in the test's folder")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nginx did not listen")


def get(port: int, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_the_app_answers_through_nginx_with_its_headers(proxied: int) -> None:
    health = get(proxied, "/healthz")
    assert health.status == 200
    assert health.getheader("X-Content-Type-Options") == "nosniff"
    assert "frame-ancestors 'none'" in health.getheader("Content-Security-Policy")


def test_links_name_the_configured_server_not_the_clients_host(proxied: int) -> None:
    link = get(proxied, "/api/v1/models?per_page=1", {"Host": "evil.example"}).getheader("Link")
    assert link.startswith("<http://models.example.org/api/v1/models?"), link


def test_nginx_refuses_oversized_bodies(proxied: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", proxied, timeout=10)
    body = b'{"models": ["' + b"a" * 300_000 + b'"]}'
    connection.request(
        "POST", "/api/v1/compliance", body=body, headers={"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 413
