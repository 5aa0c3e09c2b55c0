"""Findings are generated from a run's records: numbers with intervals, paired verdicts and the energy method."""
import shutil

import pytest

from helpers import classification, findings, paths, ticket_files
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
        metrics = {**classification.classification_report(truth, predictions, LABELS), **energy, "scoring_rule": "sum/none",
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
    assert "Without fine-tuning, a classical model is the better RCA tool here, at 1x the base LLM's energy per ticket." in text
    assert "2.5 J per ticket (codecarbon 3.3.2, modelled)" in text and "Smoke" not in text


def test_evaluation_finding_gives_the_paired_verdict(records):
    text = findings.evaluation(NAME, "bf16-lora")
    assert text.startswith("bf16-lora finds the root cause of 100% of 60 test tickets (3 classes): macro-F1 1.00 [1.00, 1.00]")
    assert "Compared with TF-IDF + logistic regression on the same tickets: **better** (difference +0.33" in text


def test_analysis_finding_recommends_a_working_variant_and_says_when_a_classical_model_would_do():
    import pandas as pd

    ranked = pd.DataFrame({"variant": ["bf16-lora", "bf16", "tfidf-logreg", "minilm-logreg + retrieval-tfidf"],
                           "llm": [True, True, False, False], "recommendable": [True, False, False, False],
                           "does_task": [True, False, False, False],
                           "R": [0.9, 0.95, float("nan"), float("nan")], "macro_f1": [0.72, 0.03, 0.55, 0.68],
                           "macro_f1_ci_low": [0.6, 0.0, 0.45, 0.58], "macro_f1_ci_high": [0.8, 0.05, 0.61, 0.74],
                           "joules_per_ticket": [2.0, 1.0, 0.003, 0.3],
                           "energy_method": ["codecarbon (modelled CPU power)"] * 4})
    summary = pd.DataFrame({"variant": ["bf16-lora", "bf16", "tfidf-logreg"], "J per ticket vs fp32": ["x0.50", "x0.25", "x0.00075"],
                            "one-off kJ": [120.0, 1.0, 0.02], "payback": ["60,000 tickets (12 days at 5,000 a day)", "-", "-"]})
    gap = {"macro_f1_diff_ci_low": 0.05, "macro_f1_diff_ci_high": 0.3}
    paired = pd.DataFrame([{"a": "bf16-lora", "b": "tfidf-logreg", "macro_f1_diff": 0.17, **gap, "verdict": "better"},
                           {"a": "bf16-lora", "b": "minilm-logreg", "macro_f1_diff": 0.04, "macro_f1_diff_ci_low": -0.08,
                            "macro_f1_diff_ci_high": 0.15, "verdict": "no significant difference"}])
    text = findings.analysis("default", ranked, paired, 0.5, summary)
    assert text.startswith("1 of 2 LLM variants do not do the task (bf16); they are never recommended")
    assert "the recommended LLM variant is **bf16-lora** (R 0.90): macro-F1 0.72 [0.60, 0.80]" in text
    assert "J per ticket vs fp32: x0.50; one-off energy 120 kJ, payback 60,000 tickets (12 days" in text
    assert "Against tfidf-logreg on the same tickets: **better**" in text
    assert "A classical model (minilm-logreg) could not be told apart from it on these tickets for less energy per " \
           "ticket (0.3 J): on this evidence it would do, though the interval above leaves room" in text
    beaten = findings.analysis("default", ranked, paired.assign(verdict=["better", "worse"]), 0.5, summary)
    assert "A classical model (minilm-logreg) is better on these tickets for less energy per ticket (0.3 J): on this " \
           "evidence it would do." in beaten
    nothing = findings.analysis("smoke", ranked.assign(recommendable=False, does_task=False), paired, 0.5, summary)
    assert "No LLM variant does the task" in nothing and "Smoke-sized profile" in nothing


def test_data_pruning_and_quantization_findings_come_from_their_records(records):
    write_record(NAME, "01_data", "data", "tickets", {"n_train": 60, "n_validation": 60, "n_test": 60, "n_classes": 3,
                 "keyword_rule_macro_f1": 0.41, "tfidf_logreg_macro_f1": 0.62}, [], "none (no model)", {})
    assert findings.data(NAME).startswith("60 training, 60 validation and 60 test tickets over 3 root causes")
    assert "a keyword rule reaches macro-F1 0.41 and TF-IDF + logistic regression 0.62" in findings.data(NAME)

    reading = [{"method": "cpu-time model (modelled)", "joules": 12.5, "duration_s": 1.0}]
    write_record(NAME, "03_prune", "compression", "fp32-wanda-2of4", {
        "sparsity_target": 0.5, "sparsity_min": 0.5, "sparsity_max": 0.5, "pattern_verified": True,
        "perplexity_dense": 50.0, "perplexity": 150.0}, reading, "dense fp32 cpu (pruning run)", {},
        extra={"spec": {"method": "wanda", "pattern": "2:4", "sparsity": 0.5}})
    text = findings.pruning(NAME, "fp32-wanda-2of4")
    assert text.startswith("Wanda pruning (2:4) zeroed 50% of every block linear's weights (the 2:4 pattern verified")
    assert "from 50.0 (dense) to 150.0 (3.0×)" in text and "took 12.5 J (" in text and "(dense fp32 cpu)" in text

    write_record(NAME, "04_quantize", "compression", "int8", {}, [], "N/A: bnb int8 needs CUDA", {})
    assert findings.quantization(NAME, "int8").startswith("int8 does not run on this machine: N/A: bnb int8 needs CUDA")
    for variant, size, ppl in (("fp32", 500e6, 50.0), ("bf16", 250e6, 50.5)):
        write_record(NAME, "04_quantize", "compression", variant, {
            "weight_bytes": size, "perplexity": ppl, "latency_batch_tokens": 600, "latency_s_median": 0.5,
            "generate_tokens_per_s": 10.0, "plain_load_joules": 9.0}, reading, f"dense {variant} cpu", {})
    text = findings.quantization(NAME, "bf16")
    assert "Its weights take 250 MB in memory (fp32: 500), perplexity on held-out tickets is 50.5 (fp32: 50.0)" in text
    assert "took 12.5 J (" in text and "a plain fp32 load of the same weights 9 J: the one-off conversion" in text
    assert "Smoke" not in text


def test_the_run_is_set_against_the_papers_two_findings():
    import pandas as pd

    ranked = pd.DataFrame({"variant": ["bf16-lora", "nf4-qlora", "bf16-wanda-2of4", "tfidf-logreg"],
                           "llm": [True, True, True, False], "recommendable": [True, True, False, False],
                           "does_task": [True, True, False, False],
                           "precision": ["bf16", "nf4", "bf16", None], "method": ["none", "none", "wanda", None],
                           "pattern": ["unstructured", "unstructured", "2:4", None],
                           "compute_path": ["dense bf16 cpu", "bnb nf4 cpu", "dense bf16 cpu (wanda 2:4 zeros; N/A semi-structured "
                                      "2:4 kernel: PyTorch's needs CUDA, zeros stay in dense weights)", "scikit-learn cpu"]})
    tuned = [{"notebook": "05_finetune", "spec": {"precision": p}, "metrics": {"joules_per_training_token": j}}
             for p, j in (("nf4", 0.9), ("bf16", 0.5))]
    text = findings.versus_paper(ranked, tuned)
    assert "fewest joules per training token at bf16 (bf16 0.5 J, nf4 0.9 J), as the paper found for 16-bit" in text
    assert "the best-ranked unpruned variant is bf16-lora (bf16), 16-bit as in the paper" in text
    assert "no 16-bit 2:4 variant ranks first, unlike the paper: bf16-wanda-2of4 does not do the task; no 2:4 sparse " \
           "kernel ran here (dense bf16 cpu (wanda 2:4 zeros; N/A" in text
    first = ranked.assign(recommendable=[True, True, True, False], does_task=[True, True, True, False]).iloc[[2, 0, 1, 3]]
    assert findings.versus_paper(first, []).endswith("Overall, bf16-wanda-2of4 (16-bit, 2:4) ranks first, as in the paper.")



def test_finetune_finding_reads_a_validated_run_and_an_energy_only_run(records):
    energy = {"joules_per_epoch": 3000.0, "joules_per_training_token": 0.25, "energy_method": "cpu-model (modelled)",
              "seconds": 120.0, "seconds_per_epoch": 100.0, "validation_seconds": 20.0}
    write_record(NAME, "05_finetune", "finetune", "bf16-lora",
                 {**energy, "steps": 10, "epochs": 2.0, "best_val_macro_f1": 0.6, "best_epoch": 2.0}, [], "k", {},
                 extra={"validation": [{"epoch": 1.0, "val_macro_f1": 0.4}, {"epoch": 2.0, "val_macro_f1": 0.6}]})
    write_record(NAME, "05_finetune", "finetune", "fp32-lora",
                 {**energy, "steps": 8, "epochs": 0.14, "best_val_macro_f1": None, "best_epoch": None,
                  "validation_seconds": 0.0}, [], "k", {}, extra={"validation": []})
    assert findings.finetune(NAME, "bf16-lora").startswith("Validation macro-F1 of bf16-lora rose: 0.40 after epoch 1, "
                                                          "best 0.60 after epoch 2 (that adapter is kept). 10 steps")
    text = findings.finetune(NAME, "fp32-lora")
    assert text.startswith("fp32-lora trained for its fine-tuning energy only: 8 steps (0.14 epochs) took 2.0 min, "
                           "3 kJ per epoch and 0.25 J per training token")
    assert "Not validated and not evaluated" in text


def test_figure_titles_state_what_the_figures_show():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from helpers import figures

    def row(pattern, sparsity, stage, kept):
        return {"parent": "bf16-lora", "method": "wanda", "pattern": pattern, "sparsity": sparsity, "stage": stage,
                "retention_pct": kept, "retention_ci_low_pct": kept - 10, "retention_ci_high_pct": kept + 10}

    stage2 = pd.DataFrame([row("2:4", 0.5, "as pruned", 2.0), row("2:4", 0.5, "recovered", 52.4),
                           row("unstructured", 0.5, "as pruned", 59.0), row("unstructured", 0.5, "recovered", 81.4),
                           row("unstructured", 0.3, "recovered", 94.6)])
    assert findings.retention_title(stage2) == "After recovery, wanda 30 % keeps 95 % of bf16-lora's macro-F1, wanda 2:4 52 %"
    fig, ax = plt.subplots()
    figures.retention_plot(ax, stage2)
    series = [c.lines[0] for c in ax.containers]  # each errorbar's data line
    at_half = sorted(round(y, 1) for line in series for x, y in zip(line.get_xdata(), line.get_ydata()) if x == 50)
    assert at_half == [2.0, 52.4, 59.0, 81.4]  # 2:4 and unstructured at 50 % stay apart, never averaged
    plt.close(fig)

    winners = pd.DataFrame({"min": [0.0, 0.2], "max": [0.15, 1.0]}, index=["bf16-lora@fp32", "bf16-lora"])
    assert findings.winners_title(winners) == "R's winner: bf16-lora@fp32 for w 0–0.15, bf16-lora for w 0.2–1"
    life = pd.DataFrame({"variant": ["fp32", "bf16", "nf4", "int8"], "within_noise": [False, False, False, True],
                         "break_even_tickets": [0.0, 2355.2, float("inf"), 10.0]})
    assert findings.breakeven_title(life, "fp32") == "Against fp32, bf16 pays back first: after 2,355 tickets"
    assert findings.breakeven_title(life.iloc[[0, 2, 3]], "fp32").startswith("No variant's saving against fp32")
    assert findings.breakeven_title(life.assign(break_even_tickets=[0.0, 0.0, 5.0, 1.0]), "fp32") == \
        "Against fp32, bf16 pays back at once: no one-off energy beyond the baseline's"


def test_breakeven_lines_each_have_their_own_colour():
    """18 lines (the default reference run's count): tab10 repeated colours from the 11th, so two variants looked
    alike; the baseline stays black and thick."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from helpers import figures

    names = [f"v{i}" for i in range(18)]
    life = pd.DataFrame({"variant": names, "one_off_j": 1000.0, "joules_per_ticket": [1.0 + i for i in range(18)]})
    fig, ax = plt.subplots()
    figures.breakeven_plot(ax, life, "v3", 100, "modelled")
    colours = [matplotlib.colors.to_hex(line.get_color()) for line in ax.lines]
    assert len(set(colours)) == 18 and colours[3] == "#000000"
    plt.close(fig)
