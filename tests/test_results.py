"""Records carry the required fields, and a crash mid-write never leaves a record or folder that looks complete."""
import json
import os

import pytest

from helpers import atomic, results


def test_record_has_required_fields(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "results_dir", lambda profile: tmp_path / profile)
    run = results.Run("06_rca_eval", "p", {"n_eval": 3}, threads=2, seed=7)
    path = run.write("inference", "fp32", {"macro_f1": 0.5},
                     [{"method": "m", "joules": 1.5, "duration_s": 0.1}], compute_path="dense fp32 cpu")
    record = json.loads(path.read_text())
    assert set(results.REQUIRED_FIELDS) <= set(record)
    prov = record["provenance"]
    assert prov["threads"] == 2 and prov["seed"] == 7 and prov["parameters"] == {"n_eval": 3}
    assert prov["packages"]["torch"].startswith("2.13.0") and prov["git_sha"] and prov["hardware"]["cpu"]
    assert results.load_records("p")[0]["variant"] == "fp32"


def test_run_params_are_the_parameters_cell_with_this_executions_values():
    import ast

    from helpers.grid import declared_parameters

    declared = declared_parameters("06_rca_eval")
    namespace = {name: ast.literal_eval(p["default"]) for name, p in declared.items()}
    namespace.update(profile="p", n_eval=30, model=object())  # papermill's injected value; a variable of the notebook
    run = results.Run.from_parameters("06_rca_eval", namespace, threads=2, seed=0)
    assert list(run.params) == list(declared) and run.params["n_eval"] == 30 and run.profile == "p"


def test_energy_reading_without_method_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "results_dir", lambda profile: tmp_path / profile)
    with pytest.raises(ValueError, match="method"):
        results.write_record("p", "nb", "inference", "v", {}, [{"joules": 1.0, "duration_s": 1}], "k", {})
    assert not (tmp_path / "p").exists() or not list((tmp_path / "p").iterdir())


def test_crash_mid_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "record.json"
    atomic.write_atomic(target, "old")

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        atomic.write_atomic(target, "new and longer")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_crash_while_saving_a_folder_leaves_the_previous_folder(tmp_path):
    target = tmp_path / "adapter"
    atomic.write_folder_atomic(target, lambda d: (d.mkdir(), (d / "w.safetensors").write_text("v1")))

    def half_save(folder):
        folder.mkdir()
        (folder / "w.safetensors").write_text("partial")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic.write_folder_atomic(target, half_save)
    assert (target / "w.safetensors").read_text() == "v1"


def test_unserialisable_metric_fails_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "results_dir", lambda profile: tmp_path / profile)
    with pytest.raises(TypeError, match="cannot store"):
        results.write_record("p", "nb", "inference", "v", {"x": object()}, [], "k", {})
    assert results.load_records("p") == []
