"""Stored verdicts: computed when data changes so search can filter and count by commercial use."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete
from sqlmodel import Session, col, select

from catalog.compliance import evaluate
from catalog.licenses import knowledge_base
from catalog.lineage import load_lineage
from catalog.models import Model, ModelBase, ModelDataset, ModelVerdict
from catalog.policies import BUILTIN_POLICIES, load_policy

STORED_USES = ("commercial",)
_BATCH = 2000


def descendants(session: Session, model_ids: Iterable[str]) -> set[str]:
    """The models whose lineage includes any of these (including themselves)."""
    found = set(model_ids)
    frontier = set(found)
    while frontier:
        children = set(
            session.exec(select(ModelBase.model_id).where(ModelBase.base_id.in_(sorted(frontier))))  # type: ignore[attr-defined]
        )
        frontier = children - found
        found |= frontier
    return found


def models_trained_on(session: Session, dataset_ids: list[str]) -> list[str]:
    """Models whose training datasets include any of these."""
    if not dataset_ids:
        return []
    query = select(ModelDataset.model_id).where(col(ModelDataset.dataset_id).in_(dataset_ids))
    return sorted(set(session.exec(query)))


def refresh_verdicts(session: Session, model_ids: Iterable[str] | None = None) -> int:
    """Recompute stored verdicts for these models and their descendants (all models if None)."""
    if model_ids is None:
        targets = sorted(session.exec(select(Model.id).where(col(Model.missing).is_(False))))
    else:
        affected = descendants(session, model_ids)
        targets = sorted(
            session.exec(
                select(Model.id).where(Model.id.in_(affected), col(Model.missing).is_(False))
            )
        )  # type: ignore[attr-defined]
    policies = [load_policy(name) for name in BUILTIN_POLICIES]
    kb = knowledge_base()
    for start in range(0, len(targets), _BATCH):
        batch = targets[start : start + _BATCH]
        lineage = load_lineage(session, batch)  # once for every use and policy
        rows = []
        for use in STORED_USES:
            for policy in policies:
                for model_id in batch:
                    verdict = evaluate(model_id, lineage, use=use, policy=policy, kb=kb)
                    rows.append(
                        {
                            "model_id": model_id,
                            "use": use,
                            "policy": policy.name,
                            "verdict": verdict.verdict,
                            "effective_category": verdict.effective_category,
                        }
                    )
        session.execute(delete(ModelVerdict).where(col(ModelVerdict.model_id).in_(batch)))
        if rows:
            session.execute(ModelVerdict.__table__.insert(), rows)  # type: ignore[attr-defined]
    return len(targets)
