"""What measuring costs: a workload timed bare and inside helpers.energy.measure, and a tracker's start."""
from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

from bench.hardware import ROOT, Timer


def meter_overhead(work, codecarbon_dir: Path, repeats: int = 7) -> dict:
    """work() timed bare and inside helpers.energy.measure (CodeCarbon + CPU model, as the notebooks use),
    alternating, `repeats` each; plus the fixed cost of an empty window. Medians."""
    from helpers.energy import measure

    with measure("bench-warmup", codecarbon_dir=codecarbon_dir):  # starts CodeCarbon's tracker once
        work()
    bare, metered, loads = [], [], []
    for _ in range(repeats):
        with Timer() as t:
            work()
        bare.append(t.seconds)
        loads.append(t.other_load)
        with Timer() as t:
            with measure("bench-overhead", codecarbon_dir=codecarbon_dir):
                work()
        metered.append(t.seconds)
        loads.append(t.other_load)
    empty = []
    for _ in range(max(5, repeats)):
        with Timer() as t:
            with measure("bench-empty", codecarbon_dir=codecarbon_dir):
                pass
        empty.append(t.seconds)
    b, m = statistics.median(bare), statistics.median(metered)
    return {"bare_s": b, "metered_s": m, "overhead_pct": 100 * (m - b) / b, "empty_window_s": statistics.median(empty),
            "empty_window_pct": 100 * statistics.median(empty) / b, "repeats": repeats,
            "other_load_max": max((x for x in loads if x is not None), default=None)}


def tracker_start_cost(codecarbon_dir: Path) -> float:
    """Seconds to start a CodeCarbon tracker (paid once per notebook process), in a fresh subprocess."""
    code = ("import time, helpers; from pathlib import Path; from helpers.energy import measure;"
            "t0 = time.perf_counter()\nwith measure('x', codecarbon_dir=Path(%r)): pass\n"
            "print(time.perf_counter() - t0)") % str(codecarbon_dir)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    try:
        return float(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return float("nan")
