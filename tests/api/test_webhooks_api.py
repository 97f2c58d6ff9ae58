"""Webhooks over the API: admin only, the secret shown once and never logged."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from tests.api.conftest import seeded_app
from tests.people import make_user, token_client


def test_the_secret_is_shown_once_and_never_listed_or_audited(sqlite_engine: Engine) -> None:
    app = seeded_app(sqlite_engine)
    admin = token_client(app, make_user(sqlite_engine, "ada", "admin"))
    made = admin.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["verdict.changed"]}
    )
    assert made.status_code == 201 and len(made.json["secret"]) > 30
    secret = made.json["secret"]
    listed = admin.get("/api/v1/webhooks").get_data(as_text=True)
    audit = admin.get("/api/v1/audit").get_data(as_text=True)
    assert "hook" in listed and secret not in listed
    assert "webhook.add" in audit and secret not in audit
    assert admin.get(f"/api/v1/webhooks/{made.json['id']}/deliveries").json == {"items": []}
    assert admin.delete(f"/api/v1/webhooks/{made.json['id']}").status_code == 204
    assert admin.delete(f"/api/v1/webhooks/{made.json['id']}").status_code == 404


def test_a_webhook_url_must_be_http(sqlite_engine: Engine) -> None:
    app = seeded_app(sqlite_engine)
    admin = token_client(app, make_user(sqlite_engine, "ada", "admin"))
    refused = admin.post(
        "/api/v1/webhooks", json={"url": "gopher://127.0.0.1/", "events": ["review.expired"]}
    )
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
