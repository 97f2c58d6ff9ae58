"""The web tier's operator settings, read from the environment in one place and validated.

MODELCATALOG_BASE_URL      the public URL absolute links are built from (e.g. https://models.example.org)
MODELCATALOG_TRUSTED_PROXIES  how many reverse proxies in front of the app may set X-Forwarded-*
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """An environment variable has a value the service cannot use; the message names it."""


def web_settings(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if env is None else env
    return {
        "BASE_URL": _base_url(env.get("MODELCATALOG_BASE_URL", "")),
        "TRUSTED_PROXIES": _count(env.get("MODELCATALOG_TRUSTED_PROXIES", "0")),
    }


def _base_url(raw: str) -> str | None:
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(
            f"MODELCATALOG_BASE_URL={raw!r} must be an http(s) URL such as https://models.example.org"
        )
    return raw.rstrip("/")


def _count(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or int(raw) > 10:
        raise SettingsError(f"MODELCATALOG_TRUSTED_PROXIES={raw!r} must be a number from 0 to 10")
    return int(raw)
