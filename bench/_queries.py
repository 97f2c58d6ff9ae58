"""Random filter combinations over the synthetic catalog's values, for the search benchmarks."""

from __future__ import annotations

import random
from typing import Any

from bench._synthetic import LANGUAGES, LIBRARIES, LICENSE_MIX, TASKS

CATEGORIES = ["permissive", "open-rail", "community", "non-commercial", "unknown", "copyleft"]
FACET_VALUES: dict[str, list[str]] = {
    "license": [lic for lic, _ in LICENSE_MIX if lic],
    "license_category": CATEGORIES,
    "task": TASKS,
    "library": [lib for lib in LIBRARIES if lib],
    "language": LANGUAGES,
}


def random_filters(rng: random.Random) -> dict[str, Any]:
    """1-4 filters: facets with one to three values, commercial, author, and free text half the time."""
    params: dict[str, Any] = {}
    kinds = rng.sample([*FACET_VALUES, "commercial", "author"], rng.randint(1, 4))
    for kind in kinds:
        if kind == "commercial":
            params["commercial"] = rng.choice(["true", "false"])
        elif kind == "author":
            params["author"] = f"org{rng.randrange(997)}"
        else:
            params[kind] = rng.sample(FACET_VALUES[kind], rng.randint(1, 3))
    if rng.random() < 0.5:
        params["q"] = f"org{rng.randrange(10, 99)}"
    return params


def distinct_filters(count: int, seed: int = 14) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    found: dict[str, dict[str, Any]] = {}
    while len(found) < count:
        params = random_filters(rng)
        found[repr(sorted(params.items()))] = params
    return list(found.values())
