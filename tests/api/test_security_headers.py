"""Security headers on every answer, no inline script on any page, and links that ignore a forged Host."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.engine import Engine

from api.settings import Settings, SettingsError, WebSettings
from tests.api.conftest import app_with, seeded_app

PAGES = [
    "/",
    "/models/tiiuae/falcon-40b",
    "/licenses",
    "/licenses/apache-2.0",
    "/datasets",
    "/tasks",
    "/about",
    "/no-such-page",
]


@pytest.mark.parametrize("path", [*PAGES, "/api/v1/models", "/healthz", "/api/v1/openapi.json"])
def test_every_answer_carries_the_security_headers(client, path: str) -> None:
    headers = client.get(path).headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
    assert "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize("path", PAGES)
def test_pages_have_no_inline_script(client, path: str) -> None:
    html = client.get(path).get_data(as_text=True)
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, tag
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handlers need 'unsafe-inline'"


def test_the_chat_script_is_a_static_file(client) -> None:
    with client.get("/static/chat.js") as script:
        assert script.status_code == 200 and "chat/completions" in script.get_data(as_text=True)


def test_a_forged_host_is_not_echoed_into_links(client) -> None:
    response = client.get("/api/v1/models?per_page=1", headers={"Host": "evil.example"})
    assert "evil.example" not in response.headers["Link"]
    assert response.headers["Link"].startswith("</api/v1/models?")


def test_links_use_the_configured_base_url(sqlite_engine: Engine) -> None:
    seeded_app(sqlite_engine)
    app = app_with(str(sqlite_engine.url), web=WebSettings(base_url="https://models.example.org"))
    response = app.test_client().get("/api/v1/models?per_page=1", headers={"Host": "evil.example"})
    assert response.headers["Link"].startswith("<https://models.example.org/api/v1/models?")


def test_trusted_proxy_headers_give_the_public_host(sqlite_engine: Engine) -> None:
    seeded_app(sqlite_engine)
    app = app_with(str(sqlite_engine.url), web=WebSettings(trusted_proxies=1))
    response = app.test_client().get(
        "/api/v1/models?per_page=1",
        headers={"X-Forwarded-Host": "models.example.org", "X-Forwarded-Proto": "https"},
    )
    assert response.headers["Link"].startswith("<https://models.example.org/api/v1/models?")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MODELCATALOG_BASE_URL", "javascript:alert(1)"),
        ("MODELCATALOG_BASE_URL", "models.example.org"),
        ("MODELCATALOG_TRUSTED_PROXIES", "-1"),
        ("MODELCATALOG_TRUSTED_PROXIES", "²"),
    ],
)
def test_bad_web_settings_name_the_variable(name: str, value: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SettingsError, match=name):
        Settings.from_environ({name: value}, tmp_path)
