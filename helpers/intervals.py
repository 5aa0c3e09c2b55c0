"""Bootstrap intervals over tickets: of one system's accuracy and macro-F1, and of the difference between two
systems scored on the same tickets (paired).

Why paired: two variants' own intervals overlap long before their difference is uncertain, because most of the
spread comes from which tickets happen to be in the test split, and both variants see the same ones. Resampling
tickets once for both keeps that shared part out of the difference. Every "better", "worse" or "no loss" the
study states rests on `verdict` of such an interval.
"""
from __future__ import annotations

import numpy as np

N_RESAMPLES = 2000


def _resamples(n: int, seed: int, n_resamples: int = N_RESAMPLES) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def accuracy_and_macro_f1(t: np.ndarray, p: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and macro-F1 over k labels for each row of label-index arrays t, p (shape: resamples x tickets)."""
    f1 = np.zeros(t.shape[0])
    for c in range(k):
        tp = ((t == c) & (p == c)).sum(axis=1)
        denominator = (t == c).sum(axis=1) + (p == c).sum(axis=1)  # 2TP + FP + FN
        f1 += np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)
    return (t == p).mean(axis=1), f1 / k


def _label_indices(labels: list[str], *predictions: list[str]) -> list[np.ndarray]:
    index = {label: i for i, label in enumerate(labels)}
    return [np.array([index.get(y, -1) for y in ys]) for ys in predictions]


def bootstrap_ci(y_true: list[str], y_pred: list[str], labels: list[str], n_resamples: int = N_RESAMPLES,
                 seed: int = 0) -> dict:
    """95 % percentile-bootstrap intervals of accuracy and macro-F1 (tickets resampled with replacement)."""
    t, p = _label_indices(labels, y_true, y_pred)
    rows = _resamples(len(t), seed, n_resamples)
    out = {}
    for name, values in zip(("accuracy", "macro_f1"), accuracy_and_macro_f1(t[rows], p[rows], len(labels))):
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = map(float, np.percentile(values, [2.5, 97.5]))
    return out


def compare_predictions(y_true: list[str], pred_a: list[str], pred_b: list[str], labels: list[str],
                        seed: int = 0) -> dict:
    """a minus b in accuracy and macro-F1 on the same tickets, each with a paired 95 % percentile interval."""
    if not len(y_true) == len(pred_a) == len(pred_b):
        raise ValueError("paired comparison needs both systems' predictions for the same tickets")
    t, a, b = _label_indices(labels, y_true, pred_a, pred_b)
    rows = _resamples(len(t), seed)
    point = [x - y for x, y in zip(accuracy_and_macro_f1(t[None], a[None], len(labels)),
                                   accuracy_and_macro_f1(t[None], b[None], len(labels)))]
    boot = [x - y for x, y in zip(accuracy_and_macro_f1(t[rows], a[rows], len(labels)),
                                  accuracy_and_macro_f1(t[rows], b[rows], len(labels)))]
    out = {}
    for name, p, d in zip(("accuracy", "macro_f1"), point, boot):
        out[f"{name}_diff"] = float(p[0])
        out[f"{name}_diff_ci_low"], out[f"{name}_diff_ci_high"] = map(float, np.percentile(d, [2.5, 97.5]))
    return out


def compare_means(a, b, seed: int = 0) -> dict:
    """Mean of a minus mean of b for per-ticket scores of the same tickets, with a paired 95 % interval."""
    diff = np.asarray(a, float) - np.asarray(b, float)
    if diff.ndim != 1 or not len(diff):
        raise ValueError("paired comparison needs equal-length, non-empty per-ticket scores")
    boot = diff[_resamples(len(diff), seed)].mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return {"diff": float(diff.mean()), "diff_ci_low": float(low), "diff_ci_high": float(high)}


def verdict(low: float, high: float, better: str = "better", worse: str = "worse") -> str:
    """What an interval of a difference (a minus b) supports: `better` when it lies above 0, `worse` below,
    otherwise no difference this test can see."""
    if low > 0:
        return better
    if high < 0:
        return worse
    return "no significant difference"
