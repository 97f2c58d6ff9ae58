"""The compliance engine: a verdict for a model and a use, following its whole lineage.

A model's verdict combines its own license with every ancestor's (through every relation) and the
licenses of the datasets each of them was trained on. Every term that restricts the use becomes a
reason with an outcome; the most restrictive outcome wins. Nothing is allowed by default: missing
licenses, ancestors or datasets give `unknown`.

On top of each license's own terms the engine judges what only the lineage shows: derivatives of
no-derivatives works, share-alike terms that cannot be met together with another license's
restrictions, and declarations that drop an ancestor's terms (conflicts), at any depth.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from catalog.compatibility import Compatibility, compatibility
from catalog.errors import UnknownUse
from catalog.licenses import REGION_CODE, THRESHOLD_CODES, KnowledgeBase, License, Term
from catalog.lineage import Lineage, RepoFacts
from catalog.policies import OUTCOME_RANK, USES, Organisation, Policy

SEVERITY = {"allowed": "info", "conditional": "warn", "unknown": "review", "forbidden": "block"}
_CONTEXT_CODES = frozenset((*THRESHOLD_CODES, REGION_CODE))
_UNRESOLVED = ("unknown", "other")


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
    kind: str = "model"  # or "dataset": a dataset a code base loads (evaluate_dataset)

    @property
    def verdict(self) -> str:
        outcomes = [r.outcome for r in self.reasons] or ["allowed"]
        return max(outcomes, key=OUTCOME_RANK.__getitem__)

    def to_dict(self, checked_at: datetime | None = None) -> dict[str, Any]:
        checked = (checked_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        ordered = sorted(self.reasons, key=lambda r: -OUTCOME_RANK[r.outcome])
        return {
            self.kind: self.model,  # "model": id, or "dataset": id
            "use": self.use,
            "policy": self.policy,
            "verdict": self.verdict,
            "declared_license": self.declared_license,
            "effective_license": {"ids": self.effective_ids, "category": self.effective_category},
            "reasons": [r.to_dict() for r in ordered],
            "obligations": self.obligations,
            "conflicts": self.conflicts,
            "checked_at": checked,
        }


class Rules:
    """What each license means for each use under one policy, worked out once per license.

    One object per policy and batch of verdicts: it owns the memo, so nothing is cached on the
    (frozen, shared) policy itself."""

    def __init__(
        self, policy: Policy, kb: KnowledgeBase, compat: Compatibility | None = None
    ) -> None:
        self.policy = policy
        self.kb = kb
        self.compat = compat or compatibility()
        self._judged: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        self._listed = policy.allow | policy.deny | policy.review

    def license_outcomes(self, entry: License, use: str) -> list[tuple[str, str, str]]:
        """(outcome, code, text) for one license's own terms, without the user-dependent ones."""
        key = (use, entry.id)
        if key not in self._judged:
            self._judged[key] = self._judge(entry, use)
        return self._judged[key]

    def overridden(self, entry: License) -> bool:
        """Whether the policy's allow/deny/review lists decide this license outright."""
        return entry.id in self._listed or entry.category in self._listed

    def _judge(self, entry: License, use: str) -> list[tuple[str, str, str]]:
        policy = self.policy
        for listed, outcome in ((policy.deny, "forbidden"), (policy.review, "unknown")):
            if entry.id in listed or entry.category in listed:
                text = f"The {policy.name} policy lists {entry.name} as {outcome}"
                return [(outcome, f"policy-{outcome}", text)]
        if entry.id in policy.allow or entry.category in policy.allow:
            return []
        rules = policy.uses[use]
        found: list[tuple[str, str, str]] = []
        by_category = rules.categories[entry.category]
        if by_category != "allowed":
            found.append(
                (by_category, f"license-{entry.category}", _category_text(entry, use, by_category))
            )
        for term in entry.limitations:
            limited = rules.limitations.get(term.code)
            if limited and limited != "allowed" and _binds(term, use):
                found.append((limited, term.code, _term_text(entry, term)))
        if entry.unclear and use in entry.unclear.uses:
            found.append(("unknown", "terms-unclear", f"{entry.name}: {entry.unclear.text}"))
        binding = sorted(
            t.code
            for t in entry.conditions
            if t.code in policy.binding_conditions
            and t.code not in _CONTEXT_CODES
            and _binds(t, use)
        )
        if binding and not any(o == "forbidden" for o, _, _ in found):
            text = f"{entry.name} allows {use} use under conditions: {', '.join(binding)}"
            found.append(("conditional", "license-conditions", text))
        return found


def _binds(term: Term, use: str) -> bool:
    return term.uses is None or use in term.uses


def _term_text(entry: License, term: Term) -> str:
    clause = f" ({term.clause})" if term.clause else ""
    return f"{entry.name}: {term.text}{clause}"


def _category_text(entry: License, use: str, outcome: str) -> str:
    if entry.category == "unknown":
        return f"{entry.name}: no recognisable license, so {use} use cannot be cleared"
    basis = f" ({entry.basis})" if entry.basis else ""
    if outcome == "forbidden":
        return f"{entry.name} ({entry.category}) forbids {use} use{basis}"
    return f"{entry.name} ({entry.category}) makes {use} use {outcome}{basis}"


@dataclass(frozen=True)
class _Visit:
    facts: RepoFacts
    kind: str  # model | base_model
    path: tuple[str, ...]  # ids from the judged model to this one
    relations: tuple[str, ...]  # the relation of each edge along the path

    @property
    def relation(self) -> str | None:
        return self.relations[-1] if self.relations else None


def _source(visit: _Visit, license_id: str | None = None) -> dict[str, Any]:
    source: dict[str, Any] = {"kind": visit.kind, "id": visit.facts.id}
    if visit.relation:
        source["relation"] = visit.relation
    if license_id:
        source["license"] = license_id
    return source


def walk_lineage(root: str, lineage: Lineage) -> list[_Visit]:
    """Breadth-first over the base-model graph (shortest path to each); each model once, so cycles end."""
    visits = [_Visit(lineage.models[root], "model", (root,), ())]
    seen = {root}
    queue = deque(visits)
    while queue:
        visit = queue.popleft()
        for base_id, relation in visit.facts.bases:
            if base_id in seen:
                continue
            seen.add(base_id)
            facts = lineage.models.get(base_id) or RepoFacts(id=base_id, present=False)
            child = _Visit(
                facts, "base_model", (*visit.path, base_id), (*visit.relations, relation)
            )
            visits.append(child)
            queue.append(child)
    return visits


class _Assessment:
    """Collects reasons and obligations for one verdict."""

    def __init__(self, verdict: Verdict, rules: Rules, multimodal: bool) -> None:
        self.verdict = verdict
        self.rules = rules
        self.kb = rules.kb
        self.policy = rules.policy
        self.use_rules = rules.policy.uses[verdict.use]
        self.multimodal = multimodal
        self._obligation_keys: set[tuple[str, str]] = set()

    def add(self, code: str, outcome: str, text: str, source: dict[str, Any]) -> None:
        self.verdict.reasons.append(Reason(code, outcome, text, source))

    def license_terms(self, entry: License, source: dict[str, Any], cap: str | None = None) -> None:
        """Judge one license for the use; `cap` bounds the outcome (dataset rules)."""
        use = self.verdict.use
        for outcome, code, text in self.rules.license_outcomes(entry, use):
            self._add_capped(code, outcome, text, source, cap)
        if not self.rules.overridden(entry):
            for term in entry.conditions:
                if term.code in _CONTEXT_CODES and _binds(term, use):
                    self._user_dependent(entry, term, source, cap)
        for term in entry.conditions:
            if _binds(term, use) and self._applies(term):
                self._oblige(term, source)

    def _add_capped(
        self, code: str, outcome: str, text: str, source: dict[str, Any], cap: str | None
    ) -> None:
        if cap is not None and OUTCOME_RANK[outcome] > OUTCOME_RANK[cap]:
            text = (
                f"{text} (counted as {cap} for training data under the {self.policy.name} policy)"
            )
            outcome = cap
        self.add(code, outcome, text, source)

    def _applies(self, term: Term) -> bool:
        return term.code != REGION_CODE or term.scope == "all" or self.multimodal

    def _oblige(self, term: Term, source: dict[str, Any]) -> None:
        key = (term.code, f"{source['kind']}:{source['id']}")
        if key in self._obligation_keys:
            return
        self._obligation_keys.add(key)
        obligation: dict[str, Any] = {"code": term.code, "text": term.text, "source": source}
        if term.threshold is not None:
            obligation["threshold"] = term.threshold
        if term.region:
            obligation["region"] = term.region
        if term.clause:
            obligation["clause"] = term.clause
        self.verdict.obligations.append(obligation)

    def _user_dependent(
        self, entry: License, term: Term, source: dict[str, Any], cap: str | None
    ) -> None:
        """A threshold or region term: settled by the policy's organisation, else a condition."""
        if not self._applies(term):
            return
        settled = _settle(term, self.policy.organisation)
        if settled is None:
            if term.code in self.policy.binding_conditions:
                self.add(
                    term.code, "conditional", f"{_term_text(entry, term)}; {_ask(term)}", source
                )
            return
        outcome, why = settled
        self._add_capped(term.code, outcome, f"{entry.name}: {why}", source, cap)


def _ask(term: Term) -> str:
    if term.code == REGION_CODE:
        return "describe the organisation's region in the policy to settle it"
    field_name = "monthly_active_users" if term.code == "user-threshold" else "annual_revenue_usd"
    return f"set organisation.{field_name} in the policy to settle it"


def _settle(term: Term, organisation: Organisation | None) -> tuple[str, str] | None:
    """(outcome, why) when the organisation settles the term; None when it cannot."""
    if organisation is None:
        return None
    if term.code == REGION_CODE:
        if organisation.region is None:
            return None
        if organisation.region == (term.region or "").upper():
            return (
                "forbidden",
                f"the rights are not granted in {term.region}, where the organisation is ({term.text})",
            )
        return (
            "allowed",
            f"the {term.region} exclusion does not apply to an organisation in {organisation.region}",
        )
    value = (
        organisation.monthly_active_users
        if term.code == "user-threshold"
        else organisation.annual_revenue_usd
    )
    if value is None or term.threshold is None:
        return None
    unit = "monthly active users" if term.code == "user-threshold" else "USD annual revenue"
    if value > term.threshold:
        return (
            term.above,
            f"the organisation's {value:,} {unit} exceed the {term.threshold:,} threshold: {term.text}",
        )
    return (
        "allowed",
        f"the organisation's {value:,} {unit} are within the {term.threshold:,} threshold",
    )


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
        if license_id in _UNRESOLVED:
            _unresolved_license(assessment, visit, license_id)
            continue
        assessment.license_terms(entry, _source(visit, license_id))


def _unresolved_license(assessment: _Assessment, visit: _Visit, license_id: str) -> None:
    facts = visit.facts
    source = _source(visit, license_id)
    undeclared = facts.declared_license is None or facts.declared_license.lower() in (
        "unknown",
        "none",
    )
    if undeclared and facts.bases and assessment.policy.undeclared_derivative == "inherit":
        assessment.add(
            "license-undeclared-inherited",
            "conditional",
            f"{facts.id} declares no license; judged by its ancestors' terms under the "
            f"{assessment.policy.name} policy (undeclared_derivative: inherit) — confirm with its author",
            source,
        )
        return
    assessment.add(
        "license-unknown",
        assessment.use_rules.categories["unknown"],
        f"{facts.id} declares no recognisable license ({_declaration(facts)})",
        source,
    )


def _declaration(facts: RepoFacts) -> str:
    """The card's own words, quoted, so a reviewer sees what was not recognised."""
    if facts.declared_license is None:
        return "no license field"
    parts = [f"license: {facts.declared_license!r}"]
    if facts.license_name:
        parts.append(f"license_name: {facts.license_name!r}")
    if facts.license_link:
        parts.append(f"license_link: {facts.license_link!r}")
    if facts.declared_license.lower() == "other" and len(parts) == 1:
        parts.append("no license_name or license_link")
    return ", ".join(parts)


def _assess_dataset(assessment: _Assessment, dataset: RepoFacts, source: dict[str, Any]) -> None:
    """Judge a dataset by the policy's rules for training data; `source` names the model trained
    on it, if any."""
    rules = assessment.policy.datasets
    what = "Training dataset" if "model" in source else "Dataset"
    if not dataset.present:
        assessment.add(
            "dataset-missing",
            "unknown",
            f"{what} {dataset.id} is not in the catalog",
            source,
        )
        return
    if dataset.generation:
        _generated(assessment, dataset, source)
    for license_id in dataset.license_ids:
        entry = assessment.kb.licenses.get(license_id)
        if entry is None or entry.category == "unknown":
            assessment.add(
                "dataset-license-unknown",
                rules.unknown_license,
                f"{what} {dataset.id} has no recognisable license",
                {**source, "license": license_id},
            )
            continue
        assessment.license_terms(entry, {**source, "license": license_id}, cap=rules.cap)


def _generated(assessment: _Assessment, dataset: RepoFacts, source: dict[str, Any]) -> None:
    generation = dataset.generation
    assert generation is not None
    rules = assessment.policy.datasets
    if generation.generator is None:
        text = f"{dataset.id} is model-generated by a model its card does not name; recognised from {generation.how}"
        assessment.add("dataset-model-generated", rules.unnamed_generator, text, source)
        return
    terms = f" ({generation.clause})" if generation.clause else ""
    text = (
        f"{dataset.id} was generated by {generation.generator}, whose terms forbid using its "
        f"outputs to build competing models{terms}; recognised from {generation.how}"
    )
    assessment.add("dataset-model-generated", rules.model_generated, text, source)


def _no_derivatives(assessment: _Assessment, visits: list[_Visit]) -> None:
    """A shared derivative of a no-derivatives work is not licensed; a quantization needs a human."""
    compat = assessment.rules.compat
    use_rules = assessment.use_rules
    for visit in visits[1:]:
        if not visit.facts.present:
            continue
        for license_id in visit.facts.license_ids:
            entry = assessment.kb.licenses.get(license_id)
            if entry is None or "no-derivatives" not in entry.limitation_codes():
                continue
            adapted = [r for r in visit.relations if r in compat.derivative_relations]
            chain = " → ".join(visit.path)
            if adapted and use_rules.nd_derivative:
                text = (
                    f"{visit.path[0]} is a derivative ({', '.join(dict.fromkeys(adapted))}) of "
                    f"{visit.facts.id}, whose license {entry.name} forbids sharing adapted material; "
                    f"a shared derivative is not licensed (path: {chain})"
                )
                assessment.add(
                    "no-derivatives", use_rules.nd_derivative, text, _source(visit, license_id)
                )
            elif not adapted and use_rules.nd_technical:
                text = (
                    f"{visit.path[0]} only changes the form of {visit.facts.id} ({entry.name}, no "
                    f"derivatives); whether that is an allowed technical modification needs review (path: {chain})"
                )
                assessment.add(
                    "no-derivatives-technical",
                    use_rules.nd_technical,
                    text,
                    _source(visit, license_id),
                )


def _incompatibilities(assessment: _Assessment, visits: list[_Visit]) -> None:
    """Share-alike terms that no one model can meet together with another license in its lineage."""
    outcome = assessment.use_rules.incompatible
    if outcome is None:
        return
    compat = assessment.rules.compat
    held = [
        (v, i)
        for v in visits
        if v.facts.present
        for i in v.facts.license_ids
        if i in assessment.kb.licenses
    ]
    share_alike = [(v, i) for v, i in held if i in compat.share_alike]
    for found in _incompatible_pairs(share_alike, held, assessment.kb, compat):
        assessment.add(
            "license-incompatible", outcome, found, {"kind": "model", "id": visits[0].facts.id}
        )


def _incompatible_pairs(
    share_alike: list[tuple[_Visit, str]],
    held: list[tuple[_Visit, str]],
    kb: KnowledgeBase,
    compat: Compatibility,
) -> Iterator[str]:
    reported: set[tuple[str, str]] = set()
    for sa_visit, sa_id in share_alike:
        own_terms = kb.licenses[sa_id].term_codes()
        for other_visit, other_id in held:
            if other_id == sa_id or (sa_id, other_id) in reported or (other_id, sa_id) in reported:
                continue
            sa_name, other_name = kb.licenses[sa_id].name, kb.licenses[other_id].name
            if other_id in compat.share_alike:
                if compat.satisfiable_together(sa_id, other_id):
                    continue
                reported.add((sa_id, other_id))
                yield (
                    f"{sa_name} ({sa_visit.facts.id}) and {other_name} ({other_visit.facts.id}) each "
                    f"require the combined model under their own terms; no license satisfies both "
                    f"({compat.share_alike_clause})"
                )
                continue
            added = sorted((kb.licenses[other_id].term_codes() & compat.restrictions) - own_terms)
            if added:
                reported.add((sa_id, other_id))
                yield (
                    f"{sa_name} ({sa_visit.facts.id}) requires sharing the model under its terms with no "
                    f"further restrictions, but {other_name} ({other_visit.facts.id}) adds "
                    f"{', '.join(added)} ({compat.restrictions_clause})"
                )


def _declares_known(facts: RepoFacts, kb: KnowledgeBase) -> bool:
    return facts.present and any(kb.category(i) != "unknown" for i in facts.license_ids)


def _carries(
    declared: tuple[str, ...], ancestor_id: str, kb: KnowledgeBase, compat: Compatibility
) -> bool:
    """Whether a declaration keeps an ancestor license's terms (so relabelling it is no conflict)."""
    ancestor = kb.licenses[ancestor_id]
    if ancestor_id in declared or ancestor.derivatives == "any":
        return True
    if ancestor.derivatives == "carry":
        needed = set(ancestor.carry)
        return any(needed <= kb.licenses[i].term_codes() for i in declared if i in kb.licenses)
    return any((ancestor_id, i) in compat.compatible for i in declared)


def _ancestors(
    start: str, lineage: Lineage
) -> Iterator[tuple[RepoFacts, tuple[str, ...], tuple[str, ...]]]:
    """Every ancestor of a model with the shortest path to it, through unknown or missing links."""
    seen = {start}
    queue: deque[tuple[str, tuple[str, ...], tuple[str, ...]]] = deque([(start, (start,), ())])
    while queue:
        model_id, path, relations = queue.popleft()
        facts = lineage.models.get(model_id)
        for base_id, relation in facts.bases if facts else ():
            if base_id in seen:
                continue
            seen.add(base_id)
            base = lineage.models.get(base_id) or RepoFacts(id=base_id, present=False)
            step = ((*path, base_id), (*relations, relation))
            yield base, *step
            queue.append((base_id, *step))


def _conflicts(
    visits: list[_Visit], lineage: Lineage, kb: KnowledgeBase, compat: Compatibility
) -> list[dict[str, Any]]:
    """Each declaration in the lineage that drops the terms of any ancestor above it, at any depth."""
    found = []
    for visit in visits:
        node = visit.facts
        if not _declares_known(node, kb):
            continue
        for ancestor, path, relations in _ancestors(node.id, lineage):
            if not _declares_known(ancestor, kb):
                continue
            dropped = [
                i
                for i in ancestor.license_ids
                if kb.category(i) != "unknown" and not _carries(node.license_ids, i, kb, compat)
            ]
            if dropped:
                found.append(_conflict(node, ancestor, dropped, path, relations, kb))
    return found


def _conflict(
    node: RepoFacts,
    ancestor: RepoFacts,
    dropped: list[str],
    path: tuple[str, ...],
    relations: tuple[str, ...],
    kb: KnowledgeBase,
) -> dict[str, Any]:
    names = ", ".join(kb.licenses[i].name for i in dropped)
    return {
        "model": node.id,
        "declared": list(node.license_ids),
        "ancestor": ancestor.id,
        "ancestor_license": list(ancestor.license_ids),
        "relation": relations[-1],
        "path": list(path),
        "relations": list(relations),
        "text": (
            f"{node.id} declares {', '.join(node.license_ids)} but its ancestor {ancestor.id} is "
            f"under {names}, whose terms that declaration does not carry (path: {' → '.join(path)}); "
            "the ancestor's terms still apply"
        ),
    }


def evaluate(
    root: str,
    lineage: Lineage,
    *,
    use: str,
    policy: Policy,
    kb: KnowledgeBase,
    rules: Rules | None = None,
) -> Verdict:
    """Judge one model (already in `lineage`) for a use under a policy.

    Pass the same `rules` for many verdicts under one policy to judge each license once."""
    if use not in USES:
        raise UnknownUse(use, list(USES))
    rules = rules or Rules(policy, kb)
    facts = lineage.models.get(root) or RepoFacts(id=root, present=False)
    lineage.models.setdefault(root, facts)
    verdict = Verdict(
        model=root, use=use, policy=policy.name, declared_license=facts.declared_license
    )
    visits = walk_lineage(root, lineage)
    multimodal = any(v.facts.pipeline_tag in rules.compat.multimodal_tasks for v in visits)
    assessment = _Assessment(verdict, rules, multimodal)
    for visit in visits:
        _assess_model(assessment, visit)
        for dataset_id in visit.facts.datasets:
            dataset = lineage.datasets.get(dataset_id) or RepoFacts(id=dataset_id, present=False)
            source = {"kind": "dataset", "id": dataset_id, "model": visit.facts.id}
            _assess_dataset(assessment, dataset, source)
    _no_derivatives(assessment, visits)
    _incompatibilities(assessment, visits)
    for visit in visits:
        for license_id in visit.facts.license_ids if visit.facts.present else ():
            if license_id not in verdict.effective_ids:
                verdict.effective_ids.append(license_id)
    verdict.effective_category = kb.most_restrictive_category(verdict.effective_ids or ["unknown"])
    verdict.conflicts = _conflicts(visits, lineage, kb, rules.compat)
    for conflict in verdict.conflicts:
        assessment.add(
            "license-conflict",
            policy.license_conflict,
            conflict["text"],
            {"kind": "model", "id": conflict["model"]},
        )
    return verdict


def evaluate_dataset(
    dataset_id: str,
    lineage: Lineage,
    *,
    use: str,
    policy: Policy,
    kb: KnowledgeBase,
    rules: Rules | None = None,
) -> Verdict:
    """Judge a dataset a code base loads (already in `lineage.datasets`) for a use.

    Code that loads a dataset trains or evaluates on it, so it is judged as it counts in the
    verdict of a model trained on it: its licenses under the policy's dataset rules (their cap
    included), how it was generated, and `unknown` when the catalog does not hold it."""
    if use not in USES:
        raise UnknownUse(use, list(USES))
    rules = rules or Rules(policy, kb)
    facts = lineage.datasets.get(dataset_id) or RepoFacts(id=dataset_id, present=False)
    verdict = Verdict(
        model=dataset_id,
        kind="dataset",
        use=use,
        policy=policy.name,
        declared_license=facts.declared_license,
    )
    # Region terms scoped to multimodal models do not reach a dataset.
    assessment = _Assessment(verdict, rules, multimodal=False)
    _assess_dataset(assessment, facts, {"kind": "dataset", "id": dataset_id})
    verdict.effective_ids = list(facts.license_ids) if facts.present else []
    verdict.effective_category = kb.most_restrictive_category(verdict.effective_ids or ["unknown"])
    return verdict
