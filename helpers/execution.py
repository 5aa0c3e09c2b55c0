"""Executing a profile's cells, on this machine or through submitit on Slurm, resumable after any crash.

Why done markers: a cell counts as finished only when runs/<profile>/done/<cell id>.json exists, and that
marker is written last, after the executed notebook and every record of the cell. A run killed at any moment
(kill -9 included) leaves the cell unmarked; the next run executes it again, and its records, written
atomically under fixed names, replace the earlier ones instead of adding duplicates.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path

from helpers import grid
from helpers.paths import figures_dir, results_dir, runs_dir
from helpers.atomic import write_atomic
from helpers.provenance import CELL_ID_ENV


def marker_path(profile: str, cell: grid.Cell) -> Path:
    return runs_dir(profile) / "done" / f"{cell.id}.json"


def record_cell_ids(profile: str) -> dict[str, str | None]:
    """Record file name -> id of the cell that wrote it (None for records written outside run_all)."""
    folder = results_dir(profile)
    return {p.name: json.loads(p.read_text())["provenance"].get("cell_id")
            for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def not_runnable_here(cell: grid.Cell, device: str | None = None) -> str | None:
    """Fine-tuning and evaluation of a variant the hardware cannot run or fine-tune are skipped (notebook 4 records
    the N/A), and so is every cell of a variant made from a fine-tuned parent that cannot be fine-tuned here (its
    merged weights never exist). `device`: where the cells will run ("cuda" for Slurm GPU jobs), when it is not
    this machine."""
    from helpers.variants import parent_unsupported_here, unsupported_here

    variant = cell.variant_spec()
    if variant is None:
        return None
    if cell.notebook in ("05_finetune", "06_rca_eval"):
        return unsupported_here(variant, device)
    return parent_unsupported_here(variant, device)  # notebooks 3 and 4 record their own N/A, not a parent's


def status(profile: str, cell: grid.Cell, owners: dict | None = None, device: str | None = None) -> str:
    """'done' (marker present and every record it lists still written by this cell), 'N/A' or 'pending'."""
    if not_runnable_here(cell, device):
        return "N/A"
    marker = marker_path(profile, cell)
    if not marker.is_file():
        return "pending"
    owners = record_cell_ids(profile) if owners is None else owners
    listed = json.loads(marker.read_text())["records"]
    return "done" if all(owners.get(name) == cell.id for name in listed) else "pending"


def run_cell(cell: grid.Cell, profile: str, kernel=None) -> float:
    """Execute one cell with papermill and mark it done; returns its seconds. This is what every executor runs.
    `kernel` (a started kernel manager, see `warm_kernel`) is reused instead of starting a fresh kernel."""
    import papermill

    out = runs_dir(profile) / cell.output_name
    out.parent.mkdir(parents=True, exist_ok=True)
    os.environ[CELL_ID_ENV] = cell.id  # a fresh kernel inherits it; every record it writes carries the cell id
    t0 = time.perf_counter()
    if kernel is not None:
        _run_in_kernel(kernel, f"%reset -f\nimport gc, os\nimport matplotlib.pyplot\nmatplotlib.pyplot.close('all')\n"
                               f"gc.collect()\nos.environ[{CELL_ID_ENV!r}] = {cell.id!r}")
    papermill.execute_notebook(str(grid.notebook_path(cell.notebook)), str(out), parameters=cell.parameters,
                               kernel_name="python3", progress_bar=False, cwd=str(grid.NOTEBOOKS),
                               **({"km": kernel} if kernel is not None else
                                  {"kernel_manager_class": _ipc_kernel_manager()}))
    seconds = time.perf_counter() - t0
    records = [name for name, owner in record_cell_ids(profile).items() if owner == cell.id]
    marker = {"id": cell.id, "label": cell.label, "parameters": cell.parameters, "records": records,
              "notebook_output": cell.output_name, "seconds": round(seconds, 1),
              "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_atomic(marker_path(profile, cell), json.dumps(marker, indent=2, default=str))
    return seconds


def _ipc_kernel_manager():
    """Kernels talk over local sockets (IPC), not TCP: no open port, works with networking disabled. The sockets
    live in a temporary folder (by default they land in the notebook's folder, and a killed kernel leaves them)."""
    from jupyter_client import AsyncKernelManager

    sockets = tempfile.mkdtemp(prefix="kernel-")
    atexit.register(shutil.rmtree, sockets, ignore_errors=True)

    class IpcKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(transport="ipc", ip=f"{sockets}/ipc", **kwargs)

    return IpcKernelManager


@contextmanager
def warm_kernel():
    """One kernel for the cells of one notebook (same code, other variant). Why: each fresh kernel spends
    ~10 s importing torch, transformers, pandas and starting CodeCarbon before any work; between cells the
    kernel's variables are deleted (%reset) and garbage-collected, so no model or figure carries over."""
    from jupyter_client import KernelManager

    with tempfile.TemporaryDirectory(prefix="kernel-") as sockets:  # absolute IPC paths: any cwd can connect
        km = KernelManager(transport="ipc", ip=f"{sockets}/ipc", kernel_name="python3")
        km.start_kernel(cwd=str(grid.NOTEBOOKS))
        try:
            yield km
        finally:
            km.shutdown_kernel(now=True)
            km.cleanup_resources()


def _run_in_kernel(km, code: str) -> None:
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive(code, timeout=60, store_history=False, output_hook=lambda msg: None)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"kernel reset failed: {reply['content'].get('evalue')}")
    finally:
        client.stop_channels()


def prepare(profile: str, cells: list[grid.Cell], everything: bool) -> None:
    """Before a run: drop temp files a killed run left, and move records that no current cell wrote (an older
    grid's, or all of them when `everything`) to results/<profile>.previous/, so the analysis never mixes them in."""
    folder = results_dir(profile)
    for tmp in folder.glob(".*.tmp"):
        tmp.unlink()
    current = {c.id for c in cells}
    stale = [name for name, owner in record_cell_ids(profile).items() if everything or owner not in current]
    if stale:
        previous = folder.with_name(folder.name + ".previous")
        shutil.rmtree(previous, ignore_errors=True)
        previous.mkdir()
        for name in stale:
            os.replace(folder / name, previous / name)
        print(f"{len(stale)} record(s) of other cells moved to results/{previous.name}/", flush=True)
    figures = figures_dir(profile)
    if everything and figures.is_dir() and any(figures.iterdir()):
        previous = figures.with_name(figures.name + ".previous")
        shutil.rmtree(previous, ignore_errors=True)
        os.replace(figures, previous)


def stages(cells: list[grid.Cell]) -> list[list[grid.Cell]]:
    """Consecutive cells of one notebook: they are independent of each other, and each stage needs the last."""
    out = []
    for cell in cells:
        if out and out[-1][0].notebook == cell.notebook:
            out[-1].append(cell)
        else:
            out.append([cell])
    return out


class LocalExecutor:
    """One cell after another from this process: never two measured cells on one device at a time. The cells
    of one notebook share a warm kernel unless `fresh_kernels` (one kernel per cell, papermill's default)."""

    name = "local"

    def __init__(self, fresh_kernels: bool = False):
        self.fresh_kernels = fresh_kernels

    def run_stage(self, stage: list[grid.Cell], profile: str):
        rest = list(stage)
        while rest:
            with nullcontext() if self.fresh_kernels or len(rest) == 1 else warm_kernel() as kernel:
                while rest:
                    cell = rest.pop(0)
                    print(f"-> {cell.label} [{cell.id}] {cell.parameters}", flush=True)
                    t0 = time.perf_counter()
                    try:
                        yield cell, run_cell(cell, profile, kernel), None
                    except Exception as exc:  # papermill keeps the executed notebook; the caller decides whether
                        yield cell, time.perf_counter() - t0, _failure(exc)  # to go on, then with a fresh kernel
                        break


class SubmititExecutor:
    """Cells as submitit jobs. On Slurm each stage is one job array with `gpus` GPUs and `cpus` CPUs (the profile's
    threads) per cell, so cells never share a device or a core; submitit's local executor (cluster='local', for
    tests and single machines) runs them one by one."""

    def __init__(self, cluster: str, profile: str, partition: str | None = None, time_min: int = 120,
                 gpus: int = 1, parallel: int = 8, cpus: int = 2):
        import submitit

        self.name = "slurm" if cluster == "slurm" else "submitit-local"
        self.executor = submitit.AutoExecutor(folder=runs_dir(profile) / "submitit" / "%j", cluster=cluster)
        self.executor.update_parameters(timeout_min=time_min, gpus_per_node=gpus if cluster == "slurm" else 0,
                                        cpus_per_task=cpus, slurm_partition=partition, slurm_array_parallelism=parallel)

    def run_stage(self, stage: list[grid.Cell], profile: str):
        jobs = [None] * len(stage)  # submitted one at a time below, unless Slurm runs the stage as an array
        if self.name == "slurm":
            try:
                jobs = self.executor.map_array(run_cell, stage, [profile] * len(stage))
            except Exception as exc:  # sbatch refused the array (unknown partition, limits): its own words
                lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
                yield stage[0], 0.0, "sbatch: " + next((line for line in lines if "error" in line.lower()), lines[0])
                return
            print(f"-> {stage[0].notebook}: {len(jobs)} cell(s) as job array {jobs[0].job_id.split('_')[0]}",
                  flush=True)
        for cell, job in zip(stage, jobs):
            if job is None:
                print(f"-> {cell.label} [{cell.id}] via submitit", flush=True)
                job = self.executor.submit(run_cell, cell, profile)
            t0 = time.perf_counter()
            try:
                yield cell, job.result(), None
            except Exception as exc:
                yield cell, time.perf_counter() - t0, f"{_failure(exc)} (job {job.job_id}, log: {job.paths.stderr})"


def _failure(exc) -> str:
    """'cell N: Error: message' from a papermill failure."""
    return f"cell {getattr(exc, 'exec_count', '?')}: {getattr(exc, 'ename', type(exc).__name__)}: " \
           f"{getattr(exc, 'evalue', exc)}".splitlines()[0]
