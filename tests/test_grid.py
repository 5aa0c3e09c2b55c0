"""Profiles expand into the right notebook executions; bad profiles and parameters fail in one line."""
import pytest

from helpers import grid, params


def test_smoke_profile_expands_per_variant():
    cells = grid.expand(grid.load_profile("smoke"))
    labels = [c.label for c in cells]
    assert labels[0] == "01_data" and labels[1] == "02_baseline" and labels[-1] == "07_energy_analysis"
    assert [l for l in labels if l.startswith("03_prune")] == ["03_prune[magnitude50]", "03_prune[wanda-2of4]"]
    # the swept fp32 wanda model is measured by its prune run alone; dynamic-int8 is swept through quantize
    assert {l for l in labels if l.startswith("04_quantize")} == {
        "04_quantize[fp32]", "04_quantize[bf16]", "04_quantize[nf4]", "04_quantize[fp32-magnitude50]",
        "04_quantize[dynamic-int8]"}
    assert [l for l in labels if l.startswith("05_finetune")] == ["05_finetune[bf16-lora]"]
    assert len([l for l in labels if l.startswith("06_rca_eval")]) == 5
    order = [grid.NOTEBOOKS_IN_ORDER.index(c.notebook) for c in cells]
    assert order == sorted(order)


def test_each_notebook_gets_only_the_parameters_it_declares():
    for cell in grid.expand(grid.load_profile("smoke")):
        assert set(cell.parameters) <= set(grid.declared_parameters(cell.notebook)), cell.label
    prune = next(c for c in grid.expand(grid.load_profile("smoke")) if c.notebook == "03_prune")
    assert prune.parameters["method"] == "magnitude" and prune.parameters["sparsity"] == 0.5
    assert prune.parameters["pattern"] == "unstructured" and "precision" not in prune.parameters


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(FileNotFoundError, match="known profiles: default, gpu-smoke, smoke"):
        grid.load_profile("nope")


@pytest.mark.parametrize("text, message", [
    ("params: {}\nvarients: []\n", "a profile is a mapping with keys"),
    ("- just\n- a list\n", "a profile is a mapping with keys"),
    ("params: [1, 2]\n", "params must be a mapping"),
    ("variants:\n  - {precision: fp3}\n", "unknown precision 'fp3'"),
    ("variants:\n  - {precision: fp32, method: magnitude, sparsity: 2}\n", "strictly between 0 and 1"),
])
def test_malformed_profile(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        grid.load_profile(str(path))


def test_overrides_must_be_declared_somewhere():
    params.check_params({"max_steps": 3, "n_eval": 13})
    with pytest.raises(ValueError, match="unknown parameter.*max_stepz.*valid: .*max_steps"):
        params.check_params({"max_stepz": 3})
    with pytest.raises(ValueError, match="belongs to variants"):
        params.check_params({"precision": "bf16"})
