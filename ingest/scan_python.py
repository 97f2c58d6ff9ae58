"""Model and dataset loads in Python source and notebooks, read from the syntax tree."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass

from ingest.scan import Recorder, ScanResult


@dataclass(frozen=True)
class Loader:
    """Where a loading call takes its repo id: positional index and keyword names."""

    kind: str
    position: int | None
    keywords: tuple[str, ...]


# Called by name (or as module.name): the function names that load from the Hub.
FUNCTIONS = {
    "pipeline": Loader("model", 1, ("model",)),
    "hf_hub_download": Loader("model", 0, ("repo_id",)),
    "snapshot_download": Loader("model", 0, ("repo_id",)),
    "SentenceTransformer": Loader("model", 0, ("model_name_or_path",)),
    "CrossEncoder": Loader("model", 0, ("model_name", "model_name_or_path")),
    "load_dataset": Loader("dataset", 0, ("path",)),
}
# Any X.from_pretrained(...): AutoModel*, AutoTokenizer, Llama (llama-cpp-python), diffusers, ...
FROM_PRETRAINED = Loader("model", 0, ("pretrained_model_name_or_path", "repo_id", "model_id"))
# A cheap test before parsing: a file without any of these cannot load anything.
TRIGGERS = tuple(name.encode() for name in (*FUNCTIONS, "from_pretrained"))


def _module_constants(tree: ast.Module) -> dict[str, str | None]:
    """Module-level NAME = "text" bindings; a name bound more than once to different things is None."""
    constants: dict[str, str | None] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name):
                text = value.value if isinstance(value, ast.Constant) else None
                text = text if isinstance(text, str) else None
                seen = target.id in constants and constants[target.id] != text
                constants[target.id] = None if seen else text
    return constants


def _aliases(tree: ast.Module) -> dict[str, str]:
    """`from transformers import pipeline as make` makes `make` a loader too."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.asname and alias.name in FUNCTIONS:
                    aliases[alias.asname] = alias.name
    return aliases


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: ast.Module, recorder: Recorder) -> None:
        self.constants = _module_constants(module)
        self.aliases = _aliases(module)
        self.recorder = recorder

    def _loader(self, func: ast.expr) -> tuple[str, Loader] | None:
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name == "from_pretrained" and isinstance(func, ast.Attribute):
            return "from_pretrained", FROM_PRETRAINED
        name = self.aliases.get(name, name) if isinstance(func, ast.Name) else name
        return (name, FUNCTIONS[name]) if name in FUNCTIONS else None

    def _resolve(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return self.constants.get(node.id)
        return None  # f-strings, calls, attributes, parameters: not knowable without running it

    def _argument(self, call: ast.Call, loader: Loader) -> tuple[ast.expr, str] | None:
        for keyword in call.keywords:
            if keyword.arg in loader.keywords:
                return keyword.value, f"{keyword.arg}="
        positional = [a for a in call.args if not isinstance(a, ast.Starred)]
        if loader.position is not None and len(positional) > loader.position:
            return positional[loader.position], ""
        return None

    def _kind(self, call: ast.Call, loader: Loader) -> str:
        for keyword in call.keywords:
            if keyword.arg == "repo_type" and isinstance(keyword.value, ast.Constant):
                return "dataset" if keyword.value.value == "dataset" else loader.kind
        return loader.kind

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        found = self._loader(node.func)
        if found is None:
            return
        name, loader = found
        argument = self._argument(node, loader)
        if argument is None:
            return  # e.g. pipeline("text-generation"): the library's default model, not ours to judge
        expr, keyword = argument
        if isinstance(expr, ast.Constant) and expr.value is None:
            return
        self.recorder.value(
            self._resolve(expr),
            kind=self._kind(node, loader),
            line=node.lineno,
            how=f"{name}({keyword})",
            expression=ast.unparse(expr)[:200],
        )


def _parse(source: str | bytes, recorder: Recorder) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        recorder.result.unreadable.append((recorder.path, f"not valid Python: {exc}"))
        return None


def _visit(tree: ast.Module, module: ast.Module, recorder: Recorder) -> None:
    try:
        _Visitor(module, recorder).visit(tree)
    except RecursionError:
        recorder.result.unreadable.append((recorder.path, "nested too deeply to read"))


def scan_python(data: bytes, path: str, result: ScanResult) -> None:
    """Record the loads in one Python file."""
    if not any(trigger in data for trigger in TRIGGERS):
        return
    recorder = Recorder(result, path)
    tree = _parse(data, recorder)
    if tree is not None:
        _visit(tree, tree, recorder)


def _cell_source(cell: dict[str, object]) -> str:
    source = cell.get("source", "")
    text = "".join(s for s in source if isinstance(s, str)) if isinstance(source, list) else source
    if not isinstance(text, str):
        return ""
    # IPython magics and shell escapes are not Python; blank them and keep the line numbers.
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines()
    )


def scan_notebook(data: bytes, path: str, result: ScanResult) -> None:
    """Record the loads in a Jupyter notebook's code cells (a cell is numbered from 1)."""
    try:
        notebook = json.loads(data)
        cells = notebook.get("cells", []) if isinstance(notebook, dict) else []
    except (ValueError, UnicodeDecodeError) as exc:
        result.unreadable.append((path, f"not a notebook: {exc}"))
        return
    code_cells = [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"]
    parsed = []
    for number, cell in enumerate(code_cells, start=1):
        recorder = Recorder(result, path, cell=number)
        tree = _parse(_cell_source(cell), recorder)
        if tree is not None:
            parsed.append((tree, recorder))
    # The cells share one namespace: a constant set in one cell is what a later cell loads.
    whole = ast.Module(body=[node for tree, _ in parsed for node in tree.body], type_ignores=[])
    for tree, recorder in parsed:
        _visit(tree, whole, recorder)
