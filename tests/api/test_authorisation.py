"""The authorisation matrix: every route x every role (and anonymous) → allowed or refused.

The table below is the contract. A route added to the app and missing here fails
`test_every_route_is_in_the_matrix`; create_app() itself refuses to start without it in api.auth.ACCESS.
"""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.engine import Engine

from tests.api.conftest import seeded_app
from tests.people import make_user, token_client

ROLES = ("anonymous", "viewer", "reviewer", "admin")
# Who may: "anyone" (even with anonymous access off), "read" (anonymous when it is on),
# "signed-in", "reviewer", "admin".
MATRIX: dict[tuple[str, str], tuple[str, str, dict]] = {
    ("GET", "/healthz"): ("health.healthz", "anyone", {}),
    ("GET", "/api/v1/healthz"): ("health_v1.healthz", "anyone", {}),
    ("GET", "/api/v1/docs/assets/swagger-ui.css"): ("docs_assets.asset", "anyone", {}),
    ("GET", "/static/chat.js"): ("static", "anyone", {}),
    ("GET", "/api/v1/openapi.json"): ("api-docs.openapi_json", "read", {}),
    ("GET", "/api/v1/docs"): ("api-docs.openapi_swagger_ui", "read", {}),
    ("GET", "/api/v1/models"): ("models.Models", "read", {}),
    ("GET", "/api/v1/models/tiiuae/falcon-7b"): ("models.ModelDetail", "read", {}),
    ("GET", "/api/v1/models/tiiuae/falcon-7b/compliance"): ("models.ModelCompliance", "read", {}),
    ("POST", "/api/v1/compliance"): ("models.Compliance", "read", {"json": {"models": ["a/b"]}}),
    ("GET", "/api/v1/models/tiiuae/falcon-7b/bom"): ("models.ModelBom", "read", {}),
    ("POST", "/api/v1/compliance/bom"): (
        "models.ComplianceBom",
        "read",
        {"json": {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}},
    ),
    ("GET", "/api/v1/licenses"): ("catalog.Licenses", "read", {}),
    ("GET", "/api/v1/licenses/mit"): ("catalog.LicenseDetail", "read", {}),
    ("GET", "/api/v1/datasets"): ("catalog.Datasets", "read", {}),
    ("GET", "/api/v1/datasets/EleutherAI/pile"): ("catalog.DatasetDetail", "read", {}),
    ("GET", "/api/v1/tasks"): ("catalog.Tasks", "read", {}),
    ("POST", "/api/v1/demos"): ("demos.Demos", "signed-in", {"json": {"model": "no/such"}}),
    ("GET", "/api/v1/demos/nope"): ("demos.DemoDetail", "read", {}),
    ("DELETE", "/api/v1/demos/nope"): ("demos.DemoDetail", "signed-in", {}),
    ("GET", "/api/v1/demos/nope/v1/models"): ("demos.DemoModels", "read", {}),
    ("POST", "/api/v1/demos/nope/v1/chat/completions"): (
        "demos.ChatCompletions",
        "read",
        {"json": {"messages": [{"role": "user", "content": "hi"}]}},
    ),
    ("GET", "/api/v1/reviews"): ("people.Reviews", "read", {}),
    ("POST", "/api/v1/reviews"): ("people.Reviews", "reviewer", {"json": {}}),
    ("DELETE", "/api/v1/reviews/999"): ("people.ReviewDetail", "reviewer", {}),
    ("GET", "/api/v1/curations"): ("people.Curations", "read", {}),
    ("POST", "/api/v1/curations"): ("people.Curations", "reviewer", {"json": {}}),
    ("DELETE", "/api/v1/curations/999"): ("people.CurationDetail", "reviewer", {}),
    ("GET", "/api/v1/queue"): ("people.Queue", "read", {}),
    ("POST", "/api/v1/queue/decisions"): ("people.QueueDecisions", "reviewer", {"json": {}}),
    ("GET", "/api/v1/audit"): ("people.Audit", "admin", {}),
    ("GET", "/api/v1/webhooks"): ("webhooks.Webhooks", "admin", {}),
    ("POST", "/api/v1/webhooks"): ("webhooks.Webhooks", "admin", {"json": {}}),
    ("DELETE", "/api/v1/webhooks/999"): ("webhooks.WebhookDetail", "admin", {}),
    ("GET", "/api/v1/webhooks/999/deliveries"): ("webhooks.WebhookDeliveries", "admin", {}),
    ("GET", "/"): ("pages.search", "read", {}),
    ("GET", "/models/tiiuae/falcon-7b"): ("pages.model", "read", {}),
    ("GET", "/licenses"): ("pages.licenses", "read", {}),
    ("GET", "/licenses/mit"): ("pages.license_page", "read", {}),
    ("GET", "/datasets"): ("pages.datasets", "read", {}),
    ("GET", "/datasets/EleutherAI/pile"): ("pages.dataset_page", "read", {}),
    ("GET", "/tasks"): ("pages.tasks", "read", {}),
    ("GET", "/about"): ("pages.about", "read", {}),
    ("POST", "/demos"): ("pages.demo_start", "signed-in", {"data": {"model": "no/such"}}),
    ("GET", "/demos/nope"): ("pages.demo_page", "read", {}),
    ("GET", "/scan"): ("scan_pages.scan_page", "read", {}),
    ("POST", "/scan"): ("scan_pages.scan_submit", "read", {"data": {"models": "tiiuae/falcon-7b"}}),
    ("GET", "/signin"): ("people_pages.signin", "anyone", {}),
    ("POST", "/signin"): ("people_pages.signin", "anyone", {"data": {"name": "x"}}),
    ("POST", "/signout"): ("people_pages.signout", "anyone", {}),
    ("GET", "/queue"): ("people_pages.queue", "read", {}),
    ("POST", "/queue/decisions"): ("people_pages.queue_decide", "reviewer", {"data": {}}),
    ("POST", "/models/tiiuae/falcon-7b/curations"): (
        "people_pages.curate",
        "reviewer",
        {"data": {}},
    ),
    ("POST", "/models/tiiuae/falcon-7b/reviews"): ("people_pages.review", "reviewer", {"data": {}}),
}


def _allowed(rule: str, role: str, anonymous_reads: bool) -> bool:
    if rule == "anyone":
        return True
    if role == "anonymous":
        return rule == "read" and anonymous_reads
    rank = {"viewer": 0, "reviewer": 1, "admin": 2}[role]
    return {"read": 0, "signed-in": 0, "reviewer": 1, "admin": 2}[rule] <= rank


def _refused(response) -> bool:  # type: ignore[no-untyped-def]
    if response.status_code in (401, 403):
        return True
    return response.status_code in (302, 303) and "/signin" in response.headers["Location"]


def _clients(app: Flask, engine: Engine) -> dict:
    clients = {"anonymous": app.test_client()}
    for role in ROLES[1:]:
        clients[role] = token_client(app, make_user(engine, f"{role}-user", role))
    return clients


def test_every_route_is_in_the_matrix(app: Flask) -> None:
    in_app = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    in_matrix = {(endpoint, method) for (method, _), (endpoint, _, _) in MATRIX.items()}
    assert in_app == in_matrix


@pytest.mark.parametrize("anonymous_access", ["read", "none"])
def test_each_role_reaches_exactly_the_routes_the_matrix_allows(
    sqlite_engine: Engine, anonymous_access: str
) -> None:
    app = seeded_app(sqlite_engine, ANONYMOUS_ACCESS=anonymous_access)
    clients = _clients(app, sqlite_engine)
    wrong = []
    for (method, url), (_endpoint, rule, kwargs) in MATRIX.items():
        for role, client in clients.items():
            response = client.open(url, method=method, **kwargs)
            assert response.status_code < 500, (method, url, role, response.get_data(as_text=True))
            response.close()
            expected = _allowed(rule, role, anonymous_access == "read")
            if _refused(response) == expected:
                wrong.append(f"{role} {method} {url}: {response.status_code}")
    assert wrong == []


def test_refusals_are_problems_saying_what_is_missing(client) -> None:  # type: ignore[no-untyped-def]
    missing = client.get("/api/v1/audit")
    assert missing.status_code == 401
    assert missing.mimetype == "application/problem+json"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    bad_token = client.get("/api/v1/models", headers={"Authorization": "Bearer mc_not-a-token"})
    assert bad_token.status_code == 401
    assert "not valid" in bad_token.json["detail"]


def test_a_viewer_is_refused_writes_with_403(app: Flask, sqlite_engine: Engine) -> None:
    viewer = token_client(app, make_user(sqlite_engine, "vera", "viewer"))
    refused = viewer.post("/api/v1/reviews", json={})
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"
    assert "reviewer" in refused.json["detail"]


def test_a_revoked_token_stops_working(app: Flask, sqlite_engine: Engine) -> None:
    from sqlmodel import Session

    from catalog.people import revoke

    client = token_client(app, make_user(sqlite_engine, "gone", "admin"))
    assert client.get("/api/v1/audit").status_code == 200
    with Session(sqlite_engine) as session:
        revoke(session, "gone", by="test")
    assert client.get("/api/v1/audit").status_code == 401
