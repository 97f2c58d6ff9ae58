"""Benchmark: three ways to count every facet of a filter combination, on one SQLite catalog.

The plain SQL reference (catalog.search.search_models_sql), compressed bitmaps per facet value
(pyroaring, catalog.search_index) and DuckDB over an in-memory mirror of the search columns. Each
answers total + six facet counts for the same distinct random filter combinations; nothing is
cached between combinations. Prints build time, memory of the structure and latency per option.

    .venv/bin/python bench/search_options.py --db CATALOG.db [--queries 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._queries import distinct_filters  # noqa: E402


def as_query(params: dict[str, Any]) -> Any:
    from catalog.search import ModelQuery

    return ModelQuery(
        q=params.get("q"),
        licenses=tuple(params.get("license", ())),
        license_category=tuple(params.get("license_category", ())),
        task=tuple(params.get("task", ())),
        library=tuple(params.get("library", ())),
        language=tuple(params.get("language", ())),
        author=params.get("author"),
        commercial=None if "commercial" not in params else params["commercial"] == "true",
    )


def duckdb_mirror(session: Any) -> Any:
    """The search columns in DuckDB: one row per model, licenses and languages as lists."""
    import duckdb
    from sqlalchemy import text

    rows = session.execute(
        text(
            "SELECT m.rowid, m.license_category, m.pipeline_tag, m.library_name, m.author,"
            " (SELECT json_group_array(license_id) FROM model_license l WHERE l.model_id = m.id),"
            " (SELECT json_group_array(language) FROM model_language g WHERE g.model_id = m.id),"
            " (SELECT verdict FROM model_verdict v WHERE v.model_id = m.id AND use='commercial'"
            "  AND policy='default') FROM model m WHERE NOT m.missing"
        )
    ).all()
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE m (rn BIGINT, category TEXT, task TEXT, library TEXT, author TEXT,"
        " licenses TEXT[], languages TEXT[], verdict TEXT)"
    )
    import json

    connection.executemany(
        "INSERT INTO m VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6]), r[7]) for r in rows],
    )
    return connection


def duckdb_counts(connection: Any, session: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Total and six facets with one GROUP BY query per facet over the mirror."""
    from sqlalchemy import text

    where: dict[str, str] = {}
    for facet, column in (
        ("license_category", "category"),
        ("task", "task"),
        ("library", "library"),
    ):
        if facet in params:
            where[facet] = f"{column} IN ({','.join(repr(v) for v in params[facet])})"
    for facet, column in (("license", "licenses"), ("language", "languages")):
        if facet in params:
            where[facet] = f"list_has_any({column}, {params[facet]!r})"
    if "commercial" in params:
        cleared = "verdict IN ('allowed','conditional')"
        where["commercial"] = (
            cleared if params["commercial"] == "true" else f"NOT coalesce({cleared}, false)"
        )
    if "author" in params:
        where["author"] = f"author = {params['author']!r}"
    if "q" in params:
        rowids = [
            r[0]
            for r in session.execute(
                text("SELECT rowid FROM model_fts WHERE model_fts MATCH :q"),
                {"q": f'"{params["q"]}"*'},
            )
        ]
        connection.execute(
            "CREATE OR REPLACE TEMP TABLE hits AS SELECT unnest(?::BIGINT[]) AS rn", [rowids]
        )
        where["q"] = "rn IN (SELECT rn FROM hits)"

    def clause(skip: str | None) -> str:
        parts = [w for k, w in where.items() if k != skip]
        return " AND ".join(parts) or "true"

    found = {"total": connection.execute(f"SELECT count(*) FROM m WHERE {clause(None)}").fetchone()}
    for facet, expression in (
        ("license_category", "category"),
        ("task", "task"),
        ("library", "library"),
        ("license", "unnest(licenses)"),
        ("language", "unnest(languages)"),
        ("commercial", "verdict IN ('allowed','conditional')"),
    ):
        found[facet] = connection.execute(
            f"SELECT v, count(*) FROM (SELECT {expression} AS v FROM m WHERE {clause(facet)}) GROUP BY v"
        ).fetchall()
    return found


def timed(function: Any, inputs: list[Any]) -> list[float]:
    times = []
    for value in inputs:
        start = time.perf_counter()
        function(value)
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sql-queries", type=int, default=30, help="the SQL reference is slow")
    args = parser.parse_args()
    from sqlmodel import Session

    from catalog.db import make_engine
    from catalog.search import FACETS, _facet_counts, conditions, search_models, search_models_sql  # noqa: F401
    from catalog.search_index import build_index

    engine = make_engine(f"sqlite:///{args.db}")
    combos = distinct_filters(args.queries)
    table = []
    with Session(engine) as session:
        start = time.perf_counter()
        index = build_index(session)
        built = time.perf_counter() - start
        size = index.size_bytes()
        search_models(session, as_query({}))
        table.append(
            (
                "pyroaring bitmaps",
                built,
                size,
                timed(lambda p: search_models(session, as_query(p), with_facets=True), combos),
            )
        )
        start = time.perf_counter()
        connection = duckdb_mirror(session)
        built = time.perf_counter() - start
        table.append(
            (
                "duckdb mirror",
                built,
                None,
                timed(lambda p: duckdb_counts(connection, session, p), combos),
            )
        )
        table.append(
            (
                "SQL reference",
                0.0,
                None,
                timed(
                    lambda p: search_models_sql(session, as_query(p)), combos[: args.sql_queries]
                ),
            )
        )
    print(
        f"\nTotal + six facet counts (bitmaps: + one page of items), {len(combos)} distinct random combinations, SQLite {args.db.stat().st_size / 2**20:.0f} MiB, 2 shared cores\n"
    )
    print(
        f"| {'option':<18} | {'build':>7} | {'size':>8} | {'n':>4} | {'p50':>8} | {'p99':>8} | {'max':>8} |"
    )
    print(f"|{'-' * 20}|{'-' * 9}|{'-' * 10}|{'-' * 6}|{'-' * 10}|{'-' * 10}|{'-' * 10}|")
    for name, built, size, times in table:
        size_text = f"{size / 2**20:.1f} MiB" if size else "-"
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(
            f"| {name:<18} | {built:>6.1f}s | {size_text:>8} | {len(times):>4} | {statistics.median(times):>6.1f}ms | {p99:>6.1f}ms | {times[-1]:>6.1f}ms |"
        )


if __name__ == "__main__":
    main()
