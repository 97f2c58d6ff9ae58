"""Benchmark: search on PostgreSQL, the bitmap index against the plain SQL reference.

Builds the synthetic catalog (bench/_synthetic.py) in a PostgreSQL database when it is empty, with
verdicts and saved search bitmaps as an import leaves them, then measures in the same run:

- the first answer for distinct random filter combinations through `modelcatalog serve` (HTTP,
  each combination asked once, so nothing is kept), and a concurrent mix of further distinct
  combinations (each asked once) and of repeated ones;
- the baseline: the same first-answer combinations answered by the plain SQL reference
  (`catalog.search.search_models_sql`: total and six facets counted by SQL), in process.

    TEST_POSTGRES_URL=$(./scripts/postgres.sh) \\
        .venv/bin/python bench/search_postgres.py --url "$TEST_POSTGRES_URL" [--models 100000] \\
        [--workers 1,2]

The database named by --url is used as it is when it already holds models (pass a scratch one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._queries import distinct_filters  # noqa: E402
from bench.search import (  # noqa: E402
    add_workers_option,
    concurrent_mix,
    first_answers,
    models_path,
    percentiles,
    rss_mib,
    start_ours,
    wait_up,
)


def build(url: str, count: int) -> None:
    from sqlmodel import Session, func, select

    from bench._synthetic import build_catalog
    from catalog.db import make_engine, upgrade_schema
    from catalog.search_index import save_index
    from catalog.tables import Model
    from catalog.verdicts import refresh_verdicts

    engine = make_engine(url)
    upgrade_schema(engine)
    with Session(engine) as session:
        held = session.exec(select(func.count()).select_from(Model)).one()
    if held:
        print(f"  using the {held:,} models already in the database", file=sys.stderr)
        return
    started = time.perf_counter()
    build_catalog(
        url,
        count,
        batch=10_000,
        report=lambda n: print(f"  built {n:,} models", file=sys.stderr, flush=True),
    )
    with Session(engine) as session:
        refresh_verdicts(session)
        session.commit()
        save_index(session)
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    print(f"built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    engine.dispose()


def reference_first_answers(url: str, combos: list[dict[str, Any]]) -> dict[str, float]:
    """The SQL reference for each combination once, in process (no HTTP: it is only cheaper)."""
    from sqlmodel import Session

    from api.models_api import model_query
    from api.schemas import ModelQueryArgs
    from catalog.db import make_engine
    from catalog.search import search_models_sql

    engine = make_engine(url)
    schema = ModelQueryArgs()
    times = []
    with Session(engine) as session:
        for combo in combos:
            args = schema.load({k: v for k, v in combo.items()})
            started = time.perf_counter()
            search_models_sql(session, model_query(args))
            times.append((time.perf_counter() - started) * 1000)
            session.rollback()
    engine.dispose()
    return percentiles(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True, help="a PostgreSQL URL (a scratch database)")
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--combinations", type=int, default=200)
    parser.add_argument("--reference-combinations", type=int, default=50)
    parser.add_argument("--mix-combinations", type=int, default=12_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    add_workers_option(parser)
    parser.add_argument("--out", default="bench/results/search_postgres.json")
    args = parser.parse_args()
    if not args.url.startswith("postgresql"):
        parser.error("--url must be a PostgreSQL URL")

    build(args.url, args.models)
    per_server = args.combinations + args.mix_combinations
    combos = distinct_filters(per_server * len(args.workers))
    results: dict[str, Any] = {}
    memory: dict[str, float] = {}
    for offset, workers in enumerate(args.workers):
        # Each server its own distinct combinations: none is answered from another's work.
        label = "1 process" if workers == 1 else f"--workers {workers}"
        mine = combos[offset * per_server : (offset + 1) * per_server]
        paths = [models_path(c) for c in mine[: args.combinations]]
        mix_paths = [models_path(c) for c in mine[args.combinations :]]
        server, port = start_ours(args.url, workers)
        try:
            wait_up(port, "/healthz")
            results[f"first answer, bitmap index ({label})"] = first_answers(port, paths)
            results[f"mix c={args.clients} (distinct, {label})"] = concurrent_mix(
                port, mix_paths, args.clients, args.seconds, repeat=False
            )
            results[f"mix c={args.clients}, repeated ({label})"] = concurrent_mix(
                port, mix_paths[: args.combinations], args.clients, args.seconds, repeat=True
            )
            memory[label] = rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait()
    results["first answer, SQL reference (in process)"] = reference_first_answers(
        args.url, combos[: min(args.combinations, args.reference_combinations)]
    )
    print(
        f"\nSearch on PostgreSQL, {args.models:,} synthetic models, 2 cores shared with other work"
    )
    print(f"| {'measure':<46} | {'n':>5} | {'p50':>9} | {'p99':>9} | {'max':>9} | {'req/s':>6} |")
    print(f"|{'-' * 48}|{'-' * 7}|{'-' * 11}|{'-' * 11}|{'-' * 11}|{'-' * 8}|")
    for name, row in results.items():
        rate = f"{row['req_s']:>6.0f}" if "req_s" in row else f"{'':>6}"
        print(
            f"| {name:<46} | {row['n']:>5} | {row['p50_ms']:>7.1f}ms | {row['p99_ms']:>7.1f}ms"
            f" | {row['max_ms']:>7.1f}ms | {rate} |"
        )
    print(
        "\nserver memory (RSS, all its processes): "
        + ", ".join(f"{label} {mib:.0f} MiB" for label, mib in memory.items())
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps({"models": args.models, "results": results, "memory_mib": memory}, indent=2)
    )


if __name__ == "__main__":
    main()
