"""The HTML pages: search, model, licenses, datasets, tasks, about. Server-rendered; views only gather data."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, abort, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response as WerkzeugResponse

from api.database import db
from api.models_api import model_query
from api.schemas import ModelQueryArgs
from catalog.compliance_checks import verdict_documents
from catalog.licenses import CATEGORIES, knowledge_base
from catalog.policies import USES, load_policy
from catalog.queries import (
    dataset_detail,
    license_counts,
    license_detail,
    list_datasets,
    list_tasks,
    model_page,
)
from catalog.search import search_models

blp = Blueprint("pages", __name__)

CATEGORY_COLOURS = {
    "public-domain": "#2e7d32",
    "permissive": "#43a047",
    "weak-copyleft": "#7cb342",
    "copyleft": "#c0ca33",
    "open-rail": "#fb8c00",
    "community": "#f4511e",
    "no-derivatives": "#d81b60",
    "non-commercial": "#e53935",
    "research-only": "#8e24aa",
    "unknown": "#757575",
}


def url_with(**changes: Any) -> str:
    """The current search URL with some parameters changed (None removes one); the page resets."""
    params = [(k, v) for k, v in request.args.items(multi=True) if k not in changes and k != "page"]
    for key, value in changes.items():
        if isinstance(value, list):
            params += [(key, v) for v in value]
        elif value is not None:
            params.append((key, value))
    return "?" + urlencode(params)


def toggle_license(license_id: str) -> str:
    chosen = request.args.getlist("license")
    chosen = (
        [c for c in chosen if c != license_id] if license_id in chosen else [*chosen, license_id]
    )
    return url_with(license=chosen)


@blp.get("/")
def search() -> str:
    repeatable = ("license", "license_category", "task", "library", "language")
    raw = {k: (request.args.getlist(k) if k in repeatable else v) for k, v in request.args.items()}
    try:
        args = ModelQueryArgs().load(raw)
    except ValidationError as exc:
        abort(
            400,
            description="; ".join(
                f"{k}: {', '.join(map(str, v))}" for k, v in exc.normalized_messages().items()
            ),
        )
    query = model_query(args)
    result = search_models(db(), query)
    pages = max(1, -(-result.total // query.per_page))
    return render_template(
        "search/index.html",
        query=query,
        result=result,
        pages=pages,
        args=request.args,
        url_with=url_with,
        toggle_license=toggle_license,
        kb=knowledge_base(),
        colours=CATEGORY_COLOURS,
    )


def lineage_layout(graph: dict[str, list[dict[str, Any]]], root: str) -> dict[str, Any]:
    """Place lineage nodes in columns by distance from the model, for the SVG picture."""
    key = lambda node: f"dataset:{node['id']}" if node["kind"] == "dataset" else node["id"]  # noqa: E731
    depth = {root: 0}
    frontier = [root]
    while frontier:
        following = []
        for edge in graph["edges"]:
            if edge["source"] in frontier:
                target = edge.get("target_key", edge["target"])
                if target not in depth:
                    depth[target] = depth[edge["source"]] + 1
                    following.append(edge["target"])
        frontier = following
    columns: dict[int, list[dict[str, Any]]] = {}
    for node in graph["nodes"]:
        columns.setdefault(depth.get(key(node), 0), []).append(node)
    width, height, gap_x, gap_y = 230, 46, 60, 18
    placed = {}
    for column, nodes in columns.items():
        for row, node in enumerate(nodes):
            placed[key(node)] = {
                **node,
                "x": 10 + column * (width + gap_x),
                "y": 10 + row * (height + gap_y),
                "colour": CATEGORY_COLOURS.get(node["category"], "#757575"),
            }
    lines = []
    for edge in graph["edges"]:
        source, target = (
            placed.get(edge["source"]),
            placed.get(edge.get("target_key", edge["target"])),
        )
        if source and target:
            lines.append(
                {
                    "x1": source["x"] + width,
                    "y1": source["y"] + height / 2,
                    "x2": target["x"],
                    "y2": target["y"] + height / 2,
                    "relation": edge["relation"],
                }
            )
    rows = max((len(n) for n in columns.values()), default=1)
    return {
        "nodes": list(placed.values()),
        "lines": lines,
        "width": 20 + len(columns) * (width + gap_x),
        "height": 20 + rows * (height + gap_y),
        "box_w": width,
        "box_h": height,
    }


@blp.get("/models/<path:repo_id>")
def model(repo_id: str) -> str:
    detail, verdicts = model_page(db(), repo_id, uses=USES, policy=load_policy("default"))
    licenses = [
        knowledge_base().licenses[i]
        for i in detail["license_ids"] or []
        if i in knowledge_base().licenses
    ]
    return render_template(
        "models/detail.html",
        model=detail,
        verdicts=verdicts,
        licenses=licenses,
        layout=lineage_layout(detail["lineage"], repo_id),
        colours=CATEGORY_COLOURS,
        demo=demo_availability(detail),
    )


def demo_availability(detail: dict[str, Any]) -> dict[str, Any]:
    """Whether the Try-it button works for this model, and why not (demo_runner decides)."""
    try:
        from demo_runner.eligibility import demo_support
    except ImportError:
        return {
            "available": False,
            "reason": "the demo extra is not installed (pip install -e '.[demo]')",
        }
    return demo_support(detail)


@blp.get("/licenses")
def licenses() -> str:
    category = request.args.get("category")
    if category is not None and category not in CATEGORIES:
        abort(400, description=f"unknown category {category!r}")
    entries = sorted(
        knowledge_base().licenses.values(), key=lambda e: (CATEGORIES.index(e.category), e.id)
    )
    entries = [e for e in entries if category in (None, e.category)]
    return render_template(
        "licenses/index.html",
        entries=entries,
        counts=license_counts(db()),
        category=category,
        categories=CATEGORIES,
        colours=CATEGORY_COLOURS,
    )


@blp.get("/licenses/<license_id>")
def license_page(license_id: str) -> str:
    return render_template(
        "licenses/detail.html", license=license_detail(db(), license_id), colours=CATEGORY_COLOURS
    )


@blp.get("/datasets")
def datasets() -> str:
    page = request.args.get("page", "1")
    if not page.isdigit() or int(page) < 1:
        abort(400, description="page must be a positive integer")
    items, total = list_datasets(
        db(), q=request.args.get("q"), license_id=None, page=int(page), per_page=50
    )
    return render_template(
        "datasets/index.html", items=items, total=total, page=int(page), colours=CATEGORY_COLOURS
    )


@blp.get("/datasets/<path:dataset_id>")
def dataset_page(dataset_id: str) -> str:
    return render_template(
        "datasets/detail.html", dataset=dataset_detail(db(), dataset_id), colours=CATEGORY_COLOURS
    )


@blp.get("/tasks")
def tasks() -> str:
    return render_template("tasks/index.html", tasks=list_tasks(db()))


@blp.get("/about")
def about() -> str:
    return render_template(
        "about.html",
        policy=load_policy("default"),
        strict=load_policy("strict"),
        categories=CATEGORIES,
        colours=CATEGORY_COLOURS,
        uses=USES,
    )


@blp.post("/demos")
def demo_start() -> WerkzeugResponse:
    from api.demos_api import start_demo

    repo_id = request.form.get("model", "")
    if not repo_id:
        abort(400, description="which model? the form needs a model field")
    job = start_demo(repo_id)
    return redirect(url_for("pages.demo_page", demo_id=job.id), code=303)


@blp.get("/demos/<demo_id>")
def demo_page(demo_id: str) -> str:
    from api.demos_api import demo_manager

    job = demo_manager().get(demo_id)
    if job is None:
        abort(404, description=f"no demo {demo_id!r}; start one from a model page")
    verdict = verdict_documents(db(), [job.model], use="commercial", policy=load_policy("default"))[
        0
    ]
    return render_template("demos/chat.html", job=job.to_dict(), verdict=verdict)


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
