"""Convert a source (a transformers folder or a GGUF file) into a quantized CTranslate2 model."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from demo_runner.eligibility import runtime_kind
from demo_runner.errors import BuildCancelled, ConversionFailed, UnsupportedArchitecture
from demo_runner.sources import TOKENIZER_FILES, Source

log = logging.getLogger(__name__)
Progress = Callable[[str, float], None]


def pin_special_tokens(tokenizer: Any, config: Any) -> list[str]:
    """Make the tokenizer's end and start tokens the ones the GGUF's ids name; the names changed.

    Some transformers versions build a GGUF tokenizer with the wrong end token (5.17 gives SmolLM2
    `<|im_start|>` where its GGUF says id 2, `<|im_end|>`); the converted model then never stops at
    the end of its turn. The ids in the model config come straight from the GGUF metadata.
    """
    changed = []
    for name in ("eos", "bos"):
        token_id = getattr(config, f"{name}_token_id", None)
        if not isinstance(token_id, int) or not 0 <= token_id < len(tokenizer):
            continue
        token = tokenizer.convert_ids_to_tokens(token_id)
        if token and getattr(tokenizer, f"{name}_token", None) != token:
            setattr(tokenizer, f"{name}_token", token)
            changed.append(f"{name}={token}")
    if changed:
        log.info("special tokens pinned to the GGUF's ids: %s", ", ".join(changed))
    return changed


def gguf_to_transformers(gguf: Path, out: Path) -> Source:
    """Dequantize a GGUF checkpoint with transformers and save it as a plain transformers folder."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    runtime_kind(config.model_type, name)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    pin_special_tokens(tokenizer, config)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    # The dequantized weights are plain tensors; the GGUF quantizer must not be saved with them.
    if hasattr(model, "hf_quantizer"):
        del model.hf_quantizer
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return Source(repo_id=name, revision="", kind="hf", path=out)


def convert(
    source: Source,
    out: Path,
    *,
    quantization: str,
    trust_remote_code: bool = False,
    progress: Progress | None = None,
) -> None:
    """Write a CTranslate2 model and its tokenizer files into `out` (an empty folder)."""
    from ctranslate2.converters import TransformersConverter

    report = progress or (lambda _stage, _fraction: None)
    scratch = out / ".scratch"
    try:
        hf_source = source
        if source.kind == "gguf":
            report("converting", 0.1)
            hf_source = gguf_to_transformers(source.path, scratch)
        report("converting", 0.4)
        model_dir = out / "model"
        TransformersConverter(str(hf_source.path), trust_remote_code=trust_remote_code).convert(
            str(model_dir), quantization=quantization
        )
        for name in TOKENIZER_FILES:
            if (hf_source.path / name).is_file():
                shutil.copy(hf_source.path / name, model_dir / name)
        for item in model_dir.iterdir():
            item.rename(out / item.name)
        model_dir.rmdir()
        (out / "demo.json").write_text(
            json.dumps(
                {
                    "repo_id": source.repo_id,
                    "revision": source.revision,
                    "quantization": quantization,
                    "runtime": source.runtime,
                    "context_length": _context_length(hf_source.path),
                    "converted_at": datetime.now(UTC).isoformat(),
                },
                indent=2,
            )
        )
        report("converting", 1.0)
    except (UnsupportedArchitecture, ConversionFailed, BuildCancelled):
        raise
    except Exception as exc:
        raise ConversionFailed(
            f"{source.repo_id} could not be converted: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _context_length(model_dir: Path) -> int | None:
    from demo_runner.generate import context_length

    try:
        return context_length(json.loads((model_dir / "config.json").read_text()))
    except (OSError, ValueError):
        return None
