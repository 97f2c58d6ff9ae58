"""The converted-model cache: keyed by repo, revision and quantization; crash-safe writes; LRU eviction."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

TMP_PREFIX = ".tmp-"
LAST_USED = ".last_used"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


class ModelCache:
    """Converted models under `root`, at most `max_bytes` in all (least recently used go first)."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        self.pinned: set[str] = set()  # keys of models loaded right now: never evicted
        root.mkdir(parents=True, exist_ok=True)
        self._remove_partial_writes()

    @staticmethod
    def key(repo_id: str, revision: str, quantization: str) -> str:
        return f"{repo_id.replace('/', '--')}--{revision[:16]}--{quantization}"

    def _remove_partial_writes(self) -> None:
        """A conversion that crashed leaves only a temporary folder; it is never taken for a model.

        The cache may be shared by several processes and machines, so only folders of processes
        of this machine that are gone are removed: another worker's conversion keeps its folder.
        """
        for leftover in self.root.glob(f"{TMP_PREFIX}*"):
            host, _, pid = leftover.name[len(TMP_PREFIX) :].rpartition("-")[0].rpartition("-")
            if host == socket.gethostname() and pid.isdigit() and _alive(int(pid)):
                continue
            if host != socket.gethostname() and "-" in leftover.name[len(TMP_PREFIX) :]:
                continue  # another machine's conversion, running or not: its machine cleans it
            shutil.rmtree(leftover, ignore_errors=True)

    def get(self, key: str) -> Path | None:
        path = self.root / key
        if not (path / "model.bin").is_file():
            return None
        (path / LAST_USED).touch()
        return path

    def put(self, key: str, build: Callable[[Path], None]) -> Path:
        """Build into a temporary folder, then rename it into place: readers never see half a model."""
        final = self.root / key
        owner = f"{socket.gethostname()}-{os.getpid()}"
        temporary = self.root / f"{TMP_PREFIX}{owner}-{uuid.uuid4().hex}"
        temporary.mkdir()
        try:
            build(temporary)
            (temporary / LAST_USED).touch()
            with self.lock:
                if final.exists():  # another build won the race; keep theirs
                    shutil.rmtree(temporary)
                else:
                    temporary.rename(final)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        self.evict(keep=key)
        return final

    def entries(self) -> list[tuple[float, str, int]]:
        found = []
        for path in self.root.iterdir():
            if path.is_dir() and not path.name.startswith(TMP_PREFIX):
                marker = path / LAST_USED
                used = marker.stat().st_mtime if marker.exists() else path.stat().st_mtime
                found.append((used, path.name, directory_size(path)))
        return sorted(found)

    def evict(self, keep: str | None = None) -> list[str]:
        """Remove least recently used models until the cache fits its limit."""
        removed = []
        with self.lock:
            entries = self.entries()
            total = sum(size for _, _, size in entries)
            for _used, key, size in entries:
                if total <= self.max_bytes:
                    break
                if key == keep or key in self.pinned:
                    continue
                shutil.rmtree(self.root / key, ignore_errors=True)
                total -= size
                removed.append(key)
        return removed


def cache_problem(root: Path) -> str | None:
    """Why converted models cannot be written under `root`, or None when they can."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"the demo cache {root} cannot be created: {exc.strerror or exc}"
    if not os.access(root, os.W_OK | os.X_OK):
        return f"the demo cache {root} is not writable by this process"
    return None
