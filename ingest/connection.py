"""How this service reaches the Hub: endpoint, token, retries, and which errors mean "unreachable".

The crawler (ingest/hub.py) and the demo runner (demo_runner/sources.py) both import this module,
so the two agree on what a connection failure is.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class HubSettings:
    endpoint: str | None = None  # None: huggingface_hub's default (https://huggingface.co)
    token: str | None = None
    retries: int = 6  # tries per request before the Hub counts as unreachable


def transport_errors() -> tuple[type[BaseException], ...]:
    """The connection-level exceptions of whichever HTTP library this huggingface_hub uses."""
    from huggingface_hub.utils import get_session

    errors: list[type[BaseException]] = [OSError]
    library = importlib.import_module(type(get_session()).__module__.split(".")[0])
    for name in ("TransportError", "RequestException", "HTTPError"):
        candidate = getattr(library, name, None)
        if isinstance(candidate, type) and issubclass(candidate, BaseException):
            errors.append(candidate)
    return tuple(errors)
