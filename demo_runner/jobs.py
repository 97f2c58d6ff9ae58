"""Demo jobs: build (download → convert → load) in a worker thread, report state and progress, limit what is loaded."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from demo_runner.cache import ModelCache
from demo_runner.convert import convert
from demo_runner.device import DeviceChoice, pick_device
from demo_runner.errors import BuildCancelled, DemoBusy, DemoError
from demo_runner.generate import LoadedModel
from demo_runner.limits import StreamLimits
from demo_runner.settings import DemoSettings
from demo_runner.sources import Source, resolve_source

log = logging.getLogger(__name__)
STATES = ("queued", "downloading", "converting", "loading", "ready", "failed", "cancelled")


@dataclass
class DemoJob:
    id: str
    model: str
    state: str = "queued"
    progress: float = 0.0
    error: str | None = None
    error_status: int | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: float | None = None  # time.monotonic() when the build failed
    device: str | None = None
    compute_type: str | None = None
    loaded: LoadedModel | None = None
    done: threading.Event = field(default_factory=threading.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)
    evicted: bool = False  # unloaded to make room: a new request builds it again

    def failed_age_s(self) -> float | None:
        if self.state != "failed" or self.finished_at is None:
            return None
        return time.monotonic() - self.finished_at

    def to_dict(self) -> dict[str, Any]:
        age = self.failed_age_s()
        return {
            "id": self.id,
            "model": self.model,
            "state": self.state,
            "progress": round(self.progress, 3),
            "error": self.error,
            "failed_seconds_ago": None if age is None else round(age, 1),
            "device": self.device,
            "compute_type": self.compute_type,
            "created_at": self.created_at.isoformat(),
        }


class DemoManager:
    """Builds and holds demos; thread-safe. One per process (the API keeps it on the app).

    Builds wait for one of `max_builds` slots; deleting a job cancels its build at the next
    progress step and unloads what it loaded. A failed job answers repeated requests for its model
    until `job_ttl_s` has passed, then expires, so a client cannot make the process rebuild (or
    remember) a failing model in a loop.
    """

    def __init__(
        self,
        settings: DemoSettings,
        choice: DeviceChoice | None = None,
        resolve: Callable[..., Source] = resolve_source,
    ) -> None:
        self.settings = settings
        self.choice = choice or pick_device(
            settings.device, settings.compute_type, settings.threads
        )
        self.cache = ModelCache(
            self.settings.cache_dir / "converted", self.settings.cache_max_bytes
        )
        self.resolve = resolve
        self.jobs: dict[str, DemoJob] = {}
        self.loaded: OrderedDict[str, DemoJob] = (
            OrderedDict()
        )  # job id -> job, least recently used first
        self.lock = threading.Lock()
        self.builds: list[threading.Thread] = []
        self.build_slots = threading.BoundedSemaphore(self.settings.max_builds)
        self.sources: dict[str, tuple[float, Source]] = {}  # repo id -> (looked up at, source)
        self.streams = StreamLimits(self.settings.max_streams, self.settings.max_streams_total)

    def start(self, repo_id: str, gguf_file: Path | None = None) -> DemoJob:
        """A job for this model: the running, ready or recently failed one if any, else a new build."""
        with self.lock:
            self._expire()
            for job in self.jobs.values():
                if job.model == repo_id and not job.evicted:
                    return job
            if self._waiting_builds() >= self.settings.max_builds + self.settings.max_queued:
                raise DemoBusy(
                    f"{self.settings.max_queued} demo builds are already waiting; try again later",
                    retry_after=30,
                )
            job = DemoJob(
                id=uuid.uuid4().hex[:12],
                model=repo_id,
                device=self.choice.device,
                compute_type=self.choice.compute_type,
            )
            self.jobs[job.id] = job
            build = threading.Thread(
                target=self._build, args=(job, gguf_file), name=f"demo-{job.id}", daemon=True
            )
            self.builds = [b for b in self.builds if b.is_alive()] + [build]
        build.start()
        return job

    def _waiting_builds(self) -> int:
        return sum(1 for job in self.jobs.values() if not job.done.is_set())

    def _expire(self) -> None:
        """Forget failed jobs older than the TTL (call with the lock held)."""
        for job_id, job in list(self.jobs.items()):
            age = job.failed_age_s()
            if age is not None and age > self.settings.job_ttl_s:
                del self.jobs[job_id]

    def get(self, job_id: str) -> DemoJob | None:
        with self.lock:
            self._expire()
            return self.jobs.get(job_id)

    def ready_model(self, job_id: str) -> LoadedModel | None:
        job = self.jobs.get(job_id)
        if job is None or job.loaded is None:
            return None
        with self.lock:
            if job_id in self.loaded:
                self.loaded.move_to_end(job_id)
        return job.loaded

    def delete(self, job_id: str) -> bool:
        """Forget a job: cancel its build if it is running, unload its model if loaded."""
        with self.lock:
            job = self.jobs.pop(job_id, None)
            self.loaded.pop(job_id, None)
            if job is not None:
                job.cancelled.set()
        if job is None:
            return False
        self._unload(job)
        return True

    def wait(self, job: DemoJob, timeout: float | None = None) -> DemoJob:
        job.done.wait(timeout)
        return job

    def close(self, timeout: float = 60.0) -> None:
        """Stop every thread this manager started: cancel every build and wait for it (a download
        or a conversion stops at its next step), then unload every model, which stops its batcher."""
        for job_id in list(self.jobs):
            self.delete(job_id)
        with self.lock:
            builds = list(self.builds)
        for build in builds:
            build.join(timeout)
        with self.lock:
            self.builds.clear()

    def _unload(self, job: DemoJob) -> None:
        with self.lock:
            loaded, job.loaded = job.loaded, None
        if loaded is not None:
            self.cache.pinned.discard(loaded.path.name)
            loaded.close()

    def _progress(self, job: DemoJob) -> Callable[[str, float], None]:
        spans = {"downloading": (0.0, 0.3), "converting": (0.3, 0.85), "loading": (0.85, 1.0)}

        def report(state: str, fraction: float) -> None:
            if job.cancelled.is_set():
                raise BuildCancelled(f"the demo of {job.model} was deleted while it was built")
            low, high = spans[state]
            job.state = state
            job.progress = max(job.progress, low + (high - low) * fraction)

        return report

    def _build(self, job: DemoJob, gguf_file: Path | None) -> None:
        try:
            while not self.build_slots.acquire(timeout=0.2):
                if job.cancelled.is_set():
                    raise BuildCancelled(f"the demo of {job.model} was deleted while it waited")
            try:
                self._build_in_slot(job, gguf_file)
            finally:
                self.build_slots.release()
        except BuildCancelled as exc:
            log.info("%s", exc)
            job.state = "cancelled"
        except DemoError as exc:
            log.warning("demo build for %s failed: %s", job.model, exc)
            self._fail(job, str(exc), exc.status)
        except (
            Exception
        ) as exc:  # a bug or an unexpected library error: keep it visible, not a crash
            log.exception("demo build for %s failed", job.model)
            self._fail(job, f"{type(exc).__name__}: {exc}", 500)
        finally:
            job.done.set()

    def _fail(self, job: DemoJob, error: str, status: int) -> None:
        job.error, job.error_status = error, status
        job.finished_at = time.monotonic()
        job.state = "failed"

    def _build_in_slot(self, job: DemoJob, gguf_file: Path | None) -> None:
        report = self._progress(job)
        report("downloading", 0.0)
        source = self._source(job.model, gguf_file)
        key = ModelCache.key(source.repo_id, source.revision, self.choice.compute_type)
        path = self.cache.get(key)
        if path is None:
            report("converting", 0.0)
            path = self.cache.put(
                key,
                lambda out: convert(
                    source,
                    out,
                    quantization=self.choice.compute_type,
                    trust_remote_code=self.settings.trust_remote_code,
                    progress=report,
                ),
            )
        report("loading", 0.0)
        self.cache.pinned.add(key)
        loaded = LoadedModel(path, self.choice)
        if not self._admit(job, loaded):
            self.cache.pinned.discard(key)
            loaded.close()
            raise BuildCancelled(f"the demo of {job.model} was deleted while it loaded")
        job.state, job.progress = "ready", 1.0

    def _source(self, repo_id: str, gguf_file: Path | None) -> Source:
        """Look the model up on the Hub at most once per lookup window."""
        now = time.monotonic()
        cached = self.sources.get(repo_id)
        fresh = cached is not None and now - cached[0] <= self.settings.lookup_ttl_s
        if gguf_file is None and fresh and cached[1].path.exists():  # type: ignore[index]
            return cached[1]  # type: ignore[index]
        source = self.resolve(
            repo_id,
            endpoint=self.settings.endpoint,
            token=self.settings.token,
            cache_dir=self.settings.cache_dir / "downloads",
            trust_remote_code=self.settings.trust_remote_code,
            gguf_file=gguf_file,
        )
        self.sources[repo_id] = (now, source)
        return source

    def _admit(self, job: DemoJob, loaded: LoadedModel) -> bool:
        """Hold the model unless its job was deleted; keep at most max_loaded: unload the least recently used."""
        with self.lock:
            if job.cancelled.is_set():
                return False
            job.loaded = loaded
            self.loaded[job.id] = job
            evicted = []
            while len(self.loaded) > self.settings.max_loaded:
                _, oldest = self.loaded.popitem(last=False)
                evicted.append(oldest)
        for old in evicted:
            self._unload(old)
            old.evicted = True
            self._fail(old, "unloaded to make room for another demo; start it again", 409)
        return True
