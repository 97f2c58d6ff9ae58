"""A bitmap index over the search facets, so any filter combination is counted without scanning rows.

Each facet value (license, license category, task, library, language), the live models, gated
models and, per policy, the models with a commercial verdict and those cleared by it, is a
compressed bitmap (pyroaring) of model row numbers (`rowid` on SQLite, the `seq` identity column on
PostgreSQL). A search intersects the bitmaps of its filters; a facet's counts are the cardinalities
of that intersection, without the facet's own filter, with each value's bitmap.

For the sorts by a number or a date, each model is also in one bucket per sort key (downloads and
likes by their first five binary digits, dates by day): every model of a lower bucket sorts before
every model of a higher one, so the first rows of a result in that order lie in its first buckets,
and a page is sorted from those alone (catalog.search._page_ids).

The database stays the truth. Writers stamp every model they change with the catalog version they
raised (`model.search_version`); an index at version V catches up by reading only the models stamped
after V, so it follows a crawl while people search. Import and crawl save the bitmaps to the
database when they finish (`save_index`), so a restarted server loads them instead of reading every
model, then catches up from the version they were saved at.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyroaring import BitMap
from sqlalchemy import ColumnElement, delete, literal_column, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from catalog.db import chunked
from catalog.policies import BUILTIN_POLICIES
from catalog.tables import (
    CatalogVersion,
    Model,
    ModelLanguage,
    ModelLicense,
    ModelVerdict,
    SearchBitmap,
)

# The verdicts that count as cleared for commercial use (the `commercial` search filter).
CLEARED = ("allowed", "conditional")
VALUE_FACETS = ("license", "license_category", "task", "library", "language")
_COLUMN_FACETS = {
    "license_category": Model.license_category,
    "task": Model.pipeline_tag,
    "library": Model.library_name,
}
# The sorts kept in ordered buckets (sorting by name follows the database's collation: not kept).
ORDERED = ("downloads", "likes", "last_modified", "created_at")
# Saved sort buckets are named by this prefix and the sort key; a new bucketing takes a new prefix,
# so bitmaps saved with an older one are rebuilt rather than misread ("order:" buckets were by
# binary magnitude and by month).
SORT_PREFIX = "sort:"
# Where models without a date go: SQLite sorts NULL before every value, PostgreSQL after.
NULL_FIRST, NULL_LAST = -1, 1 << 40
# A catch-up larger than this share of the catalog reads everything once instead.
_REBUILD_SHARE = 0.2
_CHUNK = 2000
# Rows read at a time when building: bounds the build's memory, whatever the catalog's size.
_ROWS_PER_BATCH = 5_000


def row_number(session: Session) -> ColumnElement[Any]:
    """The integer that names a model row in the bitmaps."""
    if session.get_bind().dialect.name == "postgresql":
        return literal_column("model.seq")
    return literal_column("model.rowid")


@dataclass
class FacetBitmaps:
    """Every bitmap of one catalog at one version."""

    epoch: int = 0
    version: int = 0
    live: BitMap = field(default_factory=BitMap)
    gated: BitMap = field(default_factory=BitMap)
    values: dict[str, dict[str, BitMap]] = field(
        default_factory=lambda: {facet: {} for facet in VALUE_FACETS}
    )
    judged: dict[str, BitMap] = field(default_factory=dict)  # policy -> has a commercial verdict
    cleared: dict[str, BitMap] = field(default_factory=dict)  # policy -> cleared for commercial
    order: dict[str, dict[int, BitMap]] = field(  # sort key -> bucket -> rows
        default_factory=lambda: {key: {} for key in ORDERED}
    )

    def value(self, facet: str, value: str) -> BitMap:
        return self.values[facet].get(value) or BitMap()

    def any_of(self, facet: str, values: Iterable[str]) -> BitMap:
        return BitMap.union(BitMap(), *(self.value(facet, v) for v in values))

    def add(self, facet: str, value: str | None, rows: Iterable[int]) -> None:
        if value is not None:
            self.values[facet].setdefault(value, BitMap()).update(rows)

    def discard(self, rows: BitMap) -> None:
        """Forget these rows everywhere, before adding their current state back."""
        for bitmap in self._all():
            bitmap.difference_update(rows)

    def _all(self) -> list[BitMap]:
        found = [self.live, self.gated, *self.judged.values(), *self.cleared.values()]
        found += [b for buckets in self.order.values() for b in buckets.values()]
        return found + [b for values in self.values.values() for b in values.values()]

    def prune(self) -> None:
        """Drop the values and buckets no model is in any more."""
        groups: list[dict[Any, BitMap]] = [*self.values.values(), *self.order.values()]
        for group in groups:
            for key in [k for k, b in group.items() if not b]:
                del group[key]

    def copy(self) -> FacetBitmaps:
        """A copy to change while searches go on reading this one."""
        return FacetBitmaps(
            epoch=self.epoch,
            version=self.version,
            live=BitMap(self.live),
            gated=BitMap(self.gated),
            values={f: {v: BitMap(b) for v, b in vs.items()} for f, vs in self.values.items()},
            judged={p: BitMap(b) for p, b in self.judged.items()},
            cleared={p: BitMap(b) for p, b in self.cleared.items()},
            order={k: {n: BitMap(b) for n, b in bs.items()} for k, bs in self.order.items()},
        )

    def size_bytes(self) -> int:
        return sum(len(b.serialize()) for b in self._all())


def _partitions(session: Session, statement: Any) -> Iterator[Sequence[Any]]:
    """The statement's rows, a bounded batch at a time: a build never holds the whole catalog."""
    # Per statement: Connection.execution_options() would change the connection for what follows.
    options = {"yield_per": _ROWS_PER_BATCH}
    result = session.connection().execute(statement, execution_options=options)
    yield from result.partitions()


def _load_rows(session: Session, index: FacetBitmaps, ids: list[str] | None) -> None:
    """Add the current state of these models (every model if None) to the bitmaps."""
    number = row_number(session)

    def where(statement: Any) -> Any:
        statement = statement.where(col(Model.missing).is_(False))
        return statement if ids is None else statement.where(col(Model.id).in_(ids))

    columns = select(
        number,
        col(Model.license_category),
        col(Model.pipeline_tag),
        col(Model.library_name),
        col(Model.gated),
        *(col(getattr(Model, key)) for key in ORDERED),
    )
    null = NULL_LAST if session.get_bind().dialect.name == "postgresql" else NULL_FIRST
    for rows in _partitions(session, where(columns)):
        _add_model_rows(index, rows, null)
    for facet, table, column in (
        ("license", ModelLicense, ModelLicense.license_id),
        ("language", ModelLanguage, ModelLanguage.language),
    ):
        joined = select(col(column), number).join(Model, col(Model.id) == col(table.model_id))
        for pairs in _partitions(session, where(joined)):
            _add_grouped(index, facet, pairs)
    _load_verdicts(session, index, where)


def _add_model_rows(index: FacetBitmaps, rows: Sequence[Any], null: int) -> None:
    index.live.update(r[0] for r in rows)
    index.gated.update(r[0] for r in rows if r[4] not in (None, "false"))
    for position, facet in enumerate(("license_category", "task", "library"), start=1):
        grouped: dict[str, list[int]] = {}
        for r in rows:
            if r[position] is not None:
                grouped.setdefault(r[position], []).append(r[0])
        for value, numbers in grouped.items():
            index.add(facet, value, numbers)
    for position, key in enumerate(ORDERED, start=5):
        buckets: dict[int, list[int]] = {}
        for r in rows:
            buckets.setdefault(sort_bucket(r[position], null), []).append(r[0])
        for bucket, numbers in buckets.items():
            index.order[key].setdefault(bucket, BitMap()).update(numbers)


def sort_bucket(value: int | datetime | None, null: int) -> int:
    """A sort key's bucket: dates by day; counts below 32 each their own, larger ones by their
    magnitude and first five binary digits (16 buckets per doubling, each 3-6% wide, like a float
    with a four-bit mantissa), so a catalog's most downloaded third is not one bucket.

    Monotone in the value, and equal values share a bucket, so buckets follow the sort order."""
    if value is None:
        return null
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.toordinal()
    count = max(value, 0)
    shift = max(count.bit_length() - 5, 0)
    return (shift << 4) + (count >> shift)


def _add_grouped(index: FacetBitmaps, facet: str, pairs: Iterable[Any]) -> None:
    grouped: dict[str, list[int]] = {}
    for value, number in pairs:
        grouped.setdefault(value, []).append(number)
    for value, numbers in grouped.items():
        index.add(facet, value, numbers)


def _load_verdicts(session: Session, index: FacetBitmaps, where: Any) -> None:
    number = row_number(session)
    for policy in BUILTIN_POLICIES:
        statement = (
            select(number, col(ModelVerdict.verdict).in_(CLEARED))
            .join(Model, col(Model.id) == ModelVerdict.model_id)
            .where(col(ModelVerdict.use) == "commercial", col(ModelVerdict.policy) == policy)
        )
        for rows in _partitions(session, where(statement)):
            index.judged.setdefault(policy, BitMap()).update(r[0] for r in rows)
            index.cleared.setdefault(policy, BitMap()).update(r[0] for r in rows if r[1])


def current_version(session: Session) -> tuple[int, int]:
    """The catalog's epoch (which database) and version (how far its writes have gone).

    Every search asks this, twice (the kept answers' key and the index's catch-up), so it is one
    plain statement: building and compiling a select each time cost more than running it."""
    row = (
        session.connection()
        .exec_driver_sql("SELECT epoch, version FROM catalog_version WHERE id = 1")
        .one_or_none()
    )
    return (row[0] or 0, row[1] or 0) if row else (0, 0)


def build_index(session: Session) -> FacetBitmaps:
    """Read every live model once into a new index at the current version."""
    epoch, version = current_version(session)
    index = FacetBitmaps(epoch=epoch, version=version)
    _load_rows(session, index, None)
    return index


def catch_up(session: Session, index: FacetBitmaps) -> FacetBitmaps:
    """Bring an index to the current catalog version: the models stamped since, or all of them."""
    epoch, version = current_version(session)
    if epoch != index.epoch or version < index.version:
        return build_index(session)
    if version == index.version:
        return index
    changed = list(
        session.connection().execute(
            select(col(Model.id), row_number(session)).where(
                col(Model.search_version) > index.version, col(Model.search_version) <= version
            )
        )
    )
    if len(changed) > max(1000, _REBUILD_SHARE * len(index.live)):
        return build_index(session)
    index = index.copy()
    index.discard(BitMap(number for _id, number in changed))
    ids = [model_id for model_id, _number in changed]
    for batch in chunked(ids, _CHUNK):
        _load_rows(session, index, batch)
    index.prune()
    index.version = version
    return index


def _keys(index: FacetBitmaps) -> Iterable[tuple[str, str, BitMap]]:
    yield "live", "", index.live
    yield "gated", "", index.gated
    for policy, bitmap in index.judged.items():
        yield "judged", policy, bitmap
    for policy, bitmap in index.cleared.items():
        yield "cleared", policy, bitmap
    for facet, values in index.values.items():
        for value, bitmap in values.items():
            yield facet, value, bitmap
    for key, buckets in index.order.items():
        for bucket, bitmap in buckets.items():
            yield f"{SORT_PREFIX}{key}", str(bucket), bitmap


def save_index(session: Session) -> FacetBitmaps:
    """Store the bitmaps at the current version (after an import or a crawl); return them."""
    # Locking the version row first serialises concurrent savers on PostgreSQL.
    session.connection().execute(
        select(col(CatalogVersion.id)).where(col(CatalogVersion.id) == 1).with_for_update()
    )
    index = catch_up(session, load_index(session))
    session.connection().execute(delete(SearchBitmap))
    rows = [
        {"facet": facet, "value": value, "bitmap": bitmap.serialize()}
        for facet, value, bitmap in _keys(index)
    ]
    for batch in chunked(rows):
        session.connection().execute(SearchBitmap.__table__.insert(), batch)  # type: ignore[attr-defined]
    session.connection().execute(
        update(CatalogVersion)
        .where(col(CatalogVersion.id) == 1)
        .values(bitmaps_version=index.version)
    )
    session.commit()
    return index


def load_index(session: Session) -> FacetBitmaps:
    """The saved bitmaps, or a fresh build when none were saved."""
    epoch, saved = session.connection().execute(
        select(col(CatalogVersion.epoch), col(CatalogVersion.bitmaps_version)).where(
            col(CatalogVersion.id) == 1
        )
    ).one_or_none() or (0, None)
    if saved is None:
        return build_index(session)
    index = FacetBitmaps(epoch=epoch or 0, version=saved)
    for facet, value, blob in session.connection().execute(
        select(col(SearchBitmap.facet), col(SearchBitmap.value), col(SearchBitmap.bitmap))
    ):
        bitmap = BitMap.deserialize(blob)
        if facet == "live":
            index.live = bitmap
        elif facet == "gated":
            index.gated = bitmap
        elif facet in ("judged", "cleared"):
            getattr(index, facet)[value] = bitmap
        elif facet.startswith(SORT_PREFIX):
            index.order.setdefault(facet.removeprefix(SORT_PREFIX), {})[int(value)] = bitmap
        elif facet in index.values:
            index.values[facet][value] = bitmap
    if index.live and not all(index.order.get(key) for key in ORDERED):
        return build_index(session)  # saved before these sort buckets were kept
    return index


def saved_index_outdated(session: Session) -> bool:
    """Whether saved bitmaps lack this version's sort buckets (a server would rebuild them on
    every start until they are saved again)."""
    facet = col(SearchBitmap.facet)
    first_sort = f"{SORT_PREFIX}{ORDERED[0]}"
    found = set(
        session.connection()
        .execute(select(facet).where(facet.in_(("live", first_sort))).distinct())
        .scalars()
    )
    return found == {"live"}


class IndexHolder:
    """The index of each database this process searches, caught up before each use."""

    def __init__(self) -> None:
        self.indexes: dict[str, FacetBitmaps] = {}
        self.lock = threading.Lock()

    def current(self, session: Session) -> FacetBitmaps:
        key = _engine_key(session.get_bind())
        index = self.indexes.get(key)
        if index is not None and (index.epoch, index.version) == current_version(session):
            return index
        # One thread catches up while the others wait for it rather than repeat the work.
        with self.lock:
            index = self.indexes.get(key)
            index = load_index(session) if index is None else index
            index = catch_up(session, index)
            self.indexes[key] = index
            return index


def _engine_key(bind: Any) -> str:
    engine: Engine = getattr(bind, "engine", bind)
    return engine.url.render_as_string(hide_password=True)


holder = IndexHolder()
