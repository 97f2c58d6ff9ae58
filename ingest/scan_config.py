"""Model and dataset ids in YAML, JSON and TOML configs, by the keys training and serving tools use."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from typing import Any

import yaml

from catalog.yaml_safe import SafeLoader
from ingest.scan import Recorder, ScanResult

# Keys whose values name a Hub repo in transformers/TRL/axolotl/PEFT/vLLM-style configs.
MODEL_KEYS = frozenset(
    {
        "model_name_or_path",
        "pretrained_model_name_or_path",
        "base_model",
        "base_model_name_or_path",
        "model_id",
        "model_name",
        "repo_id",
        "hub_model_id",
        "tokenizer_name",
        "tokenizer_name_or_path",
        "model",
    }
)
DATASET_KEYS = frozenset({"dataset_name", "dataset_id", "datasets", "dataset"})
# Keys that are generic words: only an owner/name value counts, anything else is not reported.
GENERIC_KEYS = frozenset({"model", "dataset", "datasets"})


def _key_kind(key: object) -> str | None:
    if key in MODEL_KEYS:
        return "model"
    if key in DATASET_KEYS:
        return "dataset"
    return None


def _values(value: Any, kind: str, key: str) -> Iterator[tuple[str, str]]:
    """Strings under a key: the value, a list's items, or a dataset entry's `path`/`name`."""
    if isinstance(value, str):
        yield value, key
    elif isinstance(value, list):
        for item in value:
            yield from _values(item, kind, key)
    elif isinstance(value, dict) and kind == "dataset":
        for field in ("path", "name"):
            if isinstance(value.get(field), str):
                yield value[field], f"{key}.{field}"


def _record(recorder: Recorder, value: str, kind: str, key: str, line: int) -> None:
    if key.split(".")[0] in GENERIC_KEYS and "/" not in value:
        return
    recorder.value(value, kind=kind, line=line, how=f"config key {key}")


def _walk_plain(node: Any, recorder: Recorder, lines: _LineFinder, depth: int = 0) -> None:
    if depth > 100:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            kind = _key_kind(key)
            if kind is not None:
                for text, shown in _values(value, kind, key):
                    _record(recorder, text, kind, shown, lines.find(text))
                if isinstance(value, dict) and kind == "model":
                    _walk_plain(value, recorder, lines, depth + 1)
            else:
                _walk_plain(value, recorder, lines, depth + 1)
    elif isinstance(node, list):
        for item in node:
            _walk_plain(item, recorder, lines, depth + 1)


class _LineFinder:
    """JSON and TOML parsers keep no positions: find each value's line in the text, in order."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.start = 0

    def find(self, value: str) -> int:
        for quoted in (json.dumps(value), f"'{value}'", value):
            at = self.text.find(quoted, self.start)
            if at < 0:
                at = self.text.find(quoted)
            if at >= 0:
                self.start = at + len(quoted)
                return self.text.count("\n", 0, at) + 1
        return 1


def _plain_yaml(node: yaml.Node, seen: set[int]) -> Any:
    if id(node) in seen:  # an alias met again: walk each node once (no "billion laughs")
        return None
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        return {
            _plain_yaml(k, seen): (_plain_yaml(v, seen), v.start_mark.line + 1)
            for k, v in node.value
            if isinstance(k, yaml.ScalarNode)
        }
    if isinstance(node, yaml.SequenceNode):
        return [(_plain_yaml(item, seen), item.start_mark.line + 1) for item in node.value]
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _scan_yaml(text: str, recorder: Recorder) -> None:
    """YAML keeps positions: walk the composed nodes (no object construction) for exact lines.

    An alias refers to a node of its own document, so each document has its own set of nodes
    seen: a set shared across documents would hold the ids of freed nodes, which a later
    document's nodes may reuse, and skip them as if met before."""
    for document in yaml.compose_all(text, Loader=SafeLoader):
        if document is not None:
            _walk_yaml(_plain_yaml(document, set()), recorder, 0)


def _walk_yaml(node: Any, recorder: Recorder, depth: int) -> None:
    if depth > 100:
        return
    items: list[tuple[Any, Any]] = []
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = [(None, item) for item in node]
    for key, (value, line) in items:
        kind = _key_kind(key)
        if kind is None:
            _walk_yaml(value, recorder, depth + 1)
            continue
        for text, shown, at in _yaml_values(value, kind, key, line):
            _record(recorder, text, kind, shown, at)
        if isinstance(value, dict) and kind == "model":  # model: {name_or_path: ...}
            _walk_yaml(value, recorder, depth + 1)


def _yaml_values(value: Any, kind: str, key: str, line: int) -> Iterator[tuple[str, str, int]]:
    if isinstance(value, str):
        yield value, key, line
    elif isinstance(value, list):
        for item, at in value:
            yield from _yaml_values(item, kind, key, at)
    elif isinstance(value, dict) and kind == "dataset":
        for field in ("path", "name"):
            entry = value.get(field)
            if entry and isinstance(entry[0], str):
                yield entry[0], f"{key}.{field}", entry[1]


def scan_config(data: bytes, suffix: str, path: str, result: ScanResult) -> None:
    """Record the repo ids named by well-known keys in one config file."""
    recorder = Recorder(result, path)
    try:
        text = data.decode("utf-8")
        if suffix in (".yaml", ".yml"):
            _scan_yaml(text, recorder)
            return
        parsed = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        result.unreadable.append((path, f"not valid {suffix[1:].upper()}: {str(exc)[:200]}"))
        return
    _walk_plain(parsed, recorder, _LineFinder(text))
