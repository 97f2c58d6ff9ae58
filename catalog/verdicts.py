"""Stored verdicts: computed when data changes so search can filter and count by commercial use."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from catalog.checks import check_models
from catalog.models import Model, ModelBase, ModelVerdict
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
    for start in range(0, len(targets), _BATCH):
        batch = targets[start : start + _BATCH]
        rows = []
        for use in STORED_USES:
            for policy in policies:
                for verdict in check_models(session, batch, use=use, policy=policy):
                    rows.append(
                        {
                            "model_id": verdict.model,
                            "use": use,
                            "policy": policy.name,
                            "verdict": verdict.verdict,
                            "effective_category": verdict.effective_category,
                        }
                    )
        session.execute(delete(ModelVerdict).where(ModelVerdict.model_id.in_(batch)))  # type: ignore[attr-defined]
        if rows:
            session.execute(insert(ModelVerdict), rows)
    return len(targets)
