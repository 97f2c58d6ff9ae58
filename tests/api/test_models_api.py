"""The models and compliance endpoints, per filter and combination, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest


def ids(response) -> list[str]:
    return [item["id"] for item in response.json["items"]]


def test_search_by_license_returns_only_those_models(any_db_client) -> None:
    response = any_db_client.get("/api/v1/models?license=llama2&per_page=100")
    assert response.status_code == 200
    assert response.json["total"] == 6
    assert all(item["license_ids"] == ["llama2"] for item in response.json["items"])


def test_repeated_license_means_any_of_them(any_db_client) -> None:
    response = any_db_client.get("/api/v1/models?license=mit&license=cc-by-sa-3.0")
    assert sorted(ids(response)) == ["databricks/dolly-v2-12b", "mosaicml/mpt-30b-instruct"]


def test_full_text_finds_by_name_author_and_tags(any_db_client) -> None:
    assert "bigcode/starcoder" in ids(any_db_client.get("/api/v1/models?q=starcoder"))
    # Tags carry base_model:/dataset: ids too, so models built on Falcon or RefinedWeb match as well.
    assert set(ids(any_db_client.get("/api/v1/models?q=tiiuae&per_page=100"))) >= {
        "tiiuae/falcon-40b",
        "tiiuae/falcon-7b",
        "tiiuae/falcon-40b-instruct",
        "tiiuae/falcon-7b-instruct",
    }
    assert "databricks/dolly-v2-12b" in ids(
        any_db_client.get("/api/v1/models?q=databricks-dolly-15k")
    )


def test_full_text_ignores_query_syntax(any_db_client) -> None:
    response = any_db_client.get('/api/v1/models?q=" OR 1=1 -- NEAR( *')
    assert response.status_code == 200


def test_commercial_filter_uses_lineage_verdicts(any_db_client) -> None:
    cleared = set(ids(any_db_client.get("/api/v1/models?commercial=true&per_page=100")))
    not_cleared = set(ids(any_db_client.get("/api/v1/models?commercial=false&per_page=100")))
    assert "mosaicml/mpt-30b-chat" in not_cleared and "mosaicml/mpt-30b-chat" not in cleared
    assert "HuggingFaceTB/SmolLM2-135M-Instruct" in cleared
    assert "meta-llama/Llama-2-7b-hf" in cleared  # conditional counts as cleared
    assert "Salesforce/codegen25-7b-instruct" in not_cleared  # unknown is not cleared
    assert not cleared & not_cleared


def test_strict_policy_changes_what_is_cleared(any_db_client) -> None:
    default = set(ids(any_db_client.get("/api/v1/models?commercial=true&per_page=100")))
    strict = set(
        ids(any_db_client.get("/api/v1/models?commercial=true&policy=strict&per_page=100"))
    )
    assert strict < default
    assert "EleutherAI/pythia-12b" in default - strict  # The Pile has no recognisable license


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("task=text2text-generation", {"google/flan-t5-xxl"}),
        (
            "author=mosaicml",
            {"mosaicml/mpt-30b", "mosaicml/mpt-30b-chat", "mosaicml/mpt-30b-instruct"},
        ),
        ("base_model=mosaicml/mpt-30b", {"mosaicml/mpt-30b-chat", "mosaicml/mpt-30b-instruct"}),
        ("dataset=tiiuae/falcon-refinedweb&author=bigcode", {"bigcode/starcoderplus"}),
        ("language=de", {"tiiuae/falcon-40b"}),
        (
            "license_category=non-commercial",
            {"mosaicml/mpt-30b-chat", "Salesforce/xgen-7b-8k-inst"},
        ),
        (
            "gated=true&license=bigcode-openrail-m",
            {"bigcode/starcoder", "bigcode/starcoderbase", "bigcode/starcoderplus"},
        ),
        (
            "author=Salesforce&commercial=false",
            {"Salesforce/codegen25-7b-instruct", "Salesforce/xgen-7b-8k-inst"},
        ),
        (
            "library=transformers&q=smollm2&commercial=true",
            {"HuggingFaceTB/SmolLM2-135M", "HuggingFaceTB/SmolLM2-135M-Instruct"},
        ),
    ],
)
def test_filters_and_their_combinations(any_db_client, query: str, expected: set[str]) -> None:
    assert set(ids(any_db_client.get(f"/api/v1/models?{query}&per_page=100"))) == expected


def test_facet_counts_follow_the_other_filters_but_not_their_own(any_db_client) -> None:
    facets = any_db_client.get("/api/v1/models?license=llama2&task=text-generation").json["facets"]
    # The license facet ignores the license filter, so other licenses still show their counts...
    assert facets["license"]["llama2"] == 6 and facets["license"]["apache-2.0"] > 0
    # ...while the task facet follows it.
    assert facets["task"] == {"text-generation": 6}
    assert facets["commercial"] == {"true": 6}


def test_every_facet_takes_several_values_meaning_any_of_them(any_db_client) -> None:
    both = any_db_client.get(
        "/api/v1/models?task=text-generation&task=text2text-generation&per_page=100"
    ).json
    one = [
        any_db_client.get(f"/api/v1/models?task={task}&per_page=100").json["total"]
        for task in ("text-generation", "text2text-generation")
    ]
    assert both["total"] == sum(one) > 0
    assert set(both["facets"]["task"]) >= {"text-generation", "text2text-generation"}
    mixed = any_db_client.get(
        "/api/v1/models?license_category=permissive&license_category=community"
        "&language=en&language=fr&commercial=true&library=transformers&library=peft"
    )
    assert mixed.status_code == 200
    assert set(mixed.json["facets"]) == {
        "license",
        "license_category",
        "task",
        "library",
        "language",
        "commercial",
    }


@pytest.mark.parametrize(
    "query",
    [
        "task=",  # an empty value
        "license_category=permissive&license_category=nonsense",
        "&".join(f"language=l{n}" for n in range(51)),  # more values than anyone picks
    ],
)
def test_bad_facet_values_are_a_422_problem(any_db_client, query: str) -> None:
    response = any_db_client.get(f"/api/v1/models?{query}")
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"


def test_sorting_and_paging_with_link_headers(any_db_client) -> None:
    first = any_db_client.get("/api/v1/models?sort=name&order=asc&per_page=5")
    second = any_db_client.get("/api/v1/models?sort=name&order=asc&per_page=5&page=2")
    assert ids(first) == sorted(ids(first)) and ids(first)[-1] < ids(second)[0]
    assert 'rel="next"' in first.headers["Link"] and "page=2" in first.headers["Link"]
    assert 'rel="prev"' in second.headers["Link"]
    assert first.json["pages"] == -(-first.json["total"] // 5)


def test_model_detail_has_effective_license_lineage_and_history(client) -> None:
    body = client.get("/api/v1/models/HuggingFaceH4/starchat-beta").json
    assert body["declared_license"] == "bigcode-openrail-m"
    assert body["base_models"] == [{"id": "bigcode/starcoderplus", "relation": "finetune"}]
    nodes = {n["id"] for n in body["lineage"]["nodes"]}
    assert {"bigcode/starcoderplus", "bigcode/starcoderbase", "bigcode/the-stack-dedup"} <= nodes
    assert body["license_history"][0]["declared_license"] == "bigcode-openrail-m"
    assert body["hub_url"] == "https://huggingface.co/HuggingFaceH4/starchat-beta"


def test_compliance_endpoint_returns_the_verdict_shape(client) -> None:
    body = client.get("/api/v1/models/meta-llama/Llama-2-7b-chat-hf/compliance?use=commercial").json
    assert body["verdict"] == "conditional"
    assert {"user-threshold", "acceptable-use-policy"} <= {o["code"] for o in body["obligations"]}
    assert (
        client.get(
            "/api/v1/models/meta-llama/Llama-2-7b-chat-hf/compliance?use=train-on-outputs"
        ).json["verdict"]
        == "forbidden"
    )


def test_batch_compliance_answers_each_model_and_reports_unknown_ids(client) -> None:
    response = client.post(
        "/api/v1/compliance",
        json={"models": ["mosaicml/mpt-30b-chat", "nobody/nothing"], "policy": "strict"},
    )
    assert response.status_code == 200
    results = response.json["results"]
    assert [r["verdict"] for r in results] == ["forbidden", "unknown"]
    assert results[1]["reasons"][0]["code"] == "model-not-in-catalog"


def test_batch_compliance_has_a_limit(client) -> None:
    response = client.post("/api/v1/compliance", json={"models": [f"a/m{i}" for i in range(501)]})
    assert response.status_code == 422
    assert "models" in response.json["errors"]


def test_licenses_datasets_and_tasks(client) -> None:
    licenses = client.get("/api/v1/licenses").json
    assert licenses["total"] == 100
    llama2 = client.get("/api/v1/licenses/llama2").json
    assert llama2["model_count"] == 6 and llama2["models"]
    assert client.get("/api/v1/licenses?category=community").json["total"] >= 8
    datasets = client.get("/api/v1/datasets?per_page=100").json
    assert datasets["total"] == 9
    alpaca = client.get("/api/v1/datasets/tatsu-lab/alpaca").json
    assert alpaca["model_generated_by"].startswith("OpenAI")
    tasks = client.get("/api/v1/tasks").json["items"]
    assert tasks[0] == {"id": "text-generation", "name": "Text generation", "model_count": 29}


def test_get_answers_carry_an_etag_and_honour_if_none_match(client) -> None:
    first = client.get("/api/v1/models/bigscience/bloom")
    assert first.headers["ETag"]
    again = client.get(
        "/api/v1/models/bigscience/bloom", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


def test_healthz(client) -> None:
    assert client.get("/api/v1/healthz").json["status"] == "ok"


def test_openapi_document_and_offline_docs(client) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/models" in spec["paths"] and "/api/v1/compliance" in spec["paths"]
    docs = client.get("/api/v1/docs").data.decode()
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    asset = client.get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    asset.close()


def test_the_batch_gate_follows_fail_on(client) -> None:
    body = {"models": ["tiiuae/falcon-40b", "meta-llama/Llama-2-7b-hf"]}
    default = client.post("/api/v1/compliance", json=body).json["gate"]
    assert default == {"fail_on": "unknown", "passed": True, "failing": []}
    strict = client.post("/api/v1/compliance?fail_on=conditional", json=body).json["gate"]
    assert strict == {
        "fail_on": "conditional",
        "passed": False,
        "failing": ["meta-llama/Llama-2-7b-hf"],
    }
    assert client.post("/api/v1/compliance?fail_on=never", json=body).status_code == 422


def test_result_rows_are_written_as_the_documented_schema_dumps_models(any_db_client) -> None:
    """Search pages skip the schema's per-field work; their items must equal its dump of the models."""
    import json

    from sqlmodel import Session, select

    from api.schemas import ModelSummarySchema
    from catalog.tables import Model
    from ingest.snapshot import import_snapshot

    engine = any_db_client.application.extensions["modelcatalog.engine"]
    dated = {
        "id": "acme/dated",
        "lastModified": "2024-05-01T12:30:00.000Z",
        "createdAt": "2023-01-02T03:04:05.000Z",
        "downloads": 7,
        "cardData": {"license": "mit"},
    }
    with Session(engine) as session:
        import_snapshot(session, [json.dumps(dated)])
    page = any_db_client.get("/api/v1/models?per_page=100&sort=name&order=asc").json
    assert page["total"] == len(page["items"]) > 20
    with Session(engine) as session:
        models = session.exec(select(Model).where(Model.missing == False)).all()  # noqa: E712
        expected = {m.id: ModelSummarySchema().dump(m) for m in models}
    assert {item["id"]: item for item in page["items"]} == expected
    assert any(item["last_modified"] for item in page["items"])  # dates are compared, not just None


def test_batch_verdicts_are_the_documented_schema_as_they_are(any_db_client) -> None:
    """The batch answer is written without the schema: its dump must change nothing, every use
    and policy, reviews and gates included."""
    from api.schemas import VerdictListSchema
    from catalog.policies import USES

    ids = [item["id"] for item in any_db_client.get("/api/v1/models?per_page=100").json["items"]]
    for use in USES:
        for policy in ("default", "strict"):
            body = {"models": [*ids, "nobody/absent"], "use": use, "policy": policy}
            answer = any_db_client.post("/api/v1/compliance?fail_on=conditional", json=body)
            assert answer.status_code == 200
            assert VerdictListSchema().dump(answer.json) == answer.json, (use, policy)
            assert len(answer.json["results"]) == len(ids) + 1
