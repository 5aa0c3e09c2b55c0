#!/usr/bin/env python
"""Run the study: execute the notebooks of a profile in order with papermill, one execution per cell.

    python run_all.py --profile smoke
    python run_all.py --profile default --from 05_finetune -p max_steps=20
    python run_all.py --profile smoke --only 06_rca_eval,07_energy_analysis

Executed notebooks go to runs/<profile>/; records to results/<profile>/; figures to figures/<profile>/.
On a failure it stops, names the notebook and cell, and keeps the failed executed notebook.
"""
from __future__ import annotations

import argparse
import sys
import time

import yaml

import helpers  # noqa: F401  (offline mode for the kernels' environment too)
from helpers import grid, params
from helpers.paths import runs_dir


def parse_overrides(pairs: list[str]) -> dict:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"-p expects key=value, got {pair!r}")
        overrides[key] = yaml.safe_load(value)  # "5" -> 5, "true" -> True, "default" -> "default"
    return overrides


def select(cells: list[grid.Cell], only: str | None, start: str | None) -> list[grid.Cell]:
    names = grid.NOTEBOOKS_IN_ORDER
    for given in ([start] if start else []) + (only.split(",") if only else []):
        if given not in names:
            raise ValueError(f"unknown notebook {given!r}; choose from {', '.join(names)}")
    if start:
        cells = [c for c in cells if names.index(c.notebook) >= names.index(start)]
    if only:
        cells = [c for c in cells if c.notebook in only.split(",")]
    return cells


def ipc_kernel_manager():
    """Kernels talk over local sockets (IPC), not TCP: no open port, works with networking disabled."""
    from jupyter_client import AsyncKernelManager

    class IpcKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(transport="ipc", **kwargs)

    return IpcKernelManager


def execute(cell: grid.Cell, profile_name: str) -> None:
    import papermill

    out = runs_dir(profile_name) / cell.output_name
    out.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(str(grid.notebook_path(cell.notebook)), str(out), parameters=cell.parameters,
                               kernel_name="python3", progress_bar=False, cwd=str(grid.NOTEBOOKS),
                               kernel_manager_class=ipc_kernel_manager())


def set_aside_previous_results(profile_name: str) -> None:
    """A full run starts from empty records and figures, so the analysis never mixes in variants of an older
    grid; the previous ones are kept in results/<profile>.previous/ and figures/<profile>.previous/."""
    import os
    import shutil

    from helpers.paths import figures_dir, results_dir

    for current in (results_dir(profile_name), figures_dir(profile_name)):
        if current.is_dir() and any(current.iterdir()):
            previous = current.with_name(current.name + ".previous")
            shutil.rmtree(previous, ignore_errors=True)
            os.replace(current, previous)
            print(f"previous {current.parent.name} moved to {current.parent.name}/{previous.name}/", flush=True)


def not_runnable_here(cell: grid.Cell) -> str | None:
    """Fine-tuning and evaluation of a variant this hardware cannot run are skipped (notebook 4 records the N/A)."""
    if cell.notebook not in ("05_finetune", "06_rca_eval"):
        return None
    from helpers.variants import unsupported_here

    return unsupported_here(cell.variant_spec())


def failed_cell(exc) -> str:
    """'cell N: Error: message' from a papermill failure (papermill keeps the executed notebook)."""
    return f"cell {getattr(exc, 'exec_count', '?')}: {getattr(exc, 'ename', type(exc).__name__)}: " \
           f"{getattr(exc, 'evalue', exc)}"


def summary(profile_name: str, timings: list[tuple[str, str, float]]) -> str:
    from helpers.results import load_records, records_table

    lines = [f"{'cell':48} {'status':8} {'seconds':>8}"]
    lines += [f"{label:48} {status:8} {seconds:8.1f}" for label, status, seconds in timings]
    table = records_table(load_records(profile_name))
    if not table.empty:
        cols = [c for c in ("notebook", "phase", "variant", "macro_f1", "accuracy", "perplexity",
                            "joules_per_ticket", "joules", "energy_method") if c in table]
        lines += ["", f"results/{profile_name}/ (energy_method says how each figure was obtained):",
                  table[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}")]
    return "\n".join(lines)


def check_dataset(params: dict) -> None:
    """A team's own ticket file is validated before any notebook starts (the data notebook does it again)."""
    if params.get("dataset_path"):
        from helpers.ticket_files import load_user_tickets

        load_user_tickets(params["dataset_path"], params.get("columns"), params.get("seed", 0))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="smoke", help="configs/<name>.yaml or a path to a profile YAML")
    parser.add_argument("--only", help="comma-separated notebook names to run (e.g. 06_rca_eval)")
    parser.add_argument("--from", dest="start", help="start at this notebook (e.g. 05_finetune)")
    parser.add_argument("-p", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a profile parameter (repeatable)")
    args = parser.parse_args(argv)
    try:
        profile = grid.load_profile(args.profile)
        overrides = parse_overrides(args.overrides)
        grid.check_overrides(overrides)
        profile["params"].update(overrides)
        params.check_params(profile["params"])
        cells = select(grid.expand(profile), args.only, args.start)
        check_dataset(profile["params"])
    except (ValueError, FileNotFoundError) as exc:
        print(f"run_all: {exc}", file=sys.stderr)
        return 2
    name = profile["params"]["profile"]
    if not args.only and not args.start:
        set_aside_previous_results(name)
    print(f"profile {name}: {len(cells)} notebook executions -> runs/{name}/", flush=True)
    timings = []
    for cell in cells:
        reason = not_runnable_here(cell)
        if reason:
            timings.append((cell.label, "N/A", 0.0))
            print(f"-- {cell.label} skipped: N/A on this hardware: {reason}", flush=True)
            continue
        print(f"-> {cell.label} {cell.parameters}", flush=True)
        t0 = time.perf_counter()
        try:
            execute(cell, name)
        except Exception as exc:
            timings.append((cell.label, "FAILED", time.perf_counter() - t0))
            print(summary(name, timings))
            print(f"\nrun_all: {cell.label} failed at {failed_cell(exc)}\n"
                  f"executed notebook kept: runs/{name}/{cell.output_name}", file=sys.stderr)
            return 1
        timings.append((cell.label, "ok", time.perf_counter() - t0))
    print(summary(name, timings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
