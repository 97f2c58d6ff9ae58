"""/api/v1/licenses, /datasets and /tasks."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from api.answer_cache import versioned_answer
from api.database import db
from api.schemas import (
    DatasetDetailSchema,
    DatasetPageSchema,
    DatasetQueryArgs,
    LicenseDetailSchema,
    LicenseListSchema,
    LicenseQueryArgs,
    TaskListSchema,
)
from catalog.licenses import knowledge_base
from catalog.queries import (
    dataset_detail,
    license_counts,
    license_detail,
    list_datasets,
    list_tasks,
)

blp = Blueprint(
    "catalog", __name__, url_prefix="/api/v1", description="Licenses, datasets and tasks."
)


@blp.route("/licenses")
class Licenses(MethodView):
    @blp.arguments(LicenseQueryArgs(), location="query", as_kwargs=False, unknown=RAISE)
    @blp.response(200, LicenseListSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Every license in the knowledge base, with how many catalog models use it."""

        def listing() -> dict[str, Any]:
            counts = license_counts(db())
            items = []
            for entry in sorted(knowledge_base().licenses.values(), key=lambda e: e.id):
                if args.get("category") in (None, entry.category):
                    items.append({**asdict(entry), "model_count": counts.get(entry.id, 0)})
            return LicenseListSchema().dump({"items": items, "total": len(items)})

        return Response(versioned_answer(listing).body, mimetype="application/json")


@blp.route("/licenses/<license_id>")
class LicenseDetail(MethodView):
    @blp.response(200, LicenseDetailSchema)
    def get(self, license_id: str) -> Any:
        """One license: terms in plain words, sources, and the most downloaded models under it."""
        return license_detail(db(), license_id)


@blp.route("/datasets")
class Datasets(MethodView):
    @blp.arguments(DatasetQueryArgs(), location="query", as_kwargs=False, unknown=RAISE)
    @blp.response(200, DatasetPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Datasets in the catalog."""

        def page() -> dict[str, Any]:
            items, total = list_datasets(
                db(),
                q=args.get("q"),
                license_id=args.get("license"),
                page=args["page"],
                per_page=args["per_page"],
            )
            document = {"items": items, "total": total, "page": args["page"]}
            return DatasetPageSchema().dump({**document, "per_page": args["per_page"]})

        return Response(versioned_answer(page).body, mimetype="application/json")


@blp.route("/datasets/<path:dataset_id>")
class DatasetDetail(MethodView):
    @blp.response(200, DatasetDetailSchema)
    def get(self, dataset_id: str) -> Any:
        """One dataset: license, card fields, and the models trained on it."""
        return dataset_detail(db(), dataset_id)


@blp.route("/tasks")
class Tasks(MethodView):
    @blp.response(200, TaskListSchema)
    def get(self) -> Any:
        """Use-cases (Hub pipeline tags) with model counts."""
        return {"items": list_tasks(db())}
