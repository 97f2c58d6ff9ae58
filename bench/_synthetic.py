"""Deterministic synthetic catalogs for the benchmarks: a realistic mix of licenses and lineage."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

# Roughly the Hub's mix: mostly permissive, then unknown/other, RAIL, community, NC.
LICENSE_MIX = [
    ("apache-2.0", 30),
    ("mit", 18),
    ("other", 10),
    (None, 10),
    ("openrail", 5),
    ("llama2", 4),
    ("llama3", 3),
    ("cc-by-nc-4.0", 5),
    ("cc-by-4.0", 3),
    ("creativeml-openrail-m", 4),
    ("gemma", 2),
    ("cc-by-nc-sa-4.0", 2),
    ("gpl-3.0", 1),
    ("bigscience-bloom-rail-1.0", 1),
    ("cc-by-sa-4.0", 1),
    ("afl-3.0", 1),
]
TASKS = [
    "text-generation",
    "text-classification",
    "text2text-generation",
    "image-classification",
    "automatic-speech-recognition",
    "text-to-image",
    "fill-mask",
    "token-classification",
]
LIBRARIES = ["transformers", "diffusers", "peft", "gguf", "sentence-transformers", "timm", None]
LANGUAGES = ["en", "fr", "de", "zh", "es", "ja", "multilingual"]
RELATIONS = ["finetune", "finetune", "adapter", "quantized", "merge"]


def _pick(rng: random.Random, mix: list[tuple[Any, int]]) -> Any:
    values, weights = zip(*mix, strict=True)
    return rng.choices(values, weights)[0]


def synthetic_models(
    count: int, seed: int = 7, datasets: int = 1000, no_card_share: float = 0.1
) -> Iterator[dict[str, Any]]:
    """Hub JSON for `count` models; lineage depth 0-3 (bases always precede their children)."""
    rng = random.Random(seed)
    depth_of: list[int] = []
    for index in range(count):
        repo_id = f"org{index % 997}/model-{index:07d}"
        info: dict[str, Any] = {
            "id": repo_id,
            "author": repo_id.split("/")[0],
            "sha": f"{index:040x}",
            "lastModified": f"2025-{1 + index % 12:02d}-{1 + index % 28:02d}T00:00:00.000Z",
            "createdAt": "2024-01-01T00:00:00.000Z",
            "downloads": rng.randint(0, 100000),
            "likes": rng.randint(0, 500),
            "pipeline_tag": rng.choice(TASKS),
            "library_name": rng.choice(LIBRARIES),
            "tags": [],
        }
        depth = 0
        card: dict[str, Any] = {}
        if rng.random() >= no_card_share:
            license_id = _pick(rng, LICENSE_MIX)
            if license_id:
                card["license"] = license_id
            card["language"] = [rng.choice(LANGUAGES)]
            if index > 10 and rng.random() < 0.6:
                parent = rng.randrange(index)
                if depth_of[parent] < 3:
                    card["base_model"] = f"org{parent % 997}/model-{parent:07d}"
                    card["base_model_relation"] = rng.choice(RELATIONS)
                    depth = depth_of[parent] + 1
            if rng.random() < 0.3:
                card["datasets"] = [f"data/set-{rng.randrange(datasets):05d}"]
        depth_of.append(depth)
        info["cardData"] = card
        yield info


def synthetic_datasets(count: int = 1000, seed: int = 11) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for index in range(count):
        license_id = _pick(
            rng,
            [("apache-2.0", 4), ("cc-by-4.0", 3), ("cc-by-nc-4.0", 2), ("odc-by", 1), (None, 2)],
        )
        card = {"license": license_id} if license_id else {}
        yield {
            "kind": "dataset",
            "id": f"data/set-{index:05d}",
            "sha": f"{index:040x}",
            "lastModified": f"2025-{1 + index % 12:02d}-01T00:00:00.000Z",
            "cardData": card,
        }


def build_catalog(
    url: str, count: int, *, batch: int = 5000, report: Callable[[int], None] | None = None
) -> None:
    """Write a synthetic catalog of `count` models (and the datasets they cite) into a database."""
    from sqlmodel import Session

    from catalog.db import make_engine, upgrade_schema
    from catalog.licenses import knowledge_base
    from catalog.registry import sync_licenses, upsert_datasets, upsert_models
    from ingest.cards import dataset_record, model_record

    engine = make_engine(url)
    upgrade_schema(engine)
    kb = knowledge_base()
    with Session(engine) as session:
        sync_licenses(session, kb)
        upsert_datasets(session, [dataset_record(d, kb) for d in synthetic_datasets()])
        records = []
        for index, info in enumerate(synthetic_models(count), start=1):
            records.append(model_record(info, kb))
            if len(records) == batch:
                upsert_models(session, records)
                session.commit()
                records.clear()
                if report:
                    report(index)
        upsert_models(session, records)
        session.commit()
    engine.dispose()
