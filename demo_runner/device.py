"""Pick where demos run: CUDA with int8_float16 when a GPU is there, else the CPU with int8."""

from __future__ import annotations

from dataclasses import dataclass

from demo_runner.settings import ComputeType, Device


@dataclass(frozen=True)
class DeviceChoice:
    device: Device
    compute_type: ComputeType
    intra_threads: int


def pick_device(
    device: Device | None = None, compute_type: ComputeType | None = None, threads: int = 1
) -> DeviceChoice:
    """The device asked for (or found) and its quantization (asked for, or the device's default)."""
    import ctranslate2

    if device is None:
        device = Device.CUDA if ctranslate2.get_cuda_device_count() > 0 else Device.CPU
    if compute_type is None:
        compute_type = ComputeType.INT8_FLOAT16 if device == Device.CUDA else ComputeType.INT8
    return DeviceChoice(device=device, compute_type=compute_type, intra_threads=threads)
