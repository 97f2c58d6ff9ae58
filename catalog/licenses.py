"""The license knowledge base: load and validate licenses.yaml, and resolve card licenses to ids.

Resolution is exact: a card's `license`, `license_name` and `license_link` are normalised (case,
separators, URL form) and looked up whole. A substring or first-match rule once let
`tongyi-qianwen` swallow `tongyi-qianwen-research`, clearing a non-commercial model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import unquote, urlsplit

from catalog.errors import KnowledgeBaseError, LicenseNotFound

# The category vocabulary the policies are written in; how restrictive each is lives in the data.
CATEGORIES = (
    "public-domain",
    "permissive",
    "weak-copyleft",
    "copyleft",
    "open-rail",
    "community",
    "no-derivatives",
    "non-commercial",
    "research-only",
    "unknown",
)
# Terms whose meaning depends on who the user is; a policy's organisation can settle them.
THRESHOLD_CODES = ("user-threshold", "revenue-threshold")
REGION_CODE = "region-restriction"
# How derivatives of a work may be licensed: under any terms (notices kept), only under the same
# agreement, or under any terms that carry the listed conditions (OpenRAIL's use restrictions).
DERIVATIVE_RULES = ("any", "same", "carry")
OUTCOMES = ("allowed", "conditional", "unknown", "forbidden")


@dataclass(frozen=True)
class Term:
    """One permission, condition or limitation of a license, with the clause it rests on."""

    code: str
    text: str
    clause: str | None = None
    threshold: int | None = None
    above: str = "forbidden"  # what exceeding the threshold means
    region: str | None = None  # region-restriction: where the rights are withheld
    scope: str = "all"  # region-restriction: all models, or only multimodal ones
    uses: tuple[str, ...] | None = None  # the uses the term binds; None: every use


@dataclass(frozen=True)
class Unclear:
    """Terms a reviewer must read: the verdict asks for review for these uses."""

    text: str
    uses: tuple[str, ...]


@dataclass(frozen=True)
class License:
    id: str
    name: str
    category: str
    source: str
    spdx: str | None = None
    url: str | None = None
    basis: str | None = None  # the clause the category rests on
    permissions: tuple[Term, ...] = ()
    conditions: tuple[Term, ...] = ()
    limitations: tuple[Term, ...] = ()
    derivatives: str = "same"
    carry: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    unclear: Unclear | None = None
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

    def term_codes(self) -> set[str]:
        return self.condition_codes() | self.limitation_codes()


@dataclass(frozen=True)
class KnowledgeBase:
    licenses: dict[str, License]
    category_rank: dict[str, int]
    spellings: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # normalised license_name → id
    links: dict[str, str] = field(default_factory=dict)  # normalised license_link → id

    def get(self, license_id: str) -> License:
        try:
            return self.licenses[license_id]
        except KeyError:
            raise LicenseNotFound(license_id) from None

    def category(self, license_id: str) -> str:
        entry = self.licenses.get(license_id)
        return entry.category if entry else "unknown"

    def most_restrictive_category(self, license_ids: Iterable[str]) -> str:
        """The category of the most restrictive license among these ('unknown' for none)."""
        categories = [self.category(i) for i in license_ids] or ["unknown"]
        return max(categories, key=self.category_rank.__getitem__)

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
        key = normalise_name(value)
        key = self.spellings.get(key, key)
        if key == "other":
            return self.resolve_other(license_name, license_link) or "other"
        if key in self.licenses:
            return key
        return self.names.get(key, "unknown")

    def resolve_other(self, license_name: Any, license_link: Any) -> str | None:
        """The entry that `license_name` / `license_link` name exactly, or None.

        When name and link name two different entries the card contradicts itself: None."""
        by_name = self._named(normalise_name(license_name)) if _text(license_name) else None
        by_link = self.links.get(normalise_link(license_link)) if _text(license_link) else None
        if by_name and by_link and by_name != by_link:
            return None
        return by_name or by_link

    def _named(self, key: str) -> str | None:
        key = self.spellings.get(key, key)
        if key in self.licenses and key not in ("other", "unknown"):
            return key
        return self.names.get(key)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def normalise_name(value: str) -> str:
    """Lower-case, trim and collapse spaces/underscores so 'Apache 2.0 ' meets 'apache-2.0'."""
    return re.sub(r"[\s_]+", "-", value.strip().lower())


_REVISION = re.compile(r"/(?:blob|resolve|raw|tree)/([^/]+)/")
_COMMIT = re.compile(r"[0-9a-f]{7,40}")


def _revision(match: re.Match[str]) -> str:
    # A branch moves, so any branch means the file as it is; a commit pins one text.
    revision = match.group(1).lower()
    return f"/blob/{revision}/" if _COMMIT.fullmatch(revision) else "/blob/*/"


def normalise_link(value: str) -> str:
    """A license URL in one form: no scheme, 'www.', query, fragment, escapes or trailing slash;
    Hub and GitHub file links on any branch ('blob/main', 'resolve/main') as 'blob/*'."""
    text = value.strip()
    parts = urlsplit(text if "://" in text else f"https://{text}")
    host = parts.netloc.lower().removeprefix("www.")
    path = _REVISION.sub(_revision, unquote(parts.path).rstrip("/"))
    return f"{host}{path}".lower()


def _terms(raw: Any, known: dict[str, str], where: str) -> tuple[Term, ...]:
    if not isinstance(raw, list):
        raise KnowledgeBaseError(f"{where}: expected a list, got {type(raw).__name__}")
    return tuple(_term(item, known, where) for item in raw)


def _term(item: Any, known: dict[str, str], where: str) -> Term:
    spec = item if isinstance(item, dict) else {"code": item}
    code = spec.get("code")
    if code not in known:
        raise KnowledgeBaseError(f"{where}: unknown term code {code!r}")
    threshold = spec.get("threshold")
    if threshold is not None and (not isinstance(threshold, int) or isinstance(threshold, bool)):
        raise KnowledgeBaseError(f"{where}: {code} threshold must be an integer")
    if code in THRESHOLD_CODES and threshold is None and spec.get("uses") is not None:
        raise KnowledgeBaseError(f"{where}: {code} limited to uses needs a threshold")
    if code == REGION_CODE and not spec.get("region"):
        raise KnowledgeBaseError(f"{where}: {code} needs a region")
    if spec.get("above", "forbidden") not in OUTCOMES:
        raise KnowledgeBaseError(f"{where}: {code} above must be one of {', '.join(OUTCOMES)}")
    uses = spec.get("uses")
    return Term(
        code=code,
        text=spec.get("text") or known[code],
        clause=spec.get("clause"),
        threshold=threshold,
        above=spec.get("above", "forbidden"),
        region=spec.get("region"),
        scope=spec.get("scope", "all"),
        uses=tuple(uses) if uses is not None else None,
    )


def _license(
    raw: dict[str, Any], terms: dict[str, dict[str, str]], ranks: dict[str, int]
) -> License:
    where = f"license {raw.get('id')!r}"
    for required in ("id", "name", "category", "source"):
        if not isinstance(raw.get(required), str):
            raise KnowledgeBaseError(f"{where}: missing {required}")
    if raw["category"] not in ranks:
        raise KnowledgeBaseError(f"{where}: unknown category {raw['category']!r}")
    derivatives = raw.get("derivatives", _default_derivatives(raw["category"]))
    if derivatives not in DERIVATIVE_RULES:
        raise KnowledgeBaseError(
            f"{where}: derivatives must be one of {', '.join(DERIVATIVE_RULES)}"
        )
    unclear = raw.get("unclear")
    return License(
        id=raw["id"],
        name=raw["name"],
        category=raw["category"],
        source=raw["source"],
        spdx=raw.get("spdx"),
        url=raw.get("url"),
        basis=raw.get("basis"),
        permissions=_terms(raw.get("permissions", []), terms["permissions"], where),
        conditions=_terms(raw.get("conditions", []), terms["conditions"], where),
        limitations=_terms(raw.get("limitations", []), terms["limitations"], where),
        derivatives=derivatives,
        carry=tuple(raw.get("carry") or ()),
        names=tuple(raw.get("names") or ()),
        links=tuple(raw.get("links") or ()),
        unclear=Unclear(unclear["text"], tuple(unclear["uses"])) if unclear else None,
        hub=raw.get("hub", True),
        legacy=raw.get("legacy", False),
        scancode=raw.get("scancode"),
        dpi=raw.get("dpi"),
        differs=raw.get("differs"),
        note=raw.get("note"),
    )


def _default_derivatives(category: str) -> str:
    # Permissive and public-domain grants let derivatives carry other terms (notices kept).
    return "any" if category in ("public-domain", "permissive") else "same"


def _index(licenses: dict[str, License], attribute: str, normalise: Any) -> dict[str, str]:
    """Map each normalised alias to its entry; an alias claimed by two entries is an error."""
    index: dict[str, str] = {}
    for entry in licenses.values():
        for alias in getattr(entry, attribute):
            key = normalise(alias)
            if index.get(key, entry.id) != entry.id:
                raise KnowledgeBaseError(
                    f"{attribute[:-1]} {alias!r} names both {index[key]!r} and {entry.id!r}"
                )
            index[key] = entry.id
    return index


def _category_ranks(document: dict[str, Any]) -> dict[str, int]:
    raw = document.get("categories")
    if not isinstance(raw, list) or not raw:
        raise KnowledgeBaseError("categories must be a list, most permissive first")
    ranks = {}
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("rank"), int):
            raise KnowledgeBaseError(f"category {item!r} needs an id and an integer rank")
        ranks[str(item["id"])] = item["rank"]
    if set(ranks) != set(CATEGORIES):
        raise KnowledgeBaseError(f"categories must be exactly {', '.join(CATEGORIES)}")
    return ranks


def parse_knowledge_base(document: dict[str, Any]) -> KnowledgeBase:
    """Validate a licenses.yaml document and build the knowledge base."""
    terms = document.get("terms") or {}
    for kind in ("permissions", "conditions", "limitations"):
        if not isinstance(terms.get(kind), dict):
            raise KnowledgeBaseError(f"terms.{kind} must be a mapping of code to text")
    ranks = _category_ranks(document)
    licenses: dict[str, License] = {}
    for raw in document.get("licenses") or []:
        entry = _license(raw, terms, ranks)
        if entry.id in licenses:
            raise KnowledgeBaseError(f"license {entry.id!r} is listed twice")
        licenses[entry.id] = entry
    spellings = {normalise_name(k): v for k, v in (document.get("spellings") or {}).items()}
    for target in spellings.values():
        if target not in licenses:
            raise KnowledgeBaseError(f"spelling points to unknown license {target!r}")
    names = _index(licenses, "names", normalise_name)
    for key in names:
        if key in licenses and names[key] != key:
            raise KnowledgeBaseError(f"name {key!r} of {names[key]!r} is another entry's id")
    return KnowledgeBase(
        licenses=licenses,
        category_rank=ranks,
        spellings=spellings,
        names=names,
        links=_index(licenses, "links", normalise_link),
    )


def knowledge_text() -> str:
    return resources.files("catalog.data").joinpath("licenses.yaml").read_text(encoding="utf-8")


@cache
def knowledge_base() -> KnowledgeBase:
    """The bundled knowledge base, loaded once per process."""
    from catalog.yaml_safe import safe_load  # not at import: `scan` and --help need no YAML

    return parse_knowledge_base(safe_load(knowledge_text()))
