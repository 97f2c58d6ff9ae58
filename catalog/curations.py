"""Curations: a reviewer's corrections of a repo's input facts (license, base models, datasets,
model-generated data). The engine reads them in place of the Hub's values; each one remembers the
Hub's value it corrected, so a later change upstream flags it as stale."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from catalog.audit import now, record_event
from catalog.db import chunked
from catalog.errors import InvalidRecord, RecordNotFound
from catalog.licenses import knowledge_base
from catalog.provenance import Generation
from catalog.tables import Curation, Dataset, LineageEdge, Model, ModelDataset

if TYPE_CHECKING:
    from catalog.lineage import Lineage, RepoFacts

KINDS = ("model", "dataset")
FIELDS = {
    "model": ("license", "base_models", "datasets"),
    "dataset": ("license", "model_generated"),
}
RELATIONS = ("finetune", "adapter", "quantized", "merge")
_MAX_ITEMS = 50


@dataclass(frozen=True)
class CuratedInput:
    """One curated fact as the engine saw it, for the verdict's `curated` reasons."""

    id: int
    kind: str
    repo_id: str
    field: str
    value: Any
    source: str
    comment: str
    by: str
    at: datetime
    stale: bool
    hub_value: Any

    def reason(self, via: str) -> dict[str, Any]:
        """The verdict reason that shows this input; `via` is how the repo is related (model, base_model, dataset)."""
        text = (
            f"{self.field.replace('_', ' ')} of {self.repo_id} curated by {self.by} on "
            f"{self.at:%Y-%m-%d}: {_shown(self.value)} ({self.comment}; source: {self.source})"
        )
        if self.stale:
            text += f"; stale: the Hub's value changed since (now {_shown(self.hub_value)}), re-check it"
        return {
            "code": "curated",
            "severity": "review" if self.stale else "info",
            "text": text,
            "source": {
                "kind": via,
                "id": self.repo_id,
                "field": self.field,
                "curation": self.id,
                "by": self.by,
                "at": self.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "stale": self.stale,
            },
        }


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(v if isinstance(v, str) else f"{v[0]} ({v[1]})" for v in value) or "none"
    return str(value)


def _clean_value(field: str, value: Any) -> Any:
    """The curated value in its stored form, or InvalidRecord saying what is expected."""
    if field == "license":
        ids = [value] if isinstance(value, str) else value
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise InvalidRecord("a license curation's value is a license id or a list of them")
        unknown = [i for i in ids if i not in knowledge_base().licenses]
        if unknown:
            raise InvalidRecord(f"not in the license knowledge base: {', '.join(unknown)}")
        return sorted(set(ids))
    if field == "model_generated":
        if value is False or value is None:
            return False
        if value is True:
            return "a model (curated)"
        if isinstance(value, str) and 0 < len(value) <= 200:
            return value
        raise InvalidRecord("model_generated is true, false or the generating model's name")
    return _clean_repo_list(field, value)


def _clean_repo_list(field: str, value: Any) -> list[Any]:
    if not isinstance(value, list) or len(value) > _MAX_ITEMS:
        raise InvalidRecord(f"{field} is a list of at most {_MAX_ITEMS} repo ids")
    cleaned: list[Any] = []
    for item in value:
        relation: Any = "finetune"
        if field == "base_models" and isinstance(item, dict):
            relation = item.get("relation", "finetune")
            item = item.get("id")
        if not isinstance(item, str) or item.count("/") != 1 or len(item) > 200:
            raise InvalidRecord(f"{field}: {item!r} is not an owner/name repo id")
        if relation not in RELATIONS:
            raise InvalidRecord(f"relation must be one of {', '.join(RELATIONS)}")
        cleaned.append([item, relation] if field == "base_models" else item)
    return sorted(cleaned)


def hub_value(facts: RepoFacts, field: str) -> Any:
    """The Hub's own value of a field, in the form curations store, from uncurated facts."""
    if field == "license":
        return sorted(facts.license_ids)
    if field == "base_models":
        return sorted([base, relation] for base, relation in facts.bases)
    if field == "datasets":
        return sorted(facts.datasets)
    generation = facts.generation
    return (generation.generator or "a model") if generation else False


def _current_hub_value(session: Session, kind: str, repo_id: str, field: str) -> Any:
    row = session.get(Model, repo_id) if kind == "model" else session.get(Dataset, repo_id)
    if field == "license":
        return sorted((row.license_ids if row else None) or ["unknown"])
    if field == "base_models":
        edges = session.exec(
            select(LineageEdge.base_id, LineageEdge.relation).where(LineageEdge.model_id == repo_id)
        )
        return sorted([base, relation] for base, relation in edges)
    if field == "datasets":
        query = select(ModelDataset.dataset_id).where(ModelDataset.model_id == repo_id)
        return sorted(session.exec(query))
    from catalog.lineage import load_lineage_datasets

    return hub_value(load_lineage_datasets(session, [repo_id]).datasets[repo_id], field)


def _known_repo(session: Session, kind: str, repo_id: str) -> bool:
    """In the catalog, or referenced by a model (a missing base or dataset can be curated too)."""
    if session.get(Model if kind == "model" else Dataset, repo_id) is not None:
        return True
    edge = (
        select(LineageEdge.model_id).where(LineageEdge.base_id == repo_id)
        if kind == "model"
        else select(ModelDataset.model_id).where(ModelDataset.dataset_id == repo_id)
    )
    return session.exec(edge.limit(1)).first() is not None


def add_curation(
    session: Session,
    *,
    repo: str,
    kind: str,
    field: str,
    value: Any,
    source: str,
    comment: str,
    by: str,
) -> tuple[Curation, Curation | None]:
    """Record a curation, replacing an earlier one of the same field; return (new, replaced)."""
    if kind not in KINDS:
        raise InvalidRecord(f"kind must be one of {', '.join(KINDS)}")
    if field not in FIELDS[kind]:
        raise InvalidRecord(f"a {kind} curation's field is one of {', '.join(FIELDS[kind])}")
    if not _known_repo(session, kind, repo):
        raise InvalidRecord(f"{kind} {repo!r} is neither in the catalog nor referenced by a model")
    cleaned = _clean_value(field, value)
    replaced = session.exec(
        select(Curation).where(
            Curation.repo_kind == kind, Curation.repo_id == repo, Curation.field == field
        )
    ).first()
    if replaced is not None:
        session.delete(replaced)
    curation = Curation(
        repo_kind=kind,
        repo_id=repo,
        field=field,
        value=cleaned,
        source=source,
        comment=comment,
        hub_value=_current_hub_value(session, kind, repo, field),
        created_by=by,
        created_at=now(),
    )
    session.add(curation)
    session.flush()
    return curation, replaced


def list_curations(session: Session, *, repo: str | None = None) -> list[Curation]:
    query = select(Curation).order_by(col(Curation.id))
    if repo is not None:
        query = query.where(Curation.repo_id == repo)
    return list(session.exec(query))


def delete_curation(session: Session, curation_id: int) -> Curation:
    curation = session.get(Curation, curation_id)
    if curation is None:
        raise RecordNotFound(f"no curation {curation_id}")
    session.delete(curation)
    session.flush()
    return curation


def curation_dict(curation: Curation) -> dict[str, Any]:
    return {
        "id": curation.id,
        "repo": curation.repo_id,
        "kind": curation.repo_kind,
        "field": curation.field,
        "value": curation.value,
        "source": curation.source,
        "comment": curation.comment,
        "hub_value": curation.hub_value,
        "by": curation.created_by,
        "at": curation.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _curations_for(session: Session, kind: str, ids: Iterable[str]) -> dict[str, list[Curation]]:
    found: dict[str, list[Curation]] = {}
    for chunk in chunked(sorted(ids)):
        query = select(Curation).where(Curation.repo_kind == kind, col(Curation.repo_id).in_(chunk))
        for curation in session.exec(query):
            found.setdefault(curation.repo_id, []).append(curation)
    return found


def _curated(facts: RepoFacts, curations: list[Curation]) -> RepoFacts:
    """The facts with each curated field replaced, and the curations remembered for the reasons."""
    changes: dict[str, Any] = {"curations": ()}
    inputs = []
    for curation in curations:
        upstream = hub_value(facts, curation.field)
        inputs.append(
            CuratedInput(
                id=curation.id or 0,
                kind=curation.repo_kind,
                repo_id=curation.repo_id,
                field=curation.field,
                value=curation.value,
                source=curation.source,
                comment=curation.comment,
                by=curation.created_by,
                at=curation.created_at,
                stale=curation.hub_value is not None and curation.hub_value != upstream,
                hub_value=upstream,
            )
        )
        if curation.field == "license":
            changes["license_ids"] = tuple(curation.value)
            changes["present"] = True
        elif curation.field == "base_models":
            changes["bases"] = tuple((base, relation) for base, relation in curation.value)
        elif curation.field == "datasets":
            changes["datasets"] = tuple(curation.value)
        else:
            how = f"a curation by {curation.created_by} ({curation.source})"
            changes["generation"] = Generation(curation.value, how) if curation.value else None
    changes["curations"] = tuple(inputs)
    return dataclasses.replace(facts, **changes)


def apply_model_curations(session: Session, ids: set[str], lineage: Lineage) -> set[str]:
    """Apply curations to these just-loaded models; return curated base ids the next level needs."""
    bases: set[str] = set()
    for repo_id, curations in _curations_for(session, "model", ids).items():
        lineage.models[repo_id] = _curated(lineage.models[repo_id], curations)
        bases.update(base for base, _ in lineage.models[repo_id].bases)
    return bases


def apply_dataset_curations(session: Session, ids: set[str], lineage: Lineage) -> None:
    for repo_id, curations in _curations_for(session, "dataset", ids).items():
        lineage.datasets[repo_id] = _curated(lineage.datasets[repo_id], curations)


def _affected_models(session: Session, kind: str, repo_id: str) -> list[str]:
    from catalog.verdicts import models_trained_on

    return [repo_id] if kind == "model" else models_trained_on(session, [repo_id])


def record_curation(
    session: Session, *, by: str, remote_addr: str | None = None, **fields: Any
) -> dict[str, Any]:
    """Add a curation, audit it, recompute the stored verdicts it changes, commit; return it."""
    from catalog.verdicts import refresh_verdicts

    curation, replaced = add_curation(session, by=by, **fields)
    record_event(
        session,
        actor=by,
        action="curation.add",
        target=f"{curation.repo_kind}:{curation.repo_id}#{curation.field}",
        before=curation_dict(replaced) if replaced else None,
        after=curation_dict(curation),
        remote_addr=remote_addr,
    )
    refresh_verdicts(session, _affected_models(session, curation.repo_kind, curation.repo_id))
    recorded = curation_dict(curation)
    session.commit()
    return recorded


def remove_curation(
    session: Session, curation_id: int, *, by: str, remote_addr: str | None = None
) -> None:
    """Delete a curation, audit it, recompute the stored verdicts it changed, and commit."""
    from catalog.verdicts import refresh_verdicts

    curation = delete_curation(session, curation_id)
    record_event(
        session,
        actor=by,
        action="curation.delete",
        target=f"{curation.repo_kind}:{curation.repo_id}#{curation.field}",
        before=curation_dict(curation),
        remote_addr=remote_addr,
    )
    refresh_verdicts(session, _affected_models(session, curation.repo_kind, curation.repo_id))
    session.commit()
