"""/api/v1/demos: build a demo of a catalog model, follow its progress, chat with it (OpenAI-compatible)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from flask import Response, current_app, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import Conflict, NotFound

from api.app import settings
from api.auth import actor, current_user
from api.database import db
from api.errors import retry_after
from catalog.audit import record_event
from catalog.people import has_role
from catalog.queries import get_model
from demo_runner.openai_api import ChatRequestSchema

if TYPE_CHECKING:
    from demo_runner.backends import DemoBackend
    from demo_runner.jobs import DemoJob

blp = Blueprint(
    "demos",
    __name__,
    url_prefix="/api/v1",
    description="One-click quantized demos of catalog models.",
)


class DemoRequestSchema(Schema):
    model = fields.String(required=True, validate=validate.Length(min=1, max=200))


class DemoSchema(Schema):
    id = fields.String()
    model = fields.String()
    state = fields.String(
        metadata={"description": "queued, downloading, converting, loading, ready or failed"}
    )
    progress = fields.Float()
    error = fields.String(allow_none=True)
    failed_seconds_ago = fields.Float(
        allow_none=True,
        metadata={"description": "A failed job answers repeated requests until it expires."},
    )
    device = fields.String(allow_none=True)
    compute_type = fields.String(allow_none=True)
    created_at = fields.String()


def demo_manager() -> DemoBackend:
    """The process's demo backend (local, ray or off), created on first use (it imports CTranslate2)."""
    backend = current_app.extensions.get("modelcatalog.demos")
    if backend is None:
        try:
            from demo_runner.backends import ScaleSettings, make_backend
        except ImportError:
            abort(501, message="demos need the demo extra: pip install -e '.[demo]'")
        scale = current_app.config.get("DEMO_SCALE") or ScaleSettings.from_environment()
        backend = current_app.extensions.setdefault(
            "modelcatalog.demos",
            make_backend(settings().demo, scale, database_url=settings().database_url),
        )
    return backend


def _job(demo_id: str) -> DemoJob:
    job = demo_manager().get(demo_id)
    if job is None:
        raise NotFound(f"no demo {demo_id!r}")
    return job


def demo_cache_problem() -> str | None:
    """Why demos cannot be built here (the cache cannot be written), or None."""
    try:
        from demo_runner.cache import cache_problem
    except ImportError:
        return None
    return cache_problem(settings().demo.cache_dir)


def start_demo(repo_id: str) -> DemoJob:
    get_model(db(), repo_id)  # only catalog models can be demoed
    if problem := demo_cache_problem():
        from demo_runner.errors import DemoCacheUnwritable

        raise DemoCacheUnwritable(f"demos are off on this server: {problem}")
    job = demo_manager().start(repo_id)
    owners = current_app.extensions.setdefault("modelcatalog.demo_owners", {})
    owners[job.id] = actor()
    record_event(
        db(),
        actor=actor(),
        action="demo.start",
        target=f"demo:{job.id}",
        after={"model": repo_id},
        remote_addr=request.remote_addr,
    )
    db().commit()
    return job


def _require_owner(demo_id: str) -> None:
    """A demo belongs to whoever started it: only they or an admin delete it."""
    owner = current_app.extensions.get("modelcatalog.demo_owners", {}).get(demo_id)
    user = current_user()
    if not has_role(user, "admin") and (user is None or owner != user.name):
        abort(
            403,
            message=f"demo {demo_id} belongs to {owner or 'nobody'}; only they or an admin may delete it",
        )


@blp.route("/demos")
class Demos(MethodView):
    @blp.arguments(DemoRequestSchema, as_kwargs=False)
    @blp.response(
        202,
        DemoSchema,
        headers={"Location": {"description": "The demo's URL", "schema": {"type": "string"}}},
    )
    def post(self, body: dict[str, Any]) -> Any:
        """Start building a demo (download, convert, load); answers at once with the job."""
        job = start_demo(body["model"])
        headers = {"Location": url_for("demos.DemoDetail", demo_id=job.id)}
        age = job.failed_age_s()
        if age is not None:  # a recent failure answers instead of a rebuild
            ttl = demo_manager().settings.job_ttl_s
            headers.update(retry_after(max(1, int(ttl - age))))
        return job.to_dict(), 202, headers


@blp.route("/demos/<demo_id>")
class DemoDetail(MethodView):
    @blp.response(200, DemoSchema)
    def get(self, demo_id: str) -> Any:
        """A demo's state and progress."""
        return _job(demo_id).to_dict()

    @blp.response(204)
    def delete(self, demo_id: str) -> Any:
        """Unload a demo and forget it."""
        job = _job(demo_id)
        _require_owner(demo_id)
        demo_manager().delete(demo_id)
        record_event(
            db(),
            actor=actor(),
            action="demo.delete",
            target=f"demo:{demo_id}",
            before={"model": job.model},
            remote_addr=request.remote_addr,
        )
        db().commit()
        return ""


@blp.route("/demos/<demo_id>/v1/chat/completions")
class ChatCompletions(MethodView):
    @blp.arguments(ChatRequestSchema, as_kwargs=False)
    @blp.response(200)
    def post(self, body: dict[str, Any], demo_id: str) -> Any:
        """OpenAI-compatible chat completions; `stream: true` answers with server-sent events."""
        from demo_runner.openai_api import chat_request, completion, completion_events

        job = _job(demo_id)
        model = demo_manager().ready_model(demo_id)
        if model is None:
            state = f"{job.state}: {job.error}" if job.error else job.state
            raise Conflict(f"demo {demo_id} is {state}")
        messages, params, stream = chat_request(body)
        manager = demo_manager()
        timeout_s = manager.settings.request_timeout_s
        if not stream:
            with manager.streams.slot(demo_id):
                return completion(model, job.model, messages, params, timeout_s)
        manager.streams.acquire(demo_id)
        try:
            events = completion_events(model, job.model, messages, params, timeout_s)
        except BaseException:
            manager.streams.release(demo_id)
            raise
        return Response(
            _released(events, lambda: manager.streams.release(demo_id)),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def _released(events: Iterator[str], release: Callable[[], None]) -> Iterator[str]:
    """Pass the events on; give the stream's slot back when it ends or the client goes away."""
    try:
        yield from events
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
        release()


@blp.route("/demos/<demo_id>/v1/models")
class DemoModels(MethodView):
    @blp.response(200)
    def get(self, demo_id: str) -> Any:
        """The demo's model, as OpenAI clients list models."""
        job = _job(demo_id)
        return {
            "object": "list",
            "data": [{"id": job.model, "object": "model", "owned_by": "modelcatalog"}],
        }
