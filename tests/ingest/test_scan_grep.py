"""The grep prefilter: grep lists exactly the files may_load would parse, and vouches for nothing it
could not read; a scan finds the same with it, without it, and without a GNU grep at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import scan_grep
from ingest.scan import scan_paths
from ingest.scan_nfkc import may_spell_a_name
from ingest.scan_python import TRIGGERS, may_load

needs_grep = pytest.mark.skipif(scan_grep._grep() is None, reason="no GNU grep on this machine")


@needs_grep
def test_grep_lists_the_files_whose_bytes_name_a_loader(tmp_path: Path) -> None:
    contents = {
        "code.py": b'AutoModel.from_pretrained("org/m")\n',
        "comment.py": b"# pipeline( in a comment: the parser will say it loads nothing\n",
        "plain.py": b"x = 1\n",
        "latin1.py": "# -*- coding: latin-1 -*-\nnom = 'é'\nload_dataset('o/d')\n".encode(
            "latin-1"
        ),
        "nul.py": b"\x00\x00snapshot_download\x00",
        "split.py": b"from_pre\ntrained\n",  # not one name: no line holds it
        "crlf.py": b"x = 1\r\nhf_hub_download(repo_id='o/m')\r\n",
        "-dash.py": b"CrossEncoder('o/m')",
        "sp ace.py": b"SentenceTransformer('o/m')",
        "new\nline.py": b"pipeline(model='o/m')",
        os.fsdecode(b"\xff\xfe.py"): b"from_pretrained",
        "empty.py": b"",
        "accents.py": "# Café, “quotes”, — and 中文: NFKC keeps them as they are\n".encode(),
        "fullwidth.py": "\uff50ipeline(model='o/m')\n".encode(),  # pipeline, as Python reads it
        "ligature.py": "x = 1  # \ufb01le\n".encode(),  # fi: a letter NFKC makes, loads nothing
    }
    paths = []
    for name, data in contents.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    listed = scan_grep.files_naming(paths, TRIGGERS)
    expected = {str(tmp_path / n) for n, data in contents.items() if may_load(data)}
    # What may_load parses, and a file whose "fi" only NFKC can tell loads nothing.
    assert listed == expected | {str(tmp_path / "ligature.py")}
    assert {Path(p).name for p in expected} >= {"comment.py", "nul.py", "new\nline.py"}
    assert {"fullwidth.py", "latin1.py"} <= {Path(p).name for p in expected}
    assert "accents.py" not in {Path(p).name for p in listed}


@needs_grep
def test_a_batch_in_which_grep_met_an_error_vouches_for_none_of_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_grep, "_BATCH_BYTES", 200)  # a few names a batch, so several batches
    paths = []
    for n in range(40):
        (tmp_path / f"m{n:02}.py").write_text("from_pretrained\n" if n % 10 == 0 else "x = 1\n")
        paths.append(str(tmp_path / f"m{n:02}.py"))
    gone = str(tmp_path / "gone.py")  # listed, then removed before grep reads it
    paths.insert(25, gone)
    listed = scan_grep.files_naming(paths, TRIGGERS)
    assert listed is not None
    batch = next(
        b for b in scan_grep._batches([os.fsencode(p) for p in paths]) if gone.encode() in b
    )
    assert len(batch) > 1
    assert listed == {p for p in paths if p.endswith(("0.py",))} | {os.fsdecode(p) for p in batch}
    assert "-" not in listed  # nothing was read from standard input


@needs_grep
@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.one_of(
                st.sampled_from(
                    [*TRIGGERS, b"from_pretrain", b"pipe", b"line", b"\n", b"\r", b"\x00"]
                    # characters NFKC turns into letters (UTF-8, Latin-1), and others
                    + [c.encode() for c in "\uff50\ufb01\u212a\U0001d429\u2170\u00e9\u201c\u4e2d"]
                    + [b"\xaa", b"\xba", b"\xe9"]
                ),
                st.binary(max_size=12),
            ),
            max_size=8,
        ).map(b"".join),
        min_size=1,
        max_size=12,
    )
)
def test_grep_and_may_load_agree_on_any_bytes(
    tmp_path_factory: pytest.TempPathFactory, files: list[bytes]
) -> None:
    folder = tmp_path_factory.mktemp("bytes")
    paths = []
    for n, data in enumerate(files):
        (folder / f"f{n}.py").write_bytes(data)
        paths.append(str(folder / f"f{n}.py"))
    listed = scan_grep.files_naming(paths, TRIGGERS)
    # A name, or a character NFKC turns into a letter (may_load asks NFKC of those files), as
    # Python's re finds them: never fewer than may_load.
    named = {p for p, data in zip(paths, files, strict=True) if any(t in data for t in TRIGGERS)}
    other = {p for p, data in zip(paths, files, strict=True) if may_spell_a_name(data)}
    assert listed == named | other
    assert listed >= {p for p, data in zip(paths, files, strict=True) if may_load(data)}


def _mixed_tree(root: Path, count: int) -> None:
    """`count` Python files of every kind a scan meets, and a notebook and a config."""
    kinds = [
        'from transformers import AutoModel\nAutoModel.from_pretrained("org/m{n}")\n',
        "def helper_{n}():\n    return {n}\n",
        "# load_dataset in a comment only\nx = {n}\n",
        'from transformers import pipeline as make\nmake(model="org/alias{n}")\n',
        "def broken_{n}(:\n    pipeline(model='org/b')\n",  # names a loader, does not parse
        'REPO = "org/c{n}"\nsnapshot_download(REPO)\n',
    ]
    for n in range(count):
        folder = root / f"pkg{n // 200}"
        folder.mkdir(exist_ok=True)
        (folder / f"m{n}.py").write_text(kinds[n % len(kinds)].format(n=n))
    (root / "nb.ipynb").write_text(
        '{"cells": [{"cell_type": "code", "source": ["pipeline(model=\\"org/nb\\")"]}]}'
    )
    (root / "train.yaml").write_text("base_model: org/base\n")


def _answer(result: object) -> tuple[object, ...]:
    return (result.findings, result.skipped, result.unreadable, result.files)  # type: ignore[attr-defined]


def test_a_scan_finds_the_same_with_grep_without_it_and_without_gnu_grep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _mixed_tree(tmp_path, scan_grep.GREP_FROM + 200)
    large = "x = 1\n" * (1024 * 1024)  # over 5 MB: what is in it decides
    (tmp_path / "large_plain.py").write_text(large)
    (tmp_path / "large_loading.py").write_text(large + "pipeline(model='org/late')\n")
    read_by_python = scan_paths([tmp_path], grep=False)
    assert len(read_by_python.findings) > 200
    assert [Path(p).name for p, _ in read_by_python.unreadable if "5 MB" in _] == [
        "large_loading.py"
    ]
    assert sum("not valid Python" in why for _, why in read_by_python.unreadable) > 100
    assert _answer(scan_paths([tmp_path])) == _answer(read_by_python)
    assert _answer(scan_paths([tmp_path], jobs=2)) == _answer(read_by_python)

    asked = []
    real = scan_grep.files_naming
    monkeypatch.setattr(
        "ingest.scan.files_naming", lambda *a, **k: asked.append(1) or real(*a, **k)
    )
    monkeypatch.setattr(scan_grep, "_grep", lambda: None)  # Windows, macOS: no GNU grep
    assert _answer(scan_paths([tmp_path])) == _answer(read_by_python)
    assert asked, "the scan did not ask for grep"


@needs_grep
def test_grep_is_asked_only_for_a_large_tree_and_reads_what_it_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []
    real = scan_grep.files_naming

    def counting(paths: list[str], *args: object, **kwargs: object) -> set[str] | None:
        asked.append(len(paths))
        return real(paths, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("ingest.scan.files_naming", counting)
    _mixed_tree(tmp_path, 50)
    scan_paths([tmp_path])
    assert asked == []  # a small tree: starting grep costs more than it saves
    _mixed_tree(tmp_path, scan_grep.GREP_FROM)
    opened: list[str] = []
    real_read = os.open
    monkeypatch.setattr(
        os, "open", lambda path, *a, **k: opened.append(os.fspath(path)) or real_read(path, *a, **k)
    )
    result = scan_paths([tmp_path])
    assert asked == [scan_grep.GREP_FROM]
    python_opened = [p for p in opened if p.endswith(".py")]
    # Only the files naming a loader (in code or a comment) are read in Python: five kinds of six.
    assert len(python_opened) == sum(1 for n in range(scan_grep.GREP_FROM) if n % 6 != 1)
    assert result.files == scan_grep.GREP_FROM + 2


@pytest.mark.parametrize("grep", [False, True])
def test_what_is_not_a_regular_file_is_reported_the_same_on_every_path(
    tmp_path: Path, grep: bool
) -> None:
    (tmp_path / "tree").mkdir()
    _mixed_tree(tmp_path / "tree", scan_grep.GREP_FROM + 100)  # enough for grep to be asked
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    named = [tmp_path / "tree", fifo, tmp_path / "zero.py"]
    result = scan_paths(named, grep=grep)  # neither hangs
    alone = scan_paths(named, jobs=2, grep=not grep)
    assert _answer(result) == _answer(alone)
    assert [(Path(p).name, why) for p, why in result.unreadable if "regular" in why] == [
        ("pipe.py", "not a regular file"),
        ("zero.py", "not a regular file"),
    ]


def test_a_name_written_in_characters_python_reads_as_it_is_found(tmp_path: Path) -> None:
    # Python NFKC-normalises identifiers: a fullwidth first letter still calls from_pretrained.
    (tmp_path / "evade.py").write_text(
        'AutoModel.\uff46rom_pretrained("org/evade")\n\uff50ipeline(model="org/evade2")\n'
    )
    for n in range(scan_grep.GREP_FROM):
        (tmp_path / f"m{n}.py").write_text("x = 1\n")
    for grep in (False, True):
        found = scan_paths([tmp_path], grep=grep).repo_ids()
        assert found == ["org/evade", "org/evade2"], grep
