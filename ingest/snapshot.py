"""Snapshot import and export: one Hub-API-shaped JSON object per line, `"kind": "dataset"` for datasets."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any

from sqlmodel import Session, col, select

from catalog.licenses import knowledge_base
from catalog.records import DatasetRecord, ModelRecord
from catalog.registry import UpsertResult, upsert_datasets, upsert_models
from catalog.search_index import save_index
from catalog.tables import Dataset, LineageEdge, Model, ModelDataset
from catalog.verdicts import models_trained_on, refresh_verdicts
from ingest.cards import dataset_record, model_record
from ingest.errors import BadRecord

BATCH = 1000


@dataclass
class ImportReport:
    models: UpsertResult = field(default_factory=UpsertResult)
    datasets: UpsertResult = field(default_factory=UpsertResult)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    card_errors: int = 0


def _parse(line: str) -> tuple[str, ModelRecord | DatasetRecord]:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadRecord(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(raw, dict):
        raise BadRecord(f"expected a JSON object, got {type(raw).__name__}")
    kind = raw.get("kind", "model")
    if kind == "dataset":
        return kind, dataset_record(raw, knowledge_base())
    if kind != "model":
        raise BadRecord(f"unknown kind {kind!r}; expected 'model' or 'dataset'")
    return kind, model_record(raw, knowledge_base())


def _flush(session: Session, report: ImportReport, batch: dict[str, list]) -> None:
    if batch["dataset"]:
        report.datasets += upsert_datasets(session, batch["dataset"])
    if batch["model"]:
        report.models += upsert_models(session, batch["model"])
    session.commit()
    batch["model"].clear()
    batch["dataset"].clear()


def import_snapshot(session: Session, lines: Iterable[str]) -> ImportReport:
    """Import JSON lines; a bad line is reported with its number and skipped, the rest imported."""
    report = ImportReport()
    batch: dict[str, list] = {"model": [], "dataset": []}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            kind, record = _parse(line)
        except BadRecord as exc:
            report.bad_lines.append((number, str(exc)))
            continue
        report.card_errors += bool(record.card_errors)
        batch[kind].append(record)
        if len(batch[kind]) >= BATCH:
            _flush(session, report, batch)
    _flush(session, report, batch)
    refresh_verdicts(
        session,
        report.models.changed_ids + models_trained_on(session, report.datasets.changed_ids),
    )
    session.commit()
    save_index(session)
    return report


def bundled_snapshot_lines() -> list[str]:
    return (
        resources.files("catalog.data").joinpath("snapshot.jsonl").read_text("utf-8").splitlines()
    )


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z") if value else None


def _common(row: Model | Dataset) -> dict[str, Any]:
    return {
        "id": row.id,
        "author": row.author,
        "sha": row.sha,
        "lastModified": _iso(row.last_modified),
        "createdAt": _iso(row.created_at),
        "downloads": row.downloads,
        "likes": row.likes,
        "tags": row.tags or [],
        "gated": False if row.gated in (None, "false") else row.gated,
        "disabled": row.disabled,
        "cardData": row.card_data or {},
    }


def _card_for_export(
    card: dict[str, Any], row: Model | Dataset, extra: dict[str, Any]
) -> dict[str, Any]:
    # A card that was too large or missing still round-trips its normalised facts.
    card = dict(card)
    if row.declared_license and "license" not in card:
        card["license"] = row.declared_license
    for key, value in extra.items():
        if value and key not in card:
            card[key] = value
    return card


def export_snapshot(session: Session) -> Iterator[str]:
    """Yield JSON lines for every dataset and model in the catalog (not the missing placeholders)."""
    for dataset in session.exec(
        select(Dataset).where(col(Dataset.missing).is_(False)).order_by(Dataset.id)
    ):
        line = {"kind": "dataset", **_common(dataset)}
        line["cardData"] = _card_for_export(line["cardData"], dataset, {})
        yield json.dumps(line, sort_keys=True)
    bases: dict[str, list[LineageEdge]] = {}
    for edge in session.exec(select(LineageEdge)):
        bases.setdefault(edge.model_id, []).append(edge)
    trained: dict[str, list[str]] = {}
    for ds_edge in session.exec(select(ModelDataset)):
        trained.setdefault(ds_edge.model_id, []).append(ds_edge.dataset_id)
    for model in session.exec(
        select(Model).where(col(Model.missing).is_(False)).order_by(Model.id)
    ):
        line = {
            **_common(model),
            "pipeline_tag": model.pipeline_tag,
            "library_name": model.library_name,
            "private": model.private,
        }
        edges = sorted(bases.get(model.id, []), key=lambda e: e.base_id)
        extra: dict[str, Any] = {"datasets": sorted(trained.get(model.id, []))}
        if edges:
            extra["base_model"] = [e.base_id for e in edges] if len(edges) > 1 else edges[0].base_id
            extra["base_model_relation"] = edges[0].relation
        line["cardData"] = _card_for_export(line["cardData"], model, extra)
        yield json.dumps(line, sort_keys=True)
