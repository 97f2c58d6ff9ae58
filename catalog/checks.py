"""Compliance checks against the database: the entry points the CLI and the API call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from catalog.compliance import Rules, Verdict, evaluate
from catalog.licenses import knowledge_base
from catalog.lineage import load_lineage
from catalog.policies import Policy


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


def check_model(session: Session, repo_id: str, *, use: str, policy: Policy) -> dict[str, Any]:
    return check_models(session, [repo_id], use=use, policy=policy)[0].to_dict()
