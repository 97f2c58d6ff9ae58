"""Compliance policies: how license categories and terms map to verdicts, per use. Policies are data."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from catalog.errors import PolicyError
from catalog.licenses import CATEGORIES

USES = ("commercial", "research", "redistribute", "train-on-outputs")
OUTCOMES = ("allowed", "conditional", "unknown", "forbidden")
# Most restrictive last: the engine takes the maximum.
OUTCOME_RANK = {outcome: rank for rank, outcome in enumerate(OUTCOMES)}
BUILTIN_POLICIES = ("default", "strict")


@dataclass(frozen=True)
class UseRules:
    categories: dict[str, str]
    limitations: dict[str, str]


@dataclass(frozen=True)
class DatasetRules:
    cap: str | None
    model_generated: str
    unknown_license: str


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    uses: dict[str, UseRules]
    binding_conditions: frozenset[str]
    datasets: DatasetRules
    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()
    review: frozenset[str] = frozenset()
    # What each license means for each use under this policy, worked out once (the engine fills it).
    outcomes: dict[tuple[str, str], Any] = field(default_factory=dict, compare=False, repr=False)


def _outcome(value: Any, where: str) -> str:
    if value not in OUTCOMES:
        raise PolicyError(f"{where}: {value!r} is not one of {', '.join(OUTCOMES)}")
    return str(value)


def _use_rules(raw: Any, use: str) -> UseRules:
    if not isinstance(raw, dict):
        raise PolicyError(f"uses.{use} must be a mapping")
    categories = raw.get("categories") or {}
    missing = [c for c in CATEGORIES if c not in categories]
    if missing:
        raise PolicyError(f"uses.{use}.categories lacks {', '.join(missing)}")
    return UseRules(
        categories={c: _outcome(v, f"uses.{use}.{c}") for c, v in categories.items()},
        limitations={
            code: _outcome(v, f"uses.{use}.limitations.{code}")
            for code, v in (raw.get("limitations") or {}).items()
        },
    )


def parse_policy(document: Any) -> Policy:
    """Validate a policy document (the YAML shape of data/policies/default.yaml)."""
    if not isinstance(document, dict):
        raise PolicyError("a policy must be a mapping")
    uses = document.get("uses") or {}
    missing = [u for u in USES if u not in uses]
    if missing:
        raise PolicyError(f"policy lacks rules for {', '.join(missing)}")
    raw_datasets = document.get("datasets") or {}
    cap = raw_datasets.get("cap")
    return Policy(
        name=str(document.get("name") or "custom"),
        description=str(document.get("description") or ""),
        uses={use: _use_rules(uses[use], use) for use in USES},
        binding_conditions=frozenset(document.get("binding_conditions") or []),
        datasets=DatasetRules(
            cap=None if cap is None else _outcome(cap, "datasets.cap"),
            model_generated=_outcome(
                raw_datasets.get("model_generated", "conditional"), "datasets.model_generated"
            ),
            unknown_license=_outcome(
                raw_datasets.get("unknown_license", "conditional"), "datasets.unknown_license"
            ),
        ),
        allow=frozenset(document.get("allow") or []),
        deny=frozenset(document.get("deny") or []),
        review=frozenset(document.get("review") or []),
    )


@cache
def _builtin_policy(name: str) -> Policy:
    text = resources.files("catalog.data.policies").joinpath(f"{name}.yaml").read_text("utf-8")
    return parse_policy(yaml.safe_load(text))


def load_policy(name_or_path: str) -> Policy:
    """Load a built-in policy by name (once per process), or a user's policy file by path."""
    if name_or_path in BUILTIN_POLICIES:
        return _builtin_policy(name_or_path)
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise PolicyError(
                f"unknown policy {name_or_path!r}: use {' or '.join(BUILTIN_POLICIES)}, or a path to a policy file"
            )
        text = path.read_text("utf-8")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy {name_or_path!r} is not valid YAML: {exc}") from None
    return parse_policy(document)
