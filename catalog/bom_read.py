"""Read the models out of a CycloneDX JSON BOM that any tool wrote: by purl, else by name.

Reading is deliberately lenient about the rest of the document (other tools' BOMs are often not
strictly valid), but strict about what it judges: a model component it cannot map to a Hub repo id
is reported as unmapped, never dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from packageurl import PackageURL

from catalog.errors import BomError

MAX_COMPONENTS = 10_000
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$")


@dataclass
class BomModels:
    repo_ids: list[str] = field(default_factory=list)
    unmapped: list[dict[str, str | None]] = field(default_factory=list)  # {name, purl, bom-ref}


def _components(components: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every component, nested ones included (assemblies keep theirs under `components`)."""
    if not isinstance(components, list) or depth > 32:
        return
    for component in components:
        if isinstance(component, dict):
            yield component
            yield from _components(component.get("components"), depth + 1)


def _hub_purl(purl: Any) -> tuple[bool, str | None]:
    """(is a huggingface purl, its repo id when it has one)."""
    if not isinstance(purl, str):
        return False, None
    try:
        parsed = PackageURL.from_string(purl)
    except ValueError:
        return False, None
    if parsed.type != "huggingface":
        return False, None
    repo_id = f"{parsed.namespace}/{parsed.name}" if parsed.namespace else parsed.name
    return True, repo_id if _REPO_ID.match(repo_id) else None


def _repo_id(component: dict[str, Any]) -> str | None:
    _, repo_id = _hub_purl(component.get("purl"))
    if repo_id:
        return repo_id
    name, group = component.get("name"), component.get("group")
    if isinstance(name, str) and _REPO_ID.match(name):
        return name
    if isinstance(name, str) and isinstance(group, str) and _REPO_ID.match(f"{group}/{name}"):
        return f"{group}/{name}"
    return None


def _is_model(component: dict[str, Any]) -> bool:
    return component.get("type") == "machine-learning-model" or _hub_purl(component.get("purl"))[0]


def parse_bom(text: str | bytes) -> dict[str, Any]:
    """The BOM's JSON object; BomError when it is not a CycloneDX JSON document."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BomError(f"not a JSON document: {str(exc)[:200]}") from None
    if not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        raise BomError('not a CycloneDX BOM: expected a JSON object with "bomFormat": "CycloneDX"')
    return document


def bom_models(document: dict[str, Any]) -> BomModels:
    """The model components of a CycloneDX BOM (parsed JSON) as repo ids, and those that map to none."""
    if not isinstance(document.get("components", []), list):
        raise BomError('"components" must be a list')
    found = BomModels()
    for count, component in enumerate(_components(document.get("components")), start=1):
        if count > MAX_COMPONENTS:
            raise BomError(f"more than {MAX_COMPONENTS} components")
        if not _is_model(component):
            continue
        repo_id = _repo_id(component)
        if repo_id is None:
            found.unmapped.append(
                {key: _text(component.get(key)) for key in ("name", "purl", "bom-ref")}
            )
        elif repo_id not in found.repo_ids:
            found.repo_ids.append(repo_id)
    return found


def _text(value: Any) -> str | None:
    return value[:300] if isinstance(value, str) else None
