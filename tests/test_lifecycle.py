"""Ranking sweep, Pareto front, one-off accounting, break-even, cost, carbon and payback by hand."""
import math

import pandas as pd
import pytest

from helpers import energy, findings, lifecycle, ranking, report


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
    assert out.set_index("variant")["rho"].to_dict() == pytest.approx({"a": (1 + 0.25) / 2, "b": (0.5 + 1) / 2})


def test_a_variant_that_does_not_do_the_task_is_never_recommended():
    """The cheapest variant is a constant predictor; the classical reference is cheaper still and as good."""
    table = pd.DataFrame({"variant": ["constant", "lora", "bf16", "tfidf"], "joules_per_ticket": [0.5, 2.1, 1.0, 0.001],
                          "macro_f1": [0.03, 0.7, 0.35, 0.6], "does_task": [False, True, True, True],
                          "llm": [True, True, True, False]})
    ranked = ranking.rank(table, w=0.9).set_index("variant")
    assert list(ranked.index) == ["bf16", "lora", "constant", "tfidf"]  # candidates by R, then flagged, then references
    assert ranked.loc["bf16", "phi"] == 1.0 and ranked.loc["lora", "rho"] == 1.0  # shares of the best candidate
    assert ranked.loc["tfidf", "phi"] == pytest.approx(1000) and math.isnan(ranked.loc["tfidf", "R"])
    assert ranked["recommendable"].to_dict() == {"bf16": True, "lora": True, "constant": False, "tfidf": False}
    sweep = ranking.sweep_w(table, steps=3)
    assert set(sweep.variant) == {"constant", "lora", "bf16"}  # references get no R
    assert sweep[sweep.winner].set_index("w")["variant"].to_dict() == {0.0: "lora", 0.5: "bf16", 1.0: "bf16"}


def record(notebook, spec, joules, plain_load=0.0):
    """A record whose best reading is `joules`; notebook 4's also carry the plain fp32 load's joules."""
    return {"notebook": notebook, "spec": spec, "energy": [{"method": "m", "joules": None, "duration_s": 1},
                                                          {"method": "m2", "joules": joules, "duration_s": 1}],
            "metrics": {"plain_load_joules": plain_load} if notebook == "04_quantize" else {}}


SPEC = {"precision": "bf16", "method": "magnitude", "sparsity": 0.5, "finetune": "lora"}


def test_one_off_energy_collects_the_variants_runs():
    records = [
        record("03_prune", {"precision": "fp32", "method": "magnitude", "sparsity": 0.5, "finetune": "none"}, 100.0),
        record("03_prune", {"precision": "fp32", "method": "magnitude", "sparsity": 0.7, "finetune": "none"}, 999.0),
        record("04_quantize", {**SPEC, "finetune": "none"}, 14.0, plain_load=4.0),  # 10 J of conversion
        record("04_quantize", {**SPEC, "precision": "nf4", "finetune": "none"}, 999.0),
        record("05_finetune", SPEC, 1000.0),
        record("05_finetune", {**SPEC, "method": "none", "sparsity": 0.0}, 999.0),
    ]
    assert lifecycle.one_off_joules(records, SPEC) == {"compression_j": 110.0, "finetune_j": 1000.0,
                                                       "one_off_unknown": ""}
    two_of_four = record("03_prune", {"precision": "fp32", "method": "magnitude", "sparsity": 0.5, "pattern": "2:4",
                                      "finetune": "none"}, 5000.0)
    assert lifecycle.one_off_joules(records + [two_of_four], SPEC)["compression_j"] == 110.0  # other pattern


def test_a_variant_made_from_a_fine_tuned_parent_carries_the_parents_fine_tuning():
    parent = {"precision": "bf16", "method": "none", "sparsity": 0.0, "pattern": "unstructured", "finetune": "lora",
              "parent": ""}
    pruned = {**parent, "method": "wanda", "sparsity": 0.5, "finetune": "none", "parent": "bf16-lora"}
    recovered = {**pruned, "finetune": "lora"}
    records = [record("05_finetune", {k: v for k, v in parent.items() if k != "parent"}, 1000.0),  # an older record
               record("03_prune", {**pruned, "precision": "fp32"}, 100.0),
               record("03_prune", {**pruned, "precision": "fp32", "parent": ""}, 999.0),  # the base model pruned
               record("04_quantize", pruned, 14.0, plain_load=4.0),
               record("05_finetune", recovered, 300.0)]
    assert lifecycle.one_off_joules(records, pruned) == {"compression_j": 110.0, "finetune_j": 1000.0,
                                                         "one_off_unknown": ""}
    assert lifecycle.one_off_joules(records, recovered)["finetune_j"] == 1300.0  # parent + recovery
    served = {**parent, "precision": "fp32", "finetune": "none", "parent": "bf16-lora"}
    out = lifecycle.one_off_joules(records[:1], served)
    assert math.isnan(out["compression_j"]) and out["finetune_j"] == 1000.0 and out["one_off_unknown"] == "no 04_quantize record"


def test_the_load_every_variant_pays_is_not_one_off_work():
    dense = {"precision": "bf16", "method": "none", "sparsity": 0.0, "finetune": "none"}
    assert lifecycle.one_off_joules([record("04_quantize", dense, 50.0, plain_load=48.0)], dense)["compression_j"] == 2.0
    assert lifecycle.one_off_joules([record("04_quantize", dense, 47.0, plain_load=48.0)], dense)["compression_j"] == 0.0
    out = lifecycle.one_off_joules([record("04_quantize", dense, 50.0, plain_load=None)], dense)
    assert math.isnan(out["compression_j"]) and out["one_off_unknown"] == "no energy reading in 04_quantize"


def test_a_missing_one_off_record_is_unknown_not_free():
    dense = {"precision": "bf16", "method": "none", "sparsity": 0.0, "finetune": "none"}
    out = lifecycle.one_off_joules([record("04_quantize", {**dense, "precision": "fp32"}, 10.0)], dense)
    assert math.isnan(out["compression_j"]) and out["one_off_unknown"] == "no 04_quantize record"
    out = lifecycle.one_off_joules([record("04_quantize", {**SPEC, "finetune": "none"}, 10.0)], SPEC)
    assert math.isnan(out["compression_j"]) and math.isnan(out["finetune_j"])
    assert out["one_off_unknown"] == "no 03_prune record; no 05_finetune record"


def test_unavailable_energy_makes_payback_unknown_not_free():
    broken = {"notebook": "05_finetune", "spec": SPEC, "energy": [{"method": "m unavailable", "joules": None,
                                                                    "duration_s": 1}]}
    assert math.isnan(lifecycle.one_off_joules([broken], SPEC)["finetune_j"])
    assert math.isnan(lifecycle.break_even_tickets(math.nan, 1.0, 2.0))


def test_break_even_payback_cost_and_carbon_by_hand():
    assert lifecycle.break_even_tickets(1000.0, 1.0, 3.0) == 500.0
    assert lifecycle.break_even_tickets(1000.0, 3.0, 3.0) == math.inf
    assert lifecycle.break_even_tickets(-200.0, 1.0, 3.0) == 0.0  # cheaper up front and per ticket: at once
    # 3.6 J/ticket -> 1 Wh per 1,000 tickets -> 0.001 kWh -> 0.0002 EUR at 0.2 EUR/kWh, 0.04 g at 40 g/kWh
    assert lifecycle.per_thousand(3.6, 0.2, 40.0) == pytest.approx(
        {"wh_per_1000": 1.0, "cost_per_1000": 0.0002, "co2_g_per_1000": 0.04})


def test_lifecycle_table_against_baseline():
    dense = {"precision": "fp32", "method": "none", "sparsity": 0.0, "finetune": "none"}
    inference = pd.DataFrame({"variant": ["fp32", "bf16-magnitude50-lora", "noisy", "tfidf"],
                              "joules_per_ticket": [3.0, 1.0, 2.9, 0.01], "joules_per_ticket_ci95": [0.3, 0.4, 0.2, None],
                              "spec": [dense, SPEC, {**dense, "precision": "bf16"}, None],
                              "one_off_j": [None, None, None, 50.0]})
    records = [record("03_prune", {"precision": "fp32", "method": "magnitude", "sparsity": 0.5, "finetune": "none"}, 60.0),
               record("04_quantize", dense, 5.0), record("04_quantize", {**SPEC, "finetune": "none"}, 40.0),
               record("04_quantize", {**dense, "precision": "bf16"}, 5.0), record("05_finetune", SPEC, 900.0)]
    life = lifecycle.lifecycle_table(inference, records, "fp32", 0.2, 40.0, tickets_per_day=250).set_index("variant")
    row = life.loc["bf16-magnitude50-lora"]  # 1,000 J one-off, 5 J of it beyond the baseline's; saves 2 J a ticket
    assert row["one_off_j"] == 1000.0 and row["one_off_beyond_baseline_j"] == 995.0
    assert row["break_even_tickets"] == 497.5 and row["payback_days"] == 1.99
    assert row["saving_ci95"] == pytest.approx(0.5) and not row["within_noise"]
    assert report.payback_text(row, False, 250) == "498 tickets (2.0 days at 250 a day)"
    assert life.loc["noisy", "within_noise"]  # saves 0.1 +- 0.36 J per ticket
    assert report.payback_text(life.loc["noisy"], False, 250).startswith("within noise (saving 0.1 ± 0.36 J")
    assert life.loc["tfidf", "one_off_j"] == 50.0 and not life.loc["tfidf", "within_noise"]  # no interval to say so
    assert report.payback_text(life.loc["tfidf"], False, 250) == "15 tickets (0.060 days at 250 a day, single measurement)"
    assert report.payback_text({**life.loc["tfidf"], "break_even_tickets": 1.0}, False, 250).startswith("1 ticket (")
    assert report.payback_text({**life.loc["tfidf"], "break_even_tickets": 0.3}, False, 250) == \
        "within the first ticket, single measurement"  # not "0 tickets"
    assert report.payback_text(life.loc["fp32"], True, 250) == "baseline"
    with pytest.raises(ValueError, match="baseline variant 'int8' was not evaluated"):
        lifecycle.lifecycle_table(inference, records, "int8", 0.2, 40.0, 250)
    with pytest.raises(ValueError, match="tickets_per_day"):
        lifecycle.lifecycle_table(inference, records, "fp32", 0.2, 40.0, 0)


def test_a_fine_tune_the_baseline_needed_too_is_not_paid_back_again():
    """The baseline is the fine-tuned model served at fp32: the same fine-tune made the bf16 variant, so serving at
    bf16 pays back at once; a cheaper per-ticket variant that needs more one-off energy pays back only the extra."""
    tuned = {"precision": "bf16", "method": "none", "sparsity": 0.0, "finetune": "lora"}
    served = {"precision": "fp32", "method": "none", "sparsity": 0.0, "finetune": "none", "parent": "bf16-lora"}
    pruned = {**tuned, "method": "wanda", "sparsity": 0.5, "parent": "bf16-lora"}
    inference = pd.DataFrame({"variant": ["bf16-lora@fp32", "bf16-lora", "pruned"], "joules_per_ticket": [4.0, 2.0, 1.0],
                              "joules_per_ticket_ci95": [0.1, 0.1, 0.1], "spec": [served, tuned, pruned]})
    records = [record("05_finetune", tuned, 900.0), record("04_quantize", {**tuned, "finetune": "none"}, 0.0),
               record("04_quantize", {**served, "finetune": "none"}, 0.0),
               record("03_prune", {**pruned, "finetune": "none"}, 100.0),
               record("04_quantize", {**pruned, "finetune": "none"}, 0.0), record("05_finetune", pruned, 200.0)]
    life = lifecycle.lifecycle_table(inference, records, "bf16-lora@fp32", 0.2, 40.0, 1000).set_index("variant")
    assert life["one_off_j"].to_dict() == {"bf16-lora@fp32": 900.0, "bf16-lora": 900.0, "pruned": 1200.0}
    assert life.loc["bf16-lora", "break_even_tickets"] == 0.0
    assert report.payback_text(life.loc["bf16-lora"], False, 1000) == "at once (no one-off energy beyond the baseline's)"
    assert life.loc["pruned", "break_even_tickets"] == 100.0  # (1,200 - 900) J / (4 - 1) J per ticket
    unknown = lifecycle.lifecycle_table(inference, records[:1] + records[2:], "bf16-lora", 0.2, 40.0, 1000)
    assert report.payback_text(unknown.set_index("variant").loc["pruned"], False, 1000) == \
        "unknown (baseline: no 04_quantize record)"


def test_payback_reads_without_scientific_notation():
    row = {"one_off_unknown": "", "break_even_tickets": 3.0, "within_noise": False}
    assert report.payback_text(row, False, 5000) == "3 tickets (0.00060 days at 5,000 a day)"
    assert report.payback_text({**row, "break_even_tickets": 2e6}, False, 5000) == \
        "2,000,000 tickets (400 days at 5,000 a day)"
    assert report.payback_text({**row, "break_even_tickets": math.inf}, False, 5000) == "never (costs more per ticket)"
    assert report.payback_text({**row, "one_off_unknown": "no 05_finetune record", "break_even_tickets": math.nan},
                                  False, 5000) == "unknown (no 05_finetune record)"


def test_markdown_table():
    text = report.to_markdown(pd.DataFrame({"a": [1], "b": ["x"]}))
    assert text == "| a | b |\n|---|---|\n| 1 | x |\n"


def test_task_table_adds_both_tasks_energy():
    table = pd.DataFrame([
        {"notebook": "06_rca_eval", "phase": "inference", "variant": "a", "macro_f1": 0.5, "joules_per_ticket": 2.0,
         "joules_per_ticket_ci95": 0.3, "energy_method": "m"},
        {"notebook": "06_rca_eval", "phase": "response", "variant": "a", "response_quality": 0.7, "rougeL": 0.2,
         "bleu": 5.0, "embedding_cosine": 0.7, "joules_per_ticket": 10.0, "joules_per_ticket_ci95": 0.4,
         "energy_method": "m", "energy_tokens_per_note": 40},
        {"notebook": "02_baseline", "phase": "inference", "variant": "fp32-zero-shot", "macro_f1": 0.1,
         "joules_per_ticket": 2.0, "joules_per_ticket_ci95": 0.3, "energy_method": "m"}])
    (row,) = ranking.task_table(table).to_dict("records")
    assert row["variant"] == "a" and row["joules_per_ticket"] == 12.0 and row["rca_joules_per_ticket"] == 2.0
    assert row["joules_per_ticket_ci95"] == pytest.approx(0.5) and row["response_quality"] == 0.7
    assert row["energy_method"] == "m" and row["energy_counts"] == "RCA + one note of 40 tokens"
    without_notes = ranking.task_table(table.drop(index=1))  # no note for "a": RCA energy alone, for every variant
    assert without_notes["joules_per_ticket"].tolist() == [2.0] and "response_quality" not in without_notes
    assert without_notes["energy_counts"].tolist() == ["RCA only"]
    assert math.isnan(ranking.task_table(table.assign(joules_per_ticket_ci95=[0.3, None, 0.3]))
                      ["joules_per_ticket_ci95"].iloc[0])  # a missing interval stays unknown, never 0


def test_classical_references_sit_beside_the_llm_variants():
    table = pd.DataFrame([
        {"notebook": "02_baseline", "phase": "inference", "variant": "tfidf-logreg", "compute_path": "scikit-learn cpu",
         "macro_f1": 0.55, "does_task": True, "joules_per_ticket": 0.003, "training_joules": 20.0, "energy_method": "m"},
        {"notebook": "02_baseline", "phase": "inference", "variant": "minilm-logreg", "compute_path": "scikit-learn cpu",
         "macro_f1": 0.68, "does_task": True, "joules_per_ticket": 0.3, "training_joules": 150.0, "energy_method": "m"},
        {"notebook": "02_baseline", "phase": "response", "variant": "retrieval-tfidf", "compute_path": "scikit-learn cpu",
         "response_quality": 0.48, "rougeL": 0.35, "bleu": 25.0, "embedding_cosine": 0.48, "joules_per_ticket": 0.002,
         "training_joules": 0.5, "energy_method": "m2"}])
    both = ranking.classical_references(table, pd.DataFrame({"response_quality": [0.2]})).set_index("variant")
    row = both.loc["tfidf-logreg + retrieval-tfidf"]
    assert not row["llm"] and row["macro_f1"] == 0.55 and row["response_quality"] == 0.48
    assert row["joules_per_ticket"] == pytest.approx(0.005) and row["one_off_j"] == 20.5
    assert row["energy_counts"] == "RCA + one retrieved note" and "minilm-logreg + retrieval-tfidf" in both.index
    assert row["energy_method"] == "m + m2" and pd.isna(row["joules_per_ticket_ci95"])
    rca_only = ranking.classical_references(table, pd.DataFrame({"macro_f1": [0.2]}))
    assert rca_only["variant"].tolist() == ["tfidf-logreg", "minilm-logreg"] and rca_only["one_off_j"].tolist() == [20.0, 150.0]


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


def test_manager_summary_names_roles_and_keeps_small_energies_readable():
    dense = {"precision": "fp32", "method": "none", "sparsity": 0.0, "finetune": "none"}
    systems = pd.DataFrame({
        "variant": ["fp32", "bf16", "tfidf-logreg"], "llm": [True, True, False], "does_task": [True, True, True],
        "macro_f1": [0.5, 0.5, 0.55], "task_check": ["ok"] * 3, "joules_per_ticket": [3.0, 1.0, 0.004],
        "joules_per_ticket_ci95": [0.1, 0.1, None], "spec": [dense, {**dense, "precision": "bf16"}, None],
        "one_off_j": [None, None, 20.0], "energy_method": ["m (modelled)"] * 3, "energy_repeats": [3, 3, 1],
        "compute_path": ["dense fp32 cpu", "dense bf16 cpu", "scikit-learn cpu"]})
    records = [record("04_quantize", dense, 1.0), record("04_quantize", {**dense, "precision": "bf16"}, 5.0)]
    ranked = ranking.rank(systems, 0.5)
    life = lifecycle.lifecycle_table(systems, records, "fp32", 0.2, 40.0, 5000)
    summary = report.manager_summary(ranked, life, "fp32", "SE", 5000).set_index("variant")
    assert summary["role"].to_dict() == {"bf16": "recommended", "fp32": "candidate", "tfidf-logreg": "reference (not an LLM)"}
    assert summary.loc["bf16", "J per ticket vs fp32"] == "x0.33" and summary.loc["fp32", "payback"] == "baseline"
    assert summary.loc["bf16", "payback"] == "2 tickets (0.00040 days at 5,000 a day)"  # 4 J beyond fp32's, 2 J saved
    assert summary.loc["tfidf-logreg", "J per ticket vs fp32"] == "x0.0013 (single measurement)"
    assert summary.loc["tfidf-logreg", "J per ticket"] == "0.00400"
    assert summary.loc["tfidf-logreg", "Wh per 1,000 tickets"] == "0.00111"  # 4 J per 1,000 tickets: not 0, no e-notation
    assert summary.loc["tfidf-logreg", "EUR per 1,000 tickets"] == "0.000000222"
    assert summary.loc["tfidf-logreg", "one-off kJ"] == 0.02 and summary.loc["tfidf-logreg", "rank (R)"] == "not ranked"


def test_a_variant_whose_higher_r_is_energy_noise_is_outranked_not_recommended():
    """The reference run's case: a pruned copy 1 J cheaper than its parent (spread ±2–3 J) and significantly worse
    had the best R. Outranked: that copy, a recovered copy no better than its parent at no saving. Kept: a copy that
    is significantly cheaper though worse, and a re-served copy that is significantly better though dearer."""
    spec = {"precision": "bf16", "method": "none", "finetune": "lora"}
    table = pd.DataFrame({
        "variant": ["lora", "lora-wanda30", "lora-recovered", "lora-int8", "lora@fp32"],
        "joules_per_ticket": [12.9, 11.9, 12.5, 6.0, 18.0], "joules_per_ticket_ci95": [2.3, 1.7, 1.7, 0.5, 1.9],
        "macro_f1": [0.68, 0.64, 0.66, 0.60, 0.73], "does_task": [True] * 5, "llm": [True] * 5,
        "spec": [spec] + [{**spec, "parent": "lora"}] * 4})
    verdicts = {"lora-wanda30": "worse", "lora-recovered": "no significant difference", "lora-int8": "worse",
                "lora@fp32": "better"}
    paired = pd.DataFrame([{"a": v, "b": "lora", "verdict": d} for v, d in verdicts.items()]
                          + [{"a": "lora-wanda30", "b": "lora-int8", "verdict": "no significant difference"}])
    plain = ranking.rank(table.assign(joules_per_ticket=[12.9, 11.9, 12.5, 12.0, 18.0]), w=0.5)
    assert plain["variant"].iloc[0] == "lora-wanda30"  # R alone puts the worse copy first
    ranked = ranking.rank(table, w=0.5, paired=paired).set_index("variant")
    assert ranked["outranked_by"].to_dict() == {"lora-int8": "", "lora": "", "lora@fp32": "", "lora-wanda30": "lora",
                                                "lora-recovered": "lora"}
    assert list(ranked.index[:3]) == ["lora-int8", "lora", "lora@fp32"]  # the outranked come after the others
    assert not ranked.loc[["lora-wanda30", "lora-recovered"], "recommendable"].any()
    winners = ranking.sweep_w(table, steps=3, paired=paired).query("winner").set_index("w")["variant"].to_dict()
    assert winners == {0.0: "lora@fp32", 0.5: "lora-int8", 1.0: "lora-int8"}
    noisy = table.assign(joules_per_ticket=[12.9, 11.9, 12.5, 12.0, 18.0])  # the int8 copy's saving inside the spread
    ranked = ranking.rank(noisy, w=0.5, paired=paired).set_index("variant")
    assert ranked.loc["lora-int8", "outranked_by"] == "lora" and ranked.index[0] == "lora"


def test_copies_on_the_same_dense_kernels_never_save_energy_over_each_other():
    """The second reference run's case: the pruned copy's notes and scoring ran while the machine was faster, so it
    measured 40 % below its parent, beyond one cell's repeats; the same dense bf16 kernels did the same work."""
    dense = "dense bf16 cpu; weights of lora, its adapter merged; LoRA merged, pruned zeros re-applied (wanda "
    table = pd.DataFrame({"variant": ["lora", "lora-wanda30", "lora-int8"], "joules_per_ticket": [22.9, 13.5, 12.0],
                          "joules_per_ticket_ci95": [4.2, 2.1, 1.0], "macro_f1": [0.68, 0.58, 0.60],
                          "does_task": [True] * 3, "llm": [True] * 3,
                          "compute_path": ["dense bf16 cpu; LoRA merged", dense + "unstructured zeros in dense weights)",
                                           "torchao int8 dynamic cpu; weights of lora, its adapter merged"],
                          "spec": [{}, {"parent": "lora"}, {"parent": "lora"}]})
    paired = pd.DataFrame([{"a": "lora-wanda30", "b": "lora", "verdict": "worse"},
                           {"a": "lora-int8", "b": "lora", "verdict": "worse"}])
    ranked = ranking.rank(table, w=0.5, paired=paired).set_index("variant")
    assert ranked.loc["lora-wanda30", "outranked_by"] == "lora"  # same kernels: its lower reading is noise
    assert ranked.loc["lora-int8", "outranked_by"] == "" and ranked.index[0] == "lora-int8"  # another kernel: saves
    assert ranking.same_work("dense bf16 cpu; LoRA merged", dense + "2:4 zeros; N/A semi-structured 2:4 kernel: x)")
    assert not ranking.same_work("dense bf16 cuda", "dense bf16 cuda; weights of x (wanda 2:4 zeros; semi-structured 2:4 cuda)")
    assert not ranking.same_work("bnb nf4 cpu; LoRA adapter unmerged", "bnb nf4 cpu")
    assert not ranking.same_work("dense fp32 cpu", "dense bf16 cpu") and not ranking.same_work(None, "dense bf16 cpu")


def test_intervals_hold_the_drift_between_cells_that_identical_work_measured():
    """The third reference run's drift: a fine-tuned model and its pruned copy, the same dense bf16 kernels, measured
    2.57 and 1.77 J per ticket in different cells. Both get their mean; the intervals widen so that two variants'
    intervals together span that gap, and a saving of another kernel beyond the repeats but inside it (0.67 J against
    the parent as measured, 0.27 J against the mean) is within noise, not a payback."""
    def row(variant, joules, path):
        return {"notebook": "06_rca_eval", "phase": "inference", "variant": variant, "macro_f1": 0.6,
                "joules_per_ticket": joules, "joules_per_ticket_ci95": 0.1, "energy_method": "m", "compute_path": path}
    table = pd.DataFrame([row("lora", 2.57, "dense bf16 cpu; LoRA merged"),
                          row("lora-wanda30", 1.77, "dense bf16 cpu; weights of lora (wanda unstructured zeros)"),
                          row("lora-int8", 1.90, "torchao int8 dynamic cpu; weights of lora")])
    inference = ranking.task_table(table).set_index("variant")
    drift = 0.8 / 2.17
    assert inference["cell_drift"].tolist() == pytest.approx([drift] * 3)
    assert set(inference["cell_drift_pair"]) == {"lora and lora-wanda30"}
    assert inference["joules_per_ticket_repeats_ci95"].tolist() == [0.1] * 3
    assert inference["joules_per_ticket"].tolist() == pytest.approx([2.17, 2.17, 1.90])  # same work: one figure
    assert inference["measured_joules_per_ticket"].tolist() == [2.57, 1.77, 1.90]
    assert inference.loc["lora", "energy_pooled_over"] == "lora, lora-wanda30" and inference.loc["lora-int8", "energy_pooled_over"] == ""
    assert inference.loc["lora", "joules_per_ticket_ci95"] == pytest.approx(math.hypot(0.1, drift * 2.17 / math.sqrt(2)))
    life = lifecycle.lifecycle_table(inference.reset_index(), [], "lora", 0.2, 40.0, 5000).set_index("variant")
    assert life.loc["lora-int8", "within_noise"] and life.loc["lora-wanda30", "saving_j_per_ticket"] == 0
    alone = ranking.task_table(table.drop(columns="compute_path"))  # no pair known to do the same work: repeats only
    assert alone["joules_per_ticket_ci95"].tolist() == [0.1] * 3 and alone["cell_drift"].isna().all()
    assert not lifecycle.lifecycle_table(alone, [], "lora", 0.2, 40.0, 5000).set_index("variant").loc["lora-int8", "within_noise"]
    ranked = ranking.rank(inference.reset_index().assign(llm=True), 0.5)
    assert "lora and lora-wanda30, which do the same work per ticket, measured 37% apart" in findings.drift(ranked)
    gaps = pd.concat([table, pd.DataFrame([row("lora-wanda50", None, "dense bf16 cpu; weights of lora (wanda 50)"),
                                           row("lora-x", 2.0, "dense bf16 cpu; x")]).assign(
        joules_per_ticket_ci95=[None, 0.1], energy_method=["m", "other meter"])], ignore_index=True)
    mixed = ranking.task_table(gaps).set_index("variant")  # an unknown reading, a member metered otherwise
    assert mixed.loc["lora", "cell_drift"] == pytest.approx(drift) and mixed.loc["lora", "joules_per_ticket"] == pytest.approx(2.17)
    assert math.isnan(mixed.loc["lora-wanda50", "joules_per_ticket"])  # unknown stays unknown, never the family's mean
    assert mixed.loc["lora-x", "joules_per_ticket"] == 2.0 and mixed.loc["lora-x", "energy_pooled_over"] == ""
    assert "was not measured" in findings.drift(ranking.rank(alone.assign(llm=True), 0.5))


def test_interleaved_energies_replace_the_cells_own_and_compare_round_by_round():
    """Notebook 7's interleaved records replace notebook 6's energies. A saving of exactly 1 J in every round is
    clear when paired, though each variant's own interval over the rounds (the tickets differ) is wider than it."""
    def row(notebook, phase, variant, **fields):
        return {"notebook": notebook, "phase": phase, "variant": variant, "energy_method": "m", **fields}
    rounds = {"base": [2.0, 3.0, 2.5, 3.5], "fast": [1.0, 2.0, 1.5, 2.5]}
    paths = {"base": "dense fp32 cpu", "fast": "dense bf16 cpu"}
    table = pd.DataFrame(
        [row("06_rca_eval", "inference", v, macro_f1=0.6, joules_per_ticket=9.0, joules_per_ticket_ci95=0.1,
             compute_path=paths[v]) for v in rounds]
        + [row("06_rca_eval", "response", v, response_quality=0.5, rougeL=0.2, bleu=5.0, embedding_cosine=0.5,
               joules_per_ticket=30.0, joules_per_ticket_ci95=0.1, energy_tokens_per_note=40) for v in rounds]
        + [row("07_energy_analysis", "inference", v, joules_per_ticket=sum(r) / 4,
               joules_per_ticket_ci95=energy.t_interval(r)[1], joules_per_ticket_rounds=r, compute_path=paths[v],
               measurement="m1") for v, r in rounds.items()]
        + [row("07_energy_analysis", "response", v, joules_per_ticket=10.0, joules_per_ticket_ci95=0.0,
               joules_per_ticket_rounds=[10.0] * 4, energy_tokens_per_note=40, measurement="m1") for v in rounds])
    own = ranking.task_table(table).set_index("variant")
    assert own["joules_per_ticket"].tolist() == [39.0, 39.0] and own["energy_counts"].iloc[0] == "RCA + one note of 40 tokens"
    inference = ranking.task_table(table, interleaved=True).set_index("variant")
    assert inference["joules_per_ticket"].tolist() == [12.75, 11.75] and inference["macro_f1"].tolist() == [0.6, 0.6]
    assert inference.loc["base", "joules_per_ticket_rounds"] == [12.0, 13.0, 12.5, 13.5]
    assert inference.loc["base", "energy_counts"] == "RCA + one note of 40 tokens, measured interleaved"
    assert ranking.pair_spread(inference, "base", "fast") == pytest.approx(0.0)
    assert inference.loc["fast", "joules_per_ticket_ci95"] > 0.5  # each alone: the rounds' spread
    life = lifecycle.lifecycle_table(inference.reset_index(), [], "base", 0.2, 40.0, 5000).set_index("variant")
    assert life.loc["fast", "saving_j_per_ticket"] == 1.0 and not life.loc["fast", "within_noise"]
    unpaired = inference.drop(columns="joules_per_ticket_rounds").reset_index()  # the same intervals, not paired
    assert ranking.pair_spread(unpaired.set_index("variant"), "base", "fast") == pytest.approx(
        math.hypot(*inference["joules_per_ticket_ci95"]))  # no rounds: the two intervals in quadrature
    assert math.isnan(ranking.pair_spread(unpaired.set_index("variant").assign(joules_per_ticket_ci95=[0.1, None]),
                                          "base", "fast"))  # unknown stays unknown
    assert lifecycle.lifecycle_table(unpaired, [], "base", 0.2, 40.0, 5000).set_index("variant").loc["fast", "within_noise"]
    ranked = ranking.rank(inference.reset_index().assign(llm=True), 0.5)
    assert "measured interleaved: every LLM variant on the same tickets in 4 rounds" in findings.drift(ranked)
    with pytest.raises(ValueError, match="no interleaved energy for fast"):
        ranking.task_table(table.drop(index=[5, 7]), interleaved=True)
    with pytest.raises(ValueError, match="come from 2 executions of notebook 7's measurement"):  # never paired
        ranking.task_table(table.assign(measurement=["m1"] * 7 + ["m2"]), interleaved=True)


def test_energy_by_phase_sums_every_record_of_a_notebook_and_its_title_names_the_largest():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers import figures, findings
    from helpers.lifecycle import energy_by_phase

    table = pd.DataFrame({"notebook": ["05_finetune", "05_finetune", "06_rca_eval", "06_rca_eval", "01_data"],
                          "phase": ["finetune", "finetune", "inference", "response", "data"],
                          "joules": [6000.0, 2000.0, 1000.0, 1000.0, None]})
    phases = energy_by_phase(table)
    assert phases.loc["05_finetune", "finetune"] == pytest.approx(8.0)  # kJ, summed (two records), not averaged
    assert phases.index.tolist() == ["05_finetune", "06_rca_eval"]  # a record without energy adds no bar
    assert findings.energy_title(phases) == "05_finetune holds 80 % of the measured energy (finetune: 80 %)"
    fig, ax = plt.subplots()
    figures.energy_by_phase_plot(ax, phases, "modelled")
    assert [round(p.get_width(), 6) for p in ax.patches if p.get_width()] == [8.0, 1.0, 1.0]
    plt.close(fig)


def test_quantities_read_as_plain_numbers():
    table = report.quantities({"steps": 171, "loss": 0.0285, "seconds": 1524.6, "epochs": 3.0, "best": None},
                              {"steps": "steps", "loss": "loss", "seconds": "s", "epochs": "epochs", "best": "best"}, "v")
    assert table["v"].tolist() == ["171", "0.0285", "1525", "3", "n/a"]


def test_methods_label_names_the_methods_of_the_rows_with_energy_once_each():
    table = pd.DataFrame({"joules": [1.0, None, 2.0, 3.0],
                          "energy_method": ["codecarbon 3 offline (modelled CPU)", "nvml (metered GPU)",
                                            "codecarbon 3 offline (modelled CPU)", "nvml (metered GPU)"]})
    assert report.methods_label(table) == "codecarbon 3 offline, modelled; nvml, metered"
    assert report.methods_label(table.drop(columns="joules").iloc[:1]) == "codecarbon 3 offline, modelled"
