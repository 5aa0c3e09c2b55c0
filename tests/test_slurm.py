"""The grid through a real single-node Slurm (tests/slurm_cluster.py): the smoke profile as sbatch job arrays, one
per stage, with the records of the local executor; a killed driver resumes; failures and bad input in one line."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from helpers import execution, grid, paths
from helpers.results import load_records

import studyrun
from slurm_cluster import PARTITION, SlurmCluster, missing_reason

VOLATILE = ("joules", "seconds", "latency", "_per_s", "duration", "cpu", "energy", "load", "disagreement",
            "measurement")  # measurement: the id of one interleaved measurement (notebook 7)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = missing_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI must run the Slurm path, never skip it silently
        pytest.skip(reason)
    with SlurmCluster(tmp_path_factory.mktemp("slurm")) as running:
        yield running


def slurm_run(cluster, profile, *args, timeout=900):
    return subprocess.run([sys.executable, str(paths.ROOT / "run_all.py"), "--profile", profile, "--executor", "slurm",
                           "--partition", PARTITION, "--gpus", "0", *map(str, args)], cwd=paths.ROOT,
                          capture_output=True, text=True, timeout=timeout, env=cluster.env)


def comparable(record: dict) -> dict:
    """A record's fields that do not depend on when or where it ran: no times, energies or provenance."""
    metrics = {k: v for k, v in record["metrics"].items() if not any(word in k for word in VOLATILE)}
    extra = {k: v for k, v in record.items() if k in ("predictions", "ticket_ids", "notes", "spec", "compute_path")}
    return {**metrics, **extra}


GRIDS = {"fine-tuned": {**studyrun.FP32_ONLY, "params": {"baseline": "bf16-lora"},  # every notebook but pruning
                        "variants": [{"precision": "bf16", "finetune": "lora"}]},
         "whole smoke": {}}
FULL = "STUDY_FULL_SLURM"  # the whole smoke grid, both stages, takes far longer through Slurm (a process per cell)


def local_records(tmp_path, changes: dict) -> dict:
    """The local executor's records for a smoke-based grid: those of test_run_all's smoke run ("pytest-smoke"; made
    here when missing or from other code) for the cells this grid shares with it. Every grid here is the smoke grid
    or part of it, and a cell's records do not depend on the cells beside it, except notebook 7's, which measures
    each variant the grid evaluated."""
    def smoke_cells():  # stage 2's cell ids follow stage 1's records: read them again after a run
        return {c.id: c.label for c in grid.expand(grid.load_profile(str(studyrun.copy_profile(tmp_path, "pytest-smoke"))))}

    smoke, records = smoke_cells(), load_records("pytest-smoke")
    if not records or any(r["provenance"]["cell_id"] not in smoke for r in records):
        result = studyrun.run_all("--profile", studyrun.fresh_profile(tmp_path, "pytest-smoke"), timeout=1200)
        assert result.returncode == 0, result.stderr[-2000:]
        smoke, records = smoke_cells(), load_records("pytest-smoke")
    labels = {c.label for c in grid.expand(grid.load_profile(str(studyrun.copy_profile(tmp_path, "sub", **changes))))}
    shared = {(r["notebook"], r["phase"], r["variant"]): comparable(r) for r in records
              if smoke[r["provenance"]["cell_id"]] in labels}
    evaluated = {variant for notebook, _, variant in shared if notebook == "06_rca_eval"}
    return {key: record for key, record in shared.items()  # notebook 7 measures the variants its grid evaluated
            if key[0] != "07_energy_analysis" or key[2] in evaluated}


@pytest.mark.parametrize("grid_name", GRIDS)
def test_smoke_grid_through_slurm_job_arrays_equals_the_local_run(cluster, tmp_path, grid_name):
    if grid_name == "whole smoke" and not os.environ.get(FULL):
        pytest.skip(f"the whole smoke grid through Slurm takes far longer than the local run: {FULL}=1 runs it")
    changes = GRIDS[grid_name]
    want = local_records(tmp_path, changes)
    name = "pytest-slurm"
    profile = studyrun.fresh_profile(tmp_path, name, **changes)
    result = slurm_run(cluster, profile, timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    arrays = [line for line in result.stdout.splitlines() if "as job array" in line]
    stages = execution.stages(grid.expand(grid.load_profile(str(profile))))  # consecutive cells of one notebook
    assert len(arrays) == len(stages)  # one array per stage
    got = {(r["notebook"], r["phase"], r["variant"]): comparable(r) for r in load_records(name)}
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key] == want[key], key
    folders = {p.name.split("_")[0] for p in (paths.runs_dir(name) / "submitit").iterdir()}
    assert {line.split()[-1] for line in arrays} <= folders  # each array's jobs left their submitit logs


def test_killed_driver_resumes_without_losing_or_doubling_a_record(cluster, tmp_path):
    name = "pytest-slurm-killed"
    profile = studyrun.fresh_profile(tmp_path, name, **studyrun.FP32_ONLY)
    proc = subprocess.Popen([sys.executable, str(paths.ROOT / "run_all.py"), "--profile", str(profile), "--executor",
                             "slurm", "--partition", PARTITION, "--gpus", "0", "--only", "01_data,04_quantize"],
                            cwd=paths.ROOT, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    deadline = time.time() + 300
    while not list(paths.runs_dir(name).glob("done/*.json")) and time.time() < deadline:
        time.sleep(0.5)  # the data stage is done; the quantize array is submitted next
    time.sleep(2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed = slurm_run(cluster, profile, "--only", "01_data,04_quantize")
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert "01_data skipped: done earlier" in resumed.stdout
    records = load_records(name)
    keys = [(r["notebook"], r["phase"], r["variant"]) for r in records]
    assert len(keys) == len(set(keys)) and ("04_quantize", "compression", "fp32") in keys


def test_a_failing_job_names_its_id_and_log_and_keeps_the_other_records(cluster, tmp_path):
    name = "pytest-slurm-failing"
    profile = studyrun.fresh_profile(tmp_path, name, **studyrun.FP32_ONLY)
    done = slurm_run(cluster, profile, "--only", "01_data")
    assert done.returncode == 0, done.stderr[-2000:]
    kept = {p.name: p.read_text() for p in paths.results_dir(name).glob("*.json")}
    (paths.data_dir(name) / "validation.jsonl").unlink()  # the quantize cell will not find its tickets
    failed = slurm_run(cluster, profile, "--only", "04_quantize")
    assert failed.returncode == 1
    (line,) = [line for line in failed.stderr.splitlines() if line.startswith("run_all: 04_quantize[fp32] failed")]
    assert re.search(r"\(job \d+(_\d+)?, log: \S+submitit\S+_log\.err\)", line), line
    assert {p.name: p.read_text() for p in paths.results_dir(name).glob("*.json")} == kept


def test_unknown_partition_is_reported_from_sbatch_in_one_line(cluster, tmp_path):
    profile = studyrun.fresh_profile(tmp_path, "pytest-slurm-partition", **studyrun.FP32_ONLY)
    result = subprocess.run([sys.executable, str(paths.ROOT / "run_all.py"), "--profile", str(profile), "--executor",
                             "slurm", "--partition", "no-such-partition", "--gpus", "0", "--only", "01_data"],
                            cwd=paths.ROOT, capture_output=True, text=True, env=cluster.env, timeout=120)
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("run_all:")]
    assert "sbatch" in line and "partition" in line.lower()


def test_slurm_without_sbatch_is_refused_before_anything_is_written(tmp_path):
    name = "pytest-slurm-none"
    profile = studyrun.fresh_profile(tmp_path, name)
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # python, but no sbatch
    result = subprocess.run([sys.executable, str(paths.ROOT / "run_all.py"), "--profile", str(profile), "--executor",
                             "slurm", "--partition", "x"], cwd=paths.ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "needs Slurm's sbatch" in result.stderr and "--executor local" in result.stderr
    assert not paths.runs_dir(name).exists() and not paths.data_dir(name).exists()
