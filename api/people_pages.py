"""Pages for people: sign in and out, the review queue, and the curate/review forms of a model page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, redirect, render_template, request, session, url_for
from marshmallow import ValidationError

from api.auth import actor, current_user
from api.database import db
from api.people_api import QueueArgs
from catalog.curations import record_curation
from catalog.licenses import knowledge_base
from catalog.people import user_for_password
from catalog.policies import USES, load_policy
from catalog.queue import QueueQuery, review_queue
from catalog.reviews import DECISIONS, record_review, record_reviews

blp = Blueprint("people_pages", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would let a link sign people in elsewhere."""
    # Browsers read a backslash as a slash ("/\\host" is "//host"): none is let through.
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or not target.isprintable()
        or urlsplit(target).netloc
    ):
        return url_for("pages.search")
    return target


@blp.route("/signin", methods=["GET", "POST"])
def signin():
    error = None
    if request.method == "POST":
        user = user_for_password(
            db(), request.form.get("name", ""), request.form.get("password", "")
        )
        if user is not None:
            session.clear()  # a new session on sign-in: no fixation
            session["user_id"] = user.id
            return redirect(_safe_next(request.form.get("next")), code=303)
        error = "Unknown name or wrong password."
    return render_template("people/signin.html", error=error, next=request.values.get("next", ""))


@blp.post("/signout")
def signout():
    session.clear()
    return redirect(url_for("pages.search"), code=303)


def _form(name: str, *, limit: int = 4000, required: bool = True) -> str | None:
    value = (request.form.get(name) or "").strip()
    if not value:
        if required:
            abort(400, description=f"the form needs a {name}")
        return None
    if len(value) > limit:
        abort(400, description=f"{name} is at most {limit} characters")
    return value


def _expires() -> datetime | None:
    raw = _form("expires", limit=40, required=False)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=UTC)
    except ValueError:
        abort(400, description="expires is a date, YYYY-MM-DD")


def _who() -> dict[str, Any]:
    return {"by": actor(), "remote_addr": request.remote_addr}


@blp.post("/models/<path:repo_id>/curations")
def curate(repo_id: str):
    record_curation(
        db(),
        repo=repo_id,
        kind="model",
        field="license",
        value=_form("license", limit=100),
        source=_form("source", limit=1000),
        comment=_form("comment"),
        **_who(),
    )
    return redirect(url_for("pages.model", repo_id=repo_id), code=303)


@blp.post("/models/<path:repo_id>/reviews")
def review(repo_id: str):
    record_review(
        db(),
        model=repo_id,
        use=_form("use", limit=40),
        decision=_form("decision", limit=40),
        comment=_form("comment"),
        ticket=_form("ticket", limit=200, required=False),
        scope=_form("scope", limit=100, required=False),
        expires=_expires(),
        **_who(),
    )
    return redirect(url_for("pages.model", repo_id=repo_id), code=303)


@blp.get("/queue")
def queue():
    try:
        args = QueueArgs().load(request.args.to_dict())
    except ValidationError as exc:
        abort(400, description=str(exc.messages))
    query = QueueQuery(**{**args, "policy": load_policy(args["policy"])})
    items, total = review_queue(db(), query)
    return render_template(
        "people/queue.html", items=items, total=total, query=query, args=args, decisions=DECISIONS
    )


@blp.post("/queue/decisions")
def queue_decide():
    models = request.form.getlist("model")
    if not models:
        abort(400, description="choose at least one model")
    record_reviews(
        db(),
        models=models,
        use="commercial",
        decision=_form("decision", limit=40),
        comment=_form("comment"),
        ticket=_form("ticket", limit=200, required=False),
        expires=_expires(),
        **_who(),
    )
    return redirect(url_for("people_pages.queue", status="done"), code=303)


def _template_globals() -> dict[str, Any]:
    return {
        "current_user": current_user(),
        "license_ids": sorted(knowledge_base().licenses),
        "uses": USES,
        "decisions": DECISIONS,
    }


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
    app.context_processor(_template_globals)
