"""A tiny random-weight Llama with a real (small) tokenizer, made offline, and served by tests/fakehub."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo_runner.device import DeviceChoice
from demo_runner.jobs import DemoManager
from demo_runner.settings import DemoSettings
from tests.fakehub import FakeHub

CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant:{% endif %}"
)
CPU = DeviceChoice(device="cpu", compute_type="int8", intra_threads=1)


def byte_level_bpe(text: list[str], *, vocab_size: int, special_tokens: list[str]):  # type: ignore[no-untyped-def]
    """A small byte-level BPE tokenizer trained on `text`, offline."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(text, trainer)
    return tokenizer


def random_llama(
    out: Path, *, vocab: int, width: int, layers: int, heads: int, positions: int, ffn: int = 2
) -> None:
    """A Llama network with random weights (seed 0) saved under `out`; `ffn` x width inside."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=width,
        intermediate_size=width * ffn,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=positions,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(config).save_pretrained(out)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import PreTrainedTokenizerFast

    out = tmp_path_factory.mktemp("tiny-llama")
    text = [
        "The capital of France is Paris.",
        "Hello there, how are you today?",
        "Models are trained on data.",
    ] * 50
    tokenizer = byte_level_bpe(text, vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    fast.chat_template = CHAT_TEMPLATE
    random_llama(out, vocab=len(fast), width=64, layers=2, heads=4, positions=512)
    fast.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def wide_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model's tokenizer on a wider network: slow enough per token to watch a decode stop."""
    out = tmp_path_factory.mktemp("wide-llama")
    vocab = json.loads((tiny_model_dir / "config.json").read_text())["vocab_size"]
    random_llama(out, vocab=vocab, width=512, layers=8, heads=8, positions=2048, ffn=4)
    for item in tiny_model_dir.iterdir():
        if "token" in item.name or item.name == "chat_template.jinja":
            shutil.copy(item, out / item.name)
    return out


def hub_files(folder: Path, **config_changes) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    if config_changes:
        config = json.loads(files["config.json"])
        config.update(config_changes)
        files["config.json"] = json.dumps(config).encode()
    return files


def add_tiny(
    hub: FakeHub,
    repo_id: str,
    folder: Path,
    gated: str | bool = False,
    parameters: int = 100_000,
    **config,
) -> None:
    info = {
        "id": repo_id,
        "sha": "a" * 40,
        "gated": gated,
        "pipeline_tag": "text-generation",
        "library_name": "transformers",
        "tags": ["llama"],
        "safetensors": {"parameters": {"F32": parameters}, "total": parameters},
        "cardData": {"license": "apache-2.0"},
    }
    hub.add_model(info, files=hub_files(folder, **config), readme=False)


@pytest.fixture
def hub(fakehub_server: FakeHub, tiny_model_dir: Path) -> Iterator[FakeHub]:
    hub = fakehub_server.reset()
    add_tiny(hub, "tiny/llama", tiny_model_dir)
    yield hub
    hub.reset()


@pytest.fixture
def manager(hub: FakeHub, tmp_path: Path) -> Iterator[DemoManager]:
    settings = DemoSettings(cache_dir=tmp_path / "demos", cache_max_bytes=2**30, endpoint=hub.url)
    manager = DemoManager(settings, choice=CPU)
    yield manager
    manager.close()


@pytest.fixture(scope="session")
def tiny_t5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight T5 (runs as a CTranslate2 Translator)."""
    import torch
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    out = tmp_path_factory.mktemp("tiny-t5")
    tokenizer = byte_level_bpe(
        ["translate English to French: Hello there", "Paris is in France."] * 50,
        vocab_size=300,
        special_tokens=["<pad>", "</s>", "<unk>"],
    )
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=len(fast),
        d_model=32,
        d_ff=64,
        num_layers=2,
        num_heads=2,
        d_kv=16,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    T5ForConditionalGeneration(config).save_pretrained(out)
    fast.save_pretrained(out)
    return out
