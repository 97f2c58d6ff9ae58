"""Read queries behind the API and pages: model detail with lineage, licenses, datasets, tasks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func
from sqlmodel import Session, col, select

from catalog.compliance import evaluate
from catalog.compliance_checks import judged_documents
from catalog.errors import DatasetNotFound, ModelNotFound
from catalog.licenses import knowledge_base
from catalog.lineage import Lineage, load_lineage, load_lineage_datasets
from catalog.policies import Policy, load_policy
from catalog.tables import Dataset, LicenseObservation, Model, ModelDataset, ModelLicense, Task

HUB = "https://huggingface.co"


def get_model(session: Session, repo_id: str) -> Model:
    model = session.get(Model, repo_id)
    if model is None or model.missing:
        raise ModelNotFound(repo_id)
    return model


def _category(license_ids: list[str] | tuple[str, ...]) -> str:
    return knowledge_base().most_restrictive_category(license_ids)


def lineage_graph(root: str, lineage: Lineage) -> dict[str, list[dict[str, Any]]]:
    """Nodes (models and datasets) and edges reachable from a model, for the API and the SVG."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []
    stack = [root]
    while stack:
        model_id = stack.pop()
        if model_id in nodes:
            continue
        facts = lineage.models.get(model_id)
        present = facts is not None and facts.present
        ids = list(facts.license_ids) if present and facts else ["unknown"]
        nodes[model_id] = {
            "id": model_id,
            "kind": "model",
            "license_ids": ids,
            "category": _category(ids),
            "present": present,
        }
        if facts is None:
            continue
        for base_id, relation in facts.bases:
            edges.append({"source": model_id, "target": base_id, "relation": relation})
            stack.append(base_id)
        for dataset_id in facts.datasets:
            edges.append({"source": model_id, "target": dataset_id, "relation": "trained-on"})
            dataset = lineage.datasets.get(dataset_id)
            present_ds = dataset is not None and dataset.present
            ds_ids = list(dataset.license_ids) if dataset and present_ds else ["unknown"]
            nodes.setdefault(
                f"dataset:{dataset_id}",
                {
                    "id": dataset_id,
                    "kind": "dataset",
                    "license_ids": ds_ids,
                    "category": _category(ds_ids),
                    "present": present_ds,
                },
            )
    for edge in edges:
        if edge["relation"] == "trained-on":
            edge["target_key"] = f"dataset:{edge['target']}"
    return {"nodes": list(nodes.values()), "edges": edges}


def model_detail(session: Session, repo_id: str) -> dict[str, Any]:
    """Everything GET /models/{id} shows."""
    return _detail(session, get_model(session, repo_id), load_lineage(session, [repo_id]))


def model_page(
    session: Session, repo_id: str, *, uses: Sequence[str], policy: Policy
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The model page: the detail and a verdict document for each use, from one lineage load."""
    model = get_model(session, repo_id)
    lineage = load_lineage(session, [repo_id])
    verdicts = judged_documents(session, lineage, [repo_id], uses=uses, policy=policy)
    return _detail(session, model, lineage), verdicts


def _detail(session: Session, model: Model, lineage: Lineage) -> dict[str, Any]:
    repo_id = model.id
    verdict = evaluate(
        repo_id, lineage, use="commercial", policy=load_policy("default"), kb=knowledge_base()
    )
    history = session.exec(
        select(LicenseObservation)
        .where(
            col(LicenseObservation.repo_kind) == "model", col(LicenseObservation.repo_id) == repo_id
        )
        .order_by(col(LicenseObservation.first_seen))
    ).all()
    facts = lineage.models[repo_id]
    detail = model.model_dump()
    detail.update(
        effective_license={"ids": verdict.effective_ids, "category": verdict.effective_category},
        base_models=[{"id": base, "relation": relation} for base, relation in facts.bases],
        datasets=list(facts.datasets),
        lineage=lineage_graph(repo_id, lineage),
        license_history=[h.model_dump() for h in history],
        hub_url=f"{HUB}/{repo_id}",
    )
    return detail


def license_counts(session: Session) -> dict[str, int]:
    statement = (
        select(ModelLicense.license_id, func.count())
        .join(Model, col(Model.id) == ModelLicense.model_id)
        .where(col(Model.missing).is_(False))
        .group_by(ModelLicense.license_id)
    )
    return {license_id: count for license_id, count in session.exec(statement)}


def license_detail(session: Session, license_id: str, *, model_limit: int = 50) -> dict[str, Any]:
    entry = knowledge_base().get(license_id)
    models = session.exec(
        select(Model)
        .join(ModelLicense, col(ModelLicense.model_id) == Model.id)
        .where(col(ModelLicense.license_id) == license_id, col(Model.missing).is_(False))
        .order_by(col(Model.downloads).desc(), col(Model.id))
        .limit(model_limit)
    ).all()
    detail = asdict(entry)
    detail["model_count"] = license_counts(session).get(license_id, 0)
    detail["models"] = models
    return detail


def list_datasets(
    session: Session, *, q: str | None, license_id: str | None, page: int, per_page: int
) -> tuple[list[Dataset], int]:
    where: list[ColumnElement[bool]] = [col(Dataset.missing).is_(False)]
    if q:
        where.append(func.lower(Dataset.id).contains(q.lower(), autoescape=True))
    if license_id:
        # license_ids is a JSON list; its text holds each id in quotes.
        where.append(cast(Dataset.license_ids, String).contains(f'"{license_id}"', autoescape=True))
    total = session.exec(select(func.count()).select_from(Dataset).where(*where)).one()
    items = session.exec(
        select(Dataset)
        .where(*where)
        .order_by(col(Dataset.downloads).desc(), col(Dataset.id))
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return list(items), total


def dataset_detail(session: Session, dataset_id: str) -> dict[str, Any]:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise DatasetNotFound(dataset_id)
    models = session.exec(
        select(ModelDataset.model_id)
        .where(col(ModelDataset.dataset_id) == dataset_id)
        .order_by(ModelDataset.model_id)
        .limit(100)
    ).all()
    detail = dataset.model_dump()
    detail["models"] = list(models)
    facts = load_lineage_datasets(session, [dataset_id]).datasets[dataset_id]
    generation = facts.generation
    detail["model_generated_by"] = (
        (generation.generator or "an unnamed model") if generation else None
    )
    detail["model_generated_how"] = generation.how if generation else None
    return detail


def list_tasks(session: Session) -> list[dict[str, Any]]:
    counts = dict(
        session.exec(
            select(Model.pipeline_tag, func.count())
            .where(col(Model.missing).is_(False))
            .group_by(Model.pipeline_tag)
        ).all()
    )
    tasks = session.exec(select(Task).order_by(Task.id)).all()
    rows = [{"id": t.id, "name": t.name, "model_count": counts.get(t.id, 0)} for t in tasks]
    return sorted(rows, key=lambda r: (-r["model_count"], r["id"]))
