"""The Flask service: app factory, REST API, HTML views, and the command line."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # The app factory is imported on first use: `modelcatalog scan` never needs the web app.
    if name == "create_app":
        from api.app import create_app

        return create_app
    raise AttributeError(f"module 'api' has no attribute {name!r}")
