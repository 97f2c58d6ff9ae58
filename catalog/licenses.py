"""The license knowledge base: load and validate licenses.yaml, and resolve card licenses to ids."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from catalog.errors import KnowledgeBaseError, LicenseNotFound

CATEGORIES = (
    "public-domain",
    "permissive",
    "weak-copyleft",
    "copyleft",
    "open-rail",
    "community",
    "non-commercial",
    "research-only",
    "unknown",
)

# How restrictive a category is, for picking the effective category and spotting conflicts.
# open-rail and community both allow commercial use under binding conditions.
CATEGORY_RANK = {
    "public-domain": 0,
    "permissive": 1,
    "weak-copyleft": 2,
    "copyleft": 3,
    "open-rail": 4,
    "community": 4,
    "non-commercial": 6,
    "research-only": 7,
    "unknown": 8,
}


@dataclass(frozen=True)
class Term:
    """One permission, condition or limitation of a license."""

    code: str
    text: str
    threshold: int | None = None


@dataclass(frozen=True)
class License:
    id: str
    name: str
    category: str
    source: str
    spdx: str | None = None
    url: str | None = None
    permissions: tuple[Term, ...] = ()
    conditions: tuple[Term, ...] = ()
    limitations: tuple[Term, ...] = ()
    hub: bool = True
    legacy: bool = False
    scancode: str | None = None
    dpi: str | None = None
    differs: str | None = None
    note: str | None = None

    def condition_codes(self) -> set[str]:
        return {t.code for t in self.conditions}

    def limitation_codes(self) -> set[str]:
        return {t.code for t in self.limitations}


@dataclass(frozen=True)
class KnowledgeBase:
    licenses: dict[str, License]
    aliases: tuple[tuple[str, str], ...] = ()
    spellings: dict[str, str] = field(default_factory=dict)

    def get(self, license_id: str) -> License:
        try:
            return self.licenses[license_id]
        except KeyError:
            raise LicenseNotFound(license_id) from None

    def resolve(
        self, declared: Any, license_name: Any = None, license_link: Any = None
    ) -> list[str]:
        """Turn a card's license fields into knowledge-base ids; unrecognised terms give 'unknown'."""
        values = declared if isinstance(declared, list) else [declared]
        ids: list[str] = []
        for value in values:
            license_id = self._resolve_one(value, license_name, license_link)
            if license_id not in ids:
                ids.append(license_id)
        return ids or ["unknown"]

    def _resolve_one(self, value: Any, license_name: Any, license_link: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            return "unknown"
        key = normalise_spelling(value)
        key = self.spellings.get(key, key)
        if key == "other":
            return self._resolve_other(license_name, license_link)
        return key if key in self.licenses else "unknown"

    def _resolve_other(self, license_name: Any, license_link: Any) -> str:
        for text in (license_name, license_link):
            if isinstance(text, str) and text.strip():
                haystack = text.strip().lower()
                for needle, license_id in self.aliases:
                    if needle in haystack:
                        return license_id
        return "other"


def normalise_spelling(value: str) -> str:
    """Lower-case, trim and collapse spaces/underscores so 'Apache 2.0 ' meets 'apache-2.0'."""
    return re.sub(r"[\s_]+", "-", value.strip().lower())


def _terms(raw: Any, known: dict[str, str], where: str) -> tuple[Term, ...]:
    if not isinstance(raw, list):
        raise KnowledgeBaseError(f"{where}: expected a list, got {type(raw).__name__}")
    terms = []
    for item in raw:
        spec = item if isinstance(item, dict) else {"code": item}
        code = spec.get("code")
        if code not in known:
            raise KnowledgeBaseError(f"{where}: unknown term code {code!r}")
        threshold = spec.get("threshold")
        if threshold is not None and not isinstance(threshold, int):
            raise KnowledgeBaseError(f"{where}: threshold must be an integer")
        terms.append(Term(code=code, text=spec.get("text") or known[code], threshold=threshold))
    return tuple(terms)


def _license(raw: dict[str, Any], terms: dict[str, dict[str, str]]) -> License:
    where = f"license {raw.get('id')!r}"
    for required in ("id", "name", "category", "source"):
        if not isinstance(raw.get(required), str):
            raise KnowledgeBaseError(f"{where}: missing {required}")
    if raw["category"] not in CATEGORIES:
        raise KnowledgeBaseError(f"{where}: unknown category {raw['category']!r}")
    return License(
        id=raw["id"],
        name=raw["name"],
        category=raw["category"],
        source=raw["source"],
        spdx=raw.get("spdx"),
        url=raw.get("url"),
        permissions=_terms(raw.get("permissions", []), terms["permissions"], where),
        conditions=_terms(raw.get("conditions", []), terms["conditions"], where),
        limitations=_terms(raw.get("limitations", []), terms["limitations"], where),
        hub=raw.get("hub", True),
        legacy=raw.get("legacy", False),
        scancode=raw.get("scancode"),
        dpi=raw.get("dpi"),
        differs=raw.get("differs"),
        note=raw.get("note"),
    )


def parse_knowledge_base(document: dict[str, Any]) -> KnowledgeBase:
    """Validate a licenses.yaml document and build the knowledge base."""
    terms = document.get("terms") or {}
    for kind in ("permissions", "conditions", "limitations"):
        if not isinstance(terms.get(kind), dict):
            raise KnowledgeBaseError(f"terms.{kind} must be a mapping of code to text")
    licenses: dict[str, License] = {}
    for raw in document.get("licenses") or []:
        entry = _license(raw, terms)
        if entry.id in licenses:
            raise KnowledgeBaseError(f"license {entry.id!r} is listed twice")
        licenses[entry.id] = entry
    aliases = tuple((a["match"].lower(), a["id"]) for a in document.get("aliases") or [])
    spellings = dict(document.get("spellings") or {})
    for target in [t for _, t in aliases] + list(spellings.values()):
        if target not in licenses:
            raise KnowledgeBaseError(f"alias or spelling points to unknown license {target!r}")
    return KnowledgeBase(licenses=licenses, aliases=aliases, spellings=spellings)


@cache
def knowledge_base() -> KnowledgeBase:
    """The bundled knowledge base, loaded once per process."""
    text = resources.files("catalog.data").joinpath("licenses.yaml").read_text(encoding="utf-8")
    return parse_knowledge_base(yaml.safe_load(text))
