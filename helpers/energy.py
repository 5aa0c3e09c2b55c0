"""Energy of named measurement windows, with the method behind every figure.

Why this shape (after Zeus): `with measure("inference") as window:` wraps exactly the work to count; on exit
the window holds one reading per meter, CPU time, wall time and how busy the rest of the machine was.
Several meters run side by side, so their disagreement is on record; a meter that cannot read gives
joules=None and says why ("unavailable: ..."), never 0.

Meters, in the order the study trusts them:
- nvml: the GPU's cumulative energy counter (mJ), read before and after. Metered; GPU board only.
- rapl: the CPU package counters under /sys/class/powercap (µJ, wrap-around handled). Metered; whole package,
  so other processes count too (see `other_load`). Not readable on our VMs.
- codecarbon: CodeCarbon's offline tracker in process mode. Where there is no RAPL it *models* the CPU from
  its TDP table (4 W per thread for an unknown CPU) times this process's share of CPU use, and adds a
  constant RAM power; its CSV goes to the run folder, never the working directory.
- cpu-model: this process's CPU-seconds × 4.0 W per busy thread — CodeCarbon's figure for an unknown CPU,
  without its RAM constant. Modelled; counts only this process's compute (no RAM, idle, cooling).
On our CPU machines every joule is therefore modelled, not metered, and the records say so.
"""
from __future__ import annotations

import math
import statistics
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

WATTS_PER_THREAD = 4.0


def _codecarbon_version() -> str:
    try:
        return metadata.version("codecarbon")
    except metadata.PackageNotFoundError:
        return "(not installed)"


METHODS = {
    "nvml": "nvml total-energy counter (metered, GPU board)",
    "rapl": "rapl package counters (metered, whole CPU package incl. other processes)",
    "codecarbon": f"codecarbon {_codecarbon_version()} offline tracker, process mode (modelled CPU from TDP + constant RAM power)",
    "cpu-model": f"cpu-time model (process CPU-s x {WATTS_PER_THREAD} W/thread; modelled, no RAM/idle)",
}
CPU_MODEL_METHOD = METHODS["cpu-model"]
NVML_METHOD = METHODS["nvml"]
POWERCAP = Path("/sys/class/powercap")


class Unavailable(Exception):
    """A meter that cannot read here; the message says why."""


class CpuTimeModel:
    name = "cpu-model"

    def start(self):
        self._c0 = time.process_time()

    def stop(self) -> float:
        return (time.process_time() - self._c0) * WATTS_PER_THREAD


class Rapl:
    """Sum of the package-level RAPL counters (intel-rapl:N/energy_uj), with wrap-around."""

    name = "rapl"

    def __init__(self, root: Path = POWERCAP):
        self.root = Path(root)
        self.domains = sorted(self.root.glob("intel-rapl:[0-9]")) + sorted(self.root.glob("amd-rapl:[0-9]"))

    def _read(self) -> list[int]:
        if not self.domains:
            raise Unavailable(f"no RAPL package domains under {self.root}")
        try:
            return [int((d / "energy_uj").read_text()) for d in self.domains]
        except (OSError, ValueError) as exc:
            raise Unavailable(f"RAPL counter not readable ({type(exc).__name__}: {exc})") from None

    def start(self):
        self._start = self._read()

    def stop(self) -> float:
        total = 0
        for domain, before, after in zip(self.domains, self._start, self._read()):
            if after < before:  # the counter wrapped
                after += int((domain / "max_energy_range_uj").read_text())
            total += after - before
        return total / 1e6


class Nvml:
    name = "nvml"

    def __init__(self, index: int = 0):
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml, self._handle = pynvml, pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception as exc:
            raise Unavailable(f"{type(exc).__name__}: {exc}") from None

    def _read(self) -> int:
        try:
            return self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
        except Exception as exc:
            raise Unavailable(f"{type(exc).__name__}: {exc}") from None

    def start(self):
        self._start = self._read()

    def stop(self) -> float:
        millijoules = self._read() - self._start
        if millijoules <= 0:  # a window shorter than the counter's update period: unknown, not 0 J
            raise Unavailable("the counter did not advance (window shorter than its update period)")
        return millijoules / 1000


class CodeCarbon:
    """CodeCarbon's offline tracker; each window is one of its tasks. One tracker per process and folder:
    starting a tracker costs ~1.5 s here, a task a few milliseconds. Its CSV lands in output_dir."""

    name = "codecarbon"
    _trackers: dict = {}

    def __init__(self, output_dir: Path, country_iso_code: str = "SWE"):
        self.output_dir, self.country = Path(output_dir), country_iso_code

    def _tracker(self):
        key = (str(self.output_dir), self.country)
        if key not in self._trackers:
            import atexit
            import logging

            from codecarbon import OfflineEmissionsTracker

            self.output_dir.mkdir(parents=True, exist_ok=True)
            logging.getLogger("codecarbon").setLevel(logging.ERROR)
            tracker = OfflineEmissionsTracker(
                country_iso_code=self.country, tracking_mode="process", output_dir=str(self.output_dir),
                log_level="error", save_to_file=True, measure_power_secs=5, allow_multiple_runs=True)
            atexit.register(tracker.stop)
            self._trackers[key] = tracker
        return self._trackers[key]

    def start(self):
        self._tracker().start_task()

    def stop(self) -> float:
        data = self._tracker().stop_task()
        if data is None or data.energy_consumed is None:
            raise Unavailable("codecarbon returned no energy figure")
        return float(data.energy_consumed) * 3.6e6  # kWh -> J


def default_meters(codecarbon_dir: Path | None = None, gpu: bool = True) -> list:
    """Every meter worth trying here: NVML on CUDA (unless `gpu` is False: work that uses no GPU, where the board's
    counter would only show its idle draw), RAPL, CodeCarbon (when given a folder), the CPU model."""
    meters = []
    torch = _cuda_torch() if gpu else None
    if torch is not None:
        meters.append(_try(lambda: Nvml(torch.cuda.current_device()), "nvml"))
    meters.append(Rapl())
    if codecarbon_dir is not None:
        meters.append(CodeCarbon(codecarbon_dir))
    meters.append(CpuTimeModel())
    return meters


class _Broken:
    """Stands in for a meter that failed to initialise, so the failure is recorded like any other."""

    def __init__(self, name: str, why: str):
        self.name, self.why = name, why

    def start(self):
        raise Unavailable(self.why)


def _try(make, name):
    try:
        return make()
    except Unavailable as exc:
        return _Broken(name, str(exc))


@dataclass
class Window:
    """One measurement window: its name, wall time, CPU time, load from other processes, meter readings."""

    name: str
    duration_s: float = 0.0
    cpu_s: float = 0.0
    other_load: float | None = None  # share of the machine's CPU capacity used by *other* processes
    readings: list = field(default_factory=list)

    def joules(self) -> float | None:
        """The most trusted available reading (nvml, rapl, codecarbon, cpu-model)."""
        best = best_reading(self.readings)
        return best["joules"] if best else None

    def method(self) -> str:
        best = best_reading(self.readings)
        return best["method"] if best else "unavailable"

    def part(self, seconds: float, what: str) -> "Window":
        """The share of this window spent on `what` (`seconds` of it), its readings apportioned by time: for work
        that runs inside the window and has none of its own (training steps between validation passes). Each
        method says so."""
        share = min(1.0, max(0.0, seconds / self.duration_s)) if self.duration_s > 0 else math.nan
        note = f"; {what}: {share:.0%} of the window's time, joules apportioned by time"
        readings = [{**r, "joules": None if r["joules"] is None else r["joules"] * share,
                     "duration_s": r["duration_s"] * share, "method": r["method"] + note} for r in self.readings]
        return Window(self.name, self.duration_s * share, self.cpu_s * share, self.other_load, readings)


def how_obtained(methods) -> str | None:
    """'modelled', 'partly modelled' or 'metered' for the energy methods of a table (None when there are none);
    a method that read nothing ("unavailable") is neither."""
    modelled = ["modelled" in m for m in methods if "unavailable" not in m]
    return None if not modelled else "modelled" if all(modelled) else "partly modelled" if any(modelled) else "metered"


def best_reading(readings: list[dict]) -> dict | None:
    """The first available reading: meters are listed from most to least trusted."""
    return next((r for r in readings if r["joules"] is not None), None)


@contextmanager
def measure(name: str, meters: list | None = None, codecarbon_dir: Path | None = None, gpu: bool = True):
    """Measure the enclosed block with every meter; yields a Window filled on exit. `gpu=False` for CPU-only work
    (classical baselines) on a GPU machine: the GPU board's counter is then not read."""
    meters = default_meters(codecarbon_dir, gpu) if meters is None else meters
    window, started, failed = Window(name), [], {}
    _cuda_sync()
    for meter in meters:
        try:
            meter.start()
            started.append(meter)
        except Exception as exc:
            failed[meter.name] = _why(exc)
    busy0, t0, c0 = _machine_busy_s(), time.perf_counter(), time.process_time()
    try:
        yield window
    finally:
        _cuda_sync()
        window.duration_s = time.perf_counter() - t0
        window.cpu_s = time.process_time() - c0
        busy = _machine_busy_s()
        if busy is not None and busy0 is not None and window.duration_s > 0:
            cpus = _machine_cpus()
            window.other_load = max(0.0, (busy - busy0 - window.cpu_s) / (window.duration_s * cpus))
        joules = {}
        for meter in started:
            try:
                joules[meter.name] = meter.stop()
            except Exception as exc:
                failed[meter.name] = _why(exc)
        for meter in meters:
            value = joules.get(meter.name)
            method = METHODS[meter.name] if value is not None else f"{meter.name} unavailable: {failed[meter.name]}"
            window.readings.append({"meter": meter.name, "method": method, "joules": value,
                                    "duration_s": window.duration_s})


def _why(exc: Exception) -> str:
    return str(exc) if isinstance(exc, Unavailable) else f"{type(exc).__name__}: {exc}"


def _cuda_torch():
    """torch when this process has imported it and sees a CUDA device, else None. A process that never
    imported torch runs no GPU work, so measuring it neither needs torch's import nor the GPU's counter."""
    torch = sys.modules.get("torch")
    return torch if torch is not None and torch.cuda.is_available() else None


def _cuda_sync():
    """Wait for queued GPU work, so it is counted in the window it belongs to (no-op without torch/CUDA)."""
    torch = _cuda_torch()
    if torch is not None:
        torch.cuda.synchronize()


def _machine_busy_s() -> float | None:
    try:
        import psutil

        t = psutil.cpu_times()
        return sum(t) - t.idle - getattr(t, "iowait", 0.0)
    except Exception:
        return None


def _machine_cpus() -> int:
    """CPUs behind psutil's machine-wide busy time (not this process's affinity)."""
    import psutil

    return psutil.cpu_count() or 1


def t_interval(samples: list[float]) -> tuple[float, float | None]:
    """Mean and half-width of a 95 % Student-t interval (None for a single sample)."""
    mean = statistics.fmean(samples)
    if len(samples) < 2:
        return mean, None
    from scipy import stats

    return mean, float(stats.t.ppf(0.975, len(samples) - 1) * statistics.stdev(samples) / math.sqrt(len(samples)))


def measure_per_item(name: str, items: list, work, chunks: int = 3, warmup: int = 1, codecarbon_dir=None,
                     meters: list | None = None, align: int = 1):
    """Run work(items) in `chunks` equal parts, each its own measurement window, after a warm-up on the first
    `warmup` items inside a window that is not kept (the meters' one-time start-up falls there, not in a chunk).
    Returns (list of work results, summary). `align`: every part but the last holds a multiple of this many items
    (whole batches, so work batched `align` at a time sees the batches of one call).

    The summary has, per meter, total joules and duration, the mean joules per item over the chunks with a
    95 % t-interval, and the repeat count: repeating over chunks of distinct items costs no extra compute.
    """
    if not items:
        raise ValueError("no items to measure")
    units = -(-len(items) // align)  # whole batches
    chunks = max(1, min(chunks, units))
    _warm_up(name, [work], items[:warmup], meters, codecarbon_dir)
    bounds = [min(len(items), round(i * units / chunks) * align) for i in range(chunks + 1)]  # near-equal parts
    parts = [items[a:b] for a, b in zip(bounds, bounds[1:])]
    outputs, windows = [], []
    for part in parts:
        with measure(name, meters=meters, codecarbon_dir=codecarbon_dir) as window:
            outputs.append(work(part))
        windows.append((window, len(part)))
    return outputs, summarise(windows)


def measure_interleaved(name: str, works: dict, items: list, rounds: int = 4, warmup: int = 1,
                         codecarbon_dir=None, meters: list | None = None) -> dict:
    """Measure several works on the same items, interleaved. The items are cut into `rounds` near-equal chunks; in
    each round every work runs on that round's chunk in a window of its own, in the works' order on even rounds and
    in reverse on odd ones (A B C, C B A, ...): over an even number of rounds every work's windows sit at the same
    mean time, so a steady drift of the machine's speed during the measurement falls on every work alike, which
    separate notebook runs cannot ensure (identical work measured in two of them differed by half). Each work first
    runs on the first `warmup` items, in a window not kept (as in measure_per_item). Returns {key of works: summary}
    in summarise's shape, one window per round, plus `measurement`, an id shared by this call's summaries only;
    paired_ci95 compares two works round by round."""
    if not items or not works:
        raise ValueError("need items and at least one work to measure")
    rounds = max(1, min(rounds, len(items)))
    keys = list(works)
    _warm_up(name, works.values(), items[:warmup], meters, codecarbon_dir)
    bounds = [round(i * len(items) / rounds) for i in range(rounds + 1)]
    windows: dict = {key: [] for key in keys}
    for r, (a, b) in enumerate(zip(bounds, bounds[1:])):
        for key in keys if r % 2 == 0 else keys[::-1]:
            with measure(name, meters=meters, codecarbon_dir=codecarbon_dir) as window:
                works[key](items[a:b])
            windows[key].append((window, b - a))
    measurement = uuid.uuid4().hex[:12]  # the same for every work: their rounds pair only with each other
    return {key: {**summarise(windows[key]), "measurement": measurement} for key in keys}


def _warm_up(name: str, works, items: list, meters, codecarbon_dir) -> None:
    """Run each work on `items` (none when empty) in a window that is not kept: the meters' one-time start-up
    (CodeCarbon's tracker) and the works' first-call costs fall here, not in a measured window."""
    with measure(name, meters=meters, codecarbon_dir=codecarbon_dir):
        for work in works if items else ():
            work(items)


def paired_ci95(a: list[float], b: list[float]) -> float:
    """Half-width of the 95 % t-interval of the mean difference between two works measured round by round on the
    same items (measure_interleaved's joules_per_item_rounds); NaN unless both have the same two or more rounds."""
    if not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))) or len(a) != len(b) or len(a) < 2:
        return math.nan
    return t_interval([x - y for x, y in zip(a, b)])[1]


def summarise(windows: list[tuple[Window, int]]) -> dict:
    """Combine windows of (window, n_items) into per-meter readings with J/item mean, 95 % CI and repeats, and the
    J/item of each window (joules_per_item_rounds)."""
    readings = []
    for i, first in enumerate(windows[0][0].readings):
        values = [(w.readings[i]["joules"], n) for w, n in windows]
        duration = sum(w.duration_s for w, _ in windows)
        if any(j is None for j, _ in values):
            why = next(w.readings[i]["method"] for w, _ in windows if w.readings[i]["joules"] is None)
            readings.append({"meter": first["meter"], "method": why, "joules": None, "duration_s": duration,
                             "repeats": len(windows)})
            continue
        per_window = [j / n for j, n in values]
        mean, ci = t_interval(per_window)
        readings.append({"meter": first["meter"], "method": first["method"], "joules": sum(j for j, _ in values),
                         "duration_s": duration, "repeats": len(windows), "joules_per_item": mean,
                         "joules_per_item_ci95": ci, "joules_per_item_rounds": per_window})
    loads = [w.other_load for w, _ in windows if w.other_load is not None]
    totals = [r["joules"] for r in readings if r["joules"] is not None]
    return {"readings": readings, "items": sum(n for _, n in windows), "repeats": len(windows),
            "cpu_s": sum(w.cpu_s for w, _ in windows), "other_load_max": max(loads) if loads else None,
            "meter_disagreement": (max(totals) - min(totals)) / min(totals) if len(totals) > 1 and min(totals) > 0
            else None}


def per_item(source, unit: str = "ticket", n_items: int | None = None) -> dict:
    """Energy per item from the most trusted available meter, with its method and repeat count, e.g.
    {"joules_per_ticket": .., "joules_per_ticket_ci95": .., "energy_method": .., "energy_repeats": ..}.
    `source` is a measure_per_item summary, or a single Window together with n_items."""
    summary = summarise([(source, n_items)]) if isinstance(source, Window) else source
    reading = best_reading(summary["readings"])
    return {f"joules_per_{unit}": reading["joules_per_item"] if reading else None,
            f"joules_per_{unit}_ci95": reading["joules_per_item_ci95"] if reading else None,
            "energy_method": reading["method"] if reading else "unavailable", "energy_repeats": summary["repeats"]}


def ticket_metrics(summary: dict) -> dict:
    """Per-ticket energy of a measure_per_item summary (see per_item)."""
    return per_item(summary, "ticket")
