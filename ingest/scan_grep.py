"""Which of many Python files hold a loader's name, asked of GNU grep.

A scan reads every Python file but parses only those whose bytes hold a trigger name
(scan_python.may_load): on a large tree most of its time is opening and reading files that
hold none. GNU grep reads files several times faster than a loop of os.open/os.read/os.close
in Python (on the bench tree that loop alone takes as long as grep's whole run), so a large
tree's Python files are handed to grep in batches, one grep a CPU, and Python reads only the
files it lists. The question is the one may_load asks: `grep -F` in the C locale matches bytes,
and an ASCII name without a line break is in a file exactly when it is on one of its lines.

grep vouches only for what it could read: a batch in which it met any error (a file that went
away, one it may not read) is read by Python again, which reports what failed. Without GNU grep
(Windows, macOS's grep) the caller reads every file itself.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence

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


def _batches(paths: Sequence[bytes], count: int) -> list[list[bytes]]:
    """At least `count` batches of about equal size, none over _BATCH_BYTES of names."""
    total = sum(len(p) + 1 for p in paths)
    count = max(count, -(-total // _BATCH_BYTES))
    size = -(-len(paths) // count)
    return [list(paths[i : i + size]) for i in range(0, len(paths), size)]


def files_naming(paths: Sequence[str], names: Sequence[bytes], jobs: int = 1) -> set[str] | None:
    """The paths that grep did not vouch hold none of `names` and no byte over 0x7f (it found
    one, or could not tell); None when there is no GNU grep to ask, and the caller reads every
    file.
    """
    grep = _grep()
    if grep is None:
        return None
    # -d read: a folder (a file replaced by one after the walk) is an error, so its batch is read
    # by Python. Any byte over 0x7f lists the file too: Python reads identifiers NFKC-normalised,
    # so from_pretrained with a fullwidth f (U+FF46) is a loader's name no byte search finds.
    pattern = b"|".join([*names, b"[\x80-\xff]"])  # the names are plain words: nothing to escape
    command = [os.fsencode(grep), b"-l", b"-E", b"-a", b"-Z", b"-s", b"-D", b"skip", b"-d", b"read"]
    command += [b"-e", pattern, b"--"]
    # grep reads its standard input for a file named "-": Python reads that one.
    unsure = {p for p in paths if p == "-"}
    encoded = [os.fsencode(p) for p in paths if p != "-"]
    batches = _batches(encoded, max(1, jobs)) if encoded else []
    for wave in range(0, len(batches), max(1, jobs)):
        running = []
        for batch in batches[wave : wave + max(1, jobs)]:
            try:
                process = subprocess.Popen(
                    [*command, *batch],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    stdin=subprocess.DEVNULL,
                    env=_environment(),
                )
            except OSError:
                unsure.update(os.fsdecode(p) for p in batch)
                continue
            running.append((process, batch))
        for process, batch in running:
            listed, _ = process.communicate()
            # 0: some file matched, 1: none did; 2 (or a signal): an error, so nothing is vouched for.
            if process.returncode in (0, 1):
                unsure.update(os.fsdecode(p) for p in listed.split(b"\0") if p)
            else:
                unsure.update(os.fsdecode(p) for p in batch)
    return unsure
