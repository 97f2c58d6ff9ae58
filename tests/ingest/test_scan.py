"""Code scanning: exactly the loads in tests/ingest/scan_tree are found, and none of its traps."""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.scan import classify, scan_paths

TREE = Path(__file__).parent / "scan_tree"

EXPECTED_FINDINGS = [
    ("configs/eval.toml", 2, None, "model", "openlm-research/open_llama_7b", "config key model_id"),
    ("configs/serve.json", 3, None, "model", "bigcode/starcoder", "config key model_name_or_path"),
    ("configs/serve.json", 4, None, "model", "bigcode/starcoder", "config key tokenizer_name"),
    ("configs/serve.json", 5, None, "dataset", "bigcode/the-stack", "config key dataset_name"),
    ("configs/train.yaml", 2, None, "model", "meta-llama/Llama-2-7b-hf", "config key base_model"),
    ("configs/train.yaml", 5, None, "dataset", "OpenAssistant/oasst1", "config key datasets.path"),
    ("notebooks/explore.ipynb", 3, 2, "model", "Salesforce/xgen-7b-8k-inst", "from_pretrained()"),
    ("src/app/data.py", 5, None, "dataset", "tatsu-lab/alpaca", "load_dataset()"),
    ("src/app/data.py", 7, None, "dataset", "databricks/databricks-dolly-15k", "hf_hub_download()"),
    (
        "src/app/data.py",
        8,
        None,
        "model",
        "TheBloke/Llama-2-7B-Chat-GGUF",
        "from_pretrained(repo_id=)",
    ),
    ("src/app/loaders.py", 16, None, "model", "mosaicml/mpt-7b", "from_pretrained()"),
    ("src/app/loaders.py", 17, None, "model", "tiiuae/falcon-40b", "from_pretrained()"),
    (
        "src/app/loaders.py",
        18,
        None,
        "model",
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        "pipeline(model=)",
    ),
    ("src/app/loaders.py", 19, None, "model", "google/flan-t5-xl", "pipeline()"),
    (
        "src/app/loaders.py",
        21,
        None,
        "model",
        "TheBloke/Llama-2-7B-GGUF",
        "hf_hub_download(repo_id=)",
    ),
    ("src/app/loaders.py", 22, None, "model", "databricks/dolly-v2-12b", "snapshot_download()"),
    (
        "src/app/loaders.py",
        23,
        None,
        "model",
        "sentence-transformers/all-MiniLM-L6-v2",
        "SentenceTransformer()",
    ),
]

EXPECTED_SKIPPED = [
    ("configs/eval.toml", 3, "local-path", "./eval-data"),
    ("configs/train.yaml", 7, "local-path", "data/local.jsonl"),
    ("src/app/data.py", 6, "no-owner", "json"),
    ("src/app/loaders.py", 24, "local-path", "./checkpoints/final"),
    ("src/app/loaders.py", 25, "local-path", "/models/llama"),
    ("src/app/loaders.py", 26, "no-owner", "gpt2"),
    ("src/app/loaders.py", 27, "unresolved", "f'meta-llama/Llama-2-{version}-hf'"),
    ("src/app/loaders.py", 28, "unresolved", "name"),
    ("src/app/loaders.py", 29, "unresolved", "MAYBE"),
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The fixture tree plus the folders a real checkout has and a scan must not enter."""
    root = tmp_path / "project"
    shutil.copytree(TREE, root)
    trap = 'from transformers import AutoModel\nAutoModel.from_pretrained("evil/{}")\n'
    for folder in (".venv/lib", "node_modules/pkg", "build/lib", "scratch", "src/app/__pycache__"):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "vendored.py").write_text(trap.format(folder.split("/")[0]))
    (root / "src/app/models.generated.py").write_text(trap.format("generated"))
    return root


def test_a_scan_finds_exactly_the_loads_and_none_of_the_traps(project: Path) -> None:
    result = scan_paths([project])
    found = [
        (Path(f.path).relative_to(project).as_posix(), f.line, f.cell, f.kind, f.repo_id, f.how)
        for f in result.findings
    ]
    assert found == EXPECTED_FINDINGS


def test_local_paths_bare_names_and_unknowable_values_are_skipped_and_counted(
    project: Path,
) -> None:
    result = scan_paths([project])
    skipped = [
        (Path(s.path).relative_to(project).as_posix(), s.line, s.reason, s.value)
        for s in result.skipped
    ]
    assert skipped == EXPECTED_SKIPPED
    assert result.skipped_counts() == {"local-path": 4, "no-owner": 2, "unresolved": 3}


def test_vendored_build_and_gitignored_files_are_not_read(project: Path) -> None:
    result = scan_paths([project])
    assert not [f for f in result.findings if f.repo_id.startswith("evil/")]
    # 3 Python sources, 1 notebook, 3 configs; broken.py is read but cannot be parsed.
    assert result.files == 7
    assert [(Path(p).name, why.split(":")[0]) for p, why in result.unreadable] == [
        ("broken.py", "not valid Python")
    ]


def test_a_file_named_on_the_command_line_is_scanned_even_if_ignored(project: Path) -> None:
    result = scan_paths([project / "scratch" / "vendored.py"])
    assert result.repo_ids() == ["evil/scratch"]


def test_repo_ids_are_listed_once_in_the_order_first_found(project: Path) -> None:
    result = scan_paths([project])
    assert result.repo_ids("model").count("bigcode/starcoder") == 1
    assert result.repo_ids("dataset") == [
        "bigcode/the-stack",
        "OpenAssistant/oasst1",
        "tatsu-lab/alpaca",
        "databricks/databricks-dolly-15k",
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("tiiuae/falcon-7b", None),
        ("gpt2", "no-owner"),
        ("./models/x", "local-path"),
        ("C:\\models\\x", "local-path"),
        ("~/models/x", "local-path"),
        ("owner/name/sub", "local-path"),
        ("owner/model.safetensors", "local-path"),
        ("owner--x/name", "not-a-repo-id"),
        ("https://huggingface.co/a/b", "local-path"),
        ("a" * 60 + "/" + "b" * 60, "not-a-repo-id"),
        ("", "not-a-repo-id"),
        ("owner/na me", "not-a-repo-id"),
        ("owner/name\n", "not-a-repo-id"),  # the whole value, not the line before its break
        ("gpt2\n", "not-a-repo-id"),
    ],
)
def test_only_owner_slash_name_values_are_hub_repo_ids(value: str, reason: str | None) -> None:
    assert classify(value) == reason


def test_a_notebook_constant_set_in_an_earlier_cell_is_resolved(tmp_path: Path) -> None:
    cells = [
        {"cell_type": "code", "source": 'REPO = "org/model"'},
        {
            "cell_type": "code",
            "source": ["!pip install x\n", "m = AutoModel.from_pretrained(REPO)"],
        },
    ]
    (tmp_path / "n.ipynb").write_text(json.dumps({"cells": cells}))
    [finding] = scan_paths([tmp_path]).findings
    assert (finding.repo_id, finding.cell, finding.line) == ("org/model", 2, 2)


def test_import_aliases_and_repo_type_dataset_are_followed(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "from huggingface_hub import snapshot_download as fetch\n"
        "fetch('org/weights')\n"
        "fetch(repo_id='org/corpus', repo_type='dataset')\n"
    )
    found = [(f.repo_id, f.kind) for f in scan_paths([tmp_path]).findings]
    assert found == [("org/weights", "model"), ("org/corpus", "dataset")]


@pytest.mark.parametrize(
    "before", ["", "---\n" * 5, "a: 1\n---\nb: 2\n---\n", "[x]\n---\n{}\n---\n"]
)
def test_a_key_in_any_document_of_a_yaml_stream_is_found(tmp_path: Path, before: str) -> None:
    # Each document is walked once and freed: a later one's nodes may take a freed node's id.
    text = before + "base_model: org/model\n"
    (tmp_path / "c.yaml").write_text(text)
    [finding] = scan_paths([tmp_path]).findings
    assert (finding.repo_id, finding.line) == ("org/model", text.count("\n"))


def test_hostile_files_are_reported_not_crashed_on(tmp_path: Path) -> None:
    (tmp_path / "deep.py").write_text(
        "x = " + "(" * 5000 + "'1'" + ")" * 5000 + "\nfrom_pretrained\n"  # a string: read
    )
    (tmp_path / "bad.json").write_text("{" * 100000)
    (tmp_path / "bad.ipynb").write_bytes(b"\xff\xfe not json")
    (tmp_path / "bad.toml").write_text("model_id = ")
    aliases = "a: &a [x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(20)
    )
    (tmp_path / "laughs.yaml").write_text(aliases + "base_model: org/model\n")
    (tmp_path / "loop").symlink_to(tmp_path)
    result = scan_paths([tmp_path])
    assert result.repo_ids() == ["org/model"]
    assert sorted(Path(p).name for p, _ in result.unreadable) == [
        "bad.ipynb",
        "bad.json",
        "bad.toml",
        "deep.py",
    ]


def test_worker_processes_find_what_one_process_finds_in_the_same_order(tmp_path: Path) -> None:
    for n in range(5000):  # three chunks (scan._CHUNK); a smaller tree is scanned in process
        folder = tmp_path / f"pkg{n // 100}"
        folder.mkdir(exist_ok=True)
        loads = f'AutoModel.from_pretrained("org/m{n}")\n' if n % 7 == 0 else "x = 1\n"
        (folder / f"m{n}.py").write_text(loads)
    serial = scan_paths([tmp_path], jobs=1, grep=False)
    assert len(serial.findings) == 715
    assert serial.findings == sorted(serial.findings, key=lambda f: (f.path.count("/"), f.path))
    for grep in (False, True):
        parallel = scan_paths([tmp_path], jobs=2, grep=grep)
        assert (parallel.findings, parallel.files) == (serial.findings, serial.files)


def test_a_cached_scan_reads_only_changed_files_and_finds_the_same(project: Path) -> None:
    from ingest.scan_cache import ScanCache

    cache_file = project / ".scan-cache.json"
    cache = ScanCache(cache_file)
    first = scan_paths([project], cache=cache)
    cache.save()
    again = ScanCache(cache_file)
    assert len(again.entries) == first.files == 7  # broken.py too: its failure is remembered
    assert scan_paths([project], cache=again) == first
    loaders = project / "src/app/loaders.py"
    loaders.write_text(loaders.read_text().replace("tiiuae/falcon-40b", "tiiuae/falcon-7b"))
    changed = scan_paths([project], cache=ScanCache(cache_file))
    assert (
        "tiiuae/falcon-7b" in changed.repo_ids() and "tiiuae/falcon-40b" not in changed.repo_ids()
    )


def test_a_file_changed_while_it_was_read_is_read_again_by_the_next_scan(tmp_path: Path) -> None:
    from ingest.scan import ScanResult
    from ingest.scan_cache import ScanCache

    source = tmp_path / "app.py"
    source.write_text('pipeline(model="org/old")\n')
    cache = ScanCache(tmp_path / "cache.json")
    assert cache.get(str(source), "app.py") is None  # not known: the scan reads it now
    read_before_the_change = scan_paths([source])
    source.write_text('pipeline(model="org/new-and-longer")\n')  # while the scan was reading
    cache.put(str(source), "app.py", read_before_the_change)
    cache.save()
    assert ScanCache(tmp_path / "cache.json").get(str(source), "app.py") is None
    cache.put(str(source), "app.py", ScanResult(files=1))  # a later scan, no get() before it
    assert cache.get(str(source), "app.py") == ScanResult(files=1)


def test_a_file_named_twice_in_one_scan_keeps_the_stamp_from_before_it_was_read(
    tmp_path: Path,
) -> None:
    from ingest.scan_cache import ScanCache

    source = tmp_path / "app.py"
    source.write_text('pipeline(model="org/old")\n')
    cache = ScanCache(tmp_path / "cache.json")
    assert cache.get(str(source), "app.py") is None
    assert cache.get(str(source), "app.py") is None  # `scan . app.py`: listed twice
    read = scan_paths([source])
    source.write_text('pipeline(model="org/new-and-longer")\n')
    cache.put(str(source), "app.py", read)
    cache.put(str(source), "app.py", read)
    cache.save()
    assert ScanCache(tmp_path / "cache.json").get(str(source), "app.py") is None


def test_a_cache_from_another_scanner_or_not_json_is_ignored(project: Path) -> None:
    from ingest.scan_cache import ScanCache

    cache_file = project / "cache.json"
    cache_file.write_text('{"scanner": "older", "files": {"x": 1}}')
    assert ScanCache(cache_file).entries == {}
    cache_file.write_text("not json")
    result = scan_paths([project], cache=ScanCache(cache_file))
    assert len(result.findings) == len(EXPECTED_FINDINGS)  # the cache file itself is not scanned


# Names a loading call can be made of: every trigger, near misses, and plain words.
_CALLEES = [
    "from_pretrained",
    "pipeline",
    "hf_hub_download",
    "snapshot_download",
    "SentenceTransformer",
    "CrossEncoder",
    "load_dataset",
    "from_pretrain",
    "pipelines",
    "Pipeline",
    "load_data",
    "hub_download",
    "make",
    "fetch",
    "AutoModel",
]
_ARGUMENTS = ['"org/model"', "REPO", "name", 'f"org/{v}"', '"gpt2"', '"./local"']


@st.composite
def _python_sources(draw: st.DrawFn) -> str:
    """Modules of imports, constants and calls made from loader names and near misses."""
    word = st.sampled_from(_CALLEES)
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        form = draw(st.integers(0, 3))
        if form == 0:
            lines.append(f"from lib import {draw(word)} as {draw(word)}")
        elif form == 1:
            lines.append(f"REPO = {draw(st.sampled_from(_ARGUMENTS[:2] + _ARGUMENTS[4:]))}")
        else:
            callee = ".".join(draw(st.lists(word, min_size=1, max_size=3)))
            argument = draw(st.sampled_from(_ARGUMENTS))
            keyword = draw(st.sampled_from(["", "model=", "repo_id=", "path=", "other="]))
            lines.append(f"x = {callee}({keyword}{argument})")
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None)
@given(_python_sources())
def test_the_byte_prefilter_never_hides_what_the_syntax_tree_shows(source: str) -> None:
    from ingest.scan import ScanResult
    from ingest.scan_python import may_load, read_python

    parsed = ScanResult()
    read_python(source, "m.py", parsed)  # the reader alone, without the prefilter
    if parsed.findings or parsed.skipped:
        assert may_load(source.encode("utf-8")) and may_load(source.encode("latin-1"))


def test_a_file_without_any_trigger_word_yields_nothing_even_when_parsed(tmp_path: Path) -> None:
    from ingest.scan import ScanResult
    from ingest.scan_python import may_load, read_python

    source = (
        "from transformers import AutoModel as pipe\n"
        'REPO = "org/model"\n'
        "m = pipe(REPO)\n"
        'AutoModel.from_pretrain("org/model")\n'
        'Pipeline(model="org/model")\n'
        'load_data("org/corpus")\n'
        'getattr(AutoModel, "from_" + "pretrained")("org/model")\n'
    )
    parsed = ScanResult()
    read_python(source, "m.py", parsed)
    assert not may_load(source.encode())
    assert (parsed.findings, parsed.skipped) == ([], [])
    (tmp_path / "m.py").write_text(source)
    assert scan_paths([tmp_path]).files == 1 and not scan_paths([tmp_path]).findings


def test_an_aliased_loader_is_found_wherever_its_call_opens(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "from transformers import pipeline as make\nmake (\n    model='org/spaced',\n)\n"
    )
    assert scan_paths([tmp_path]).repo_ids() == ["org/spaced"]


# Pieces of modules that tempt a statement cutter: column-0 lines inside strings and brackets,
# decorators, backslash continuations, constants bound twice, renamed loaders, loads in definitions.
_TOP_LEVEL_PIECES = [
    'REPO = "org/model"',
    'REPO = "org/other"',
    "REPO: str = 'org/typed'",
    "from transformers import AutoModel, pipeline",
    "from transformers import pipeline as make",
    "import transformers",
    "@decorate\ndef load():\n    return AutoModel.from_pretrained(REPO)",
    "@decorate(\n    AutoModel.from_pretrained('org/decorator'),\n)\ndef quiet():\n    pass",
    "def helper():\n    return 1",
    "async def fetch():\n    return snapshot_download('org/async')",
    "class Loader:\n    model = pipeline(model=REPO)\n\n    def tokenizer(self):\n        return 2",
    "x = make(\n'org/aliased')",
    "make('org/aliased-call')",
    "value = compute(\n1, 2)",
    "total = 1 + \\\n2",
    "if ready:\n    m = AutoModel.from_pretrained(REPO)\nelse:\n    m = None",
    "try:\n    import torch\nexcept ImportError:\n    torch = None",
    'print("""\nREPO = "org/inside-a-string"\n""")',
    "(REPO) = 'org/parenthesised'",
    '"""A docstring: pipeline(model=\'org/doc\') is only text."""',
    "'''Another docstring.'''",
    "'org/bare-string'.join(parts)",
    "if __name__ == '__main__':\n    REPO = 'org/main-block'\nelif other:\n    pass\nelse:\n    x = 1",
    "try:\n    x = 1\nexcept ImportError:\n    make('org/in-except')\nfinally:\n    pass",
    "for REPO in ['org/loop']:\n    pass",
    "with open(path) as handle:\n    REPO = handle.read()",
    "while False:\n    snapshot_download('org/while')",
    "del REPO",
    "assert REPO",
    # No quote: left out, and what they bind is known to be bound where lines were left out.
    "REPO = make_repo()",
    "REPO: str",
    "count = 1",
    "import transformers.pipeline",
    "from transformers import (pipeline\nas make)",
    "from transformers import (\npipeline\nas make)",
    "import os\n-pipeline(model='org/after-an-import')",
    "from os import path\n~snapshot_download('org/after-a-from')",
    # Column-0 lines inside brackets that parse alone when the lines around them are left out.
    "f(\nREPO='org/keyword'\nif ready else None)",
    "d = {\nREPO: 'annotation'\nfor REPO in names}",
    "def gen():\n    x = (yield\nfrom pipeline(model='org/yield-from')\nif ready else None)",
    "x = [\npipeline\n(model=REPO)]",
    "y = [AutoModel.\nfrom_pretrained('org/split')\nfor k in names]",
    "@decorate(\nREPO='org/decorator-keyword'\nif ready else None)\ndef decorated():\n    pass",
    # Longer names holding a loader's: not loaders, and no reason to keep a statement.
    "def make_pipeline():\n    return pipelines(REPO)",
    "from sklearn.pipeline import make_pipeline\nstep = make_pipeline('org/not-a-load')",
    "class Loader2:\n    def from_pretrained_local(self):\n        return self.pipeline_(REPO)",
    "x = AutoModel.from_pretrained_(REPO) + pipeline2('org/other-name')",
    # Bodies cut inside (_cut_inside): definitions beside a loading one, decorators, nested
    # blocks, clauses, a line opening with the matrix operator inside brackets.
    "class Model:\n    @property\n    def name(self):\n        return 1\n\n"
    "    def load(self):\n        return AutoModel.from_pretrained(REPO)\n\n"
    "    class Inner:\n        pass",
    "class Mixed:\n    if ready:\n        def a(self):\n            pass\n    else:\n"
    "        def b(self):\n            pass\n    def c(self):\n        return pipeline(model=REPO)",
    "def outer():\n    def helper():\n        return (left\n    @ right)\n"
    "    return snapshot_download('org/outer')",
    "def spaced():\n    async def fetch():\n        return 1\n    total = 1 + \\\n"
    "    2\n    @decorate\n    def inner():\n        return load_dataset('org/inner')",
    "try:\n    def first():\n        return 1\nexcept ImportError:\n    def first():\n"
    "        return AutoModel.from_pretrained('org/fallback')",
]
_STRING_LINES = [
    'REPO = "org/in-a-docstring"',
    "m = AutoModel.from_pretrained('org/in-a-docstring')",
    '""" # """',
    "'''",
    "x = (",
    ")",
    "@decorated",
    "def not_code():",
    "from transformers import pipeline as make",
    "make('org/never')",
]


@st.composite
def _tricky_modules(draw: st.DrawFn) -> str:
    """Modules whose top-level statements sit among functions holding column-0 string lines."""
    pieces = []
    for number in range(draw(st.integers(1, 7))):
        if draw(st.booleans()):
            pieces.append(draw(st.sampled_from(_TOP_LEVEL_PIECES)))
        else:
            quote = draw(st.sampled_from(['"""', "'''"]))
            lines = draw(st.lists(st.sampled_from(_STRING_LINES), min_size=1, max_size=3))
            body = "\n".join(lines)
            pieces.append(f"def text_{number}():\n    return {quote}\n{body}\n{quote}")
    return "\n".join(pieces) + "\n"


@settings(max_examples=500, deadline=None)
@given(_tricky_modules())
def test_reading_only_the_statements_that_can_matter_finds_what_the_whole_tree_shows(
    source: str,
) -> None:
    from unittest import mock

    from ingest import scan_python
    from ingest.scan import ScanResult
    from ingest.scan_python import read_python

    whole, part, inside = ScanResult(), ScanResult(), ScanResult()
    read_python(source, "m.py", whole, whole=True)
    read_python(source, "m.py", part)
    with mock.patch.object(scan_python, "_INNER_FROM", 0):  # bodies cut at any length
        read_python(source, "m.py", inside)
    if whole.unreadable:
        return  # not Python: there is no whole tree to agree with
    assert (part.findings, part.skipped, part.unreadable) == (whole.findings, whole.skipped, [])
    assert (inside.findings, inside.skipped, inside.unreadable) == (part.findings, part.skipped, [])


def test_a_longer_name_holding_a_loaders_keeps_no_statement() -> None:
    from ingest.scan_python import loading_part

    source = (
        "def make_pipeline(steps):\n    return steps\n"
        "def pipelines_():\n    return 1\n"
        "def _pipeline2():\n    return 2\n"
        "def load():\n    return AutoModel.from_pretrained(M)\n"
        "def build():\n    return pipeline(model=M)\n"
    )
    part = loading_part(source)
    assert part is not None
    assert part.split("\n") == [""] * 6 + source.split("\n")[6:]


def test_a_kept_class_is_cut_inside_to_its_loading_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest import scan_python

    monkeypatch.setattr(scan_python, "_INNER_FROM", 0)
    source = (
        "class Model:\n"
        '    """A docstring."""\n'
        "    size = 1\n"
        "    @property\n"
        "    def name(self):\n"
        "        return 'x'\n"
        "    def load(self):\n"
        "        return AutoModel.from_pretrained(REPO)\n"
        "    def save(self):\n"
        "        return None\n"
    )
    assert scan_python.loading_part(source) == (
        "class Model:\n"
        '    """A docstring."""\n'
        "    size = 1\n"
        "    pass\n\n\n"
        "    def load(self):\n"
        "        return AutoModel.from_pretrained(REPO)\n"
        "    pass\n\n"
    )


def test_bodies_cut_inside_find_what_the_whole_tree_shows_in_real_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One standard library file in ten, with loads written into a seventh of its functions
    (by constant, by literal, by keyword), read whole and cut inside at any length."""
    import ast
    import random
    import warnings

    from ingest import scan_python
    from ingest.scan import ScanResult

    monkeypatch.setattr(scan_python, "_INNER_FROM", 0)
    rng = random.Random(7)
    loads = ["AutoModel.from_pretrained(REPO)", "pipeline(model='org/p')", "load_dataset('o/d')"]
    compared = 0
    for path in _standard_library_sources(every=10):
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
        lines = source.split("\n")
        spots = {
            (node.end_lineno, node.body[0].col_offset)
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body[0].lineno > node.lineno
            and rng.random() < 1 / 7
        }
        if "\r" in source or "\t" in source or not spots:
            continue
        for end, column in sorted(spots, reverse=True):
            lines.insert(end or 0, " " * column + "loaded_ = " + rng.choice(loads))
        mutated = "\n".join(lines) + "\nREPO = 'org/constant'\n"
        whole, part = ScanResult(), ScanResult()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            scan_python.read_python(mutated, "m.py", whole, whole=True)
            scan_python.read_python(mutated, "m.py", part)
        if whole.unreadable:
            continue
        compared += 1
        assert (part.findings, part.skipped, part.unreadable) == (whole.findings, whole.skipped, [])
    assert compared > 50


def _cut_statements_agree(path: Path) -> bool | None:
    """Whether the statements loading_part keeps parse to the very nodes a whole parse gives
    them (None: not Python, or nothing to leave out). With no loader named anywhere, every
    statement of the left-out kinds is left out, unless a semicolon joins it to another, and
    so is every statement whose lines, up to the next statement's, hold no quote."""
    import ast
    import io
    import tokenize

    from ingest import scan_python

    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (UnicodeDecodeError, SyntaxError, ValueError, tokenize.TokenError):
        return None
    cut = scan_python._cut(source)
    if cut is None:
        return None
    part, left_out_lines = cut.part, cut.left_out
    try:
        cut_tree = ast.parse(part)
    except SyntaxError:
        return True  # cut inside brackets: the scanner parses the whole source instead
    if scan_python._spans_a_cut(cut_tree, left_out_lines):
        return True  # the same, seen after parsing
    left_out = (
        *(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom),
        *(ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try),
        *(ast.Assert, ast.Raise, ast.Delete, ast.Pass, ast.Global, ast.Nonlocal),
        *((ast.TryStar,) if hasattr(ast, "TryStar") else ()),
    )
    lines = re.split(r"\r\n|\r|\n", source)  # as the parser counts lines
    semicolons = {t.start[0] for t in tokens if t.type == tokenize.OP and t.string == ";"}

    def opens_with_a_string(node: ast.stmt) -> bool:
        return isinstance(node, ast.Expr) and lines[node.lineno - 1][node.col_offset] in "\"'"

    def separated(node: ast.stmt) -> bool:
        return any(node.lineno <= line <= (node.end_lineno or node.lineno) for line in semicolons)

    # Each statement's lines, decorators included, up to the next statement that opens a line.
    firsts = [
        min([n.lineno, *(d.lineno for d in getattr(n, "decorator_list", []))]) for n in tree.body
    ]
    opening = [
        i for i, n in enumerate(tree.body) if i == 0 or firsts[i] > tree.body[i - 1].end_lineno
    ]
    spans = itertools.pairwise([*(firsts[i] for i in opening), len(lines) + 1])
    texts = {i: "\n".join(lines[a - 1 : b - 1]) for i, (a, b) in zip(opening, spans, strict=True)}
    quoted = [
        bool(re.search("[\"']", texts[max(i for i in opening if i <= j)]))
        for j in range(len(tree.body))
    ]
    expected = [
        node
        for number, node in enumerate(tree.body)
        if quoted[number]
        and (separated(node) or not (isinstance(node, left_out) or opens_with_a_string(node)))
    ]
    dump = functools.partial(ast.dump, include_attributes=True)
    kept = {dump(n): n for n in cut_tree.body}
    wanted = {dump(n): n for n in expected}
    # A column-0 line inside a statement's brackets is taken for a statement's start. The cut
    # may then leave out a statement that binds a name: it must be known as bound where the
    # cut left lines out. It may keep a line inside brackets that parses alone: it must be
    # known to open inside brackets.
    missed = [n for d, n in wanted.items() if d not in kept]
    extra = [n for d, n in kept.items() if d not in wanted]

    def inside_brackets(kept: scan_python._Kept) -> bool:
        return scan_python._bracket_balance(source, kept.outside, kept.start) != 0

    def holder(node: ast.stmt) -> scan_python._Kept:
        return cut.kept[bisect.bisect_right(cut.kept, (node.lineno, len(source))) - 1]

    # The cut counts brackets a kept statement at a time: as one count from `outside` does.
    if any(kept.in_brackets != inside_brackets(kept) for kept in cut.kept):
        return False
    return all(
        (n.end_lineno or n.lineno) > n.lineno
        and all(scan_python._names(cut.bindings, name) for name, _ in scan_python._names_bound(n))
        for n in missed
    ) and all(inside_brackets(holder(n)) for n in extra)


def _standard_library_sources(every: int) -> list[Path]:
    import sysconfig

    root = Path(sysconfig.get_paths()["stdlib"])
    sources = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)
    return sources[::every]


def _check_cut_statements(sources: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest import scan_python

    monkeypatch.setattr(scan_python, "_trigger_positions", lambda source: [])
    answers = {path: _cut_statements_agree(path) for path in sources}
    assert sum(answer is not None for answer in answers.values()) > len(sources) // 2
    assert [path for path, answer in answers.items() if answer is False] == []


def test_statements_are_cut_where_the_parser_ends_them_in_real_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One standard library file in ten: column-0 lines in strings, brackets and decorators."""
    _check_cut_statements(_standard_library_sources(every=10), monkeypatch)


@pytest.mark.slow
def test_statements_are_cut_where_the_parser_ends_them_in_the_whole_standard_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _check_cut_statements(_standard_library_sources(every=1), monkeypatch)


@pytest.mark.parametrize(
    "source",
    [
        'import os; M = "org/name"\nAutoModel.from_pretrained(M)\n',  # a second statement after ;
        'import os  # C:\\\nM = "org/name"\nAutoModel.from_pretrained(M)\n',  # a comment's backslash
        'import os\n\x0cM = "org/name"\nAutoModel.from_pretrained(M)\n',  # a form feed at column 0
        'import os\rM = "org/name"\nAutoModel.from_pretrained(M)\n',  # a lone carriage return
        'import os\n\u2118M = "org/name"\nAutoModel.from_pretrained(\u2118M)\n',  # ℘: an identifier
        'M = (\n"unused"\n"org/pipeline")\nAutoModel.from_pretrained(M)\n',  # column 0 in brackets
        'M = (\n"junk"\n("org/x"))\nAutoModel.from_pretrained(M)\n',
        'M = ("org/x"\nif ready else\n"org/y")\nAutoModel.from_pretrained(M)\n',
        'x = [i\nfor i in y]\nM = "org/m"\nAutoModel.from_pretrained(M)\n',
        'x = (a\n@ b\n)\nM = "org/m"\nAutoModel.from_pretrained(M)\n',
        'def f(): pass\n\\\nM = "org/m"\nAutoModel.from_pretrained(M)\n',  # a lone backslash line
        'def f(): pass\r\n\\\r\nM = "org/m"\r\nAutoModel.from_pretrained(M)\r\n',
        'M = "org/m"\ndef\u0301 = M = "org/n"\nAutoModel.from_pretrained(M)\n',  # def + accent: a name
        'def f(): pass\nelse\u0301 = "org/m"\nAutoModel.from_pretrained(else\u0301)\n',
        'from t import pipeline as make\nM = "org/m"\n\uff4dake("t", M)\n',  # fullwidth m: make
        'x = "pipeline\u0301"\nM = "org/m"\n\uff50ipeline("t", M)\n',  # NFKC takes one, gives one
        'C = "o/c"\ndef f(m=(a\n@ b)): pass\nC = "o/b"\nsnapshot_download(C)\n',  # @: an operator
        'C = "o/c"\nif (a\n@ b): pass\nC = "o/b"\nsnapshot_download(C)\n',
        # Column-0 lines inside brackets, taken for statements: a keyword argument, a dict
        # entry (an annotation, alone), in brackets the cut leaves out.
        '@decorator(\nM="org/m"\nif c else "n")\ndef g(): pass\nAutoModel.from_pretrained(M)\n',
        'f(\nM="org/m"\nif c else "n")\nAutoModel.from_pretrained(M)\n',
        'M = "org/a"\nd = {\nM: "T"\nfor M in y}\nAutoModel.from_pretrained(M)\n',
        'M = "org/a"\nif (lambda\nM: "T"\nif c else "U"): pass\nAutoModel.from_pretrained(M)\n',
        # Bound again, without a quote (left out): the constant is not known.
        'M = "org/m"\nM = make()\nAutoModel.from_pretrained(M)\n',
        'M: str\nM = "org/m"\nAutoModel.from_pretrained(M)\n',
        'M = "org/m"\nx = 1; M = 2\nAutoModel.from_pretrained(M)\n',
        'M = "org/m"\nM = (\n2)\nAutoModel.from_pretrained(M)\n',
        # An import that names a loader: left out, unless it may rename one.
        'from transformers import pipeline\nM = "org/m"\npipeline("t", M)\n',
        'from transformers import (pipeline\nas make)\nmake("t", "org/m")\n',
        'from transformers import pipeline \\\n as make\nmake("t", "org/m")\n',
        'from transformers import (\npipeline\nas make)\nmake(model="a/b")\n',
        # A column-0 line after an import that no statement opens with: part of the import.
        'import os\n-pipeline(model="a/b")\n',
        'from os import path\n~snapshot_download("a/b")\n',
        # `from` opening the operand of `yield from` on a column-0 line inside brackets.
        'def g():\n    x = (yield\nfrom pipeline(model="a/b")\nif c else d)\n',
        # A loader's name on a column-0 line inside brackets, its call on the next line.
        'M = "org/m"\nx = [\npipeline\n(model=M)]\n',
        'x = [\npipeline\n("t", "org/m")\nfor x in y]\n',
        'M = "org/m"\nif (\npipeline\n("t", M)\nfor x in y): pass\n',
        'x = [AutoModel.\nfrom_pretrained("org/m")\nfor k in y]\n',
        # A binding before the first statement start the cut keeps.
        '1; M = "org/m"; pipeline(model=M)\ndef f(): pass\n',
    ],
)
def test_cutting_at_statement_starts_the_regex_can_misjudge_changes_nothing(source: str) -> None:
    import warnings

    from ingest.scan import ScanResult
    from ingest.scan_python import read_python

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # "str is not callable": valid, if odd
        compile(source, "m.py", "exec")
        whole, part = ScanResult(), ScanResult()
        read_python(source, "m.py", whole, whole=True)
        read_python(source, "m.py", part)
    assert (part.findings, part.skipped) == (whole.findings, whole.skipped)
    assert whole.findings or whole.skipped


@pytest.mark.parametrize(
    "source",
    [
        # A backslash before CR LF continues a one-quote string: its lines are not code.
        "def outer():\n    pipeline(\"task\", \"org/real\", x='\\\r\n' '''\n"
        "    def a(): ''', model=None, y='''\n    def pipeline(): ''')\n",
        "def f():\n    pipeline(model='a\\\r\n' '''\n    def g():\n    def pipeline''')\n",
        # A module-level statement after a semicolon on a definition's last line.
        'C = "o/c"\ndef f():\n    snapshot_download(C)\n    def g(): pass\n...; C = "o/b"\n',
        'C = "o/c"\ndef f():\n    snapshot_download(C)\n    def g(): pass\n0; C = "o/b"\n',
        'C = "o/c"\ndef f():\n    snapshot_download(C)\n    def g(): pass\n*a, = (); C = "o/b"\n',
        # A line that opens with the matrix operator, taken for a decorator.
        'C = "o/c"\ndef f(m=(pipeline\n@ b)):\n    snapshot_download(C)\n    def g(): pass\n'
        'C = "o/b"\n',
        "def f():\n    x = (a\n    @ b)\n    def g(): pass\n    return pipeline(model='org/m')\n",
    ],
)
def test_cutting_inside_where_the_regex_can_misjudge_changes_nothing(
    source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest import scan_python
    from ingest.scan import ScanResult

    monkeypatch.setattr(scan_python, "_INNER_FROM", 0)
    compile(source, "m.py", "exec")
    whole, part = ScanResult(), ScanResult()
    scan_python.read_python(source, "m.py", whole, whole=True)
    scan_python.read_python(source, "m.py", part)
    assert (part.findings, part.skipped, part.unreadable) == (whole.findings, whole.skipped, [])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["M", "M1", "_M", "x", "\u00e9", "\u2118", "\u2118M", " ", "=", "\n", "("])
    ),
    st.sampled_from(["M", "M1", "_M", "x", "\u2118M"]),
)
def test_names_in_left_out_lines_are_found_as_one_search_finds_them(
    pieces: list[str], name: str
) -> None:
    """The names of all left-out lines are gathered once; what they say of a name is what a
    search of those lines for it says."""
    import ast

    from ingest import scan_python

    cut = scan_python._Cut("", [], "".join(pieces), [])
    bindings = scan_python._PartBindings("", ast.Module(body=[], type_ignores=[]), cut)
    assert bindings._named_left_out(name) == scan_python._names(cut.bindings, name)


def test_brackets_are_counted_once_however_many_statements_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each kept statement asks whether it opens inside brackets: counted from the module's
    start each time, a long module of loads took minutes."""
    from ingest import scan_python
    from ingest.scan import ScanResult

    counted: list[int] = []
    balance = scan_python._bracket_balance

    def counting(source: str, begin: int, end: int) -> int:
        counted.append(end - begin)
        return balance(source, begin, end)

    monkeypatch.setattr(scan_python, "_bracket_balance", counting)
    lines = [f'M{n} = "org/m{n}"\npipeline(model=M{n})\n' for n in range(2000)]
    source = "def f(): pass\n" + "".join(lines)
    part, whole = ScanResult(), ScanResult()
    scan_python.read_python(source, "m.py", part)
    scan_python.read_python(source, "m.py", whole, whole=True)
    assert part.findings == whole.findings and len(part.findings) == 2000
    assert len(counted) >= 2000 and sum(counted) <= len(source)


def test_gitignore_is_read_as_git_reads_it(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.py\n!\n[z-a]\n\\\n")  # lines git would skip
    (tmp_path / "top.py").write_text('pipeline(model="org/ignored")\n')
    nested = tmp_path / "a"
    (nested / "b").mkdir(parents=True)
    (nested / ".gitignore").write_text("!a.py\n")  # the deepest file has the last word
    for folder in (nested, nested / "b"):
        (folder / "a.py").write_text('pipeline(model="org/kept")\n')
    result = scan_paths([tmp_path])
    assert sorted(f.path.removeprefix(tmp_path.as_posix()) for f in result.findings) == [
        "/a/a.py",
        "/a/b/a.py",
    ]


def test_a_gitignore_or_cache_that_is_a_fifo_does_not_block(tmp_path: Path) -> None:
    import os

    from ingest.scan_cache import ScanCache

    os.mkfifo(tmp_path / ".gitignore")
    (tmp_path / "app.py").write_text('pipeline(model="org/m")\n')
    os.mkfifo(tmp_path / "cache.json")
    assert scan_paths([tmp_path], cache=ScanCache(tmp_path / "cache.json")).repo_ids() == ["org/m"]


def test_the_cache_file_is_not_scanned_however_the_path_reaches_it(tmp_path: Path) -> None:
    from ingest.scan_cache import ScanCache

    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text('pipeline(model="org/m")\n')
    (tmp_path / "link").symlink_to(project)
    for _ in range(2):  # the second run finds the cache file the first wrote
        cache = ScanCache(project / "scan.json")
        result = scan_paths([tmp_path / "link"], cache=cache)
        cache.save()
        assert result.files == 1


@pytest.mark.parametrize("cells", ["null", "5", '"x"', "{}"])
def test_a_notebook_whose_cells_are_not_a_list_is_unreadable(tmp_path: Path, cells: str) -> None:
    (tmp_path / "nb.ipynb").write_text(f'{{"cells": {cells}}}')
    (tmp_path / "array.ipynb").write_text(f"[{cells}]")
    assert sorted(why for _, why in scan_paths([tmp_path]).unreadable) == [
        'not a notebook: "cells" is not a list',
        "not a notebook: not a JSON object",
    ]


def test_a_notebook_loader_written_in_other_characters_is_found(tmp_path: Path) -> None:
    source = 'M = "org/m"\n\uff50ipeline("t", M)'  # a fullwidth p: Python reads pipeline
    (tmp_path / "nb.ipynb").write_text(
        json.dumps({"cells": [{"cell_type": "code", "source": source}]})
    )
    assert scan_paths([tmp_path]).repo_ids() == ["org/m"]


def test_a_notebook_cell_is_cut_into_lines_where_python_cuts_them(tmp_path: Path) -> None:
    source = 'SEP = "a\u2028b\x0cc"\nAutoModel.from_pretrained("org/x")\n'
    (tmp_path / "nb.ipynb").write_text(
        json.dumps({"cells": [{"cell_type": "code", "source": source}]})
    )
    [finding] = scan_paths([tmp_path]).findings
    assert (finding.repo_id, finding.cell, finding.line) == ("org/x", 1, 2)


def test_deeply_nested_files_get_the_same_answer_at_any_call_depth(tmp_path: Path) -> None:
    (tmp_path / "sum.py").write_text("AutoModel.from_pretrained(" + "+".join(["a"] * 250) + ")\n")
    (tmp_path / "neg.py").write_text("x = " + "-" * 2950 + "1\npipeline(model='org/m')\n")
    (tmp_path / "deep.json").write_text('{"a": ' * 970 + '{"base_model": "org/j"}' + "}" * 970)

    def at_depth(depth: int) -> tuple:
        if depth:
            return at_depth(depth - 1)
        result = scan_paths([tmp_path])
        return (result.findings, result.skipped, result.unreadable)

    assert at_depth(0) == at_depth(150) == at_depth(400)


def test_a_loader_imported_under_another_name_in_one_cell_loads_in_a_later_one(
    tmp_path: Path,
) -> None:
    cells = [
        {"cell_type": "code", "source": "from transformers import pipeline as make\n"},
        {"cell_type": "markdown", "source": "Then:"},
        {"cell_type": "code", "source": 'chat = make(model="org/m")\n'},
    ]
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": cells}))
    [finding] = scan_paths([tmp_path]).findings
    assert (finding.repo_id, finding.cell, finding.line) == ("org/m", 2, 1)
