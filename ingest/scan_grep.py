"""Which of many Python files hold a loader's name, asked of GNU grep.

A scan reads every Python file but parses only those whose bytes hold a trigger name
(scan_python.may_load): on a large tree most of its time is opening and reading files that
hold none. GNU grep reads files several times faster than a loop of os.open/os.read/os.close
in Python (on the bench tree that loop alone takes as long as grep's whole run), so each chunk
of a large tree's Python files is handed to grep (in the worker that reads the chunk), and
Python reads only the files it lists: those that hold a trigger name (`grep -E` in the C locale
matches bytes, and an ASCII name without a line break is in a file exactly when it is on one of
its lines) or the bytes of a character NFKC turns into an ASCII letter (ingest/scan_nfkc.py;
may_load asks NFKC of those files).

grep vouches only for what it could read: a batch in which it met any error (a file that went
away, a folder, one it may not read) is read by Python again, which reports what failed. Without
GNU grep (Windows, macOS's grep) the caller reads every file itself.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

from ingest import scan_nfkc

# Trees with fewer Python files than this are read in Python: starting grep costs a few
# milliseconds, about what reading this many files does.
GREP_FROM = 1000
# Bytes of file names a batch passes on grep's command line, well under any Linux ARG_MAX.
_BATCH_BYTES = 256 * 1024


@functools.cache
def _grep() -> str | None:
    """The path of a GNU grep, or None."""
    path = shutil.which("grep")
    if path is None or os.name != "posix":
        return None
    try:
        done = subprocess.run(
            [path, "--version"], capture_output=True, timeout=10, env=_environment()
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return path if done.returncode == 0 and b"GNU grep" in done.stdout else None


def _environment() -> dict[str, str]:
    # Bytes, not characters: the C locale. GREP_OPTIONS and colours must not change the output.
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("GREP_", "LC_", "LANG"))}
    return {**keep, "LC_ALL": "C"}


def _batches(paths: list[bytes]) -> list[list[bytes]]:
    """The paths in batches of at most _BATCH_BYTES of names (one, for a worker's chunk)."""
    if sum(map(len, paths)) + len(paths) <= _BATCH_BYTES:
        return [paths] if paths else []  # no batch: grep with no file would read its input
    batches: list[list[bytes]] = []
    size = _BATCH_BYTES
    for path in paths:
        if size + len(path) + 1 > _BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(path)
        size += len(path) + 1
    return batches


def files_naming(paths: Sequence[str], names: Sequence[bytes]) -> set[str] | None:
    """The paths that grep did not vouch hold none of `names` and no character NFKC turns into
    an ASCII letter (it found one, or could not tell); None when there is no GNU grep to ask,
    and the caller reads every file.
    """
    grep = _grep()
    if grep is None:
        return None
    # -d read: a folder (a file replaced by one after the walk) is an error, so its batch is read
    # by Python. A character NFKC turns into an ASCII letter lists the file too: Python reads
    # identifiers NFKC-normalised, so from_pretrained with a fullwidth f (U+FF46) is a loader's
    # name no search for its bytes finds.
    pattern = b"|".join([*names, scan_nfkc.pattern()])  # the names are plain words: no escapes
    command = [os.fsencode(grep), b"-l", b"-E", b"-a", b"-Z", b"-s", b"-D", b"skip", b"-d", b"read"]
    command += [b"-e", pattern, b"--"]
    # grep reads its standard input for a file named "-": Python reads that one.
    unsure = {p for p in paths if p == "-"}
    encoding, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
    for batch in _batches([p.encode(encoding, errors) for p in paths if p != "-"]):
        try:
            done = subprocess.run(
                [*command, *batch],
                capture_output=True,
                stdin=subprocess.DEVNULL,
                env=_environment(),
            )
        except OSError:
            unsure.update(os.fsdecode(p) for p in batch)
            continue
        # 0: some file matched, 1: none did; 2 (or a signal): an error, so nothing is vouched for.
        if done.returncode in (0, 1):
            unsure.update(os.fsdecode(p) for p in done.stdout.split(b"\0") if p)
        else:
            unsure.update(os.fsdecode(p) for p in batch)
    return unsure
