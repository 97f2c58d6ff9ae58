"""Pick where demos run: CUDA with int8_float16 when a GPU is there, else the CPU with int8."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceChoice:
    device: str  # cpu | cuda
    compute_type: str  # int8 | int8_float16 | bfloat16 | ...
    intra_threads: int


def pick_device(device: str | None = None, compute_type: str | None = None) -> DeviceChoice:
    """The device found (or asked for) and its quantization; MODELCATALOG_DEMO_DEVICE/COMPUTE_TYPE override."""
    import ctranslate2

    device = (
        device
        or os.environ.get("MODELCATALOG_DEMO_DEVICE")
        or ("cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu")
    )
    default = "int8_float16" if device == "cuda" else "int8"
    compute_type = compute_type or os.environ.get("MODELCATALOG_DEMO_COMPUTE_TYPE") or default
    # Measured on a 2-core machine: one intra-op thread per generator beat two; batching gives the rest.
    threads = int(os.environ.get("MODELCATALOG_DEMO_THREADS", "1"))
    return DeviceChoice(device=device, compute_type=compute_type, intra_threads=threads)
