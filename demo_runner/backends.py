"""The one interface the API, pages and CLI use for demos, and the choice of backend behind it.

`local` (the default) builds and runs demos in this process, as one `DemoManager`; `ray` builds them
as Ray tasks and answers from a Ray Serve deployment, with job state in the catalog database so any
web worker can answer; `off` turns demos off (every demo request is a 503).
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Protocol

from demo_runner.errors import DemoBackendUnavailable
from demo_runner.generate import GenerationParams
from demo_runner.jobs import DemoJob, DemoManager
from demo_runner.limits import StreamLimits
from demo_runner.settings import BackendKind, DemoSettings, ScaleSettings


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
