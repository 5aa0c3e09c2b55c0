"""RCA evaluation of one model on test tickets: its label scores (helpers.scoring) under a scoring rule, their
metrics (helpers.classification) and the energy per ticket of the window the notebook measured them in."""
from __future__ import annotations

import numpy as np

from helpers.classification import classification_report, prediction_spread, rca_metrics
from helpers.scoring import RAW, ScoringRule, apply_rule, predict


def evaluate(scores: np.ndarray, tickets: list[dict], labels: list[str], rule: ScoringRule, summary,
             reference: np.ndarray | None = None):
    """RCA metrics of the tickets' label scores under `rule`. `scores`: scoring.score_in_windows of the tickets, whose
    energy `summary` gives J per ticket; `reference`: the calibration texts' scores when the rule calibrates (once per
    model, outside the window).

    Returns (metrics, details): metrics from classification_report plus the raw rule's accuracy/macro-F1, J/ticket and
    the rule; details per ticket: ids, predicted labels (under the rule and raw) and raw label scores (the RAW rule),
    for paired comparisons and for the record."""
    from helpers.energy import ticket_metrics

    pred, confidence = predict(apply_rule(scores, rule, reference))
    raw = apply_rule(scores, RAW)
    y_true, y_pred, y_raw = [t["root_cause"] for t in tickets], [labels[i] for i in pred], [labels[i] for i in raw.argmax(1)]
    metrics = {**classification_report(y_true, y_pred, labels), **ticket_metrics(summary),
               **{f"raw_{m}": v for m, v in rca_metrics(y_true, y_raw, labels).items()},
               "raw_top_label_share": prediction_spread(y_raw)["top_label_share"],
               "scoring_rule": rule.name, "mean_confidence": float(confidence.mean())}
    details = {"ticket_ids": [t["ticket_id"] for t in tickets], "predictions": y_pred, "raw_predictions": y_raw,
               "raw_label_scores": np.round(raw, 4).tolist()}
    return metrics, details
