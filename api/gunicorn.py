"""Several web processes: gunicorn with threaded workers, each building its own app after the fork.

gunicorn is the server most Flask deployments run (Flask's deployment docs list it first): it
pre-forks and supervises workers, restarts one that dies, and reloads gracefully; waitress has no
process manager. The `gthread` worker keeps server-sent event streams from tying up a process.
"""

from __future__ import annotations

from typing import Any


def serve_with_gunicorn(*, host: str, port: int, workers: int, threads: int) -> None:
    """Run N gunicorn workers; each calls create_app() itself (no engine or Ray driver is forked)."""
    from gunicorn.app.base import BaseApplication

    class ModelCatalogServer(BaseApplication):
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "timeout": 120,  # a demo stream may be silent while a model loads
                "graceful_timeout": 30,
                "preload_app": False,
                "accesslog": None,
            }
            for name, value in options.items():
                self.cfg.set(name, value)

        def load(self) -> Any:
            from api.app import create_app

            return create_app()

    ModelCatalogServer().run()
