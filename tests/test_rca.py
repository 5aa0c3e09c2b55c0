"""RCA metrics against hand-computed values; cached label scoring equals the plain full-sequence computation;
scoring rules and calibration; collapsed predictors are flagged."""
import functools

import numpy as np
import pytest
import torch

from helpers import classification, intervals, prompts, scoring


def test_metrics_by_hand():
    labels = ["a", "b", "c"]
    y_true = ["a", "a", "b", "c"]
    y_pred = ["a", "b", "b", "b"]
    # F1: a = 2*1*0.5/1.5 = 2/3; b = 2*(1/3)*1/(4/3) = 1/2; c = 0 -> macro (2/3 + 1/2 + 0) / 3 = 7/18
    assert classification.rca_metrics(y_true, y_pred, labels) == pytest.approx({"accuracy": 0.5, "macro_f1": 7 / 18})


def test_predict_is_argmax_with_softmax_confidence():
    pred, conf = scoring.predict(np.array([[0.0, np.log(3.0)], [-1.0, -5.0]]))
    assert pred.tolist() == [1, 0]
    assert conf[0] == pytest.approx(0.75)


def test_cached_scoring_matches_full_forward(tiny_model, tokenizer):
    labels = ["mains power failure", "fibre cut", "hvac overheating"]
    texts = ["Alarms: MAINS_FAIL, SITE_DOWN", "LOS on uplink port after digging works"]
    scores = scoring.score_labels(tiny_model, tokenizer, texts, labels)
    assert scores.shape == (2, 3, len(scoring.REDUCTIONS))
    for row, text in zip(scores, texts):
        np.testing.assert_allclose(row, scoring.score_labels_plainly(tiny_model, tokenizer, text, labels), rtol=1e-4, atol=1e-5)
    mean, first, total = (scores[..., scoring.REDUCTIONS.index(r)] for r in ("mean", "first", "sum"))
    n_tokens = np.array([len(tokenizer(label, add_special_tokens=False)["input_ids"]) for label in labels])
    np.testing.assert_allclose(total, mean * n_tokens, rtol=1e-5)
    assert (first[:, n_tokens == 1] == mean[:, n_tokens == 1]).all()


def test_scoring_picks_the_label_a_model_prefers(tiny_model, tokenizer):
    """Bias the LM head towards one label's tokens: every ticket must then be classified as that label."""
    labels = ["fibre cut", "software crash"]
    favoured = tokenizer("software crash", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        tiny_model.lm_head.weight.mul_(0.0)  # tied: the embeddings too, so the context is uninformative
        bias = torch.zeros(tiny_model.config.vocab_size)
        bias[favoured] = 5.0
        tiny_model.lm_head.bias = torch.nn.Parameter(bias)
    scores = scoring.score_labels(tiny_model, tokenizer, ["ticket one", "ticket two"], labels)
    pred, conf = scoring.predict(scoring.apply_rule(scores, scoring.RAW))
    assert pred.tolist() == [1, 1] and (conf > 0.9).all()


def test_per_class_f1_confusion_and_bootstrap_agree_with_sklearn():
    labels = ["a", "b", "c"]
    y_true = ["a", "a", "b", "c"] * 10
    y_pred = ["a", "b", "b", "b"] * 10
    assert classification.per_class_f1(y_true, y_pred, labels) == pytest.approx({"a": 2 / 3, "b": 0.5, "c": 0.0})
    matrix = classification.confusion(y_true, y_pred, labels)
    assert matrix.loc["a", "b"] == 10 and matrix.loc["c", "b"] == 10 and matrix.values.sum() == 40
    t, p = (np.array([[labels.index(y) for y in ys]]) for ys in (y_true, y_pred))
    assert [v[0] for v in intervals.accuracy_and_macro_f1(t, p, 3)] == pytest.approx([0.5, 7 / 18])
    ci = intervals.bootstrap_ci(y_true, y_pred, labels, n_resamples=500)
    assert ci["macro_f1_ci_low"] < 7 / 18 < ci["macro_f1_ci_high"] and ci["accuracy_ci_low"] < 0.5 < ci["accuracy_ci_high"]
    perfect = intervals.bootstrap_ci(y_true, y_true, labels, n_resamples=200)
    assert perfect["macro_f1_ci_low"] == perfect["macro_f1_ci_high"] == 1.0


def test_few_shot_prompt_carries_worked_examples(tokenizer):
    train = [{"text": f"ticket {i}", "root_cause": c} for i, c in enumerate(["x", "x", "x", "y", "y", "z"])]
    shots = prompts.pick_shots(train, 2, seed=0)
    assert [s["root_cause"] for s in shots] == ["x", "y"]
    prompt = prompts.chat_prompt(tokenizer, "the new ticket", ["x", "y", "z"], shots)
    assert prompt.index(shots[0]["text"]) < prompt.index("the new ticket") and prompt.count("<|im_start|>assistant") == 3


@pytest.mark.parametrize("int8", [False, True])
def test_batched_scoring_equals_one_ticket_at_a_time(tiny_model, tokenizer, int8):
    """Length-sorted batches with padding, a shared few-shot prefix and single-token labels: same scores as the
    full-forward reference, whatever the batch size; for dynamic-int8 too (one activation scale per token)."""
    if int8:
        from helpers.models import quantize_dynamic_int8

        tiny_model = quantize_dynamic_int8(tiny_model)
    labels = ["mains power failure", "fibre cut", "hvac overheating", "x"]
    texts = ["Alarms: MAINS_FAIL, SITE_DOWN", "LOS on uplink port after digging works near the cabinet at dawn",
             "temp high", "Site 17 unreachable since 02:00; battery alarm before that; generator not started"]
    shots = [{"text": "fan stopped, temperature rising", "root_cause": "hvac overheating"}]
    one = scoring.score_labels(tiny_model, tokenizer, texts, labels, shots, batch_size=1)
    for batch_size in (2, 8):
        np.testing.assert_allclose(scoring.score_labels(tiny_model, tokenizer, texts, labels, shots, batch_size=batch_size),
                                   one, rtol=1e-4, atol=1e-5)
    reference = [scoring.score_labels_plainly(tiny_model, tokenizer, t, labels, shots) for t in texts]
    np.testing.assert_allclose(one, np.array(reference), rtol=1e-4, atol=1e-5)


def test_scoring_a_lora_wrapped_model_matches_full_forward(tiny_model, tokenizer):
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(tiny_model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)).eval()
    labels, texts = ["fibre cut", "software crash"], ["LOS on uplink", "process restarted after core dump"]
    np.testing.assert_allclose(scoring.score_labels(model, tokenizer, texts, labels),
                               np.array([scoring.score_labels_plainly(model, tokenizer, t, labels) for t in texts]), rtol=1e-4, atol=1e-5)


def test_contextual_calibration_changes_a_biased_scorers_argmax():
    """A scorer biased towards label 0 (as a prompt listing the labels makes a base model): raw, every ticket gets
    label 0; subtracting the content-free tickets' scores recovers what each ticket says."""
    labels = ["a", "b", "c"]
    bias = np.array([3.0, 0.0, -1.0])
    evidence = np.eye(3)[[0, 1, 2, 1, 2]] * 2.0  # ticket i points at label y_i
    stack = lambda x: np.repeat(x[..., None], len(scoring.REDUCTIONS), axis=-1)  # noqa: E731
    scores, content_free = stack(bias + evidence), stack(np.tile(bias, (3, 1)))
    raw = scoring.apply_rule(scores, scoring.RAW).argmax(axis=1)
    calibrated = scoring.apply_rule(scores, scoring.ScoringRule("mean", "contextual"), content_free).argmax(axis=1)
    assert raw.tolist() == [0, 0, 0, 0, 0] and calibrated.tolist() == [0, 1, 2, 1, 2]
    prior = scoring.apply_rule(scores, scoring.ScoringRule("sum", "prior"), scores).argmax(axis=1)
    assert prior.tolist() == [0, 1, 2, 1, 2]
    table = scoring.compare_rules(scores, content_free, [labels[i] for i in [0, 1, 2, 1, 2]], labels)
    assert table.loc[table.rule == "mean/none", "macro_f1"].item() < 0.3
    assert table.rule.iloc[0] == scoring.RAW.name  # the raw rule first: it wins ties
    assert table.loc[table.macro_f1.idxmax(), "rule"] == "mean/contextual"  # the first of the equals
    with pytest.raises(ValueError, match="needs the scores of its calibration tickets"):
        scoring.apply_rule(scores, scoring.ScoringRule("mean", "contextual"))
    assert scoring.ScoringRule.parse("sum/prior") == scoring.ScoringRule("sum", "prior")
    with pytest.raises(ValueError, match="reduce is one of mean, first, sum"):
        scoring.ScoringRule("max", "none")


def test_a_constant_predictor_is_flagged_and_a_working_one_is_not():
    labels = ["a", "b", "c", "d"]
    y_true = ["a"] * 5 + ["b"] * 3 + ["c"] * 2  # "d" never occurs: 3 of 4 classes in these tickets
    constant = classification.classification_report(y_true, ["b"] * 10, labels)
    assert not constant["does_task"] and constant["task_check"] == "does not do the task: one label for 100% of tickets"
    assert constant["top_label_share"] == 1.0 and constant["n_labels_predicted"] == 1
    assert constant["n_classes_in_tickets"] == 3 and constant["n_labels"] == 4
    # the best constant: always "a" -> accuracy 0.5, F1(a) = 2*5/(5+10) = 2/3, macro over 4 labels = 1/6
    assert constant["majority_accuracy"] == 0.5 and constant["majority_macro_f1"] == pytest.approx(1 / 6)
    assert constant["chance_accuracy"] == 0.25
    spread_but_poor = classification.classification_report(y_true, ["d", "c", "b", "a", "d", "c", "b", "a", "d", "c"], labels)
    assert spread_but_poor["task_check"].startswith("does not do the task: accuracy 0.300 below the majority")
    good = classification.classification_report(y_true, ["a"] * 4 + ["b"] + ["b"] * 3 + ["c", "a"], labels)
    assert good["does_task"] and good["task_check"] == "ok"


def test_chance_macro_f1_matches_simulated_uniform_guessing():
    rng = np.random.default_rng(0)
    labels = ["a", "b", "c", "d"]
    y_true = ["a"] * 100 + ["b"] * 60 + ["c"] * 40  # "d" absent
    simulated = np.mean([classification.rca_metrics(y_true, list(rng.choice(labels, len(y_true))), labels)["macro_f1"]
                         for _ in range(300)])
    assert classification.trivial_baselines(y_true, labels)["chance_macro_f1"] == pytest.approx(simulated, abs=0.005)


def test_scores_in_energy_windows_equal_one_pass_in_16_bit(tiny_model, tokenizer):
    """In bf16 a ticket's scores depend on the batch it shares; score_in_windows scores whole batches of one pass in
    each window, so its scores equal one score_labels call exactly, returned in the texts' order."""
    from helpers import energy

    model = tiny_model.to(torch.bfloat16)
    labels = ["mains power failure", "fibre cut", "hvac overheating"]
    texts = [f"Site {i}: " + "alarm " * (i % 7) + ("LOS on uplink" if i % 2 else "battery low") for i in range(21)]
    measure = functools.partial(energy.measure_per_item, meters=[energy.CpuTimeModel()])
    windows, summary = scoring.score_in_windows(measure, "inference", model, tokenizer, texts, labels, chunks=3)
    assert summary["repeats"] == 3 and summary["items"] == len(texts)
    np.testing.assert_array_equal(windows, scoring.score_labels(model, tokenizer, texts, labels))
