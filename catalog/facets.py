"""Facet counts maintained on write, so the first search for a common filter set is instant too.

After an import or a crawl, one pass over the catalog counts every facet value alone and under each
single other filter (license=mit → tasks, libraries, ...). Search answers from this table when the
query has at most one filter and no text, and the table was built at the current catalog version;
anything else is counted live (and cached per filter set, see catalog/search.py).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import delete, func, literal_column, or_, update
from sqlmodel import Session, col, select

from catalog.models import (
    CatalogVersion,
    FacetCount,
    Model,
    ModelLanguage,
    ModelLicense,
    ModelVerdict,
)
from catalog.policies import BUILTIN_POLICIES

CLEARED = ("allowed", "conditional")
SEPARATOR = "\x1f"
_INSERT_BATCH = 5000


def _aggregate(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.string_agg(column, literal_column(f"'{SEPARATOR}'"))
    return func.group_concat(column, SEPARATOR)


def _catalog_rows(session: Session) -> Any:
    """One row per live model: its single-valued facets, its licenses and languages, its verdicts."""
    licenses = (
        select(_aggregate(session, ModelLicense.license_id))
        .where(ModelLicense.model_id == Model.id)
        .scalar_subquery()
    )
    languages = (
        select(_aggregate(session, ModelLanguage.language))
        .where(ModelLanguage.model_id == Model.id)
        .scalar_subquery()
    )
    verdicts = [
        select(ModelVerdict.verdict)
        .where(
            ModelVerdict.model_id == Model.id,
            ModelVerdict.use == "commercial",
            ModelVerdict.policy == policy,
        )
        .scalar_subquery()
        for policy in BUILTIN_POLICIES
    ]
    statement = select(
        Model.license_category,
        Model.pipeline_tag,
        Model.library_name,
        licenses,
        languages,
        *verdicts,
    ).where(col(Model.missing).is_(False))
    return session.execute(statement.execution_options(yield_per=10_000))


def _count(session: Session) -> dict[str, Counter[tuple[str, str, str, str]]]:
    counts: dict[str, Counter[tuple[str, str, str, str]]] = {
        "": Counter(),
        **{p: Counter() for p in BUILTIN_POLICIES},
    }
    plain = counts[""]
    for category, task, library, licenses, languages, *verdicts in _catalog_rows(session):
        values = [("license", v) for v in (licenses or "").split(SEPARATOR) if v]
        values += [("language", v) for v in (languages or "").split(SEPARATOR) if v]
        values += [
            (facet, v)
            for facet, v in (("license_category", category), ("task", task), ("library", library))
            if v
        ]
        plain[("", "", "total", "")] += 1
        for facet, value in values:
            plain[("", "", facet, value)] += 1
            for other, other_value in values:
                if other != facet:
                    plain[(facet, value, other, other_value)] += 1
        for policy, verdict in zip(BUILTIN_POLICIES, verdicts, strict=True):
            cleared = "true" if verdict in CLEARED else "false"
            by_policy = counts[policy]
            by_policy[("", "", "commercial", cleared)] += 1
            for facet, value in values:
                by_policy[("commercial", cleared, facet, value)] += 1
                by_policy[(facet, value, "commercial", cleared)] += 1
    return counts


def rebuild_facet_counts(session: Session) -> int:
    """Recount every facet (one pass over the catalog) and mark the table current; returns rows written."""
    version = (
        session.exec(select(CatalogVersion.version).where(CatalogVersion.id == 1)).one_or_none()
        or 0
    )
    counts = _count(session)
    session.execute(delete(FacetCount))
    rows = [
        {
            "policy": policy,
            "filter_facet": key[0],
            "filter_value": key[1],
            "facet": key[2],
            "value": key[3],
            "count": n,
        }
        for policy, counter in counts.items()
        for key, n in counter.items()
    ]
    for start in range(0, len(rows), _INSERT_BATCH):
        session.execute(FacetCount.__table__.insert(), rows[start : start + _INSERT_BATCH])  # type: ignore[attr-defined]
    session.execute(
        update(CatalogVersion).where(CatalogVersion.id == 1).values(facets_version=version)
    )
    session.commit()
    return len(rows)


def stored_facets(
    session: Session, active: list[tuple[str, str]], policy: str, facets: tuple[str, ...]
) -> tuple[int, dict[str, dict[str, int]]] | None:
    """Total and facet counts from the table for at most one active filter; None if it cannot answer."""
    if len(active) > 1:
        return None
    version, built = session.exec(
        select(CatalogVersion.version, CatalogVersion.facets_version).where(CatalogVersion.id == 1)
    ).one_or_none() or (0, None)
    if built is None or built != version:
        return None
    condition = FacetCount.filter_facet == ""
    if active:
        condition = or_(
            condition,
            (FacetCount.filter_facet == active[0][0]) & (FacetCount.filter_value == active[0][1]),
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
