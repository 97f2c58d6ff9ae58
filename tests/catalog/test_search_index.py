"""The bitmap index answers every filter combination exactly as the plain SQL reference does,
on SQLite and PostgreSQL, after writes, after a restart and while a writer is running."""

from __future__ import annotations

import random
import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from catalog.licenses import knowledge_base
from catalog.registry import mark_missing, upsert_models
from catalog.search import ModelQuery, search_models, search_models_sql
from catalog.search_index import (
    NULL_FIRST,
    SORT_PREFIX,
    IndexHolder,
    holder,
    load_index,
    save_index,
    saved_index_outdated,
    sort_bucket,
)
from catalog.tables import CatalogVersion, License, SearchBitmap, Task
from catalog.verdicts import refresh_verdicts
from ingest.cards import model_record

LICENSES = ["apache-2.0", "mit", "llama2", "cc-by-nc-4.0", "openrail", "other", "gpl-3.0"]
TASKS = ["text-generation", "fill-mask", "text-to-image"]
LIBRARIES = ["transformers", "diffusers", "gguf"]
LANGUAGES = ["en", "fr", "de"]
AUTHORS = ["acme", "beta", "corp"]
DATASETS = ["data/one", "data/two"]
IDS = [f"{author}/m{n}" for author in AUTHORS for n in range(6)]
DATES = [
    "2023-12-31T23:59:59.000Z",
    "2024-01-01T00:00:00.000Z",
    "2024-01-15T08:00:00.000Z",
    "2024-01-15T20:00:00.000Z",
    "2025-06-01T12:00:00.000Z",
]

license_lists = st.one_of(
    st.none(), st.sampled_from(LICENSES), st.lists(st.sampled_from(LICENSES), max_size=2)
)
card = st.fixed_dictionaries(
    {
        "license": license_lists,
        "language": st.lists(st.sampled_from(LANGUAGES), max_size=2),
        "datasets": st.lists(st.sampled_from(DATASETS), max_size=1),
        "base_model": st.none() | st.sampled_from(IDS),
    }
)
hub_model = st.fixed_dictionaries(
    {
        "id": st.sampled_from(IDS),
        "sha": st.text("abcdef0123456789", min_size=4, max_size=4),
        # Several sort buckets and ties inside them (100 and 101, 4096 and 4100 share one, as do
        # two times of one day); dates may be absent.
        "downloads": st.sampled_from([0, 1, 2, 3, 5, 7, 8, 100, 101, 4096, 4100, 5000]),
        "likes": st.integers(0, 3),
        "lastModified": st.none() | st.sampled_from(DATES),
        "createdAt": st.none() | st.sampled_from(DATES),
        "pipeline_tag": st.none() | st.sampled_from(TASKS),
        "library_name": st.none() | st.sampled_from(LIBRARIES),
        "gated": st.sampled_from([False, "auto", "manual"]),
        "cardData": card,
    }
)


def values(options: list[str]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from([*options, "absent"]), max_size=3).map(tuple)


queries = st.builds(
    ModelQuery,
    q=st.none() | st.sampled_from(["acme", "m1", "corp/m", "beta m2", "?!"]),
    licenses=values(LICENSES),
    license_category=values(["permissive", "non-commercial", "community", "unknown"]),
    commercial=st.none() | st.booleans(),
    policy=st.sampled_from(["default", "strict"]),
    task=values(TASKS),
    library=values(LIBRARIES),
    language=values(LANGUAGES),
    author=st.none() | st.sampled_from(AUTHORS),
    base_model=st.none() | st.sampled_from(IDS[:4]),
    dataset=st.none() | st.sampled_from(DATASETS),
    gated=st.none() | st.booleans(),
    sort=st.sampled_from(["downloads", "likes", "name", "last_modified", "created_at"]),
    order=st.sampled_from(["asc", "desc"]),
    page=st.integers(1, 3),
    per_page=st.integers(1, 5),
)


def _new_catalog(engine: Engine) -> None:
    """Empty the catalog as if the database were made anew (a new epoch, version 0)."""
    keep = {License.__tablename__, Task.__tablename__, CatalogVersion.__tablename__}
    with engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name not in keep:
                connection.execute(delete(table))
        connection.execute(
            update(CatalogVersion)
            .where(CatalogVersion.id == 1)
            .values(version=0, bitmaps_version=None, epoch=secrets.randbits(52))
        )


def _write(session: Session, models: list[dict[str, Any]], missing: list[str]) -> None:
    """What an import or one crawl page does, without saving the bitmaps."""
    kb = knowledge_base()
    records = [model_record(m, kb) for m in models]
    result = upsert_models(session, records)
    mark_missing(session, "model", missing)
    refresh_verdicts(session, result.changed_ids)
    session.commit()


def _assert_same(session: Session, query: ModelQuery) -> None:
    ours, reference = search_models(session, query), search_models_sql(session, query)
    assert [m["id"] for m in ours.items] == [m["id"] for m in reference.items], query
    assert ours.total == reference.total, query
    assert ours.facets == reference.facets, query


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    catalog=st.lists(hub_model, min_size=1, max_size=12),
    writes=st.lists(hub_model, max_size=6),
    missing=st.lists(st.sampled_from(["gone/a", "gone/b"]), max_size=2),
    searches=st.lists(queries, min_size=1, max_size=4),
    saved=st.booleans(),
)
def test_index_answers_equal_the_sql_reference_before_and_after_writes(
    engine: Engine,
    catalog: list[dict[str, Any]],
    writes: list[dict[str, Any]],
    missing: list[str],
    searches: list[ModelQuery],
    saved: bool,
) -> None:
    _new_catalog(engine)
    with Session(engine) as session:
        _write(session, catalog, [])
        if saved:
            save_index(session)
        for query in searches:
            _assert_same(session, query)
        _write(session, writes, missing)
        for query in searches:
            _assert_same(session, query)


def assert_saved_index_is_current(session: Session) -> None:
    """The bitmaps saved by the last import or crawl are at its version and answer as SQL does."""
    version, saved = session.exec(
        select(CatalogVersion.version, CatalogVersion.bitmaps_version)
    ).one()
    assert saved == version
    loaded = load_index(session)
    for query in (ModelQuery(), ModelQuery(licenses=("mit", "apache-2.0"), commercial=True)):
        assert len(loaded.live) == search_models_sql(session, ModelQuery()).total
        _assert_same(session, query)


def test_an_import_saves_bitmaps_a_new_server_can_use(engine: Engine) -> None:
    from ingest.snapshot import bundled_snapshot_lines, import_snapshot

    _new_catalog(engine)
    with Session(engine) as session:
        import_snapshot(session, bundled_snapshot_lines())
        assert_saved_index_is_current(session)


def test_a_restarted_server_loads_the_saved_bitmaps_and_catches_up(engine: Engine) -> None:
    _new_catalog(engine)
    catalog = [{"id": i, "sha": "1", "cardData": {"license": "mit"}} for i in IDS]
    with Session(engine) as session:
        _write(session, catalog, [])
        saved = save_index(session)
        _write(session, [{"id": IDS[0], "sha": "2", "cardData": {"license": "llama2"}}], [])
        restarted = IndexHolder().current(session)
        assert restarted.version > saved.version
        assert restarted.values["license"]["llama2"] == BitMapOf(session, [IDS[0]])
        assert len(restarted.values["license"]["mit"]) == len(IDS) - 1


@given(st.integers(0, 2**62), st.integers(0, 2**62))
def test_count_buckets_follow_the_sort_order_and_stay_narrow(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert sort_bucket(low, NULL_FIRST) <= sort_bucket(high, NULL_FIRST)
    if sort_bucket(low, NULL_FIRST) == sort_bucket(high, NULL_FIRST) and low >= 32:
        assert high - low < low / 16 + 1  # one bucket spans at most 1/16 of its values
    elif low < 32 and low != high:
        assert sort_bucket(low, NULL_FIRST) < sort_bucket(high, NULL_FIRST)


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=800)),
    st.sampled_from([None, UTC]),
)
def test_date_buckets_follow_the_sort_order_by_day(
    moment: datetime, later: timedelta, zone: Any
) -> None:
    first, second = moment.replace(tzinfo=zone), (moment + later).replace(tzinfo=zone)
    assert sort_bucket(first, NULL_FIRST) <= sort_bucket(second, NULL_FIRST)
    assert (sort_bucket(first, NULL_FIRST) == sort_bucket(second, NULL_FIRST)) == (
        first.date() == second.date()
    )


def test_bitmaps_saved_with_older_sort_buckets_are_rebuilt_then_saved_anew(
    engine: Engine,
) -> None:
    _new_catalog(engine)
    catalog = [
        {"id": i, "sha": "1", "downloads": n * 997, "cardData": {"license": "mit"}}
        for n, i in enumerate(IDS)
    ]
    with Session(engine) as session:
        _write(session, catalog, [])
        save_index(session)
        assert not saved_index_outdated(session)
        # What an older version saved: its buckets under another name, numbered another way.
        session.execute(
            update(SearchBitmap)
            .where(SearchBitmap.facet.startswith(SORT_PREFIX))  # type: ignore[attr-defined]
            .values(facet=text("'order:' || substr(facet, :start)"))
            .execution_options(synchronize_session=False),
            {"start": len(SORT_PREFIX) + 1},
        )
        session.commit()
        assert saved_index_outdated(session)
        rebuilt = load_index(session)
        assert set(rebuilt.order) == {"downloads", "likes", "last_modified", "created_at"}
        expected = {sort_bucket(n * 997, NULL_FIRST) for n in range(len(IDS))}
        assert set(rebuilt.order["downloads"]) == expected  # numbered as this version numbers
        assert sum(map(len, rebuilt.order["downloads"].values())) == len(IDS)
        save_index(session)
        assert not saved_index_outdated(session)


def BitMapOf(session: Session, ids: list[str]) -> Any:
    from pyroaring import BitMap

    from catalog.search_index import row_number

    rows = session.execute(
        text(f"SELECT {row_number(session)} FROM model WHERE id = ANY(:ids)")
        if session.get_bind().dialect.name == "postgresql"
        else text(f"SELECT rowid FROM model WHERE id IN ({','.join(repr(i) for i in ids)})"),
        {"ids": ids},
    )
    return BitMap(r[0] for r in rows)


def test_an_index_of_a_recreated_catalog_is_not_reused(engine: Engine) -> None:
    _new_catalog(engine)
    with Session(engine) as session:
        _write(session, [{"id": "acme/a", "sha": "1", "cardData": {"license": "mit"}}], [])
        assert search_models(session, ModelQuery(licenses=("mit",))).total == 1
    _new_catalog(engine)
    with Session(engine) as session:
        _write(session, [{"id": "acme/b", "sha": "1", "cardData": {"license": "gpl-3.0"}}], [])
        _assert_same(session, ModelQuery(licenses=("mit",)))
        _assert_same(session, ModelQuery())


def test_searches_during_a_crawl_see_every_committed_page(engine: Engine) -> None:
    _new_catalog(engine)
    rng = random.Random(14)
    pages = [
        [
            {
                "id": f"crawl/m{page}-{n}",
                "sha": "1",
                "pipeline_tag": rng.choice(TASKS),
                "cardData": {"license": rng.choice(LICENSES), "language": [rng.choice(LANGUAGES)]},
            }
            for n in range(40)
        ]
        for page in range(15)
    ]
    failures: list[BaseException] = []

    def crawl() -> None:
        try:
            with Session(engine) as session:
                for page in pages:
                    _write(session, page, [])
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)

    writer = threading.Thread(target=crawl)
    writer.start()
    with Session(engine) as session:
        while writer.is_alive():
            answer = search_models(session, ModelQuery(task=(TASKS[0],), commercial=True))
            assert sum(answer.facets["task"].values()) >= answer.total
            session.rollback()  # a new snapshot for the next search, as each request has
    writer.join()
    assert failures == []
    with Session(engine) as session:
        for query in [ModelQuery(), ModelQuery(task=(TASKS[0],), licenses=("mit", "llama2"))]:
            _assert_same(session, query)
    assert holder.indexes  # the searches above went through the shared index


def test_pages_sorted_from_the_first_buckets_equal_the_sql_reference(engine: Engine) -> None:
    """Sorting by a number or a date reads only the matches of the first sort buckets: with many
    buckets, ties and models without dates, every page equals the SQL reference's."""
    from catalog.search import _filter_bitmaps, _first_buckets, _intersect

    _new_catalog(engine)
    months = [None, *DATES, "2019-03-03T00:00:00.000Z", "2026-02-28T10:00:00.000Z"]
    models = [
        {
            "id": f"acme/m{n}",
            "downloads": (n * 37) % 5000 if n % 7 else 4096,
            "likes": n % 9,
            "lastModified": months[n % len(months)],
            "createdAt": months[(n * 3) % len(months)],
            "cardData": {"license": "apache-2.0" if n % 2 else "mit"},
        }
        for n in range(90)
    ]
    with Session(engine) as session:
        _write(session, models, [])
        save_index(session)
        narrowed = 0
        for sort in ("downloads", "likes", "last_modified", "created_at"):
            for order in ("asc", "desc"):
                for page in (1, 2, 5):
                    query = ModelQuery(
                        licenses=("apache-2.0",), sort=sort, order=order, page=page, per_page=3
                    )
                    _assert_same(session, query)
                    index = holder.current(session)
                    matching = _intersect(
                        index.live, _filter_bitmaps(session, index, query).values()
                    )
                    narrowed += len(_first_buckets(index, query, matching, page * 3)) < len(
                        matching
                    )
        assert narrowed > 12  # most pages were sorted from a few buckets, not from every match


def test_postgres_connections_do_not_compile_queries(pg_engine: Engine) -> None:
    """JIT compiling a walk down the sort index (its estimated cost is the whole table's) took
    50 ms per search at 1M models; the engine turns it off on each connection, past a rollback."""
    pg_engine.dispose()  # new connections, each set up as the engine sets them up
    for _ in range(2):
        with pg_engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW jit").scalar() == "off"
            connection.rollback()
