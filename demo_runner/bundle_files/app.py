"""A standalone demo exported by modelcatalog: an OpenAI-compatible chat server for one model.

pip install -r requirements.txt && python app.py [--port 8000]
"""

import argparse
import json
import pathlib
import time
import uuid
from typing import Any

import ctranslate2
from flask import Flask, Response, jsonify, request
from transformers import AutoTokenizer

HERE = pathlib.Path(__file__).parent
META = json.loads((HERE / "model" / "demo.json").read_text())
# Any: transformers types every tokenizer output as a union of all shapes; the calls here fix it.
tokenizer: Any = AutoTokenizer.from_pretrained(str(HERE / "model"))
device = "cuda" if ctranslate2.get_cuda_device_count() else "cpu"
generator = ctranslate2.Generator(
    str(HERE / "model"),
    device=device,
    compute_type="int8_float16" if device == "cuda" else "int8",
    intra_threads=1,
)
app = Flask(__name__)


def prompt(messages):
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    return tokenizer.convert_ids_to_tokens(ids)


def tokens(body):
    options = dict(
        max_length=min(int(body.get("max_tokens", 256)), 1024),
        end_token=tokenizer.eos_token,
        sampling_temperature=float(body.get("temperature", 0.7)) or 1.0,
        sampling_topk=1 if not body.get("temperature", 0.7) else int(body.get("top_k", 40)),
        sampling_topp=float(body.get("top_p", 0.95)),
    )
    for step in generator.generate_tokens(prompt(body["messages"]), **options):
        yield step.token_id


@app.post("/v1/chat/completions")
def chat():
    body = request.get_json(force=True)
    name, ident = META["repo_id"], f"chatcmpl-{uuid.uuid4().hex[:24]}"
    if body.get("stream"):

        def events():
            ids, sent = [], ""
            for token_id in tokens(body):
                ids.append(token_id)
                text = tokenizer.decode(ids, skip_special_tokens=True)
                if len(text) > len(sent) and not text.endswith("\ufffd"):
                    chunk = {
                        "id": ident,
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": name,
                        "choices": [
                            {
                                "index": 0,
                                "delta": {"content": text[len(sent) :]},
                                "finish_reason": None,
                            }
                        ],
                    }
                    sent = text
                    yield f"data: {json.dumps(chunk)}\n\n"
            yield "data: [DONE]\n\n"

        return Response(events(), mimetype="text/event-stream")
    text = tokenizer.decode(list(tokens(body)), skip_special_tokens=True)
    return jsonify(
        id=ident,
        object="chat.completion",
        created=int(time.time()),
        model=name,
        choices=[
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    app.run(host=args.host, port=args.port, threaded=False)
