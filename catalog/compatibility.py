"""Compatibility rules (compatibility.yaml): derivative relations and terms that cannot meet."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from catalog.errors import KnowledgeBaseError
from catalog.yaml_safe import safe_load


@dataclass(frozen=True)
class Compatibility:
    derivative_relations: frozenset[str]
    technical_relations: frozenset[str]
    multimodal_tasks: frozenset[str]
    share_alike: frozenset[str]
    share_alike_clause: str
    compatible: dict[tuple[str, str], str]  # (from, to) → clause
    restrictions: frozenset[str]
    restrictions_clause: str

    def satisfiable_together(self, a: str, b: str) -> bool:
        """Whether two share-alike licenses can both be met by one adapted work."""
        return a == b or (a, b) in self.compatible or (b, a) in self.compatible


def _strings(raw: Any, where: str) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise KnowledgeBaseError(f"compatibility.yaml: {where} must be a list of strings")
    return frozenset(raw)


def parse_compatibility(document: dict[str, Any], license_ids: set[str]) -> Compatibility:
    """Validate compatibility.yaml against the knowledge base's ids."""
    share_alike = document.get("share_alike") or {}
    ids = _strings(share_alike.get("ids"), "share_alike.ids")
    compatible = {}
    for pair in document.get("compatible") or []:
        key = (pair.get("from"), pair.get("to"))
        if not {key[0], key[1]} <= ids or not pair.get("clause"):
            raise KnowledgeBaseError(
                f"compatibility.yaml: {key} needs two share-alike ids and a clause"
            )
        compatible[key] = str(pair["clause"])
    unknown = ids - license_ids
    if unknown:
        raise KnowledgeBaseError(f"compatibility.yaml names unknown licenses: {sorted(unknown)}")
    restrictions = document.get("additional_restrictions") or {}
    return Compatibility(
        derivative_relations=_strings(document.get("derivative_relations"), "derivative_relations"),
        technical_relations=_strings(document.get("technical_relations"), "technical_relations"),
        multimodal_tasks=_strings(document.get("multimodal_tasks"), "multimodal_tasks"),
        share_alike=ids,
        share_alike_clause=str(share_alike.get("clause") or ""),
        compatible=compatible,
        restrictions=_strings(restrictions.get("terms"), "additional_restrictions.terms"),
        restrictions_clause=str(restrictions.get("clause") or ""),
    )


def compatibility_text() -> str:
    return resources.files("catalog.data").joinpath("compatibility.yaml").read_text("utf-8")


@cache
def compatibility() -> Compatibility:
    """The bundled rules, loaded once per process."""
    from catalog.licenses import knowledge_base

    return parse_compatibility(safe_load(compatibility_text()), set(knowledge_base().licenses))
