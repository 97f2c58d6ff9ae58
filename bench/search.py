"""Benchmark: search latency at 1M models, `modelcatalog serve` against datasette on the same SQLite file.

Builds a deterministic synthetic catalog (bench/_synthetic.py) with verdicts computed on write,
starts `modelcatalog serve` and `datasette serve` on it, and measures each scenario: the first
answer for a filter set (nothing cached) and p50/p99 of repeated answers. Prints a table, the
servers' memory, and writes JSON.

    .venv/bin/python bench/search.py [--models 1000000] [--db PATH (reuse a built catalog)]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Each scenario: our API query, and the closest datasette query on the same tables.
SCENARIOS = {
    "filter only (license=mit)": (
        {"license": "mit"},
        "/{db}/model.json?"
        + urlencode(
            {
                "_where": "id in (select model_id from model_license where license_id='mit')",
                "_sort_desc": "downloads",
                "_size": 20,
            }
        ),
    ),
    "full text": (
        {"q": "org7"},
        "/{db}/model.json?" + urlencode({"_search": "org7", "_size": 20}),
    ),
    "full text + filters + facets": (
        {"q": "org7", "task": "text-generation", "license_category": "permissive"},
        "/{db}/model.json?"
        + urlencode(
            {
                "_search": "org7",
                "pipeline_tag": "text-generation",
                "license_category": "permissive",
                "_facet": ["library_name", "license_category", "pipeline_tag"],
                "_size": 20,
            },
            doseq=True,
        ),
    ),
    "commercial=true + facets": (
        {"commercial": "true"},
        "/{db}/model.json?"
        + urlencode(
            {
                "_where": "id in (select model_id from model_verdict where use='commercial' and policy='default' and verdict in ('allowed','conditional'))",
                "_facet": ["pipeline_tag", "library_name"],
                "_sort_desc": "downloads",
                "_size": 20,
            },
            doseq=True,
        ),
    ),
    "deep page (page 2,000)": (
        {"page": 2000, "sort": "downloads"},
        "/{db}/model.json?" + urlencode({"_sort_desc": "downloads", "_size": 20, "_nocount": 1}),
    ),
}


def build(path: Path, count: int) -> None:
    """The synthetic catalog, with verdicts and facet counts computed as an import leaves them."""
    from sqlmodel import Session

    from bench._synthetic import build_catalog
    from catalog.db import make_engine
    from catalog.facets import rebuild_facet_counts
    from catalog.verdicts import refresh_verdicts

    build_catalog(
        f"sqlite:///{path}",
        count,
        batch=10_000,
        report=lambda n: print(f"  built {n:,} models", file=sys.stderr, flush=True),
    )
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        refresh_verdicts(session)
        session.commit()
        rebuild_facet_counts(session)
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(port: int, path: str) -> None:
    for _ in range(600):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path)
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server on {port} did not start")


def timed_get(connection: http.client.HTTPConnection, path: str) -> float:
    start = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"{path}: HTTP {response.status}")
    return (time.perf_counter() - start) * 1000


def measure(port: int, path: str, repeats: int) -> dict[str, float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    first = timed_get(connection, path)
    times = sorted(timed_get(connection, path) for _ in range(repeats))
    return {
        "first_ms": first,
        "p50_ms": statistics.median(times),
        "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))],
    }


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="a catalog built by an earlier run (kept)")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--datasette-repeats", type=int, default=5)
    parser.add_argument("--out", default="bench/results/search.json")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    db = args.db or Path(tmp.name) / "catalog.db"
    if not db.exists():
        start = time.perf_counter()
        build(db, args.models)
        print(
            f"built {args.models:,} models in {time.perf_counter() - start:.0f} s", file=sys.stderr
        )
    ours_port, datasette_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    ours = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(ours_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    datasette = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "datasette"),
            "serve",
            str(db),
            "--port",
            str(datasette_port),
            "--setting",
            "sql_time_limit_ms",
            "60000",
            "--setting",
            "facet_time_limit_ms",
            "60000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: dict[str, dict[str, dict[str, float]]] = {}
    try:
        wait_up(ours_port, "/healthz")
        wait_up(datasette_port, "/-/versions.json")
        for name, (query, datasette_path) in SCENARIOS.items():
            results[name] = {
                "modelcatalog": measure(
                    ours_port, "/api/v1/models?" + urlencode(query), args.repeats
                ),
                "datasette": measure(
                    datasette_port, datasette_path.format(db=db.stem), args.datasette_repeats
                ),
            }
            print(f"  {name}: done", file=sys.stderr, flush=True)
        memory = {"modelcatalog": rss_mib(ours.pid), "datasette": rss_mib(datasette.pid)}
    finally:
        ours.terminate()
        datasette.terminate()
        ours.wait()
        datasette.wait()
    print(
        f"\nSearch latency, {args.models:,} synthetic models in SQLite ({db.stat().st_size / 2**20:,.0f} MiB), 2 cores"
    )
    print(
        "modelcatalog answers include items, total and all six facet counts; 'first' is a filter set's first answer (nothing cached)\n"
    )
    print(
        f"| {'scenario':<30} | {'ours first':>10} | {'ours p50':>9} | {'ours p99':>9} | {'datasette first':>15} | {'datasette p50':>13} |"
    )
    print(f"|{'-' * 32}|{'-' * 12}|{'-' * 11}|{'-' * 11}|{'-' * 17}|{'-' * 15}|")
    for name, row in results.items():
        ours_row, theirs = row["modelcatalog"], row["datasette"]
        print(
            f"| {name:<30} | {ours_row['first_ms']:>8.0f}ms | {ours_row['p50_ms']:>7.1f}ms | {ours_row['p99_ms']:>7.1f}ms "
            f"| {theirs['first_ms']:>13.0f}ms | {theirs['p50_ms']:>11.0f}ms |"
        )
    print(
        f"\nserver memory (RSS): modelcatalog {memory['modelcatalog']:.0f} MiB, datasette {memory['datasette']:.0f} MiB"
    )
    print("aim: p50 <= 10 ms and p99 <= 50 ms with facets at 1M")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps({"models": args.models, "results": results, "memory_mib": memory}, indent=2)
    )
    tmp.cleanup()


if __name__ == "__main__":
    main()
