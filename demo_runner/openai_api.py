"""The OpenAI chat-completions wire format, shared by the service's demo endpoint and standalone demos."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Generator, Iterator
from contextlib import closing
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from demo_runner.errors import BadGenerationRequest
from demo_runner.generate import MAX_TOKENS_CAP, GenerationParams

if TYPE_CHECKING:
    from demo_runner.backends import ChatModel

MAX_MESSAGES = 64
MAX_CONTENT = 16_000


class MessageSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(["system", "user", "assistant"]))
    content = fields.String(required=True, validate=validate.Length(max=MAX_CONTENT))


class ChatRequestSchema(Schema):
    """An OpenAI chat-completions body: the one place it is validated (API and standalone)."""

    model = fields.String()
    messages = fields.List(
        fields.Nested(MessageSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_MESSAGES),
    )
    max_tokens = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_TOKENS_CAP))
    temperature = fields.Float(validate=validate.Range(min=0, max=2))
    top_k = fields.Integer(strict=True, validate=validate.Range(min=0, max=1000))
    top_p = fields.Float(
        validate=validate.Range(min=0, max=1, min_inclusive=False),
        metadata={"exclusiveMinimum": True},
    )
    stream = fields.Boolean()

    @pre_load
    def reject_booleans(self, data: Any, **_kwargs: Any) -> Any:
        """JSON true is not the number 1: numbers must be numbers."""
        if isinstance(data, dict):
            for name in ("max_tokens", "temperature", "top_k", "top_p"):
                if isinstance(data.get(name), bool):
                    raise ValidationError("must be a number", field_name=name)
        return data


def chat_request(body: dict[str, Any]) -> tuple[list[dict[str, str]], GenerationParams, bool]:
    """Messages, sampling parameters and stream flag of a body ChatRequestSchema has loaded."""
    messages = [{"role": m["role"], "content": m["content"]} for m in body["messages"]]
    given = {k: body[k] for k in ("max_tokens", "temperature", "top_k", "top_p") if k in body}
    return messages, GenerationParams(**given), bool(body.get("stream", False))


def parse_chat_request(raw: Any) -> tuple[list[dict[str, str]], GenerationParams, bool]:
    """Validate a raw JSON body (the standalone server); errors name the fields."""
    if not isinstance(raw, dict):
        raise BadGenerationRequest("the body must be a JSON object")
    try:
        body = ChatRequestSchema().load(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{name}: {messages}" for name, messages in sorted(exc.normalized_messages().items())
        )
        raise BadGenerationRequest(problems) from None
    return chat_request(body)


def completion(
    model: ChatModel,
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
    model: ChatModel,
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
            kind = getattr(exc, "kind", type(exc).__name__)  # a replica's error keeps its name
            yield f"data: {json.dumps({'error': {'message': str(exc), 'type': kind}})}\n\n"
    yield chunk({}, "stop")
    yield "data: [DONE]\n\n"
