#!/usr/bin/env python
"""Run the study: execute the notebooks of a profile in order with papermill, one execution per cell.

    python run_all.py --profile smoke
    python run_all.py --profile default --from 05_finetune -p max_steps=20
    python run_all.py --profile smoke --only 06_rca_eval,07_energy_analysis
    python run_all.py --profile default --list            # the grid: cell ids and status
    python run_all.py --profile default --executor slurm --partition gpu

Resumable: a cell whose done marker and records are present is skipped (--force runs it again), so after a
crash or kill the same command finishes the grid. Cell ids hash the notebook's code, its parameters and the
cells it depends on: change any of them and that cell and those downstream run again.
Executed notebooks go to runs/<profile>/; records to results/<profile>/; figures to figures/<profile>/.
On a failure it stops, names the notebook and cell, and keeps the failed executed notebook.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import datetime, timezone

import yaml

import helpers  # noqa: F401  (offline mode for the kernels' environment too)
from helpers import execution, grid, params, report
from helpers.paths import runs_dir
from helpers.atomic import write_atomic


def parse_overrides(pairs: list[str]) -> dict:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"-p expects key=value, got {pair!r}")
        try:
            overrides[key] = yaml.safe_load(value)  # "5" -> 5, "true" -> True, "default" -> "default"
        except yaml.YAMLError as exc:
            raise ValueError(f"-p {key}: {value!r} is not valid YAML ({getattr(exc, 'problem', exc)})") from None
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


def summary(profile_name: str, timings: list) -> str:
    from helpers.results import load_records, records_table

    lines = [f"{'cell':48} {'status':8} {'seconds':>8}"]
    lines += [f"{cell.label:48} {status:8} {seconds:8.1f}" for cell, status, seconds in timings]
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
        from helpers.params import check_n_eval
        from helpers.ticket_files import load_user_tickets

        splits = load_user_tickets(params["dataset_path"], params.get("columns"), params.get("seed", 0))
        check_n_eval(params.get("n_eval", 0), len({t["root_cause"] for t in splits["test"]}), "file's test split")


def grid_listing(profile_name: str, cells: list[grid.Cell]) -> str:
    """--list: every cell of the grid with its id and status (done cells with their time and date)."""
    owners = execution.record_cell_ids(profile_name)
    states = [execution.status(profile_name, cell, owners) for cell in cells]
    lines = [f"{'id':12}  {'cell':48} {'status':8} {'seconds':>8}  finished"]
    for cell, state in zip(cells, states):
        marker = json.loads(execution.marker_path(profile_name, cell).read_text()) if state == "done" else {}
        lines.append(f"{cell.id:12}  {cell.label:48} {state:8} {marker.get('seconds', ''):>8}  "
                     f"{marker.get('finished_at', '')}")
    return "\n".join(lines + [", ".join(f"{states.count(s)} {s}" for s in ("done", "pending", "N/A"))])


STAGE2_WAITS = ("stage 2 and 07_energy_analysis: not derived yet; they follow from stage 1's evaluations "
                "(06_rca_eval), which are not all recorded")


def pending(profile_name: str, cells: list[grid.Cell], force: bool, device: str | None, timings: list) -> list[grid.Cell]:
    """The cells to run; the others go to `timings` as skipped (done earlier) or N/A (this hardware), with a line."""
    owners = execution.record_cell_ids(profile_name)
    todo = []
    for cell in cells:
        state = execution.status(profile_name, cell, owners, device)
        if state == "pending" or (state == "done" and force):
            todo.append(cell)
        else:
            timings.append((cell, "skipped" if state == "done" else "N/A", 0.0))
            print(f"-- {cell.label} skipped: " + ("done earlier (--force runs it again)" if state == "done" else
                  f"N/A on this hardware: {execution.not_runnable_here(cell, device)}"), flush=True)
    return todo


def make_executor(args, profile_name: str, threads: int):
    if args.executor == "local":
        return execution.LocalExecutor(fresh_kernels=args.fresh_kernels)
    cluster = "slurm" if args.executor == "slurm" else "local"
    return execution.SubmititExecutor(cluster, profile_name, args.partition, args.time_min, args.gpus, cpus=threads)


def write_timings(profile_name: str, executor: str, started: datetime, t0: float, timings: list,
                  whole_grid: bool) -> None:
    """runs/<profile>/timings.json: wall time and per-cell status of the last run of the whole grid (read by
    bench/run.py); a run of part of it (--only, --from, or resumed with cells done) writes timings-partial.json."""
    cells = [{"id": c.id, "label": c.label, "status": s, "seconds": round(sec, 1)} for c, s, sec in timings]
    doc = {"profile": profile_name, "started_at": started.isoformat(timespec="seconds"),
           "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "wall_s": round(time.perf_counter() - t0, 1), "executor": executor, "cells": cells}
    complete = whole_grid and not any(status == "skipped" for _, status, _ in timings)
    name = "timings.json" if complete else "timings-partial.json"
    write_atomic(runs_dir(profile_name) / name, json.dumps(doc, indent=2))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="smoke", help="configs/<name>.yaml or a path to a profile YAML")
    parser.add_argument("--only", help="comma-separated notebook names to run (e.g. 06_rca_eval)")
    parser.add_argument("--from", dest="start", help="start at this notebook (e.g. 05_finetune)")
    parser.add_argument("-p", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a profile parameter (repeatable)")
    parser.add_argument("--list", action="store_true", help="print the grid's cells with their ids and status")
    parser.add_argument("--force", action="store_true", help="run cells again even when they are done")
    parser.add_argument("--executor", choices=("local", "slurm", "submitit-local"), default="local",
                        help="local: here, one cell at a time; slurm: submitit job arrays, a GPU per cell; "
                             "submitit-local: the submitit path on this machine")
    parser.add_argument("--fresh-kernels", action="store_true",
                        help="local: a new kernel for every cell (default: the cells of one notebook share one)")
    parser.add_argument("--partition", help="Slurm partition (--executor slurm)")
    parser.add_argument("--time-min", type=int, default=120, help="time limit per cell in minutes (submitit)")
    parser.add_argument("--gpus", type=int, default=1, help="GPUs per cell on Slurm (default 1)")
    parser.add_argument("--keep-going", action="store_true",
                        help="after a failed cell, run the remaining ones and list every failure at the end")
    args = parser.parse_args(argv)
    try:
        profile = grid.load_profile(args.profile)
        overrides = parse_overrides(args.overrides)
        profile["params"].update(overrides)
        params.check_params(profile["params"], [v.name for v in profile["variants"] + grid.served_variants(profile)])
        all_cells = grid.expand(profile)
        cells = select(all_cells, args.only, args.start)
        check_dataset(profile["params"])
        if args.executor == "slurm" and not shutil.which("sbatch"):
            raise ValueError("--executor slurm needs Slurm's sbatch, and there is none on this machine's PATH; "
                             "run here with --executor local (the default)")
    except (ValueError, FileNotFoundError) as exc:
        print(f"run_all: {exc}", file=sys.stderr)
        return 2
    name = profile["params"]["profile"]
    if args.list:
        print(grid_listing(name, cells) + (f"\n{STAGE2_WAITS}" if profile["stage2"] and not any(
            c.notebook == "07_energy_analysis" for c in all_cells) else ""))
        return 0
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    whole_grid = not (args.only or args.start)
    execution.prepare(name, all_cells, everything=args.force and whole_grid)
    device = "cuda" if args.executor == "slurm" and args.gpus > 0 else None  # the nodes', not this machine's
    executor = make_executor(args, name, int(profile["params"].get("threads", 2)))
    timings, failures, seen, failed = [], [], set(), set()
    while True:  # again after each pass: stage 2's cells appear once stage 1's evaluations are recorded
        cells = select(grid.expand(profile), args.only, args.start)
        todo = pending(name, [c for c in cells if c.id not in seen], args.force, device, timings)
        if todo or not seen:
            print(f"profile {name}: {len(todo)} of {len(cells)} cells to run, {executor.name} executor -> runs/{name}/",
                  flush=True)
        seen |= {c.id for c in cells}
        if not todo:
            break
        for stage in execution.stages(todo):
            for cell in [c for c in stage if failed & set(c.upstream)]:  # never run on a failed cell's output
                failed.add(cell.id)
                timings.append((cell, "N/A", 0.0))
                print(f"-- {cell.label}: N/A: parent failed", flush=True)
            runnable = [c for c in stage if c.id not in failed]
            for cell, seconds, error in executor.run_stage(runnable, name) if runnable else ():
                timings.append((cell, "FAILED" if error else "ok", seconds))
                if error:
                    failed.add(cell.id)
                    failures.append(f"run_all: {cell.label} failed at {error}\n"
                                    f"executed notebook kept: runs/{name}/{cell.output_name}")
                    if not args.keep_going:
                        break
            if failures and not args.keep_going:
                break
        if failures and not args.keep_going:
            break
    all_cells = grid.expand(profile)
    if profile["stage2"] and not any(c.notebook == "07_energy_analysis" for c in all_cells):
        print(STAGE2_WAITS, file=sys.stderr)
    write_timings(name, executor.name, started, t0, timings, whole_grid)
    print(summary(name, timings))
    if failures:
        print("\n" + "\n".join(failures), file=sys.stderr)
        return 1
    owners = execution.record_cell_ids(name)
    done = [runs_dir(name) / c.output_name for c in all_cells if execution.status(name, c, owners) == "done"]
    print(f"\nreport: {report.build_report(name, done)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
