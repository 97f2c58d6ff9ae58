"""Every API error is application/problem+json with type, title, status and detail; nothing is a 500."""

from __future__ import annotations

import pytest

CASES = [
    ("GET", "/api/v1/models?per_page=0", None, 422),
    ("GET", "/api/v1/models?per_page=abc", None, 422),
    ("GET", "/api/v1/models?sort=popularity", None, 422),
    ("GET", "/api/v1/models?unknown_param=1", None, 422),
    ("GET", "/api/v1/models?commercial=maybe", None, 422),
    ("GET", "/api/v1/models?page=99999999999", None, 422),
    ("GET", "/api/v1/models/nobody/nothing", None, 404),
    ("GET", "/api/v1/models/nobody/nothing/compliance", None, 404),
    ("GET", "/api/v1/models/bigscience/bloom/compliance?use=sell", None, 422),
    ("GET", "/api/v1/licenses/not-a-license", None, 404),
    ("GET", "/api/v1/datasets/nobody/nothing", None, 404),
    ("GET", "/api/v1/no-such-endpoint", None, 404),
    ("DELETE", "/api/v1/models", None, 405),
    ("POST", "/api/v1/compliance", "not json", 400),
    ("POST", "/api/v1/compliance", {"models": []}, 422),
    ("POST", "/api/v1/compliance", {"models": [1, 2]}, 422),
    ("POST", "/api/v1/compliance", {"models": ["a/b"], "extra": True}, 422),
    ("POST", "/api/v1/compliance", {"models": ["x" * 100] * 3000}, 413),
]


@pytest.mark.parametrize(
    ("method", "url", "body", "status"), CASES, ids=[f"{c[3]}-{c[0]}-{c[1][:40]}" for c in CASES]
)
def test_every_error_status_has_the_problem_shape(
    client, method: str, url: str, body, status: int
) -> None:
    if isinstance(body, str):
        response = client.open(url, method=method, data=body, content_type="application/json")
    else:
        response = client.open(url, method=method, json=body)
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    problem = response.json
    assert {"type", "title", "status", "detail"} <= set(problem)
    assert problem["status"] == status
    if status == 422:
        assert problem["errors"]


def test_validation_errors_name_the_field(client) -> None:
    problem = client.get("/api/v1/models?per_page=0&sort=x").json
    assert set(problem["errors"]) == {"per_page", "sort"}
