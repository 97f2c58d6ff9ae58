"""CycloneDX ML-BOMs: what a model component carries, schema validity, and reading other tools' BOMs."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session

from catalog.bom import BomRequest, bom_json, build_bom
from catalog.bom_read import bom_models, parse_bom
from catalog.errors import BomError
from catalog.policies import load_policy
from ingest.snapshot import bundled_snapshot_lines, import_snapshot
from tests.documents import assert_valid_bom

SHA = "0123456789abcdef0123456789abcdef01234567"
EXTRA = [
    {
        "id": "acme/chat-tune",
        "sha": SHA,
        "cardData": {
            "license": "apache-2.0",
            "base_model": "meta-llama/Llama-2-7b-hf",
            "datasets": ["tatsu-lab/alpaca"],
        },
    },
    {
        "id": "acme/custom",
        "cardData": {
            "license": "other",
            "license_name": "acme-model-license",
            "license_link": "https://acme.example/license",
        },
    },
    {
        "id": "acme/bad-link",
        "cardData": {
            "license": "other",
            "license_name": "Acme Model License",
            "license_link": "https://example.com/a b\n<x>",
        },
    },
]


@pytest.fixture
def catalog(session: Session) -> Session:
    import_snapshot(session, [*bundled_snapshot_lines(), *(json.dumps(r) for r in EXTRA)])
    return session


def _bom(session: Session, *ids: str, **options) -> dict:
    request = BomRequest(list(ids), options.get("use", "commercial"), load_policy("default"))
    return assert_valid_bom(bom_json(build_bom(session, request)))


def _component(bom: dict, name: str) -> dict:
    [component] = [c for c in bom["components"] if c["name"] == name]
    return component


def _properties(component: dict, name: str) -> list[str]:
    return [p["value"] for p in component.get("properties", []) if p["name"] == name]


def test_a_model_is_a_machine_learning_model_with_a_pinned_purl(catalog: Session) -> None:
    component = _component(_bom(catalog, "acme/chat-tune"), "acme/chat-tune")
    assert component["type"] == "machine-learning-model"
    assert component["purl"] == f"pkg:huggingface/acme/chat-tune@{SHA}"
    assert component["licenses"] == [{"license": {"id": "Apache-2.0"}}]


def test_without_a_known_commit_the_purl_has_no_version(catalog: Session) -> None:
    component = _component(_bom(catalog, "tiiuae/falcon-40b"), "tiiuae/falcon-40b")
    assert component["purl"] == "pkg:huggingface/tiiuae/falcon-40b"


def test_base_models_are_pedigree_ancestors_with_their_relation(catalog: Session) -> None:
    component = _component(_bom(catalog, "acme/chat-tune"), "acme/chat-tune")
    [ancestor] = component["pedigree"]["ancestors"]
    assert ancestor["purl"] == "pkg:huggingface/meta-llama/Llama-2-7b-hf"
    assert ancestor["type"] == "machine-learning-model"
    assert _properties(ancestor, "modelcatalog:relation") == ["finetune"]


def test_training_datasets_are_data_components_the_model_depends_on(catalog: Session) -> None:
    bom = _bom(catalog, "acme/chat-tune")
    dataset = _component(bom, "tatsu-lab/alpaca")
    assert dataset["type"] == "data"
    assert dataset["licenses"] == [{"license": {"id": "CC-BY-NC-4.0"}}]
    [edge] = [d for d in bom["dependencies"] if d["ref"] == "model:acme/chat-tune"]
    assert edge["dependsOn"] == ["dataset:tatsu-lab/alpaca"]


def test_the_verdict_obligations_and_conflicts_are_namespaced_properties(catalog: Session) -> None:
    component = _component(_bom(catalog, "acme/chat-tune"), "acme/chat-tune")
    assert _properties(component, "modelcatalog:verdict") == ["conditional"]
    assert _properties(component, "modelcatalog:use") == ["commercial"]
    [conflict] = _properties(component, "modelcatalog:conflict")
    assert "declares apache-2.0" in conflict and "meta-llama/Llama-2-7b-hf" in conflict
    assert "license-conflict" in " ".join(_properties(component, "modelcatalog:reason"))
    assert "acceptable-use-policy" in " ".join(_properties(component, "modelcatalog:obligation"))


def test_a_custom_license_is_named_with_its_link(catalog: Session) -> None:
    component = _component(_bom(catalog, "acme/custom"), "acme/custom")
    [entry] = component["licenses"]
    assert entry["license"] == {"name": "acme-model-license", "url": "https://acme.example/license"}


def test_a_license_link_that_is_no_web_address_is_left_out_and_the_bom_stays_valid(
    catalog: Session,
) -> None:
    component = _component(_bom(catalog, "acme/bad-link"), "acme/bad-link")  # _bom validates
    assert component["licenses"] == [{"license": {"name": "Acme Model License"}}]


def test_a_model_the_catalog_lacks_is_in_the_bom_as_unknown(catalog: Session) -> None:
    component = _component(_bom(catalog, "nobody/nothing"), "nobody/nothing")
    assert _properties(component, "modelcatalog:verdict") == ["unknown"]
    assert _properties(component, "modelcatalog:in-catalog") == ["false"]
    assert "licenses" not in component


def test_our_bom_reads_back_to_the_same_models(catalog: Session) -> None:
    ids = ["mosaicml/mpt-30b-chat", "acme/chat-tune", "tiiuae/falcon-40b"]
    text = json.dumps(_bom(catalog, *ids))
    found = bom_models(parse_bom(text))
    assert sorted(found.repo_ids) == sorted(ids)  # ancestors are pedigree, not models in use
    assert found.unmapped == []


def test_another_tools_bom_is_read_by_purl_then_by_name() -> None:
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "components": [
            {"type": "library", "name": "flask", "purl": "pkg:pypi/flask@3.0.0"},
            {"type": "library", "name": "x", "purl": "pkg:huggingface/org/by-purl@abc"},
            {"type": "machine-learning-model", "name": "org/by-name"},
            {"type": "machine-learning-model", "group": "org", "name": "by-group"},
            {"type": "machine-learning-model", "name": "in-house ranker", "bom-ref": "r1"},
            {
                "type": "application",
                "name": "app",
                "components": [{"type": "machine-learning-model", "name": "org/nested"}],
            },
        ],
    }
    found = bom_models(parse_bom(json.dumps(bom)))
    assert found.repo_ids == ["org/by-purl", "org/by-name", "org/by-group", "org/nested"]
    assert found.unmapped == [{"name": "in-house ranker", "purl": None, "bom-ref": "r1"}]


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", '{"bomFormat": "SPDX"}', '{"bomFormat": "CycloneDX", "components": {}}'],
)
def test_what_is_not_a_cyclonedx_json_bom_is_refused(text: str) -> None:
    with pytest.raises(BomError):
        bom_models(parse_bom(text))


def _nested(component: dict, depth: int) -> dict:
    for _ in range(depth):
        component = {"type": "library", "name": "wrapper", "components": [component]}
    return component


FORBIDDEN = {"type": "machine-learning-model", "name": "mosaicml/mpt-30b-chat"}


def test_components_nested_too_deep_are_refused_not_dropped() -> None:
    # A model under 33 wrappers would go unjudged: the BOM is refused instead, JSON and XML alike.
    bom = {"bomFormat": "CycloneDX", "components": [_nested(FORBIDDEN, 33)]}
    with pytest.raises(BomError, match="nested more than 32 deep"):
        bom_models(parse_bom(json.dumps(bom)))
    xml = '<c:component type="machine-learning-model"><c:name>mosaicml/mpt-30b-chat</c:name></c:component>'
    for _ in range(34):
        xml = f'<c:component type="library"><c:name>w</c:name><c:components>{xml}</c:components></c:component>'
    document = f'<c:bom xmlns:c="http://cyclonedx.org/schema/bom/1.6"><c:components>{xml}</c:components></c:bom>'
    with pytest.raises(BomError, match="nested more than 32 deep"):
        bom_models(parse_bom(document))
    shallow = {"bomFormat": "CycloneDX", "components": [_nested(FORBIDDEN, 31)]}
    assert bom_models(parse_bom(json.dumps(shallow))).repo_ids == ["mosaicml/mpt-30b-chat"]


@pytest.mark.parametrize("nested", [{"a": FORBIDDEN}, [1, FORBIDDEN], "x"])
def test_nested_components_that_are_not_a_list_of_objects_are_refused(nested: object) -> None:
    bom = {
        "bomFormat": "CycloneDX",
        "components": [{"type": "library", "name": "app", "components": nested}],
    }
    with pytest.raises(BomError, match="list of objects"):
        bom_models(parse_bom(json.dumps(bom)))


def test_the_boms_own_subject_is_judged_too() -> None:
    subject = {"type": "machine-learning-model", "purl": "pkg:huggingface/mosaicml/mpt-30b-chat"}
    bom = {
        "bomFormat": "CycloneDX",
        "metadata": {"component": subject},
        "components": [{"type": "machine-learning-model", "name": "tiiuae/falcon-40b"}],
    }
    assert bom_models(parse_bom(json.dumps(bom))).repo_ids == [
        "mosaicml/mpt-30b-chat",
        "tiiuae/falcon-40b",
    ]
    xml = (
        '<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><metadata><component type="machine-learning-model">'
        "<name>m</name><purl>pkg:huggingface/mosaicml/mpt-30b-chat</purl></component></metadata></bom>"
    )
    assert bom_models(parse_bom(xml)).repo_ids == ["mosaicml/mpt-30b-chat"]


@pytest.mark.parametrize(
    "purl",
    [
        "pkg:huggingface/mosaicml/mpt-30b-chat/extra",
        "pkg:pypi/evil-model@1.0",
        "pkg:huggingface/evil/..",
        "",
        5,
    ],
)
def test_a_purl_that_names_no_hub_repo_is_unmapped_not_read_by_its_name(purl: object) -> None:
    component = {"type": "machine-learning-model", "name": "tiiuae/falcon-7b", "purl": purl}
    found = bom_models(parse_bom(json.dumps({"bomFormat": "CycloneDX", "components": [component]})))
    assert found.repo_ids == []
    assert [u["name"] for u in found.unmapped] == ["tiiuae/falcon-7b"]


@pytest.mark.parametrize(
    "name", ["mosaicml/mpt-30b-chat\n", "owner/..", "a--b/c", "o/" + "n" * 100]
)
def test_a_name_that_is_not_exactly_a_repo_id_is_unmapped(name: str) -> None:
    component = {"type": "machine-learning-model", "name": name}
    found = bom_models(parse_bom(json.dumps({"bomFormat": "CycloneDX", "components": [component]})))
    assert found.repo_ids == [] and len(found.unmapped) == 1


def test_what_is_shown_of_an_unmapped_component_is_printable() -> None:
    component = {"type": "machine-learning-model", "name": "\ud800/x\x01y\nz"}
    text = json.dumps({"bomFormat": "CycloneDX", "components": [component]})
    [unmapped] = bom_models(parse_bom(text)).unmapped
    assert unmapped["name"] is not None and unmapped["name"].isprintable()
    unmapped["name"].encode("utf-8")  # no lone surrogate left to fail a page or a report


def test_an_xml_bom_in_an_unknown_encoding_is_a_bom_error() -> None:
    document = (
        '<?xml version="1.0" encoding="x-bogus"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6"/>'
    )
    with pytest.raises(BomError, match="not an XML document"):
        parse_bom(document.encode())
