"""Load a converted model and stream chat answers; concurrent requests share one batched decode."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demo_runner.device import DeviceChoice
from demo_runner.errors import GenerationTimedOut, PromptTooLong

MAX_TOKENS_CAP = 1024
MAX_BATCH = 8
BATCH_WINDOW_S = 0.01  # how long the first request waits for others to share its batch
DEFAULT_CONTEXT = 2048  # for converted models that did not record their context length
CONFIG_CONTEXT_KEYS = (
    "max_position_embeddings",
    "n_positions",
    "n_ctx",
    "max_sequence_length",
    "seq_length",
)


def context_length(config: dict[str, Any]) -> int | None:
    """The context window a transformers config declares, if it declares one."""
    for key in CONFIG_CONTEXT_KEYS:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


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
    deadline: float = float("inf")  # time.monotonic() after which decoding stops
    tokens: queue.Queue[int | BaseException | None] = field(default_factory=queue.Queue)
    generated: int = 0
    done: bool = False
    cancelled: bool = False  # the reader went away (client disconnect): stop decoding

    def finish(self) -> None:
        if not self.done:
            self.done = True
            self.tokens.put(None)

    def cancel(self) -> None:
        self.cancelled = True

    def should_stop(self) -> bool:
        """Whether decoding must stop now; a timeout is handed to the reader as an error."""
        if self.done or self.cancelled:
            return True
        if time.monotonic() > self.deadline:
            self.tokens.put(GenerationTimedOut("the answer took longer than this server allows"))
            return True
        return False


def _step_callback(group: list[_Request]) -> Any:
    """CTranslate2's per-token callback for one batch; returning True stops that request.

    It must not hold the Batcher (or the model): CTranslate2 keeps the callback on its own worker
    thread and may drop it there last, and a model freed on its own worker thread aborts the
    process (it would join itself).
    """

    def on_step(step: Any) -> bool:
        request = group[step.batch_id]
        if request.should_stop():
            request.finish()
            return True
        request.tokens.put(step.token_id)
        request.generated += 1
        if step.is_last or request.generated >= request.params.max_tokens:
            request.finish()
            return True
        return False

    return on_step


class Batcher:
    """One worker thread that decodes waiting requests together (grouped by sampling settings)."""

    def __init__(
        self, model: Any, runtime: str, end_token: str | None, window_s: float = BATCH_WINDOW_S
    ) -> None:
        self.model = model
        self.window_s = window_s
        self.runtime = runtime
        self.end_token = end_token
        self.waiting: queue.Queue[_Request | None] = queue.Queue()
        # The latest batch sizes, for tests and figures; bounded, as a server runs for months.
        self.batches: deque[int] = deque(maxlen=1024)
        self.decoding: list[_Request] = []  # the batch being decoded now
        self.thread = threading.Thread(target=self._run, name="demo-batcher", daemon=True)
        self.thread.start()

    def submit(
        self, prompt: list[str], params: GenerationParams, timeout_s: float = float("inf")
    ) -> _Request:
        request = _Request(prompt, params, deadline=time.monotonic() + timeout_s)
        self.waiting.put(request)
        return request

    def active(self) -> int:
        """Requests waiting or decoding right now."""
        return self.waiting.qsize() + sum(not request.done for request in self.decoding)

    def close(self) -> None:
        self.waiting.put(None)
        self.thread.join(timeout=30)

    def _gather(self, first: _Request) -> list[_Request]:
        batch = [first]
        deadline = time.monotonic() + self.window_s
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
                if request.should_stop():  # gone or out of time while it waited
                    request.finish()
                    continue
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
        self.decoding = group
        try:
            self._generate(group, _step_callback(group))
        finally:
            self.decoding = []

    def _generate(self, group: list[_Request], on_step: Any) -> None:

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

    def __init__(
        self, path: Path, choice: DeviceChoice, batch_window_s: float = BATCH_WINDOW_S
    ) -> None:
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
        self.context = self.meta.get("context_length") or _tokenizer_context(self.tokenizer)
        self.batcher = Batcher(
            self.model, self.runtime, self.tokenizer.eos_token, window_s=batch_window_s
        )

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

    def fit(self, prompt: list[str], params: GenerationParams) -> GenerationParams:
        """Cap max_tokens to what the context leaves after the prompt; PromptTooLong if nothing is left."""
        room = self.context - len(prompt)
        if room < 1:
            raise PromptTooLong(len(prompt), params.max_tokens, self.context)
        if params.max_tokens <= room:
            return params
        return GenerationParams(room, params.temperature, params.top_k, params.top_p)

    def submit(
        self,
        messages: list[dict[str, str]],
        params: GenerationParams,
        timeout_s: float = float("inf"),
    ) -> _Request:
        """Queue a generation (checked against the context) for the batcher."""
        prompt = self.prompt_tokens(messages)
        return self.batcher.submit(prompt, self.fit(prompt, params), timeout_s)

    def stream(
        self,
        messages: list[dict[str, str]],
        params: GenerationParams,
        timeout_s: float = float("inf"),
    ) -> Generator[str, None, None]:
        """Yield the answer as text pieces while it is generated; closing the iterator stops the decode."""
        return self.text_pieces(self.submit(messages, params, timeout_s))

    def text_pieces(self, request: _Request) -> Generator[str, None, None]:
        """Decode a submitted request's tokens into text pieces as they arrive."""
        ids: list[int] = []
        sent = ""
        try:
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
        finally:  # the reader is done or gone (a client disconnect closes this generator)
            request.cancel()

    def complete(
        self,
        messages: list[dict[str, str]],
        params: GenerationParams,
        timeout_s: float = float("inf"),
    ) -> tuple[str, int, int]:
        """The whole answer, with prompt and completion token counts."""
        request = self.submit(messages, params, timeout_s)
        ids: list[int] = []
        while (item := request.tokens.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            ids.append(item)
        return self.tokenizer.decode(ids, skip_special_tokens=True), len(request.prompt), len(ids)

    def close(self) -> None:
        self.batcher.close()
        del self.model


def _tokenizer_context(tokenizer: Any) -> int:
    declared = getattr(tokenizer, "model_max_length", None)
    # transformers uses a huge sentinel when the tokenizer does not know its model's context.
    if isinstance(declared, int) and 0 < declared < 1_000_000:
        return declared
    return DEFAULT_CONTEXT
