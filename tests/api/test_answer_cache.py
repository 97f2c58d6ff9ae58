"""Listing answers kept per catalog version: repeated queries reuse them, any write retires them."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.answer_cache import AnswerCache
from api.settings import WebSettings
from ingest.snapshot import import_snapshot
from tests.api.conftest import app_with


def kept(app: Flask) -> AnswerCache:
    cache: AnswerCache = app.extensions["modelcatalog.answers"]
    return cache


def add(engine: Engine, *lines: dict) -> None:
    with Session(engine) as session:
        import_snapshot(session, [json.dumps(line) for line in lines])


def test_a_repeated_search_is_answered_from_the_kept_answer(
    app: Flask, client: FlaskClient
) -> None:
    first = client.get("/api/v1/models?license=apache-2.0")
    again = client.get("/api/v1/models?license=apache-2.0")
    assert first.status_code == again.status_code == 200
    assert first.data == again.data and first.headers["ETag"] == again.headers["ETag"]
    assert len(kept(app)) == 1
    client.get("/api/v1/models?license=mit")
    assert len(kept(app)) == 2


def test_a_write_retires_kept_searches_and_listings(
    app: Flask, client: FlaskClient, sqlite_engine: Engine
) -> None:
    search = "/api/v1/models?license=apache-2.0&task=text-generation"
    before = client.get(search).get_json()
    datasets = client.get("/api/v1/datasets?license=odc-by").get_json()
    licenses = client.get("/api/v1/licenses?category=permissive").get_json()
    add(
        sqlite_engine,
        {
            "id": "acme/new-apache",
            "pipeline_tag": "text-generation",
            "cardData": {"license": "apache-2.0"},
        },
        {"id": "acme/new-data", "kind": "dataset", "cardData": {"license": "odc-by"}},
    )
    after = client.get(search).get_json()
    assert after["total"] == before["total"] + 1
    assert "acme/new-apache" in {item["id"] for item in after["items"]}
    assert (
        after["facets"]["task"]["text-generation"]
        == before["facets"]["task"]["text-generation"] + 1
    )
    datasets_after = client.get("/api/v1/datasets?license=odc-by").get_json()
    assert datasets_after["total"] == datasets["total"] + 1
    apache = {e["id"]: e["model_count"] for e in licenses["items"]}["apache-2.0"]
    licenses_after = client.get("/api/v1/licenses?category=permissive").get_json()
    assert {e["id"]: e["model_count"] for e in licenses_after["items"]}["apache-2.0"] == apache + 1


def test_page_links_of_a_kept_answer_follow_the_request(client: FlaskClient) -> None:
    url = "/api/v1/models?per_page=5&page=2"
    for _ in range(2):
        answer = client.get(url)
        assert answer.status_code == 200
        assert 'page=3>; rel="next"' in answer.headers["Link"]
        assert 'page=1>; rel="prev"' in answer.headers["Link"]


def test_the_cache_can_be_turned_off(sqlite_engine: Engine, app: Flask) -> None:
    url = sqlite_engine.url.render_as_string(hide_password=False)
    off = app_with(url, web=WebSettings(search_cache=0))
    client = off.test_client()
    assert client.get("/api/v1/models").status_code == 200
    assert client.get("/api/v1/models").status_code == 200
    assert len(kept(off)) == 0


def test_the_cache_holds_at_most_its_size(sqlite_engine: Engine, app: Flask) -> None:
    url = sqlite_engine.url.render_as_string(hide_password=False)
    small = app_with(url, web=WebSettings(search_cache=3))
    client = small.test_client()
    for page in range(1, 6):
        assert client.get(f"/api/v1/models?per_page=1&page={page}").status_code == 200
    assert len(kept(small)) == 3


def test_a_refused_query_is_not_kept(app: Flask, client: FlaskClient) -> None:
    assert client.get("/api/v1/models?page=0").status_code == 422
    assert len(kept(app)) == 0
