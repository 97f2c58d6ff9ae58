"""/api/v1/webhooks (admin): URLs told about verdict changes, expired reviews and upstream license changes."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import actor
from api.database import db
from api.schemas import StrictSchema
from catalog.webhooks import (
    EVENTS,
    add_webhook,
    deliveries,
    list_webhooks,
    remove_webhook,
    webhook_dict,
)

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/api/v1",
    description="Webhooks: signed notifications with retries and a delivery log (admin).",
)

_ID = "<int(max=2147483647):webhook_id>"


class WebhookBody(StrictSchema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    events = fields.List(
        fields.String(validate=validate.OneOf(EVENTS)),
        required=True,
        validate=validate.Length(min=1, max=len(EVENTS)),
    )


class WebhookSchema(Schema):
    id = fields.Integer()
    url = fields.String()
    events = fields.List(fields.String())
    by = fields.String()
    at = fields.String()
    secret = fields.String(
        metadata={"description": "Only in the answer to POST: the HMAC-SHA256 signing secret."}
    )


class WebhookListSchema(Schema):
    items = fields.List(fields.Nested(WebhookSchema))


class DeliverySchema(Schema):
    id = fields.Integer()
    event = fields.String()
    state = fields.String(metadata={"description": "pending, delivered or failed"})
    attempts = fields.Integer()
    last_status = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.String()
    next_attempt_at = fields.String()
    delivered_at = fields.String(allow_none=True)


class DeliveryListSchema(Schema):
    items = fields.List(fields.Nested(DeliverySchema))


@blp.route("/webhooks")
class Webhooks(MethodView):
    @blp.response(200, WebhookListSchema)
    def get(self) -> Any:
        """Configured webhooks (secrets are never shown again)."""
        return {"items": [webhook_dict(h) for h in list_webhooks(db())]}

    @blp.arguments(WebhookBody, as_kwargs=False)
    @blp.response(201, WebhookSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Add a webhook; the answer carries its signing secret, once."""
        hook, secret = add_webhook(
            db(),
            url=body["url"],
            events=body["events"],
            by=actor(),
            remote_addr=request.remote_addr,
        )
        return {**webhook_dict(hook), "secret": secret}


@blp.route(f"/webhooks/{_ID}")
class WebhookDetail(MethodView):
    @blp.response(204)
    def delete(self, webhook_id: int) -> Any:
        """Remove a webhook; its pending deliveries are dropped."""
        remove_webhook(db(), webhook_id, by=actor(), remote_addr=request.remote_addr)
        return ""


@blp.route(f"/webhooks/{_ID}/deliveries")
class WebhookDeliveries(MethodView):
    @blp.response(200, DeliveryListSchema)
    def get(self, webhook_id: int) -> Any:
        """The delivery log, newest first: state, attempts, last status or error."""
        return {"items": deliveries(db(), webhook_id)}
