"""Demo jobs: build (download → convert → load) in a worker thread, report state and progress, limit what is loaded."""

from __future__ import annotations

import logging
import threading
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
from demo_runner.errors import DemoError
from demo_runner.generate import LoadedModel
from demo_runner.settings import DemoSettings
from demo_runner.sources import Source, resolve_source

log = logging.getLogger(__name__)


@dataclass
class DemoJob:
    id: str
    model: str
    state: str = "queued"
    progress: float = 0.0
    error: str | None = None
    error_status: int | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    device: str | None = None
    compute_type: str | None = None
    loaded: LoadedModel | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "state": self.state,
            "progress": round(self.progress, 3),
            "error": self.error,
            "device": self.device,
            "compute_type": self.compute_type,
            "created_at": self.created_at.isoformat(),
        }


class DemoManager:
    """Builds and holds demos; thread-safe. One per process (the API keeps it on the app)."""

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

    def start(self, repo_id: str, gguf_file: Path | None = None) -> DemoJob:
        """A job for this model: the running or ready one if there is one, else a new build."""
        with self.lock:
            for job in self.jobs.values():
                if job.model == repo_id and job.state != "failed":
                    return job
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
        with self.lock:
            self.builds = [b for b in self.builds if b.is_alive()]
            self.builds.append(build)
        build.start()
        return job

    def get(self, job_id: str) -> DemoJob | None:
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
        with self.lock:
            job = self.jobs.pop(job_id, None)
            self.loaded.pop(job_id, None)
        if job is None:
            return False
        self._unload(job)
        return True

    def close(self, timeout: float = 60.0) -> None:
        """Stop every thread this manager started: wait for builds under way (a download or a
        conversion cannot be interrupted), then unload every model, which stops its batcher."""
        with self.lock:
            builds = list(self.builds)
        for build in builds:
            build.join(timeout)
        with self.lock:
            jobs = list(self.jobs.values())
            self.jobs.clear()
            self.loaded.clear()
            self.builds.clear()
        for job in jobs:
            self._unload(job)

    def wait(self, job: DemoJob, timeout: float | None = None) -> DemoJob:
        job.done.wait(timeout)
        return job

    def _unload(self, job: DemoJob) -> None:
        if job.loaded is not None:
            self.cache.pinned.discard(job.loaded.path.name)
            job.loaded.close()
            job.loaded = None

    def _progress(self, job: DemoJob) -> Callable[[str, float], None]:
        spans = {"downloading": (0.0, 0.3), "converting": (0.3, 0.85), "loading": (0.85, 1.0)}

        def report(state: str, fraction: float) -> None:
            low, high = spans[state]
            job.state = state
            job.progress = max(job.progress, low + (high - low) * fraction)

        return report

    def _build(self, job: DemoJob, gguf_file: Path | None) -> None:
        report = self._progress(job)
        try:
            report("downloading", 0.0)
            source = self.resolve(
                job.model,
                endpoint=self.settings.endpoint,
                token=self.settings.token,
                cache_dir=self.settings.cache_dir / "downloads",
                trust_remote_code=self.settings.trust_remote_code,
                gguf_file=gguf_file,
            )
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
            job.loaded = LoadedModel(path, self.choice)
            self._admit(job)
            job.state, job.progress = "ready", 1.0
        except DemoError as exc:
            job.state, job.error, job.error_status = "failed", str(exc), exc.status
        except (
            Exception
        ) as exc:  # a bug or an unexpected library error: keep it visible, not a crash
            log.exception("demo build for %s failed", job.model)
            job.state, job.error, job.error_status = "failed", f"{type(exc).__name__}: {exc}", 500
        finally:
            job.done.set()

    def _admit(self, job: DemoJob) -> None:
        """Keep at most max_loaded models in memory: unload the least recently used."""
        with self.lock:
            self.loaded[job.id] = job
            evicted = []
            while len(self.loaded) > self.settings.max_loaded:
                _, oldest = self.loaded.popitem(last=False)
                evicted.append(oldest)
        for old in evicted:
            self._unload(old)
            old.state, old.progress, old.error_status = "failed", 0.0, 409
            old.error = "unloaded to make room for another demo; start it again"
