"""What runs inside the Ray cluster: the multiplexed CTranslate2 deployment and the demo builder.

Imported only by Ray workers and by `demo_runner.ray_backend` after `ray` is imported; nothing here
runs at import time. Model ids are converted-model cache keys (repo, revision, compute type), so a
replica loads a model straight from the shared cache folder.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demo_runner.cache import ModelCache
from demo_runner.device import DeviceChoice
from demo_runner.errors import BuildCancelled, DemoError, ModelNotConverted
from demo_runner.generate import BATCH_WINDOW_S, MAX_BATCH, GenerationParams, LoadedModel
from demo_runner.settings import ComputeType, DemoSettings, Device

log = logging.getLogger(__name__)
NAMESPACE = "modelcatalog"
APP_NAME = "modelcatalog-demos"
BUILDER_NAME = "modelcatalog-demo-builder"
HEARTBEAT_S = 5.0


@dataclass(frozen=True)
class ReplicaPlan:
    """Everything a replica needs, passed at deploy time (replicas do not read the web's settings)."""

    cache_root: str
    cache_max_bytes: int
    device: str
    compute_type: str
    intra_threads: int
    models_per_replica: int
    min_replicas: int
    max_replicas: int
    replica_cpus: float

    def actor_options(self) -> dict[str, Any]:
        if self.device == "cuda":
            return {"num_gpus": 1, "num_cpus": 1}
        return {"num_cpus": self.replica_cpus}


@dataclass
class Holdings:
    """What one replica holds now and how many models it unloaded (for describe())."""

    models: dict[str, LoadedModel] = field(default_factory=dict)
    unloaded: int = 0


# Serve's @serve.batch has already waited BATCH_WINDOW_S for requests to share a batch and submits
# them together, so the model's own batcher only collects what arrives at that moment: waiting a
# second full window added 10 ms to the start of every stream.
REPLICA_GATHER_S = 0.002


class ReplicaModel(LoadedModel):
    """A loaded model that Serve's multiplexing can unload (it calls __del__ on eviction)."""

    def __init__(self, path: Path, choice: DeviceChoice, holdings: Holdings) -> None:
        super().__init__(path, choice, batch_window_s=REPLICA_GATHER_S)
        self.holdings = holdings
        holdings.models[path.name] = self

    def __del__(self) -> None:
        holdings = self.__dict__.get("holdings")
        if holdings is not None and holdings.models.get(self.path.name) is self:
            del holdings.models[self.path.name]
            holdings.unloaded += 1
        batcher = self.__dict__.get("batcher")
        if batcher is not None and batcher.thread.is_alive():
            self.close()


@dataclass
class StreamRequest:
    """One chat request on this replica: its deadline counts from its arrival, queueing included."""

    model: LoadedModel
    prompt: list[str]
    params: GenerationParams
    deadline: float = float("inf")  # time.monotonic()
    submitted: Any = None  # the batcher's request, once submitted
    cancelled: bool = False

    def cancel(self) -> None:
        """The caller went away: stop decoding for it (now, or as soon as it is submitted)."""
        self.cancelled = True
        if self.submitted is not None:
            self.submitted.cancel()


def error_event(exc: BaseException) -> dict[str, Any]:
    """An error as an event; the web tier turns a demo error back into one with the same status."""
    if isinstance(exc, DemoError):
        return {"error": str(exc), "status": exc.status, "type": type(exc).__name__}
    return {"error": f"{type(exc).__name__}: {exc}", "status": None}


def _pump(
    item: StreamRequest, index: int, out: asyncio.Queue, loop: asyncio.AbstractEventLoop
) -> None:
    """Read one request's pieces on a thread and hand them to the event loop as events."""

    def send(event: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(out.put_nowait, (index, event))

    left = max(item.deadline - time.monotonic(), 0.0)
    request = item.submitted = item.model.batcher.submit(item.prompt, item.params, left)
    if item.cancelled:
        request.cancel()
    try:
        for piece in item.model.text_pieces(request):
            send({"text": piece})
        send({"usage": [len(item.prompt), request.generated]})
    except Exception as exc:
        send(error_event(exc))
    send({"end": True})


async def decode_rounds(items: list[StreamRequest]) -> AsyncIterator[list[Any]]:
    """One list per round, an entry per request: its new events, or StopIteration once it ended.

    All requests of the batch are submitted together, so the model's batcher decodes the ones that
    share a model and sampling settings in one generate_batch call.
    """
    loop = asyncio.get_running_loop()
    out: asyncio.Queue = asyncio.Queue()
    for index, item in enumerate(items):
        threading.Thread(target=_pump, args=(item, index, out, loop), daemon=True).start()
    ended: set[int] = set()
    stopped: set[int] = set()
    while len(stopped) < len(items):
        rounds: list[Any] = [[] for _ in items]
        for index in ended - stopped:
            rounds[index] = StopIteration
            stopped.add(index)
        if len(stopped) == len(items):
            yield rounds
            break
        arrived = [await out.get()]
        while not out.empty():
            arrived.append(out.get_nowait())
        for index, event in arrived:
            if "end" in event:
                ended.add(index)
            elif index not in stopped:
                rounds[index].append(event)
        yield rounds


def demo_deployment(plan: ReplicaPlan) -> Any:
    """The Serve application: one deployment, multiplexed by converted-model key."""
    from ray import serve

    @serve.deployment(
        name="DemoModels",
        ray_actor_options=plan.actor_options(),
        autoscaling_config={
            "min_replicas": plan.min_replicas,
            "initial_replicas": max(plan.min_replicas, 1),
            "max_replicas": plan.max_replicas,
            "target_ongoing_requests": MAX_BATCH,
        },
        # A replica decodes one batch of MAX_BATCH at a time; more would only queue behind it. At
        # this bound Serve's router sends the next stream for a busy model to another replica,
        # which loads the model too, instead of queueing it while that replica idles.
        max_ongoing_requests=MAX_BATCH,
        health_check_period_s=2,
        health_check_timeout_s=10,
    )
    class DemoModels:
        def __init__(self) -> None:
            self.cache = ModelCache(Path(plan.cache_root), plan.cache_max_bytes)
            self.choice = DeviceChoice(
                Device(plan.device), ComputeType(plan.compute_type), plan.intra_threads
            )
            self.holdings = Holdings()

        @serve.multiplexed(max_num_models_per_replica=plan.models_per_replica)
        async def model(self, model_id: str) -> ReplicaModel:
            path = self.cache.get(model_id)
            if path is None:
                raise ModelNotConverted(
                    f"the converted model {model_id} is no longer in the cache; start the demo again"
                )
            return await asyncio.to_thread(ReplicaModel, path, self.choice, self.holdings)

        async def load(self) -> str:
            """Load the request's model (the builder calls this so `ready` means loadable)."""
            await self.model(serve.get_multiplexed_model_id())
            return self.describe()["replica"]

        async def stream(
            self,
            messages: list[dict[str, str]],
            params: dict[str, Any],
            timeout_s: float = float("inf"),
        ) -> AsyncIterator[dict[str, Any]]:
            """Events for one chat request: {"text"}…, then {"usage"} or {"error"}.

            The time limit runs from here; a caller that goes away (Serve cancels this generator)
            stops the decode of its request, not only the sending.
            """
            deadline = time.monotonic() + timeout_s
            model = await self.model(serve.get_multiplexed_model_id())
            prompt = model.prompt_tokens(messages)
            try:
                fitted = model.fit(prompt, GenerationParams(**params))
            except DemoError as exc:
                yield error_event(exc)
                return
            request = StreamRequest(model, prompt, fitted, deadline)
            try:
                async for events in self.decode(request):  # type: ignore[misc, call-arg]
                    for event in events:
                        yield event
            finally:
                request.cancel()

        # Serve's decorators are typed for functions, not methods: hence the ignores here.
        @serve.batch(max_batch_size=MAX_BATCH, batch_wait_timeout_s=BATCH_WINDOW_S)  # type: ignore[arg-type]
        async def decode(self, items: list[StreamRequest]) -> AsyncIterator[list[Any]]:  # type: ignore[misc]
            async for rounds in decode_rounds(items):
                yield rounds

        def describe(self) -> dict[str, Any]:
            """This replica: actor name, pid, models held, how many were unloaded, batch sizes, and
            the requests waiting or decoding now."""
            import ray

            models = self.holdings.models
            return {
                "replica": ray.get_runtime_context().get_actor_name(),
                "pid": os.getpid(),
                "models": sorted(models),
                "unloaded": self.holdings.unloaded,
                "batches": [size for m in models.values() for size in m.batcher.batches],
                "active": sum(m.batcher.active() for m in models.values()),
            }

    return DemoModels.bind()  # type: ignore[attr-defined]


def build_demo(
    job_id: str,
    repo_id: str,
    gguf_file: str | None,
    settings: DemoSettings,
    plan: ReplicaPlan,
    store: Any,
) -> str:
    """Download and convert into the shared cache, writing progress to the job; the cache key."""
    from catalog.demo_jobs import update_demo_job, utcnow
    from demo_runner.convert import convert
    from demo_runner.sources import resolve_source

    spans = {"downloading": (0.0, 0.3), "converting": (0.3, 0.85)}

    def report(state: str, fraction: float) -> None:
        low, high = spans.get(state, (0.85, 1.0))
        with store.session() as session:
            record = update_demo_job(
                session,
                job_id,
                state=state,
                progress=low + (high - low) * fraction,
                heartbeat_at=utcnow(),
            )
        if record is None:  # deleted, perhaps while the cluster could not be told
            raise BuildCancelled(f"the demo of {repo_id} was deleted while it was built")

    stop = _heartbeat(store, job_id)
    try:
        report("downloading", 0.0)
        source = resolve_source(
            repo_id,
            endpoint=settings.endpoint,
            token=settings.token,
            cache_dir=settings.cache_dir / "downloads",
            trust_remote_code=settings.trust_remote_code,
            gguf_file=Path(gguf_file) if gguf_file else None,
        )
        cache = ModelCache(Path(plan.cache_root), plan.cache_max_bytes)
        key = ModelCache.key(source.repo_id, source.revision, plan.compute_type)
        if cache.get(key) is None:
            report("converting", 0.0)
            cache.put(
                key,
                lambda out: convert(
                    source,
                    out,
                    quantization=plan.compute_type,
                    trust_remote_code=settings.trust_remote_code,
                    progress=report,
                ),
            )
        return key
    finally:
        stop.set()


def _heartbeat(store: Any, job_id: str) -> threading.Event:
    """Touch the job every few seconds while this process works on it; readers spot silence."""
    from catalog.demo_jobs import update_demo_job, utcnow

    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            try:
                with store.session() as session:
                    update_demo_job(session, job_id, heartbeat_at=utcnow())
            except Exception:  # a missed beat is not a failure; silence is judged by readers
                log.warning("heartbeat for demo job %s failed", job_id, exc_info=True)

    threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True).start()
    return stop


class DemoBuilder:
    """A detached actor that owns build tasks, so a build outlives the web worker that asked for it.

    It owns them in Ray's sense too: only the process that submitted a task can cancel it, so any
    web worker cancels a build by asking this actor.
    """

    def __init__(self) -> None:
        self.running: dict[str, Any] = {}  # job id -> the build task's ObjectRef
        # The latest builds stopped because their job was deleted: interrupted by cancel(), or
        # finding the job gone at their next step, or done but not loaded.
        self.cancelled: deque[str] = deque(maxlen=100)

    async def build(
        self,
        job_id: str,
        repo_id: str,
        gguf_file: str | None,
        settings: DemoSettings,
        plan: ReplicaPlan,
        store: Any,
        build_cpus: float,
    ) -> None:
        import ray
        from ray.exceptions import TaskCancelledError

        task = ray.remote(build_demo).options(num_cpus=build_cpus, max_retries=0)
        self.running[job_id] = task.remote(job_id, repo_id, gguf_file, settings, plan, store)
        try:
            key = await self.running[job_id]
            loaded = await self._load(job_id, key, store)
        except TaskCancelledError:  # ray.cancel() interrupted it
            loaded = False
        except Exception as exc:
            if not isinstance(getattr(exc, "cause", None), BuildCancelled):
                self._fail(job_id, store, exc)
                return
            loaded = False  # it found its job deleted at one of its steps
        finally:
            self.running.pop(job_id, None)
        if not loaded:
            log.info("the build of demo job %s stopped: the job was deleted", job_id)
            self.cancelled.append(job_id)

    def cancel(self, job_id: str) -> bool:
        """Stop a job's build: the task gets a KeyboardInterrupt (its cache write is undone).

        A build not started yet finds its job deleted at its first step and stops there.
        """
        import ray

        task = self.running.get(job_id)
        if task is None:
            return False
        ray.cancel(task)
        return True

    def describe(self) -> dict[str, list[str]]:
        """The jobs whose build task runs now, and the latest whose build was cancelled."""
        return {"running": sorted(self.running), "cancelled": list(self.cancelled)}

    async def _load(self, job_id: str, key: str, store: Any) -> bool:
        """Load the built model onto a replica; False when its job was deleted meanwhile."""
        from ray import serve

        from catalog.demo_jobs import update_demo_job, utcnow

        with store.session() as session:
            record = update_demo_job(
                session,
                job_id,
                state="loading",
                progress=0.85,
                model_key=key,
                heartbeat_at=utcnow(),
            )
        if record is None:  # deleted while its build ran: load nothing
            return False
        handle = serve.get_app_handle(APP_NAME)
        await handle.options(multiplexed_model_id=key).load.remote()
        with store.session() as session:
            update_demo_job(session, job_id, state="ready", progress=1.0, heartbeat_at=utcnow())
        return True

    def _fail(self, job_id: str, store: Any, exc: Exception) -> None:
        from catalog.demo_jobs import update_demo_job

        reason, status = failure_reason(exc)
        log.warning("demo job %s failed: %s", job_id, reason)
        with store.session() as session:
            update_demo_job(session, job_id, state="failed", error=reason, error_status=status)


def failure_reason(exc: BaseException) -> tuple[str, int]:
    """A message for the person who clicked Try it, and the HTTP status it means."""
    from ray.exceptions import RayTaskError, WorkerCrashedError

    cause = exc.cause if isinstance(exc, RayTaskError) and exc.cause is not None else exc
    if isinstance(cause, DemoError):
        return str(cause), cause.status
    if isinstance(cause, WorkerCrashedError):
        return (
            "the Ray worker building this demo died (out of memory or killed); start it again",
            500,
        )
    return f"{type(cause).__name__}: {cause}", 500
