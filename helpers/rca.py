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


def score_labels(model, tokenizer, texts: list[str], labels: list[str], shots: list[dict] | None = None,
                 batch_size: int = 8) -> np.ndarray:
    """Mean log-probability per token of each label after each ticket's prompt: shape (tickets, labels).

    Mean rather than sum, so long label names are not penalised for their length. Computed exactly, with
    no token processed twice:
    - the prompt prefix every ticket shares (system prompt with the label list, few-shot examples) is
      encoded once per call; its keys/values are reused by every ticket;
    - each ticket's own tokens are encoded once, followed in the same row by all label continuations; a
      block attention mask lets each label see the prefix, the ticket and its own earlier tokens only (so
      every label is scored as if it alone followed the ticket), with positions restarting per label;
    - tickets are batched `batch_size` at a time, sorted by length, left-padded (padding is masked out);
    - logits (the 49 k-word head) are computed only where a label token is predicted.
    Exact for weight-only precisions. Torch dynamic int8 quantizes activations with one scale per batch, so its
    scores depend (slightly) on which tickets share a batch, as they would in batched serving.
    """
    import torch

    device = next(model.parameters()).device
    label_ids = [tokenizer(label, add_special_tokens=False)["input_ids"] for label in labels]
    prompts = [tokenizer(chat_prompt(tokenizer, text, labels, shots), add_special_tokens=False)["input_ids"]
               for text in texts]
    scores = np.zeros((len(texts), len(labels)))
    if not texts:
        return scores
    prefix = _common_prefix(prompts)
    tail = [t for ids in label_ids for t in ids]  # every label's tokens, one after the other
    # Where each label starts in the tail, and which tail slots predict which label token.
    starts = np.cumsum([0] + [len(ids) for ids in label_ids])
    with torch.inference_mode():
        prefix_cache = None
        if prefix:
            out = model(input_ids=torch.tensor([prefix], device=device), use_cache=True, logits_to_keep=1)
            prefix_cache = [(layer.keys, layer.values) for layer in out.cache.layers]
        order = sorted(range(len(texts)), key=lambda i: -len(prompts[i]))
        for b in range(0, len(order), batch_size):
            rows = order[b:b + batch_size]
            logp = _score_batch(model, [prompts[i][len(prefix):] for i in rows], tail, label_ids, starts,
                                len(prefix), prefix_cache, device)
            scores[rows] = logp
    return scores


def _common_prefix(prompts: list[list[int]]) -> list[int]:
    """The longest token prefix all prompts share, leaving each prompt at least one token of its own."""
    n = min(len(p) for p in prompts) - 1
    first = prompts[0]
    for p in prompts[1:]:
        n = next((i for i in range(n) if p[i] != first[i]), n)
    return first[:max(n, 0)]


def _score_batch(model, suffixes, tail, label_ids, starts, n_prefix, prefix_cache, device) -> np.ndarray:
    import torch
    from transformers import DynamicCache

    rows, width = len(suffixes), max(map(len, suffixes)) + len(tail)
    ids = torch.zeros((rows, width), dtype=torch.long)
    segment = torch.full((rows, width), -1)  # -1 padding, 0 the ticket, j + 1 label j
    position = torch.full((rows, width), n_prefix)
    label_segment = torch.repeat_interleave(torch.arange(1, len(label_ids) + 1), torch.tensor(np.diff(starts)))
    label_offset = torch.tensor([t for ids_ in label_ids for t in range(len(ids_))])
    for r, suffix in enumerate(suffixes):
        n = len(suffix)
        ids[r, width - len(tail) - n:] = torch.tensor(suffix + tail)
        segment[r, width - len(tail) - n:width - len(tail)] = 0
        segment[r, width - len(tail):] = label_segment
        position[r, width - len(tail) - n:width - len(tail)] = torch.arange(n_prefix, n_prefix + n)
        position[r, width - len(tail):] = n_prefix + n + label_offset
    q, k = segment[:, :, None], segment[:, None, :]
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    visible = causal & (k >= 0) & ((k == 0) | (k == q))
    visible |= torch.eye(width, dtype=torch.bool)  # padding rows see themselves (never read)
    mask = torch.cat([torch.ones(rows, width, n_prefix, dtype=torch.bool), visible], dim=2)[:, None]
    cache = None
    if prefix_cache is not None:
        cache = DynamicCache(ddp_cache_data=[(k_.expand(rows, -1, -1, -1), v_.expand(rows, -1, -1, -1))
                                             for k_, v_ in prefix_cache])
    # Slots whose logits predict a label token: the ticket's last token (each label's first token), then
    # every label token but the last of its label.
    keep = [width - len(tail) - 1] + [width - len(tail) + s + t for s, e in zip(starts, starts[1:]) for t in range(e - s - 1)]
    mask = _attention_mask(model, mask.to(device))
    logits = model(input_ids=ids.to(device), attention_mask=mask, position_ids=position.to(device), cache=cache,
                   use_cache=prefix_cache is not None, logits_to_keep=torch.tensor(keep, device=device)).logits
    logp = torch.log_softmax(logits.float(), dim=-1)  # (rows, len(keep), vocab)
    out = np.zeros((rows, len(label_ids)))
    slot = {w: i for i, w in enumerate(keep)}
    for j, (s, lab) in enumerate(zip(starts, label_ids)):
        predictors = [slot[width - len(tail) - 1]] + [slot[width - len(tail) + s + t] for t in range(len(lab) - 1)]
        out[:, j] = logp[:, predictors, torch.tensor(lab)].mean(dim=1).cpu().numpy()
    return out


def _attention_mask(model, visible):
    """The boolean block mask as the model's attention wants it: as is for SDPA, additive floats for eager."""
    import torch

    if getattr(model.config, "_attn_implementation", "sdpa") != "eager":
        return visible
    dtype = model.get_input_embeddings().weight.dtype
    return torch.zeros(visible.shape, dtype=dtype, device=visible.device).masked_fill(~visible, torch.finfo(dtype).min)


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
