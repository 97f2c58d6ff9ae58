"""The 333 real Hub records in tests/data, turned into the JSON the Hub API serves."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from tests.conftest import DATA


def _iso(value: str | None) -> str | None:
    # '2024-12-26 00:20:08+00:00' -> '2024-12-26T00:20:08.000Z'
    if not value:
        return None
    return value.replace(" ", "T").replace("+00:00", ".000Z")


def hub_json(record: dict[str, Any]) -> dict[str, Any] | None:
    """One scraped record as model_info JSON; None for ids the scrape could not resolve."""
    api = record.get("api")
    if not api:
        return None
    info = {k: v for k, v in api.items() if k not in ("created_at", "last_modified")}
    info["createdAt"] = _iso(api.get("created_at"))
    info["lastModified"] = _iso(api.get("last_modified"))
    info["cardData"] = record.get("card_data")
    info["childrenModelCount"] = record.get("children_count", 0)
    return info


@cache
def real_models() -> list[dict[str, Any]]:
    lines = (DATA / "hub_dev_models.jsonl").read_text().splitlines()
    converted = (hub_json(json.loads(line)) for line in lines)
    return [info for info in converted if info is not None]
