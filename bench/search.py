"""Benchmark: search at Hub scale, `modelcatalog serve` against datasette on the same SQLite file.

Builds a deterministic synthetic catalog (bench/_synthetic.py) with verdicts and saved search
bitmaps as an import leaves them, starts `modelcatalog serve` and `datasette serve` on it, and
measures: the first answer for distinct random filter combinations (1-4 filters, several values per
facet, commercial, author, with and without free text; each asked once, so nothing is cached), a
concurrent mix of further distinct combinations, each asked once (p50, p99, req/s), the same mix
cycling through 200 combinations again and again (what kept answers give a repeated query), and the
fixed scenarios' first and repeated answers. Prints tables and the servers' memory, writes JSON.

    .venv/bin/python bench/search.py [--models 1000000] [--db PATH (reuse a built catalog)] [--workers 1,2]
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
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._queries import distinct_filters  # noqa: E402

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


Server: TypeAlias = tuple[subprocess.Popen[bytes], int]


def build(path: Path, count: int) -> None:
    """The synthetic catalog, with verdicts and saved search bitmaps as an import leaves them."""
    from sqlmodel import Session

    from bench._synthetic import build_catalog
    from catalog.db import make_engine
    from catalog.search_index import save_index
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
        save_index(session)
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


def _listed(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def datasette_path(db: str, params: dict[str, Any]) -> str:
    """The closest datasette query: the same filters; facets on the three plain columns it can
    facet (licenses, languages and the commercial verdict live in other tables)."""
    where = []
    for facet, table, column in (
        ("license", "model_license", "license_id"),
        ("language", "model_language", "language"),
    ):
        if facet in params:
            where.append(
                f"id in (select model_id from {table} where {column} in ({_listed(params[facet])}))"
            )
    for facet, column in (
        ("license_category", "license_category"),
        ("task", "pipeline_tag"),
        ("library", "library_name"),
    ):
        if facet in params:
            where.append(f"{column} in ({_listed(params[facet])})")
    if "commercial" in params:
        cleared = (
            "select model_id from model_verdict where use='commercial' and policy='default'"
            " and verdict in ('allowed','conditional')"
        )
        where.append(f"id {'in' if params['commercial'] == 'true' else 'not in'} ({cleared})")
    if "author" in params:
        where.append(f"author = {_listed([params['author']])}")
    query: list[tuple[str, Any]] = [("_where", w) for w in where]
    if "q" in params:
        query.append(("_search", params["q"]))
    query += [("_facet", f) for f in ("license_category", "pipeline_tag", "library_name")]
    query += [("_sort_desc", "downloads"), ("_size", 20)]
    return f"/{db}/model.json?" + urlencode(query)


def models_path(combination: dict[str, Any]) -> str:
    """Our search URL for one filter combination."""
    return "/api/v1/models?" + urlencode(combination, doseq=True)


def add_workers_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2],
        help="our server once per count: 1 is `serve` (one process), N is `serve --workers N`",
    )


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
    """The resident memory of a process and its children (gunicorn's workers)."""
    total = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total += int(line.split()[1]) / 1024
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += rss_mib(int(child))
    return total


def percentiles(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "n": len(times),
        "p50_ms": statistics.median(times),
        "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))],
        "max_ms": times[-1],
    }


def first_answers(port: int, paths: list[str]) -> dict[str, float]:
    """Each path once, one at a time: every answer is the first for its filter set."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    return percentiles([timed_get(connection, path) for path in paths])


def concurrent_mix(
    port: int, paths: list[str], clients: int, seconds: float, *, repeat: bool
) -> dict[str, float]:
    """`clients` threads asking the paths for `seconds`: each path once (every answer a first one;
    the run ends early if they run out) or, with `repeat`, cycling through them again."""
    deadline = time.perf_counter() + seconds
    times: list[float] = []
    queue = iter(paths)
    lock = threading.Lock()

    def next_path(position: int) -> str | None:
        if repeat:
            return paths[position % len(paths)]
        with lock:
            return next(queue, None)

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        position = offset
        while time.perf_counter() < deadline:
            path = next_path(position)
            if path is None:
                return
            times.append(timed_get(connection, path))
            position += clients

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    elapsed = time.perf_counter() - start
    return {**percentiles(times), "req_s": len(times) / elapsed}


def start_ours(database_url: str, workers: int = 1) -> tuple[subprocess.Popen[bytes], int]:
    """`modelcatalog serve` on this database, on a free port (not yet waited for); with several
    workers, gunicorn's processes, demos off (they need the ray backend to run in several)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
        # The benchmark measures search, not the rate limiter (datasette has none).
        "MODELCATALOG_RATE_LIMIT_ANONYMOUS": "10000000/minute",
    }
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    if workers > 1:
        env["MODELCATALOG_DEMO_BACKEND"] = "off"
        command += ["--workers", str(workers)]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return server, port


def start_servers(db: Path, workers: list[int]) -> tuple[dict[str, Server], Server]:
    """Ours once per number of workers (named for the report), and datasette, all answering."""
    ours = {}
    for count in workers:
        name = "modelcatalog" if count == 1 else f"modelcatalog x{count}"
        ours[name] = start_ours(f"sqlite:///{db}", count)
    datasette_port = free_port()
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
    for _server, port in ours.values():
        wait_up(port, "/healthz")
    wait_up(datasette_port, "/-/versions.json")
    return ours, (datasette, datasette_port)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="a catalog built by an earlier run (kept)")
    parser.add_argument("--combinations", type=int, default=200)
    parser.add_argument("--datasette-combinations", type=int, default=50)
    parser.add_argument(
        "--mix-combinations",
        type=int,
        default=12_000,
        help="distinct combinations for the concurrent mix (each asked once)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="of each concurrent mix")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--datasette-repeats", type=int, default=5)
    add_workers_option(parser)
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
    # Enough distinct combinations that no server is asked one twice in the distinct runs: each of
    # ours gets its own (they share the file's page cache), datasette the first server's.
    per_server = args.combinations + args.mix_combinations
    combos = distinct_filters(per_server * len(args.workers))
    servers, (datasette, datasette_port) = start_servers(db, args.workers)
    paths: dict[str, dict[str, list[str]]] = {}
    for offset, name in enumerate(servers):
        mine = combos[offset * per_server : (offset + 1) * per_server]
        paths[name] = {
            "first": [models_path(c) for c in mine[: args.combinations]],
            "mix": [models_path(c) for c in mine[args.combinations :]],
        }
    paths["datasette"] = {
        "first": [
            datasette_path(db.stem, c)
            for c in combos[: min(args.combinations, args.datasette_combinations)]
        ],
        "mix": [datasette_path(db.stem, c) for c in combos[args.combinations : per_server]],
    }
    ports = {name: port for name, (_server, port) in servers.items()}
    ports["datasette"] = datasette_port
    results: dict[str, Any] = {}
    try:
        results["first answer"] = {
            name: first_answers(port, paths[name]["first"]) for name, port in ports.items()
        }
        print("  first answers: done", file=sys.stderr, flush=True)
        for label, repeat in (
            (f"mix c={args.clients}", False),
            (f"mix c={args.clients}, repeated", True),
        ):
            results[label] = {
                name: concurrent_mix(
                    port,
                    paths[name]["mix"][: args.combinations] if repeat else paths[name]["mix"],
                    args.clients,
                    args.seconds,
                    repeat=repeat,
                )
                for name, port in ports.items()
            }
        print("  concurrent mix: done", file=sys.stderr, flush=True)
        ours_port = ports["modelcatalog"] if "modelcatalog" in ports else next(iter(ports.values()))
        for name, (query, datasette_query) in SCENARIOS.items():
            results[name] = {
                "modelcatalog": measure(
                    ours_port, "/api/v1/models?" + urlencode(query), args.repeats
                ),
                "datasette": measure(
                    datasette_port, datasette_query.format(db=db.stem), args.datasette_repeats
                ),
            }
        memory = {name: rss_mib(server.pid) for name, (server, _port) in servers.items()}
        memory["datasette"] = rss_mib(datasette.pid)
    finally:
        for server in [s for s, _port in servers.values()] + [datasette]:
            server.terminate()
            server.wait()
    report(args, db, results, memory)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps({"models": args.models, "results": results, "memory_mib": memory}, indent=2)
    )
    tmp.cleanup()


def report(args: Any, db: Path, results: dict[str, Any], memory: dict[str, float]) -> None:
    print(
        f"\nSearch, {args.models:,} synthetic models in SQLite ({db.stat().st_size / 2**20:,.0f} MiB),"
        " 2 cores shared with other work"
    )
    print(
        "modelcatalog answers carry items, total and all six facet counts; datasette the same filters"
        " with three column facets\n"
    )
    print(
        f"| {'measure':<32} | {'server':<16} | {'n':>5} | {'p50':>9} | {'p99':>9} | {'max':>9} | {'req/s':>6} |"
    )
    print(f"|{'-' * 34}|{'-' * 18}|{'-' * 7}|{'-' * 11}|{'-' * 11}|{'-' * 11}|{'-' * 8}|")
    for name in ("first answer", f"mix c={args.clients}", f"mix c={args.clients}, repeated"):
        for server, row in results[name].items():
            rate = f"{row['req_s']:>6.0f}" if "req_s" in row else f"{'':>6}"
            label = name if name.endswith("repeated") else name + " (distinct filters)"
            print(
                f"| {label:<32} | {server:<16} | {row['n']:>5} | {row['p50_ms']:>7.1f}ms"
                f" | {row['p99_ms']:>7.1f}ms | {row['max_ms']:>7.1f}ms | {rate} |"
            )
    print(
        f"\n| {'scenario':<30} | {'ours first':>10} | {'ours p50':>9} | {'ours p99':>9} | {'datasette first':>15} | {'datasette p50':>13} |"
    )
    print(f"|{'-' * 32}|{'-' * 12}|{'-' * 11}|{'-' * 11}|{'-' * 17}|{'-' * 15}|")
    for name in SCENARIOS:
        ours_row, theirs = results[name]["modelcatalog"], results[name]["datasette"]
        print(
            f"| {name:<30} | {ours_row['first_ms']:>8.0f}ms | {ours_row['p50_ms']:>7.1f}ms | {ours_row['p99_ms']:>7.1f}ms "
            f"| {theirs['first_ms']:>13.0f}ms | {theirs['p50_ms']:>11.0f}ms |"
        )
    print(
        "\nserver memory (RSS, all its processes): "
        + ", ".join(f"{name} {mib:.0f} MiB" for name, mib in memory.items())
    )
    print("aims: first answer p50 <= 20 ms, p99 <= 100 ms; c=8 >= 200 req/s with p99 <= 100 ms")


if __name__ == "__main__":
    main()
