"""CycloneDX 1.6 ML-BOMs out of catalog facts and verdicts (through cyclonedx-python-lib).

Each model is a `machine-learning-model` component: purl `pkg:huggingface/owner/name@sha` when the
commit is known, its own licenses (SPDX ids, else named licenses with their text's URL), its base
models as pedigree ancestors, and its training datasets as `data` components it depends on. The
verdict, obligations, conflicts and reasons are properties in the `modelcatalog:` namespace
(see PROPERTY_NAMES); the library has no model-card object yet, so none is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata

from cyclonedx.model import ExternalReference, ExternalReferenceType, Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType, Pedigree
from cyclonedx.model.license import DisjunctiveLicense
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL
from sqlmodel import Session, col, select

from catalog.compliance import Verdict, evaluate
from catalog.db import chunked
from catalog.licenses import KnowledgeBase, knowledge_base
from catalog.lineage import Lineage, RepoFacts, load_lineage
from catalog.policies import Policy
from catalog.tables import Model

NAMESPACE = "modelcatalog"
HUB_URL = "https://huggingface.co"
# Every property this module writes: name → what its value holds. The README documents them.
PROPERTY_NAMES = {
    "modelcatalog:use": "the use judged (commercial, research, ...)",
    "modelcatalog:policy": "the policy that judged it",
    "modelcatalog:verdict": "allowed | conditional | forbidden | unknown",
    "modelcatalog:effective-license": "a license id the model carries after its lineage (repeated)",
    "modelcatalog:effective-category": "the effective license's category",
    "modelcatalog:reason": "code: text of a reason the verdict is not allowed (repeated)",
    "modelcatalog:obligation": "code: text of an obligation to meet (repeated)",
    "modelcatalog:conflict": "a license conflict in the lineage, in words (repeated)",
    "modelcatalog:relation": "on an ancestor: finetune | adapter | quantized | merge",
    "modelcatalog:in-catalog": "false when the catalog has no record of the repo",
    "modelcatalog:found-in": "path:line where a scan found the model, path:line (cell N) in a "
    "notebook, the line counting within the cell (repeated)",
}


@dataclass(frozen=True)
class RepoRow:
    """The per-repo facts a BOM needs that verdicts do not: the commit and a custom license's name."""

    sha: str | None = None
    license_name: str | None = None
    license_link: str | None = None


@dataclass
class BomRequest:
    repo_ids: Sequence[str]
    use: str
    policy: Policy
    found_in: dict[str, list[str]] = field(default_factory=dict)  # repo id → ["path:line", ...]


def _repo_rows(session: Session, ids: Iterable[str]) -> dict[str, RepoRow]:
    rows: dict[str, RepoRow] = {}
    for chunk in chunked(sorted(set(ids))):
        query = select(Model.id, Model.sha, Model.license_name, Model.license_link).where(
            col(Model.id).in_(chunk)
        )
        for repo_id, sha, name, link in session.exec(query):
            rows[repo_id] = RepoRow(sha, name, link)
    return rows


def model_purl(repo_id: str, sha: str | None) -> PackageURL:
    owner, _, name = repo_id.rpartition("/")
    return PackageURL(type="huggingface", namespace=owner or None, name=name, version=sha)


def _licenses(facts: RepoFacts, row: RepoRow, kb: KnowledgeBase) -> list[DisjunctiveLicense]:

    licenses = []
    for license_id in facts.license_ids:
        if license_id == "unknown":
            continue  # no license is not a license: the verdict says unknown
        entry = kb.licenses.get(license_id)
        if entry is not None and entry.spdx:
            licenses.append(DisjunctiveLicense(id=entry.spdx))
            continue
        name = entry.name if entry is not None else (row.license_name or license_id)
        if license_id == "other" and row.license_name:
            name = row.license_name  # the card's own name for its custom license
        link = (entry.url if entry is not None else None) or row.license_link
        url = XsUri(link) if link and _WEB_ADDRESS.fullmatch(link) else None
        licenses.append(DisjunctiveLicense(name=name, url=url))
    return licenses


# A card's license_link is anyone's text: only a web address with nothing an IRI may not hold
# (spaces, control characters, <>"{}|\^`) goes into the BOM, which must stay valid.
_WEB_ADDRESS = re.compile(r"https?://[^\s<>\"{}|\\^`\x00-\x1f\x7f]+")


def _properties(verdict: Verdict, found_in: list[str]) -> list[Property]:

    answer = verdict.to_dict()
    pairs = [
        ("use", answer["use"]),
        ("policy", answer["policy"]),
        ("verdict", answer["verdict"]),
        ("effective-category", answer["effective_license"]["category"]),
    ]
    pairs += [("effective-license", i) for i in answer["effective_license"]["ids"]]
    for key, items in (("reason", answer["reasons"]), ("obligation", answer["obligations"])):
        pairs += [(key, f"{item['code']}: {item['text']}") for item in items]
    pairs += [("conflict", conflict["text"]) for conflict in answer["conflicts"]]
    pairs += [("found-in", where) for where in found_in]
    return [Property(name=f"{NAMESPACE}:{key}", value=str(value)) for key, value in pairs]


def _hub_reference(repo_id: str, kind: str) -> ExternalReference:

    path = f"datasets/{repo_id}" if kind == "dataset" else repo_id
    return ExternalReference(type=ExternalReferenceType.WEBSITE, url=XsUri(f"{HUB_URL}/{path}"))


def _ancestors(repo_id: str, lineage: Lineage, rows: dict[str, RepoRow]) -> list[Component]:
    """Every base model reached from `repo_id`, each once, nearest first."""

    ancestors, seen = [], {repo_id}
    frontier = [repo_id]
    while frontier:
        next_level = []
        for child in frontier:
            facts = lineage.models.get(child)
            for base_id, relation in facts.bases if facts else ():
                if base_id in seen:
                    continue
                seen.add(base_id)
                next_level.append(base_id)
                ancestors.append(
                    Component(
                        type=ComponentType.MACHINE_LEARNING_MODEL,
                        name=base_id,
                        purl=model_purl(base_id, rows.get(base_id, RepoRow()).sha),
                        properties=[Property(name=f"{NAMESPACE}:relation", value=relation)],
                    )
                )
        frontier = next_level
    return ancestors


def _lineage_datasets(repo_id: str, lineage: Lineage) -> list[str]:
    """Datasets the model or any ancestor was trained on: what its verdict weighed."""
    found: dict[str, None] = {}
    stack, seen = [repo_id], set()
    while stack:
        current = stack.pop()
        if current in seen or current not in lineage.models:
            continue
        seen.add(current)
        facts = lineage.models[current]
        found.update(dict.fromkeys(facts.datasets))
        stack.extend(base for base, _ in facts.bases)
    return sorted(found)


def _model_component(
    repo_id: str, verdict: Verdict, lineage: Lineage, rows: dict[str, RepoRow], request: BomRequest
) -> Component:

    facts = lineage.models[repo_id]
    row = rows.get(repo_id, RepoRow())
    properties = _properties(verdict, request.found_in.get(repo_id, []))
    if not facts.present:
        properties.append(Property(name=f"{NAMESPACE}:in-catalog", value="false"))
    ancestors = _ancestors(repo_id, lineage, rows)
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=repo_id,
        bom_ref=f"model:{repo_id}",
        purl=model_purl(repo_id, row.sha),
        version=row.sha,
        licenses=_licenses(facts, row, knowledge_base()),
        pedigree=Pedigree(ancestors=ancestors) if ancestors else None,
        external_references=[_hub_reference(repo_id, "model")],
        properties=properties,
    )


def _dataset_component(facts: RepoFacts) -> Component:

    properties = []
    if not facts.present:
        properties.append(Property(name=f"{NAMESPACE}:in-catalog", value="false"))
    return Component(
        type=ComponentType.DATA,
        name=facts.id,
        bom_ref=f"dataset:{facts.id}",
        licenses=_licenses(facts, RepoRow(), knowledge_base()),
        external_references=[_hub_reference(facts.id, "dataset")],
        properties=properties,
    )


def _tool_metadata(bom: Bom, request: BomRequest) -> None:

    try:
        version = metadata.version("modelcatalog")
    except metadata.PackageNotFoundError:
        version = "0"
    bom.metadata.timestamp = datetime.now(UTC)
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="modelcatalog", version=version)
    )
    bom.metadata.properties.add(Property(name=f"{NAMESPACE}:use", value=request.use))
    bom.metadata.properties.add(Property(name=f"{NAMESPACE}:policy", value=request.policy.name))


def build_bom(session: Session, request: BomRequest) -> Bom:
    """A cyclonedx Bom of the requested models, their ancestors, datasets and verdicts."""

    repo_ids = list(dict.fromkeys(request.repo_ids))
    lineage = load_lineage(session, repo_ids)
    rows = _repo_rows(session, lineage.models.keys())
    kb = knowledge_base()
    bom = Bom()
    _tool_metadata(bom, request)
    datasets: dict[str, Component] = {}
    for repo_id in repo_ids:
        verdict = evaluate(repo_id, lineage, use=request.use, policy=request.policy, kb=kb)
        component = _model_component(repo_id, verdict, lineage, rows, request)
        bom.components.add(component)
        trained_on = []
        for dataset_id in _lineage_datasets(repo_id, lineage):
            if dataset_id not in datasets:
                datasets[dataset_id] = _dataset_component(lineage.datasets[dataset_id])
                bom.components.add(datasets[dataset_id])
            trained_on.append(datasets[dataset_id])
        bom.register_dependency(component, trained_on)
    return bom


def bom_json(bom: Bom) -> str:
    """The BOM as CycloneDX 1.6 JSON."""

    return str(JsonV1Dot6(bom).output_as_string(indent=2))
