"""Load a converted model and stream chat answers; concurrent requests share one batched decode."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demo_runner.device import DeviceChoice

MAX_TOKENS_CAP = 1024
MAX_BATCH = 8
BATCH_WINDOW_S = 0.01  # how long the first request waits for others to share its batch


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 256
    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 0.95

    def sampling(self) -> dict[str, Any]:
        if self.temperature == 0:  # greedy
            return {"sampling_topk": 1, "sampling_temperature": 1.0, "sampling_topp": 1.0}
        return {
            "sampling_topk": self.top_k or 0,
            "sampling_temperature": self.temperature,
            "sampling_topp": self.top_p,
        }


@dataclass
class _Request:
    prompt: list[str]
    params: GenerationParams
    tokens: queue.Queue[int | BaseException | None] = field(default_factory=queue.Queue)
    generated: int = 0
    done: bool = False

    def finish(self) -> None:
        if not self.done:
            self.done = True
            self.tokens.put(None)


class Batcher:
    """One worker thread that decodes waiting requests together (grouped by sampling settings)."""

    def __init__(self, model: Any, runtime: str, end_token: str | None) -> None:
        self.model = model
        self.runtime = runtime
        self.end_token = end_token
        self.waiting: queue.Queue[_Request | None] = queue.Queue()
        # The latest batch sizes, for tests and figures; bounded, as a server runs for months.
        self.batches: deque[int] = deque(maxlen=1024)
        self.thread = threading.Thread(target=self._run, name="demo-batcher", daemon=True)
        self.thread.start()

    def submit(self, prompt: list[str], params: GenerationParams) -> _Request:
        request = _Request(prompt, params)
        self.waiting.put(request)
        return request

    def close(self) -> None:
        self.waiting.put(None)
        self.thread.join(timeout=30)

    def _gather(self, first: _Request) -> list[_Request]:
        batch = [first]
        deadline = time.monotonic() + BATCH_WINDOW_S
        while len(batch) < MAX_BATCH:
            try:
                item = self.waiting.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                break
            if item is None:
                self.waiting.put(None)
                break
            batch.append(item)
        return batch

    def _run(self) -> None:
        while (first := self.waiting.get()) is not None:
            groups: dict[tuple[Any, ...], list[_Request]] = {}
            for request in self._gather(first):
                groups.setdefault(tuple(sorted(request.params.sampling().items())), []).append(
                    request
                )
            for group in groups.values():
                try:
                    self._decode(group)
                except BaseException as exc:  # hand the failure to every waiting reader
                    for request in group:
                        if not request.done:
                            request.tokens.put(exc)
                            request.done = True
                finally:
                    for request in group:
                        request.finish()

    def _decode(self, group: list[_Request]) -> None:
        self.batches.append(len(group))

        def on_step(step: Any) -> bool:
            request = group[step.batch_id]
            if request.done:
                return True
            request.tokens.put(step.token_id)
            request.generated += 1
            if step.is_last or request.generated >= request.params.max_tokens:
                request.finish()
                return True
            return False

        longest = max(r.params.max_tokens for r in group)
        sampling = group[0].params.sampling()
        if self.runtime == "translator":
            self.model.translate_batch(
                [r.prompt for r in group],
                max_decoding_length=longest,
                callback=on_step,
                beam_size=1,
                **sampling,
            )
        else:
            self.model.generate_batch(
                [r.prompt for r in group],
                max_length=longest,
                include_prompt_in_result=False,
                end_token=self.end_token,
                callback=on_step,
                **sampling,
            )


class LoadedModel:
    """A converted model in memory with its tokenizer, ready to stream chat answers."""

    def __init__(self, path: Path, choice: DeviceChoice) -> None:
        import ctranslate2
        from transformers import AutoTokenizer

        self.path = path
        self.meta = json.loads((path / "demo.json").read_text())
        self.runtime = self.meta.get("runtime", "generator")
        # Any: transformers types every tokenizer output as a union of all shapes; the calls here
        # (one text, decode of one id list) fix the shape.
        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
        runtime = ctranslate2.Translator if self.runtime == "translator" else ctranslate2.Generator
        self.model = runtime(
            str(path),
            device=choice.device,
            compute_type=choice.compute_type,
            intra_threads=choice.intra_threads,
        )
        self.choice = choice
        self.batcher = Batcher(self.model, self.runtime, self.tokenizer.eos_token)

    def prompt_tokens(self, messages: list[dict[str, str]]) -> list[str]:
        if self.runtime == "translator":
            text = "\n".join(m["content"] for m in messages if m.get("role") == "user")[-4000:]
            ids = self.tokenizer(text)["input_ids"]
        elif getattr(self.tokenizer, "chat_template", None):
            encoded = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True)
            ids = encoded["input_ids"] if hasattr(encoded, "keys") else encoded
        else:
            text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
            ids = self.tokenizer(text)["input_ids"]
        return self.tokenizer.convert_ids_to_tokens(ids)

    def stream(self, messages: list[dict[str, str]], params: GenerationParams) -> Iterator[str]:
        """Yield the answer as text pieces while it is generated."""
        return self.text_pieces(self.batcher.submit(self.prompt_tokens(messages), params))

    def text_pieces(self, request: _Request) -> Iterator[str]:
        """Decode a submitted request's tokens into text pieces as they arrive."""
        ids: list[int] = []
        sent = ""
        while (item := request.tokens.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            ids.append(item)
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
                continue
            if len(text) > len(sent):
                yield text[len(sent) :]
                sent = text

    def complete(
        self, messages: list[dict[str, str]], params: GenerationParams
    ) -> tuple[str, int, int]:
        """The whole answer, with prompt and completion token counts."""
        request = self.batcher.submit(self.prompt_tokens(messages), params)
        ids: list[int] = []
        while (item := request.tokens.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            ids.append(item)
        return self.tokenizer.decode(ids, skip_special_tokens=True), len(request.prompt), len(ids)

    def close(self) -> None:
        self.batcher.close()
        del self.model
