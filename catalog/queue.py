"""The review queue: verdicts that need a human, most used first, with the reason each is stuck."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from catalog.compliance_checks import verdict_documents
from catalog.policies import Policy
from catalog.tables import Model, ModelLicense, ModelVerdict

QUEUE_USE = "commercial"  # the use whose verdicts are stored, so the queue can be found by query
STATUSES = ("open", "done")
_BATCH = 200


@dataclass(frozen=True)
class QueueQuery:
    policy: Policy
    status: str = "open"  # open: no review that counts; done: a current review decides it
    license: str | None = None
    author: str | None = None
    reason: str | None = None  # a reason code, e.g. license-unknown, dataset-missing
    page: int = 1
    per_page: int = 50


def _candidates(session: Session, query: QueueQuery) -> list[tuple[str, int, str | None]]:
    """Models whose stored verdict is unknown under the policy, most downloaded first."""
    statement = (
        select(Model.id, Model.downloads, Model.author)
        .join(ModelVerdict, col(ModelVerdict.model_id) == col(Model.id))
        .where(
            ModelVerdict.use == QUEUE_USE,
            ModelVerdict.policy == query.policy.name,
            ModelVerdict.verdict == "unknown",
        )
        .order_by(col(Model.downloads).desc(), col(Model.id))
    )
    if query.author:
        statement = statement.where(Model.author == query.author)
    if query.license:
        licensed = select(ModelLicense.model_id).where(ModelLicense.license_id == query.license)
        statement = statement.where(col(Model.id).in_(licensed))
    return list(session.exec(statement))


def _item(document: dict[str, Any], downloads: int, author: str | None) -> dict[str, Any]:
    stuck = [r for r in document["reasons"] if r["severity"] == "review"]
    return {
        "model": document["model"],
        "author": author,
        "downloads": downloads,
        "verdict": document["verdict"],
        "license_ids": document["effective_license"]["ids"],
        "reason_codes": sorted({r["code"] for r in stuck}),
        "stuck_because": stuck[0]["text"] if stuck else document["gate"]["why"],
        "review": document["review"],
    }


def _wanted(item: dict[str, Any], query: QueueQuery) -> bool:
    decided = bool(item["review"] and item["review"]["counts"])
    if decided != (query.status == "done"):
        return False
    return query.reason is None or query.reason in item["reason_codes"]


def review_queue(session: Session, query: QueueQuery) -> tuple[list[dict[str, Any]], int]:
    """One page of the queue and the total; verdicts are computed in batches for the reasons."""
    candidates = _candidates(session, query)
    matched: list[dict[str, Any]] = []
    for start in range(0, len(candidates), _BATCH):
        batch = candidates[start : start + _BATCH]
        documents = verdict_documents(
            session, [c[0] for c in batch], use=QUEUE_USE, policy=query.policy
        )
        for document, (_, downloads, author) in zip(documents, batch, strict=True):
            item = _item(document, downloads, author)
            if _wanted(item, query):
                matched.append(item)
    first = (query.page - 1) * query.per_page
    return matched[first : first + query.per_page], len(matched)
