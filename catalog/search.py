"""Model search: filters, full text, sorting, pages and facet counts, as separate query builders.

Facet counts follow the other active filters (a facet's own filter is left out of its counts, so
the sidebar shows what choosing another value would give). Counts for a filter set are cached per
catalog version, which any write bumps, so repeated and shared searches do not recount.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, literal_column, not_, or_, text
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from catalog.facets import CLEARED, stored_facets
from catalog.models import (
    Model,
    ModelBase,
    ModelDataset,
    ModelLanguage,
    ModelLicense,
    ModelVerdict,
)
from catalog.registry import catalog_version

SORTS = {
    "downloads": Model.downloads,
    "likes": Model.likes,
    "last_modified": Model.last_modified,
    "created_at": Model.created_at,
    "name": Model.id,
}
FACETS = ("license", "license_category", "task", "library", "language", "commercial")


@dataclass(frozen=True)
class ModelQuery:
    """Everything a model search can ask; hashable so facet counts can be cached per query."""

    q: str | None = None
    licenses: tuple[str, ...] = ()
    license_category: str | None = None
    commercial: bool | None = None
    policy: str = "default"
    task: str | None = None
    library: str | None = None
    language: str | None = None
    author: str | None = None
    base_model: str | None = None
    dataset: str | None = None
    gated: bool | None = None
    sort: str = "downloads"
    order: str = "desc"
    page: int = 1
    per_page: int = 20

    def filters_only(self) -> ModelQuery:
        return replace(self, sort="downloads", order="desc", page=1, per_page=20)


@dataclass
class SearchResult:
    items: list[Model]
    total: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


def fts_terms(q: str) -> list[str]:
    """Words of a free-text query; punctuation is dropped, so no query syntax reaches the database."""
    return re.findall(r"[\w][\w.-]*", q.lower())[:12]


def _text_condition(session: Session, q: str) -> ColumnElement[bool]:
    terms = fts_terms(q)
    if not terms:
        return literal_column("1") == 1
    if session.get_bind().dialect.name == "postgresql":
        tsquery = " & ".join(f"{t.replace('.', ' ').replace('-', ' ').split()[0]}:*" for t in terms)
        return literal_column("model.search").op("@@")(func.to_tsquery("simple", tsquery))
    match = " ".join('"' + t.replace('"', "") + '"*' for t in terms)
    matching = text("SELECT rowid FROM model_fts WHERE model_fts MATCH :match").bindparams(
        match=match
    )
    return literal_column("model.rowid").in_(matching)


def _commercial_condition(policy: str, cleared: bool) -> ColumnElement[bool]:
    verdict = exists().where(
        col(ModelVerdict.model_id) == Model.id,
        col(ModelVerdict.use) == "commercial",
        col(ModelVerdict.policy) == policy,
        col(ModelVerdict.verdict).in_(CLEARED),
    )
    return verdict if cleared else not_(verdict)


def conditions(
    session: Session, query: ModelQuery, *, skip: str | None = None
) -> list[ColumnElement[bool]]:
    """WHERE conditions for a query; `skip` leaves out one facet's own filter."""
    found: list[ColumnElement[bool]] = [col(Model.missing).is_(False)]
    if query.q:
        found.append(_text_condition(session, query.q))
    if query.licenses and skip != "license":
        found.append(
            exists().where(
                col(ModelLicense.model_id) == Model.id,
                col(ModelLicense.license_id).in_(query.licenses),
            )
        )
    if query.license_category and skip != "license_category":
        found.append(col(Model.license_category) == query.license_category)
    if query.commercial is not None and skip != "commercial":
        found.append(_commercial_condition(query.policy, query.commercial))
    if query.task and skip != "task":
        found.append(col(Model.pipeline_tag) == query.task)
    if query.library and skip != "library":
        found.append(col(Model.library_name) == query.library)
    if query.language and skip != "language":
        found.append(
            exists().where(
                col(ModelLanguage.model_id) == Model.id,
                col(ModelLanguage.language) == query.language,
            )
        )
    if query.author:
        found.append(col(Model.author) == query.author)
    if query.base_model:
        found.append(
            exists().where(
                col(ModelBase.model_id) == Model.id, col(ModelBase.base_id) == query.base_model
            )
        )
    if query.dataset:
        found.append(
            exists().where(
                col(ModelDataset.model_id) == Model.id,
                col(ModelDataset.dataset_id) == query.dataset,
            )
        )
    if query.gated is not None:
        open_repo = or_(col(Model.gated).is_(None), col(Model.gated) == "false")
        found.append(not_(open_repo) if query.gated else open_repo)
    return found


def _facet_counts(session: Session, query: ModelQuery, facet: str) -> dict[str, int]:
    where = and_(*conditions(session, query, skip=facet))
    statement: Select[Any, int]
    if facet == "license":
        statement = (
            select(ModelLicense.license_id, func.count())
            .join(Model, col(Model.id) == ModelLicense.model_id)
            .where(where)
            .group_by(ModelLicense.license_id)
        )
    elif facet == "language":
        statement = (
            select(ModelLanguage.language, func.count())
            .join(Model, col(Model.id) == ModelLanguage.model_id)
            .where(where)
            .group_by(ModelLanguage.language)
        )
    elif facet == "commercial":
        cleared = col(ModelVerdict.verdict).in_(CLEARED)
        statement = (
            select(cleared, func.count())
            .join(Model, col(Model.id) == ModelVerdict.model_id)
            .where(
                where,
                col(ModelVerdict.use) == "commercial",
                col(ModelVerdict.policy) == query.policy,
            )
            .group_by(cleared)
        )
        return {("true" if key else "false"): count for key, count in session.exec(statement)}
    else:
        column = {
            "license_category": Model.license_category,
            "task": Model.pipeline_tag,
            "library": Model.library_name,
        }[facet]
        statement = (
            select(column, func.count()).where(where, col(column).is_not(None)).group_by(column)
        )
    counts = {str(key): count for key, count in session.exec(statement) if key is not None}
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


class SearchCache:
    """Totals, facet counts and page ids per (database, catalog version, query), least recently
    used out first. The app owns one (api/app.py); entries of older catalog versions age out."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Any:
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        return None

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        with self.lock:
            self.entries[key] = value
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


def _stored(session: Session, query: ModelQuery) -> tuple[int, dict[str, dict[str, int]]] | None:
    """Counts from the facet table maintained on write, when the query is simple enough for it."""
    if (
        query.q
        or query.author
        or query.base_model
        or query.dataset
        or query.gated is not None
        or len(query.licenses) > 1
    ):
        return None
    active = [
        (f, v)
        for f, v in (
            ("license", query.licenses[0] if query.licenses else None),
            ("license_category", query.license_category),
            ("task", query.task),
            ("library", query.library),
            ("language", query.language),
            ("commercial", None if query.commercial is None else str(query.commercial).lower()),
        )
        if v
    ]
    return stored_facets(session, active, query.policy, FACETS)


def search_models(
    session: Session, query: ModelQuery, *, cache: SearchCache, with_facets: bool = True
) -> SearchResult:
    """One page of models matching the query, the total, and facet counts."""
    key = (str(session.get_bind().engine.url), catalog_version(session), query.filters_only())
    cached = cache.get(key)
    if cached is None and with_facets:
        cached = _stored(session, query)
    if cached is None:
        total = session.exec(
            select(func.count()).select_from(Model).where(*conditions(session, query))
        ).one()
        facets = (
            {facet: _facet_counts(session, query, facet) for facet in FACETS} if with_facets else {}
        )
        cached = (total, facets)
        if with_facets:
            cache.put(key, cached)
    total, facets = cached
    return SearchResult(items=_page(session, query, key, cache), total=total, facets=facets)


def _page(
    session: Session, query: ModelQuery, key: tuple[Any, ...], cache: SearchCache
) -> list[Model]:
    """One page of results; the page's ids are cached per catalog version (full text sorts many matches)."""
    page_key = (*key, "page", query.sort, query.order, query.page, query.per_page)
    ids = cache.get(page_key)
    if ids is None:
        sort_column = SORTS[query.sort]
        descending = query.order == "desc"
        statement = (
            select(Model.id)
            .where(*conditions(session, query))
            .order_by(
                col(sort_column).desc() if descending else col(sort_column).asc(),
                col(Model.id).desc() if descending else col(Model.id).asc(),
            )
            .offset((query.page - 1) * query.per_page)
            .limit(query.per_page)
        )
        ids = list(session.exec(statement))
        cache.put(page_key, ids)
    rows = (
        {m.id: m for m in session.exec(select(Model).where(col(Model.id).in_(ids)))} if ids else {}
    )
    return [rows[i] for i in ids if i in rows]
