"""Replays input that once answered 500: every case is now a 4xx with a clear reason."""

from __future__ import annotations

import pytest

DEEP = b"[" * 5000 + b"]" * 5000
DEEP_OBJECT = b'{"models": ' + b"[" * 40 + b'"a"' + b"]" * 40 + b"}"
SURROGATE_MODELS = b'{"models": ["\\ud800"]}'
SURROGATE_DEMO = b'{"model": "x\\udfff"}'
HUGE_INT = b'{"models": ["a"], "use": ' + b"9" * 5000 + b"}"
NOT_UTF8 = b'{"models": ["\xff\xfe"]}'

JSON_CASES = [
    ("/api/v1/compliance", DEEP),
    ("/api/v1/compliance", DEEP_OBJECT),
    ("/api/v1/compliance", SURROGATE_MODELS),
    ("/api/v1/compliance", HUGE_INT),
    ("/api/v1/compliance", NOT_UTF8),
    ("/api/v1/demos", DEEP),
    ("/api/v1/demos", SURROGATE_DEMO),
    ("/api/v1/demos/abc/v1/chat/completions", DEEP),
    (
        "/api/v1/demos/abc/v1/chat/completions",
        b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
    ),
]


@pytest.mark.parametrize(("path", "body"), JSON_CASES)
def test_unusable_json_bodies_are_400_problems(client, path: str, body: bytes) -> None:
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"]


BAD_PAGES = ["99999999999999999999", "²", "٣", "1_000", " 1", "1.0", "-1", "0", "1e3", ""]


@pytest.mark.parametrize("page", BAD_PAGES)
@pytest.mark.parametrize("path", ["/api/v1/datasets", "/api/v1/models", "/datasets", "/"])
def test_page_numbers_are_parsed_strictly(client, path: str, page: str) -> None:
    response = client.get(path, query_string={"page": page})
    assert response.status_code in (400, 422), (path, page, response.status_code)


@pytest.mark.parametrize("per_page", ["99999999999999999999", "²", "true"])
def test_per_page_is_parsed_strictly(client, per_page: str) -> None:
    assert client.get("/api/v1/models", query_string={"per_page": per_page}).status_code == 422


def test_a_plain_page_number_still_works(client) -> None:
    assert client.get("/api/v1/datasets?page=2&per_page=5").status_code == 200
    assert client.get("/datasets?page=1").status_code == 200


@pytest.mark.parametrize(
    "extra",
    [
        {"max_tokens": 1e400},
        {"max_tokens": 7.0},
        {"max_tokens": True},
        {"top_k": 10**30},
        {"temperature": "NaN"},
    ],
)
def test_generation_numbers_are_strict(client, extra: dict) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], **extra}
    response = client.post("/api/v1/demos/abc/v1/chat/completions", json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"


def test_surrogates_in_query_strings_do_not_break_search(client) -> None:
    assert client.get("/api/v1/models?q=%ED%A0%80").status_code == 200
    assert client.get("/?q=%ED%A0%80").status_code == 200
