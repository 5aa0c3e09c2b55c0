"""The README's reference section is rebuilt from a run's own files: table, facts, figures."""
import json
import shutil

import pandas as pd
import pytest

from helpers import classification, grid, paths, reference, ticket_files
from helpers.results import write_record

NAME = "pytest-reference"


@pytest.fixture
def finished_run():
    folders = (paths.results_dir(NAME), paths.runs_dir(NAME), paths.figures_dir(NAME), paths.data_dir(NAME))
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    labels = ["a", "b", "c"]
    test = [{"ticket_id": f"T{i}", "text": "t", "root_cause": labels[i % 3]} for i in range(60)]
    ticket_files.save_splits({"train": test, "validation": test, "test": test}, paths.data_dir(NAME), labels)
    truth = [t["root_cause"] for t in test]
    lora = {"precision": "bf16", "method": "none", "sparsity": 0.0, "pattern": "unstructured", "finetune": "lora"}
    for notebook, variant, predictions, spec in (
            ("02_baseline", "tfidf-logreg", ["a"] * 30 + truth[30:], None),
            ("06_rca_eval", "bf16", ["b"] * 60, {**lora, "finetune": "none"}),
            ("06_rca_eval", "bf16-lora", truth, lora)):
        write_record(NAME, notebook, "inference", variant, classification.classification_report(truth, predictions, labels), [],
                     "dense bf16 cpu", {}, threads=2, extra={"ticket_ids": [t["ticket_id"] for t in test],
                                                             "predictions": predictions, "spec": spec})
    write_record(NAME, "05_finetune", "finetune", "bf16-lora", {"seconds": 600.0}, [], "dense bf16 cpu", {}, threads=2)
    pd.DataFrame({"variant": ["bf16", "fp32"], "rank (R)": [0.6, 0.4], "RCA macro-F1": [0.5, 0.49],
                  "response quality": [0.3, 0.3], "Wh per 1,000 tickets": [2.5, 5.0],
                  "payback": ["40 tickets (0.008 days at 5,000 a day)", "baseline"],
                  "J per ticket vs fp32": ["x0.5", "baseline"], "role": ["recommended", "candidate"], "energy method": ["codecarbon, modelled"] * 2,
                  "compute_path": ["dense bf16 cpu", "dense fp32 cpu"]}).to_csv(paths.results_dir(NAME) / "summary.csv",
                                                                           index=False)
    (paths.runs_dir(NAME) / "done").mkdir(parents=True)
    for cell in grid.expand(grid.load_profile("smoke"))[:3]:  # three cells of the grid done, 200 s each
        (paths.runs_dir(NAME) / "done" / f"{cell.id}.json").write_text(json.dumps(
            {"id": cell.id, "seconds": 200.0, "finished_at": "2026-11-29T12:00:00+00:00"}))
    paths.figures_dir(NAME).mkdir(parents=True)
    for name in reference.FIGURES:
        (paths.figures_dir(NAME) / f"{name}.png").write_bytes(b"\x89PNG fake " + name.encode())
    yield
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def test_readme_section_is_rewritten_from_the_run(finished_run, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Study\nbefore\n{reference.START}\nold numbers\n{reference.END}\nafter\n")
    (paths.results_dir(NAME) / "finding.md").write_text("bf16 is recommended.\n")  # notebook 7's generated Finding
    reference.update_readme(NAME, readme, tmp_path / "figures", grid.expand(grid.load_profile("smoke")))
    text = readme.read_text()
    assert "**Finding** (notebook 7, generated): bf16 is recommended.\n" in text
    assert text.startswith("# Study\nbefore\n") and text.endswith("after\n") and "old numbers" not in text
    assert "| variant | role | RCA macro-F1 | response quality | J per ticket | vs baseline |" in text  # no task check
    assert "| bf16-lora | 1.00 [1.00, 1.00] | 1.0 | 3 of 3 | 0.33 | ok | +0.33 [" in text  # every system, paired
    assert "Best fine-tuned LLM variant (highest test macro-F1): **bf16-lora**, macro-F1 1.00 [1.00, 1.00] on 60 test " \
           "tickets (3 of 3 classes); minus TF-IDF + logistic regression on the same tickets: +0.33 [" in text
    assert "Fine-tuning wall time: bf16-lora 10 min." in text
    assert "Flagged as not doing the task (one label for more than 80% of tickets, or macro-F1 or accuracy below the " \
           "majority class's): bf16." in text
    assert "| bf16 | recommended | 0.5 | 0.3 | 9.0 | x0.5 | 2.5 | 40 tickets (0.008 days at 5,000 a day) |" in text  # 2.5 Wh / 1,000 = 9 J
    assert "2026-11-29" in text and "2 threads, no GPU" in text and "modelled, not metered" in text
    assert "3 cells, 10 min of notebook time" in text
    for name in reference.FIGURES:
        assert f"(figures/reference/{name}.png)" in text and (tmp_path / "figures" / f"{name}.png").is_file()


def test_executed_notebooks_are_published_in_grid_order_with_an_index(finished_run, tmp_path):
    cells = grid.expand(grid.load_profile("smoke"))
    for cell in cells[:3]:  # the finished ones
        (paths.runs_dir(NAME) / cell.output_name).write_text(f'{{"cells": [], "label": "{cell.label}"}}')
    folder = reference.publish_notebooks(NAME, tmp_path / "published", cells)
    assert sorted(p.name for p in folder.glob("*.ipynb")) == sorted(c.output_name for c in cells[:3])
    index = (folder / "README.md").read_text()
    assert [line for line in index.splitlines() if line.startswith("- [")] == [
        f"- [{c.label}]({c.output_name})" for c in cells[:3]]
    assert "3 cells, 10 min of notebook time" in index


def test_readme_without_markers_is_left_alone(finished_run, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Study\n")
    with pytest.raises(ValueError, match="lacks the"):
        reference.update_readme(NAME, readme, tmp_path / "figures")
    assert readme.read_text() == "# Study\n"


def test_data_card_table_is_computed_from_the_generator():
    text = reference.data_baselines("smoke")
    assert text.startswith(reference.DATA_START) and text.endswith(reference.DATA_END)
    rows = [line for line in text.splitlines() if line.startswith("| shifted") or line.startswith("| unshifted")]
    assert len(rows) == 2
    for row in rows:  # test tickets, tickets of all splits, keyword rule, TF-IDF: two counts and two macro-F1s
        test, total, keyword, tfidf = (float(cell) for cell in row.strip("|").split("|")[1:])
        assert 0 < test < total and 0 <= keyword <= 1 and 0 < tfidf <= 1
    assert "generated by `make reference`" in text and "point estimates on different test tickets" in text


def test_published_notebooks_have_the_code_of_their_sources():
    """reference/default/ holds the executed notebooks of the default reference run (make reference): every notebook
    of the pipeline, their code cells exactly those of notebooks/ (papermill's injected parameters aside)."""
    folder = paths.ROOT / "reference" / "default"
    published = sorted(folder.glob("*.ipynb"))
    assert {p.name.split("__")[0].removesuffix(".ipynb") for p in published} == set(grid.NOTEBOOKS_IN_ORDER)

    def code(path):
        cells = json.loads(path.read_text())["cells"]
        return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"
                and "injected-parameters" not in c.get("metadata", {}).get("tags", [])]

    for path in published:
        assert code(path) == code(grid.notebook_path(path.name.split("__")[0].removesuffix(".ipynb"))), path.name
    assert sum(p.stat().st_size for p in folder.iterdir()) < 15e6  # GitHub renders it; the repository stays small


def test_stage_one_says_which_fine_tuning_this_hardware_cannot_run(finished_run, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cpu, "_is_amx_fp16_supported", lambda: False, raising=False)  # a CPU without fp16 matrix math
    cells = grid.expand(grid.load_profile("smoke")) + [grid.Cell("05_finetune", "fp16-lora", {"precision": "fp16",
                                                                                            "finetune": "lora"})]
    rows = reference.stage1(NAME, cells).set_index("variant")
    assert rows.loc["bf16-lora", "fine-tuned as"] == "bf16-lora"  # trained: its record's row, no N/A
    assert rows.loc["fp16-lora", "fine-tuning J per training token"].startswith(
        "N/A: fp16 fine-tuning needs fp16 matrix math, which this CPU lacks")
