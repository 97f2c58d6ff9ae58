"""Read the models out of a CycloneDX BOM, JSON or XML, that any tool wrote: by purl, else by name.

Reading is deliberately lenient about the rest of the document (other tools' BOMs are often not
strictly valid), but strict about what it judges: a model component it cannot map to a Hub repo id
is reported as unmapped, never dropped.

XML is read with defusedxml and no DTD is accepted: a BOM comes from outside, and a DTD's entity
declarations can expand without bound ("billion laughs") or read local files and URLs (XXE).
Nothing in a CycloneDX BOM needs one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as parse_xml
from packageurl import PackageURL

from catalog.errors import BomError, NotCycloneDx
from catalog.repo_ids import is_repo_id

MAX_COMPONENTS = 10_000
MAX_DEPTH = 32  # nested components (assemblies) followed at most this deep
BOM_FORMATS = ("json", "xml")
XML_NAMESPACE = "http://cyclonedx.org/schema/bom/"  # then the version: .../bom/1.6


@dataclass
class BomModels:
    repo_ids: list[str] = field(default_factory=list)
    unmapped: list[dict[str, str | None]] = field(default_factory=list)  # {name, purl, bom-ref}


def _components(components: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every component, nested ones included (assemblies keep theirs under `components`).

    A list that is not a list of objects, or nesting deeper than MAX_DEPTH, is a BomError: a
    model inside it would otherwise go unjudged."""
    if components is None:
        return
    if not isinstance(components, list):
        raise BomError('"components" must be a list of objects')
    if depth > MAX_DEPTH:
        raise BomError(f"components nested more than {MAX_DEPTH} deep")
    for component in components:
        if not isinstance(component, dict):
            raise BomError('"components" must be a list of objects')
        yield component
        yield from _components(component.get("components"), depth + 1)


def _all_components(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The BOM's subject (metadata.component: often the model itself) and every component."""
    metadata = document.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise BomError('"metadata" must be an object')
    subject = (metadata or {}).get("component")
    if subject is not None:
        yield from _components([subject])
    yield from _components(document.get("components"))


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
    return True, repo_id if is_repo_id(repo_id) else None


def _repo_id(component: dict[str, Any]) -> str | None:
    """The repo id a model component names: by its purl where it has one (a purl that names no
    Hub repo, or another ecosystem's package, maps to none: its name is not taken instead), else
    by its name, or group and name."""
    if component.get("purl") is not None:
        return _hub_purl(component.get("purl"))[1]
    name, group = component.get("name"), component.get("group")
    if isinstance(name, str) and is_repo_id(name):
        return name
    if isinstance(name, str) and isinstance(group, str) and is_repo_id(f"{group}/{name}"):
        return f"{group}/{name}"
    return None


def _is_model(component: dict[str, Any]) -> bool:
    return component.get("type") == "machine-learning-model" or _hub_purl(component.get("purl"))[0]


def parse_bom(data: str | bytes, bom_format: str | None = None) -> dict[str, Any]:
    """The BOM as a JSON-shaped object; BomError when it is not a CycloneDX document.

    `bom_format` is json or xml; without it, a document that opens with `<` is XML. An XML BOM
    comes back as what bom_models reads: its components' type, bom-ref, group, name and purl,
    nested components included."""
    if (bom_format or _sniffed_format(data)) == "xml":
        return _xml_bom(data)
    return _json_bom(data)


def _sniffed_format(data: str | bytes) -> str:
    start = data[:64].lstrip() if isinstance(data, str) else data[:64].decode("utf-8", "replace")
    return "xml" if start.lstrip("\ufeff \t\r\n").startswith("<") else "json"


def _json_bom(data: str | bytes) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise BomError(f"not a JSON document: {str(exc)[:200]}") from None
    if not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        raise NotCycloneDx(
            'not a CycloneDX BOM: expected a JSON object with "bomFormat": "CycloneDX"'
        )
    return document


def _xml_bom(data: str | bytes) -> dict[str, Any]:
    try:
        root = parse_xml(data, forbid_dtd=True)
    except DefusedXmlException:
        raise BomError(
            "the XML declares a DTD or entities, which a BOM is not read with "
            "(they could expand without bound or read local files)"
        ) from None
    except (ParseError, ValueError, LookupError) as exc:  # LookupError: an unknown encoding
        raise BomError(f"not an XML document: {str(exc)[:200]}") from None
    namespace, _, name = root.tag.removeprefix("{").partition("}")
    if name != "bom" or not namespace.startswith(XML_NAMESPACE):
        raise NotCycloneDx(f"not a CycloneDX BOM: expected a <bom> element in {XML_NAMESPACE}…")
    tag = f"{{{namespace}}}"
    document: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": namespace.removeprefix(XML_NAMESPACE),
        "components": _xml_components(root.find(f"{tag}components"), tag, 0),
    }
    subject = _xml_components(root.find(f"{tag}metadata"), tag, 0)
    if subject:
        document["metadata"] = {"component": subject[0]}
    return document


def _xml_components(parent: Element | None, tag: str, depth: int) -> list[dict[str, Any]]:
    if parent is None:
        return []
    if depth > MAX_DEPTH:
        raise BomError(f"components nested more than {MAX_DEPTH} deep")
    components = []
    for element in parent.iterfind(f"{tag}component"):
        component: dict[str, Any] = {"type": element.get("type"), "bom-ref": element.get("bom-ref")}
        for field_name in ("group", "name", "purl"):
            text = element.findtext(f"{tag}{field_name}")
            if text is not None:
                component[field_name] = text.strip()
        nested = _xml_components(element.find(f"{tag}components"), tag, depth + 1)
        if nested:
            component["components"] = nested
        components.append(component)
    return components


def bom_models(document: dict[str, Any]) -> BomModels:
    """The model components of a CycloneDX BOM (parsed JSON) as repo ids, and those that map to none."""
    found = BomModels()
    for count, component in enumerate(_all_components(document), start=1):
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


def component_name(component: dict[str, str | None]) -> str:
    """How an unmapped component is named to a person: its purl, else its name, else its bom-ref."""
    return component["purl"] or component["name"] or component["bom-ref"] or "(no name)"


def _text(value: Any) -> str | None:
    """A value shown back to the user: a string, cut short, with what no page or report can
    carry (control characters, lone surrogates) replaced."""
    if not isinstance(value, str):
        return None
    value = value[:300].encode("utf-8", "replace").decode("utf-8")
    return "".join(c if c.isprintable() or c == " " else "\ufffd" for c in value)
