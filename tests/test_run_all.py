"""run_all.py for real: CLI errors, a failing notebook, and the smoke profile through all seven notebooks."""
import csv
import json
import math

import nbformat
import pytest

from helpers import classification, paths
from helpers.grid import NOTEBOOKS_IN_ORDER
from helpers.results import REQUIRED_FIELDS, load_records
from studyrun import FP32_ONLY, fresh_profile, run_all


@pytest.mark.parametrize("args, message", [
    (["--profile", "nope"], "profile 'nope' not found"),
    (["--profile", "smoke", "-p", "max_stepz=3"], "unknown parameter(s) max_stepz"),
    (["--profile", "smoke", "-p", "max_steps"], "-p expects key=value"),
    (["--profile", "smoke", "--only", "08_report"], "unknown notebook '08_report'"),
])
def test_bad_arguments_fail_before_any_notebook_runs(args, message):
    result = run_all(*args, timeout=120)
    assert result.returncode == 2 and message in result.stderr
    assert "->" not in result.stdout


def test_failing_notebook_is_named_and_kept(tmp_path):
    profile = fresh_profile(tmp_path, "pytest-fail")  # no data generated for it: notebook 2 must fail
    result = run_all("--profile", str(profile), "--only", "02_baseline", timeout=300)
    assert result.returncode == 1
    assert "02_baseline failed at cell" in result.stderr and "FileNotFoundError" in result.stderr
    assert "01_data" in result.stderr  # the error says which notebook to run first
    assert (paths.runs_dir("pytest-fail") / "02_baseline.ipynb").is_file()


def test_keep_going_runs_the_other_cells_and_lists_every_failure(tmp_path):
    profile = fresh_profile(tmp_path, "pytest-keep-going", **{**FP32_ONLY, "variants": [  # no data made for it
        {"precision": "fp32"}, {"precision": "fp32", "method": "magnitude", "sparsity": 0.5}]})
    result = run_all("--profile", str(profile), "--only", "02_baseline,03_prune,04_quantize", "--keep-going", timeout=300)
    assert result.returncode == 1
    failed = [line for line in result.stderr.splitlines() if line.startswith("run_all: ")]
    assert [line.split()[1] for line in failed] == ["02_baseline", "03_prune[magnitude50]", "04_quantize[fp32]"]
    assert "-- 04_quantize[fp32-magnitude50]: N/A: parent failed" in result.stdout  # never run on a failed cell's output
    assert "FAILED" in result.stdout  # the summary table lists them too


@pytest.mark.slow
def test_smoke_profile_runs_all_seven_notebooks(tmp_path):
    name = "pytest-smoke"
    profile = fresh_profile(tmp_path, name)
    result = run_all("--profile", str(profile), timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    executed = {p.name.split("__")[0].removesuffix(".ipynb") for p in paths.runs_dir(name).glob("*.ipynb")}
    assert executed == set(NOTEBOOKS_IN_ORDER)
    for path in paths.runs_dir(name).glob("*.ipynb"):  # each ends with a Finding rendered from this run's records
        cells = nbformat.read(path, as_version=4).cells
        finding = next(i for i, c in enumerate(cells) if c.source.startswith("## Finding"))
        rendered = "".join(o.get("data", {}).get("text/markdown", "") for o in cells[finding + 1].outputs)
        assert "Smoke-sized profile: too few tickets" in rendered, path.name

    records = load_records(name)
    assert {r["notebook"] for r in records} == set(NOTEBOOKS_IN_ORDER)
    for r in records:
        assert set(REQUIRED_FIELDS) <= set(r) and r["compute_path"]
        assert r["provenance"]["git_sha"] and r["provenance"]["threads"] in (None, 2)
        assert r["energy"] and all(e["method"] for e in r["energy"])
        assert all(e["joules"] is None or e["joules"] >= 0 for e in r["energy"])
    evaluated = [r for r in records if r["notebook"] == "06_rca_eval" and r["phase"] == "inference"]
    assert {r["variant"] for r in evaluated} == {"bf16-lora", "bf16-lora@fp32",  # stage 1
                                                 "bf16-lora-wanda-2of4", "bf16-lora-wanda-2of4-recovered"}  # stage 2
    notes = [r for r in records if r["notebook"] == "06_rca_eval" and r["phase"] == "response"]
    assert {r["variant"] for r in notes} == {r["variant"] for r in evaluated}
    for r in notes:
        m = r["metrics"]
        assert 0 <= m["response_quality"] <= 1 and 0 <= m["rougeL"] <= 1 and 0 <= m["bleu"] <= 100
        assert m["joules_per_ticket"] > 0 and m["energy_repeats"] == 3
    interleaved = {(r["phase"], r["variant"]): r for r in records if r["notebook"] == "07_energy_analysis"}
    assert set(interleaved) == {(phase, r["variant"]) for r in evaluated for phase in ("inference", "response")}
    for r in interleaved.values():  # notebook 7 measured every evaluated variant on both tasks in the same 2 rounds
        m = r["metrics"]
        assert m["measured"] == "interleaved" and m["energy_repeats"] == 2 and len(m["joules_per_ticket_rounds"]) == 2
        assert m["joules_per_ticket"] > 0 and m["tickets"] == 16 and r["spec"]["precision"]
    assert len({r["metrics"]["measurement"] for r in interleaved.values()}) == 1  # one measurement: rounds pair
    test_split = [json.loads(line) for line in (paths.data_dir(name) / "test.jsonl").read_text().splitlines()]
    rule = next(r for r in records if r["phase"] == "scoring")["metrics"]["chosen_rule"]
    for r in evaluated + [r for r in records if r["notebook"] == "02_baseline" and r["phase"] == "inference"]:
        m = r["metrics"]  # every class of the whole test split scored, and collapse visible and flagged
        assert m["n_tickets"] == len(test_split) and m["n_classes_in_tickets"] == len({t["root_cause"] for t in test_split})
        assert r["ticket_ids"] == [t["ticket_id"] for t in test_split] and len(r["predictions"]) == len(test_split)
        assert m["task_check"] == classification.task_check(m) and m["does_task"] is (m["task_check"] == "ok")
        assert m["top_label_share"] <= 0.8 or not m["does_task"]  # no collapsed variant passes unflagged
    for r in evaluated:
        m = r["metrics"]
        assert m["scoring_rule"] == ("sum/none" if r["spec"]["finetune"] == "lora" or r["spec"]["parent"] else rule)
        assert len(r["raw_label_scores"]) == len(test_split) and "raw_macro_f1" in m
        assert 0 <= m["macro_f1_ci_low"] <= m["macro_f1_ci_high"] <= 1 and 0 <= m["macro_f1"] <= 1 and 0 <= m["accuracy"] <= 1
        assert set(r["per_class_f1"]) == set(json.loads((paths.data_dir(name) / "labels.json").read_text()))
        assert m["joules_per_ticket"] > 0 and m["energy_repeats"] == 3 and m["energy_method"]
        meters = {e["meter"]: e for e in r["energy"]}
        assert meters["codecarbon"]["joules"] > 0 and meters["cpu-model"]["joules"] > 0
        assert meters["rapl"]["joules"] is None and "unavailable" in meters["rapl"]["method"]
        assert r["energy_context"]["meter_disagreement"] > 0 and r["spec"]["precision"]
    assert not (paths.ROOT / "emissions.csv").exists() and not (paths.NOTEBOOKS / "emissions.csv").exists()
    assert list((paths.runs_dir(name) / "codecarbon").glob("*.csv"))
    pruned = {r["variant"]: r for r in records if r["notebook"] == "03_prune"}
    assert set(pruned) == {"fp32-magnitude50", "bf16-lora@fp32-wanda-2of4"}  # the model; the fine-tuned one's weights
    for r in pruned.values():
        assert r["metrics"]["sparsity_min"] == pytest.approx(0.5, abs=1e-3) and r["metrics"]["pattern_verified"]
    assert pruned["bf16-lora@fp32-wanda-2of4"]["metrics"]["n_calibration"] > 0
    evaluated_pruned = next(r for r in evaluated if r["variant"] == "bf16-lora-wanda-2of4")
    assert "N/A semi-structured 2:4 kernel: PyTorch's needs CUDA" in evaluated_pruned["compute_path"]
    # stage 2 chose the only fine-tuned model, pruned its merged weights, recovered them with the zeros re-applied
    recovered = next(r for r in evaluated if r["variant"] == "bf16-lora-wanda-2of4-recovered")
    assert "pruned zeros re-applied (sparsity 0.50)" in recovered["compute_path"] and "weights of bf16-lora" in recovered["compute_path"]
    assert next(r for r in records if r["notebook"] == "05_finetune" and r["variant"] == recovered["variant"])
    dynamic = next(r for r in records if r["notebook"] == "04_quantize" and r["variant"] == "dynamic-int8")
    assert dynamic["compute_path"] == "torchao int8 dynamic cpu" and dynamic["metrics"]["generate_tokens_per_s"] > 0
    finetuned = next(r for r in records if r["notebook"] == "05_finetune" and r["variant"] == "bf16-lora")
    assert all(math.isfinite(x) for x in finetuned["loss_curve"]) and finetuned["metrics"]["steps"] == 4
    assert [h["step"] for h in finetuned["validation"]] == [4]  # capped mid-epoch: validated after the last step
    assert finetuned["metrics"]["joules_per_training_token"] > 0
    retrieval = next(r for r in records if r["variant"] == "retrieval-tfidf")
    assert retrieval["ticket_ids"] == next(r for r in notes if r["variant"] == "bf16-lora")["ticket_ids"]
    nf4 = next(r for r in records if r["notebook"] == "04_quantize" and r["variant"] == "nf4")
    fp32 = next(r for r in records if r["notebook"] == "04_quantize" and r["variant"] == "fp32")
    assert nf4["compute_path"] == "bnb nf4 cpu" and nf4["metrics"]["weight_bytes"] < fp32["metrics"]["weight_bytes"] / 2

    header = next(csv.reader((paths.results_dir(name) / "summary.csv").open()))
    assert {"variant", "role", "rank (R)", "RCA macro-F1", "task check", "Wh per 1,000 tickets", "J per ticket vs bf16-lora@fp32",
            "payback", "energy method", "repeats"} <= set(header)
    assert (paths.results_dir(name) / "summary.md").read_text().startswith("| variant |")
    for figure in ("class_balance", "text_lengths", "alarm_cooccurrence", "perplexity_vs_sparsity",
                   "footprint_and_speed", "ranking_vs_w", "pareto", "breakeven", "energy_by_phase", "loss_bf16-lora",
                   "retention"):
        assert (paths.figures_dir(name) / f"{figure}.png").stat().st_size > 1000
    assert "macro_f1" in result.stdout  # the closing summary table
    markers = [json.loads(p.read_text()) for p in (paths.runs_dir(name) / "done").glob("*.json")]
    assert len(markers) == 17  # every cell marked done: 11 of stage 1, 5 of stage 2, the analysis
    listing = run_all("--profile", str(profile), "--list", timeout=120).stdout  # stage 2 derived again, same ids
    assert "bf16-lora-wanda-2of4-recovered" in listing and listing.rstrip().endswith("17 done, 0 pending, 0 N/A")
    owner = {r["variant"] + r["phase"] + r["notebook"]: r["provenance"]["cell_id"] for r in records}
    listed = [(m["id"], name_) for m in markers for name_ in m["records"]]
    assert len(listed) == len(records)  # each record listed by exactly one cell, in warm kernels too
    for cell_id, record_name in listed:
        notebook, phase, variant = record_name.removesuffix(".json").split("__")
        assert owner[variant + phase + notebook] == cell_id
    assert (paths.runs_dir(name) / "report" / "06_rca_eval__bf16-lora-wanda-2of4-recovered.html").is_file()
    executed_nb = json.loads((paths.runs_dir(name) / "06_rca_eval__bf16-lora-wanda-2of4-recovered.ipynb").read_text())
    assert any(c.get("outputs") for c in executed_nb["cells"] if c["cell_type"] == "code")


def test_data_notebook_runs_on_a_user_csv(tmp_path):
    import pandas as pd

    rows = [{"id": f"{c[:1]}{i}", "body": f"{c} symptom {i}", "label": c} for c in ("power", "fibre", "radio")
            for i in range(5)]
    csv = tmp_path / "ours.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    profile = fresh_profile(tmp_path, "pytest-byo")
    result = run_all("--profile", str(profile), "--only", "01_data", "-p", f"dataset_path={csv}",
                     "-p", "columns={text: body, root_cause: label, ticket_id: id}", timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    data = paths.data_dir("pytest-byo")
    assert json.loads((data / "labels.json").read_text()) == ["fibre", "power", "radio"]
    (record,) = load_records("pytest-byo")
    assert record["source"] == str(csv) and record["metrics"]["n_classes"] == 3


def test_bad_user_csv_is_refused_before_any_notebook(tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("body,label\nsite down,power\n")
    result = run_all("--profile", str(fresh_profile(tmp_path, "pytest-badcsv")), "-p", f"dataset_path={csv}",
                     "-p", "columns={text: body, root_cause: label}", timeout=120)
    assert result.returncode == 2 and "only one root-cause class" in result.stderr
    assert "->" not in result.stdout and not paths.data_dir("pytest-badcsv").exists()

