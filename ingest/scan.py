"""Find the Hub repos a code base uses: Python sources, notebooks and config files under some paths.

Python is read through its syntax tree (ingest/scan_python.py) and configs through their parsers
(ingest/scan_config.py), so ids in comments, docstrings and unrelated strings are never reported.
A value that is not a usable Hub id (a local path, a name without an owner, an f-string or a
variable whose value cannot be known) is not a finding: it is counted and listed as skipped, so a
gate never passes silently over something it could not read.
"""

from __future__ import annotations

import errno
import functools
import gc
import itertools
import operator
import os
import re
import stat
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog.repo_ids import BARE_NAME, OWNER_AND_NAME, within_hub_limits
from ingest.scan_grep import GREP_FROM, files_naming

if TYPE_CHECKING:
    import pathspec

    from ingest.scan_cache import ScanCache

# Folders that hold other people's code or build output, never the project's own model loads.
IGNORED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".env",
        "env",
        "node_modules",
        "build",
        "dist",
        "site-packages",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".eggs",
        ".ipynb_checkpoints",
    }
)
PYTHON_SUFFIXES = frozenset({".py", ".pyi"})
NOTEBOOK_SUFFIXES = frozenset({".ipynb"})
CONFIG_SUFFIXES = frozenset({".yaml", ".yml", ".json", ".toml"})
MAX_FILE_BYTES = 5 * 1024 * 1024
# Most source files fit in one read; larger ones take a few.
_READ_BYTES = 64 * 1024

_WEIGHT_FILE = re.compile(
    r"\.(bin|pt|pth|ckpt|safetensors|gguf|onnx|h5|pkl|jsonl?|ya?ml|csv|tsv|parquet|arrow|txt)$",
    re.I,
)


_DRIVE = re.compile(r"[A-Za-z]:")  # C:\models, C:/models


@dataclass(frozen=True)
class Finding:
    """A Hub repo a file uses: where, and how it was recognised."""

    repo_id: str
    kind: str  # model | dataset
    path: str  # as reached from the path given to the scan, with "/" separators
    line: int
    how: str  # e.g. "from_pretrained()", "pipeline(model=)", "config key base_model"
    cell: int | None = None  # notebooks: the code cell's number, counting from 1

    @property
    def where(self) -> str:
        """path:line, and in a notebook the cell the line counts in: path:line (cell N)."""
        return f"{self.path}:{self.line}" + (f" (cell {self.cell})" if self.cell else "")

    def to_dict(self) -> dict[str, object]:
        return {
            "repo_id": self.repo_id,
            "kind": self.kind,
            "path": self.path,
            "line": self.line,
            "cell": self.cell,
            "how": self.how,
        }


@dataclass(frozen=True)
class Skipped:
    """A value in a model-loading place that is not a Hub repo id, and why."""

    reason: str  # local-path | no-owner | not-a-repo-id | unresolved
    path: str
    line: int
    how: str
    value: str | None = None
    cell: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "reason": self.reason,
            "path": self.path,
            "line": self.line,
            "cell": self.cell,
            "how": self.how,
            "value": self.value,
        }


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, why)

    def repo_ids(self, kind: str = "model") -> list[str]:
        """Distinct repo ids of one kind, in the order they were first found."""
        return list(dict.fromkeys(f.repo_id for f in self.findings if f.kind == kind))

    def found_nothing(self) -> bool:
        """Whether this is one file read in which nothing was found (most files are)."""
        return self.files == 1 and not (self.findings or self.skipped or self.unreadable)

    def skipped_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(s.reason for s in self.skipped).items()))

    def to_dict(self) -> dict[str, object]:
        return {
            "files": self.files,
            "models": self.repo_ids("model"),
            "datasets": self.repo_ids("dataset"),
            "findings": [f.to_dict() for f in self.findings],
            "skipped": self.skipped_counts(),
            "skipped_values": [s.to_dict() for s in self.skipped],
            "unreadable": [{"path": p, "reason": r} for p, r in self.unreadable],
        }


def classify(value: str) -> str | None:
    """None when `value` is a Hub repo id, else why it is not one."""
    if (
        value.startswith(("/", "./", "../", "~", "\\"))
        or "\\" in value
        or _DRIVE.match(value)
        or value.count("/") > 1
        or _WEIGHT_FILE.search(value)
    ):
        return "local-path"
    if OWNER_AND_NAME.fullmatch(value):
        return None if within_hub_limits(value) else "not-a-repo-id"
    return "no-owner" if BARE_NAME.fullmatch(value) else "not-a-repo-id"


class Recorder:
    """Collects one file's findings and skips, classifying each value once."""

    def __init__(self, result: ScanResult, path: str, cell: int | None = None) -> None:
        self.result = result
        self.path = path
        self.cell = cell

    def value(
        self, value: str | None, *, kind: str, line: int, how: str, expression: str | None = None
    ) -> None:
        """Record `value` found at `line`; None means unresolved, shown as its source `expression`."""
        if value is None:
            skipped = Skipped("unresolved", self.path, line, how, expression, self.cell)
            self.result.skipped.append(skipped)
            return
        reason = classify(value)
        if reason is None:
            self.result.findings.append(Finding(value, kind, self.path, line, how, self.cell))
        else:
            self.result.skipped.append(Skipped(reason, self.path, line, how, value, self.cell))


# More than this of a .gitignore is not read (what is cut off can only make the scan read more).
_GITIGNORE_BYTES = 1024 * 1024


def _ignore_spec(gitignore: str) -> pathspec.GitIgnoreSpec | None:
    import pathspec  # at the first .gitignore: a tree without one does not load it

    try:
        with open(gitignore, encoding="utf-8", errors="replace") as handle:
            lines = handle.read(_GITIGNORE_BYTES).splitlines()
    except OSError:
        return None
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except (ValueError, re.error):  # a line git would skip (a lone "!", a bad range): drop it
        return pathspec.GitIgnoreSpec.from_lines([line for line in lines if _valid_pattern(line)])


def _valid_pattern(line: str) -> bool:
    import pathspec

    try:
        pathspec.GitIgnoreSpec.from_lines([line])
    except (ValueError, re.error):
        return False
    return True


def _ignored(path: str, is_dir: bool, specs: list[tuple[str, pathspec.GitIgnoreSpec]]) -> bool:
    """As git decides: the deepest .gitignore with a pattern for the path has the last word
    (a nested `!name` brings back what a parent folder's file ignores)."""
    for base, spec in reversed(specs):
        relative = os.path.relpath(path, base).replace(os.sep, "/") + ("/" if is_dir else "")
        decision = spec.check_file(relative).include
        if decision is not None:
            return decision
    return False


def _wanted_dir(name: str) -> bool:
    return name not in IGNORED_DIRS and not name.endswith(".egg-info")


def _suffix(path: str) -> str:
    """The file name's suffix, lower-cased ("" for none, or for a name that opens with its dot)."""
    dot = path.rfind(".")
    return path[dot:].lower() if dot > path.rfind("/") + 1 else ""


_BY_NAME = operator.attrgetter("name")


def walk(root: str) -> Iterator[str]:
    """The files under `root` worth scanning: skips vendored and build folders and what .gitignore excludes."""
    wanted = PYTHON_SUFFIXES | NOTEBOOK_SUFFIXES | CONFIG_SUFFIXES
    stack: list[tuple[str, list[tuple[str, pathspec.GitIgnoreSpec]]]] = [(root, [])]
    while stack:
        directory, specs = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=_BY_NAME)
        except OSError:
            continue
        # A folder's own .gitignore is read only where the listing shows one (a regular file:
        # a FIFO there would block the walk).
        gitignore = next((e.path for e in entries if e.name == ".gitignore" and e.is_file()), None)
        spec = _ignore_spec(gitignore) if gitignore else None
        if spec is not None:
            specs = [*specs, (directory, spec)]
        subdirs = []
        for entry in entries:
            # Symlinks are not followed (neither a folder nor a file here): a link can loop or
            # lead outside the project.
            if entry.is_dir(follow_symlinks=False):
                if _wanted_dir(entry.name) and not (specs and _ignored(entry.path, True, specs)):
                    subdirs.append((entry.path, specs))
            elif (
                _suffix(entry.name) in wanted
                and entry.is_file(follow_symlinks=False)  # not a FIFO or device: it could block
                and not (specs and _ignored(entry.path, False, specs))
            ):
                yield entry.path
        stack.extend(reversed(subdirs))


def _read_bytes(path: str) -> bytes:
    """At most MAX_FILE_BYTES + 1 bytes of the file, read without a buffered file object."""
    # O_NONBLOCK: opening a FIFO named on the command line does not wait for a writer; it is
    # then refused, as is a device (/dev/zero would never end) or a folder.
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    descriptor = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        chunks = []
        size = 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(descriptor, _READ_BYTES)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(descriptor)


def _read(path: str, shown: str, result: ScanResult) -> bytes | None:
    try:
        data = _read_bytes(path)
    except OSError as exc:
        result.unreadable.append((shown, exc.strerror or type(exc).__name__))
        return None
    if len(data) > MAX_FILE_BYTES:
        if _suffix(path) in PYTHON_SUFFIXES and not _names_a_loader(path):
            result.files += 1  # too large to parse, but it cannot load anything (as grep says)
        else:
            result.unreadable.append((shown, "larger than 5 MB"))
        return None
    result.files += 1
    return data


def _names_a_loader(path: str) -> bool:
    """Whether a Python file's bytes may hold a trigger name (scan_python.may_load), read a block
    at a time; True when it cannot be read to the end."""
    from ingest.scan_nfkc import may_spell_a_name
    from ingest.scan_python import TRIGGERS

    overlap = max(map(len, TRIGGERS)) - 1  # a name or a character's bytes, cut between blocks
    try:
        with open(path, "rb") as handle:
            tail = b""
            while block := handle.read(1024 * 1024):
                window = tail + block
                # A character NFKC turns into a letter could spell a trigger: not vouched for.
                if may_spell_a_name(window) or any(name in window for name in TRIGGERS):
                    return True
                tail = window[-overlap:]
    except OSError:
        return True
    return False


def _readers() -> dict[str, Callable[[bytes, str, ScanResult], None]]:
    from ingest.scan_python import scan_notebook, scan_python

    readers: dict[str, Callable[[bytes, str, ScanResult], None]] = {}
    for suffix in PYTHON_SUFFIXES:
        readers[suffix] = scan_python
    for suffix in NOTEBOOK_SUFFIXES:
        readers[suffix] = scan_notebook
    for suffix in CONFIG_SUFFIXES:
        readers[suffix] = functools.partial(_config, suffix=suffix)
    return readers


def _config(data: bytes, shown: str, result: ScanResult, *, suffix: str) -> None:
    # Imported at the first config file: a tree of Python files alone does not load a YAML parser
    # (in each worker process, where the scan's imports happen).
    from ingest.scan_config import scan_config

    scan_config(data, suffix, shown, result)


# Files a worker process is handed at a time. A tree smaller than one chunk is read in process:
# starting workers would cost more than they save. A chunk is large enough to be worth a grep.
_CHUNK = 2000


def _scan_one(
    path: str,
    shown: str,
    readers: dict[str, Callable[[bytes, str, ScanResult], None]],
    result: ScanResult,
) -> None:
    reader = readers.get(_suffix(path))
    if reader is None:  # only a file named on the command line gets here
        result.unreadable.append((shown, "not a Python, notebook or config file"))
        return
    data = _read(path, shown, result)
    if data is not None:
        reader(data, shown, result)


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Syntax trees, scan results and cache entries hold no reference cycles: reference counting
    frees them. Left running, the cycle collector walks the many thousand objects a scan
    allocates again and again (on the bench tree it doubles the time spent parsing, and more
    than doubles the time to load a cache). The scanner runs in a command-line process or its
    own workers, never beside a web app's threads."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _scan_each(
    files: list[str], grep: bool = False, named: frozenset[str] = frozenset()
) -> list[ScanResult | None]:
    """One result per file, in order; None for a file read in which nothing was found, which a
    worker sends back for nothing. With `grep`, the Python files grep vouches name no loader
    (ingest/scan_grep.py) are not read here; files `named` on the command line always are (one
    may be a FIFO or a device, which grep skips and Python reports)."""
    readers = _readers()
    vouched = _vouched_by_grep(files, named) if grep else ()
    parts: list[ScanResult | None] = []
    with cycle_collector_paused(), _same_recursion_allowance():
        for path in files:
            if path in vouched:
                parts.append(None)
                continue
            part = ScanResult()
            _scan_one(path, _shown(path), readers, part)
            parts.append(None if part.found_nothing() else part)
    return parts


def _vouched_by_grep(files: list[str], named: frozenset[str]) -> set[str]:
    """The Python files among `files` (the walk's, not those `named`) that grep read and found
    no loader's name in."""
    # A path that ends in .py has that suffix unless its name is ".py" alone: the walk yields
    # no such file, and the files named on the command line are never vouched for.
    python = [p for p in files if p.endswith(".py") or _suffix(p) in PYTHON_SUFFIXES]
    if named:
        python = [p for p in python if p not in named]
    if len(python) < GREP_FROM:
        return set()
    from ingest.scan_python import TRIGGERS

    naming = files_naming(python, TRIGGERS)
    return set() if naming is None else set(python) - naming


def _merge(chunks: Iterable[list[ScanResult | None]]) -> ScanResult:
    merged = ScanResult()
    for chunk in chunks:
        merged.files += chunk.count(None)  # a file read in which nothing was found
        for part in filter(None, chunk):
            merged.findings += part.findings
            merged.skipped += part.skipped
            merged.unreadable += part.unreadable
            merged.files += part.files
    return merged


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _files(paths: Iterable[Path | str], skip: str | None) -> Iterator[str]:
    """Each file to scan, as the walk finds it; `skip` (the scan's own cache file) is left
    out, however the paths reach it."""
    skip_name = os.path.basename(skip) if skip else None
    for given in paths:
        root = os.fspath(given)
        for path in walk(root) if os.path.isdir(root) else [root]:
            if skip and os.path.basename(path) == skip_name and _same_file(path, skip):
                continue
            yield path


def _shown(path: str) -> str:
    """How findings name the file: as the path given to the scan reaches it, with "/"."""
    shown = path[2:] if path.startswith("./") else path
    return shown.replace(os.sep, "/")


def _same_file(path: str, other: str) -> bool:
    try:
        return os.path.samefile(path, other)
    except OSError:
        return os.path.abspath(path) == other


# How deep the readers may recurse (ast.parse and ast.unparse, json, YAML), above the depth they
# are called from: the default recursion limit's worth, so the answer for a deeply nested file
# does not depend on whether it was read in a worker, by the command or by a test.
_READER_RECURSION = 1000


@contextmanager
def _same_recursion_allowance() -> Iterator[None]:
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + _READER_RECURSION)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def _worker_context() -> Any:
    """fork where the asking process runs one thread: workers start in milliseconds, with the
    scanner already imported. With other threads running, a forked child could inherit a lock one
    of them holds: then forkserver, whose workers import the scanner afresh."""
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else None)


def _scan_all(
    files: Iterable[str],
    jobs: int,
    *,
    grep: bool = True,
    named: frozenset[str] = frozenset(),
) -> list[list[ScanResult | None]]:
    """One result per file, in order, a chunk of files at a time. A large tree is read by
    `jobs` worker processes, each chunk handed over as soon as the walk has found it."""
    files = iter(files)
    first = list(itertools.islice(files, _CHUNK))
    if jobs <= 1 or len(first) < _CHUNK:
        return [_scan_each([*first, *files], grep, named)]
    from concurrent.futures import ProcessPoolExecutor

    scan = functools.partial(_scan_each, grep=grep, named=named)
    with ProcessPoolExecutor(jobs, mp_context=_worker_context()) as pool:
        chunks = [pool.submit(scan, first)]
        while chunk := list(itertools.islice(files, _CHUNK)):
            chunks.append(pool.submit(scan, chunk))
        return [chunk.result() for chunk in chunks]


def scan_paths(
    paths: Iterable[Path | str],
    *,
    jobs: int = 1,
    cache: ScanCache | None = None,
    grep: bool = True,
) -> ScanResult:
    """Scan files and folders; findings name files as the paths given name them (`scan .`: relative).

    With `jobs` > 1, a large tree is read by that many worker processes (see _worker_context: where
    they start afresh, the calling program's main module must be import-safe, as the CLI's is);
    findings keep file order.
    With a cache, files unchanged since the scan that filled it are not read again.
    With `grep` (the default), a tree of many Python files is filtered by GNU grep where there is
    one (ingest/scan_grep.py); the findings are the same either way.
    """
    given = [os.fspath(p) for p in paths]
    named = frozenset(p for p in given if not os.path.isdir(p))
    with cycle_collector_paused():
        files = _files(given, cache.path if cache else None)
        if cache is None:
            return _merge(_scan_all(files, jobs, grep=grep, named=named))
        return _scan_cached(list(files), jobs, cache, grep, named)


def _scan_cached(
    files: list[str],
    jobs: int,
    cache: ScanCache,
    grep: bool,
    named: frozenset[str],
) -> ScanResult:
    shown = [_shown(path) for path in files]
    parts = [cache.get(path, name) for path, name in zip(files, shown, strict=True)]
    todo = [index for index, part in enumerate(parts) if part is None]
    read = _scan_all([files[i] for i in todo], jobs, grep=grep, named=named)
    for index, part in zip(todo, itertools.chain.from_iterable(read), strict=True):
        parts[index] = part = part or ScanResult(files=1)
        cache.put(files[index], shown[index], part)
    return _merge([parts])


def parse_model_list(text: str) -> tuple[list[str], list[tuple[int, str, str]]]:
    """Repo ids from a requirements-style list (one a line, `#` comments, `@rev` or `==rev` pins
    dropped); lines that hold no repo id come back as (line number, line, why)."""
    ids: list[str] = []
    rejected: list[tuple[int, str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        repo_id = re.split(r"\s|@|==", entry, maxsplit=1)[0]
        reason = classify(repo_id)
        if reason is not None:
            rejected.append((number, line.strip()[:200], reason))
        elif repo_id not in ids:
            ids.append(repo_id)
    return ids, rejected
