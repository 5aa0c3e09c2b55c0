"""Energy of a named measurement window, with the method behind every figure.

Why this shape (after Zeus): `with measure("inference") as window:` wraps exactly the work to count;
the window then holds one reading per meter. A meter that cannot read reports joules=None and says
why ("unavailable: ..."), never 0.

Meters in this first version:
- "cpu-time model": process CPU-seconds x 4.0 W per busy thread. 4 W per thread is what CodeCarbon
  3.3.2 assumes for a CPU it does not know (our AMD EPYC VM); there is no RAPL or other hardware
  counter on our machines, so on CPU every joule here is MODELLED, not metered. It counts only the
  compute of this process: not RAM, idle power, other processes, cooling.
- "nvml total-energy counter" on CUDA: the GPU's own cumulative energy counter (mJ), read before and
  after the window. Metered, GPU board only.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

WATTS_PER_THREAD = 4.0
CPU_MODEL_METHOD = f"cpu-time model (process CPU-s x {WATTS_PER_THREAD} W/thread; modelled, no RAPL)"
NVML_METHOD = "nvml total-energy counter (metered, GPU board)"


@dataclass
class Window:
    """One measurement window: its name, wall time, CPU time and meter readings."""

    name: str
    duration_s: float = 0.0
    cpu_s: float = 0.0
    readings: list = field(default_factory=list)

    def joules(self) -> float | None:
        """First available reading (NVML before the CPU model on GPU machines)."""
        return next((r["joules"] for r in self.readings if r["joules"] is not None), None)


class _NvmlCounter:
    def __init__(self, index: int = 0):
        import pynvml

        pynvml.nvmlInit()
        self._nvml = pynvml
        self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)

    def millijoules(self) -> int:
        return self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)


NO_CUDA = "no CUDA device"


def _nvml_counter():
    """(counter, None) when a CUDA GPU exposes NVML energy; (None, why) otherwise."""
    try:
        import torch

        if not torch.cuda.is_available():
            return None, NO_CUDA
        counter = _NvmlCounter(torch.cuda.current_device())
        counter.millijoules()
        return counter, None
    except Exception as exc:  # any NVML failure means "unavailable", never 0
        return None, f"{type(exc).__name__}: {exc}"


@contextmanager
def measure(name: str):
    """Measure the enclosed block; yields a Window whose readings are filled on exit."""
    window = Window(name)
    counter, why = _nvml_counter()
    on_gpu = why != NO_CUDA
    if on_gpu:
        _cuda_sync()
    start_mj = counter.millijoules() if counter else None
    t0, c0 = time.perf_counter(), time.process_time()
    yield window
    if on_gpu:
        _cuda_sync()
    window.duration_s = time.perf_counter() - t0
    window.cpu_s = time.process_time() - c0
    if on_gpu:
        joules = None
        if counter:
            try:
                joules = (counter.millijoules() - start_mj) / 1000
            except Exception as exc:
                why = f"{type(exc).__name__}: {exc}"
        method = NVML_METHOD if joules is not None else f"nvml unavailable: {why}"
        window.readings.append({"method": method, "joules": joules, "duration_s": window.duration_s})
    window.readings.append({"method": CPU_MODEL_METHOD, "joules": window.cpu_s * WATTS_PER_THREAD,
                            "duration_s": window.duration_s, "cpu_s": window.cpu_s})


def _cuda_sync():
    import torch

    torch.cuda.synchronize()
