"""What earlier scans found in each file, so a repeated scan (a pre-commit hook) reads only what changed.

An entry is keyed by the file's path and the path it is shown under, and holds its size and
modification time in nanoseconds; a file whose size or time differs is read again. The cache also
records a digest of the scanner's own source, so a new scanner never reuses an old one's answers.
A cache file that cannot be read is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from ingest.scan import Finding, ScanResult, Skipped, cycle_collector_paused


@cache
def scanner_digest() -> str:
    """A digest of the scanner's modules, found without importing them (the config reader loads
    a YAML parser a tree may not need)."""
    modules = ("scan", "scan_python", "scan_config", "scan_grep", "scan_nfkc")
    specs = (importlib.util.find_spec(f"ingest.{name}") for name in modules)
    sources = (Path(spec.origin).read_bytes() for spec in specs if spec and spec.origin)
    return hashlib.sha256(b"\0".join(sources)).hexdigest()


def _encode(part: ScanResult) -> dict[str, Any]:
    return {
        "findings": [[f.repo_id, f.kind, f.line, f.how, f.cell] for f in part.findings],
        "skipped": [[s.reason, s.line, s.how, s.value, s.cell] for s in part.skipped],
        "unreadable": [why for _, why in part.unreadable],
        "files": part.files,
    }


def _decode(entry: dict[str, Any], shown: str) -> ScanResult:
    if not (entry["findings"] or entry["skipped"] or entry["unreadable"]):
        return ScanResult(files=entry["files"])  # most files: nothing to rebuild
    return ScanResult(
        findings=[
            Finding(r, k, shown, line, how, cell) for r, k, line, how, cell in entry["findings"]
        ],
        skipped=[
            Skipped(r, shown, line, how, v, cell) for r, line, how, v, cell in entry["skipped"]
        ],
        unreadable=[(shown, why) for why in entry["unreadable"]],
        files=entry["files"],
    )


class ScanCache:
    """Per-file scan results in one JSON file; `save()` writes it back atomically."""

    def __init__(self, path: str | Path) -> None:
        self.path = os.path.abspath(path)
        self.entries: dict[str, list[Any]] = {}
        # The stamp get() saw for a file it had no answer for: put() files the answer under it,
        # so a file changed while it was being read is read again by the next scan.
        self._stamps: dict[str, list[int] | None] = {}
        self.changed = False
        try:
            if not os.path.isfile(self.path):  # none yet (or a FIFO, which would block)
                return
            with open(self.path, encoding="utf-8") as handle, cycle_collector_paused():
                stored = json.load(handle)
            if stored.get("scanner") == scanner_digest() and isinstance(stored["files"], dict):
                self.entries = stored["files"]
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            pass  # no cache yet, or not one this scanner wrote: start afresh

    @staticmethod
    def _key(path: str, shown: str) -> str:
        absolute = path if os.path.isabs(path) else os.path.abspath(path)
        return f"{absolute}\0{shown}"

    @staticmethod
    def _stamp(path: str) -> list[int] | None:
        try:
            status = os.stat(path)
        except OSError:
            return None
        return [status.st_size, status.st_mtime_ns]

    def get(self, path: str, shown: str) -> ScanResult | None:
        key = self._key(path, shown)
        entry = self.entries.get(key)
        stamp = self._stamp(path)
        if entry is not None and stamp is not None and entry[0] == stamp:
            try:
                return _decode(entry[1], shown)
            except (KeyError, TypeError, ValueError):
                pass
        self._stamps[key] = stamp
        return None

    def put(self, path: str, shown: str, part: ScanResult) -> None:
        key = self._key(path, shown)
        stamp = self._stamps[key] if key in self._stamps else self._stamp(path)
        if stamp is not None:
            self.entries[key] = [stamp, _encode(part)]
            self.changed = True

    def save(self) -> None:
        """Write the entries back, unless this scan found every file as the cache knew it."""
        self._stamps.clear()  # a later scan with this cache takes its own stamps
        if not self.changed:
            return
        folder = os.path.dirname(self.path)
        os.makedirs(folder, exist_ok=True)
        document = {"scanner": scanner_digest(), "files": self.entries}
        # json.dumps, not json.dump: only the former uses the C encoder.
        text = json.dumps(document, separators=(",", ":"))
        with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, encoding="utf-8") as out:
            out.write(text)
        os.replace(out.name, self.path)
