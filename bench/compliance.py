"""Benchmark: verdicts for a batch of 1,000 models in a 100k-model catalog with multi-level lineage.

Compares the engine's bulk lineage loading (one query per graph level) with a naive baseline that
asks the database once per model, per ancestor and per dataset. Prints a table and writes JSON.

    .venv/bin/python bench/compliance.py [--models 100000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session, select

from bench._synthetic import build_catalog
from catalog.compliance import evaluate
from catalog.compliance_checks import check_models
from catalog.db import make_engine
from catalog.licenses import knowledge_base
from catalog.lineage import Lineage, RepoFacts
from catalog.policies import load_policy
from catalog.tables import Dataset, LineageEdge, Model, ModelDataset


def naive_lineage(session: Session, root_ids: list[str]) -> Lineage:
    """The baseline: one query per model, per edge list and per dataset."""
    lineage = Lineage()
    stack = list(root_ids)
    while stack:
        model_id = stack.pop()
        if model_id in lineage.models:
            continue
        model = session.get(Model, model_id)
        bases = tuple(
            (e.base_id, e.relation)
            for e in session.exec(select(LineageEdge).where(LineageEdge.model_id == model_id))
        )
        datasets = tuple(
            e.dataset_id
            for e in session.exec(select(ModelDataset).where(ModelDataset.model_id == model_id))
        )
        lineage.models[model_id] = RepoFacts(
            id=model_id,
            license_ids=tuple((model.license_ids if model else None) or ["unknown"]),
            present=model is not None and not model.missing,
            bases=bases,
            datasets=datasets,
        )
        stack.extend(b for b, _ in bases)
        for dataset_id in datasets:
            dataset = session.get(Dataset, dataset_id)
            lineage.datasets[dataset_id] = RepoFacts(
                id=dataset_id,
                license_ids=tuple((dataset.license_ids if dataset else None) or ["unknown"]),
                present=dataset is not None,
            )
    return lineage


def timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="bench/results/compliance.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        start = time.perf_counter()
        build_catalog(url, args.models)
        build_s = time.perf_counter() - start
        engine = make_engine(url)
        policy, kb = load_policy("default"), knowledge_base()
        with Session(engine) as session:
            all_ids = list(session.exec(select(Model.id)))
            rng = random.Random(3)
            batch = rng.sample(all_ids, args.batch)
            results = {}
            results["engine (bulk lineage)"] = timed(
                lambda: check_models(session, batch, use="commercial", policy=policy), args.repeats
            )

            def naive() -> None:
                lineage = naive_lineage(session, batch)
                for repo_id in batch:
                    evaluate(repo_id, lineage, use="commercial", policy=policy, kb=kb)

            results["baseline (query per ancestor)"] = timed(naive, args.repeats)
            verdicts = check_models(session, batch, use="commercial", policy=policy)
            mix = {
                v: sum(1 for x in verdicts if x.verdict == v)
                for v in ("allowed", "conditional", "unknown", "forbidden")
            }

    print(
        f"\nCompliance verdicts: batch of {args.batch} from {args.models:,} synthetic models (SQLite; built in {build_s:.1f} s)"
    )
    print(f"verdict mix in the batch: {mix}\n")
    print(f"| {'method':<32} | {'median ms':>9} | {'min ms':>8} | {'max ms':>8} |")
    print(f"|{'-' * 34}|{'-' * 11}|{'-' * 10}|{'-' * 10}|")
    for name, times in results.items():
        print(
            f"| {name:<32} | {statistics.median(times):>9.1f} | {min(times):>8.1f} | {max(times):>8.1f} |"
        )
    speedup = statistics.median(results["baseline (query per ancestor)"]) / statistics.median(
        results["engine (bulk lineage)"]
    )
    print(f"\nspeed-up over the baseline: {speedup:.1f}x; aim: under 100 ms for the batch")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {
                "models": args.models,
                "batch": args.batch,
                "build_s": build_s,
                "mix": mix,
                "ms": results,
                "speedup": speedup,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
