"""Normalised repo records: what ingest produces and the registry stores."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

RELATIONS = ("finetune", "adapter", "quantized", "merge")


@dataclass
class ModelRecord:
    id: str
    author: str | None = None
    sha: str | None = None
    last_modified: datetime | None = None
    created_at: datetime | None = None
    downloads: int = 0
    likes: int = 0
    pipeline_tag: str | None = None
    library_name: str | None = None
    languages: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    gated: str | None = None
    disabled: bool = False
    private: bool = False
    declared_license: str | None = None
    license_name: str | None = None
    license_link: str | None = None
    license_ids: list[str] = field(default_factory=lambda: ["unknown"])
    license_category: str = "unknown"
    card_data: dict[str, Any] | None = None
    card_errors: list[str] = field(default_factory=list)
    summary: str | None = None
    bases: list[tuple[str, str]] = field(default_factory=list)  # (base id, relation)
    datasets: list[str] = field(default_factory=list)

    def content_digest(self) -> str:
        return content_digest(self)

    def columns(self) -> dict[str, Any]:
        """The values of the model table's columns."""
        # Shallow on purpose: asdict() would deep-copy every card.
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("bases", "datasets")
        }


@dataclass
class DatasetRecord:
    id: str
    author: str | None = None
    sha: str | None = None
    last_modified: datetime | None = None
    created_at: datetime | None = None
    downloads: int = 0
    likes: int = 0
    languages: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    task_categories: list[str] = field(default_factory=list)
    gated: str | None = None
    disabled: bool = False
    declared_license: str | None = None
    license_name: str | None = None
    license_link: str | None = None
    license_ids: list[str] = field(default_factory=lambda: ["unknown"])
    license_category: str = "unknown"
    card_data: dict[str, Any] | None = None
    card_errors: list[str] = field(default_factory=list)

    def content_digest(self) -> str:
        return content_digest(self)

    def columns(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def content_digest(record: ModelRecord | DatasetRecord) -> str:
    """A digest of every normalised fact in a record: equal digests mean nothing to write.

    Import compares this rather than trusting `lastModified` alone, which a hand-corrected line
    (a fixed license or task) keeps.
    """
    facts = {f.name: getattr(record, f.name) for f in fields(record)}
    text = json.dumps(facts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
