"""RCA metrics against hand-computed values; cached label scoring equals the plain full-sequence computation."""
import numpy as np
import pytest
import torch

from helpers import rca


def test_metrics_by_hand():
    labels = ["a", "b", "c"]
    y_true = ["a", "a", "b", "c"]
    y_pred = ["a", "b", "b", "b"]
    # F1: a = 2*1*0.5/1.5 = 2/3; b = 2*(1/3)*1/(4/3) = 1/2; c = 0 -> macro (2/3 + 1/2 + 0) / 3 = 7/18
    assert rca.rca_metrics(y_true, y_pred, labels) == pytest.approx({"accuracy": 0.5, "macro_f1": 7 / 18})


def test_predict_is_argmax_with_softmax_confidence():
    pred, conf = rca.predict(np.array([[0.0, np.log(3.0)], [-1.0, -5.0]]))
    assert pred.tolist() == [1, 0]
    assert conf[0] == pytest.approx(0.75)


def naive_scores(model, tokenizer, text, labels, shots=None):
    """Reference: one full forward per (ticket, label), mean log-prob of the label tokens."""
    prompt = tokenizer(rca.chat_prompt(tokenizer, text, labels, shots), add_special_tokens=False)["input_ids"]
    out = []
    for label in labels:
        ids = tokenizer(label, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logp = torch.log_softmax(model(input_ids=torch.tensor([prompt + ids])).logits[0].float(), -1)
        out.append(np.mean([logp[len(prompt) - 1 + t, tok].item() for t, tok in enumerate(ids)]))
    return np.array(out)


def test_cached_scoring_matches_full_forward(tiny_model, tokenizer):
    labels = ["mains power failure", "fibre cut", "hvac overheating"]
    texts = ["Alarms: MAINS_FAIL, SITE_DOWN", "LOS on uplink port after digging works"]
    scores = rca.score_labels(tiny_model, tokenizer, texts, labels)
    for row, text in zip(scores, texts):
        np.testing.assert_allclose(row, naive_scores(tiny_model, tokenizer, text, labels), rtol=1e-4, atol=1e-5)


def test_scoring_picks_the_label_a_model_prefers(tiny_model, tokenizer):
    """Bias the LM head towards one label's tokens: every ticket must then be classified as that label."""
    labels = ["fibre cut", "software crash"]
    favoured = tokenizer("software crash", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        tiny_model.lm_head.weight.mul_(0.0)  # tied: the embeddings too, so the context is uninformative
        bias = torch.zeros(tiny_model.config.vocab_size)
        bias[favoured] = 5.0
        tiny_model.lm_head.bias = torch.nn.Parameter(bias)
    pred, conf = rca.predict(rca.score_labels(tiny_model, tokenizer, ["ticket one", "ticket two"], labels))
    assert pred.tolist() == [1, 1] and (conf > 0.9).all()


def test_per_class_f1_confusion_and_bootstrap_agree_with_sklearn():
    labels = ["a", "b", "c"]
    y_true = ["a", "a", "b", "c"] * 10
    y_pred = ["a", "b", "b", "b"] * 10
    assert rca.per_class_f1(y_true, y_pred, labels) == pytest.approx({"a": 2 / 3, "b": 0.5, "c": 0.0})
    matrix = rca.confusion(y_true, y_pred, labels)
    assert matrix.loc["a", "b"] == 10 and matrix.loc["c", "b"] == 10 and matrix.values.sum() == 40
    t, p = (np.array([labels.index(y) for y in ys]) for ys in (y_true, y_pred))
    assert rca._accuracy_and_macro_f1(t, p, 3) == pytest.approx((0.5, 7 / 18))
    ci = rca.bootstrap_ci(y_true, y_pred, labels, n_resamples=500)
    assert ci["macro_f1_ci_low"] < 7 / 18 < ci["macro_f1_ci_high"] and ci["accuracy_ci_low"] < 0.5 < ci["accuracy_ci_high"]
    perfect = rca.bootstrap_ci(y_true, y_true, labels, n_resamples=200)
    assert perfect["macro_f1_ci_low"] == perfect["macro_f1_ci_high"] == 1.0


def test_few_shot_prompt_carries_worked_examples(tokenizer):
    train = [{"text": f"ticket {i}", "root_cause": c} for i, c in enumerate(["x", "x", "x", "y", "y", "z"])]
    shots = rca.pick_shots(train, 2, seed=0)
    assert [s["root_cause"] for s in shots] == ["x", "y"]
    prompt = rca.chat_prompt(tokenizer, "the new ticket", ["x", "y", "z"], shots)
    assert prompt.index(shots[0]["text"]) < prompt.index("the new ticket") and prompt.count("<|im_start|>assistant") == 3


def test_batched_scoring_equals_one_ticket_at_a_time(tiny_model, tokenizer):
    """Length-sorted batches with padding, a shared few-shot prefix and single-token labels: same scores as the
    full-forward reference, whatever the batch size."""
    labels = ["mains power failure", "fibre cut", "hvac overheating", "x"]
    texts = ["Alarms: MAINS_FAIL, SITE_DOWN", "LOS on uplink port after digging works near the cabinet at dawn",
             "temp high", "Site 17 unreachable since 02:00; battery alarm before that; generator not started"]
    shots = [{"text": "fan stopped, temperature rising", "root_cause": "hvac overheating"}]
    one = rca.score_labels(tiny_model, tokenizer, texts, labels, shots, batch_size=1)
    for batch_size in (2, 8):
        np.testing.assert_allclose(rca.score_labels(tiny_model, tokenizer, texts, labels, shots, batch_size=batch_size),
                                   one, rtol=1e-4, atol=1e-5)
    reference = [naive_scores(tiny_model, tokenizer, t, labels, shots) for t in texts]
    np.testing.assert_allclose(one, np.array(reference), rtol=1e-4, atol=1e-5)


def test_scoring_a_lora_wrapped_model_matches_full_forward(tiny_model, tokenizer):
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(tiny_model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)).eval()
    labels, texts = ["fibre cut", "software crash"], ["LOS on uplink", "process restarted after core dump"]
    np.testing.assert_allclose(rca.score_labels(model, tokenizer, texts, labels),
                               np.array([naive_scores(model, tokenizer, t, labels) for t in texts]), rtol=1e-4, atol=1e-5)
