"""Ranking sweep, Pareto front, one-off accounting, break-even, cost, carbon and payback by hand."""
import math

import pandas as pd
import pytest

from helpers import lifecycle, ranking


def test_pareto_front_by_hand():
    costs, quality = [1.0, 2.0, 3.0, 0.5, 2.0], [0.5, 0.6, 0.55, 0.1, 0.6]
    # (3, .55) is beaten by (2, .6); the two identical (2, .6) points do not beat each other
    assert ranking.pareto_front(costs, quality).tolist() == [True, True, False, True, True]


def test_sweep_w_winners():
    table = pd.DataFrame({"variant": ["fp32", "bf16", "nf4"], "joules_per_ticket": [2.0, 1.0, 4.0],
                          "macro_f1": [0.6, 0.5, 0.9]})
    sweep = ranking.sweep_w(table, steps=3)
    winners = sweep[sweep.winner].set_index("w")["variant"].to_dict()
    assert winners == {0.0: "nf4", 0.5: "bf16", 1.0: "bf16"}


def test_rho_is_the_mean_of_both_tasks():
    table = pd.DataFrame({"variant": ["a", "b"], "joules_per_ticket": [1.0, 1.0], "macro_f1": [0.8, 0.4],
                          "response_quality": [0.2, 0.8]})
    out = ranking.rank(table, w=0.0, quality=["macro_f1", "response_quality"])
    assert out.set_index("variant")["rho"].to_dict() == pytest.approx({"a": 0.5, "b": 0.6})


def record(notebook, spec, joules):
    return {"notebook": notebook, "spec": spec, "energy": [{"method": "m", "joules": None, "duration_s": 1},
                                                          {"method": "m2", "joules": joules, "duration_s": 1}]}


SPEC = {"precision": "bf16", "method": "magnitude", "sparsity": 0.5, "finetune": "lora"}


def test_one_off_energy_collects_the_variants_runs():
    records = [
        record("03_prune", {"precision": "fp32", "method": "magnitude", "sparsity": 0.5, "finetune": "none"}, 100.0),
        record("03_prune", {"precision": "fp32", "method": "magnitude", "sparsity": 0.7, "finetune": "none"}, 999.0),
        record("04_quantize", {**SPEC, "finetune": "none"}, 10.0),
        record("04_quantize", {**SPEC, "precision": "nf4", "finetune": "none"}, 999.0),
        record("05_finetune", SPEC, 1000.0),
        record("05_finetune", {**SPEC, "method": "none", "sparsity": 0.0}, 999.0),
    ]
    assert lifecycle.one_off_joules(records, SPEC) == {"compression_j": 110.0, "finetune_j": 1000.0}
    dense = {"precision": "bf16", "method": "none", "sparsity": 0.0, "finetune": "none"}
    assert lifecycle.one_off_joules(records, dense) == {"compression_j": 0.0, "finetune_j": 0.0}
    two_of_four = record("03_prune", {"precision": "fp32", "method": "magnitude", "sparsity": 0.5, "pattern": "2:4",
                                      "finetune": "none"}, 5000.0)
    assert lifecycle.one_off_joules(records + [two_of_four], SPEC)["compression_j"] == 110.0  # other pattern


def test_unavailable_energy_makes_payback_unknown_not_free():
    broken = {"notebook": "05_finetune", "spec": SPEC, "energy": [{"method": "m unavailable", "joules": None,
                                                                    "duration_s": 1}]}
    assert math.isnan(lifecycle.one_off_joules([broken], SPEC)["finetune_j"])
    assert math.isnan(lifecycle.break_even_tickets(math.nan, 1.0, 2.0))


def test_break_even_payback_cost_and_carbon_by_hand():
    assert lifecycle.break_even_tickets(1000.0, 1.0, 3.0) == 500.0
    assert lifecycle.break_even_tickets(1000.0, 3.0, 3.0) == math.inf
    assert lifecycle.payback_months(365.25 / 12 * 100, 100) == pytest.approx(1.0)
    # 3.6 J/ticket -> 1 Wh per 1,000 tickets -> 0.001 kWh -> 0.0002 EUR at 0.2 EUR/kWh, 0.04 g at 40 g/kWh
    assert lifecycle.per_thousand(3.6, 0.2, 40.0) == pytest.approx(
        {"wh_per_1000": 1.0, "cost_per_1000": 0.0002, "co2_g_per_1000": 0.04})
    with pytest.raises(ValueError, match="tickets_per_day"):
        lifecycle.payback_months(10, 0)


def test_lifecycle_table_against_baseline():
    inference = pd.DataFrame({"variant": ["fp32", "bf16-magnitude50-lora"], "joules_per_ticket": [3.0, 1.0],
                              "spec": [{"precision": "fp32", "method": "none", "sparsity": 0.0, "finetune": "none"},
                                       SPEC]})
    records = [record("03_prune", {"precision": "fp32", "method": "magnitude", "sparsity": 0.5, "finetune": "none"},
                      100.0), record("05_finetune", SPEC, 900.0)]
    life = lifecycle.lifecycle_table(inference, records, "fp32", 0.2, 40.0, tickets_per_day=250)
    row = life.set_index("variant").loc["bf16-magnitude50-lora"]
    assert row["one_off_j"] == 1000.0 and row["break_even_tickets"] == 500.0
    assert row["payback_months"] == pytest.approx(2 / (365.25 / 12))
    with pytest.raises(ValueError, match="baseline variant 'int8' was not evaluated"):
        lifecycle.lifecycle_table(inference, records, "int8", 0.2, 40.0, 250)


def test_markdown_table():
    text = lifecycle.to_markdown(pd.DataFrame({"a": [1], "b": ["x"]}))
    assert text == "| a | b |\n|---|---|\n| 1 | x |\n"


def test_task_table_adds_both_tasks_energy():
    table = pd.DataFrame([
        {"notebook": "06_rca_eval", "phase": "inference", "variant": "a", "macro_f1": 0.5, "joules_per_ticket": 2.0,
         "joules_per_ticket_ci95": 0.3, "energy_method": "m"},
        {"notebook": "06_rca_eval", "phase": "response", "variant": "a", "response_quality": 0.7, "rougeL": 0.2,
         "bleu": 5.0, "embedding_cosine": 0.7, "joules_per_ticket": 10.0, "joules_per_ticket_ci95": 0.4,
         "energy_method": "m"},
        {"notebook": "02_baseline", "phase": "inference", "variant": "fp32-zero-shot", "macro_f1": 0.1,
         "joules_per_ticket": 2.0, "joules_per_ticket_ci95": 0.3, "energy_method": "m"}])
    (row,) = ranking.task_table(table).to_dict("records")
    assert row["variant"] == "a" and row["joules_per_ticket"] == 12.0 and row["rca_joules_per_ticket"] == 2.0
    assert row["joules_per_ticket_ci95"] == pytest.approx(0.5) and row["response_quality"] == 0.7
    assert row["energy_method"] == "m"
    without_notes = ranking.task_table(table.drop(index=1))  # no note for "a": RCA energy alone, for every variant
    assert without_notes["joules_per_ticket"].tolist() == [2.0] and "response_quality" not in without_notes


def test_paired_comparisons_from_records():
    """Every variant against TF-IDF (RCA) and retrieval (notes), each fine-tuned variant against its base."""
    base_spec = {"precision": "bf16", "method": "none", "sparsity": 0.0, "pattern": "unstructured", "finetune": "none"}
    inference = pd.DataFrame([{"variant": "bf16", "spec": base_spec},
                              {"variant": "bf16-lora", "spec": {**base_spec, "finetune": "lora"}},
                              {"variant": "nf4-qlora", "spec": {**base_spec, "precision": "nf4", "finetune": "lora"}}])
    pairs = ranking.comparison_pairs(inference)
    assert ("bf16-lora", "bf16") in pairs and ("bf16", "tfidf-logreg") in pairs and ("nf4-qlora", "retrieval-tfidf") in pairs
    assert not any(a == "nf4-qlora" and b.startswith(("bf16", "nf4")) for a, b in pairs)  # nf4 base not evaluated

    ids = [f"T{i}" for i in range(40)]
    truth = dict(zip(ids, ["a", "b"] * 20))
    def record(notebook, phase, variant, **fields):
        return {"notebook": notebook, "phase": phase, "variant": variant, "ticket_ids": ids, **fields}
    records = [record("02_baseline", "inference", "tfidf-logreg", predictions=["a"] * 40),
               record("06_rca_eval", "inference", "bf16-lora", predictions=[truth[i] for i in ids]),
               record("06_rca_eval", "response", "bf16-lora", note_quality=[0.9] * 40),
               record("02_baseline", "response", "retrieval-tfidf", note_quality=[0.5] * 40),
               record("05_finetune", "finetune", "bf16-lora")]
    table = ranking.compare(records, truth, ["a", "b"], [("bf16-lora", "tfidf-logreg"), ("bf16-lora", "retrieval-tfidf")])
    rca, notes = table.to_dict("records")
    assert rca["verdict"] == "better" and rca["macro_f1_diff"] == pytest.approx(1 - 1 / 3) and rca["tickets"] == 40
    assert pd.isna(rca.get("note_verdict")) and pd.isna(notes.get("verdict"))
    assert notes["note_verdict"] == "better" and notes["note_quality_diff"] == pytest.approx(0.4)
