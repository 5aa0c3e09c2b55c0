"""Root-cause analysis as label scoring: the model ranks the candidate causes, it never free-writes.

Why: free generation followed by string parsing mixes the model's knowledge with its formatting luck
and wastes tokens. Scoring each label's tokens given the ticket gives a class and a confidence for
every ticket, with no parse failures.
"""
from __future__ import annotations

import numpy as np

SYSTEM_PROMPT = ("You are a network operations engineer. Read the fault ticket and name its root cause. "
                 "Answer with exactly one of: {labels}.")


def rca_messages(text: str, labels: list[str], shots: list[dict] | None = None) -> list[dict]:
    """System prompt, optional worked examples (few-shot: earlier user/assistant turns), then the ticket."""
    messages = [{"role": "system", "content": SYSTEM_PROMPT.format(labels="; ".join(labels))}]
    for shot in shots or []:
        messages += [{"role": "user", "content": shot["text"]}, {"role": "assistant", "content": shot["root_cause"]}]
    return messages + [{"role": "user", "content": text}]


def chat_prompt(tokenizer, text: str, labels: list[str], shots: list[dict] | None = None) -> str:
    """The chat-formatted prompt, ending where the assistant's answer starts."""
    return tokenizer.apply_chat_template(rca_messages(text, labels, shots), tokenize=False, add_generation_prompt=True)


def pick_shots(train: list[dict], k: int, seed: int = 0) -> list[dict]:
    """k training tickets of k different root causes (the most frequent first), for few-shot prompts."""
    import random

    by_class: dict[str, list[dict]] = {}
    for row in train:
        by_class.setdefault(row["root_cause"], []).append(row)
    rng = random.Random(seed)
    common = sorted(by_class, key=lambda c: -len(by_class[c]))[:k]
    return [rng.choice(by_class[c]) for c in common]


def score_labels(model, tokenizer, texts: list[str], labels: list[str], shots: list[dict] | None = None) -> np.ndarray:
    """Mean log-probability per token of each label after each ticket's prompt: shape (tickets, labels).

    The prompt is encoded once per ticket; its key/value cache is then shared by all labels, which
    are scored together in one small batch. Mean rather than sum, so long label names are not
    penalised for their length.
    """
    import torch

    label_ids = [tokenizer(label, add_special_tokens=False)["input_ids"] for label in labels]
    width = max(map(len, label_ids))
    device = next(model.parameters()).device
    # Right-padded label batch: padding sits after every real token, so causal attention ignores it.
    label_batch = torch.tensor([ids + [tokenizer.pad_token_id] * (width - len(ids)) for ids in label_ids],
                               device=device)
    scores = np.zeros((len(texts), len(labels)))
    for i, text in enumerate(texts):
        prompt = tokenizer(chat_prompt(tokenizer, text, labels, shots), add_special_tokens=False,
                           return_tensors="pt")["input_ids"].to(device)
        with torch.inference_mode():
            out = model(input_ids=prompt, use_cache=True, logits_to_keep=1)
            first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)  # predicts each label's 1st token
            cache = out.cache
            cache.batch_repeat_interleave(len(labels))
            rest = torch.log_softmax(model(input_ids=label_batch, cache=cache).logits.float(), dim=-1)
        for j, ids in enumerate(label_ids):
            logps = [first[ids[0]]] + [rest[j, t, ids[t + 1]] for t in range(len(ids) - 1)]
            scores[i, j] = torch.stack(logps).mean().item()
    return scores


def predict(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted label index and its confidence (softmax over the label scores) per ticket."""
    z = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return probs.argmax(axis=1), probs.max(axis=1)


def rca_metrics(y_true: list[str], y_pred: list[str], labels: list[str]) -> dict:
    """Accuracy and macro-F1 over the full label set (a class never predicted scores F1 = 0)."""
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))}


def per_class_f1(y_true: list[str], y_pred: list[str], labels: list[str]) -> dict:
    from sklearn.metrics import f1_score

    scores = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return {label: float(s) for label, s in zip(labels, scores)}


def confusion(y_true: list[str], y_pred: list[str], labels: list[str]):
    """Confusion matrix as a DataFrame: rows true class, columns predicted class."""
    import pandas as pd
    from sklearn.metrics import confusion_matrix

    return pd.DataFrame(confusion_matrix(y_true, y_pred, labels=labels), index=labels, columns=labels)


def _accuracy_and_macro_f1(t: np.ndarray, p: np.ndarray, k: int) -> tuple[float, float]:
    """Same figures as rca_metrics on label indices, vectorised for the bootstrap (F1 = 2TP / (2TP+FP+FN))."""
    classes = np.arange(k)[:, None]
    tp = ((t == classes) & (p == classes)).sum(1)
    fp = ((t != classes) & (p == classes)).sum(1)
    fn = ((t == classes) & (p != classes)).sum(1)
    denominator = 2 * tp + fp + fn
    f1 = np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)
    return float((t == p).mean()), float(f1.mean())


def bootstrap_ci(y_true: list[str], y_pred: list[str], labels: list[str], n_resamples: int = 2000,
                 seed: int = 0) -> dict:
    """95 % percentile-bootstrap intervals of accuracy and macro-F1 (tickets resampled with replacement)."""
    from scipy.stats import bootstrap

    index = {label: i for i, label in enumerate(labels)}
    t = np.array([index[y] for y in y_true])
    p = np.array([index.get(y, -1) for y in y_pred])
    out = {}
    for position, name in enumerate(("accuracy", "macro_f1")):
        ci = bootstrap((t, p), lambda a, b: _accuracy_and_macro_f1(a, b, len(labels))[position], paired=True,
                       vectorized=False, n_resamples=n_resamples, method="percentile", random_state=seed)
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = float(ci.confidence_interval.low), float(ci.confidence_interval.high)
    return out


def evaluate(run, model, tokenizer, tickets: list[dict], labels: list[str], shots: list[dict] | None = None,
             repeats: int = 3):
    """Score the tickets' root causes and measure the energy (run.measure_per_item, `repeats` chunks).
    Returns (metrics with bootstrap intervals and J/ticket, energy summary, predicted labels)."""
    from helpers.energy import ticket_metrics

    parts, summary = run.measure_per_item("inference", [t["text"] for t in tickets],
                                          lambda texts: score_labels(model, tokenizer, texts, labels, shots), repeats)
    pred, confidence = predict(np.vstack(parts))
    y_true, y_pred = [t["root_cause"] for t in tickets], [labels[i] for i in pred]
    metrics = {**rca_metrics(y_true, y_pred, labels), **bootstrap_ci(y_true, y_pred, labels),
               **ticket_metrics(summary), "n_tickets": len(tickets), "mean_confidence": float(confidence.mean())}
    return metrics, summary, y_pred
