"""The scan page: a pasted list or an uploaded BOM gives the verdict table; bad input is a 400 page."""

from __future__ import annotations

import io
import json

from flask.testing import FlaskClient

XSS = '<script>alert("x")</script>'


def test_the_scan_page_is_a_post_form_in_its_own_block(client: FlaskClient) -> None:
    html = client.get("/scan").get_data(as_text=True)
    assert (
        '<form id="scan-form" method="post" action="/scan" enctype="multipart/form-data">' in html
    )


def test_a_pasted_list_gives_one_verdict_row_per_model(client: FlaskClient) -> None:
    models = (
        "# our models\ntiiuae/falcon-40b\nmosaicml/mpt-30b-chat@main  # chat\n\ntiiuae/falcon-40b\n"
    )
    response = client.post(
        "/scan", data={"models": models, "use": "commercial", "policy": "default"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count('data-verdict="allowed"') == 1 and html.count('data-verdict="forbidden"') == 1
    assert "not-checked" not in html


def test_lines_that_are_not_repo_ids_are_listed_not_dropped(client: FlaskClient) -> None:
    response = client.post("/scan", data={"models": "gpt2\n./local/model\ntiiuae/falcon-40b\n"})
    html = response.get_data(as_text=True)
    assert "line 1: <code>gpt2</code> — no owner" in html
    assert "line 2: <code>./local/model</code> — local path" in html
    assert html.count("data-verdict=") == 1


def test_an_uploaded_bom_is_judged_and_unmapped_components_are_shown(client: FlaskClient) -> None:
    bom = {
        "bomFormat": "CycloneDX",
        "components": [
            {"type": "machine-learning-model", "purl": "pkg:huggingface/bigscience/bloom@abc"},
            {"type": "machine-learning-model", "name": "ranker"},
        ],
    }
    upload = (io.BytesIO(json.dumps(bom).encode()), "inventory.cdx.json")
    response = client.post(
        "/scan", data={"bom": upload, "use": "research"}, content_type="multipart/form-data"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'href="/models/bigscience/bloom"' in html
    assert "BOM component <code>ranker</code> — maps to no Hub repo id" in html


def test_a_bad_bom_file_is_a_400_page_that_says_why(client: FlaskClient) -> None:
    upload = (io.BytesIO(b"not json"), "x.json")
    response = client.post("/scan", data={"bom": upload}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "x.json: not a JSON document" in response.get_data(as_text=True)


def test_an_empty_form_or_a_bad_use_is_a_400_page(client: FlaskClient) -> None:
    assert client.post("/scan", data={"models": ""}).status_code == 400
    response = client.post("/scan", data={"models": "tiiuae/falcon-40b", "use": XSS})
    assert response.status_code == 400
    assert XSS not in response.get_data(as_text=True)


def test_pasted_text_is_escaped_when_shown_back(client: FlaskClient) -> None:
    html = client.post("/scan", data={"models": f"a/b\n{XSS}"}).get_data(as_text=True)
    assert XSS not in html and "&lt;script&gt;" in html


def test_more_models_than_a_batch_allows_is_a_400_page(client: FlaskClient) -> None:
    models = "\n".join(f"org/m{i}" for i in range(501))
    response = client.post("/scan", data={"models": models})
    assert response.status_code == 400
    assert "at most 500 at once" in response.get_data(as_text=True)


def test_the_model_page_links_its_bom(client: FlaskClient) -> None:
    html = client.get("/models/mosaicml/mpt-30b-chat").get_data(as_text=True)
    assert 'href="/api/v1/models/mosaicml/mpt-30b-chat/bom"' in html
    assert 'download="mosaicml_mpt-30b-chat.cdx.json"' in html


def test_a_list_longer_than_the_page_reads_is_refused_not_cut(client: FlaskClient) -> None:
    # Cut at the limit, "mosaicml/mpt-30b-chat" would have been judged as "mosaicml/mpt-30b".
    text = "#" * 99 + "\n"
    text = text * (99_984 // len(text)) + "#" * (99_984 % len(text)) + "mosaicml/mpt-30b-chat\n"
    response = client.post("/scan", data={"models": text})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "longer than 100,000 characters" in html
    assert 'href="/models/mosaicml/mpt-30b"' not in html


def test_every_uploaded_bom_is_judged(client: FlaskClient) -> None:
    def bom(name: str) -> tuple[io.BytesIO, str]:
        body = {
            "bomFormat": "CycloneDX",
            "components": [{"type": "machine-learning-model", "name": name}],
        }
        return io.BytesIO(json.dumps(body).encode()), f"{name.replace('/', '-')}.json"

    response = client.post(
        "/scan",
        data={"bom": [bom("tiiuae/falcon-40b"), bom("mosaicml/mpt-30b-chat")]},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert (
        'href="/models/tiiuae/falcon-40b"' in html
        and 'href="/models/mosaicml/mpt-30b-chat"' in html
    )


def test_an_uploaded_bom_with_a_lone_surrogate_is_shown_not_a_500(client: FlaskClient) -> None:
    upload = (
        io.BytesIO(
            b'{"bomFormat":"CycloneDX","components":[{"type":"machine-learning-model","name":"\\ud800/x"}]}'
        ),
        "odd.json",
    )
    response = client.post("/scan", data={"bom": upload}, content_type="multipart/form-data")
    assert response.status_code == 200
    assert "maps to no Hub repo id" in response.get_data(as_text=True)
