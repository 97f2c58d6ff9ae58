"""Measure: the share of `unknown` commercial-use verdicts on the 333 real Hub records in tests/data,
before and after a reviewer curates the ten most common causes (and decides what cannot be curated).

The causes are found, not assumed: every `review`-severity reason of every unknown verdict is counted
by (code, repo), most frequent first. The reviewer's findings for them are listed in FINDINGS with the
page each comes from. Prints a table and writes JSON to bench/results/unknown_share.json.

    .venv/bin/python bench/unknown_share.py
"""

from __future__ import annotations

import collections
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session, col, select

from bench._real_records import real_records_catalog
from catalog.compliance_checks import verdict_documents
from catalog.curations import record_curation
from catalog.policies import load_policy
from catalog.reviews import record_review
from catalog.tables import Model

ROOT = Path(__file__).resolve().parents[1]

# What a reviewer records for each cause: (field, value, source). The licenses are the ones these
# repos' Hub cards declare; this machine is offline, so they were not re-read for this run.
FINDINGS: dict[str, tuple[str, str, Any, str]] = {
    "wikimedia/wikipedia": (
        "dataset",
        "license",
        ["cc-by-sa-3.0", "gfdl"],
        "https://huggingface.co/datasets/wikimedia/wikipedia",
    ),
    "uonlp/CulturaX": (
        "dataset",
        "license",
        "odc-by",
        "https://huggingface.co/datasets/uonlp/CulturaX",
    ),
    "BramVanroy/wikipedia_culturax_dutch": (
        "dataset",
        "license",
        ["cc-by-sa-3.0", "odc-by"],
        "https://huggingface.co/datasets/BramVanroy/wikipedia_culturax_dutch",
    ),
    "yl4579/StyleTTS2-LJSpeech": (
        "model",
        "license",
        "mit",
        "https://huggingface.co/yl4579/StyleTTS2-LJSpeech",
    ),
    "BramVanroy/ultrachat_200k_dutch": (
        "dataset",
        "license",
        "cc-by-nc-4.0",
        "https://huggingface.co/datasets/BramVanroy/ultrachat_200k_dutch",
    ),
    "BramVanroy/no_robots_dutch": (
        "dataset",
        "license",
        "cc-by-nc-4.0",
        "https://huggingface.co/datasets/BramVanroy/no_robots_dutch",
    ),
    "BramVanroy/belebele_dutch": (
        "dataset",
        "license",
        "cc-by-sa-4.0",
        "https://huggingface.co/datasets/BramVanroy/belebele_dutch",
    ),
    "fka/awesome-chatgpt-prompts": (
        "dataset",
        "license",
        "cc0-1.0",
        "https://huggingface.co/datasets/fka/awesome-chatgpt-prompts",
    ),
    "HumanLLMs/Human-Like-DPO-Dataset": (
        "dataset",
        "license",
        "llama3",
        "https://huggingface.co/datasets/HumanLLMs/Human-Like-DPO-Dataset",
    ),
}


def _verdicts(session: Session) -> list[dict[str, Any]]:
    ids = list(
        session.exec(select(Model.id).where(col(Model.missing).is_(False)).order_by(Model.id))
    )
    return verdict_documents(session, ids, use="commercial", policy=load_policy("default"))


def _causes(verdicts: list[dict[str, Any]]) -> list[tuple[tuple[str, str], int]]:
    counted: collections.Counter[tuple[str, str]] = collections.Counter()
    for verdict in verdicts:
        if verdict["verdict"] == "unknown":
            counted.update(
                {
                    (r["code"], r["source"]["id"])
                    for r in verdict["reasons"]
                    if r["severity"] == "review"
                }
            )
    return sorted(counted.items(), key=lambda item: (-item[1], item[0]))


def _row(label: str, verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    unknown = sum(v["verdict"] == "unknown" for v in verdicts)
    failing = sum(not v["gate"]["passes"] for v in verdicts)
    return {
        "state": label,
        "models": len(verdicts),
        "unknown": unknown,
        "unknown_share": unknown / len(verdicts),
        "gate_fails": failing,
    }


def _act_on(session: Session, cause: tuple[str, str]) -> str:
    code, repo = cause
    if repo in FINDINGS:
        kind, field, value, source = FINDINGS[repo]
        record_curation(
            session,
            repo=repo,
            kind=kind,
            field=field,
            value=value,
            source=source,
            comment="license as the repo's card declares it",
            by="bench-reviewer",
        )
        return f"curated {kind} license"
    if code != "license-unknown":
        return "no finding: left open"
    # No fact to correct (the repo names no license anywhere): only a decision helps.
    record_review(
        session,
        model=repo,
        use="commercial",
        decision="rejected",
        comment="no license anywhere in the repo",
        by="bench-reviewer",
    )
    return "review: rejected"


def main() -> None:
    engine = real_records_catalog(Path(tempfile.mkdtemp()) / "unknown-share.db")
    with Session(engine) as session:
        before = _verdicts(session)
        causes = _causes(before)[:10]
        actions = [(cause, count, _act_on(session, cause)) for cause, count in causes]
        after = _verdicts(session)
    rows = [_row("before", before), _row("after 10 causes", after)]
    print(f"{'state':<18}{'models':>7}{'unknown':>9}{'share':>8}{'gate fails':>12}")
    for row in rows:
        print(
            f"{row['state']:<18}{row['models']:>7}{row['unknown']:>9}{row['unknown_share']:>8.1%}{row['gate_fails']:>12}"
        )
    print("\ncauses (verdicts affected, what the reviewer did):")
    for (code, repo), count, action in actions:
        print(f"  {count:>3}  {code:<18} {repo:<40} {action}")
    print("\nmost common causes left:")
    for (code, repo), count in _causes(after)[:5]:
        print(f"  {count:>3}  {code:<18} {repo}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "unknown_share.json").write_text(
        json.dumps({"rows": rows, "causes": [[c, r, n, a] for (c, r), n, a in actions]}, indent=2)
    )


if __name__ == "__main__":
    main()
