"""Normalise Hub API JSON (model_info / dataset_info shape, cardData inside) into catalog records.

Cards are written by hand and are often wrong: a field of the wrong type is recorded as a card
error on the record and the rest is kept, never guessed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from catalog.db import as_utc
from catalog.licenses import KnowledgeBase, knowledge_base
from catalog.records import RELATIONS, DatasetRecord, ModelRecord
from ingest.errors import BadRecord

MAX_CARD_BYTES = 256 * 1024


def parse_datetime(value: Any) -> datetime | None:
    """Hub dates come as '2024-02-19T11:06:12.000Z' (API) or '2024-12-26 00:20:08+00:00' (exports)."""
    if isinstance(value, datetime):
        return as_utc(value)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return as_utc(parsed)


class _Reader:
    """Reads typed fields out of a card, noting what is malformed."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.errors: list[str] = []
        card = raw.get("cardData", raw.get("card_data"))
        if card is not None and not isinstance(card, dict):
            self.errors.append(f"cardData: expected a mapping, got {type(card).__name__}")
            card = None
        self.card: dict[str, Any] = card or {}
        self.tags = self.string_list(raw.get("tags"), "tags")

    def string(self, value: Any, name: str) -> str | None:
        if value is None or isinstance(value, str):
            return value.strip() or None if isinstance(value, str) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        self.errors.append(f"{name}: expected a string, got {type(value).__name__}")
        return None

    def string_list(self, value: Any, name: str) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            return [value.strip()] if value.strip() else []
        if not isinstance(value, list):
            self.errors.append(
                f"{name}: expected a string or a list of strings, got {type(value).__name__}"
            )
            return []
        items = [v.strip() for v in value if isinstance(v, str) and v.strip()]
        if len(items) != len(value):
            self.errors.append(f"{name}: non-string entries were dropped")
        return list(dict.fromkeys(items))

    def integer(self, value: Any, name: str) -> int:
        if value is None:
            return 0
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self.errors.append(f"{name}: expected an integer, got {type(value).__name__}")
        return 0

    def tag_values(self, prefix: str) -> list[str]:
        return [t[len(prefix) :] for t in self.tags if t.startswith(prefix)]

    def first(self, *names: str) -> Any:
        for name in names:
            if name in self.card and self.card[name] is not None:
                return self.card[name]
            if name in self.raw and self.raw[name] is not None:
                return self.raw[name]
        return None


def _repo_id(raw: Any) -> str:
    if not isinstance(raw, dict):
        raise BadRecord(f"expected a JSON object, got {type(raw).__name__}")
    repo_id = raw.get("id") or raw.get("modelId")
    if (
        not isinstance(repo_id, str)
        or not repo_id.strip()
        or repo_id.startswith(("http://", "https://"))
    ):
        raise BadRecord(f"no usable repo id: {repo_id!r}")
    return repo_id.strip()


def _gated(value: Any) -> str:
    if value in (None, False, "false", "False"):
        return "false"
    return str(value).lower() if value is not True else "true"


def _json_safe(card: dict[str, Any], errors: list[str]) -> dict[str, Any] | None:
    if not card:
        return None
    text = json.dumps(card, default=str, sort_keys=True)
    if len(text) > MAX_CARD_BYTES:
        errors.append(
            f"card metadata is {len(text)} bytes, over the {MAX_CARD_BYTES}-byte limit; stored without it"
        )
        return None
    return json.loads(text)


def _licenses(
    reader: _Reader, kb: KnowledgeBase
) -> tuple[str | None, str | None, str | None, list[str], str]:
    declared_value = reader.card.get("license")
    if declared_value is None:
        tagged = reader.tag_values("license:")
        declared_value = tagged if len(tagged) > 1 else (tagged[0] if tagged else None)
    if declared_value is not None and not isinstance(declared_value, str | list):
        reader.errors.append(
            f"license: expected a string or a list, got {type(declared_value).__name__}"
        )
        declared_value = None
    declared = ", ".join(reader.string_list(declared_value, "license")) or None
    name = reader.string(reader.card.get("license_name"), "license_name")
    link = reader.string(reader.card.get("license_link"), "license_link")
    ids = kb.resolve(declared_value, name, link) if declared_value else ["unknown"]
    category = kb.most_restrictive_category(ids)
    return declared, name, link, ids, category


def stored_card_license(
    card: dict[str, Any] | None, tags: list[str] | None, kb: KnowledgeBase
) -> tuple[list[str], str]:
    """License ids and category of a card already in the catalog, read as ingest reads new ones."""
    reader = _Reader({"cardData": card or {}, "tags": tags or []})
    _, _, _, ids, category = _licenses(reader, kb)
    return ids, category


def _bases(reader: _Reader) -> list[tuple[str, str]]:
    declared = reader.string_list(reader.card.get("base_model"), "base_model")
    relation = reader.string(reader.card.get("base_model_relation"), "base_model_relation")
    if relation is not None and relation not in RELATIONS:
        reader.errors.append(
            f"base_model_relation: {relation!r} is not one of {', '.join(RELATIONS)}"
        )
        relation = None
    tagged: dict[str, str] = {}
    for value in reader.tag_values("base_model:"):
        parts = value.split(":", 1)
        if len(parts) == 2 and parts[0] in RELATIONS:
            tagged[parts[1]] = parts[0]
        else:
            tagged.setdefault(value, "")
    ids = declared or list(tagged)
    default = "merge" if len(ids) > 1 else "finetune"
    return [(base, relation or tagged.get(base) or default) for base in ids if base]


def model_record(raw: Any, kb: KnowledgeBase | None = None) -> ModelRecord:
    """Normalise one model's Hub JSON into a ModelRecord; malformed fields become card errors."""
    repo_id = _repo_id(raw)
    kb = kb or knowledge_base()
    reader = _Reader(raw)
    declared, name, link, ids, category = _licenses(reader, kb)
    datasets = reader.string_list(reader.card.get("datasets"), "datasets") or reader.tag_values(
        "dataset:"
    )
    record = ModelRecord(
        id=repo_id,
        author=reader.string(raw.get("author"), "author")
        or (repo_id.split("/")[0] if "/" in repo_id else None),
        sha=reader.string(raw.get("sha"), "sha"),
        last_modified=parse_datetime(raw.get("lastModified", raw.get("last_modified"))),
        created_at=parse_datetime(raw.get("createdAt", raw.get("created_at"))),
        downloads=reader.integer(raw.get("downloads"), "downloads"),
        likes=reader.integer(raw.get("likes"), "likes"),
        pipeline_tag=reader.string(reader.first("pipeline_tag"), "pipeline_tag"),
        library_name=reader.string(reader.first("library_name"), "library_name"),
        languages=reader.string_list(reader.card.get("language"), "language"),
        tags=reader.tags,
        gated=_gated(raw.get("gated")),
        disabled=bool(raw.get("disabled", False)),
        private=bool(raw.get("private", False)),
        declared_license=declared,
        license_name=name,
        license_link=link,
        license_ids=ids,
        license_category=category,
        bases=_bases(reader),
        datasets=datasets,
    )
    record.summary = reader.string(reader.card.get("model_name"), "model_name")
    record.card_data = _json_safe(reader.card, reader.errors)
    record.card_errors = list(raw.get("_card_errors") or []) + reader.errors
    return record


def dataset_record(raw: Any, kb: KnowledgeBase | None = None) -> DatasetRecord:
    """Normalise one dataset's Hub JSON into a DatasetRecord."""
    repo_id = _repo_id(raw)
    kb = kb or knowledge_base()
    reader = _Reader(raw)
    declared, name, link, ids, category = _licenses(reader, kb)
    record = DatasetRecord(
        id=repo_id,
        author=reader.string(raw.get("author"), "author")
        or (repo_id.split("/")[0] if "/" in repo_id else None),
        sha=reader.string(raw.get("sha"), "sha"),
        last_modified=parse_datetime(raw.get("lastModified", raw.get("last_modified"))),
        created_at=parse_datetime(raw.get("createdAt", raw.get("created_at"))),
        downloads=reader.integer(raw.get("downloads"), "downloads"),
        likes=reader.integer(raw.get("likes"), "likes"),
        languages=reader.string_list(reader.card.get("language"), "language"),
        tags=reader.tags,
        task_categories=reader.string_list(reader.card.get("task_categories"), "task_categories"),
        gated=_gated(raw.get("gated")),
        disabled=bool(raw.get("disabled", False)),
        declared_license=declared,
        license_name=name,
        license_link=link,
        license_ids=ids,
        license_category=category,
    )
    record.card_data = _json_safe(reader.card, reader.errors)
    record.card_errors = list(raw.get("_card_errors") or []) + reader.errors
    return record
