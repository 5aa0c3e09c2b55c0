"""Root-cause analysis as label scoring: the model ranks the candidate causes, it never free-writes.

Why: free generation followed by string parsing mixes the model's knowledge with its formatting luck
and wastes tokens. Scoring each label's tokens given the ticket gives a class and a confidence for
every ticket, with no parse failures. `score_labels_plainly` is the readable version (one forward per label);
`score_labels` the fast one (the shared prompt encoded once per batch), tested against it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.classification import prediction_spread, rca_metrics
from helpers.prompts import chat_prompt

REDUCTIONS = ("mean", "first", "sum")  # how a label's token log-probabilities become one score (raw rule first)


CALIBRATIONS = ("none", "contextual", "prior")


CONTENT_FREE = ("N/A", "", "[MASK]")  # content-free tickets for contextual calibration (Zhao et al., 2021)


@dataclass(frozen=True)
class ScoringRule:
    """How label scores become a prediction.

    reduce: a label's score is the log-probability of its first token, the mean over its tokens, or the sum
    (the log-probability of the whole label). calibration: none; `contextual`, subtract the scores the model gives
    content-free tickets ("N/A", "", "[MASK]"), i.e. its bias before reading any ticket; or `prior`, subtract the
    label's mean score over unlabelled tickets (the validation split's texts; no labels are used).
    """

    reduce: str = "mean"
    calibration: str = "none"

    def __post_init__(self):
        if self.reduce not in REDUCTIONS or self.calibration not in CALIBRATIONS:
            raise ValueError(f"scoring rule {self.reduce}/{self.calibration}: reduce is one of {', '.join(REDUCTIONS)}, "
                             f"calibration one of {', '.join(CALIBRATIONS)}")

    @property
    def name(self) -> str:
        return f"{self.reduce}/{self.calibration}"

    @classmethod
    def parse(cls, name: str) -> "ScoringRule":
        return cls(*name.split("/"))


RAW = ScoringRule("mean", "none")  # the scores as the model gives them


FINE_TUNED = ScoringRule("sum", "none")  # a fine-tuned model was trained on log P(label | ticket): the sum


BATCH_SIZE = 8  # tickets per forward in score_labels


def score_in_windows(measure, name: str, model, tokenizer, texts: list[str], labels: list[str],
                     shots: list[dict] | None = None, chunks: int = 3) -> tuple[np.ndarray, dict]:
    """score_labels of `texts` inside the energy windows of `measure` (results.Run.measure_per_item: a warm-up, then
    `chunks` windows named `name`); returns (scores in the texts' order, the windows' summary).

    The texts are scored longest prompt first, as score_labels batches them, and every window holds whole batches,
    so the batches are exactly those of one pass over all texts. Why it matters: in 16-bit weights a ticket's scores
    depend on the batch it shares (padding width and matmul shapes change the rounding), enough to flip a fine-tuned
    bf16 model's predictions (bench/merge_check.py measures it); fp32 scores move by about 1e-5."""
    lengths = [len(_prompt_ids(tokenizer, text, labels, shots)) for text in texts]
    order = sorted(range(len(texts)), key=lambda i: -lengths[i])  # score_labels' own order (a stable sort)
    parts, summary = measure(name, [texts[i] for i in order], lambda part: score_labels(
        model, tokenizer, part, labels, shots), chunks, align=BATCH_SIZE)
    scores = np.empty((len(texts), len(labels), len(REDUCTIONS)))
    scores[order] = np.concatenate(parts)
    return scores, summary


def _prompt_ids(tokenizer, text: str, labels: list[str], shots: list[dict] | None) -> list[int]:
    return tokenizer(chat_prompt(tokenizer, text, labels, shots), add_special_tokens=False)["input_ids"]


def score_labels(model, tokenizer, texts: list[str], labels: list[str], shots: list[dict] | None = None,
                 batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Log-probabilities of each label's tokens after each ticket's prompt, reduced three ways: an array of shape
    (tickets, labels, len(REDUCTIONS)), in REDUCTIONS order (see ScoringRule).

    Computed exactly, with no token processed twice:
    - the prompt prefix every ticket shares (system prompt with the label list, few-shot examples, up to the
      ticket's text) is encoded once per call; its keys/values are reused by every ticket;
    - each ticket's own tokens are encoded once, followed in the same row by all label continuations; a
      block attention mask lets each label see the prefix, the ticket and its own earlier tokens only (so
      every label is scored as if it alone followed the ticket), with positions restarting per label;
    - tickets are batched `batch_size` at a time, sorted by length, left-padded (padding is masked out);
    - logits (the 49 k-word head) are computed only where a label token is predicted.
    Exact for weight-only precisions; dynamic-int8 (one activation scale per token) is independent of the batch up
    to rounding (tests/test_rca.py). bitsandbytes' LLM.int8 picks its outlier columns over the batch, so its scores
    depend slightly on which tickets share a batch.
    """
    import torch

    device = next(model.parameters()).device
    label_ids = [tokenizer(label, add_special_tokens=False)["input_ids"] for label in labels]
    prompts = [_prompt_ids(tokenizer, text, labels, shots) for text in texts]
    scores = np.zeros((len(texts), len(labels), len(REDUCTIONS)))
    if not texts:
        return scores
    # The template before the ticket (two unlike placeholder tickets share only that), so the split between the cached
    # prefix and the batch does not depend on which tickets are scored together.
    prefix = common_prefix(prompts + [_prompt_ids(tokenizer, text, labels, shots) for text in ("0", "Z")])
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


def score_labels_plainly(model, tokenizer, text: str, labels: list[str], shots: list[dict] | None = None) -> np.ndarray:
    """The readable reference for score_labels, one ticket: one full forward per label over prompt + label, then
    each label token's log-probability reduced as score_labels does. Shape (labels, len(REDUCTIONS))."""
    import torch

    prompt = _prompt_ids(tokenizer, text, labels, shots)
    out = []
    for label in labels:
        ids = tokenizer(label, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            tokens = torch.tensor([prompt + ids], device=next(model.parameters()).device)
            logp = torch.log_softmax(model(input_ids=tokens).logits[0].float(), dim=-1)
        out.append(_reduce(np.array([[logp[len(prompt) - 1 + t, token].item() for t, token in enumerate(ids)]]))[0])
    return np.array(out)


def _reduce(tokens: np.ndarray) -> np.ndarray:
    """(rows, label tokens) log-probabilities -> (rows, len(REDUCTIONS)), in REDUCTIONS order."""
    by_name = {"mean": tokens.mean(axis=1), "first": tokens[:, 0], "sum": tokens.sum(axis=1)}
    return np.stack([by_name[r] for r in REDUCTIONS], axis=1)


def common_prefix(prompts: list[list[int]]) -> list[int]:
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
    mask = block_attention_mask(model, mask.to(device))
    logits = model(input_ids=ids.to(device), attention_mask=mask, position_ids=position.to(device), cache=cache,
                   use_cache=prefix_cache is not None, logits_to_keep=torch.tensor(keep, device=device)).logits
    logp = torch.log_softmax(logits.float(), dim=-1)  # (rows, len(keep), vocab)
    out = np.zeros((rows, len(label_ids), len(REDUCTIONS)))
    slot = {w: i for i, w in enumerate(keep)}
    for j, (s, lab) in enumerate(zip(starts, label_ids)):
        predictors = [slot[width - len(tail) - 1]] + [slot[width - len(tail) + s + t] for t in range(len(lab) - 1)]
        tokens = logp[:, predictors, torch.tensor(lab)].cpu().numpy()  # (rows, label tokens)
        out[:, j] = _reduce(tokens)
    return out


def block_attention_mask(model, visible):
    """The boolean block mask as the model's attention wants it: as is for SDPA, additive floats for eager."""
    import torch

    if getattr(model.config, "_attn_implementation", "sdpa") != "eager":
        return visible
    dtype = model.get_input_embeddings().weight.dtype
    return torch.zeros(visible.shape, dtype=dtype, device=visible.device).masked_fill(~visible, torch.finfo(dtype).min)


def apply_rule(scores: np.ndarray, rule: ScoringRule, reference: np.ndarray | None = None) -> np.ndarray:
    """(tickets, labels) scores under `rule`: the chosen reduction of score_labels' output, minus the mean score
    of the `reference` tickets (score_labels of calibration_texts) when the rule calibrates."""
    k = REDUCTIONS.index(rule.reduce)
    out = scores[..., k]
    if rule.calibration != "none":
        if reference is None or not len(reference):
            raise ValueError(f"scoring rule {rule.name} needs the scores of its calibration tickets")
        out = out - reference[..., k].mean(axis=0)
    return out


def predict_labels(model, tokenizer, texts: list[str], labels: list[str], rule: ScoringRule = FINE_TUNED,
                   batch_size: int = BATCH_SIZE) -> list[str]:
    """Each text's predicted label under a rule that needs no calibration tickets (a fine-tuned model's, by default):
    one score_labels call, no energy window (validation during training, checks)."""
    return [labels[i] for i in apply_rule(score_labels(model, tokenizer, texts, labels, batch_size=batch_size),
                                          rule).argmax(axis=1)]


def calibration_texts(rule: ScoringRule, unlabelled: list[str]) -> list[str]:
    """The tickets whose scores `rule` subtracts: none, the content-free ones, or unlabelled tickets."""
    return {"none": [], "contextual": list(CONTENT_FREE), "prior": list(unlabelled)}[rule.calibration]


def predict(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted label index and its confidence (softmax over the label scores) per ticket."""
    z = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return probs.argmax(axis=1), probs.max(axis=1)


def compare_rules(scores: np.ndarray, content_free: np.ndarray, y_true: list[str], labels: list[str]):
    """Accuracy, macro-F1 and prediction spread of every scoring rule on labelled tickets (`scores` from
    score_labels). Prior calibration is cross-fitted: each half of the tickets is calibrated with the other half's
    mean scores (texts only), as the test split is with the validation split's. One row per rule, the raw one first."""
    import pandas as pd

    half = len(scores) // 2
    rows = []
    for calibration in CALIBRATIONS:
        for reduce in REDUCTIONS:
            rule = ScoringRule(reduce, calibration)
            if calibration == "prior":
                calibrated = np.concatenate([apply_rule(scores[:half], rule, scores[half:]),
                                             apply_rule(scores[half:], rule, scores[:half])])
            else:
                calibrated = apply_rule(scores, rule, content_free)
            y_pred = [labels[i] for i in calibrated.argmax(axis=1)]
            rows.append({"rule": rule.name, **rca_metrics(y_true, y_pred, labels), **prediction_spread(y_pred)})
    return pd.DataFrame(rows)


def chosen_rule(profile: str) -> ScoringRule:
    """The rule notebook 2 chose on the validation split, for every variant that is not fine-tuned."""
    from helpers.results import load_record

    return ScoringRule.parse(load_record(profile, "02_baseline", "scoring", "zero-shot")["metrics"]["chosen_rule"])
