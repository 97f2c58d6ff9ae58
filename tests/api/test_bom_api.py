"""BOMs over HTTP: GET /api/v1/models/{id}/bom and POST /api/v1/compliance/bom."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from tests.documents import assert_valid_bom, bom_twins

CDX = "application/vnd.cyclonedx+json"


def test_a_model_bom_is_valid_cyclonedx_1_6_with_its_verdict(any_db_client: FlaskClient) -> None:
    response = any_db_client.get("/api/v1/models/mosaicml/mpt-30b-chat/bom")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == f"{CDX}; version=1.6"
    bom = assert_valid_bom(response.get_data(as_text=True))
    [model] = [c for c in bom["components"] if c["type"] == "machine-learning-model"]
    verdicts = [p["value"] for p in model["properties"] if p["name"] == "modelcatalog:verdict"]
    assert verdicts == ["forbidden"]
    assert model["pedigree"]["ancestors"][0]["name"] == "mosaicml/mpt-30b"


def test_a_model_bom_follows_use_and_policy(client: FlaskClient) -> None:
    bom = client.get("/api/v1/models/mosaicml/mpt-30b-chat/bom?use=research").get_json(force=True)
    [model] = [c for c in bom["components"] if c["type"] == "machine-learning-model"]
    assert {"name": "modelcatalog:use", "value": "research"} in model["properties"]
    assert client.get("/api/v1/models/mosaicml/mpt-30b-chat/bom?use=resell").status_code == 422


def test_the_bom_of_a_model_not_in_the_catalog_is_a_404_problem(client: FlaskClient) -> None:
    response = client.get("/api/v1/models/nobody/nothing/bom")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"


def test_posting_our_own_bom_gives_the_verdicts_of_the_batch_api(client: FlaskClient) -> None:
    ids = ["mosaicml/mpt-30b-chat", "tiiuae/falcon-40b"]
    components = []
    for repo_id in ids:
        bom = client.get(f"/api/v1/models/{repo_id}/bom").get_json(force=True)
        components += bom["components"]
    bom["components"] = components
    from_bom = client.post("/api/v1/compliance/bom", data=json.dumps(bom), content_type=CDX)
    batch = client.post("/api/v1/compliance", json={"models": ids})
    assert from_bom.status_code == 200

    def verdicts(body: dict) -> dict:
        return {v["model"]: (v["verdict"], v["reasons"]) for v in body["results"]}

    assert verdicts(from_bom.get_json()) == verdicts(batch.get_json())
    assert from_bom.get_json()["unmapped"] == []


def test_components_that_map_to_no_repo_are_listed(client: FlaskClient) -> None:
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "components": [
            {"type": "machine-learning-model", "name": "ranker", "bom-ref": "r1"},
            {"type": "library", "name": "x", "purl": "pkg:huggingface/bigscience/bloom"},
        ],
    }
    body = client.post("/api/v1/compliance/bom?policy=strict", json=bom).get_json()
    assert [(v["model"], v["policy"]) for v in body["results"]] == [("bigscience/bloom", "strict")]
    assert body["unmapped"] == [{"name": "ranker", "purl": None, "bom-ref": "r1"}]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("not json", 400),
        ('{"bomFormat": "SPDX"}', 422),
        ("[]", 422),
        ('{"bomFormat": "CycloneDX", "components": [1]}', 422),
        ('{"bomFormat": "CycloneDX", "components": "x"}', 422),
    ],
)
def test_a_bad_bom_is_a_problem_not_a_crash(client: FlaskClient, body: str, status: int) -> None:
    response = client.post("/api/v1/compliance/bom", data=body, content_type="application/json")
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"


def test_too_many_models_in_a_bom_is_a_422(client: FlaskClient) -> None:
    components = [{"type": "machine-learning-model", "name": f"o/m{i}"} for i in range(501)]
    response = client.post(
        "/api/v1/compliance/bom", json={"bomFormat": "CycloneDX", "components": components}
    )
    assert response.status_code == 422
    assert "at most 500" in response.get_json()["detail"]


def test_a_bom_may_be_larger_than_other_bodies_but_not_without_limit(client: FlaskClient) -> None:
    padding = {"bomFormat": "CycloneDX", "components": [], "metadata": {"x": "y" * 1_000_000}}
    assert client.post("/api/v1/compliance/bom", json=padding).status_code == 200
    padding["metadata"] = {"x": "y" * 5_000_000}
    assert client.post("/api/v1/compliance/bom", json=padding).status_code == 413
    too_big = {"models": ["a/b"], "x": "y" * 300_000}
    assert client.post("/api/v1/compliance", json=too_big).status_code == 413


def test_the_bom_gate_fails_on_unmapped_components_and_follows_fail_on(client: FlaskClient) -> None:
    conditional = {"type": "machine-learning-model", "name": "meta-llama/Llama-2-7b-hf"}
    bom = {"bomFormat": "CycloneDX", "components": [conditional]}
    assert client.post("/api/v1/compliance/bom", json=bom).get_json()["gate"]["passed"] is True
    strict = client.post("/api/v1/compliance/bom?fail_on=conditional", json=bom).get_json()
    assert strict["gate"] == {
        "fail_on": "conditional",
        "passed": False,
        "failing": ["meta-llama/Llama-2-7b-hf"],
    }
    bom["components"].append({"type": "machine-learning-model", "name": "ranker"})
    gate = client.post("/api/v1/compliance/bom", json=bom).get_json()["gate"]
    assert (gate["passed"], gate["failing"]) == (False, [])
    assert client.post("/api/v1/compliance/bom?fail_on=never", json=bom).status_code == 422


XML_BODIES = ["application/vnd.cyclonedx+xml", "application/xml", "text/xml"]
TWIN_MODELS = ["mosaicml/mpt-30b-chat", "tiiuae/falcon-40b", "meta-llama/Llama-2-7b-hf"]


def _judged(body: dict) -> tuple:
    verdicts = [(v["model"], v["verdict"], v["reasons"], v["obligations"]) for v in body["results"]]
    return verdicts, body["unmapped"], body["gate"]


@pytest.mark.parametrize("content_type", XML_BODIES)
def test_an_xml_bom_is_judged_as_its_json_twin(app, client: FlaskClient, content_type: str) -> None:
    json_bom, xml_bom = bom_twins(app.extensions["modelcatalog.engine"], TWIN_MODELS)
    from_json = client.post("/api/v1/compliance/bom", data=json_bom, content_type=CDX)
    from_xml = client.post("/api/v1/compliance/bom", data=xml_bom, content_type=content_type)
    assert (from_json.status_code, from_xml.status_code) == (200, 200)
    assert _judged(from_xml.get_json()) == _judged(from_json.get_json())
    verdicts, unmapped, gate = _judged(from_xml.get_json())
    assert {model: verdict for model, verdict, _, _ in verdicts} == {
        "mosaicml/mpt-30b-chat": "forbidden",
        "tiiuae/falcon-40b": "allowed",
        "meta-llama/Llama-2-7b-hf": "conditional",
    }
    assert unmapped == [{"name": "our ranker", "purl": None, "bom-ref": "r1"}]
    assert gate == {"fail_on": "unknown", "passed": False, "failing": ["mosaicml/mpt-30b-chat"]}


XXE = (
    '<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<bom xmlns="http://cyclonedx.org/schema/bom/1.6"><components><component type="library">'
    "<name>&x;</name></component></components></bom>"
)
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY a "ha">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + ']><bom xmlns="http://cyclonedx.org/schema/bom/1.6"><metadata>&j;</metadata></bom>'
)


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ("<bom><components>", 400, "not an XML document"),
        ("not xml at all", 400, "not an XML document"),
        (XXE, 400, "DTD"),
        (LAUGHS, 400, "DTD"),
        ('<bom xmlns="http://spdx.org/rdf/terms"/>', 422, "not a CycloneDX BOM"),
        ('<components xmlns="http://cyclonedx.org/schema/bom/1.6"/>', 422, "not a CycloneDX BOM"),
    ],
)
def test_a_bad_xml_bom_is_a_problem_never_expanded_or_read(
    client: FlaskClient, body: str, status: int, detail: str
) -> None:
    response = client.post(
        "/api/v1/compliance/bom", data=body, content_type="application/vnd.cyclonedx+xml"
    )
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    assert detail in response.get_json()["detail"]
    assert "root:" not in response.get_data(as_text=True)  # /etc/passwd was not read


def test_the_openapi_document_offers_json_and_xml_bodies_for_boms(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    body = spec["paths"]["/api/v1/compliance/bom"]["post"]["requestBody"]
    assert sorted(body["content"]) == sorted(["application/json", CDX, *XML_BODIES])
    assert body["content"][CDX]["schema"] == {"$ref": "#/components/schemas/CycloneDxBomBody"}


def test_a_bom_without_model_components_does_not_pass_the_gate(client: FlaskClient) -> None:
    for components in ([], [{"type": ["machine-learning-model"], "name": "tiiuae/falcon-40b"}]):
        body = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": components}
        response = client.post("/api/v1/compliance/bom", json=body)
        assert response.status_code == 200
        gate = response.get_json()["gate"]
        assert gate["passed"] is False and "no model components" in gate["reason"]


def test_a_bom_sent_as_neither_json_nor_xml_is_a_415_naming_the_types(client: FlaskClient) -> None:
    bom = '{"bomFormat": "CycloneDX", "components": []}'
    for content_type in ("text/plain", "application/octet-stream"):
        response = client.post("/api/v1/compliance/bom", data=bom, content_type=content_type)
        assert response.status_code == 415
        assert "application/vnd.cyclonedx+json" in response.get_json()["detail"]


def test_models_nested_too_deep_or_in_the_subject_are_not_passed_over(client: FlaskClient) -> None:
    forbidden = {"type": "machine-learning-model", "name": "mosaicml/mpt-30b-chat"}
    opening = '<component type="library"><name>w</name><components>'
    model = (
        '<component type="machine-learning-model"><name>mosaicml/mpt-30b-chat</name></component>'
    )
    nested = opening * 34 + model + "</components></component>" * 34
    xml = '<bom xmlns="http://cyclonedx.org/schema/bom/1.6"><components>' + nested
    xml += "</components></bom>"
    response = client.post("/api/v1/compliance/bom", data=xml, content_type="application/xml")
    assert response.status_code == 400 and "nested more than 32" in response.get_json()["detail"]
    subject = {"bomFormat": "CycloneDX", "metadata": {"component": forbidden}, "components": []}
    answer = client.post("/api/v1/compliance/bom", json=subject).get_json()
    assert [r["model"] for r in answer["results"]] == ["mosaicml/mpt-30b-chat"]
    assert answer["gate"]["passed"] is False


def test_an_xml_bom_in_an_unknown_encoding_is_a_400(client: FlaskClient) -> None:
    document = (
        '<?xml version="1.0" encoding="x-bogus"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6"/>'
    )
    response = client.post("/api/v1/compliance/bom", data=document, content_type="application/xml")
    assert response.status_code == 400
