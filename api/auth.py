"""Who is asking and what they may do: bearer tokens and signed-session sign-in, the authorisation
map every route must be placed in, CSRF for cookie-authenticated writes, and rate limits."""

from __future__ import annotations

import secrets
from enum import Enum

from flask import Flask, Response, current_app, g, redirect, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import Forbidden, Unauthorized

from api import rate_storage  # noqa: F401 - registers the swept-memory:// storage
from api.database import db
from catalog.people import has_role, user_for_token
from catalog.tables import User


class Access(Enum):
    PUBLIC = "public"  # anyone, always (health, sign-in)
    READ = "read"  # anyone when anonymous access is "read" (the default), else a signed-in user
    READ_ACTION = (
        "read-action"  # as READ, but a POST that changes nothing stored (batch verdicts, chat)
    )
    USER = "user"  # any signed-in user (demos)
    REVIEWER = "reviewer"
    ADMIN = "admin"


R, RA, P, U, REV, ADM = (
    Access.READ,
    Access.READ_ACTION,
    Access.PUBLIC,
    Access.USER,
    Access.REVIEWER,
    Access.ADMIN,
)

# Every route, by endpoint and method. create_app() refuses to start if a route is missing here.
ACCESS: dict[tuple[str, str], Access] = {
    ("health.healthz", "GET"): P,
    ("health_v1.healthz", "GET"): P,
    ("docs_assets.asset", "GET"): P,
    ("static", "GET"): P,  # the pages' scripts (api/static)
    ("api-docs.openapi_json", "GET"): R,
    ("api-docs.openapi_swagger_ui", "GET"): R,
    ("models.Models", "GET"): R,
    ("models.ModelDetail", "GET"): R,
    ("models.ModelCompliance", "GET"): R,
    ("models.Compliance", "POST"): RA,
    ("models.ModelBom", "GET"): R,
    ("models.ComplianceBom", "POST"): RA,
    ("catalog.Licenses", "GET"): R,
    ("catalog.LicenseDetail", "GET"): R,
    ("catalog.Datasets", "GET"): R,
    ("catalog.DatasetDetail", "GET"): R,
    ("catalog.Tasks", "GET"): R,
    ("demos.Demos", "POST"): U,
    ("demos.DemoDetail", "GET"): R,
    ("demos.DemoDetail", "DELETE"): U,  # and only its owner or an admin: see demos_api
    ("demos.DemoModels", "GET"): R,
    ("demos.ChatCompletions", "POST"): RA,
    ("people.Reviews", "GET"): R,
    ("people.Reviews", "POST"): REV,
    ("people.ReviewDetail", "DELETE"): REV,
    ("people.Curations", "GET"): R,
    ("people.Curations", "POST"): REV,
    ("people.CurationDetail", "DELETE"): REV,
    ("people.Queue", "GET"): R,
    ("people.QueueDecisions", "POST"): REV,
    ("people.Audit", "GET"): ADM,
    ("webhooks.Webhooks", "GET"): ADM,
    ("webhooks.Webhooks", "POST"): ADM,
    ("webhooks.WebhookDetail", "DELETE"): ADM,
    ("webhooks.WebhookDeliveries", "GET"): ADM,
    ("pages.search", "GET"): R,
    ("pages.model", "GET"): R,
    ("pages.licenses", "GET"): R,
    ("pages.license_page", "GET"): R,
    ("pages.datasets", "GET"): R,
    ("pages.dataset_page", "GET"): R,
    ("pages.tasks", "GET"): R,
    ("pages.about", "GET"): R,
    ("pages.demo_start", "POST"): U,
    ("pages.demo_page", "GET"): R,
    ("scan_pages.scan_page", "GET"): R,
    ("scan_pages.scan_submit", "POST"): RA,  # judges what is pasted; stores nothing
    ("people_pages.signin", "GET"): P,
    ("people_pages.signin", "POST"): P,
    ("people_pages.signout", "POST"): P,
    ("people_pages.queue", "GET"): R,
    ("people_pages.queue_decide", "POST"): REV,
    ("people_pages.curate", "POST"): REV,
    ("people_pages.review", "POST"): REV,
}

UNLIMITED = ("health.healthz", "health_v1.healthz", "docs_assets.asset", "static")

csrf = CSRFProtect()


def current_user() -> User | None:
    return g.get("user")


def actor() -> str:
    """The name the audit trail records for this request."""
    user = current_user()
    return user.name if user else "anonymous"


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _identify() -> None:
    """Set g.user from a bearer token (APIs, scripts) or the signed session cookie (people)."""
    g.user, g.via = None, None
    token = _bearer()
    if token is not None or "Authorization" in request.headers:
        user = user_for_token(db(), token) if token else None
        if user is None:
            raise Unauthorized("the bearer token is not valid (revoked, mistyped or not a token)")
        g.user, g.via = user, "token"
        return
    user_id = session.get("user_id")
    if isinstance(user_id, int):
        user = db().get(User, user_id)
        if user is not None and user.revoked_at is None:
            g.user, g.via = user, "session"


def _required(level: Access) -> str | None:
    """The role a level needs from this request, or None when it needs nobody."""
    if level is Access.PUBLIC:
        return None
    if level in (Access.READ, Access.READ_ACTION):
        return None if current_app.config["ANONYMOUS_ACCESS"] == "read" else "viewer"
    return "viewer" if level is Access.USER else level.value


def _deny(role: str) -> Response:
    if current_user() is None:
        if not request.path.startswith("/api/") and request.method == "GET":
            return redirect(url_for("people_pages.signin", next=request.full_path))  # type: ignore[return-value]
        error = Unauthorized(
            f"sign in or send an API token (Authorization: Bearer …); needs {role}"
        )
        raise error
    raise Forbidden(f"this needs the {role} role; {actor()} is a {current_user().role}")  # type: ignore[union-attr]


def authorise() -> Response | None:
    """Identify the caller, check CSRF for cookie-carried writes, and apply the authorisation map."""
    _identify()
    if request.endpoint is None:
        return None  # no route: the 404 or 405 answer follows
    method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
    level = ACCESS.get((request.endpoint, method))
    if level is None:
        return None  # a method the route lacks: 405 follows
    role = _required(level)
    if role is not None and not has_role(current_user(), role):
        return _deny(role)
    # A browser sends cookies on cross-site posts, never an Authorization header: only
    # cookie-carried writes need the form's CSRF token.
    cookie_write = g.via != "token" and method != "GET" and level is not Access.READ_ACTION
    if cookie_write and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    return None


def _rate_key() -> str:
    user = current_user()
    return f"user:{user.name}" if user else f"ip:{get_remote_address()}"


def _rate_limit() -> str:
    user = current_user()
    if request.endpoint == "people_pages.signin" and request.method == "POST":
        return current_app.config["RATE_LIMIT_SIGNIN"]  # slows password guessing
    if user is None:
        return current_app.config["RATE_LIMIT_ANONYMOUS"]
    return user.rate_limit or current_app.config["RATE_LIMIT_TOKEN"]


def unmapped_routes(app: Flask) -> list[str]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (rule.endpoint, method) not in ACCESS:
                found.append(f"{method} {rule.rule} ({rule.endpoint})")
    return found


def init_app(app: Flask) -> None:
    """Register identity, CSRF and limits; call after every blueprint is registered."""
    if not app.config.get("SECRET_KEY"):
        # Sessions then end when the process does; MODELCATALOG_SECRET_KEY keeps them.
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # authorise() decides when
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the signed session's life
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATE_LIMIT_SIGNIN", "10/minute")
    app.config.setdefault("RATELIMIT_STORAGE_URI", "swept-memory://")
    if app.config["ANONYMOUS_ACCESS"] not in ("read", "none"):
        raise ValueError("MODELCATALOG_ANONYMOUS must be 'read' or 'none'")
    missing = unmapped_routes(app)
    if missing:
        raise RuntimeError("routes missing from api.auth.ACCESS: " + "; ".join(missing))
    csrf.init_app(app)
    app.before_request(authorise)  # before the limiter's own hook: limits key on the user
    limiter = Limiter(
        key_func=_rate_key,
        default_limits=[_rate_limit],
        default_limits_exempt_when=_is_unlimited,
    )
    limiter.init_app(app)


def _is_unlimited() -> bool:
    """Health checks and the docs' static files: load balancers poll them, nobody abuses them."""
    return request.endpoint in UNLIMITED
