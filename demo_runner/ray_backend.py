"""The `ray` demo backend, as the web tier sees it: jobs in the database, answers from Ray Serve."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Generator
from contextlib import closing
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import Any

from catalog.demo_jobs import (
    ACTIVE,
    DemoJobStore,
    create_demo_job,
    delete_demo_job,
    fail_silent_demo_job,
    find_live_demo_job,
    get_demo_job,
)
from catalog.tables import DemoJobRecord
from demo_runner.device import DeviceChoice, pick_device
from demo_runner.errors import DemoBackendUnavailable, DemoError, RemoteDemoError, ReplicaLost
from demo_runner.generate import GenerationParams
from demo_runner.jobs import DemoJob
from demo_runner.limits import StreamLimits
from demo_runner.ray_serve import APP_NAME, BUILDER_NAME, NAMESPACE, ReplicaPlan
from demo_runner.settings import DemoSettings, ScaleSettings

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 1.0
# A web worker must outlive a Ray cluster that goes away (search and compliance keep answering);
# by default Ray ends a driver whose cluster has been unreachable for 60 s.
DRIVER_RECONNECT_ENV = {"RAY_gcs_rpc_server_reconnect_timeout_s": str(10 * 365 * 86400)}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _job(record: DemoJobRecord) -> DemoJob:
    return DemoJob(
        id=record.id,
        model=record.model,
        state=record.state,
        progress=record.progress,
        error=record.error,
        error_status=record.error_status,
        created_at=_aware(record.created_at),
        device=record.device,
        compute_type=record.compute_type,
    )


def _reachable(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            return True
    except (OSError, ValueError):
        return False


class RemoteChatModel:
    """A ready demo on the Serve deployment: the same stream/complete as a local model.

    The replica enforces the time limit (from the request's arrival there); closing a stream early
    cancels the request on the replica, which stops its decode.
    """

    def __init__(self, handle: Any, model_key: str) -> None:
        self.handle = handle.options(multiplexed_model_id=model_key, stream=True)

    def _events(
        self, messages: list[dict[str, str]], params: GenerationParams, timeout_s: float
    ) -> Generator[dict[str, Any], None, None]:
        from ray.exceptions import RayError

        responses = self.handle.stream.remote(messages, asdict(params), timeout_s)
        finished = False
        try:
            for event in responses:
                if "error" in event:
                    raise _replica_error(event)
                yield event
            finished = True
        except RayError as exc:
            finished = True
            raise ReplicaLost(
                "the replica answering this demo stopped before the answer was complete "
                f"({type(exc).__name__}); ask again: another replica will answer"
            ) from exc
        finally:
            if not finished:  # the reader went away (a client disconnect) or an error came
                responses.cancel()

    def stream(
        self,
        messages: list[dict[str, str]],
        params: GenerationParams,
        timeout_s: float = float("inf"),
    ) -> Generator[str, None, None]:
        """The answer's pieces. The replica's first event is awaited here, so a refusal (a prompt
        that cannot fit, a time limit passed in the queue) raises before a response starts, as
        the local backend's does; later errors come from the pieces."""
        events = self._events(messages, params, timeout_s)
        first = next(events, None)  # an error closes the generator (and cancels) as it raises
        return _pieces([first] if first is not None else [], events)

    def complete(
        self,
        messages: list[dict[str, str]],
        params: GenerationParams,
        timeout_s: float = float("inf"),
    ) -> tuple[str, int, int]:
        pieces, usage = [], [0, 0]
        for event in self._events(messages, params, timeout_s):
            pieces.append(event.get("text", ""))
            usage = event.get("usage", usage)
        return "".join(pieces), usage[0], usage[1]


def _pieces(
    first: list[dict[str, Any]], events: Generator[dict[str, Any], None, None]
) -> Generator[str, None, None]:
    with closing(events):  # closed early when the reader goes away: that cancels the decode
        for event in chain(first, events):
            if "text" in event:
                yield event["text"]


def _replica_error(event: dict[str, Any]) -> DemoError:
    """The demo error a replica reported, with its status there (504 past the time limit)."""
    if event.get("status") is None:  # not a demo error: something broke on the replica
        return ReplicaLost(f"the demo failed while answering: {event['error']}")
    return RemoteDemoError(str(event["error"]), int(event["status"]), str(event.get("type")))


class RayBackend:
    """Demo jobs in the catalog database; builds as Ray tasks; chat through a Serve handle."""

    name = "ray"

    def __init__(
        self,
        settings: DemoSettings,
        scale: ScaleSettings,
        store: DemoJobStore,
        choice: DeviceChoice | None = None,
    ) -> None:
        self.settings = settings
        self.streams = StreamLimits(settings.max_streams, settings.max_streams_total)
        self.scale = scale
        self.store = store
        self.choice = choice
        self.lock = threading.Lock()
        self._handle: Any = None
        self._builder: Any = None

    def plan(self) -> ReplicaPlan:
        choice = self.choice or pick_device(
            self.settings.device, self.settings.compute_type, self.settings.threads
        )
        return ReplicaPlan(
            cache_root=str((self.settings.cache_dir / "converted").resolve()),
            cache_max_bytes=self.settings.cache_max_bytes,
            device=choice.device,
            compute_type=choice.compute_type,
            intra_threads=choice.intra_threads,
            models_per_replica=self.scale.models_per_replica,
            min_replicas=self.scale.min_replicas,
            max_replicas=self.scale.max_replicas,
            replica_cpus=self.scale.replica_cpus,
        )

    def _connect(self) -> tuple[Any, Any]:
        """Join the cluster once (deploying the app and the builder if missing); 503 when it is down."""
        import ray

        with self.lock:
            if ray.is_initialized():
                address = ray.get_runtime_context().gcs_address
                if not _reachable(address):
                    raise DemoBackendUnavailable(
                        f"the Ray cluster at {address} cannot be reached; demos are unavailable "
                        "(search and compliance still answer)"
                    )
            else:
                self._join(ray)
            if self._handle is None:
                self._handle, self._builder = self._deploy()
            return self._handle, self._builder

    def _join(self, ray: Any) -> None:
        address = self.scale.ray_address
        remote = (
            bool(address)
            and address not in ("auto", "local")
            and not str(address).startswith("ray://")
        )
        if remote and not _reachable(str(address)):
            raise DemoBackendUnavailable(
                f"the Ray cluster at RAY_ADDRESS={address} cannot be reached; demos are "
                "unavailable (search and compliance still answer)"
            )
        for name, value in DRIVER_RECONNECT_ENV.items():
            os.environ.setdefault(name, value)
        try:
            ray.init(
                address=address, namespace=NAMESPACE, log_to_driver=False, ignore_reinit_error=True
            )
        except (ConnectionError, RuntimeError) as exc:
            raise DemoBackendUnavailable(f"cannot join the Ray cluster: {exc}") from exc

    def _deploy(self) -> tuple[Any, Any]:
        import ray
        from ray import serve

        from demo_runner.ray_serve import DemoBuilder, demo_deployment

        try:
            handle = serve.get_app_handle(APP_NAME)
        except (
            Exception
        ):  # not deployed yet on this cluster (Serve raises a bare RayServeException)
            serve.start(proxy_location="Disabled")
            handle = serve.run(demo_deployment(self.plan()), name=APP_NAME, route_prefix=None)
        builder = (
            ray.remote(DemoBuilder)
            .options(
                name=BUILDER_NAME,
                namespace=NAMESPACE,
                lifetime="detached",
                get_if_exists=True,
                num_cpus=0,
                max_concurrency=64,
                max_restarts=-1,
            )
            .remote()
        )
        return handle, builder

    def start(self, repo_id: str, gguf_file: Path | None = None) -> DemoJob:
        """The building or ready job for this model, or a new build on the cluster."""
        _handle, builder = self._connect()
        plan = self.plan()
        with self.store.session() as session:
            live = find_live_demo_job(session, repo_id, backend=self.name)
            if live is not None:
                live = fail_silent_demo_job(session, live.id, silent_for=self._silence())
            if live is not None and live.state != "failed":
                return _job(live)
            record = create_demo_job(
                session,
                job_id=uuid.uuid4().hex[:12],
                model=repo_id,
                backend=self.name,
                device=plan.device,
                compute_type=plan.compute_type,
            )
        # Workers may run elsewhere: every path they get is absolute.
        settings = replace(self.settings, cache_dir=self.settings.cache_dir.resolve())
        builder.build.remote(
            record.id,
            repo_id,
            str(gguf_file.resolve()) if gguf_file else None,
            settings,
            plan,
            self.store,
            self.scale.build_cpus,
        )
        return _job(record)

    def _silence(self) -> timedelta:
        return timedelta(seconds=self.scale.silent_after_s)

    def _record(self, job_id: str) -> DemoJobRecord | None:
        with self.store.session() as session:
            record = fail_silent_demo_job(session, job_id, silent_for=self._silence())
        return record if record is not None and record.backend == self.name else None

    def get(self, job_id: str) -> DemoJob | None:
        """Answered from the database alone: any web worker, cluster up or down."""
        record = self._record(job_id)
        return _job(record) if record is not None else None

    def ready_model(self, job_id: str) -> RemoteChatModel | None:
        record = self._record(job_id)
        if record is None or record.state != "ready" or record.model_key is None:
            return None
        handle, _builder = self._connect()
        return RemoteChatModel(handle, record.model_key)

    def delete(self, job_id: str) -> bool:
        """Forget the job and cancel its build if one runs; a ready model leaves replicas by their
        LRU and the disk by the cache's.

        With the cluster down the row still goes: the build stops at its next step when it finds
        its job gone.
        """
        with self.store.session() as session:
            record = get_demo_job(session, job_id)
            if record is None or record.backend != self.name:
                return False
            building = record.state in ACTIVE
            delete_demo_job(session, job_id)
        if building:
            try:
                _handle, builder = self._connect()
                builder.cancel.remote(job_id)
            except DemoBackendUnavailable:
                log.warning("demo job %s deleted; its build stops at its next step", job_id)
        return True

    def close(self) -> None:
        self.store.close()
