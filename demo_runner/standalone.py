"""A standalone OpenAI-compatible server for one loaded demo (`modelcatalog demo serve`)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request

from demo_runner.errors import BadGenerationRequest
from demo_runner.generate import LoadedModel
from demo_runner.openai_api import completion, completion_events, parse_chat_request


def standalone_app(model: LoadedModel, name: str) -> Flask:
    app = Flask(__name__)

    @app.get("/v1/models")
    def models() -> Any:
        return jsonify(
            object="list", data=[{"id": name, "object": "model", "owned_by": "modelcatalog"}]
        )

    @app.post("/v1/chat/completions")
    def chat() -> Any:
        try:
            messages, params, stream = parse_chat_request(request.get_json(silent=True))
        except BadGenerationRequest as exc:
            return jsonify(error={"message": str(exc), "type": "invalid_request_error"}), 400
        if stream:
            return Response(
                completion_events(model, name, messages, params), mimetype="text/event-stream"
            )
        return jsonify(completion(model, name, messages, params))

    return app
