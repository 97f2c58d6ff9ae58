"""Why verdicts come out `unknown` on real Hub records: the share, and the cause of each.

The 333 real records in tests/data/hub_dev_models.jsonl are judged two ways: imported as a
snapshot (what their own cards say), and crawled through tests/fakehub with the real
huggingface_hub client (the crawler fetches base models and datasets; what the stand-in does not
have is recorded missing, as a real crawl records what the Hub no longer has). Each `unknown`
verdict is put down to its first cause, in this order: no license declared, a license name or link
the knowledge base does not know, `other` with neither, an ancestor whose license is unknown, a
missing ancestor, a missing dataset, terms marked unclear, anything else.

    .venv/bin/python bench/unknowns.py            # prints the table, writes bench/results/unknowns.json
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from collections import Counter
from importlib import resources
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlmodel import Session, col, select  # noqa: E402

from bench._real_records import empty_catalog, real_records_catalog  # noqa: E402
from catalog.compliance_checks import check_models  # noqa: E402
from catalog.errors import PolicyError  # noqa: E402
from catalog.policies import load_policy, parse_policy  # noqa: E402
from catalog.tables import Model  # noqa: E402
from ingest.connection import HubSettings  # noqa: E402
from ingest.hub import Crawler, CrawlOptions  # noqa: E402
from tests.fakehub import FakeHub  # noqa: E402
from tests.hubdata import real_models  # noqa: E402

CAUSES = (
    "no license declared",
    "unrecognised license name or link",
    "other, with no name or link",
    "ancestor's license unknown",
    "missing ancestor",
    "missing dataset",
    "terms marked unclear",
    "other cause",
)


def _policies() -> dict[str, object]:
    policies = {"default": load_policy("default")}
    text = resources.files("catalog.data.policies").joinpath("default.yaml").read_text("utf-8")
    document = yaml.safe_load(text)
    document["undeclared_derivative"] = "inherit"
    with contextlib.suppress(PolicyError):  # a catalog older than the setting
        policies["default + inherit"] = parse_policy(document)
    return policies


def _cause(verdict: dict, facts: dict[str, Model]) -> str:
    review = [r for r in verdict["reasons"] if r["severity"] == "review"]
    for reason in review:
        source, code = reason["source"], reason["code"]
        if code == "license-unknown" and source["kind"] == "model":
            model = facts.get(source["id"])
            if (
                model is None
                or not model.declared_license
                or model.declared_license in ("unknown", "none")
            ):
                return CAUSES[0]
            if model.license_name or model.license_link:
                return CAUSES[1]
            return CAUSES[2] if model.declared_license == "other" else CAUSES[1]
    codes = [(r["code"], r["source"]["kind"]) for r in review]
    if ("license-unknown", "base_model") in codes:
        return CAUSES[3]
    if any(c == "ancestor-missing" for c, _ in codes):
        return CAUSES[4]
    if any(c == "dataset-missing" for c, _ in codes):
        return CAUSES[5]
    if any(c == "terms-unclear" for c, _ in codes):
        return CAUSES[6]
    return CAUSES[7]


def _judge(engine, name: str, policy) -> dict[str, object]:
    with Session(engine) as session:
        rows = list(session.exec(select(Model).where(col(Model.missing).is_(False))))
        facts = {m.id: m for m in rows}
        ids = sorted(facts)
        verdicts = [
            v.to_dict() for v in check_models(session, ids, use="commercial", policy=policy)
        ]
    outcomes = Counter(v["verdict"] for v in verdicts)
    causes = Counter(_cause(v, facts) for v in verdicts if v["verdict"] == "unknown")
    return {"models": len(ids), "verdicts": dict(outcomes), "unknown_causes": dict(causes)}


def crawled_catalog(folder: Path):
    engine = empty_catalog(folder / "crawl.db")
    hub = FakeHub(page_size_cap=100).start()
    try:
        for info in real_models():
            hub.add_model(info)
        Crawler(engine, CrawlOptions(hub=HubSettings(endpoint=hub.url), page_size=100)).run()
    finally:
        hub.stop()
    return engine


def _row(source: str, policy: str, result: dict) -> str:
    total = result["models"]
    unknown = result["verdicts"].get("unknown", 0)
    causes = " ".join(f"{result['unknown_causes'].get(c, 0):>5}" for c in CAUSES)
    split = "/".join(
        str(result["verdicts"].get(v, 0)) for v in ("allowed", "conditional", "forbidden")
    )
    return (
        f"| {source:<8} | {policy:<17} | {total:>6} | {split:>11} | "
        f"{unknown:>4} ({100 * unknown / total:4.1f}%) | {causes} |"
    )


def main() -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        catalogs = {
            "snapshot": real_records_catalog(folder / "snapshot.db"),
            "crawl": crawled_catalog(folder),
        }
        for source, engine in catalogs.items():
            for name, policy in _policies().items():
                results[f"{source} / {name}"] = _judge(engine, name, policy)
    short = ["no lic", "name?", "other", "anc?", "anc-", "ds-", "unclr", "else"]
    print(
        f"| source   | policy            | models | all/cond/forb | unknown       | {' '.join(f'{s:>5}' for s in short)} |"
    )
    print(
        f"|----------|-------------------|--------|-------------|---------------|{'-' * (6 * len(short))}|"
    )
    for key, result in results.items():
        source, policy = key.split(" / ")
        print(_row(source, policy, result))
    print("causes: " + "; ".join(f"{s} = {c}" for s, c in zip(short, CAUSES, strict=True)))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "unknowns.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
