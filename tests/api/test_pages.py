"""Server-rendered pages: each answers, the search state lives in the URL, card content is escaped."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session

from ingest.snapshot import import_snapshot

XSS = '<script>alert("x")</script>'
ATTR_XSS = '"><img src=x onerror=alert(1)>'


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/about",
        "/licenses",
        "/licenses/llama2",
        "/datasets",
        "/datasets/tatsu-lab/alpaca",
        "/tasks",
        "/models/mosaicml/mpt-30b-chat",
        "/?license=llama2&commercial=true&sort=name&order=asc",
    ],
)
def test_every_page_answers(client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")


def test_bad_page_input_is_a_4xx_page_not_a_500(client) -> None:
    assert client.get("/?per_page=100000").status_code == 400
    assert client.get("/?sort=nope").status_code == 400
    assert client.get("/models/nobody/nothing").status_code == 404
    assert client.get("/licenses?category=friendly").status_code == 400
    assert client.get("/datasets?page=-1").status_code == 400


def test_search_page_keeps_its_state_in_links(client) -> None:
    html = client.get("/?license=llama2&sort=name").data.decode()
    assert 'href="?license=llama2&amp;sort=name&amp;commercial=true"' in html
    assert "6 models" in html


def test_model_page_shows_verdicts_conflicts_and_the_lineage_picture(client, sqlite_engine) -> None:
    line = {
        "id": "acme/llama-apache",
        "cardData": {"license": "apache-2.0", "base_model": "meta-llama/Llama-2-7b-hf"},
    }
    with Session(sqlite_engine) as session:
        import_snapshot(session, [json.dumps(line)])
    html = client.get("/models/acme/llama-apache").data.decode()
    assert 'class="conflict"' in html and "meta-llama/Llama-2-7b-hf" in html
    assert '<svg id="lineage-graph"' in html and 'data-id="meta-llama/Llama-2-7b-hf"' in html
    assert "700 million" in html


def test_card_content_is_escaped_everywhere(client, sqlite_engine) -> None:
    line = {
        "id": "evil/model",
        "author": XSS,
        "pipeline_tag": ATTR_XSS,
        "tags": [XSS, ATTR_XSS],
        "cardData": {
            "license": "other",
            "license_name": XSS,
            "license_link": ATTR_XSS,
            "language": [XSS],
            "model_name": XSS,
            "base_model": f"evil/{XSS}",
            "datasets": [ATTR_XSS],
        },
    }
    with Session(sqlite_engine) as session:
        import_snapshot(session, [json.dumps(line)])
    for url in ["/models/evil/model", "/?q=evil", f"/?task={ATTR_XSS}", "/tasks"]:
        html = client.get(url).data.decode()
        assert XSS not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;" in html or "&#34;&gt;&lt;img" in html or url == "/tasks", url
