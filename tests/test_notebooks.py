"""The committed notebooks are sources: no outputs, a commented `parameters` cell papermill can read, a story."""
import ast
import json

import papermill
import pytest

from helpers.grid import NOTEBOOKS_IN_ORDER, notebook_path
from helpers.paths import NOTEBOOKS


def load(name):
    return json.loads(notebook_path(name).read_text())


def test_the_seven_notebooks_exist_in_pipeline_order():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == list(NOTEBOOKS_IN_ORDER)


@pytest.mark.parametrize("name", NOTEBOOKS_IN_ORDER)
def test_committed_notebook_has_no_outputs(name):
    for cell in load(name)["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"{name} has outputs: clear them"


@pytest.mark.parametrize("name", NOTEBOOKS_IN_ORDER)
def test_committed_notebook_is_valid_nbformat_with_unique_cell_ids(name):
    """A cell without an id makes nbformat warn in red inside every executed copy (the notebook reads itself)."""
    import warnings

    import nbformat

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nbformat.validate(nbformat.read(notebook_path(name), as_version=4))
    ids = [c.get("id") for c in load(name)["cells"]]
    assert None not in ids and len(set(ids)) == len(ids), f"{name}: every cell needs its own id"


@pytest.mark.parametrize("name", NOTEBOOKS_IN_ORDER)
def test_parameters_cell_is_commented_and_fully_readable_by_papermill(name):
    tagged = [c for c in load(name)["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{name} needs exactly one cell tagged 'parameters'"
    source = "".join(tagged[0]["source"])
    assigned = [t.id for node in ast.parse(source).body for t in node.targets]
    for line in source.splitlines():
        assert "#" in line, f"{name}: parameter line without a comment: {line!r}"
    # papermill silently drops a parameter whose line it cannot parse; then -p would not reach it.
    assert list(papermill.inspect_notebook(str(notebook_path(name)))) == assigned


@pytest.mark.parametrize("name", NOTEBOOKS_IN_ORDER)
def test_parameter_defaults_are_the_smoke_profile(name):
    """A notebook run by hand (papermill without -p, or in JupyterLab) writes smoke records with smoke settings."""
    from helpers.grid import load_profile

    smoke = load_profile("smoke")["params"]
    defaults = {k: ast.literal_eval(v["default"]) for k, v in papermill.inspect_notebook(str(notebook_path(name))).items()}
    differ = {k: (v, smoke[k]) for k, v in defaults.items() if k in smoke and v != smoke[k]}
    assert not differ, f"{name}: defaults differ from configs/smoke.yaml (notebook, profile): {differ}"


@pytest.mark.parametrize("name", NOTEBOOKS_IN_ORDER)
def test_notebook_tells_a_story(name):
    cells = load(name)["cells"]
    markdown = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert cells[0]["cell_type"] == "markdown" and cells[0]["source"][0].startswith("# ")
    for part in ("**Question.**", "**Method.**", "aveat"):
        assert part in markdown, f"{name} lacks {part}"
    code = [c for c in cells if c["cell_type"] == "code" and "parameters" not in c.get("metadata", {}).get("tags", [])]
    assert max(len(c["source"]) for c in code) <= 15, f"{name}: keep code cells short, move logic to helpers"
    finding = next(i for i, c in enumerate(cells) if "".join(c["source"]).startswith("## Finding"))
    assert "findings." in "".join(cells[finding + 1]["source"]), f"{name}: the Finding is generated from records"
    assert any("aveat" in "".join(c["source"]) for c in cells[finding:]), f"{name}: the Caveat follows the Finding"
