"""Writing to the registry: bulk upserts of models and datasets, lineage edges, license history."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from catalog.db import as_utc, chunked
from catalog.licenses import KnowledgeBase
from catalog.records import DatasetRecord, ModelRecord
from catalog.tables import (
    CatalogVersion,
    Dataset,
    License,
    LicenseObservation,
    LineageEdge,
    Model,
    ModelDataset,
    ModelLanguage,
    ModelLicense,
    Task,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def bump_version(session: Session) -> int:
    """Say that the catalog changed; return the new version.

    A writer that changes what search filters on (a model's columns, licenses, languages or
    verdicts) stamps those models with this number (`Model.search_version`), so the search index
    reads only them (catalog.search_index). On PostgreSQL the row lock taken here orders writers.
    """
    return (
        session.execute(
            update(CatalogVersion)
            .where(col(CatalogVersion.id) == 1)
            .values(version=CatalogVersion.version + 1)
            .returning(col(CatalogVersion.version))
        ).scalar()
        or 0
    )


def stamp_models(session: Session, model_ids: Sequence[str]) -> None:
    """Raise the catalog version and mark these models as changed at it (for the search index)."""
    version = bump_version(session)
    for batch in chunked(model_ids):
        session.execute(
            update(Model)
            .where(col(Model.id).in_(batch))
            .values(search_version=version)
            .execution_options(synchronize_session=False)
        )


def sync_licenses(session: Session, kb: KnowledgeBase) -> None:
    """Mirror the knowledge base into the license table."""
    existing = {row.id: row for row in session.exec(select(License))}
    for entry in kb.licenses.values():
        row = existing.get(entry.id) or License(
            id=entry.id, name=entry.name, category=entry.category
        )
        row.name, row.category, row.spdx, row.url = (
            entry.name,
            entry.category,
            entry.spdx,
            entry.url,
        )
        session.add(row)


STALE = (
    "older than the catalog's copy (lastModified {new} < {old}) and different: kept the catalog's"
)


def _partition(
    existing: dict[str, Any], records: Sequence[ModelRecord | DatasetRecord]
) -> dict[str, list]:
    """new, updated, unchanged (same content, whatever lastModified says) and stale records."""
    groups: dict[str, list] = {"new": [], "updated": [], "unchanged": [], "stale": []}
    for record in records:
        old = existing.get(record.id)
        if old is None:
            groups["new"].append(record)
        elif not old.missing and old.content_digest == record.content_digest():
            groups["unchanged"].append(record)
        elif not old.missing and _older(record.last_modified, old.last_modified):
            groups["stale"].append(record)
        else:
            groups["updated"].append(record)
    return groups


def _older(new: datetime | None, old: datetime | None) -> bool:
    return new is not None and old is not None and as_utc(new) < as_utc(old)


def _observe(
    session: Session, kind: str, groups: dict[str, list], existing: dict[str, Any], now: datetime
) -> None:
    """Record license observations: a new row when the declared license changed, else touch last_seen."""
    fresh, touched = [], []
    for record in groups["new"] + groups["updated"]:
        old = existing.get(record.id)
        if old is None or old.missing or old.declared_license != record.declared_license:
            if old is not None and not old.missing:
                _license_changed(session, kind, record.id, old.declared_license, record)
            fresh.append(
                {
                    "repo_kind": kind,
                    "repo_id": record.id,
                    "sha": record.sha,
                    "declared_license": record.declared_license,
                    "license_ids": record.license_ids,
                    "first_seen": now,
                    "last_seen": now,
                }
            )
        else:
            touched.append(record.id)
    touched += [r.id for r in groups["unchanged"]]
    if fresh:
        session.execute(
            insert(LicenseObservation),
            fresh,
        )
    if touched:
        latest = (
            select(func.max(LicenseObservation.id))
            .where(
                col(LicenseObservation.repo_kind) == kind,
                col(LicenseObservation.repo_id).in_(touched),
            )
            .group_by(LicenseObservation.repo_id)
        )
        session.execute(
            update(LicenseObservation)
            .where(col(LicenseObservation.id).in_(latest))
            .values(last_seen=now)
        )


def _license_changed(
    session: Session, kind: str, repo_id: str, before: str | None, record: Any
) -> None:
    from catalog.webhooks import notify  # webhooks build on the registry, not the other way

    payload = {"kind": kind, "repo": repo_id, "from": before, "to": record.declared_license}
    notify(session, "license.changed", {**payload, "sha": record.sha})


def _existing(
    session: Session, table: type[Model] | type[Dataset], ids: list[str]
) -> dict[str, Any]:
    rows = session.execute(
        sa_select(
            col(table.id),
            col(table.sha),
            col(table.last_modified),
            col(table.missing),
            col(table.declared_license),
            col(table.content_digest),
        ).where(col(table.id).in_(ids))
    )
    return {row.id: row for row in rows}


@dataclass
class UpsertResult:
    counts: Counter[str] = field(default_factory=Counter)  # new, updated, unchanged
    changed_ids: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (repo id, why not written)

    def __iadd__(self, other: UpsertResult) -> UpsertResult:
        self.counts.update(other.counts)
        self.changed_ids.extend(other.changed_ids)
        self.skipped.extend(other.skipped)
        return self


def _result(
    groups: dict[str, list], duplicates: list[str], existing: dict[str, Any]
) -> UpsertResult:
    counts = Counter({k: len(groups[k]) for k in ("new", "updated", "unchanged")})
    skipped = [
        (
            r.id,
            STALE.format(
                new=as_utc(r.last_modified).isoformat(),
                old=as_utc(existing[r.id].last_modified).isoformat(),
            ),
        )
        for r in groups["stale"]
    ] + [(repo_id, "repeated in the same batch: the last line wins") for repo_id in duplicates]
    return UpsertResult(counts, [r.id for r in groups["new"] + groups["updated"]], skipped)


def _distinct(records: Sequence[Any]) -> tuple[list[Any], list[str]]:
    """One record per id (the last one), and the ids that came more than once."""
    latest = {r.id: r for r in records}
    seen = Counter(r.id for r in records)
    return list(latest.values()), [repo_id for repo_id, n in seen.items() if n > 1]


def _row(record: ModelRecord | DatasetRecord, written: dict[str, Any]) -> dict[str, Any]:
    return {**record.columns(), **written, "content_digest": record.content_digest()}


def upsert_models(
    session: Session, records: Sequence[ModelRecord], now: datetime | None = None
) -> UpsertResult:
    """Insert or update a batch of models with their edges; return counts of new/updated/unchanged."""
    now = now or utcnow()
    records, duplicates = _distinct(records)
    existing = _existing(session, Model, [r.id for r in records])
    groups = _partition(existing, records)
    changed = groups["new"] + groups["updated"]
    version = bump_version(session) if changed else 0
    written = {"missing": False, "ingested_at": now, "search_version": version}
    if groups["new"]:
        session.execute(
            insert(Model),
            [_row(r, written) for r in groups["new"]],
        )
    if groups["updated"]:
        session.execute(
            update(Model),
            [_row(r, written) for r in groups["updated"]],
        )
    if changed:
        changed_ids = [r.id for r in changed]
        session.execute(delete(LineageEdge).where(col(LineageEdge.model_id).in_(changed_ids)))
        session.execute(delete(ModelDataset).where(col(ModelDataset.model_id).in_(changed_ids)))
        base_rows = [
            {"model_id": r.id, "base_id": b, "relation": rel}
            for r in changed
            for b, rel in dict(r.bases).items()
        ]
        dataset_rows = [
            {"model_id": r.id, "dataset_id": d} for r in changed for d in dict.fromkeys(r.datasets)
        ]
        if base_rows:
            session.execute(
                insert(LineageEdge),
                base_rows,
            )
        session.execute(delete(ModelLicense).where(col(ModelLicense.model_id).in_(changed_ids)))
        session.execute(delete(ModelLanguage).where(col(ModelLanguage.model_id).in_(changed_ids)))
        license_rows = [
            {"model_id": r.id, "license_id": i}
            for r in changed
            for i in dict.fromkeys(r.license_ids)
        ]
        language_rows = [
            {"model_id": r.id, "language": lang}
            for r in changed
            for lang in dict.fromkeys(r.languages)
        ]
        if license_rows:
            session.execute(insert(ModelLicense), license_rows)
        if language_rows:
            session.execute(insert(ModelLanguage), language_rows)
        if dataset_rows:
            session.execute(
                insert(ModelDataset),
                dataset_rows,
            )
    _observe(session, "model", groups, existing, now)
    _ensure_tasks(session, {r.pipeline_tag for r in changed if r.pipeline_tag})
    return _result(groups, duplicates, existing)


def upsert_datasets(
    session: Session, records: Sequence[DatasetRecord], now: datetime | None = None
) -> UpsertResult:
    now = now or utcnow()
    records, duplicates = _distinct(records)
    existing = _existing(session, Dataset, [r.id for r in records])
    groups = _partition(existing, records)
    if groups["new"]:
        session.execute(
            insert(Dataset),
            [_row(r, {"missing": False, "ingested_at": now}) for r in groups["new"]],
        )
    if groups["updated"]:
        session.execute(
            update(Dataset),
            [_row(r, {"missing": False, "ingested_at": now}) for r in groups["updated"]],
        )
    _observe(session, "dataset", groups, existing, now)
    if groups["new"] or groups["updated"]:
        bump_version(session)
    return _result(groups, duplicates, existing)


def _ensure_tasks(session: Session, task_ids: set[str]) -> None:
    if not task_ids:
        return
    known = set(session.exec(select(Task.id).where(col(Task.id).in_(task_ids))))
    rows = [{"id": t, "name": t.replace("-", " ").capitalize()} for t in sorted(task_ids - known)]
    if rows:
        session.execute(insert(Task), rows)


def mark_missing(session: Session, kind: str, repo_ids: Iterable[str]) -> int:
    """Record referenced repos that the Hub does not have, so verdicts can say so."""
    table: type[Model] | type[Dataset] = Model if kind == "model" else Dataset
    ids = sorted(set(repo_ids))
    if not ids:
        return 0
    known = set(session.exec(select(table.id).where(col(table.id).in_(ids))))
    rows = [
        {"id": i, "missing": True, "license_ids": ["unknown"], "license_category": "unknown"}
        for i in ids
        if i not in known
    ]
    if rows:
        session.execute(insert(table), rows)
        bump_version(session)
    return len(rows)


def referenced_but_absent(session: Session) -> tuple[set[str], set[str]]:
    """Base models and datasets that catalog edges name but the catalog lacks."""
    bases = set(
        session.exec(
            select(LineageEdge.base_id).where(col(LineageEdge.base_id).not_in(select(Model.id)))
        )
    )
    datasets = set(
        session.exec(
            select(ModelDataset.dataset_id).where(
                col(ModelDataset.dataset_id).not_in(select(Dataset.id))
            )
        )
    )
    return bases, datasets


def not_held(session: Session, kind: str, repo_ids: Iterable[str]) -> list[str]:
    """Of these model (or dataset) ids, those the catalog has no record for, or only a missing
    placeholder."""
    table = Model if kind == "model" else Dataset
    wanted = list(dict.fromkeys(repo_ids))
    held: set[str] = set()
    for chunk in chunked(wanted):
        query = select(table.id).where(col(table.id).in_(chunk), col(table.missing).is_(False))
        held.update(session.exec(query))
    return [repo_id for repo_id in wanted if repo_id not in held]
