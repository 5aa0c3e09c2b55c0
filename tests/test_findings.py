"""Findings are generated from a run's records: numbers with intervals, paired verdicts and the energy method."""
import shutil

import pytest

from helpers import findings, paths, rca, ticket_files
from helpers.results import write_record

NAME = "pytest-findings"
LABELS = ["a", "b", "c"]


@pytest.fixture
def records():
    folders = (paths.results_dir(NAME), paths.data_dir(NAME))
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    test = [{"ticket_id": f"T{i}", "text": "t", "root_cause": LABELS[i % 3], "resolution": "r"} for i in range(60)]
    ticket_files.save_splits({"train": test, "validation": test, "test": test}, paths.data_dir(NAME), LABELS)
    truth = [t["root_cause"] for t in test]
    energy = {"joules_per_ticket": 2.5, "energy_method": "codecarbon 3.3.2 (modelled CPU power)"}
    ids = {"ticket_ids": [t["ticket_id"] for t in test]}
    for notebook, variant, predictions in (("02_baseline", "tfidf-logreg", ["a"] * 30 + truth[30:]),
                                           ("02_baseline", "minilm-logreg", truth),
                                           ("02_baseline", "fp32-zero-shot", ["b"] * 60),
                                           ("06_rca_eval", "bf16-lora", truth)):
        metrics = {**rca.classification_report(truth, predictions, LABELS), **energy, "scoring_rule": "sum/none",
                   "raw_macro_f1": 0.5}
        write_record(NAME, notebook, "inference", variant, metrics, [], "k", {}, extra={**ids, "predictions": predictions})
    write_record(NAME, "02_baseline", "scoring", "zero-shot", {"chosen_rule": "mean/contextual"}, [], "k", {})
    yield
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def test_baseline_finding_states_each_prompt_against_tfidf(records):
    text = findings.baseline(NAME)
    assert "TF-IDF + logistic regression reaches macro-F1 0.67 [" in text and "scored with the rule chosen on validation (mean/contextual)" in text
    assert "zero-shot 0.17 [" in text and "does not do the task: one label for 100% of tickets" in text
    assert "compared with TF-IDF on the same tickets **worse** (difference -0.50, paired 95 % interval [" in text
    assert "Without fine-tuning, a classical model is the better RCA tool here" in text
    assert "2.5 J per ticket (codecarbon 3.3.2, modelled)" in text and "Smoke" not in text


def test_evaluation_finding_gives_the_paired_verdict(records):
    text = findings.evaluation(NAME, "bf16-lora")
    assert text.startswith("bf16-lora finds the root cause of 100% of 60 test tickets (3 classes): macro-F1 1.00 [1.00, 1.00]")
    assert "Compared with TF-IDF + logistic regression on the same tickets: **better** (difference +0.33" in text
