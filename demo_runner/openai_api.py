"""The OpenAI chat-completions wire format, shared by the service's demo endpoint and standalone demos."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Generator, Iterator
from contextlib import closing
from typing import Any

from demo_runner.errors import BadGenerationRequest
from demo_runner.generate import GenerationParams, LoadedModel

MAX_MESSAGES = 64
MAX_CONTENT = 16_000


def parse_chat_request(body: Any) -> tuple[list[dict[str, str]], GenerationParams, bool]:
    """Validate a chat-completions body: messages, sampling parameters, stream flag."""
    if not isinstance(body, dict):
        raise BadGenerationRequest("the body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        raise BadGenerationRequest(f"messages must be a list of 1 to {MAX_MESSAGES} messages")
    clean = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in (
            "system",
            "user",
            "assistant",
        ):
            raise BadGenerationRequest("each message needs a role: system, user or assistant")
        content = message.get("content")
        if not isinstance(content, str) or len(content) > MAX_CONTENT:
            raise BadGenerationRequest(
                f"each message needs a string content of at most {MAX_CONTENT} characters"
            )
        clean.append({"role": message["role"], "content": content})
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadGenerationRequest("stream must be true or false")
    return clean, GenerationParams.parse(body), stream


def completion(
    model: LoadedModel,
    name: str,
    messages: list[dict[str, str]],
    params: GenerationParams,
    timeout_s: float = float("inf"),
) -> dict[str, Any]:
    text, prompt_tokens, completion_tokens = model.complete(messages, params, timeout_s)
    finish = "length" if completion_tokens >= params.max_tokens else "stop"
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": name,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def completion_events(
    model: LoadedModel,
    name: str,
    messages: list[dict[str, str]],
    params: GenerationParams,
    timeout_s: float = float("inf"),
) -> Iterator[str]:
    """Server-sent events in OpenAI's chunk format, ending with `data: [DONE]`.

    The prompt is checked (and queued) before the first event, so a prompt that cannot fit is an
    error answer rather than an error inside a started stream.
    """
    return _events(model.stream(messages, params, timeout_s), name)


def _events(pieces: Generator[str, None, None], name: str) -> Iterator[str]:
    ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

    def chunk(delta: dict[str, str], finish: str | None = None) -> str:
        payload = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": name,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(payload)}\n\n"

    with closing(pieces):  # closed early when the client goes away: that stops the decode
        yield chunk({"role": "assistant"})
        try:
            for piece in pieces:
                yield chunk({"content": piece})
        except Exception as exc:  # the stream has started: report in-band, as OpenAI does
            yield f"data: {json.dumps({'error': {'message': str(exc), 'type': type(exc).__name__}})}\n\n"
    yield chunk({}, "stop")
    yield "data: [DONE]\n\n"
