"""Benchmark: `modelcatalog scan` over a generated tree of Python files, against `grep -rE`.

grep only matches text (it would report ids in comments and cannot resolve constants); the scanner
parses every file that could load a model (ingest.scan_python.may_load says which; on a large tree
GNU grep is asked, ingest/scan_grep.py), and in it the top-level statements that could
(ingest.scan_python.loading_part). In-process rows time scan_paths(); the first row reads every
file in Python (the scanner where there is no GNU grep); the command row runs `modelcatalog scan`
as a process, as grep is run. The aim is at least a third of grep's files per second.
The first pass reads a cold-ish page cache for both (the tree was just written); later passes are warm.

    .venv/bin/python bench/scan.py [--files 20000] [--loading 0.1] [--repeats 3]
    .venv/bin/python bench/scan.py --tree PATH   # an existing tree instead (real code)

With --tree (say a virtual environment's site-packages), the rate is the tree's Python files
(grep's share, as `--include=*.py` counts them) a second; the scanner also skips build and
vendored folders grep reads, and reads configs and notebooks grep does not. Its files are not
generated, so what they load is not known: every scanning row must only agree with the others.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.scan import default_jobs, scan_paths
from ingest.scan_cache import ScanCache

REPO = Path(__file__).resolve().parents[1]
GREP_PATTERN = (
    r"from_pretrained\(|pipeline\(|hf_hub_download\(|snapshot_download\("
    r"|SentenceTransformer\(|CrossEncoder\(|load_dataset\("
)
PLAIN = '''"""Module {n}: helpers for the {topic} service."""

import json
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)
LIMIT = {n}


@dataclass
class Record{n}:
    name: str
    size: int = 0

    def describe(self) -> str:
        return f"{{self.name}} ({{self.size}} bytes)"


def load_{n}(path: str) -> list[Record{n}]:
    """Read records from a JSON file; skip the broken ones."""
    with open(path, encoding="utf-8") as handle:
        rows = json.load(handle)
    records = []
    for row in rows[:LIMIT]:
        try:
            records.append(Record{n}(row["name"], int(row.get("size", 0))))
        except (KeyError, ValueError) as exc:
            log.warning("skipped %s: %s", row, exc)
    return records


def total_{n}(records: list[Record{n}]) -> int:
    return sum(r.size for r in records if r.size > 0)
'''
LOADING = """
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

MODEL_ID = "{owner}/model-{n}"


def model_{n}():
    tokenizer = AutoTokenizer.from_pretrained(MODEL_ID)
    model = AutoModelForCausalLM.from_pretrained(MODEL_ID, torch_dtype="auto")
    return pipeline("text-generation", model=model, tokenizer=tokenizer)
"""


def build_tree(root: Path, files: int, loading: float, seed: int = 7) -> int:
    """Write `files` Python files, 100 a folder; return how many load a model."""
    rng = random.Random(seed)
    loaders = 0
    for n in range(files):
        folder = root / f"pkg{n // 100:04d}"
        folder.mkdir(exist_ok=True)
        text = PLAIN.format(n=n, topic=rng.choice(["billing", "search", "auth", "reports"]))
        if rng.random() < loading:
            text += LOADING.format(n=n, owner=rng.choice(["acme", "tiiuae", "mosaicml"]))
            loaders += 1
        (folder / f"module_{n}.py").write_text(text)
    return loaders


def timed(fn, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument(
        "--loading", type=float, default=0.1, help="share of files that load a model"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tree", type=Path, help="scan this tree instead of a generated one")
    parser.add_argument(
        "--out", help="default: bench/results/scan.json (scan-tree.json with --tree)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scan-bench-") as directory:
        if args.tree:
            root = args.tree.resolve()
            args.files = sum(1 for _ in root.rglob("*.py"))
            loaders = None
        else:
            root = Path(directory) / "tree"
            root.mkdir()
            loaders = build_tree(root, args.files, args.loading)
        found: list[tuple[int, int]] = []

        def scan_python_only() -> None:
            result = scan_paths([root], jobs=1, grep=False)
            found.append((len(result.findings), len(result.skipped)))

        def scan() -> None:
            result = scan_paths([root], jobs=1)
            found.append((len(result.findings), len(result.skipped)))

        jobs = default_jobs()

        def scan_parallel() -> None:
            result = scan_paths([root], jobs=jobs)
            found.append((len(result.findings), len(result.skipped)))

        cache_file = Path(directory) / "cache" / "scan.json"

        def scan_cached() -> None:
            cache = ScanCache(cache_file)
            result = scan_paths([root], jobs=1, cache=cache)
            cache.save()
            found.append((len(result.findings), len(result.skipped)))

        def scan_command() -> None:
            # The whole command as a pre-commit hook runs it: interpreter start and imports included.
            command = [sys.executable, "-m", "api.cli", "scan", "--format", "json", str(root)]
            done = subprocess.run(command, check=True, capture_output=True, cwd=REPO)
            report = json.loads(done.stdout)
            found.append((len(report["findings"]), len(report["skipped_values"])))

        def grep() -> None:
            command = ["grep", "-rEl", "--include=*.py", GREP_PATTERN, str(root)]
            subprocess.run(command, check=True, capture_output=True)

        results = {}
        # Interleaved, so that load from other processes on a shared machine hits both alike.
        for _ in range(args.repeats):
            results.setdefault("grep -rE (text match)", []).extend(timed(grep, 1))
            results.setdefault("scan, 1 process, no grep", []).extend(timed(scan_python_only, 1))
            results.setdefault("scan, 1 process (+ 1 grep)", []).extend(timed(scan, 1))
            results.setdefault(f"scan, {jobs} processes (default)", []).extend(
                timed(scan_parallel, 1)
            )
            results.setdefault("`modelcatalog scan` command", []).extend(timed(scan_command, 1))
        # A repeated scan with --cache (a pre-commit hook's second run): the first fills the cache.
        results["scan --cache (filling it)"] = timed(scan_cached, 1)
        results["scan --cache (unchanged tree)"] = timed(scan_cached, args.repeats)
    if loaders is None:
        assert len(set(found)) == 1, found  # every way of scanning finds the same
        print(
            f"{root}: {args.files:,} Python files "
            f"({found[0][0]:,} findings, {found[0][1]:,} skipped)"
        )
    else:
        # Two loads by constant per loading file; pipeline(model=model) passes an object: skipped.
        expected = (loaders * 2, loaders)
        assert set(found) == {expected}, (found, expected)
        print(
            f"{args.files:,} Python files, {loaders:,} of them load a model "
            f"({expected[0]:,} findings, {expected[1]:,} unresolved skipped)"
        )
    print(f"{'method':<34} {'first s':>8} {'median s':>9} {'files/s (median)':>17}")
    rates = {}
    for name, times in results.items():
        rates[name] = args.files / statistics.median(times)
        print(f"{name:<34} {times[0]:>8.3f} {statistics.median(times):>9.3f} {rates[name]:>17,.0f}")
    grep_rate = rates["grep -rE (text match)"]
    shares = {name: rate / grep_rate for name, rate in rates.items()}
    print("share of grep's files per second (aim: at least 0.33x):")
    for name in list(results)[1:]:
        print(f"  {name:<32} {shares[name]:.2f}x")
    out = Path(args.out or f"bench/results/scan{'-tree' if args.tree else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "tree": str(args.tree) if args.tree else "generated",
                "files": args.files,
                "loaders": loaders,
                "seconds": results,
                "files_per_s": rates,
                "share_of_grep": shares,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
