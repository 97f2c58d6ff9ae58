"""What an operator sets for demos: where converted models live, how many stay loaded, the device.

Plain values, no environment reads: api/settings.py reads the environment once and builds these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Device(StrEnum):
    CPU = "cpu"
    CUDA = "cuda"


class ComputeType(StrEnum):
    """CTranslate2's quantizations (https://opennmt.net/CTranslate2/quantization.html)."""

    INT8 = "int8"
    INT8_FLOAT32 = "int8_float32"
    INT8_FLOAT16 = "int8_float16"
    INT8_BFLOAT16 = "int8_bfloat16"
    INT16 = "int16"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"
    FLOAT32 = "float32"


@dataclass(frozen=True)
class DemoSettings:
    cache_dir: Path
    cache_max_bytes: int = 20 * 2**30
    max_loaded: int = 2  # models in memory at once; the least recently used is unloaded
    trust_remote_code: bool = False
    endpoint: str | None = None  # the Hub weights are downloaded from
    token: str | None = None
    device: Device | None = None  # None: CUDA when a GPU is found, else the CPU
    compute_type: ComputeType | None = None  # None: int8_float16 on CUDA, int8 on the CPU
    # Measured on a 2-core machine: one intra-op thread per generator beat two; batching gives the rest.
    threads: int = 1
    # Conversions share process-wide state in transformers (meta-device initialisation, lazy
    # imports): two at once in one process break each other, so one at a time unless proven safe.
    max_builds: int = 1
    max_queued: int = 8  # builds waiting for a slot; one more is a 429
    job_ttl_s: float = 600.0  # a failed job answers repeated requests for its model, then expires
    lookup_ttl_s: float = 300.0  # one Hub lookup per model per window
    # One demo decodes up to 8 requests in one batch (generate.MAX_BATCH); up to two batches' worth
    # may be admitted, the second waiting for the first, before callers are asked to retry (429).
    max_streams: int = 16  # generations at once per demo
    max_streams_total: int = 16  # generations at once overall
    request_timeout_s: float = 120.0  # one generation's time limit


class BackendKind(StrEnum):
    """Where demos run: `local` (in the web process), `ray` (Ray Serve) or `off`."""

    LOCAL = "local"
    RAY = "ray"
    OFF = "off"


@dataclass(frozen=True)
class ScaleSettings:
    """Which demo backend runs, and how the `ray` one runs (api/settings.py names the variables)."""

    backend: BackendKind = BackendKind.LOCAL
    ray_address: str | None = None  # host:port, ray://host:port or auto; None starts Ray here
    models_per_replica: int = 2  # models a Serve replica holds; the least recently used goes
    min_replicas: int = 1
    max_replicas: int = 2
    replica_cpus: float = 1.0  # per replica when the device is the CPU (a GPU replica takes 1 GPU)
    build_cpus: float = 1.0  # per download + conversion task
    silent_after_s: float = 60.0  # a build not heard of for this long has failed
