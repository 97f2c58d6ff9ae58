"""/api/v1 reviews, curations, the review queue and the audit trail."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from api.auth import actor
from api.database import db
from api.schemas import PER_PAGE_MAX, ReviewSchema, StrictSchema
from catalog.audit import event_dict, list_events
from catalog.curations import (
    FIELDS,
    KINDS,
    curation_dict,
    list_curations,
    record_curation,
    remove_curation,
)
from catalog.policies import BUILTIN_POLICIES, USES, load_policy
from catalog.queue import STATUSES, QueueQuery, review_queue
from catalog.reviews import (
    DECISIONS,
    list_reviews,
    record_review,
    record_reviews,
    remove_review,
    review_dict,
)

blp = Blueprint(
    "people",
    __name__,
    url_prefix="/api/v1",
    description="What people record: reviews, curations, the review queue, the audit trail.",
)

_REPO = validate.Length(min=1, max=200)


class ReviewBody(StrictSchema):
    model = fields.String(required=True, validate=_REPO)
    use = fields.String(required=True, validate=validate.OneOf(USES))
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    comment = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    ticket = fields.String(allow_none=True, validate=validate.Length(min=1, max=200))
    expires = fields.AwareDateTime(
        allow_none=True, default_timezone=UTC, metadata={"description": "ISO 8601, in the future."}
    )
    scope = fields.String(allow_none=True, validate=validate.Length(min=1, max=100))


class RepoArgs(StrictSchema):
    model = fields.String(validate=_REPO)


class CurationArgs(StrictSchema):
    repo = fields.String(validate=_REPO)


class ReviewListSchema(Schema):
    items = fields.List(fields.Nested(ReviewSchema))


class CurationBody(StrictSchema):
    repo = fields.String(required=True, validate=_REPO)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    field = fields.String(
        required=True,
        validate=validate.OneOf(sorted({name for names in FIELDS.values() for name in names})),
    )
    value = fields.Raw(
        required=True,
        metadata={
            "description": "license: an id or list of ids; base_models, datasets: lists of repo "
            "ids; model_generated: true, false or the generating model's name."
        },
    )
    source = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    comment = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class CurationSchema(Schema):
    id = fields.Integer()
    repo = fields.String()
    kind = fields.String()
    field = fields.String()
    value = fields.Raw()
    source = fields.String()
    comment = fields.String()
    hub_value = fields.Raw(allow_none=True)
    by = fields.String()
    at = fields.String()


class CurationListSchema(Schema):
    items = fields.List(fields.Nested(CurationSchema))


class QueueArgs(StrictSchema):
    policy = fields.String(load_default="default", validate=validate.OneOf(BUILTIN_POLICIES))
    status = fields.String(load_default="open", validate=validate.OneOf(STATUSES))
    license = fields.String(validate=validate.Length(min=1, max=100))
    author = fields.String(validate=validate.Length(min=1, max=100))
    reason = fields.String(validate=validate.Length(min=1, max=100))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=PER_PAGE_MAX))


class QueueItemSchema(Schema):
    model = fields.String()
    author = fields.String(allow_none=True)
    downloads = fields.Integer()
    verdict = fields.String()
    license_ids = fields.List(fields.String())
    reason_codes = fields.List(fields.String())
    stuck_because = fields.String()
    review = fields.Nested(ReviewSchema, allow_none=True)


class QueuePageSchema(Schema):
    items = fields.List(fields.Nested(QueueItemSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class QueueDecisionBody(StrictSchema):
    models = fields.List(
        fields.String(validate=_REPO), required=True, validate=validate.Length(min=1, max=100)
    )
    use = fields.String(load_default="commercial", validate=validate.OneOf(USES))
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    comment = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    ticket = fields.String(allow_none=True, validate=validate.Length(min=1, max=200))
    expires = fields.AwareDateTime(allow_none=True, default_timezone=UTC)
    scope = fields.String(allow_none=True, validate=validate.Length(min=1, max=100))


class AuditArgs(StrictSchema):
    since = fields.AwareDateTime(default_timezone=UTC, metadata={"description": "ISO 8601 (UTC)."})
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=10_000))


class AuditEventSchema(Schema):
    id = fields.Integer()
    at = fields.String()
    actor = fields.String()
    action = fields.String()
    target = fields.String()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    remote_addr = fields.String(allow_none=True)


class AuditListSchema(Schema):
    items = fields.List(fields.Nested(AuditEventSchema))


def _who() -> dict[str, Any]:
    return {"by": actor(), "remote_addr": request.remote_addr}


@blp.route("/reviews")
class Reviews(MethodView):
    @blp.arguments(RepoArgs, location="query", as_kwargs=False, unknown=RAISE)
    @blp.response(200, ReviewListSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Reviews, oldest first; `model` narrows them to one model."""
        return {"items": [review_dict(r) for r in list_reviews(db(), model=args.get("model"))]}

    @blp.arguments(ReviewBody, as_kwargs=False)
    @blp.response(201, ReviewSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Record a decision on a model's verdict for a use (reviewer or admin)."""
        return record_review(db(), **body, **_who())


@blp.route("/reviews/<int(max=2147483647):review_id>")
class ReviewDetail(MethodView):
    @blp.response(204)
    def delete(self, review_id: int) -> Any:
        """Withdraw a review (the audit trail keeps it)."""
        remove_review(db(), review_id, **_who())
        return ""


@blp.route("/curations")
class Curations(MethodView):
    @blp.arguments(CurationArgs, location="query", as_kwargs=False, unknown=RAISE)
    @blp.response(200, CurationListSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Curations, oldest first; `repo` narrows them to one repo."""
        return {"items": [curation_dict(c) for c in list_curations(db(), repo=args.get("repo"))]}

    @blp.arguments(CurationBody, as_kwargs=False)
    @blp.response(201, CurationSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Correct a repo's fact; replaces an earlier curation of the same field."""
        return record_curation(db(), **body, **_who())


@blp.route("/curations/<int(max=2147483647):curation_id>")
class CurationDetail(MethodView):
    @blp.response(204)
    def delete(self, curation_id: int) -> Any:
        """Remove a curation: the Hub's value counts again."""
        remove_curation(db(), curation_id, **_who())
        return ""


@blp.route("/queue")
class Queue(MethodView):
    @blp.arguments(QueueArgs, location="query", as_kwargs=False, unknown=RAISE)
    @blp.response(200, QueuePageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Commercial-use verdicts that need a human (`open`) or that a current review decides (`done`)."""
        query = QueueQuery(**{**args, "policy": load_policy(args["policy"])})
        items, total = review_queue(db(), query)
        return {"items": items, "total": total, "page": query.page, "per_page": query.per_page}


@blp.route("/queue/decisions")
class QueueDecisions(MethodView):
    @blp.arguments(QueueDecisionBody, as_kwargs=False)
    @blp.response(201, ReviewListSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Decide several models at once (e.g. every quantization of an approved model)."""
        return {"items": record_reviews(db(), **body, **_who())}


@blp.route("/audit")
class Audit(MethodView):
    @blp.arguments(AuditArgs, location="query", as_kwargs=False, unknown=RAISE)
    @blp.response(200, AuditListSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Audit events, oldest first (admin)."""
        events = list_events(db(), since=args.get("since"), limit=args["limit"])
        return {"items": [event_dict(e) for e in events]}
