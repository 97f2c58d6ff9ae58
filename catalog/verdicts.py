"""Stored verdicts: computed when data changes so search can filter and count by commercial use."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from importlib import resources

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from catalog.compatibility import compatibility_text
from catalog.compliance import Rules, evaluate
from catalog.db import chunked
from catalog.licenses import knowledge_base, knowledge_text
from catalog.lineage import load_lineage
from catalog.policies import BUILTIN_POLICIES, load_policy
from catalog.provenance import generation_text
from catalog.registry import stamp_models
from catalog.tables import (
    CatalogVersion,
    LineageEdge,
    Model,
    ModelDataset,
    ModelVerdict,
    StaleVerdict,
)
from catalog.webhooks import notify_verdict_changes

STORED_USES = ("commercial",)
_BATCH = 2000


def descendants(session: Session, model_ids: Iterable[str]) -> set[str]:
    """The models whose lineage includes any of these (including themselves)."""
    found = set(model_ids)
    frontier = set(found)
    while frontier:
        children: set[str] = set()
        for chunk in chunked(sorted(frontier)):
            children.update(
                session.exec(
                    select(LineageEdge.model_id).where(col(LineageEdge.base_id).in_(chunk))
                )
            )
        frontier = children - found
        found |= frontier
    return found


def mark_stale(session: Session, model_ids: Iterable[str]) -> None:
    """Note models whose verdicts must be recomputed; duplicates are ignored."""
    rows = [{"model_id": model_id} for model_id in set(model_ids)]
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(StaleVerdict).on_conflict_do_nothing(), rows)


def refresh_stale(session: Session, batch: int = 5000) -> list[str]:
    """Recompute the verdicts of every stale model and of everything built on them, each model once."""
    stale = set(session.exec(select(StaleVerdict.model_id)))
    if not stale:
        return []
    affected = sorted(descendants(session, stale))
    for start in range(0, len(affected), batch):
        _store_verdicts(session, affected[start : start + batch])
        session.commit()
    session.execute(delete(StaleVerdict))
    session.commit()
    return affected


def models_trained_on(session: Session, dataset_ids: list[str]) -> list[str]:
    """Models whose training datasets include any of these."""
    if not dataset_ids:
        return []
    query = select(ModelDataset.model_id).where(col(ModelDataset.dataset_id).in_(dataset_ids))
    return sorted(set(session.exec(query)))


def refresh_verdicts(session: Session, model_ids: Iterable[str] | None = None) -> list[str]:
    """Recompute stored verdicts for these models and their descendants (all models if None); return them."""
    if model_ids is None:
        targets = sorted(session.exec(select(Model.id).where(col(Model.missing).is_(False))))
    else:
        targets = sorted(
            descendants(session, model_ids)
        )  # _store_verdicts skips missing placeholders
    for start in range(0, len(targets), _BATCH):
        _store_verdicts(session, targets[start : start + _BATCH])
    return targets


def _store_verdicts(session: Session, model_ids: list[str]) -> None:
    """Compute and store the stored uses' verdicts for these models (lineage loaded once for all policies)."""
    present = list(
        session.exec(
            select(Model.id).where(col(Model.id).in_(model_ids), col(Model.missing).is_(False))
        )
    )
    kb = knowledge_base()
    policies = [Rules(load_policy(name), kb) for name in BUILTIN_POLICIES]
    lineage = load_lineage(session, present)
    rows = []
    for use in STORED_USES:
        for rules in policies:
            for model_id in present:
                verdict = evaluate(
                    model_id, lineage, use=use, policy=rules.policy, kb=kb, rules=rules
                )
                rows.append(
                    {
                        "model_id": model_id,
                        "use": use,
                        "policy": rules.policy.name,
                        "verdict": verdict.verdict,
                        "effective_category": verdict.effective_category,
                    }
                )
    previous = select(
        ModelVerdict.model_id, ModelVerdict.use, ModelVerdict.policy, ModelVerdict.verdict
    )
    before = {
        (model_id, use, policy): verdict
        for model_id, use, policy, verdict in session.exec(
            previous.where(col(ModelVerdict.model_id).in_(model_ids))
        )
    }
    notify_verdict_changes(session, before, rows)
    session.execute(delete(ModelVerdict).where(col(ModelVerdict.model_id).in_(model_ids)))
    stamp_models(session, present)
    if rows:
        session.execute(ModelVerdict.__table__.insert(), rows)  # type: ignore[attr-defined]


def rules_digest() -> str:
    """A digest of everything a verdict is computed from besides the catalog's own rows."""
    policies = resources.files("catalog.data.policies")
    texts = [knowledge_text(), compatibility_text(), generation_text()]
    texts += [policies.joinpath(f"{name}.yaml").read_text("utf-8") for name in BUILTIN_POLICIES]
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()


def stored_rules_digest(session: Session) -> str | None:
    return session.exec(
        select(CatalogVersion.rules_digest).where(col(CatalogVersion.id) == 1)
    ).one_or_none()


def mark_rules_current(session: Session) -> None:
    session.execute(
        update(CatalogVersion)
        .where(col(CatalogVersion.id) == 1)
        .values(rules_digest=rules_digest())
    )
