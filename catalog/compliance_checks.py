"""Compliance checks against the database: the entry points the CLI and the API call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from catalog.compliance import Rules, Verdict, evaluate
from catalog.licenses import knowledge_base
from catalog.lineage import load_lineage
from catalog.policies import OUTCOME_RANK, Policy

# The verdicts a gate can stop on, from the strictest gate to the loosest. The default stops on
# `unknown` and `forbidden`; `conditional` also stops on any verdict with obligations.
FAIL_ON = ("conditional", "unknown", "forbidden")
DEFAULT_FAIL_ON = "unknown"


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


def failing(verdicts: Sequence[dict[str, Any]], fail_on: str = DEFAULT_FAIL_ON) -> list[str]:
    """The models whose verdict is `fail_on` or worse: what makes a CI gate fail."""
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}")
    bar = OUTCOME_RANK[fail_on]
    return [v["model"] for v in verdicts if OUTCOME_RANK[v["verdict"]] >= bar]
