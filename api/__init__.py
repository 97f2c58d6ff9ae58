"""The Flask service: app factory, REST API, HTML views, and the command line."""

from api.app import create_app

__all__ = ["create_app"]
