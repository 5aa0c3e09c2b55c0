"""Wall time of the study: run_all.py timed here, or an earlier run read from its timings or papermill metadata."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

from bench.hardware import ROOT, Timer


def run_profile(profile: str) -> dict:
    """Run run_all.py for a profile in a subprocess and time it; attach runs/<profile>/timings.json if written."""
    help_text = subprocess.run([sys.executable, "run_all.py", "--help"], cwd=ROOT, capture_output=True, text=True).stdout
    command = [sys.executable, "run_all.py", "--profile", profile] + (["--force"] if "--force" in help_text else [])
    started = datetime.now(timezone.utc)
    with Timer() as timer:
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    result = {"profile": profile, "wall_s": timer.seconds, "rc": proc.returncode, "other_load": timer.other_load,
              "source": f"run here: `{' '.join(['python'] + command[1:])}` at {started.isoformat(timespec='seconds')}",
              "stderr_tail": proc.stderr[-600:] if proc.returncode else ""}
    timings = ROOT / "runs" / profile / "timings.json"
    if timings.is_file() and timings.stat().st_mtime >= started.timestamp():
        result["by_notebook"] = by_notebook(json.loads(timings.read_text()).get("cells", []))
    else:
        result["by_notebook"] = papermill_breakdown(profile, since=started.timestamp())[1]
    return result


def by_notebook(cells: list[dict]) -> dict:
    out: dict = {}
    for cell in cells:
        key = cell.get("label", cell.get("id", "?")).split("__")[0].split("[")[0].split(" ")[0]
        out[key] = out.get(key, 0.0) + float(cell.get("seconds", 0.0))
    return out


def papermill_breakdown(profile: str, since: float = 0.0) -> tuple[dict | None, dict]:
    """(span of the run from papermill's start/end times, seconds per notebook) from runs/<profile>/*.ipynb."""
    runs = []
    for path in sorted((ROOT / "runs" / profile).glob("*.ipynb")):
        if path.stat().st_mtime < since:
            continue
        meta = json.loads(path.read_text()).get("metadata", {}).get("papermill", {})
        if meta.get("start_time") and meta.get("end_time"):
            runs.append((path.stem, datetime.fromisoformat(meta["start_time"]), datetime.fromisoformat(meta["end_time"]),
                         float(meta.get("duration") or 0.0)))
    # A full run starts with 01_data: notebooks that started before the latest 01_data belong to older runs.
    first = max((start for stem, start, _, _ in runs if stem == "01_data"), default=None)
    runs = [run for run in runs if first is None or run[1] >= first]
    starts, ends, per = [run[1] for run in runs], [run[2] for run in runs], {}
    for stem, _, _, duration in runs:
        per[stem.split("__")[0]] = per.get(stem.split("__")[0], 0.0) + duration
    if not starts:
        return None, per
    return {"start": min(starts), "end": max(ends), "wall_s": (max(ends) - min(starts)).total_seconds()}, per


def previous_profile(profile: str) -> dict:
    """Wall time of an earlier run: runs/<profile>/timings.json, else papermill metadata, else 'not run'."""
    timings = ROOT / "runs" / profile / "timings.json"
    if timings.is_file():
        data = json.loads(timings.read_text())
        return {"profile": profile, "wall_s": data["wall_s"], "by_notebook": by_notebook(data.get("cells", [])),
                "source": f"runs/{profile}/timings.json (run started {data.get('started_at', '?')}; not run by this bench)"}
    span, per = papermill_breakdown(profile)
    if span:
        return {"profile": profile, "wall_s": span["wall_s"], "by_notebook": per,
                "source": f"papermill start/end times of runs/{profile}/*.ipynb ({span['start']:%Y-%m-%d %H:%M} to "
                          f"{span['end']:%H:%M} UTC; code of that time, not run by this bench)"}
    return {"profile": profile, "wall_s": None, "by_notebook": {}, "source": "not run"}


def finetune_floor(profile: str, flop_per_token: float, flop_per_s: float) -> dict | None:
    """The least time the profile's fine-tuning alone could take at `flop_per_s`: the training tokens of every
    fine-tuning record under results/<profile>/ x the useful FLOPs per training token. None without such records."""
    from helpers import results

    cells = [r for r in results.load_records(profile) if r["phase"] == "finetune"]
    tokens = sum(r["metrics"].get("train_tokens") or 0 for r in cells)
    return {"cells": len(cells), "train_tokens": tokens, "seconds": tokens * flop_per_token / flop_per_s} if cells else None
