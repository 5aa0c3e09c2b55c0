"""Root-cause analysis as label scoring: the model ranks the candidate causes, it never free-writes.

Why: free generation followed by string parsing mixes the model's knowledge with its formatting luck
and wastes tokens. Scoring each label's tokens given the ticket gives a class and a confidence for
every ticket, with no parse failures.
"""
from __future__ import annotations

import numpy as np

SYSTEM_PROMPT = ("You are a network operations engineer. Read the fault ticket and name its root cause. "
                 "Answer with exactly one of: {labels}.")


def chat_prompt(tokenizer, text: str, labels: list[str]) -> str:
    """The chat-formatted prompt, ending where the assistant's answer starts."""
    messages = [{"role": "system", "content": SYSTEM_PROMPT.format(labels="; ".join(labels))},
                {"role": "user", "content": text}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def score_labels(model, tokenizer, texts: list[str], labels: list[str]) -> np.ndarray:
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
        prompt = tokenizer(chat_prompt(tokenizer, text, labels), add_special_tokens=False,
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
