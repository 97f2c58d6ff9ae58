"""Reviews, curations, the review queue, the audit trail, CSRF and rate limits over HTTP."""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ingest.snapshot import import_snapshot
from tests.api.conftest import seeded_app
from tests.people import make_user, token_client

MYSTERY = {"id": "acme/mystery", "downloads": 5000, "cardData": {"license": "other"}}
QUANT = {
    "id": "acme/mystery-GGUF",
    "downloads": 10,
    "cardData": {
        "license": "other",
        "base_model": "acme/mystery",
        "base_model_relation": "quantized",
    },
}


def _app(engine: Engine, **config: object) -> Flask:
    app = seeded_app(engine, **config)
    with Session(engine) as session:
        import_snapshot(session, [json.dumps(MYSTERY), json.dumps(QUANT)])
    return app


def test_a_review_through_the_api_changes_the_gate_and_is_audited(sqlite_engine: Engine) -> None:
    app = _app(sqlite_engine)
    reviewer = token_client(app, make_user(sqlite_engine, "rita", "reviewer"))
    admin = token_client(app, make_user(sqlite_engine, "ada", "admin"))
    body = {"model": "acme/mystery", "use": "commercial", "decision": "approved", "comment": "MIT"}
    made = reviewer.post("/api/v1/reviews", json={**body, "ticket": "LEGAL-1"})
    assert made.status_code == 201 and made.json["by"] == "rita"
    verdict = reviewer.get("/api/v1/models/acme/mystery/compliance").json
    assert verdict["review"]["decision"] == "approved" and verdict["gate"]["passes"]
    batch = reviewer.post("/api/v1/compliance", json={"models": ["acme/mystery"]}).json
    assert batch["results"][0]["gate"]["passes"]
    listed = reviewer.get("/api/v1/reviews?model=acme/mystery").json["items"]
    assert [r["id"] for r in listed] == [made.json["id"]]
    assert reviewer.delete(f"/api/v1/reviews/{made.json['id']}").status_code == 204
    assert reviewer.get("/api/v1/models/acme/mystery/compliance").json["review"] is None
    events = admin.get("/api/v1/audit").json["items"]
    assert [e["action"] for e in events][-2:] == ["review.add", "review.delete"]
    assert events[-1]["actor"] == "rita" and events[-1]["before"]["comment"] == "MIT"
    assert events[-1]["remote_addr"] == "127.0.0.1"


def test_bad_reviews_and_curations_are_4xx_problems(sqlite_engine: Engine) -> None:
    app = _app(sqlite_engine)
    reviewer = token_client(app, make_user(sqlite_engine, "rita", "reviewer"))
    cases = [
        (
            "/api/v1/reviews",
            {"model": "no/such", "use": "commercial", "decision": "approved", "comment": "x"},
            404,
        ),
        (
            "/api/v1/reviews",
            {"model": "acme/mystery", "use": "commercial", "decision": "yes", "comment": "x"},
            422,
        ),
        (
            "/api/v1/reviews",
            {
                "model": "acme/mystery",
                "use": "commercial",
                "decision": "approved",
                "comment": "x",
                "expires": "2001-01-01T00:00:00Z",
            },
            422,
        ),
        (
            "/api/v1/curations",
            {
                "repo": "acme/mystery",
                "kind": "model",
                "field": "license",
                "value": {"$ne": 1},
                "source": "s",
                "comment": "c",
            },
            422,
        ),
        (
            "/api/v1/curations",
            {
                "repo": "acme/mystery",
                "kind": "model",
                "field": "license",
                "value": "nope-1.0",
                "source": "s",
                "comment": "c",
            },
            422,
        ),
    ]
    for url, body, status in cases:
        answer = reviewer.post(url, json=body)
        assert (answer.status_code, answer.mimetype) == (status, "application/problem+json"), body
    assert reviewer.delete("/api/v1/curations/12345").status_code == 404


def test_the_queue_lists_what_needs_a_human_and_bulk_decisions_move_it_to_done(
    sqlite_engine: Engine,
) -> None:
    app = _app(sqlite_engine)
    reviewer = token_client(app, make_user(sqlite_engine, "rita", "reviewer"))
    open_items = reviewer.get("/api/v1/queue?author=acme").json
    assert [i["model"] for i in open_items["items"]] == ["acme/mystery", "acme/mystery-GGUF"]
    assert "license-unknown" in open_items["items"][0]["reason_codes"]
    decided = reviewer.post(
        "/api/v1/queue/decisions",
        json={
            "models": ["acme/mystery", "acme/mystery-GGUF"],
            "decision": "approved",
            "comment": "ok",
        },
    )
    assert decided.status_code == 201 and len(decided.json["items"]) == 2
    assert reviewer.get("/api/v1/queue?author=acme").json["total"] == 0
    done = reviewer.get("/api/v1/queue?author=acme&status=done").json
    assert {i["model"] for i in done["items"]} == {"acme/mystery", "acme/mystery-GGUF"}


def test_a_bulk_decision_is_all_or_nothing(sqlite_engine: Engine) -> None:
    app = _app(sqlite_engine)
    reviewer = token_client(app, make_user(sqlite_engine, "rita", "reviewer"))
    body = {"models": ["acme/mystery", "no/such"], "decision": "approved", "comment": "ok"}
    assert reviewer.post("/api/v1/queue/decisions", json=body).status_code == 404
    assert reviewer.get("/api/v1/reviews").json["items"] == []


def test_a_curation_over_the_api_changes_the_stored_verdict_search_filters_on(
    sqlite_engine: Engine,
) -> None:
    app = _app(sqlite_engine)
    reviewer = token_client(app, make_user(sqlite_engine, "rita", "reviewer"))
    search = "/api/v1/models?author=acme&commercial=true"
    assert reviewer.get(search).json["total"] == 0
    made = reviewer.post(
        "/api/v1/curations",
        json={
            "repo": "acme/mystery",
            "kind": "model",
            "field": "license",
            "value": "mit",
            "source": "LICENSE@abc",
            "comment": "it is MIT",
        },
    )
    assert made.status_code == 201
    assert [m["id"] for m in reviewer.get(search).json["items"]] == ["acme/mystery"]
    assert reviewer.delete(f"/api/v1/curations/{made.json['id']}").status_code == 204
    assert reviewer.get(search).json["total"] == 0


def test_anonymous_search_beyond_its_limit_gets_429_with_retry_after(sqlite_engine: Engine) -> None:
    app = _app(sqlite_engine, RATE_LIMIT_ANONYMOUS="3/minute", RATE_LIMIT_TOKEN="5/minute")
    anonymous = app.test_client()
    answers = [anonymous.get("/api/v1/models").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = anonymous.get("/api/v1/models")
    assert limited.mimetype == "application/problem+json"
    assert int(limited.headers["Retry-After"]) > 0
    # A token has its own budget, not the address's.
    client = token_client(app, make_user(sqlite_engine, "vera", "viewer"))
    assert [client.get("/api/v1/models").status_code for _ in range(6)] == [200] * 5 + [429]
    assert anonymous.get("/healthz").status_code == 200  # health checks are never limited


def test_a_users_own_rate_limit_applies_to_its_token(sqlite_engine: Engine) -> None:
    from sqlalchemy import update

    from catalog.tables import User

    app = _app(sqlite_engine, RATE_LIMIT_TOKEN="100/minute")
    client = token_client(app, make_user(sqlite_engine, "bot", "viewer"))
    with Session(sqlite_engine) as session:
        session.execute(update(User).where(User.name == "bot").values(rate_limit="2/minute"))
        session.commit()
    assert [client.get("/api/v1/tasks").status_code for _ in range(3)] == [200, 200, 429]


def test_a_cookie_session_write_without_the_csrf_token_is_refused(sqlite_engine: Engine) -> None:
    app = _app(sqlite_engine)
    make_user(sqlite_engine, "rita", "reviewer")
    browser = app.test_client()
    page = browser.get("/signin").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    without = browser.post(
        "/signin", data={"name": "rita", "password": "correct horse battery staple"}
    )
    assert without.status_code == 400
    signed = browser.post(
        "/signin",
        data={"name": "rita", "password": "correct horse battery staple", "csrf_token": token},
    )
    assert signed.status_code == 303
    forged = browser.post(
        "/models/acme/mystery/reviews",
        data={"use": "commercial", "decision": "approved", "comment": "forged"},
    )
    assert forged.status_code == 400 and "CSRF" in forged.get_data(as_text=True)
    forged_api = browser.post(
        "/api/v1/reviews",
        json={"model": "acme/mystery", "use": "commercial", "decision": "approved", "comment": "x"},
    )
    assert forged_api.status_code == 400 and forged_api.mimetype == "application/problem+json"


def test_sign_in_only_redirects_within_the_site(sqlite_engine: Engine) -> None:
    app = _app(sqlite_engine, WTF_CSRF_ENABLED=False)
    make_user(sqlite_engine, "rita", "reviewer")
    form = {"name": "rita", "password": "correct horse battery staple"}
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        answer = app.test_client().post("/signin", data={**form, "next": target})
        assert answer.headers["Location"] in ("/", "http://localhost/"), target
    inside = app.test_client().post("/signin", data={**form, "next": "/queue"})
    assert inside.headers["Location"].endswith("/queue")


def test_password_guessing_is_slowed_by_a_sign_in_limit(sqlite_engine: Engine) -> None:
    app = _app(sqlite_engine, WTF_CSRF_ENABLED=False, RATE_LIMIT_SIGNIN="3/minute")
    make_user(sqlite_engine, "rita", "reviewer")
    guesser = app.test_client()
    answers = [
        guesser.post("/signin", data={"name": "rita", "password": f"guess{i}"}).status_code
        for i in range(4)
    ]
    assert answers == [200, 200, 200, 429]
