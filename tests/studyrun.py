"""Shared by the tests that run run_all.py for real: the command, and a throwaway profile with clean folders."""
import shutil
import subprocess
import sys

import yaml

from helpers import paths


def run_all(*args, timeout=900):
    return subprocess.run([sys.executable, str(paths.ROOT / "run_all.py"), *map(str, args)], cwd=paths.ROOT,
                          capture_output=True, text=True, timeout=timeout)


# The smoke profile cut to one variant, the model at fp32, in one stage: the smallest grid of every notebook.
FP32_ONLY = {"variants": [{"precision": "fp32"}], "compression_sweep": [], "serve": [], "finetune_energy": None,
             "stage2": None, "params": {"baseline": "fp32"}}


def copy_profile(tmp_path, name, **changes):
    """A copy of the smoke profile under another name (its output folders untouched); `params` in `changes` are
    merged into the profile's, every other key replaces the profile's."""
    profile = yaml.safe_load((paths.CONFIGS / "smoke.yaml").read_text())
    params = {**profile["params"], **changes.pop("params", {})}
    profile.update(changes, params=params)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(profile))
    return path


def fresh_profile(tmp_path, name, **changes):
    """A copy of the smoke profile under another name, with its output folders (and their .previous) cleared."""
    path = copy_profile(tmp_path, name, **changes)
    for folder in (paths.data_dir(name), paths.results_dir(name), paths.runs_dir(name), paths.figures_dir(name)):
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(f"{folder}.previous", ignore_errors=True)
    return path
