"""Model and dataset loads in Python source and notebooks, read from the syntax tree."""

from __future__ import annotations

import ast
import itertools
import json
import re
import string
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from ingest.scan import Recorder, ScanResult
from ingest.scan_nfkc import may_spell_a_name


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
# Every call the reader records has one of these names, as written, on its lines (see may_load).
TRIGGER_NAMES = (*FUNCTIONS, "from_pretrained")
TRIGGERS = tuple(name.encode() for name in TRIGGER_NAMES)


def may_load(data: bytes) -> bool:
    """Whether a Python file's bytes hold a trigger name: only then can it yield a finding.

    Parsing is most of a scan's time and most files load nothing, so this is asked first. It
    can never hide a load the syntax tree would show, because the reader only looks at calls
    spanning a line where a trigger name occurs in the decoded source (_CallReader.read, with
    _lines_naming), and an import alias counts only when its import names a trigger. The
    source is the bytes decoded as UTF-8 or Latin-1, and in both an ASCII name occurs in the
    text exactly when its bytes occur in the file: UTF-8 never uses bytes below 0x80 inside a
    multi-byte character, and Latin-1 maps each byte to one character. So a file without
    these bytes has no line the reader would look at, unless Python reads other characters as
    them: it NFKC-normalises identifiers, so a file holding a character NFKC turns into an ASCII
    letter (ingest/scan_nfkc.py) is asked that too.
    """
    if any(trigger in data for trigger in TRIGGERS):
        return True
    if not may_spell_a_name(data):
        return False
    normalized = unicodedata.normalize("NFKC", _decoded(data))
    return any(name in normalized for name in TRIGGER_NAMES)


def changed_by_nfkc(source: str) -> bool:
    """Whether NFKC, which Python applies to identifiers, changes any of the source: then a
    loader's name, or an alias of one, may be written in other characters (pipeline with a
    fullwidth p, U+FF50, is pipeline), and the reader cannot go by the names as written."""
    return not source.isascii() and unicodedata.normalize("NFKC", source) != source


def _decoded(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # PEP 263 declarations other than UTF-8 are rare


def _module_constants(tree: ast.Module) -> dict[str, str | None]:
    """Module-level NAME = "text" bindings; a name bound more than once to different things is None."""
    constants: dict[str, str | None] = {}
    for node in tree.body:
        for name, value in _names_bound(node):
            text = value.value if isinstance(value, ast.Constant) else None
            text = text if isinstance(text, str) else None
            seen = name in constants and constants[name] != text
            constants[name] = None if seen else text
    return constants


def _names_bound(statement: ast.stmt) -> list[tuple[str, ast.expr | None]]:
    """The names a module-level statement binds as _module_constants reads them, with values."""
    if isinstance(statement, ast.Assign):
        return [(t.id, statement.value) for t in statement.targets if isinstance(t, ast.Name)]
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return [(statement.target.id, statement.value)]
    return []


_NEWLINE = re.compile(r"\r\n|\r|\n")


def _name_pattern(names: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(name) for name in names))


# Characters that cannot stand next to a name in Python code without being part of it.
_NAME_ASCII = frozenset(string.ascii_letters + string.digits + "_")


def _trigger_positions(source: str) -> list[int]:
    """Where each trigger name occurs in the source as a name of its own, in order (str.find:
    faster than a regex). `make_pipeline` or `pipelines` is another name, which the reader
    would not take for a loader's: no statement is kept for it. An occurrence next to a
    non-ASCII character counts (Python may read the two as one name, or not)."""
    found = []
    for name in TRIGGER_NAMES:
        at = source.find(name)
        while at >= 0:
            end = at + len(name)
            if _a_name_of_its_own(source, at, end):
                found.append(at)
            at = source.find(name, end)
    found.sort()
    return found


def _a_name_of_its_own(source: str, at: int, end: int) -> bool:
    return not ((at and source[at - 1] in _NAME_ASCII) or source[end : end + 1] in _NAME_ASCII)


def _names(source: str, name: str) -> bool:
    """Whether `name` occurs in the source as a name of its own (as _trigger_positions asks)."""
    at = source.find(name)
    while at >= 0:
        if _a_name_of_its_own(source, at, at + len(name)):
            return True
        at = source.find(name, at + len(name))
    return False


def _lines_naming(source: str, pattern: re.Pattern[str]) -> list[int]:
    """The (1-based) lines where the pattern matches, as the parser numbers lines."""
    return _lines_at(source, [m.start() for m in pattern.finditer(source)])


def _lines_at(source: str, positions: list[int]) -> list[int]:
    """The (1-based) lines of these (ascending) offsets into the source."""
    if "\r" not in source:  # most sources: a line is what the line feeds before it make
        lines: list[int] = []
        line, previous = 1, 0
        for position in positions:
            line += source.count("\n", previous, position)
            previous = position
            if not lines or lines[-1] != line:
                lines.append(line)
        return lines
    starts = [0] + [m.end() for m in _NEWLINE.finditer(source)]
    return sorted({bisect_right(starts, position) for position in positions})


# Nodes that hold no call or import: names, constants and the load/store marks on names.
_LEAVES = (ast.Name, ast.Constant, ast.expr_context)
# Fields that never hold a node worth walking into: names, numbers, flags, marks, import aliases.
_NOT_CHILDREN = frozenset(
    {"name", "id", "attr", "arg", "module", "asname", "names", "level", "kind", "conversion"}
    | {"is_async", "simple", "ctx", "type_comment"}
)
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(node_type: type) -> tuple[str, ...]:
    fields = _CHILD_FIELDS.get(node_type)
    if fields is None:
        fields = tuple(f for f in node_type._fields if f not in _NOT_CHILDREN)  # type: ignore[attr-defined]
        _CHILD_FIELDS[node_type] = fields
    return fields


def _nodes_on(tree: ast.AST, lines: list[int]) -> list[ast.AST]:
    """The calls and `from` imports whose span holds one of `lines`: a loader's name must appear
    on a call's lines, so only the nodes whose span holds such a line are walked into, not the
    whole tree (a node without a position always is; decorators count as their definition's)."""
    found: list[ast.AST] = []
    stack = [tree]
    count = len(lines)
    while stack:
        node = stack.pop()
        node_type = type(node)
        if node_type is ast.Call or node_type is ast.ImportFrom:
            found.append(node)
        for name in _child_fields(node_type):  # ast.iter_child_nodes, less its generators
            children = getattr(node, name, None)
            if type(children) is not list:
                if children is None:
                    continue
                children = (children,)
            for child in children:
                if not isinstance(child, ast.AST) or isinstance(child, _LEAVES):
                    continue
                start = getattr(child, "lineno", None)
                if start is not None:
                    for decorator in getattr(child, "decorator_list", ()):  # above `def`
                        start = min(start, decorator.lineno)
                    end = child.end_lineno or start  # type: ignore[attr-defined]
                    index = bisect_left(lines, start)
                    if index == count or lines[index] > end:
                        continue
                stack.append(child)
    return found


def _aliases(imports: Iterable[ast.AST]) -> dict[str, str]:
    """`from transformers import pipeline as make` makes `make` a loader too."""
    aliases: dict[str, str] = {}
    for node in imports:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.asname and alias.name in FUNCTIONS:
                    aliases[alias.asname] = alias.name
    return aliases


class _CallReader:
    """Reads the loading calls of one module (or notebook cell) and records what they load."""

    def __init__(
        self,
        constants: dict[str, str | None],
        recorder: Recorder,
        shared_aliases: dict[str, str] | None = None,
        constant_holds: Callable[[str], bool] | None = None,
    ) -> None:
        self.constants = constants
        self.recorder = recorder
        self.shared_aliases = shared_aliases or {}  # a notebook's: imported in another cell
        self.aliases: dict[str, str] = {}
        # A tree of loading_part: whether it binds a constant's name as the whole tree does.
        self.constant_holds = constant_holds
        self.held: dict[str, bool] = {}

    def read(
        self,
        tree: ast.Module,
        source: str,
        *,
        whole: bool = True,
        naming: list[int] | None = None,
        every_line: bool = False,
    ) -> bool:
        """Record the loading calls in `tree`, parsed from `source` (`naming`: the offsets of
        its trigger names, where known); False when only the whole tree can tell, and what was
        recorded is not the answer.

        A tree that is not `whole` lacks statements (loading_part): the calls of a loader
        renamed on import may lie in them, and a module constant may be bound there too (the
        reader was then given `constant_holds`, and a load that takes a constant it doubts
        cannot be read from this tree). With `every_line`, calls on any line are read (the
        names may be written in characters that NFKC turns into them)."""
        if every_line:
            lines = list(range(1, source.count("\n") + source.count("\r") + 2))
        else:
            lines = _lines_at(source, _trigger_positions(source) if naming is None else naming)
        nodes = _nodes_on(tree, lines)
        self.aliases = {**self.shared_aliases, **_aliases(nodes)}
        if self.aliases and not whole:
            return False
        if self.aliases and not every_line:  # the lines that name an alias are walked too
            nodes += _nodes_on(tree, _lines_naming(source, _name_pattern(self.aliases)))
        calls = {id(n): n for n in nodes if isinstance(n, ast.Call)}.values()
        for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
            self._record(call)
        return all(self.held.values())

    def _loader(self, func: ast.expr) -> tuple[str, Loader] | None:
        if isinstance(func, ast.Attribute):
            if func.attr == "from_pretrained":
                return "from_pretrained", FROM_PRETRAINED
            name = func.attr
        elif isinstance(func, ast.Name):
            name = self.aliases.get(func.id, func.id)
        else:
            return None
        return (name, FUNCTIONS[name]) if name in FUNCTIONS else None

    def _resolve(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            if self.constant_holds is not None and node.id not in self.held:
                self.held[node.id] = self.constant_holds(node.id)
            return self.constants.get(node.id)
        return None  # f-strings, calls, attributes, parameters: not knowable without running it

    @staticmethod
    def _argument(call: ast.Call, loader: Loader) -> tuple[ast.expr, str] | None:
        for keyword in call.keywords:
            if keyword.arg in loader.keywords:
                return keyword.value, f"{keyword.arg}="
        positional = [a for a in call.args if not isinstance(a, ast.Starred)]
        if loader.position is not None and len(positional) > loader.position:
            return positional[loader.position], ""
        return None

    @staticmethod
    def _kind(call: ast.Call, loader: Loader) -> str:
        for keyword in call.keywords:
            if keyword.arg == "repo_type" and isinstance(keyword.value, ast.Constant):
                return "dataset" if keyword.value.value == "dataset" else loader.kind
        return loader.kind

    def _record(self, call: ast.Call) -> None:
        found = self._loader(call.func)
        if found is None:
            return
        name, loader = found
        argument = self._argument(call, loader)
        if argument is None:
            return  # e.g. pipeline("text-generation"): the library's default model, not ours to judge
        expr, keyword = argument
        if isinstance(expr, ast.Constant) and expr.value is None:
            return
        value = self._resolve(expr)
        self.recorder.value(
            value,
            kind=self._kind(call, loader),
            line=call.lineno,
            how=f"{name}({keyword})",
            expression=_source_of(expr) if value is None else None,
        )


def _source_of(expr: ast.expr) -> str:
    """How an unresolved value is shown: its source, as unparsed, cut to 200 characters."""
    return expr.id if isinstance(expr, ast.Name) else ast.unparse(expr)[:200]


def _parse(source: str, recorder: Recorder) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        recorder.result.unreadable.append((recorder.path, f"not valid Python: {exc}"))
        return None


def _read(
    tree: ast.Module,
    source: str,
    reader: _CallReader,
    *,
    whole: bool = True,
    naming: list[int] | None = None,
    every_line: bool = False,
) -> bool:
    try:
        return reader.read(tree, source, whole=whole, naming=naming, every_line=every_line)
    except RecursionError:
        reader.recorder.result.unreadable.append(
            (reader.recorder.path, "nested too deeply to read")
        )
        return True


# Where a top-level statement may start: column 0 of a line, at a character a statement can
# begin with (a form feed or any non-ASCII character counts: Python allows them there). A start
# it misses leaves that statement joined to the one above it; a false one, inside brackets, is
# caught after parsing (_spans_a_cut, _PartBindings).
_START_CHARACTER = r"(?:[^\W\d]|[@\"'(\[{\x0c\\]|[^\x00-\x7f])"
# The end of a keyword, as Python reads words: re's \b is not (def followed by a combining accent
# is a name); any non-ASCII character after one is taken for part of a name.
_WORD_END = r"(?![0-9A-Za-z_]|[^\x00-\x7f])"
# The clauses that go on a compound statement at column 0: part of the statement above.
_CLAUSE = r"(?:elif|else|except|finally)" + _WORD_END
# Top-level statements that neither load anything nor bind a module constant unless a loader's
# name is written in them: definitions, decorators, imports, compound statements (what their
# blocks bind is not at module level for _module_constants), statements that bind nothing, and
# expressions that open with a string (docstrings). A start's kind is the keyword or character.
_DEFINITIONS = (
    "def|class|async|import|from|if|for|while|with|try|assert|raise|del|pass|global|nonlocal"
)
_KIND = r"((?:" + _DEFINITIONS + r")" + _WORD_END + r"|[@\"'])?"
# What goes on after a decorator: another decorator, or the definition it decorates.
_DECORATED = frozenset({"def", "class", "async", "@"})
# Strings and comments, matched whole so that nothing inside one is taken for a statement's
# start. An unterminated string runs to the end of its line (one quote) or of the file (three).
# A backslash escapes the character after it, or a CR LF line break whole.
_STRING_OR_COMMENT = (
    r"#[^\r\n]*"
    r'|"""[^"\\]*(?:(?:\\(?:\r\n|[\s\S])|"(?!""))[^"\\]*)*(?:"""|\Z)'
    r"|'''[^'\\]*(?:(?:\\(?:\r\n|[\s\S])|'(?!''))[^'\\]*)*(?:'''|\Z)"
    r'|"[^"\\\r\n]*(?:\\(?:\r\n|[\s\S])[^"\\\r\n]*)*"?'
    r"|'[^'\\\r\n]*(?:\\(?:\r\n|[\s\S])[^'\\\r\n]*)*'?"
)
# A start, with its kind captured: the lookahead _TO_NEXT_START ends at, and _FIRST_STATEMENT is.
_START = r"(?=" + _START_CHARACTER + r")(?=" + _KIND + r")"
# From one place to the next statement start or semicolon: code, strings and comments are
# consumed inside the regex, possessively (no backtracking), so Python sees only the starts. A
# backslash in code escapes the line break after it (one that ends a comment escapes nothing).
_TO_NEXT_START = re.compile(
    r"(?:[^\n\"'#;\\]++"
    r"|\n(?!" + _START_CHARACTER + r")|\n(?=" + _CLAUSE + r")"
    r"|\\(?:\r\n|[\s\S])"
    r"|(?:" + _STRING_OR_COMMENT.replace("*", "*+") + r")"
    r")*+"
    r"(?:\n" + _START + r"|;)"
)
_FIRST_STATEMENT = re.compile(_START)


def _statement_starts(source: str) -> tuple[list[int], list[str | None], list[int]]:
    """Where top-level statements may start, the kind of each (_KIND: None for one of another
    kind), and where semicolons outside strings and comments stand (each may end one
    statement and start another)."""
    starts: list[int] = []
    kinds: list[str | None] = []
    semicolons: list[int] = []
    first = _FIRST_STATEMENT.match(source)
    if first is not None:
        starts.append(0)
        kinds.append(first.group(1))
    joined = kinds == ["@"]  # a decorator and the definition under it are one statement
    position = 0
    while (match := _TO_NEXT_START.match(source, position)) is not None:
        position = match.end()
        if source[position - 1] == ";":
            semicolons.append(position - 1)
            continue
        kind = match.group(1)
        # What follows a decorator is part of its statement only if it carries the definition
        # on (a line that opens with @ at column 0 may be the matrix operator inside brackets).
        if not (joined and kind in _DECORATED):
            starts.append(position)
            kinds.append(kind)
        joined = kind == "@"
    return starts, kinds, semicolons


def loading_part(source: str, naming: list[int] | None = None) -> str | None:
    """The source with each top-level statement that cannot matter replaced by its line breaks,
    so that line numbers stay; None when nothing is left out.

    The reader looks only at calls on lines that name a loader (_CallReader.read), at `from`
    imports that rename a loader, and at module constants: names bound by module-level
    assignments to a string (_module_constants). A statement that names no loader can matter
    only as such an assignment, and so it is left out when it is of one of _DEFINITIONS' kinds
    (they bind nothing at module level that _module_constants reads), or when it holds no quote
    (it binds no string). One of the latter may still bind a constant's name to something else,
    which makes it unknowable: a load that takes a constant whose name they hold is read from
    the whole tree (_PartBindings). An import that names a loader is left out too unless it
    renames one (`as`).

    Most of a module is its functions and classes, so the parser builds a small part of its
    tree. Cut at a wrong place (a line at column 0 inside brackets, say), what is left does not
    parse, or parses to a statement that runs into a left-out line (_spans_a_cut), or keeps a
    line inside brackets that parses alone: a load that takes a constant such a line binds is
    read from the whole tree too (_PartBindings). In all these cases the caller parses the whole
    source instead. A kept statement of _DEFINITIONS' kinds (a class with one loading method,
    say) is cut inside too (_cut_inside): each definition in its body that names no loader
    becomes `pass`.
    """
    cut = _cut(source, naming)
    return None if cut is None else cut.part


class _Kept(NamedTuple):
    """A statement loading_part keeps."""

    line: int  # its (1-based) first line
    start: int  # where it starts in the source
    outside: int  # where the last statement before it that cannot stand inside brackets starts
    in_brackets: bool  # whether more brackets open than close in source[outside:start]


class _Cut(NamedTuple):
    part: str  # loading_part
    left_out: list[int]  # the (1-based) first line of each run of lines left out
    bindings: str  # the left-out statements that may bind a module-level name, one a line
    kept: list[_Kept]


# Imports, how a `from` import opens, and the keyword an import renames with.
_IMPORTS = frozenset({"import", "from"})
_FROM_IMPORT = re.compile(r"from[ \t\x0c]+[\w.]+[ \t\x0c]+import(?!\w)")
_AS = re.compile(r"\bas\b")
_COMMENT = re.compile(r"#[^\r\n]*")
# Statements that cannot go on inside brackets: a column-0 line that opens with one of these
# starts a statement outside any brackets (in a source that parses).
_NEVER_IN_BRACKETS = frozenset(
    {"def", "class", "import", "while", "with", "try", "assert", "raise", "del", "pass"}
    | {"global", "nonlocal"}
)


def _cut(source: str, naming: list[int] | None = None) -> _Cut | None:
    """loading_part, with what the reader needs to know of what it left out."""
    if "\r" in source and source.count("\r") != source.count("\r\n"):
        return None  # a lone carriage return ends a line for Python, not for _statement_starts
    starts, kinds, semicolons = _statement_starts(source)
    if not starts:
        return None
    if naming is None:
        naming = _trigger_positions(source)
    starts.append(len(source))
    pieces = [source[: starts[0]]]
    left_out: list[int] = []
    bindings: list[str] = []
    kept: list[_Kept] = []
    cut_inside = False
    line, counted = 1, 0  # the line `counted` is on
    # Brackets open in source[outside:balanced], counted from one kept statement to the next
    # (each piece opens at a statement's start, outside any string), so that each character
    # is counted once.
    outside = balanced = depth = 0
    for kind, (start, end) in zip(kinds, itertools.pairwise(starts), strict=True):
        line += source.count("\n", counted, start)
        counted = start
        if kind in _NEVER_IN_BRACKETS:
            outside = balanced = start
            depth = 0
        index = bisect_left(naming, start)
        names_a_loader = index < len(naming) and naming[index] < end
        # A semicolon may end the statement and start another, which could bind a constant.
        index = bisect_left(semicolons, start) if semicolons else 0
        separated = index < len(semicolons) and semicolons[index] < end
        if names_a_loader:
            # An import binds a loader's name only where it renames one (_aliases).
            keep = separated or kind not in _IMPORTS or not _plain_import(source, start, end)
        elif separated or kind is None:
            # No statement without a quote binds a string.
            keep = source.find('"', start, end) >= 0 or source.find("'", start, end) >= 0
            if not keep:
                bindings.append(source[start:end])
        else:
            keep = False
        if keep:
            depth += _bracket_balance(source, balanced, start)
            balanced = start
            # A loader's name on a column-0 line inside brackets: the cut may split its call
            # (`pipeline` from the `(model=M)` on the line below it), so nothing is cut.
            if names_a_loader and depth:
                return None
            # A semicolon may join a module-level statement to its last line: not cut inside.
            inside = names_a_loader and not separated
            inner = _cut_inside(source, start, end, naming) if inside else None
            pieces.append(source[start:end] if inner is None else inner)
            cut_inside = cut_inside or inner is not None
            kept.append(_Kept(line, start, outside, depth != 0))
            continue
        pieces.append("\n" * source.count("\n", start, end))
        if not left_out or left_out[-1] != line:
            left_out.append(line)
    if not (left_out or cut_inside):
        return None
    return _Cut("".join(pieces), left_out, "\n".join(bindings), kept)


class _PartBindings:
    """Whether the tree of loading_part binds a module constant's name as the whole source's
    tree does: no statement left out binds it, and each statement of the part that binds it is
    one of the source's own, not a column-0 line inside brackets that the cut took for a
    statement's start (such a line parses alone when the lines around it, which open and close
    the brackets, were left out: `f(`, `M = "org/m"` and `if ready else N)`)."""

    def __init__(self, source: str, tree: ast.Module, cut: _Cut) -> None:
        self.source = source
        self.tree = tree
        self.cut = cut
        self.lines: dict[str, list[int]] | None = None  # where the part binds each name
        self.left_out_names: frozenset[str] | None = None  # the ASCII names left-out lines hold

    def hold(self, name: str) -> bool:
        if self._named_left_out(name):
            return False
        if self.lines is None:
            self.lines = {}
            for statement in self.tree.body:
                for bound, _ in _names_bound(statement):
                    self.lines.setdefault(bound, []).append(statement.lineno)
        kept = self.cut.kept
        for line in self.lines.get(name, ()):
            # The kept statement the binding is in: the last that starts on or above its line
            # (none: it is in what comes before the first start, kept as it stands).
            index = bisect_right(kept, (line, len(self.source))) - 1
            if index >= 0 and kept[index].in_brackets:
                return False
        return True

    def _named_left_out(self, name: str) -> bool:
        """_names(self.cut.bindings, name), each left-out line read once for all the names
        asked about: an ASCII name stands on its own exactly where it is a whole run of
        ASCII name characters."""
        if not name.isascii():
            return _names(self.cut.bindings, name)
        if self.left_out_names is None:
            self.left_out_names = frozenset(_ASCII_NAME_RUN.findall(self.cut.bindings))
        return name in self.left_out_names


_ASCII_NAME_RUN = re.compile(r"[A-Za-z0-9_]+")
_STRINGS_AND_COMMENTS = re.compile(_STRING_OR_COMMENT)


def _bracket_balance(source: str, begin: int, end: int) -> int:
    """How many more brackets open than close in source[begin:end] (from a statement's start,
    outside any string)."""
    code = source[begin:end]
    if "#" in code or '"' in code or "'" in code:
        code = _STRINGS_AND_COMMENTS.sub("", code)
    return sum(map(code.count, "([{")) - sum(map(code.count, ")]}"))


def _plain_import(source: str, start: int, end: int) -> bool:
    """Whether source[start:end], which opens with `import` or `from`, is one import on one line
    that renames nothing. A column-0 line after it that is no statement's start for the cut
    (`-pipeline(...)`) would be part of it, and `from` also opens the operand of `yield from`
    on a column-0 line inside brackets."""
    code = source[start:end]
    if "#" in code:
        code = _COMMENT.sub("", code)
    code = code.rstrip()
    if "\n" in code or _AS.search(code) or code.count("(") != code.count(")"):
        return False  # more lines (no lone CR reaches the cut), a renaming, or open brackets
    return code.startswith("import") or _FROM_IMPORT.match(code) is not None


def _continued(source: str, line_feed: int, comment_end: int) -> bool:
    """Whether the line feed at `line_feed` (or the CR LF it ends) follows a backslash that
    continues the line: one that ends a comment (`comment_end`: where the last comment or string
    ended) continues nothing."""
    before = line_feed - 1 if source.startswith("\r", line_feed - 1) else line_feed
    return source.startswith("\\", before - 1) and comment_end != before


# Inside a kept statement: the lines that open a definition or a decorator, with their indent
# (strings and comments matched whole, as for _TO_NEXT_START).
_INNER_DEFINITION = re.compile(
    r"\n([ \t]++)(?=async[ \t]|def[ \t]|class[ \t]|@)|" + _STRING_OR_COMMENT
)
# A kept statement shorter than this is kept whole: looking inside it costs what it saves.
_INNER_FROM = 1000


def _cut_inside(source: str, start: int, end: int, naming: list[int]) -> str | None:
    """The kept statement source[start:end] with each definition in its body that names no
    loader replaced by `pass` and its line breaks; None when nothing is left out.

    The body is cut at the lines that open a definition (or a decorator) at the indent of the
    first such line: each range runs from one to the next, or to the statement's end, and a
    range that names no loader holds no call the reader looks at, nor a module constant (it is
    not at module level). A range may take in lines of a shallower indent (an `else:` of the
    block the first definition is in): still nothing the reader looks at, and the rest parses
    without them. What is left is the source's own text around `pass` statements, and `pass` is
    a statement or nothing: a range that opens or closes inside brackets (a line that opens
    with the matrix operator @) leaves a source that does not parse, and the caller parses the
    whole source instead.
    """
    if end - start < _INNER_FROM:
        return None
    opens: list[tuple[int, str]] = []  # (where a line starts, its indent)
    comment_end = -1  # where the last comment or string ended
    for match in _INNER_DEFINITION.finditer(source, start, end):
        at = match.start()
        if source[at] != "\n":
            comment_end = match.end()
            continue
        if _continued(source, at, comment_end):
            continue
        opens.append((at + 1, match.group(1)))
    if not opens:
        return None
    indent = opens[0][1]
    range_starts = []
    decorated = False  # a decorator and what it decorates are one range
    for line_start, line_indent in opens:
        if line_indent != indent:
            continue
        if not decorated:
            range_starts.append(line_start)
        decorated = source.startswith("@", line_start + len(indent))
    range_starts.append(end)
    pieces = [source[start : range_starts[0]]]
    cut = False
    for begin, finish in itertools.pairwise(range_starts):
        index = bisect_left(naming, begin)
        if index < len(naming) and naming[index] < finish:
            pieces.append(source[begin:finish])
            continue
        pieces.append(indent + "pass" + "\n" * source.count("\n", begin, finish))
        cut = True
    return "".join(pieces) if cut else None


def _spans_a_cut(tree: ast.Module, left_out: list[int]) -> bool:
    """Whether a statement of the cut source runs into a line that was left out: then a cut was
    made inside it (a column-0 line inside brackets), and the tree is not the source's."""
    for statement in tree.body:
        index = bisect_right(left_out, statement.lineno)
        if index < len(left_out) and left_out[index] <= (statement.end_lineno or statement.lineno):
            return True
    return False


def scan_python(data: bytes, path: str, result: ScanResult) -> None:
    """Record the loads in one Python file."""
    if not may_load(data):
        return
    read_python(_decoded(data), path, result)


def read_python(source: str, path: str, result: ScanResult, *, whole: bool = False) -> None:
    """Record the loads in Python source, parsed whatever may_load says of it.

    Unless `whole` is asked for, only the statements that can matter are parsed (loading_part),
    and the whole source when they do not parse alone or an import renames a loader. So a syntax
    error inside a function that names no loader goes unreported, as in a file that names none.
    """
    recorder = Recorder(result, path)
    every_line = changed_by_nfkc(source)
    if not (whole or every_line) and _read_loading_part(source, recorder):
        return
    tree = _parse(source, recorder)
    if tree is not None:
        reader = _CallReader(_module_constants(tree), recorder)
        _read(tree, source, reader, every_line=every_line)


def _read_loading_part(source: str, recorder: Recorder) -> bool:
    """Whether the loads could be read from loading_part alone (and were)."""
    naming = _trigger_positions(source)
    cut = _cut(source, naming)
    if cut is None:
        return False
    try:
        tree = ast.parse(cut.part)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False  # cut at a wrong place, or a part the whole parse will report
    if _spans_a_cut(tree, cut.left_out):
        return False
    holds = _PartBindings(source, tree, cut).hold
    reader = _CallReader(_module_constants(tree), recorder, None, holds)
    result = recorder.result
    recorded = len(result.findings), len(result.skipped), len(result.unreadable)
    if _read(tree, source, reader, whole=False, naming=naming):
        return True
    # What the part showed is not the answer: the whole tree is read instead.
    del result.findings[recorded[0] :], result.skipped[recorded[1] :]
    del result.unreadable[recorded[2] :]
    return False


def _cell_source(cell: dict[str, object]) -> str:
    source = cell.get("source", "")
    text = "".join(s for s in source if isinstance(s, str)) if isinstance(source, list) else source
    if not isinstance(text, str):
        return ""
    # IPython magics and shell escapes are not Python; blank them and keep the line numbers
    # (lines as Python ends them: not at the form feeds or U+2028 that str.splitlines cuts at).
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in _NEWLINE.split(text)
    )


def scan_notebook(data: bytes, path: str, result: ScanResult) -> None:
    """Record the loads in a Jupyter notebook's code cells (a cell is numbered from 1)."""
    try:
        notebook = json.loads(data)
        cells = notebook.get("cells", []) if isinstance(notebook, dict) else None
    except (ValueError, UnicodeDecodeError) as exc:
        result.unreadable.append((path, f"not a notebook: {exc}"))
        return
    if not isinstance(cells, list):
        why = '"cells" is not a list' if isinstance(notebook, dict) else "not a JSON object"
        result.unreadable.append((path, f"not a notebook: {why}"))
        return
    code_cells = [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"]
    parsed = []
    for number, cell in enumerate(code_cells, start=1):
        recorder = Recorder(result, path, cell=number)
        source = _cell_source(cell)
        tree = _parse(source, recorder)
        if tree is not None:
            parsed.append((source, tree, recorder))
    # The cells share one namespace: a constant set, or a loader imported under another name, in
    # one cell is what a later cell loads with.
    whole = ast.Module(body=[node for _, tree, _ in parsed for node in tree.body], type_ignores=[])
    constants = _module_constants(whole)
    aliases = _aliases(node for node in ast.walk(whole) if isinstance(node, ast.ImportFrom))
    for source, tree, recorder in parsed:
        reader = _CallReader(constants, recorder, aliases)
        _read(tree, source, reader, every_line=changed_by_nfkc(source))
