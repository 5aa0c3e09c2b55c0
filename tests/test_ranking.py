"""The paper's ranking with our normalisation, against a hand-computed example."""
import pandas as pd
import pytest

from helpers.ranking import comparison_pairs, rank, retention_table, top_fine_tuned


def test_rank_by_hand():
    table = pd.DataFrame({"variant": ["fp32", "bf16", "nf4"], "joules_per_ticket": [2.0, 1.0, 4.0],
                          "macro_f1": [0.6, 0.5, 0.9]})
    out = rank(table, w=0.5)
    # phi = min J / J: fp32 0.5, bf16 1.0, nf4 0.25; rho = macro-F1 / best (0.9): fp32 2/3, bf16 5/9, nf4 1
    assert out.variant.tolist() == ["bf16", "nf4", "fp32"]
    assert out.R.tolist() == pytest.approx([0.5 + 0.5 * 5 / 9, 0.125 + 0.5, 0.25 + 0.5 * 6 / 9])
    assert rank(table, w=0.0).variant[0] == "nf4" and rank(table, w=1.0).variant[0] == "bf16"


def test_bad_inputs():
    table = pd.DataFrame({"variant": ["a"], "joules_per_ticket": [0.0], "macro_f1": [0.5]})
    with pytest.raises(ValueError, match="must be > 0"):
        rank(table)
    with pytest.raises(ValueError, match="between 0 and 1"):
        rank(table.assign(joules_per_ticket=1.0), w=1.5)


def spec(precision="bf16", method="none", sparsity=0.0, pattern="unstructured", finetune="none", parent=""):
    return {"precision": precision, "method": method, "sparsity": sparsity, "pattern": pattern, "finetune": finetune,
            "parent": parent}


def test_stage_two_prunes_the_top_ranked_fine_tuned_models_that_do_the_task():
    table = pd.DataFrame({
        "variant": ["fp32", "bf16-lora", "nf4-qlora", "fp32-lora", "bf16-lora@fp32"],
        "spec": [spec("fp32"), spec(finetune="lora"), spec("nf4", finetune="lora"), spec("fp32", finetune="lora"),
                 spec("fp32", parent="bf16-lora")],
        "joules_per_ticket": [0.5, 2.0, 1.0, 4.0, 3.0], "macro_f1": [0.05, 0.7, 0.6, 0.7, 0.7],
        "does_task": [False, True, False, True, True]})
    ranked = rank(table, w=0.5)
    assert ranked.variant.tolist()[:2] == ["bf16-lora", "bf16-lora@fp32"]
    assert top_fine_tuned(ranked, 2) == ["bf16-lora", "fp32-lora"]  # fine-tuned, dense, own adapter; task first
    assert top_fine_tuned(ranked, 3) == ["bf16-lora", "fp32-lora", "nf4-qlora"]  # flagged only when fewer do


def test_retention_of_pruned_copies_against_their_parent_with_the_paired_interval():
    inference = pd.DataFrame({
        "variant": ["bf16-lora", "bf16-lora-wanda30", "bf16-lora-wanda30-recovered", "bf16-lora@fp32"],
        "spec": [spec(finetune="lora"), spec(method="wanda", sparsity=0.3, parent="bf16-lora"),
                 spec(method="wanda", sparsity=0.3, finetune="lora", parent="bf16-lora"),
                 spec("fp32", parent="bf16-lora")],
        "macro_f1": [0.8, 0.4, 0.7, 0.8], "task_check": ["ok"] * 4, "joules_per_ticket": [1.0] * 4})
    pairs = comparison_pairs(inference, classical=(), retrieval="none")
    assert ("bf16-lora-wanda30", "bf16-lora") in pairs and ("bf16-lora@fp32", "bf16-lora") in pairs
    assert len(pairs) == len(set(pairs))
    paired = pd.DataFrame({"a": ["bf16-lora-wanda30", "bf16-lora-wanda30-recovered"], "b": ["bf16-lora"] * 2,
                           "macro_f1_diff_ci_low": [-0.6, -0.2], "macro_f1_diff_ci_high": [-0.2, 0.04],
                           "verdict": ["worse", "no significant difference"]})
    table = retention_table(inference, paired)
    assert table.stage.tolist() == ["as pruned", "recovered"] and set(table.parent) == {"bf16-lora"}
    assert table.retention_pct.tolist() == pytest.approx([50.0, 87.5])
    assert table.retention_ci_low_pct.tolist() == pytest.approx([25.0, 75.0])
    assert table.retention_ci_high_pct.tolist() == pytest.approx([75.0, 105.0])
    assert retention_table(inference.iloc[[0, 3]], paired.iloc[:0]).empty  # no stage 2: an empty table


def test_paired_overview_puts_each_variants_differences_on_one_row():
    from helpers.ranking import paired_overview

    nan = float("nan")
    paired = pd.DataFrame({
        "a": ["bf16-lora", "bf16-lora", "bf16-lora-wanda30"],
        "b": ["tfidf-logreg", "retrieval-tfidf", "bf16-lora"],
        "macro_f1_diff": [0.145, nan, -0.1], "macro_f1_diff_ci_low": [-0.004, nan, -0.2],
        "macro_f1_diff_ci_high": [0.242, nan, -0.03], "verdict": ["no significant difference", nan, "worse"],
        "note_quality_diff": [nan, -0.08, 0.01], "note_quality_diff_ci_low": [nan, -0.12, -0.02],
        "note_quality_diff_ci_high": [nan, -0.04, 0.05], "note_verdict": [nan, "worse", "no significant difference"]})
    table = paired_overview(paired).set_index("variant")
    assert table.index.tolist() == ["bf16-lora", "bf16-lora-wanda30"]
    assert table.loc["bf16-lora", "macro-F1 minus tfidf-logreg"] == "+0.14 [-0.00, +0.24] no significant difference"
    assert table.loc["bf16-lora", "note quality minus retrieval-tfidf"] == "-0.08 [-0.12, -0.04] worse"
    assert table.loc["bf16-lora-wanda30", "macro-F1 minus its parent or base"] == "bf16-lora: -0.10 [-0.20, -0.03] worse"
    assert table.loc["bf16-lora-wanda30", "macro-F1 minus tfidf-logreg"] == ""  # not compared: blank, not NaN
