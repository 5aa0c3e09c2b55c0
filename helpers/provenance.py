"""Provenance stored with every record: commit, package versions, hardware, threads, seed, parameters."""
from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from helpers.paths import ROOT

CELL_ID_ENV = "STUDY_CELL_ID"  # set by run_all for each cell it executes; absent when a notebook is run by hand
PACKAGES = ("torch", "transformers", "trl", "peft", "bitsandbytes", "accelerate", "datasets",
            "codecarbon", "scikit-learn", "papermill", "numpy", "pandas")


def git_sha() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        sha = out.stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def hardware() -> dict:
    info = {"machine": platform.machine(), "cpu": _cpu_model(), "cpu_count": os.cpu_count(), "gpu": None}
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def provenance(params: dict, threads: int | None = None, seed: int | None = None, profile: str | None = None) -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"git_sha": git_sha(), "packages": versions, "python": platform.python_version(),
            "hardware": hardware(), "threads": threads, "seed": seed, "profile": profile,
            "cell_id": os.environ.get(CELL_ID_ENV), "parameters": params}
