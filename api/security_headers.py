"""Headers every answer carries, and absolute URLs that never come from the raw Host header."""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

# No inline script anywhere: page scripts are static files. Inline style attributes remain (the
# category colours), which CSP allows separately and which cannot run code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# flask-smorest's Swagger UI page starts itself with an inline script we do not own.
DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "script-src 'self'", "script-src 'self' 'unsafe-inline'"
)
DOCS_PAGE = "/api/v1/docs"


def _secure(response: Response) -> Response:
    policy = DOCS_CONTENT_SECURITY_POLICY if request.path == DOCS_PAGE else CONTENT_SECURITY_POLICY
    response.headers.setdefault("Content-Security-Policy", policy)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response


def external_url(path_and_query: str) -> str:
    """An absolute URL from the configured base URL or trusted proxy headers; else a relative one.

    Without either, the Host header is whatever the client sent, so it is not echoed back.
    """
    web = current_app.config["SETTINGS"].web
    if web.base_url:
        return f"{web.base_url}{path_and_query}"
    if web.trusted_proxies:
        return f"{request.host_url.rstrip('/')}{path_and_query}"
    return path_and_query


def init_app(app: Flask) -> None:
    app.after_request(_secure)
    proxies = app.config["SETTINGS"].web.trusted_proxies
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_prefix=proxies
        )
