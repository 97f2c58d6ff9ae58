"""Compliance policies: how license categories and terms map to verdicts, per use. Policies are data."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from catalog.errors import PolicyError
from catalog.licenses import knowledge_base

USES = ("commercial", "research", "redistribute", "train-on-outputs")
OUTCOMES = ("allowed", "conditional", "unknown", "forbidden")
# Most restrictive last: the engine takes the maximum.
OUTCOME_RANK = {outcome: rank for rank, outcome in enumerate(OUTCOMES)}
BUILTIN_POLICIES = ("default", "strict")
# The verdicts a gate can stop on, from the strictest gate to the loosest. The default stops on
# `unknown` and `forbidden`; `conditional` also stops on any verdict with obligations.
FAIL_ON = ("conditional", "unknown", "forbidden")
DEFAULT_FAIL_ON = "unknown"


UNDECLARED_DERIVATIVE = ("unknown", "inherit")


@dataclass(frozen=True)
class UseRules:
    categories: dict[str, str]
    limitations: dict[str, str]
    # Terms that no one can meet together in one model (compatibility.yaml); None: not judged.
    incompatible: str | None = None
    # A shared derivative (finetune, adapter, merge) of a no-derivatives work.
    nd_derivative: str | None = None
    # A quantization of a no-derivatives work: a technical change or an adaptation? A human decides.
    nd_technical: str | None = None


@dataclass(frozen=True)
class DatasetRules:
    cap: str | None
    model_generated: str
    unknown_license: str
    # Data marked synthetic or machine-generated whose generator the card does not name.
    unnamed_generator: str = "conditional"


@dataclass(frozen=True)
class Organisation:
    """Who the user is, so thresholds and regions in license terms can be settled."""

    region: str | None = None
    monthly_active_users: int | None = None
    annual_revenue_usd: int | None = None


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
    # A model whose declaration drops an ancestor's terms.
    license_conflict: str = "conditional"
    # A derivative that declares no license: 'unknown', or judged by its ancestors' terms.
    undeclared_derivative: str = "unknown"
    organisation: Organisation | None = None


def _outcome(value: Any, where: str) -> str:
    if value not in OUTCOMES:
        raise PolicyError(f"{where}: {value!r} is not one of {', '.join(OUTCOMES)}")
    return str(value)


def _use_rules(raw: Any, use: str) -> UseRules:
    if not isinstance(raw, dict):
        raise PolicyError(f"uses.{use} must be a mapping")
    categories = raw.get("categories") or {}
    missing = [c for c in knowledge_base().category_rank if c not in categories]
    if missing:
        raise PolicyError(f"uses.{use}.categories lacks {', '.join(missing)}")
    lineage = raw.get("lineage") or {}
    return UseRules(
        categories={c: _outcome(v, f"uses.{use}.{c}") for c, v in categories.items()},
        limitations={
            code: _outcome(v, f"uses.{use}.limitations.{code}")
            for code, v in (raw.get("limitations") or {}).items()
        },
        **{
            key: _outcome(lineage[key], f"uses.{use}.lineage.{key}")
            for key in ("incompatible", "nd_derivative", "nd_technical")
            if lineage.get(key) is not None
        },
    )


def _count(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PolicyError(f"{where} must be a whole number of at least 0")
    return value


def _organisation(raw: Any) -> Organisation | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise PolicyError("organisation must be a mapping")
    unknown = set(raw) - {"region", "monthly_active_users", "annual_revenue_usd"}
    if unknown:
        raise PolicyError(f"organisation has unknown keys: {', '.join(sorted(map(str, unknown)))}")
    region = raw.get("region")
    if region is not None and not isinstance(region, str):
        raise PolicyError("organisation.region must be a region code such as EU or US")
    return Organisation(
        region=region.upper() if region else None,
        monthly_active_users=_count(
            raw.get("monthly_active_users"), "organisation.monthly_active_users"
        ),
        annual_revenue_usd=_count(raw.get("annual_revenue_usd"), "organisation.annual_revenue_usd"),
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
            unnamed_generator=_outcome(
                raw_datasets.get("unnamed_generator", "conditional"), "datasets.unnamed_generator"
            ),
        ),
        allow=frozenset(document.get("allow") or []),
        deny=frozenset(document.get("deny") or []),
        review=frozenset(document.get("review") or []),
        license_conflict=_outcome(
            document.get("license_conflict", "conditional"), "license_conflict"
        ),
        undeclared_derivative=_undeclared(document.get("undeclared_derivative", "unknown")),
        organisation=_organisation(document.get("organisation")),
    )


def _undeclared(value: Any) -> str:
    if value not in UNDECLARED_DERIVATIVE:
        raise PolicyError(
            f"undeclared_derivative: {value!r} is not one of {', '.join(UNDECLARED_DERIVATIVE)}"
        )
    return str(value)


@cache
def _builtin_policy(name: str) -> Policy:
    from catalog.yaml_safe import safe_load

    text = resources.files("catalog.data.policies").joinpath(f"{name}.yaml").read_text("utf-8")
    return parse_policy(safe_load(text))


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
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"cannot read policy {name_or_path!r}: {exc}") from None
    import yaml  # not at import: the command line's options need the names above, not YAML

    from catalog.yaml_safe import safe_load

    try:
        document = safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy {name_or_path!r} is not valid YAML: {exc}") from None
    return parse_policy(document)
