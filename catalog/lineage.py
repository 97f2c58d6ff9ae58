"""Load the facts the compliance engine needs: each model's licenses, bases and datasets, in bulk."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from catalog.curations import apply_dataset_curations, apply_model_curations
from catalog.db import chunked
from catalog.provenance import Generation, generation_rules
from catalog.tables import Dataset, LineageEdge, Model, ModelDataset


@dataclass(frozen=True)
class RepoFacts:
    """What the engine knows about one model or dataset."""

    id: str
    license_ids: tuple[str, ...] = ("unknown",)
    declared_license: str | None = None
    license_name: str | None = None
    license_link: str | None = None
    present: bool = True  # False: referenced, but not in the catalog or not on the Hub
    bases: tuple[tuple[str, str], ...] = ()  # (base id, relation)
    datasets: tuple[str, ...] = ()
    pipeline_tag: str | None = None
    generation: Generation | None = None  # datasets: how it was recognised as model-generated
    curations: tuple[
        Any, ...
    ] = ()  # catalog.curations.CuratedInput: reviewers' corrections applied


@dataclass
class Lineage:
    models: dict[str, RepoFacts] = field(default_factory=dict)
    datasets: dict[str, RepoFacts] = field(default_factory=dict)


def _rows(session: Session, columns: tuple[Any, ...], ids: set[str]) -> dict[str, tuple[Any, ...]]:
    """The columns after the first (the id) of each row whose id is among these, by id."""
    rows: dict[str, tuple[Any, ...]] = {}
    for chunk in chunked(sorted(ids)):
        query = sa_select(*columns).where(columns[0].in_(chunk))
        for repo_id, *values in session.execute(query):
            rows[repo_id] = tuple(values)
    return rows


def _load_model_level(session: Session, ids: set[str], lineage: Lineage) -> set[str]:
    """Load one level of models; return the base ids the next level needs."""
    bases: dict[str, list[tuple[str, str]]] = {i: [] for i in ids}
    trained_on: dict[str, list[str]] = {i: [] for i in ids}
    columns = (
        col(Model.id),
        col(Model.license_ids),
        col(Model.declared_license),
        col(Model.license_name),
        col(Model.license_link),
        col(Model.pipeline_tag),
        col(Model.missing),
    )
    rows = _rows(session, columns, ids)
    for chunk in chunked(sorted(ids)):
        # Column tuples, not ORM objects: this runs for every level of every batch.
        edges = select(LineageEdge.model_id, LineageEdge.base_id, LineageEdge.relation)
        for model_id, base_id, relation in session.exec(
            edges.where(col(LineageEdge.model_id).in_(chunk))
        ):
            bases[model_id].append((base_id, relation))
        trained = select(ModelDataset.model_id, ModelDataset.dataset_id)
        for model_id, dataset_id in session.exec(
            trained.where(col(ModelDataset.model_id).in_(chunk))
        ):
            trained_on[model_id].append(dataset_id)
    for model_id in ids:
        license_ids, declared, name, link, task, missing = rows.get(
            model_id, (None, None, None, None, None, True)
        )
        lineage.models[model_id] = RepoFacts(
            id=model_id,
            license_ids=tuple(license_ids or ["unknown"]),
            declared_license=declared,
            license_name=name,
            license_link=link,
            pipeline_tag=task,
            present=model_id in rows and not missing,
            bases=tuple(sorted(bases[model_id])),
            datasets=tuple(sorted(trained_on[model_id])),
        )
    return {base for edges in bases.values() for base, _ in edges}


def _load_datasets(session: Session, ids: set[str], lineage: Lineage) -> None:
    rules = generation_rules()
    columns = (
        col(Dataset.id),
        col(Dataset.license_ids),
        col(Dataset.declared_license),
        col(Dataset.license_name),
        col(Dataset.license_link),
        col(Dataset.tags),
        col(Dataset.card_data),
        col(Dataset.missing),
    )
    rows = _rows(session, columns, ids)
    for dataset_id in ids:
        license_ids, declared, name, link, tags, card, missing = rows.get(
            dataset_id, (None, None, None, None, None, None, True)
        )
        present = dataset_id in rows and not missing
        lineage.datasets[dataset_id] = RepoFacts(
            id=dataset_id,
            license_ids=tuple(license_ids or ["unknown"]),
            declared_license=declared,
            license_name=name,
            license_link=link,
            present=present,
            generation=rules.detect(dataset_id, tags or (), card) if present else None,
        )


def load_lineage_datasets(session: Session, dataset_ids: Iterable[str]) -> Lineage:
    """The facts the engine uses for these datasets alone (license, how it was generated)."""
    lineage = Lineage()
    _load_datasets(session, set(dataset_ids), lineage)
    return lineage


def load_lineage(session: Session, root_ids: Iterable[str]) -> Lineage:
    """Load the models, their whole base-model graph and every node's datasets: one query per level."""
    lineage = Lineage()
    frontier = set(root_ids)
    while frontier:
        next_ids = _load_model_level(session, frontier, lineage)
        next_ids |= apply_model_curations(session, frontier, lineage)
        frontier = next_ids - lineage.models.keys()
    dataset_ids = {d for facts in lineage.models.values() for d in facts.datasets}
    _load_datasets(session, dataset_ids, lineage)
    apply_dataset_curations(session, dataset_ids, lineage)
    return lineage
