"""The machine and its ceilings: what ran where, other processes' load during a measurement, GEMM peaks."""
from __future__ import annotations

import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict:
    import torch

    from helpers.provenance import _cpu_model, git_sha

    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(), "torch": torch.__version__,
            "mkldnn": torch.backends.mkldnn.is_available(), "python": platform.python_version(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "(unset)"), "git_sha": git_sha(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _own_cpu_s() -> float:
    """CPU seconds of this process and of its finished children (run_all's subprocess and its kernels)."""
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


class Timer:
    """Wall time plus the share of the machine's CPUs other processes used meanwhile (as helpers.energy)."""

    def __enter__(self):
        from helpers.energy import _machine_busy_s

        self._b0, self._t0, self._c0 = _machine_busy_s(), time.perf_counter(), _own_cpu_s()
        return self

    def __exit__(self, *exc):
        from helpers.energy import _machine_busy_s, _machine_cpus

        self.seconds = time.perf_counter() - self._t0
        busy = _machine_busy_s()
        cpu = _own_cpu_s() - self._c0
        self.other_load = None if busy is None or self._b0 is None else max(
            0.0, (busy - self._b0 - cpu) / (max(self.seconds, 1e-9) * _machine_cpus()))


def gemm_peak(kind: str, tokens: int = 1024, hidden: int = 576, intermediate: int = 1536, square: int = 2048,
              min_seconds: float = 0.5) -> dict:
    """Best GEMM rate (FLOP/s) over the model's shapes and one large square, for 'fp32', 'bf16' or 'int8'
    (int8: torchao's int8 dynamic linear, the kernel the dynamic-int8 variant runs, activations quantized
    per token at run time). Returns {"peak": best, "shapes": {name: FLOP/s}}."""
    import torch

    shapes = {f"{tokens}x{hidden}x{intermediate}": (tokens, hidden, intermediate),
              f"{tokens}x{intermediate}x{hidden}": (tokens, intermediate, hidden),
              f"{tokens}x{hidden}x{hidden}": (tokens, hidden, hidden),
              f"{square}x{square}x{square}": (square, square, square)}
    rates = {}
    with torch.inference_mode():
        for name, (m, k, n) in shapes.items():
            run = _gemm_fn(kind, m, k, n)
            run()  # warm-up
            count, t0 = 0, time.perf_counter()
            while True:
                run()
                count += 1
                elapsed = time.perf_counter() - t0
                if elapsed >= min_seconds and count >= 3:
                    break
            rates[name] = 2 * m * k * n * count / elapsed
    return {"peak": max(rates.values()), "shapes": rates}


def _gemm_fn(kind: str, m: int, k: int, n: int):
    import torch

    if kind in ("fp32", "bf16"):
        dtype = torch.float32 if kind == "fp32" else torch.bfloat16
        a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
        return lambda: torch.matmul(a, b)
    if kind == "int8":
        from helpers.models import quantize_dynamic_int8

        linear = quantize_dynamic_int8(torch.nn.Sequential(torch.nn.Linear(k, n, bias=False)))
        x = torch.randn(m, k)
        return lambda: linear(x)
    raise ValueError(f"unknown GEMM kind {kind!r}")
