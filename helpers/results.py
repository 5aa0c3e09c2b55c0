"""Result records: one JSON file per (notebook, phase, variant), written atomically (helpers.atomic), each with
its energy readings and provenance (helpers.provenance); `Run` writes a notebook execution's records."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from helpers.atomic import write_atomic
from helpers.paths import results_dir, runs_dir
from helpers.provenance import provenance

REQUIRED_FIELDS = ("notebook", "phase", "variant", "metrics", "energy", "compute_path", "provenance")


def record_path(profile: str, notebook: str, phase: str, variant: str) -> Path:
    return results_dir(profile) / f"{notebook}__{phase}__{variant}.json"


def energy_readings(energy) -> tuple[list, dict]:
    """Readings and context from a measurement Window, a measure_per_item summary, or a list of readings."""
    from helpers.energy import Window, summarise

    if isinstance(energy, Window):
        energy = summarise([(energy, 1)])
    if isinstance(energy, dict):
        context = {k: v for k, v in energy.items() if k != "readings"}
        return energy["readings"], context
    return list(energy), {}


def write_record(profile: str, notebook: str, phase: str, variant: str, metrics: dict, energy, compute_path: str,
                 params: dict, threads: int | None = None, seed: int | None = None, extra: dict | None = None) -> Path:
    """Validate and write one result record. `energy` is a helpers.energy Window, a measure_per_item summary,
    or a list of readings; every reading needs a method, joules (None when unavailable) and duration."""
    readings, context = energy_readings(energy)
    for reading in readings:
        if not {"method", "joules", "duration_s"} <= set(reading):
            raise ValueError(f"energy reading {reading} lacks method, joules or duration_s")
    record = {
        "notebook": notebook, "phase": phase, "variant": variant, "metrics": metrics, "energy": readings,
        "energy_context": context, "compute_path": compute_path,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "provenance": provenance(params, threads, seed, profile), **(extra or {}),
    }
    text = json.dumps(record, indent=2, default=_jsonable)
    return write_atomic(record_path(profile, notebook, phase, variant), text)


@dataclass
class Run:
    """What all records of one notebook execution share; `run.write(...)` adds one record."""

    notebook: str
    profile: str
    params: dict
    threads: int | None = None
    seed: int | None = None

    @classmethod
    def from_parameters(cls, notebook: str, namespace: dict, threads: int | None = None, seed: int | None = None):
        """The Run of a notebook execution, its params read from `namespace` (the notebook's globals()) under every
        name its parameters cell declares: that cell is the one list of parameters, papermill's values included."""
        from helpers.grid import declared_parameters

        params = {name: namespace[name] for name in declared_parameters(notebook)}
        return cls(notebook, params["profile"], params, threads, seed)

    def write(self, phase: str, variant: str, metrics: dict, energy, compute_path: str, **extra) -> Path:
        return write_record(self.profile, self.notebook, phase, variant, metrics, energy, compute_path, self.params,
                            self.threads, self.seed, extra)

    @property
    def codecarbon_dir(self) -> Path:
        """CodeCarbon's CSV goes to the run folder, never the working directory."""
        return runs_dir(self.profile) / "codecarbon"

    def measure(self, name: str, gpu: bool = True):
        """A measurement window with every meter available here (helpers.energy.measure); gpu=False for work
        that runs on the CPU only, so a GPU machine's board counter does not stand in for it."""
        from helpers.energy import measure

        return measure(name, codecarbon_dir=self.codecarbon_dir, gpu=gpu)

    def measure_per_item(self, name: str, items: list, work, chunks: int = 3, align: int = 1):
        """Measure work over items in chunks (helpers.energy.measure_per_item); returns (outputs, summary)."""
        from helpers.energy import measure_per_item

        return measure_per_item(name, items, work, chunks=chunks, codecarbon_dir=self.codecarbon_dir, align=align)

    def measure_interleaved(self, name: str, works: dict, items: list, rounds: int = 4):
        """Measure several works on the same items in rotation (helpers.energy.measure_interleaved); returns
        {key of works: summary}."""
        from helpers.energy import measure_interleaved

        return measure_interleaved(name, works, items, rounds, codecarbon_dir=self.codecarbon_dir)


def _jsonable(value):
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a result record")


def load_record(profile: str, notebook: str, phase: str, variant: str) -> dict:
    """One record; a missing one names the notebook that writes it."""
    path = record_path(profile, notebook, phase, variant)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run notebooks/{notebook}.ipynb for profile {profile!r} first")
    return read_record(path)


def load_records(profile: str) -> list[dict]:
    """All complete records of a profile (temp files are ignored)."""
    folder = results_dir(profile)
    return [read_record(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def read_record(path: Path) -> dict:
    """One record file. Records written before the field was renamed call the compute path "kernel"."""
    record = json.loads(Path(path).read_text())
    if "kernel" in record:
        record["compute_path"] = record.pop("kernel")
    return record


def records_table(records: list[dict]):
    """One row per record: identity, spec, metrics, and the most trusted available energy reading."""
    import pandas as pd

    from helpers.energy import best_reading

    rows = []
    for r in records:
        row = {"notebook": r["notebook"], "phase": r["phase"], "variant": r["variant"], "compute_path": r["compute_path"],
               "spec": r.get("spec"), **(r.get("spec") or {})}
        row.update(r["metrics"])
        reading = best_reading(r["energy"])
        if reading:
            row.update(joules=reading["joules"], duration_s=reading["duration_s"], repeats=reading.get("repeats", 1))
            row.setdefault("energy_method", reading["method"])
        rows.append(row)
    return pd.DataFrame(rows)
