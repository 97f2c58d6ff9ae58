"""Facet counts maintained on write, so the first search for a common filter set is instant too.

After an import or a crawl, one pass over the catalog counts every facet value alone and under each
single other filter (license=mit → tasks, libraries, ...). Search answers from this table when the
query has at most one filter and no text, and the table was built at the current catalog version;
anything else is counted live (and cached per filter set, see catalog/search.py).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from sqlalchemy import delete, func, literal_column, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from catalog.db import chunked
from catalog.models import (
    CatalogVersion,
    FacetCount,
    Model,
    ModelFacets,
    ModelLanguage,
    ModelLicense,
    ModelVerdict,
)
from catalog.policies import BUILTIN_POLICIES
from catalog.registry import catalog_version

CLEARED = ("allowed", "conditional")
SEPARATOR = "\x1f"
_INSERT_BATCH = 5000


def _aggregate(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.string_agg(column, literal_column(f"'{SEPARATOR}'"))
    return func.group_concat(column, SEPARATOR)


def _catalog_rows(session: Session, ids: list[str] | None = None) -> Any:
    """Per live model: id, single-valued facets, licenses and languages, verdicts (all models if ids is None)."""
    licenses = (
        select(_aggregate(session, ModelLicense.license_id))
        .where(col(ModelLicense.model_id) == Model.id)
        .scalar_subquery()
    )
    languages = (
        select(_aggregate(session, ModelLanguage.language))
        .where(col(ModelLanguage.model_id) == Model.id)
        .scalar_subquery()
    )
    verdicts = [
        select(ModelVerdict.verdict)
        .where(
            col(ModelVerdict.model_id) == Model.id,
            col(ModelVerdict.use) == "commercial",
            col(ModelVerdict.policy) == policy,
        )
        .scalar_subquery()
        for policy in BUILTIN_POLICIES
    ]
    # More columns than sqlmodel's typed select() takes: SQLAlchemy's own.
    statement = sa_select(
        col(Model.id),
        col(Model.license_category),
        col(Model.pipeline_tag),
        col(Model.library_name),
        licenses,
        languages,
        *verdicts,
    )
    statement = statement.where(col(Model.missing).is_(False))
    if ids is not None:
        statement = statement.where(col(Model.id).in_(ids))
    return session.execute(statement.execution_options(yield_per=10_000))


def _contribution_of(row: Any) -> dict[str, Any]:
    """A model's facet values and its commercial facet per policy (what it adds to the counts)."""
    _id, category, task, library, licenses, languages, *verdicts = row
    values = [("license", v) for v in (licenses or "").split(SEPARATOR) if v]
    values += [("language", v) for v in (languages or "").split(SEPARATOR) if v]
    values += [
        (facet, v)
        for facet, v in (("license_category", category), ("task", task), ("library", library))
        if v
    ]
    commercial = {
        p: ("true" if v in CLEARED else "false")
        for p, v in zip(BUILTIN_POLICIES, verdicts, strict=True)
    }
    return {"values": sorted(set(values)), "commercial": commercial}


def _add(
    counts: Counter[tuple[str, str, str, str, str]], contribution: dict[str, Any], sign: int
) -> None:
    values = [tuple(v) for v in contribution["values"]]
    counts[("", "", "", "total", "")] += sign
    for facet, value in values:
        counts[("", "", "", facet, value)] += sign
        for other, other_value in values:
            if other != facet:
                counts[("", facet, value, other, other_value)] += sign
    for policy, cleared in contribution["commercial"].items():
        counts[(policy, "", "", "commercial", cleared)] += sign
        for facet, value in values:
            counts[(policy, "commercial", cleared, facet, value)] += sign
            counts[(policy, facet, value, "commercial", cleared)] += sign


def _mark_current(session: Session, version: int) -> None:
    session.execute(
        update(CatalogVersion).where(col(CatalogVersion.id) == 1).values(facets_version=version)
    )


def rebuild_facet_counts(session: Session) -> int:
    """Recount every facet in one pass over the catalog and mark the table current; returns rows written."""
    version = catalog_version(session)
    counts: Counter[tuple[str, str, str, str, str]] = Counter()
    session.execute(delete(ModelFacets))
    # Many models contribute the same facet values: expand each distinct contribution once.
    distinct: Counter[str] = Counter()
    snapshots = []
    for row in _catalog_rows(session):
        contribution = json.dumps(_contribution_of(row))
        distinct[contribution] += 1
        snapshots.append({"model_id": row[0], "contribution": contribution})
        if len(snapshots) == _INSERT_BATCH:
            session.execute(ModelFacets.__table__.insert(), snapshots)  # type: ignore[attr-defined]
            snapshots = []
    if snapshots:
        session.execute(ModelFacets.__table__.insert(), snapshots)  # type: ignore[attr-defined]
    for contribution, times in distinct.items():
        _add(counts, json.loads(contribution), times)
    _write_counts(session, counts)
    _mark_current(session, version)
    session.commit()
    return len(counts)


def update_facet_counts(session: Session, model_ids: list[str], *, since_version: int) -> None:
    """Apply the facet changes of these models: every model a writer changed since `since_version`
    (the catalog version when it started). Rebuilds in full when the counts were not current then
    (never built, or another writer went by without updating them)."""
    built = session.exec(
        select(CatalogVersion.facets_version).where(col(CatalogVersion.id) == 1)
    ).one_or_none()
    if built is None or built != since_version:
        rebuild_facet_counts(session)
        return
    delta: Counter[tuple[str, str, str, str, str]] = Counter()
    for chunk in chunked(model_ids):
        old = dict(
            session.exec(
                select(ModelFacets.model_id, ModelFacets.contribution).where(
                    col(ModelFacets.model_id).in_(chunk)
                )
            ).all()
        )
        new = {row[0]: _contribution_of(row) for row in _catalog_rows(session, chunk)}
        for model_id in chunk:
            if model_id in old:
                _add(delta, json.loads(old[model_id]), -1)
            if model_id in new:
                _add(delta, new[model_id], 1)
        session.execute(delete(ModelFacets).where(col(ModelFacets.model_id).in_(chunk)))
        if new:
            session.execute(
                ModelFacets.__table__.insert(),  # type: ignore[attr-defined]
                [{"model_id": i, "contribution": json.dumps(c)} for i, c in new.items()],
            )
    _apply(session, delta)
    _mark_current(session, catalog_version(session))
    session.commit()


def _apply(session: Session, delta: Counter[tuple[str, str, str, str, str]]) -> None:
    """Add a difference to the counts. The table is small (value pairs, not models): rewrite it whole."""
    counts: Counter[tuple[str, str, str, str, str]] = Counter(
        {
            (policy, filter_facet, filter_value, facet, value): count
            for policy, filter_facet, filter_value, facet, value, count in session.execute(
                sa_select(
                    col(FacetCount.policy),
                    col(FacetCount.filter_facet),
                    col(FacetCount.filter_value),
                    col(FacetCount.facet),
                    col(FacetCount.value),
                    col(FacetCount.count),
                )
            )
        }
    )
    counts.update(delta)
    _write_counts(session, counts)


def _write_counts(session: Session, counts: Counter[tuple[str, str, str, str, str]]) -> None:
    session.execute(delete(FacetCount))
    rows = [
        {
            "policy": k[0],
            "filter_facet": k[1],
            "filter_value": k[2],
            "facet": k[3],
            "value": k[4],
            "count": n,
        }
        for k, n in counts.items()
        if n > 0
    ]
    for start in range(0, len(rows), _INSERT_BATCH):
        session.execute(FacetCount.__table__.insert(), rows[start : start + _INSERT_BATCH])  # type: ignore[attr-defined]


def stored_facets(
    session: Session, active: list[tuple[str, str]], policy: str, facets: tuple[str, ...]
) -> tuple[int, dict[str, dict[str, int]]] | None:
    """Total and facet counts from the table for at most one active filter; None if it cannot answer."""
    if len(active) > 1:
        return None
    version, built = session.exec(
        select(CatalogVersion.version, CatalogVersion.facets_version).where(
            col(CatalogVersion.id) == 1
        )
    ).one_or_none() or (0, None)
    if built is None or built != version:
        return None
    condition = col(FacetCount.filter_facet) == ""
    if active:
        condition = or_(
            condition,
            (col(FacetCount.filter_facet) == active[0][0])
            & (col(FacetCount.filter_value) == active[0][1]),
        )
    rows = session.exec(
        select(FacetCount.filter_facet, FacetCount.facet, FacetCount.value, FacetCount.count).where(
            col(FacetCount.policy).in_(["", policy]), condition
        )
    ).all()
    marginal: dict[str, dict[str, int]] = {facet: {} for facet in (*facets, "total")}
    filtered: dict[str, dict[str, int]] = {facet: {} for facet in facets}
    for filter_facet, facet, value, count in rows:
        target = marginal if filter_facet == "" else filtered
        if facet in target:
            target[facet][value] = count
    if active:
        total = marginal[active[0][0]].get(active[0][1], 0)
        chosen = {f: (marginal[f] if f == active[0][0] else filtered[f]) for f in facets}
    else:
        total = marginal["total"].get("", 0)
        chosen = {f: marginal[f] for f in facets}
    return total, {
        f: dict(sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))) for f, v in chosen.items()
    }
