"""Benchmark: crawl a synthetic Hub of 100k models served by tests/fakehub into SQLite.

Measures, in one run: the full crawl (models/s, end to end through huggingface_hub's session and
the catalog's bulk upserts), an incremental re-sync after 1% of the models changed, peak memory of
the crawl process at two catalog sizes (flat memory means it does not grow with the model count),
and the naive baseline (list ids, then `model_info` per model) on a 2k sample.

    .venv/bin/python bench/ingest.py [--models 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._synthetic import synthetic_datasets, synthetic_models  # noqa: E402


def write_hub(path: Path, count: int, changed: set[int] | None = None) -> None:
    with path.open("w") as out:
        for dataset in synthetic_datasets():
            out.write(json.dumps(dataset) + "\n")
        for index, info in enumerate(synthetic_models(count)):
            if changed and index in changed:
                info["sha"] = "f" * 40
                info["lastModified"] = "2026-06-01T00:00:00.000Z"
                if info["cardData"]:
                    info["cardData"]["license"] = "cc-by-nc-4.0"
            if not info["cardData"]:
                info["cardData"] = None  # no README: the listing has no card data
            out.write(json.dumps(info) + "\n")


class Hub:
    """tests/fakehub in its own process, so the crawler is measured alone."""

    def __init__(self, records: Path, port: int = 0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakehub", str(records), str(port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self.process.stdout.readline().strip()
        self.warm_up()

    def warm_up(self) -> None:
        """List everything once, so the stand-in has encoded its JSON and the crawler alone is timed."""
        from huggingface_hub import HfApi

        api = HfApi(endpoint=self.url)
        for _ in api.list_models(full=True, cardData=True, sort="lastModified"):
            pass
        for _ in api.list_datasets(full=True, sort="lastModified"):
            pass

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()


def cli(env: dict[str, str], *args: str) -> tuple[float, int, str]:
    """Run the CLI; return wall seconds, peak RSS (MiB) and its stdout."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.stdout.close()
    if status != 0:
        raise SystemExit(f"{' '.join(args)} failed: {output}")
    return time.perf_counter() - start, usage.ru_maxrss // 1024, output.strip()


def crawl_run(tmp: Path, count: int, resync_changed: float | None = None) -> dict:
    records = tmp / f"hub-{count}.jsonl"
    write_hub(records, count)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/crawl-{count}.db"}
    cli(env, "init", "--no-seed")
    hub = Hub(records)
    try:
        env["HF_ENDPOINT"] = hub.url
        port = int(hub.url.rsplit(":", 1)[1])
        seconds, rss, summary = cli(env, "ingest", "hub")
    finally:
        hub.close()
    result = {"models": count, "seconds": seconds, "rss_mib": rss, "summary": summary}
    if resync_changed:
        rng = random.Random(5)
        changed = set(rng.sample(range(count), int(count * resync_changed)))
        write_hub(records, count, changed)
        hub = Hub(records, port)  # the same endpoint: incremental state is kept per endpoint
        try:
            result["resync_seconds"], _, result["resync_summary"] = cli(env, "ingest", "hub")
        finally:
            hub.close()
    return result


def naive_baseline(tmp: Path, sample: int) -> float:
    """List ids, then one model_info per model, stored through the same registry code."""
    from huggingface_hub import HfApi

    from catalog.db import make_engine, upgrade_schema
    from catalog.registry import upsert_models
    from ingest.cards import model_record
    from ingest.hub import info_to_json

    records = tmp / "hub-naive.jsonl"
    write_hub(records, sample)
    engine = make_engine(f"sqlite:///{tmp}/naive.db")
    upgrade_schema(engine)
    hub = Hub(records)
    try:
        from sqlmodel import Session

        api = HfApi(endpoint=hub.url)
        start = time.perf_counter()
        with Session(engine) as session:
            for listed in api.list_models(limit=sample):
                upsert_models(session, [model_record(info_to_json(api.model_info(listed.id)))])
                session.commit()
        return sample / (time.perf_counter() - start)
    finally:
        hub.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument(
        "--small", type=int, default=10_000, help="second size, for the memory comparison"
    )
    parser.add_argument("--sample", type=int, default=2_000, help="baseline sample size")
    parser.add_argument("--out", default="bench/results/ingest.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        big = crawl_run(tmp, args.models, resync_changed=0.01)
        small = crawl_run(tmp, args.small)
        baseline = naive_baseline(tmp, args.sample)

    rate = big["models"] / big["seconds"]
    print(
        f"\nHub crawl into SQLite: synthetic Hub of {args.models:,} models (+1,000 datasets) via tests/fakehub\n"
    )
    print(f"| {'measure':<46} | {'value':>14} |")
    print(f"|{'-' * 48}|{'-' * 16}|")
    rows = [
        ("full crawl, end to end (s)", f"{big['seconds']:.1f}"),
        ("full crawl rate (models/s)", f"{rate:,.0f}"),
        ("re-sync after 1% changed (s)", f"{big['resync_seconds']:.1f}"),
        ("re-sync / full crawl", f"{100 * big['resync_seconds'] / big['seconds']:.1f}%"),
        (f"peak RSS, crawl of {args.small:,} (MiB)", f"{small['rss_mib']}"),
        (f"peak RSS, crawl of {args.models:,} (MiB)", f"{big['rss_mib']}"),
        (f"baseline: list + model_info each, {args.sample:,} (models/s)", f"{baseline:,.0f}"),
        ("speed-up over the baseline", f"{rate / baseline:.1f}x"),
    ]
    for name, value in rows:
        print(f"| {name:<46} | {value:>14} |")
    print(f"\nfull: {big['summary']}\nre-sync: {big['resync_summary']}")
    print(
        "aims: >= 3,000 models/s, re-sync <= 5% of the full crawl, memory flat in the number of models"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps({"big": big, "small": small, "baseline_models_per_s": baseline}, indent=2)
    )


if __name__ == "__main__":
    main()
