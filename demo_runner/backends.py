"""The one interface the API, pages and CLI use for demos, and the choice of backend behind it.

`local` (the default) builds and runs demos in this process, as one `DemoManager`; `ray` builds them
as Ray tasks and answers from a Ray Serve deployment, with job state in the catalog database so any
web worker can answer; `off` turns demos off (every demo request is a 503).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from demo_runner.errors import DemoBackendUnavailable
from demo_runner.generate import GenerationParams
from demo_runner.jobs import DemoJob, DemoManager
from demo_runner.limits import StreamLimits
from demo_runner.settings import DemoSettings


class BackendKind(enum.Enum):
    LOCAL = "local"
    RAY = "ray"
    OFF = "off"


@dataclass(frozen=True)
class ScaleSettings:
    """How the `ray` backend runs (environment variables in brackets)."""

    backend: BackendKind = BackendKind.LOCAL  # MODELCATALOG_DEMO_BACKEND: local | ray | off
    ray_address: str | None = (
        None  # RAY_ADDRESS: host:port, ray://…, or auto; unset starts Ray here
    )
    models_per_replica: int = 2  # MODELCATALOG_RAY_MODELS_PER_REPLICA (LRU beyond it)
    min_replicas: int = 1  # MODELCATALOG_RAY_MIN_REPLICAS
    max_replicas: int = 2  # MODELCATALOG_RAY_MAX_REPLICAS
    replica_cpus: float = 1.0  # MODELCATALOG_RAY_REPLICA_CPUS (when the device is the CPU)
    build_cpus: float = 1.0  # MODELCATALOG_RAY_BUILD_CPUS: per download + conversion task
    silent_after_s: float = (
        60.0  # MODELCATALOG_RAY_SILENT_AFTER: a build unheard of this long failed
    )

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> ScaleSettings:
        env = os.environ if env is None else env
        raw = env.get("MODELCATALOG_DEMO_BACKEND", "local").strip().lower() or "local"
        try:
            backend = BackendKind(raw)
        except ValueError:
            raise ValueError(f"MODELCATALOG_DEMO_BACKEND={raw!r}: use local, ray or off") from None
        settings = cls(
            backend=backend,
            ray_address=env.get("RAY_ADDRESS") or None,
            models_per_replica=int(env.get("MODELCATALOG_RAY_MODELS_PER_REPLICA", "2")),
            min_replicas=int(env.get("MODELCATALOG_RAY_MIN_REPLICAS", "1")),
            max_replicas=int(env.get("MODELCATALOG_RAY_MAX_REPLICAS", "2")),
            replica_cpus=float(env.get("MODELCATALOG_RAY_REPLICA_CPUS", "1")),
            build_cpus=float(env.get("MODELCATALOG_RAY_BUILD_CPUS", "1")),
            silent_after_s=float(env.get("MODELCATALOG_RAY_SILENT_AFTER", "60")),
        )
        settings.check()
        return settings

    def check(self) -> None:
        if self.models_per_replica < 1:
            raise ValueError("MODELCATALOG_RAY_MODELS_PER_REPLICA must be at least 1")
        if not 0 <= self.min_replicas <= self.max_replicas or self.max_replicas < 1:
            raise ValueError(
                "MODELCATALOG_RAY_MIN_REPLICAS and MAX_REPLICAS need 0 <= min <= max and max >= 1"
            )
        if self.replica_cpus <= 0 or self.build_cpus <= 0:
            raise ValueError("MODELCATALOG_RAY_REPLICA_CPUS and BUILD_CPUS must be above 0")


class ChatModel(Protocol):
    """A ready demo's model, wherever it runs."""

    def stream(
        self, messages: list[dict[str, str]], params: GenerationParams, timeout_s: float = ...
    ) -> Generator[str, None, None]: ...

    def complete(
        self, messages: list[dict[str, str]], params: GenerationParams, timeout_s: float = ...
    ) -> tuple[str, int, int]: ...


class DemoBackend(Protocol):
    """What the API, pages and CLI ask of demos; `local` and `ray` answer the same way."""

    name: str
    settings: DemoSettings
    streams: StreamLimits  # generations at once, per demo and overall

    def start(self, repo_id: str, gguf_file: Path | None = None) -> DemoJob: ...

    def get(self, job_id: str) -> DemoJob | None: ...

    def ready_model(self, job_id: str) -> ChatModel | None: ...

    def delete(self, job_id: str) -> bool: ...

    def close(self) -> None: ...


class LocalBackend(DemoManager):
    """Today's behaviour: builds in worker threads, models in this process's memory."""

    name = "local"


class DemosOff:
    """Every demo request is a 503 that says how to turn demos on."""

    name = "off"

    def __init__(self, settings: DemoSettings) -> None:
        self.settings = settings
        self.streams = StreamLimits(settings.max_streams, settings.max_streams_total)

    def _refuse(self) -> DemoBackendUnavailable:
        return DemoBackendUnavailable(
            "demos are turned off on this server (MODELCATALOG_DEMO_BACKEND=off)"
        )

    def start(self, repo_id: str, gguf_file: Path | None = None) -> DemoJob:
        raise self._refuse()

    def get(self, job_id: str) -> DemoJob | None:
        raise self._refuse()

    def ready_model(self, job_id: str) -> ChatModel | None:
        raise self._refuse()

    def delete(self, job_id: str) -> bool:
        raise self._refuse()

    def close(self) -> None:
        return None


def make_backend(demo: DemoSettings, scale: ScaleSettings, *, database_url: str) -> DemoBackend:
    """The backend the settings name; the `ray` one keeps job state in `database_url`."""
    if scale.backend is BackendKind.OFF:
        return DemosOff(demo)
    if scale.backend is BackendKind.RAY:
        from catalog.demo_jobs import DemoJobStore
        from demo_runner.ray_backend import RayBackend

        return RayBackend(demo, scale, DemoJobStore(database_url))
    return LocalBackend(demo)
