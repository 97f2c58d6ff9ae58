"""The claims of the post the catalog grew from, checked against the bundled snapshot."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from catalog.compliance_checks import check_model
from catalog.policies import load_policy
from ingest.snapshot import bundled_snapshot_lines, import_snapshot


@pytest.fixture
def seeded(sqlite_engine: Engine) -> Session:
    session = Session(sqlite_engine)
    import_snapshot(session, bundled_snapshot_lines())
    return session


def verdict(
    session: Session, repo_id: str, use: str = "commercial", policy: str = "default"
) -> dict:
    return check_model(session, repo_id, use=use, policy=load_policy(policy))


def test_mpt_30b_chat_is_not_for_commercial_use(seeded: Session) -> None:
    result = verdict(seeded, "mosaicml/mpt-30b-chat")
    assert result["verdict"] == "forbidden"
    assert result["effective_license"]["ids"] == ["cc-by-nc-sa-4.0", "apache-2.0"]


def test_mpt_30b_instruct_is_commercial_with_share_alike(seeded: Session) -> None:
    result = verdict(seeded, "mosaicml/mpt-30b-instruct")
    assert result["verdict"] == "conditional"
    assert "share-alike" in {o["code"] for o in result["obligations"]}


def test_starchat_beta_is_commercial_with_use_restrictions(seeded: Session) -> None:
    result = verdict(seeded, "HuggingFaceH4/starchat-beta")
    assert result["verdict"] == "conditional"
    restrictions = [o for o in result["obligations"] if o["code"] == "use-restrictions"]
    assert {o["source"]["id"] for o in restrictions} >= {
        "HuggingFaceH4/starchat-beta",
        "bigcode/starcoderplus",
    }


def test_xgen_instruct_is_research_only(seeded: Session) -> None:
    assert verdict(seeded, "Salesforce/xgen-7b-8k-inst")["verdict"] == "forbidden"
    assert verdict(seeded, "Salesforce/xgen-7b-8k-inst", use="research")["verdict"] == "allowed"
    assert verdict(seeded, "Salesforce/xgen-7b-8k-base")["verdict"] == "allowed"


def test_llama_based_openassistant_is_not_cleared(seeded: Session) -> None:
    result = verdict(seeded, "OpenAssistant/oasst-sft-6-llama-30b-xor")
    assert result["verdict"] in ("unknown", "forbidden")


def test_falcon_based_openassistant_is_open(seeded: Session) -> None:
    assert verdict(seeded, "OpenAssistant/falcon-40b-sft-mix-1226")["verdict"] == "allowed"


def test_llama2_chat_surfaces_the_threshold_and_acceptable_use_policy(seeded: Session) -> None:
    result = verdict(seeded, "meta-llama/Llama-2-70b-chat-hf")
    assert result["verdict"] == "conditional"
    codes = {o["code"] for o in result["obligations"]}
    assert {"user-threshold", "acceptable-use-policy"} <= codes
    assert (
        verdict(seeded, "meta-llama/Llama-2-70b-chat-hf", use="train-on-outputs")["verdict"]
        == "forbidden"
    )


def test_bloom_carries_rail_use_restrictions(seeded: Session) -> None:
    result = verdict(seeded, "bigscience/bloom")
    assert result["verdict"] == "conditional"
    assert "use-restrictions" in {o["code"] for o in result["obligations"]}


def test_dolly_v2_inherits_its_training_datas_share_alike(seeded: Session) -> None:
    result = verdict(seeded, "databricks/dolly-v2-12b")
    assert result["verdict"] == "conditional"
    sources = {(o["code"], o["source"]["id"]) for o in result["obligations"]}
    assert ("share-alike", "databricks/databricks-dolly-15k") in sources


def test_the_demo_default_is_cleared_for_commercial_use(seeded: Session) -> None:
    assert verdict(seeded, "HuggingFaceTB/SmolLM2-135M-Instruct")["verdict"] == "allowed"


def test_codegen25_instruct_without_a_declared_license_needs_review(seeded: Session) -> None:
    assert verdict(seeded, "Salesforce/codegen25-7b-instruct")["verdict"] == "unknown"
