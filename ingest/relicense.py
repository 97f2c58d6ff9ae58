"""Resolve stored cards' licenses again when the knowledge base changes.

License ids are resolved when a card is ingested. A newer knowledge base (an entry added, an
alias corrected) must reach cards already in the catalog without a re-crawl: the stored card
fields are read again through the same code the ingester uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from catalog.db import chunked
from catalog.licenses import KnowledgeBase
from catalog.registry import stamp_models
from catalog.tables import Dataset, Model, ModelLicense
from ingest.cards import stored_card_license

_BATCH = 2000


@dataclass
class Relicensed:
    models: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)


def _changed(session: Session, table: Any, kb: KnowledgeBase) -> list[tuple[str, list[str], str]]:
    changes = []
    rows = session.exec(
        select(table.id, table.card_data, table.tags, table.license_ids).where(
            col(table.missing).is_(False)
        )
    )
    for repo_id, card, tags, stored in rows:
        ids, category = stored_card_license(card, tags, kb)
        if ids != list(stored or []):
            changes.append((repo_id, ids, category))
    return changes


def resolve_stored_licenses(session: Session, kb: KnowledgeBase) -> Relicensed:
    """Re-resolve every present model's and dataset's license; return the ids that changed."""
    result = Relicensed()
    for table, changed in ((Model, result.models), (Dataset, result.datasets)):
        changes = _changed(session, table, kb)
        for repo_id, ids, category in changes:
            session.execute(
                update(table)
                .where(col(table.id) == repo_id)
                .values(license_ids=ids, license_category=category)
            )
            changed.append(repo_id)
        if table is Model:
            _replace_license_rows(session, changes)
            stamp_models(session, changed)  # the search index reads what changed
    return result


def _replace_license_rows(session: Session, changes: list[tuple[str, list[str], str]]) -> None:
    """Keep the search's one-row-per-license table in step with the new ids."""
    for chunk in chunked(changes, _BATCH):
        session.execute(
            delete(ModelLicense).where(col(ModelLicense.model_id).in_([c[0] for c in chunk]))
        )
        rows = [
            {"model_id": i, "license_id": lid} for i, ids, _ in chunk for lid in dict.fromkeys(ids)
        ]
        if rows:
            session.execute(ModelLicense.__table__.insert(), rows)  # type: ignore[attr-defined]
