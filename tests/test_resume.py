"""The grid survives faults: stable cell ids, done markers, stale records set aside, kill -9 then resume,
and the same cells through submitit's local executor."""
import functools
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import execution, grid, paths
from helpers.results import load_records
from helpers.variants import Variant

import studyrun

QUALITY = ("weight_bytes", "disk_bytes", "perplexity")  # deterministic on one machine; timings and joules are not


run_all = functools.partial(studyrun.run_all, timeout=600)


def two_cell_profile(tmp_path, name):
    """The smoke parameters with one fp32 variant: `--only 01_data,04_quantize` is a grid of two cells."""
    return studyrun.fresh_profile(tmp_path, name, **studyrun.FP32_ONLY)


ONLY = ("--only", "01_data,04_quantize")


def test_cell_ids_are_stable_and_follow_their_inputs(tmp_path):
    path = str(studyrun.fresh_profile(tmp_path, "pytest-ids", serve=[], stage2=None))  # one stage, nothing recorded
    smoke = grid.load_profile(path)
    first, again = grid.expand(smoke), grid.expand(grid.load_profile(path))
    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == len(first)
    smoke["params"]["max_steps"] = 5  # fine-tuning changes: it and what reads its adapter run again
    changed = {c.label for c, d in zip(first, grid.expand(smoke)) if c.id != d.id}
    assert changed == {"05_finetune[bf16-lora]", "06_rca_eval[bf16-lora]", "07_energy_analysis"}
    grown = grid.load_profile(path)
    grown["variants"].append(Variant("fp16"))  # a new variant leaves the other variants' cells alone
    before = {c.label: c.id for c in first}
    after = {c.label: c.id for c in grid.expand(grown)}
    assert set(after) - set(before) == {"04_quantize[fp16]", "06_rca_eval[fp16]"}
    assert {label for label in before if after[label] != before[label]} == {"07_energy_analysis"}


def test_prepare_sets_aside_records_no_current_cell_wrote_and_drops_temp_files():
    name = "pytest-prepare"
    folder = paths.results_dir(name)
    subprocess.run(["rm", "-rf", str(folder), f"{folder}.previous"], check=True)
    folder.mkdir(parents=True)
    cell = grid.Cell("01_data", None, {}, "abc123")
    for record, owner in (("kept.json", "abc123"), ("old.json", "zzz999"), ("by-hand.json", None)):
        (folder / record).write_text(json.dumps({"provenance": {"cell_id": owner}}))
    (folder / ".kept.json.x1.tmp").write_text('{"half": ')
    execution.prepare(name, [cell], everything=False)
    assert sorted(p.name for p in folder.iterdir()) == ["kept.json"]
    assert sorted(p.name for p in folder.with_name(f"{name}.previous").iterdir()) == ["by-hand.json", "old.json"]
    execution.prepare(name, [cell], everything=True)  # --force on a full run starts from nothing
    assert not list(folder.iterdir())


def test_a_marker_whose_records_were_replaced_is_not_done():
    name = "pytest-marker"
    subprocess.run(["rm", "-rf", str(paths.results_dir(name)), str(paths.runs_dir(name))], check=True)
    cell = grid.Cell("01_data", None, {}, "abc123")
    paths.results_dir(name).mkdir(parents=True)
    record = paths.results_dir(name) / "r.json"
    record.write_text(json.dumps({"provenance": {"cell_id": "abc123"}}))
    execution.marker_path(name, cell).parent.mkdir(parents=True)
    execution.marker_path(name, cell).write_text(json.dumps({"records": ["r.json"]}))
    assert execution.status(name, cell) == "done"
    record.write_text(json.dumps({"provenance": {"cell_id": "other"}}))
    assert execution.status(name, cell) == "pending"
    record.unlink()
    assert execution.status(name, cell) == "pending"


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    """An uninterrupted run of the two-cell grid, through submitit's local executor."""
    name = "pytest-clean"
    profile = two_cell_profile(tmp_path_factory.mktemp("clean"), name)
    result = run_all("--profile", profile, *ONLY, "--executor", "submitit-local")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return name, profile, result


def test_two_cell_grid_through_submitit_local_executor(clean_run):
    name, profile, result = clean_run
    assert "2 of 2 cells to run, submitit-local executor" in result.stdout
    assert list((paths.runs_dir(name) / "submitit").rglob("*_result.pkl"))  # submitit ran the jobs
    listing = run_all("--profile", profile, *ONLY, "--list").stdout
    assert listing.count(" done ") == 2 and "0 pending" in listing
    cells = {c.label: c for c in grid.expand(grid.load_profile(profile))}
    for record in load_records(name):
        prov = record["provenance"]
        assert prov["profile"] == name and prov["cell_id"] in {c.id for c in cells.values()}
        assert prov["git_sha"] and prov["packages"]["torch"] and prov["hardware"]["cpu_count"]
    assert not (paths.runs_dir(name) / "timings.json").exists()  # kept for runs of the whole grid
    timings = json.loads((paths.runs_dir(name) / "timings-partial.json").read_text())
    assert [c["status"] for c in timings["cells"]] == ["ok", "ok"] and timings["executor"] == "submitit-local"
    assert (paths.runs_dir(name) / "report" / "index.html").is_file()


def test_kill_9_mid_grid_then_rerun_equals_a_clean_run(clean_run, tmp_path):
    clean_name, _, _ = clean_run
    name = "pytest-killed"
    profile = two_cell_profile(tmp_path, name)
    runs = paths.runs_dir(name)
    proc = subprocess.Popen([sys.executable, str(paths.ROOT / "run_all.py"), "--profile", profile, *ONLY],
                            cwd=paths.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    while not (runs / "04_quantize__fp32.ipynb").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # inside the quantize cell: model loaded, measuring
    assert proc.poll() is None, "the grid finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # run_all and its kernel, no chance to clean up
    proc.wait()
    assert len(list((runs / "done").glob("*.json"))) == 1  # data done, quantize not

    resumed = run_all("--profile", profile, *ONLY)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "01_data skipped: done earlier" in resumed.stdout and "1 of 2 cells to run" in resumed.stdout
    again = run_all("--profile", profile, *ONLY)
    assert "0 of 2 cells to run" in again.stdout

    clean = {(r["notebook"], r["phase"], r["variant"]): r for r in load_records(clean_name)}
    killed = {(r["notebook"], r["phase"], r["variant"]): r for r in load_records(name)}
    assert sorted(killed) == sorted(clean) and len(load_records(name)) == len(killed)  # none lost or doubled
    for key, record in killed.items():
        assert {k: record["metrics"].get(k) for k in QUALITY} == {k: clean[key]["metrics"].get(k) for k in QUALITY}
    assert (paths.data_dir(name) / "test.jsonl").read_text() == (paths.data_dir(clean_name) / "test.jsonl").read_text()
    assert not list(paths.results_dir(name).glob(".*")) and not list((runs / "done").glob(".*"))
    assert all(json.loads(p.read_text())["records"] for p in (runs / "done").glob("*.json"))
