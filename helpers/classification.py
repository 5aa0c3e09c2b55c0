"""How well predicted root causes match the true ones: accuracy and macro-F1 over the full label set, with
bootstrap intervals, the spread of predictions, trivial baselines on the same tickets, and the task check."""
from __future__ import annotations

import numpy as np

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


def prediction_spread(y_pred: list[str]) -> dict:
    """How the predictions spread over labels: the share of the most frequent one and how many were used."""
    from collections import Counter

    counts = Counter(y_pred)
    return {"top_label_share": counts.most_common(1)[0][1] / len(y_pred), "n_labels_predicted": len(counts)}


def trivial_baselines(y_true: list[str], labels: list[str]) -> dict:
    """What predicting without reading the ticket scores on these tickets: the best constant label (the most
    frequent true one, a generous majority baseline) and uniform random guessing (expected values)."""
    from collections import Counter

    counts = Counter(y_true)
    majority = counts.most_common(1)[0][0]
    n, k = len(y_true), len(labels)
    # F1 = 2 TP / (support + predicted), with expected values: 2 (n_c / k) / (n_c + n / k); a ratio of expectations,
    # so an approximation of the expected F1 (close for tens of tickets and more)
    chance_f1 = [2 * (counts[label] / k) / (counts[label] + n / k) for label in labels]
    return {**{f"majority_{m}": v for m, v in rca_metrics(y_true, [majority] * n, labels).items()},
            "chance_accuracy": 1 / k, "chance_macro_f1": float(np.mean(chance_f1))}


COLLAPSE_SHARE = 0.8  # a variant giving one label to more tickets than this does not do the task


def task_check(metrics: dict) -> str:
    """'ok', or why a variant does not do the task: one label for most tickets, or worse than always answering
    the most frequent class (macro-F1 or accuracy below the majority baseline's). Needs prediction_spread and
    trivial_baselines in metrics."""
    if metrics["top_label_share"] > COLLAPSE_SHARE:
        return f"does not do the task: one label for {metrics['top_label_share']:.0%} of tickets"
    for m in ("macro_f1", "accuracy"):
        if metrics[m] < metrics[f"majority_{m}"]:
            return f"does not do the task: {m} {metrics[m]:.3f} below the majority class's {metrics[f'majority_{m}']:.3f}"
    return "ok"


def classification_report(y_true: list[str], y_pred: list[str], labels: list[str]) -> dict:
    """Accuracy and macro-F1 with bootstrap intervals, the spread of predictions, the trivial baselines of the
    same tickets, how many classes the tickets held, and the task check."""
    from helpers import intervals

    metrics = {**rca_metrics(y_true, y_pred, labels), **intervals.bootstrap_ci(y_true, y_pred, labels),
               **prediction_spread(y_pred), **trivial_baselines(y_true, labels),
               "n_tickets": len(y_true), "n_classes_in_tickets": len(set(y_true)), "n_labels": len(labels)}
    metrics["task_check"] = task_check(metrics)
    metrics["does_task"] = metrics["task_check"] == "ok"
    return metrics
