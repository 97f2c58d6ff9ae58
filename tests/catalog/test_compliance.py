"""The compliance engine over hand-built lineages: categories x depth x relation x dataset licenses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.compliance import evaluate
from catalog.errors import UnknownUse
from catalog.licenses import knowledge_base
from catalog.lineage import Lineage, RepoFacts
from catalog.policies import OUTCOME_RANK, load_policy, parse_policy
from catalog.provenance import Generation

KB = knowledge_base()
DEFAULT = load_policy("default")
STRICT = load_policy("strict")

# One representative license per category, with its expected commercial verdict (default policy).
BY_CATEGORY = {
    "public-domain": ("cc0-1.0", "allowed"),
    "permissive": ("apache-2.0", "allowed"),
    "weak-copyleft": ("mpl-2.0", "conditional"),
    "copyleft": ("gpl-3.0", "conditional"),
    "open-rail": ("bigscience-openrail-m", "conditional"),
    "community": ("llama2", "conditional"),
    "non-commercial": ("cc-by-nc-4.0", "forbidden"),
    "research-only": ("fair-noncommercial-research-license", "forbidden"),
    "unknown": ("unknown", "unknown"),
}


def chain(
    root_license: str,
    ancestor_license: str,
    depth: int,
    relation: str = "finetune",
    datasets: dict[str, tuple[str, ...]] | None = None,
) -> Lineage:
    """A root model on top of `depth` ancestors; the deepest ancestor has `ancestor_license`, the rest apache-2.0."""
    lineage = Lineage()
    ids = [f"org/m{i}" for i in range(depth + 1)]
    for level, model_id in enumerate(ids):
        if level == 0:
            license_id = root_license
        elif level == depth:
            license_id = ancestor_license
        else:
            license_id = "apache-2.0"
        bases = ((ids[level + 1], relation),) if level < depth else ()
        lineage.models[model_id] = RepoFacts(
            id=model_id, license_ids=(license_id,), declared_license=license_id, bases=bases
        )
    for dataset_id, license_ids in (datasets or {}).items():
        root = lineage.models[ids[0]]
        lineage.models[ids[0]] = RepoFacts(
            **{**root.__dict__, "datasets": (*root.datasets, dataset_id)}
        )
        lineage.datasets[dataset_id] = RepoFacts(id=dataset_id, license_ids=license_ids)
    return lineage


@pytest.mark.parametrize("category", list(BY_CATEGORY))
def test_a_model_alone_gets_its_own_licenses_commercial_verdict(category: str) -> None:
    license_id, expected = BY_CATEGORY[category]
    verdict = evaluate(
        "org/m0", chain(license_id, license_id, 0), use="commercial", policy=DEFAULT, kb=KB
    )
    assert verdict.verdict == expected
    assert verdict.effective_category == category


@pytest.mark.parametrize("relation", ["finetune", "adapter", "quantized", "merge"])
@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("category", list(BY_CATEGORY))
def test_an_ancestors_terms_reach_the_model_through_any_relation_and_depth(
    category: str, depth: int, relation: str
) -> None:
    license_id, expected = BY_CATEGORY[category]
    verdict = evaluate(
        "org/m0",
        chain("apache-2.0", license_id, depth, relation),
        use="commercial",
        policy=DEFAULT,
        kb=KB,
    )
    assert verdict.verdict == expected
    if expected != "allowed":
        deepest = f"org/m{depth}"
        blocking = [r for r in verdict.reasons if r.source["id"] == deepest]
        assert blocking and blocking[0].source["kind"] == "base_model"
        assert blocking[0].source["relation"] == relation


@pytest.mark.parametrize(
    ("dataset_license", "policy", "expected"),
    [
        ("apache-2.0", DEFAULT, "allowed"),
        ("cc-by-nc-4.0", DEFAULT, "conditional"),
        ("cc-by-nc-4.0", STRICT, "forbidden"),
        ("cc-by-sa-3.0", DEFAULT, "conditional"),
        ("unknown", DEFAULT, "conditional"),
        ("unknown", STRICT, "unknown"),
    ],
)
def test_training_data_licenses_count_as_the_policy_says(
    dataset_license: str, policy, expected: str
) -> None:
    lineage = chain("apache-2.0", "apache-2.0", 1, datasets={"org/data": (dataset_license,)})
    assert evaluate("org/m0", lineage, use="commercial", policy=policy, kb=KB).verdict == expected


@pytest.mark.parametrize("policy", [DEFAULT, STRICT])
def test_a_model_trained_on_alpaca_is_never_plainly_allowed_for_commercial_use(policy) -> None:
    lineage = chain("apache-2.0", "apache-2.0", 0)
    lineage.models["org/m0"] = RepoFacts(
        id="org/m0", license_ids=("apache-2.0",), datasets=("tatsu-lab/alpaca",)
    )
    lineage.datasets["tatsu-lab/alpaca"] = RepoFacts(
        id="tatsu-lab/alpaca",
        license_ids=("cc-by-nc-4.0",),
        generation=Generation("OpenAI text-davinci-003", "listed"),
    )
    verdict = evaluate("org/m0", lineage, use="commercial", policy=policy, kb=KB)
    assert verdict.verdict != "allowed"
    assert "dataset-model-generated" in {r.code for r in verdict.reasons}


def test_a_missing_ancestor_gives_unknown_with_a_reason() -> None:
    lineage = Lineage()
    lineage.models["org/child"] = RepoFacts(
        id="org/child", license_ids=("mit",), bases=(("org/gone", "finetune"),)
    )
    verdict = evaluate("org/child", lineage, use="commercial", policy=DEFAULT, kb=KB)
    assert verdict.verdict == "unknown"
    assert [r.code for r in verdict.reasons] == ["ancestor-missing"]


def test_a_missing_training_dataset_gives_unknown() -> None:
    lineage = Lineage()
    lineage.models["org/child"] = RepoFacts(
        id="org/child", license_ids=("mit",), datasets=("org/nowhere",)
    )
    verdict = evaluate("org/child", lineage, use="commercial", policy=DEFAULT, kb=KB)
    assert verdict.verdict == "unknown"
    assert "dataset-missing" in {r.code for r in verdict.reasons}


def test_a_cycle_in_the_base_model_graph_ends() -> None:
    lineage = Lineage()
    lineage.models["org/a"] = RepoFacts(
        id="org/a", license_ids=("mit",), bases=(("org/b", "finetune"),)
    )
    lineage.models["org/b"] = RepoFacts(
        id="org/b", license_ids=("cc-by-nc-4.0",), bases=(("org/a", "finetune"),)
    )
    verdict = evaluate("org/a", lineage, use="commercial", policy=DEFAULT, kb=KB)
    assert verdict.verdict == "forbidden"
    assert verdict.effective_ids == ["mit", "cc-by-nc-4.0"]


def test_a_merge_takes_the_most_restrictive_of_its_bases() -> None:
    lineage = Lineage()
    lineage.models["org/merge"] = RepoFacts(
        id="org/merge", license_ids=("apache-2.0",), bases=(("org/a", "merge"), ("org/b", "merge"))
    )
    lineage.models["org/a"] = RepoFacts(id="org/a", license_ids=("mit",))
    lineage.models["org/b"] = RepoFacts(id="org/b", license_ids=("cc-by-nc-sa-4.0",))
    verdict = evaluate("org/merge", lineage, use="commercial", policy=DEFAULT, kb=KB)
    assert verdict.verdict == "forbidden"
    assert verdict.effective_category == "non-commercial"


def test_a_llama2_finetune_declaring_apache_is_a_conflict_and_not_allowed() -> None:
    lineage = chain("apache-2.0", "llama2", 1)
    verdict = evaluate("org/m0", lineage, use="commercial", policy=DEFAULT, kb=KB)
    assert verdict.verdict == "conditional"
    assert len(verdict.conflicts) == 1
    assert verdict.conflicts[0]["ancestor"] == "org/m1"
    codes = {o["code"] for o in verdict.obligations}
    assert {"user-threshold", "acceptable-use-policy"} <= codes
    threshold = next(o for o in verdict.obligations if o["code"] == "user-threshold")
    assert threshold["threshold"] == 700_000_000
    assert "700 million" in threshold["text"]


def test_an_openrail_model_carries_its_use_restrictions_as_an_obligation() -> None:
    verdict = evaluate(
        "org/m0", chain("bigcode-openrail-m", "x", 0), use="commercial", policy=DEFAULT, kb=KB
    )
    assert "use-restrictions" in {o["code"] for o in verdict.obligations}


def test_a_finetune_inherits_openrail_use_restrictions() -> None:
    verdict = evaluate(
        "org/m0",
        chain("mit", "bigscience-bloom-rail-1.0", 2, "quantized"),
        use="commercial",
        policy=DEFAULT,
        kb=KB,
    )
    restrictions = [o for o in verdict.obligations if o["code"] == "use-restrictions"]
    assert restrictions and restrictions[0]["source"]["id"] == "org/m2"


@pytest.mark.parametrize(
    ("license_id", "use", "expected"),
    [
        ("cc-by-nc-4.0", "research", "allowed"),
        ("unknown", "research", "unknown"),
        ("llama2", "train-on-outputs", "forbidden"),
        ("apache-2.0", "train-on-outputs", "allowed"),
        ("cc-by-nd-4.0", "redistribute", "conditional"),
        ("intel-research", "redistribute", "forbidden"),
        ("mit", "redistribute", "allowed"),
    ],
)
def test_each_use_has_its_own_rules(license_id: str, use: str, expected: str) -> None:
    assert (
        evaluate("org/m0", chain(license_id, license_id, 0), use=use, policy=DEFAULT, kb=KB).verdict
        == expected
    )


def test_an_unknown_use_is_rejected() -> None:
    with pytest.raises(UnknownUse):
        evaluate("org/m0", chain("mit", "mit", 0), use="sell-it", policy=DEFAULT, kb=KB)


def test_a_users_policy_can_deny_a_category() -> None:
    document = {
        "name": "no-copyleft",
        "uses": {
            use: {"categories": dict(rules.categories), "limitations": dict(rules.limitations)}
            for use, rules in DEFAULT.uses.items()
        },
        "deny": ["copyleft"],
    }
    policy = parse_policy(document)
    verdict = evaluate("org/m0", chain("gpl-3.0", "x", 0), use="commercial", policy=policy, kb=KB)
    assert verdict.verdict == "forbidden"
    assert verdict.reasons[0].code == "policy-forbidden"


def test_the_verdict_json_has_the_documented_shape() -> None:
    verdict = evaluate(
        "org/m0", chain("cc-by-nc-sa-4.0", "apache-2.0", 1), use="commercial", policy=DEFAULT, kb=KB
    ).to_dict()
    assert set(verdict) == {
        "model",
        "use",
        "policy",
        "verdict",
        "declared_license",
        "effective_license",
        "reasons",
        "obligations",
        "conflicts",
        "checked_at",
    }
    assert verdict["effective_license"] == {
        "ids": ["cc-by-nc-sa-4.0", "apache-2.0"],
        "category": "non-commercial",
    }
    assert verdict["reasons"][0]["severity"] == "block"
    assert verdict["reasons"][0]["source"] == {
        "kind": "model",
        "id": "org/m0",
        "license": "cc-by-nc-sa-4.0",
    }
    assert verdict["checked_at"].endswith("Z")


LICENSES = sorted(i for i in KB.licenses if KB.licenses[i].hub)


@settings(max_examples=300, deadline=None)
@given(
    root=st.sampled_from(LICENSES),
    ancestors=st.lists(st.sampled_from(LICENSES), max_size=3),
    extra=st.sampled_from(LICENSES),
    dataset=st.none() | st.sampled_from(LICENSES),
    use=st.sampled_from(["commercial", "research", "redistribute", "train-on-outputs"]),
    strict=st.booleans(),
)
def test_adding_an_ancestor_or_dataset_never_makes_a_verdict_more_permissive(
    root, ancestors, extra, dataset, use, strict
) -> None:
    policy = STRICT if strict else DEFAULT
    lineage = Lineage()
    ids = [f"org/m{i}" for i in range(len(ancestors) + 1)]
    for level, license_id in enumerate([root, *ancestors]):
        bases = ((ids[level + 1], "finetune"),) if level + 1 < len(ids) else ()
        lineage.models[ids[level]] = RepoFacts(
            id=ids[level], license_ids=(license_id,), bases=bases
        )
    before = evaluate("org/m0", lineage, use=use, policy=policy, kb=KB).verdict

    deepest = lineage.models[ids[-1]]
    datasets = ("org/data",) if dataset else ()
    lineage.models[ids[-1]] = RepoFacts(
        id=deepest.id,
        license_ids=deepest.license_ids,
        bases=(("org/extra", "merge"),),
        datasets=datasets,
    )
    lineage.models["org/extra"] = RepoFacts(id="org/extra", license_ids=(extra,))
    if dataset:
        lineage.datasets["org/data"] = RepoFacts(id="org/data", license_ids=(dataset,))
    after = evaluate("org/m0", lineage, use=use, policy=policy, kb=KB).verdict
    assert OUTCOME_RANK[after] >= OUTCOME_RANK[before]
