"""The compliance engine: a verdict for a model and a use, following its whole lineage.

A model's verdict combines its own license with every ancestor's (through every relation) and the
licenses of the datasets each of them was trained on. Every term that restricts the use becomes a
reason with an outcome; the most restrictive outcome wins. Nothing is allowed by default: missing
licenses, ancestors or datasets give `unknown`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from catalog.errors import UnknownUse
from catalog.licenses import CATEGORY_RANK, KnowledgeBase, License
from catalog.lineage import Lineage, RepoFacts
from catalog.policies import OUTCOME_RANK, USES, Policy

SEVERITY = {"allowed": "info", "conditional": "warn", "unknown": "review", "forbidden": "block"}


@dataclass(frozen=True)
class Reason:
    code: str
    outcome: str
    text: str
    source: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": SEVERITY[self.outcome],
            "text": self.text,
            "source": self.source,
        }


@dataclass
class Verdict:
    model: str
    use: str
    policy: str
    declared_license: str | None
    effective_ids: list[str] = field(default_factory=list)
    effective_category: str = "unknown"
    reasons: list[Reason] = field(default_factory=list)
    obligations: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        outcomes = [r.outcome for r in self.reasons] or ["allowed"]
        return max(outcomes, key=OUTCOME_RANK.__getitem__)

    def to_dict(self, checked_at: datetime | None = None) -> dict[str, Any]:
        checked = (checked_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        ordered = sorted(self.reasons, key=lambda r: -OUTCOME_RANK[r.outcome])
        return {
            "model": self.model,
            "use": self.use,
            "policy": self.policy,
            "verdict": self.verdict,
            "declared_license": self.declared_license,
            "effective_license": {"ids": self.effective_ids, "category": self.effective_category},
            "reasons": [r.to_dict() for r in ordered if r.outcome != "allowed"],
            "obligations": self.obligations,
            "conflicts": self.conflicts,
            "checked_at": checked,
        }


@dataclass(frozen=True)
class _Visit:
    facts: RepoFacts
    kind: str  # model | base_model
    relation: str | None
    via: str | None  # the child this ancestor was reached from


def _source(visit: _Visit, license_id: str | None = None) -> dict[str, Any]:
    source: dict[str, Any] = {"kind": visit.kind, "id": visit.facts.id}
    if visit.relation:
        source["relation"] = visit.relation
    if license_id:
        source["license"] = license_id
    return source


def _walk(root: str, lineage: Lineage) -> list[_Visit]:
    """Breadth-first over the base-model graph; each model once, so cycles end."""
    visits = [_Visit(lineage.models[root], "model", None, None)]
    seen = {root}
    queue = deque(visits)
    while queue:
        visit = queue.popleft()
        for base_id, relation in visit.facts.bases:
            if base_id in seen:
                continue
            seen.add(base_id)
            facts = lineage.models.get(base_id) or RepoFacts(id=base_id, present=False)
            child = _Visit(facts, "base_model", relation, visit.facts.id)
            visits.append(child)
            queue.append(child)
    return visits


def _most_restrictive_category(license_ids: list[str] | tuple[str, ...], kb: KnowledgeBase) -> str:
    categories = [kb.licenses[i].category if i in kb.licenses else "unknown" for i in license_ids]
    return max(categories or ["unknown"], key=CATEGORY_RANK.__getitem__)


class _Assessment:
    """Collects reasons and obligations for one verdict."""

    def __init__(self, verdict: Verdict, kb: KnowledgeBase, policy: Policy) -> None:
        self.verdict = verdict
        self.kb = kb
        self.policy = policy
        self.rules = policy.uses[verdict.use]
        self._obligation_keys: set[tuple[str, str]] = set()

    def add(self, code: str, outcome: str, text: str, source: dict[str, Any]) -> None:
        self.verdict.reasons.append(Reason(code, outcome, text, source))

    def license_terms(self, entry: License, source: dict[str, Any], cap: str | None = None) -> None:
        """Judge one license for the use; `cap` bounds the outcome (dataset rules)."""
        for outcome, code, text in self._license_outcomes(entry):
            if cap is not None and OUTCOME_RANK[outcome] > OUTCOME_RANK[cap]:
                text = f"{text} (counted as {cap} for training data under the {self.policy.name} policy)"
                outcome = cap
            self.add(code, outcome, text, source)
        for term in entry.conditions:
            key = (term.code, f"{source['kind']}:{source['id']}")
            if key in self._obligation_keys:
                continue
            self._obligation_keys.add(key)
            obligation: dict[str, Any] = {"code": term.code, "text": term.text, "source": source}
            if term.threshold is not None:
                obligation["threshold"] = term.threshold
            self.verdict.obligations.append(obligation)

    def _license_outcomes(self, entry: License) -> list[tuple[str, str, str]]:
        key = (self.verdict.use, entry.id)
        if key not in self.policy.outcomes:
            self.policy.outcomes[key] = self._judge_license(entry)
        return self.policy.outcomes[key]

    def _judge_license(self, entry: License) -> list[tuple[str, str, str]]:
        """The outcomes a license gives the use under the policy, with the reasons' codes and texts."""
        use = self.verdict.use
        for listed, outcome in ((self.policy.deny, "forbidden"), (self.policy.review, "unknown")):
            if entry.id in listed or entry.category in listed:
                return [
                    (
                        outcome,
                        f"policy-{outcome}",
                        f"The {self.policy.name} policy lists {entry.name} as {outcome}",
                    )
                ]
        if entry.id in self.policy.allow or entry.category in self.policy.allow:
            return []
        found: list[tuple[str, str, str]] = []
        by_category = self.rules.categories[entry.category]
        if by_category != "allowed":
            found.append(
                (by_category, f"license-{entry.category}", _category_text(entry, use, by_category))
            )
        for term in entry.limitations:
            outcome = self.rules.limitations.get(term.code)
            if outcome and outcome != "allowed":
                found.append((outcome, term.code, f"{entry.name}: {term.text}"))
        binding = sorted(entry.condition_codes() & self.policy.binding_conditions)
        if binding and not any(o == "forbidden" for o, _, _ in found):
            found.append(
                (
                    "conditional",
                    "license-conditions",
                    f"{entry.name} allows {use} use under conditions: {', '.join(binding)}",
                )
            )
        return found


def _category_text(entry: License, use: str, outcome: str) -> str:
    if entry.category == "unknown":
        return f"{entry.name}: no recognisable license, so {use} use cannot be cleared"
    if outcome == "forbidden":
        return f"{entry.name} ({entry.category}) forbids {use} use"
    return f"{entry.name} ({entry.category}) makes {use} use {outcome}"


def _assess_model(assessment: _Assessment, visit: _Visit) -> None:
    facts = visit.facts
    if not facts.present:
        assessment.add(
            "ancestor-missing" if visit.kind == "base_model" else "model-not-in-catalog",
            "unknown",
            f"{facts.id} is not in the catalog (or not on the Hub), so its license cannot be checked",
            _source(visit),
        )
        return
    for license_id in facts.license_ids:
        entry = assessment.kb.licenses.get(license_id) or assessment.kb.licenses["unknown"]
        if license_id in ("unknown", "other"):
            declared = facts.declared_license or "none"
            assessment.add(
                "license-unknown",
                assessment.rules.categories["unknown"],
                f"{facts.id} declares no recognisable license (declared: {declared})",
                _source(visit, license_id),
            )
            continue
        assessment.license_terms(entry, _source(visit, license_id))


def _assess_dataset(assessment: _Assessment, dataset: RepoFacts, trained: _Visit) -> None:
    rules = assessment.policy.datasets
    source: dict[str, Any] = {"kind": "dataset", "id": dataset.id, "model": trained.facts.id}
    if not dataset.present:
        assessment.add(
            "dataset-missing",
            "unknown",
            f"Training dataset {dataset.id} is not in the catalog",
            source,
        )
        return
    if dataset.model_generated_by:
        assessment.add(
            "dataset-model-generated",
            rules.model_generated,
            f"{dataset.id} was generated by {dataset.model_generated_by}, whose terms forbid building competing models",
            source,
        )
    for license_id in dataset.license_ids:
        entry = assessment.kb.licenses.get(license_id)
        if entry is None or entry.category == "unknown":
            assessment.add(
                "dataset-license-unknown",
                rules.unknown_license,
                f"Training dataset {dataset.id} has no recognisable license",
                {**source, "license": license_id},
            )
            continue
        assessment.license_terms(entry, {**source, "license": license_id}, cap=rules.cap)


def _conflicts(visits: list[_Visit], kb: KnowledgeBase) -> list[dict[str, Any]]:
    """An ancestor whose license is more restrictive than a descendant's own declaration."""
    by_id = {v.facts.id: v for v in visits}
    found = []
    for visit in visits[1:]:
        child = by_id.get(visit.via or "")
        if child is None or not visit.facts.present or not child.facts.present:
            continue
        child_category = _most_restrictive_category(child.facts.license_ids, kb)
        base_category = _most_restrictive_category(visit.facts.license_ids, kb)
        if "unknown" in (child_category, base_category):
            continue
        if CATEGORY_RANK[child_category] < CATEGORY_RANK[base_category]:
            found.append(
                {
                    "model": child.facts.id,
                    "declared": list(child.facts.license_ids),
                    "ancestor": visit.facts.id,
                    "ancestor_license": list(visit.facts.license_ids),
                    "relation": visit.relation,
                    "text": (
                        f"{child.facts.id} declares {', '.join(child.facts.license_ids)} ({child_category}) but its "
                        f"base {visit.facts.id} is {', '.join(visit.facts.license_ids)} ({base_category}); "
                        "the base's terms still apply"
                    ),
                }
            )
    return found


def evaluate(
    root: str, lineage: Lineage, *, use: str, policy: Policy, kb: KnowledgeBase
) -> Verdict:
    """Judge one model (already in `lineage`) for a use under a policy."""
    if use not in USES:
        raise UnknownUse(use, list(USES))
    facts = lineage.models.get(root) or RepoFacts(id=root, present=False)
    lineage.models.setdefault(root, facts)
    verdict = Verdict(
        model=root, use=use, policy=policy.name, declared_license=facts.declared_license
    )
    assessment = _Assessment(verdict, kb, policy)
    visits = _walk(root, lineage)
    for visit in visits:
        _assess_model(assessment, visit)
        for dataset_id in visit.facts.datasets:
            dataset = lineage.datasets.get(dataset_id) or RepoFacts(id=dataset_id, present=False)
            _assess_dataset(assessment, dataset, visit)
    for visit in visits:
        for license_id in visit.facts.license_ids if visit.facts.present else ():
            if license_id not in verdict.effective_ids:
                verdict.effective_ids.append(license_id)
    verdict.effective_category = _most_restrictive_category(
        verdict.effective_ids or ["unknown"], kb
    )
    verdict.conflicts = _conflicts(visits, kb)
    for conflict in verdict.conflicts:
        assessment.add(
            "license-conflict",
            "conditional",
            conflict["text"],
            {"kind": "model", "id": conflict["model"]},
        )
    return verdict
