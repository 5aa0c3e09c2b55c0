"""Profiles expand into the right notebook executions; bad profiles and parameters fail in one line."""
import pytest

from helpers import grid, params
from studyrun import fresh_profile


def test_smoke_profile_expands_per_variant(tmp_path):
    cells = grid.expand(grid.load_profile(str(fresh_profile(tmp_path, "pytest-grid"))))  # nothing recorded: stage 1
    labels = [c.label for c in cells]
    assert labels == ["01_data", "02_baseline", "03_prune[magnitude50]",  # the fp32 pruned sweep: measured by 03 alone
                      "04_quantize[bf16]", "04_quantize[fp32]", "04_quantize[nf4]", "04_quantize[dynamic-int8]",
                      "05_finetune[bf16-lora]", "04_quantize[bf16-lora@fp32]", "06_rca_eval[bf16-lora]",
                      "06_rca_eval[bf16-lora@fp32]"]
    by_label = {c.label: c for c in cells}
    for served in ("04_quantize[bf16-lora@fp32]", "06_rca_eval[bf16-lora@fp32]"):  # read the merged weights
        assert by_label["05_finetune[bf16-lora]"].id in by_label[served].upstream
        assert by_label[served].parameters["parent"] == "bf16-lora"


def test_fine_tuning_energy_at_more_precisions_is_a_capped_run_that_is_not_evaluated(tmp_path):
    profile = grid.load_profile(str(fresh_profile(tmp_path, "pytest-grid", finetune_energy={
        "precisions": ["fp32", "int8"], "max_steps": 3})))
    cells = {c.label: c for c in grid.expand(profile)}
    for energy_only in ("05_finetune[fp32-lora]", "05_finetune[int8-lora]"):  # capped and not validated
        assert {k: cells[energy_only].parameters[k] for k in ("max_steps", "validate")} == {"max_steps": 3, "validate": False}
    assert cells["05_finetune[bf16-lora]"].parameters["max_steps"] == 4  # the profile's own cap
    assert "validate" not in cells["05_finetune[bf16-lora]"].parameters  # the notebook's default: validated
    assert not any(label.startswith("06_rca_eval[fp32-lora") or label.startswith("06_rca_eval[int8") for label in cells)


def test_a_fine_tuning_this_hardware_cannot_run_takes_the_cells_made_from_it_along(tmp_path, monkeypatch):
    import torch

    from helpers import execution

    monkeypatch.setattr(torch.cpu, "_is_amx_fp16_supported", lambda: False, raising=False)  # no fp16 matrix math
    profile = grid.load_profile(str(fresh_profile(tmp_path, "pytest-grid", variants=[
        {"precision": "bf16", "finetune": "lora"}, {"precision": "fp16", "finetune": "lora"}])))
    na = {c.label: why for c in grid.expand(profile) if (why := execution.not_runnable_here(c, "cpu"))}
    assert set(na) == {"05_finetune[fp16-lora]", "06_rca_eval[fp16-lora]",  # its fine-tune and evaluation,
                       "04_quantize[fp16-lora@fp32]", "06_rca_eval[fp16-lora@fp32]"}  # and its merged weights served
    assert na["04_quantize[fp16-lora@fp32]"].startswith("its parent fp16-lora is N/A here (fp16 fine-tuning needs")
    assert not [c for c in grid.expand(profile) if execution.not_runnable_here(c, "cuda")]  # a GPU trains fp16


def test_each_notebook_gets_only_the_parameters_it_declares():
    for cell in grid.expand(grid.load_profile("smoke")):
        assert set(cell.parameters) <= set(grid.declared_parameters(cell.notebook)), cell.label
    prune = next(c for c in grid.expand(grid.load_profile("smoke")) if c.notebook == "03_prune")
    assert prune.parameters["method"] == "magnitude" and prune.parameters["sparsity"] == 0.5
    assert prune.parameters["pattern"] == "unstructured" and "precision" not in prune.parameters


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(FileNotFoundError, match="known profiles: default, full, gpu-smoke, smoke"):
        grid.load_profile("nope")


@pytest.mark.parametrize("text, message", [
    ("params: {}\nvarients: []\n", "a profile is a mapping with keys"),
    ("- just\n- a list\n", "a profile is a mapping with keys"),
    ("params: [1, 2]\n", "params must be a mapping"),
    ("variants:\n  - {precision: fp3}\n", "unknown precision 'fp3'"),
    ("variants:\n  - {precision: fp32, method: magnitude, sparsity: 2}\n", "strictly between 0 and 1"),
    ("variants:\n  - {precision: fp32}\nserve: [fp33]\n", "unknown precision 'fp33'"),
    ("variants:\n  - {precision: bf16, finetune: lora}\nfinetune_energy: {precisions: [bf16], max_steps: 4}\n",
     "finetune_energy precision bf16: variants fine-tune it fully already"),
    ("variants:\n  - {precision: fp32}\nfinetune_energy: {precisions: [dynamic-int8], max_steps: 4}\n",
     "dynamic-int8 is inference-only"),
    ("variants:\n  - {precision: fp32}\nfinetune_energy: {precisions: [fp32], max_steps: 0}\n", "an integer >= 1"),
    ("variants:\n  - {precision: bf16, finetune: lora}\nstage2: {top_k: 2, prune: [{method: wanda, sparsity: 0.3}]}\n",
     "stage2 top_k 2: stage 1 fine-tunes 1 variant\\(s\\) \\(bf16-lora\\), so top_k is an integer from 1 to 1"),
    ("variants:\n  - {precision: fp32}\nstage2: {prune: [{method: wanda, sparsity: 0.3}]}\n",
     "stage 1 fine-tunes 0 variant"),
    ("variants:\n  - {precision: bf16, finetune: lora}\nstage2: {prune: [{method: wanda, sparsity: 0.3, pattern: '4:8'}]}\n",
     "stage2 prune entry 1: unknown sparsity pattern .4:8."),
    ("variants:\n  - {precision: bf16, finetune: lora}\nstage2: {prune: [{method: wanda, sparsity: 1.5}]}\n",
     "stage2 prune entry 1: .*strictly between 0 and 1"),
    ("variants:\n  - {precision: bf16, finetune: lora}\nstage2: {prune: [{method: none}]}\n", "prunes nothing"),
    ("variants:\n  - {precision: bf16, finetune: lora}\nstage2: {top_k: 1}\n", "prune required"),
    ("variants:\n  - {precision: bf16, finetune: lora}\nstage2: {prune: [{method: wanda, sparsity: 0.3}], "
     "recovery_epochs: 0}\n", "recovery_epochs 0: a number > 0"),
])
def test_malformed_profile(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        grid.load_profile(str(path))


def test_a_profile_extends_another_replacing_its_keys_and_merging_its_mappings(tmp_path):
    """`extends: default` (or a path): this file's keys replace the base's; params and stage2 merge key by key;
    null removes a base's entry; a missing base or a loop fails in one line."""
    default = grid.load_profile("default")
    path = tmp_path / "mine.yaml"
    path.write_text("extends: default\nparams: {n_tickets: 240}\nserve: [nf4]\nfinetune_energy: null\n"
                    "stage2: {top_k: 2}\n")
    mine = grid.load_profile(str(path))
    assert mine["params"] == {**default["params"], "n_tickets": 240, "profile": "mine"}
    assert mine["variants"] == default["variants"] and mine["compression_sweep"] == default["compression_sweep"]
    assert mine["serve"] == ["nf4"] and mine["finetune_energy"] is None
    assert mine["stage2"] == {**default["stage2"], "top_k": 2}
    path.write_text("extends: nope\n")
    with pytest.raises(FileNotFoundError, match="profile 'nope' not found"):
        grid.load_profile(str(path))
    (tmp_path / "other.yaml").write_text(f"extends: {path}\n")
    path.write_text(f"extends: {tmp_path / 'other.yaml'}\n")
    with pytest.raises(ValueError, match="other.yaml: extends mine, which extends it back"):
        grid.load_profile(str(path))


def test_overrides_must_be_declared_somewhere():
    params.check_params({"max_steps": 3, "n_eval": 13})
    with pytest.raises(ValueError, match="unknown parameter.*max_stepz.*valid: .*max_steps"):
        params.check_params({"max_stepz": 3})
    with pytest.raises(ValueError, match="belongs to variants"):
        params.check_params({"precision": "bf16"})


def test_stage2_of_a_published_run_follows_its_records_on_its_device():
    """A published run (reference/gpu-smoke-h200, on CUDA) derives its stage 2 from its own records, matched by
    variant name (its cell ids came from older code), on its device: fp16 LoRA, N/A on most CPUs, ranked there."""
    from helpers.paths import ROOT
    from helpers.results import read_record

    records = [read_record(p) for p in sorted((ROOT / "reference" / "gpu-smoke-h200" / "records").glob("*.json"))]
    profile = grid.load_profile("gpu-smoke")
    cells = grid.expand(profile, records, device="cuda")
    stage2 = {c.variant for c in cells if c.notebook == "06_rca_eval"} - {v.name for v in profile["variants"]}
    assert stage2 == {r["variant"] for r in records if r["notebook"] == "06_rca_eval" and r["spec"]["parent"]} != set()
    assert cells[-1].notebook == "07_energy_analysis"
    assert grid.expand(profile, [r for r in records if r["variant"] != "nf4-qlora"], device="cuda")[-1].notebook \
        == "06_rca_eval"  # a stage-1 evaluation missing: stage 2 waits


def test_full_profile_trains_every_precision_fully_and_serves_each_model_at_every_precision():
    """configs/full.yaml is #13's switch for a machine with time: no energy-only fine-tunes, every training
    precision validated and evaluated, every merged model served at every inference precision."""
    profile = grid.load_profile("full")
    cells = grid.expand(profile)
    tunes = [c for c in cells if c.notebook == "05_finetune"]
    assert profile["finetune_energy"] is None and all(c.parameters.get("validate", True) for c in tunes)
    assert {c.parameters["precision"] for c in tunes} == {"fp32", "bf16", "fp16", "int8", "nf4", "fp4"}
    evaluated = {c.variant for c in cells if c.notebook == "06_rca_eval"}
    for tuned in (c.variant for c in tunes):
        assert {tuned} | {f"{tuned}@{p}" for p in profile["serve"] if not tuned.startswith(f"{p}-")} <= evaluated
