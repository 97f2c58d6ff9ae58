"""Compliance checks against the database: the entry points the CLI and the API call.

The engine computes a verdict from facts (curations already applied by load_lineage); this layer
adds what people recorded: the curated inputs as `curated` reasons, and the current review."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from catalog.compliance import Rules, Verdict, evaluate, evaluate_dataset, walk_lineage
from catalog.curations import apply_dataset_curations
from catalog.licenses import knowledge_base
from catalog.lineage import Lineage, load_lineage, load_lineage_datasets
from catalog.policies import DEFAULT_FAIL_ON, FAIL_ON, OUTCOME_RANK, Policy
from catalog.reviews import latest_reviews, review_dict


def check_models(
    session: Session, repo_ids: Sequence[str], *, use: str, policy: Policy
) -> list[Verdict]:
    """Verdicts for several models, loading their lineage in bulk (one query per graph level)."""
    lineage = load_lineage(session, repo_ids)
    kb = knowledge_base()
    rules = Rules(policy, kb)
    return [
        evaluate(repo_id, lineage, use=use, policy=policy, kb=kb, rules=rules)
        for repo_id in repo_ids
    ]


def curated_reasons(root: str, lineage: Lineage) -> list[dict[str, Any]]:
    """A `curated` reason for every curated input in the model's lineage, datasets included."""
    reasons = []
    for visit in walk_lineage(root, lineage):
        reasons += [c.reason(visit.kind) for c in visit.facts.curations]
        for dataset_id in visit.facts.datasets:
            dataset = lineage.datasets.get(dataset_id)
            reasons += [c.reason("dataset") for c in dataset.curations] if dataset else []
    return reasons


def gate(document: dict[str, Any], fail_on: str = DEFAULT_FAIL_ON) -> dict[str, Any]:
    """Whether a verdict passes a gate, a current review overriding the computed result."""
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}")
    review = document.get("review")
    if review and review["counts"]:
        passes = review["decision"] == "approved"
        why = f"{review['decision']} by {review['by']} on {review['at'][:10]}: {review['comment']}"
        return {"passes": passes, "why": why}
    passes = OUTCOME_RANK[document["verdict"]] < OUTCOME_RANK[fail_on]
    why = f"computed verdict {document['verdict']}"
    if review:
        why += f" (the {review['decision']} review by {review['by']} {review['status']})"
    return {"passes": passes, "why": why}


def verdict_documents(
    session: Session,
    repo_ids: Sequence[str],
    *,
    use: str,
    policy: Policy,
    scope: str | None = None,
    fail_on: str = DEFAULT_FAIL_ON,
) -> list[dict[str, Any]]:
    """Verdicts as JSON documents with curated reasons, the current review and the gate's answer."""
    lineage = load_lineage(session, repo_ids)
    return judged_documents(
        session, lineage, repo_ids, uses=[use], policy=policy, scope=scope, fail_on=fail_on
    )


def judged_documents(
    session: Session,
    lineage: Lineage,
    repo_ids: Sequence[str],
    *,
    uses: Sequence[str],
    policy: Policy,
    scope: str | None = None,
    fail_on: str = DEFAULT_FAIL_ON,
) -> list[dict[str, Any]]:
    """Documents for every use of every model from one lineage load and one reviews query."""
    kb = knowledge_base()
    rules = Rules(policy, kb)
    reviews = latest_reviews(session, repo_ids, uses=uses, scope=scope)
    documents = []
    for use in uses:
        for repo_id in repo_ids:
            verdict = evaluate(repo_id, lineage, use=use, policy=policy, kb=kb, rules=rules)
            document = verdict.to_dict()
            document["reasons"] += curated_reasons(repo_id, lineage)
            review = reviews.get((repo_id, use))
            facts = lineage.models[repo_id]
            document["review"] = review_dict(review, facts.license_ids) if review else None
            document["gate"] = gate(document, fail_on)
            documents.append(document)
    return documents


def check_model(session: Session, repo_id: str, *, use: str, policy: Policy) -> dict[str, Any]:
    return verdict_documents(session, [repo_id], use=use, policy=policy)[0]


def dataset_documents(
    session: Session,
    dataset_ids: Sequence[str],
    *,
    use: str,
    policy: Policy,
    fail_on: str = DEFAULT_FAIL_ON,
) -> list[dict[str, Any]]:
    """Verdicts on datasets a code base loads, with curated reasons and the gate's answer.

    Reviews are recorded for models only, so a dataset's verdict is the computed one."""
    lineage = load_lineage_datasets(session, dataset_ids)
    apply_dataset_curations(session, set(dataset_ids), lineage)
    kb = knowledge_base()
    rules = Rules(policy, kb)
    documents = []
    for dataset_id in dataset_ids:
        verdict = evaluate_dataset(dataset_id, lineage, use=use, policy=policy, kb=kb, rules=rules)
        document = verdict.to_dict()
        document["reasons"] += [c.reason("dataset") for c in lineage.datasets[dataset_id].curations]
        document["review"] = None
        document["gate"] = gate(document, fail_on)
        documents.append(document)
    return documents


def subject(document: dict[str, Any]) -> str:
    """The repo a verdict document judges: a model, or a dataset a code base loads."""
    repo_id: str = document["model"] if "model" in document else document["dataset"]
    return repo_id


def failing(verdicts: Sequence[dict[str, Any]], fail_on: str = DEFAULT_FAIL_ON) -> list[str]:
    """The repos a CI gate stops on: `fail_on` or worse, unless a current review decides."""
    return [subject(v) for v in verdicts if not gate(v, fail_on)["passes"]]
