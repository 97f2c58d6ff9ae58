"""Verdicts under the terms of licenses that dominate the Hub today, each case citing its clause.

A case builds a small lineage the way real cards describe it (a license id, or `other` with a
`license_name` / `license_link`), judges one model, and checks the verdict and the reason code
that decides it. The clause is the text of the license the expectation rests on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.compliance import evaluate
from catalog.compliance_checks import failing
from catalog.licenses import knowledge_base
from catalog.lineage import Lineage, RepoFacts
from catalog.policies import OUTCOME_RANK, Policy, load_policy, parse_policy
from catalog.provenance import generation_rules

KB = knowledge_base()


def _policy(name: str, **changes: Any) -> Policy:
    text = resources.files("catalog.data.policies").joinpath(f"{name}.yaml").read_text("utf-8")
    document = yaml.safe_load(text)
    document.update(changes)
    return parse_policy(document)


POLICIES = {
    "default": load_policy("default"),
    "strict": load_policy("strict"),
    "inherit": _policy("default", undeclared_derivative="inherit"),
    "eu": _policy("default", organisation={"region": "EU"}),
    "us": _policy("default", organisation={"region": "US"}),
    "huge": _policy("default", organisation={"monthly_active_users": 800_000_000}),
    "small": _policy(
        "default", organisation={"monthly_active_users": 1_000_000, "annual_revenue_usd": 500_000}
    ),
    "rich": _policy(
        "default",
        organisation={"monthly_active_users": 150_000_000, "annual_revenue_usd": 2_000_000},
    ),
}


@dataclass(frozen=True)
class Node:
    """One model card: `license` as written, plus name/link for `license: other`."""

    license: str | None
    bases: tuple[tuple[int, str], ...] = ()  # (index of the base node, relation)
    name: str | None = None
    link: str | None = None
    task: str | None = None
    datasets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    title: str
    nodes: tuple[Node, ...]  # node 0 is the judged model
    use: str
    policy: str
    verdict: str
    code: str | None  # a reason code that must be present (the deciding term)
    clause: str
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    absent: str | None = None  # a reason code that must not be there


def lineage_of(case: Case) -> Lineage:
    lineage = Lineage()
    for index, node in enumerate(case.nodes):
        ids = KB.resolve(node.license, node.name, node.link) if node.license else ["unknown"]
        lineage.models[f"org/m{index}"] = RepoFacts(
            id=f"org/m{index}",
            license_ids=tuple(ids),
            declared_license=node.license,
            license_name=node.name,
            license_link=node.link,
            bases=tuple((f"org/m{i}", relation) for i, relation in node.bases),
            datasets=node.datasets,
            pipeline_tag=node.task,
        )
    rules = generation_rules()
    for dataset_id, card in case.datasets.items():
        lineage.datasets[dataset_id] = RepoFacts(
            id=dataset_id,
            license_ids=tuple(KB.resolve(card.get("license"))),
            declared_license=card.get("license"),
            generation=rules.detect(dataset_id, card.get("tags", ()), card),
        )
    return lineage


def other(name: str | None = None, link: str | None = None, **kwargs: Any) -> Node:
    return Node("other", name=name, link=link, **kwargs)


def on(license_id: str, *bases: tuple[int, str], **kwargs: Any) -> Node:
    return Node(license_id, bases=bases, **kwargs)


FT, AD, QU, ME = "finetune", "adapter", "quantized", "merge"
VISION = "image-text-to-text"

CASES = [
    # --- exact resolution of `license: other` -------------------------------------------------
    Case(
        "Tongyi Qianwen research terms are not the commercial ones",
        (other("tongyi-qianwen-research"),),
        "commercial",
        "default",
        "forbidden",
        "no-commercial",
        "Tongyi Qianwen Research License §2(a): FOR NON-COMMERCIAL PURPOSES ONLY",
    ),
    Case(
        "the research variant is recognised by its link alone",
        (other(link="https://huggingface.co/Qwen/CodeQwen1.5-7B/blob/main/LICENSE"),),
        "commercial",
        "strict",
        "forbidden",
        "no-commercial",
        "Tongyi Qianwen Research License §2(b)",
    ),
    Case(
        "Tongyi Qianwen allows commercial use under a 100M MAU threshold",
        (other("tongyi-qianwen"),),
        "commercial",
        "default",
        "conditional",
        "user-threshold",
        "Tongyi Qianwen License §4: over 100 million MAU, request a license",
    ),
    Case(
        "Tongyi Qianwen outputs may not improve other LLMs",
        (other("tongyi-qianwen"),),
        "train-on-outputs",
        "default",
        "forbidden",
        "no-outputs-to-improve-other-llms",
        "Tongyi Qianwen License §5(b)",
    ),
    Case(
        "a card whose name and link name different licenses needs review",
        (other("qwen", "https://huggingface.co/Qwen/Qwen1.5-7B/blob/main/LICENSE"),),
        "commercial",
        "default",
        "unknown",
        "license-unknown",
        "knowledge base: name and link disagree",
    ),
    Case(
        "an unrecognised license_name stays unknown",
        (other("my-company-license"),),
        "commercial",
        "default",
        "unknown",
        "license-unknown",
        "no entry names it",
    ),
    Case(
        "Llama 3.1 by name is not Llama 3: outputs may train other models",
        (other("llama3.1"),),
        "train-on-outputs",
        "default",
        "conditional",
        "license-conditions",
        "Llama 3.1 §1.b.i: outputs used to train a model require the 'Llama' name prefix; §1.b.v is gone",
    ),
    Case(
        "Code Llama by name is Llama 2's commercial terms, not the original LLaMA's",
        (other("codellama-license"),),
        "commercial",
        "default",
        "conditional",
        "license-conditions",
        "Code Llama LICENSE refers to the Llama 2 Community License §1.a",
    ),
    Case(
        "falcon-llm-license is the TII Falcon License 2.0, not the 2023 royalty terms",
        (other("falcon-llm-license"),),
        "commercial",
        "default",
        "conditional",
        "license-conditions",
        "TII: an Apache 2.0-based license with an acceptable use policy",
    ),
    Case(
        "the Falcon 2.0 text was not read: sharing derivatives needs review",
        (other("falcon-llm-license"),),
        "redistribute",
        "default",
        "unknown",
        "terms-unclear",
        "TII Falcon License 2.0 body not available",
    ),
    # --- Meta Llama family --------------------------------------------------------------------
    Case(
        "Llama 3 forbids improving other LLMs with its outputs",
        (on("llama3"),),
        "train-on-outputs",
        "default",
        "forbidden",
        "no-outputs-to-improve-other-llms",
        "Llama 3 §1.b.v",
    ),
    Case(
        "Llama 3.2 outputs may train other models with the naming rule",
        (on("llama3.2"),),
        "train-on-outputs",
        "default",
        "conditional",
        "license-conditions",
        "Llama 3.2 §1.b.i",
    ),
    Case(
        "Llama 3.3 outputs may train other models with the naming rule",
        (on("llama3.3"),),
        "train-on-outputs",
        "default",
        "conditional",
        "license-conditions",
        "Llama 3.3 §1.b.i",
    ),
    Case(
        "Llama 4 outputs may train other models with the naming rule",
        (on("llama4"),),
        "train-on-outputs",
        "default",
        "conditional",
        "license-conditions",
        "Llama 4 §1.b.i",
    ),
    Case(
        "a Llama 3.2 vision model is not licensed to an EU organisation",
        (on("llama3.2", task=VISION),),
        "commercial",
        "eu",
        "forbidden",
        "region-restriction",
        "Llama 3.2 AUP: multimodal rights not granted in the EU",
    ),
    Case(
        "the EU exclusion withholds research use too",
        (on("llama3.2", task=VISION),),
        "research",
        "eu",
        "forbidden",
        "region-restriction",
        "Llama 3.2 AUP: the rights under Section 1(a) are not granted",
    ),
    Case(
        "an adapter of a Llama 3.2 vision model carries the EU exclusion",
        (on("llama3.2", (1, AD), task="text-generation"), on("llama3.2", task=VISION)),
        "commercial",
        "eu",
        "forbidden",
        "region-restriction",
        "Llama 3.2 AUP",
    ),
    Case(
        "outside the EU the vision model stays conditional",
        (on("llama3.2", task=VISION),),
        "commercial",
        "us",
        "conditional",
        "license-conditions",
        "Llama 3.2 AUP applies to EU domicile only",
    ),
    Case(
        "a text-only Llama 3.2 model is not affected by the multimodal exclusion",
        (on("llama3.2", task="text-generation"),),
        "commercial",
        "eu",
        "conditional",
        "license-conditions",
        "Llama 3.2 AUP: 'With respect to any multimodal models'",
    ),
    Case(
        "without an organisation profile the EU exclusion is a condition",
        (on("llama3.2", task=VISION),),
        "commercial",
        "default",
        "conditional",
        "region-restriction",
        "Llama 3.2 AUP",
    ),
    Case(
        "every Llama 4 model is multimodal: a text fine-tune is excluded in the EU",
        (on("llama4", (1, FT), task="text-generation"), on("llama4")),
        "commercial",
        "eu",
        "forbidden",
        "region-restriction",
        "Llama 4 AUP: multimodal models included in Llama 4",
    ),
    Case(
        "Llama 3.1 above 700M monthly active users needs Meta's license",
        (on("llama3.1"),),
        "commercial",
        "huge",
        "forbidden",
        "user-threshold",
        "Llama 3.1 §2: not authorized to exercise any of the rights",
    ),
    Case(
        "the Llama threshold withholds every right, research included",
        (on("llama3.1", (1, FT)), on("llama3.1")),
        "research",
        "huge",
        "forbidden",
        "user-threshold",
        "Llama 3.1 §2",
    ),
    Case(
        "a small organisation is within the Llama threshold but the AUP remains",
        (on("llama3.1"),),
        "commercial",
        "small",
        "conditional",
        "license-conditions",
        "Llama 3.1 §1.b.iv: the Acceptable Use Policy",
    ),
    Case(
        "a Llama 2 fine-tune relabelled Apache is a conflict",
        (on("apache-2.0", (1, FT)), on("llama2")),
        "commercial",
        "default",
        "conditional",
        "license-conflict",
        "Llama 2 §1.b.i: derivatives go with a copy of this Agreement",
    ),
    Case(
        "under the strict policy a relabel needs review",
        (on("apache-2.0", (1, FT)), on("llama2")),
        "commercial",
        "strict",
        "unknown",
        "license-conflict",
        "Llama 2 §1.b.i",
    ),
    # --- Qwen ---------------------------------------------------------------------------------
    Case(
        "Qwen is cleared for a small organisation's commercial use",
        (other("qwen"),),
        "commercial",
        "small",
        "allowed",
        None,
        "Qwen License: only over 100 million MAU is a license needed",
    ),
    Case(
        "Qwen above 100M monthly active users needs Alibaba's license",
        (other("qwen"),),
        "commercial",
        "rich",
        "forbidden",
        "user-threshold",
        "Qwen License: 'you shall request a license from us'",
    ),
    Case(
        "the Qwen threshold binds commercial use only",
        (other("qwen"),),
        "research",
        "rich",
        "allowed",
        None,
        "Qwen License: 'If you are commercially using the Materials'",
    ),
    Case(
        "Qwen outputs may train other models with 'Built with Qwen'",
        (other("qwen"),),
        "train-on-outputs",
        "default",
        "conditional",
        "license-conditions",
        "Qwen License: display 'Built with Qwen' or 'Improved using Qwen'",
    ),
    Case(
        "Qwen research is non-commercial",
        (other("qwen-research"),),
        "commercial",
        "default",
        "forbidden",
        "no-commercial",
        "Qwen Research License §2(a)",
    ),
    Case(
        "Qwen research output use for other models is unclear",
        (other("qwen-research"),),
        "train-on-outputs",
        "default",
        "unknown",
        "terms-unclear",
        "Qwen Research License §2 vs §4(b)",
    ),
    # --- Gemma, Mistral, Stability, NVIDIA, Microsoft, Apple, DeepSeek, Cohere ----------------
    Case(
        "Gemma allows commercial use under the prohibited-use policy",
        (on("gemma"),),
        "commercial",
        "default",
        "conditional",
        "license-conditions",
        "Gemma Terms §3.2",
    ),
    Case(
        "a Gemma fine-tune relabelled Apache drops the pass-down restrictions",
        (on("apache-2.0", (1, FT)), on("gemma")),
        "commercial",
        "default",
        "conditional",
        "license-conflict",
        "Gemma Terms §3.1: include the use restrictions in any agreement",
    ),
    Case(
        "a Llama 3.1 fine-tune relabelled Gemma is a conflict at the same rank",
        (on("gemma", (1, FT)), on("llama3.1")),
        "commercial",
        "default",
        "conditional",
        "license-conflict",
        "Llama 3.1 §1.b.i: provide a copy of this Agreement",
    ),
    Case(
        "Mistral's research license forbids commercial use",
        (other("mrl", "https://mistral.ai/licenses/MRL-0.1.md"),),
        "commercial",
        "default",
        "forbidden",
        "no-commercial",
        "MRL §3.2, §9 Research Purposes",
    ),
    Case(
        "Mistral's research license allows research",
        (other("mrl"),),
        "research",
        "default",
        "allowed",
        None,
        "MRL §3.2",
    ),
    Case(
        "Mistral's non-production license forbids commercial use",
        (other("mnpl"),),
        "commercial",
        "default",
        "forbidden",
        "no-commercial",
        "MNPL §3.2",
    ),
    Case(
        "Stability community: commercial use under USD 1M revenue",
        (other("stabilityai-ai-community"),),
        "commercial",
        "small",
        "conditional",
        "license-conditions",
        "Stability AI Community License §III, §IV(b) AUP",
    ),
    Case(
        "Stability community: over USD 1M every license ends",
        (other("stabilityai-ai-community"),),
        "research",
        "rich",
        "forbidden",
        "revenue-threshold",
        "Stability AI Community License §III",
    ),
    Case(
        "Stability outputs may not build foundation models",
        (other("stabilityai-ai-community"),),
        "train-on-outputs",
        "default",
        "forbidden",
        "no-outputs-to-improve-other-llms",
        "Stability AI Community License §IV(b)",
    ),
    Case(
        "NVIDIA's open model license is commercial with guardrail terms",
        (other("nvidia-open-model-license"),),
        "commercial",
        "default",
        "conditional",
        "license-conditions",
        "NVIDIA Open Model License §2.2, guardrail clause",
    ),
    Case(
        "Microsoft Research License forbids commercial use",
        (other("microsoft-research-license"),),
        "commercial",
        "default",
        "forbidden",
        "no-commercial",
        "MSR-LA §1(a): non-commercial purposes",
    ),
    Case(
        "Apple AMLR may be shared for research",
        (other("apple-amlr"),),
        "redistribute",
        "default",
        "conditional",
        "license-research-only",
        "AMLR §2: distribute with a copy and the notice; §1 Research Purposes",
    ),
    Case(
        "Apple AMLR forbids commercial use",
        (other("apple-amlr"),),
        "commercial",
        "default",
        "forbidden",
        "no-commercial",
        "AMLR §1",
    ),
    Case(
        "DeepSeek allows commercial use with use restrictions",
        (other("deepseek"),),
        "commercial",
        "default",
        "conditional",
        "license-conditions",
        "DeepSeek License §2, §4(a), Attachment A",
    ),
    Case(
        "a DeepSeek fine-tune under another OpenRAIL keeps the restrictions: no conflict",
        (on("bigscience-openrail-m", (1, FT)), other("deepseek")),
        "commercial",
        "default",
        "conditional",
        "license-conditions",
        "DeepSeek License §4(a): restrictions as enforceable provision",
    ),
    Case(
        "Cohere's C4AI models are non-commercial",
        (other(link="https://cohere.com/c4ai-cc-by-nc-license"),),
        "commercial",
        "default",
        "forbidden",
        "no-commercial",
        "CC BY-NC 4.0 + C4AI AUP (model card)",
    ),
    Case(
        "the 2023 Falcon royalty terms over USD 1M owe a royalty, not a ban",
        (on("tii-falcon-llm"),),
        "commercial",
        "rich",
        "conditional",
        "revenue-threshold",
        "TII Falcon LLM License 1.0: royalty payments",
    ),
    # --- no-derivatives -----------------------------------------------------------------------
    Case(
        "an ND model itself may be used commercially",
        (on("cc-by-nd-4.0"),),
        "commercial",
        "default",
        "allowed",
        None,
        "CC BY-ND 4.0 §2(a)(1)(A)",
    ),
    Case(
        "a fine-tune of an ND model is not cleared for commercial use",
        (on("cc-by-nd-4.0", (1, FT)), on("cc-by-nd-4.0")),
        "commercial",
        "default",
        "unknown",
        "no-derivatives",
        "CC BY-ND 4.0 §2(a)(1)(B): not Share Adapted Material",
    ),
    Case(
        "under strict a shared ND derivative is forbidden",
        (on("mit", (1, AD)), on("cc-by-nd-4.0")),
        "commercial",
        "strict",
        "forbidden",
        "no-derivatives",
        "CC BY-ND 4.0 §3(a)(1): no permission to Share Adapted Material",
    ),
    Case(
        "an ND derivative may not be shared",
        (on("cc-by-nd-4.0", (1, FT)), on("cc-by-nd-4.0")),
        "redistribute",
        "default",
        "forbidden",
        "no-derivatives",
        "CC BY-ND 4.0 §2(a)(1)(B)",
    ),
    Case(
        "a merge with an ND model may not be shared",
        (on("mit", (1, ME), (2, ME)), on("mit"), on("cc-by-nd-4.0")),
        "redistribute",
        "default",
        "forbidden",
        "no-derivatives",
        "CC BY-ND 4.0 §2(a)(1)(B)",
    ),
    Case(
        "a fine-tune of a quantization of an ND model is still a derivative",
        (on("mit", (1, FT)), on("cc-by-nd-4.0", (2, QU)), on("cc-by-nd-4.0")),
        "redistribute",
        "default",
        "forbidden",
        "no-derivatives",
        "CC BY-ND 4.0 §2(a)(1)(B)",
    ),
    Case(
        "a quantization of an ND model needs review",
        (on("cc-by-nd-4.0", (1, QU)), on("cc-by-nd-4.0")),
        "redistribute",
        "default",
        "unknown",
        "no-derivatives-technical",
        "CC BY-ND 4.0 §2(a)(4): technical modifications",
    ),
    Case(
        "NC-ND derivatives are blocked for sharing as well",
        (on("cc-by-nc-nd-4.0", (1, FT)), on("cc-by-nc-nd-4.0")),
        "redistribute",
        "default",
        "forbidden",
        "no-derivatives",
        "CC BY-NC-ND 4.0 §2(a)(1)(B)",
    ),
    # --- share-alike compatibility ------------------------------------------------------------
    Case(
        "a merge of CC BY-SA and Llama 3.1 cannot be shared",
        (on("cc-by-sa-4.0", (1, ME), (2, ME)), on("cc-by-sa-4.0"), on("llama3.1")),
        "redistribute",
        "default",
        "forbidden",
        "license-incompatible",
        "CC BY-SA 4.0 §3(b)(3): no additional terms",
    ),
    Case(
        "the same merge may still be used under both sets of conditions",
        (on("cc-by-sa-4.0", (1, ME), (2, ME)), on("cc-by-sa-4.0"), on("llama3.1")),
        "commercial",
        "default",
        "conditional",
        "license-incompatible",
        "CC BY-SA 4.0 §3(b) binds sharing only",
    ),
    Case(
        "GPL with OpenRAIL use restrictions cannot be shared",
        (on("gpl-3.0", (1, FT)), on("bigscience-openrail-m")),
        "redistribute",
        "default",
        "forbidden",
        "license-incompatible",
        "GPL-3.0 §10: no further restrictions",
    ),
    Case(
        "two different share-alike licenses cannot both be met",
        (on("cc-by-sa-4.0", (1, ME), (2, ME)), on("cc-by-sa-4.0"), on("cc-by-nc-sa-4.0")),
        "redistribute",
        "default",
        "forbidden",
        "license-incompatible",
        "CC BY-SA 4.0 §3(b)(1)",
    ),
    Case(
        "CC BY-SA 4.0 and GPLv3 are declared compatible",
        (on("gpl-3.0", (1, ME), (2, ME)), on("cc-by-sa-4.0"), on("gpl-3.0")),
        "redistribute",
        "default",
        "conditional",
        "license-conditions",
        "CC: GPLv3 is a BY-SA Compatible License",
        absent="license-incompatible",
    ),
    Case(
        "CC BY-SA 3.0 adapts into 4.0 without a conflict",
        (on("cc-by-sa-4.0", (1, FT)), on("cc-by-sa-3.0")),
        "redistribute",
        "default",
        "conditional",
        "license-conditions",
        "CC BY-SA 3.0 §4(b): later version",
        absent="license-conflict",
    ),
    Case(
        "NC-SA over NC adds no restriction of its own",
        (on("cc-by-nc-sa-4.0", (1, ME), (2, ME)), on("cc-by-nc-sa-4.0"), on("cc-by-nc-4.0")),
        "redistribute",
        "default",
        "conditional",
        "license-non-commercial",
        "CC BY-NC 4.0: adapters may use any license that keeps NonCommercial",
    ),
    Case(
        "a CC BY-SA fine-tune relabelled MIT is a conflict",
        (on("mit", (1, FT)), on("cc-by-sa-4.0")),
        "redistribute",
        "default",
        "conditional",
        "license-conflict",
        "CC BY-SA 4.0 §3(b)(1): same License Elements",
    ),
    # --- lineage-wide conflicts ---------------------------------------------------------------
    Case(
        "mit → apache-2.0 → llama2 is flagged at every relabel",
        (on("mit", (1, FT)), on("apache-2.0", (2, FT)), on("llama2")),
        "commercial",
        "default",
        "conditional",
        "license-conflict",
        "Llama 2 §1.b.i",
    ),
    Case(
        "an unknown link in the middle does not hide Llama 2 above it",
        (on("apache-2.0", (1, FT)), other(bases=((2, FT),)), on("llama2")),
        "commercial",
        "default",
        "unknown",
        "license-conflict",
        "Llama 2 §1.b.i",
    ),
    Case(
        "a permissive relabel of a permissive base is not a conflict",
        (on("mit", (1, FT)), on("apache-2.0")),
        "commercial",
        "default",
        "allowed",
        None,
        "Apache-2.0 §4: different license terms for Derivative Works",
    ),
    Case(
        "an OpenRAIL fine-tune under another OpenRAIL carries the restrictions",
        (on("openrail++", (1, FT)), on("creativeml-openrail-m")),
        "commercial",
        "default",
        "conditional",
        "license-conditions",
        "CreativeML OpenRAIL-M §4(a)",
    ),
    Case(
        "an OpenRAIL fine-tune relabelled MIT drops them",
        (on("mit", (1, FT)), on("creativeml-openrail-m")),
        "commercial",
        "default",
        "conditional",
        "license-conflict",
        "CreativeML OpenRAIL-M §4(a)",
    ),
    # --- undeclared derivatives ---------------------------------------------------------------
    Case(
        "a derivative with no license is unknown by default",
        (Node(None, bases=((1, FT),)), on("apache-2.0")),
        "commercial",
        "default",
        "unknown",
        "license-unknown",
        "no license declared",
    ),
    Case(
        "with inherit, it is judged by its Apache base with a review reason",
        (Node(None, bases=((1, FT),)), on("apache-2.0")),
        "commercial",
        "inherit",
        "conditional",
        "license-undeclared-inherited",
        "policy: undeclared_derivative inherit",
    ),
    Case(
        "with inherit, a non-commercial base still forbids commercial use",
        (Node(None, bases=((1, QU),)), on("cc-by-nc-4.0")),
        "commercial",
        "inherit",
        "forbidden",
        "license-non-commercial",
        "CC BY-NC 4.0 §2(a)(1)",
    ),
    Case(
        "inherit never applies to an unrecognised custom license",
        (other("acme-license", bases=((1, FT),)), on("apache-2.0")),
        "commercial",
        "inherit",
        "unknown",
        "license-unknown",
        "the card names terms we do not know",
    ),
    # --- model-generated training data --------------------------------------------------------
    Case(
        "a model trained on UltraChat (MIT card, ChatGPT outputs) is not plainly allowed",
        (on("apache-2.0", datasets=("HuggingFaceH4/ultrachat_200k",)),),
        "commercial",
        "default",
        "conditional",
        "dataset-model-generated",
        "OpenAI Terms: Output may not develop competing models",
        {"HuggingFaceH4/ultrachat_200k": {"license": "mit"}},
    ),
    Case(
        "under strict, GPT-4-generated data forbids commercial use",
        (on("apache-2.0", datasets=("someone/instructions",)),),
        "commercial",
        "strict",
        "forbidden",
        "dataset-model-generated",
        "OpenAI Terms of Use",
        {"someone/instructions": {"license": "apache-2.0", "source_model": "gpt-4o"}},
    ),
    Case(
        "data tagged synthetic with no named generator needs review under strict",
        (on("apache-2.0", datasets=("someone/synth",)),),
        "commercial",
        "strict",
        "unknown",
        "dataset-model-generated",
        "card tag: synthetic",
        {"someone/synth": {"license": "apache-2.0", "tags": ["synthetic"]}},
    ),
    Case(
        "human-written data is not model-generated",
        (on("apache-2.0", datasets=("databricks/databricks-dolly-15k",)),),
        "commercial",
        "default",
        "conditional",
        "license-conditions",
        "databricks-dolly-15k card: written by employees",
        {"databricks/databricks-dolly-15k": {"license": "cc-by-sa-3.0"}},
        absent="dataset-model-generated",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.title for c in CASES])
def test_real_terms(case: Case) -> None:
    verdict = evaluate(
        "org/m0", lineage_of(case), use=case.use, policy=POLICIES[case.policy], kb=KB
    )
    codes = {r.code for r in verdict.reasons}
    assert verdict.verdict == case.verdict, (case.clause, verdict.to_dict()["reasons"])
    if case.code:
        assert case.code in codes, (case.clause, codes)
    if case.absent:
        assert case.absent not in codes, (case.clause, codes)
    assert case.clause


def test_the_table_has_at_least_sixty_cases_with_clauses() -> None:
    assert len(CASES) >= 60
    assert all(c.clause for c in CASES)


def test_a_conflict_names_the_model_the_ancestor_and_the_path() -> None:
    case = CASES[
        [c.title for c in CASES].index("mit → apache-2.0 → llama2 is flagged at every relabel")
    ]
    verdict = evaluate(
        "org/m0", lineage_of(case), use="commercial", policy=POLICIES["default"], kb=KB
    )
    found = {(c["model"], c["ancestor"]): c for c in verdict.conflicts}
    assert set(found) == {("org/m0", "org/m2"), ("org/m1", "org/m2")}
    assert found[("org/m0", "org/m2")]["path"] == ["org/m0", "org/m1", "org/m2"]
    assert found[("org/m0", "org/m2")]["relations"] == ["finetune", "finetune"]


def test_threshold_and_region_obligations_carry_their_numbers() -> None:
    lineage = lineage_of(
        Case("", (on("llama3.2", task=VISION),), "commercial", "default", "", None, "x")
    )
    verdict = evaluate("org/m0", lineage, use="commercial", policy=POLICIES["default"], kb=KB)
    by_code = {o["code"]: o for o in verdict.obligations}
    assert by_code["user-threshold"]["threshold"] == 700_000_000
    assert by_code["region-restriction"]["region"] == "EU"
    assert "Section 1(a)" in by_code["region-restriction"]["clause"]


def test_the_llama31_naming_rule_says_llama_not_llama3() -> None:
    entry = KB.licenses["llama3.1"]
    naming = next(t for t in entry.conditions if t.code == "naming-rule")
    assert 'starts with "Llama"' in naming.text and '"Llama 3"' not in naming.text


def test_a_settled_threshold_is_reported_as_information() -> None:
    lineage = lineage_of(Case("", (other("qwen"),), "commercial", "small", "", None, "x"))
    verdict = evaluate(
        "org/m0", lineage, use="commercial", policy=POLICIES["small"], kb=KB
    ).to_dict()
    info = [r for r in verdict["reasons"] if r["code"] == "user-threshold"]
    assert info and info[0]["severity"] == "info" and "within the 100,000,000" in info[0]["text"]


def test_an_unrecognised_license_name_is_quoted_in_the_reason() -> None:
    lineage = lineage_of(
        Case("", (other("my-company-license"),), "commercial", "default", "", None, "x")
    )
    verdict = evaluate("org/m0", lineage, use="commercial", policy=POLICIES["default"], kb=KB)
    (reason,) = [r for r in verdict.reasons if r.code == "license-unknown"]
    assert "license_name: 'my-company-license'" in reason.text


@pytest.mark.parametrize(
    ("dataset_id", "card", "how"),
    [
        ("HuggingFaceH4/ultrachat_200k", {}, "listed as model-generated"),
        ("someone/data", {"generator": "claude-3-opus"}, "card field generator"),
        ("someone/alpaca-gpt4-fr", {}, "the dataset's name"),
        ("someone/data", {"tags": ["chatgpt"]}, "tag"),
        ("someone/data", {"language_creators": ["machine-generated"]}, "without naming the model"),
    ],
)
def test_model_generated_data_is_recognised_and_says_how(dataset_id, card, how) -> None:
    generation = generation_rules().detect(dataset_id, card.get("tags", ()), card)
    assert generation is not None and how in generation.how


@pytest.mark.parametrize(
    ("dataset_id", "card"),
    [
        ("nomic-ai/gpt4all-j-prompt-generations", {}),  # 'gpt4all' is not the word 'gpt4'
        ("databricks/databricks-dolly-15k", {"tags": ["synthetic"]}),  # listed as human-written
        ("someone/wikitext-gpt2-tokenized", {}),
    ],
)
def test_names_that_only_look_like_generators_are_not_flagged(dataset_id, card) -> None:
    assert generation_rules().detect(dataset_id, card.get("tags", ()), card) is None


def test_the_gate_fails_on_the_chosen_verdict_or_worse() -> None:
    verdicts = [
        {"model": "a", "verdict": "allowed"},
        {"model": "b", "verdict": "conditional"},
        {"model": "c", "verdict": "unknown"},
        {"model": "d", "verdict": "forbidden"},
    ]
    assert failing(verdicts) == ["c", "d"]
    assert failing(verdicts, "conditional") == ["b", "c", "d"]
    assert failing(verdicts, "forbidden") == ["d"]


# --- properties ---------------------------------------------------------------------------------

ALL_LICENSES = sorted(KB.licenses)
ORGANISATIONS = ["default", "eu", "us", "huge", "small", "rich", "strict"]


@settings(max_examples=300, deadline=None)
@given(
    root=st.sampled_from(ALL_LICENSES),
    ancestors=st.lists(
        st.tuples(st.sampled_from(ALL_LICENSES), st.sampled_from([FT, AD, QU, ME])), max_size=3
    ),
    extra=st.sampled_from(ALL_LICENSES),
    relation=st.sampled_from([FT, AD, QU, ME]),
    task=st.sampled_from([None, "text-generation", VISION]),
    use=st.sampled_from(["commercial", "research", "redistribute", "train-on-outputs"]),
    policy=st.sampled_from(ORGANISATIONS),
)
def test_a_more_restrictive_ancestor_anywhere_never_makes_a_verdict_more_permissive(
    root, ancestors, extra, relation, task, use, policy
) -> None:
    """Adding an ancestor (any license, relation, modality) under any organisation profile."""
    nodes = [Node(root, bases=((1, ancestors[0][1]),) if ancestors else ())]
    for level, (license_id, _) in enumerate(ancestors, start=1):
        below = ((level + 1, ancestors[level][1]),) if level < len(ancestors) else ()
        nodes.append(Node(license_id, bases=below))
    before = evaluate(
        "org/m0",
        lineage_of(Case("", tuple(nodes), use, policy, "", None, "x")),
        use=use,
        policy=POLICIES[policy],
        kb=KB,
    ).verdict
    deepest = nodes[-1]
    nodes[-1] = Node(deepest.license, bases=(*deepest.bases, (len(nodes), relation)))
    nodes.append(Node(extra, task=task))
    after = evaluate(
        "org/m0",
        lineage_of(Case("", tuple(nodes), use, policy, "", None, "x")),
        use=use,
        policy=POLICIES[policy],
        kb=KB,
    ).verdict
    assert OUTCOME_RANK[after] >= OUTCOME_RANK[before]


@settings(max_examples=200, deadline=None)
@given(
    first=st.sampled_from(ALL_LICENSES),
    second=st.sampled_from(ALL_LICENSES),
    use=st.sampled_from(["commercial", "research", "redistribute", "train-on-outputs"]),
    policy=st.sampled_from(ORGANISATIONS),
)
def test_an_organisation_profile_never_loosens_a_term_that_does_not_depend_on_it(
    first, second, use, policy
) -> None:
    """A profile only settles thresholds and regions: everything it leaves alone keeps its outcome."""
    case = Case("", (on(first, (1, FT)), on(second)), use, policy, "", None, "x")
    with_profile = evaluate("org/m0", lineage_of(case), use=use, policy=POLICIES[policy], kb=KB)
    baseline = "strict" if policy == "strict" else "default"
    without = evaluate("org/m0", lineage_of(case), use=use, policy=POLICIES[baseline], kb=KB)
    settled = {"user-threshold", "revenue-threshold", "region-restriction"}
    keep = lambda v: sorted((r.code, r.outcome) for r in v.reasons if r.code not in settled)  # noqa: E731
    assert keep(with_profile) == keep(without)
