"""RCA evaluation of one model on test tickets: label scores (helpers.scoring) under a scoring rule, their metrics
(helpers.classification), and the energy per ticket, measured over `repeats` chunks."""
from __future__ import annotations

import numpy as np

from helpers.classification import classification_report, prediction_spread, rca_metrics
from helpers.scoring import RAW, ScoringRule, apply_rule, calibration_texts, predict, score_labels


def evaluate(run, model, tokenizer, tickets: list[dict], labels: list[str], shots: list[dict] | None = None,
             repeats: int = 3, rule: ScoringRule = RAW, unlabelled: list[str] = ()):
    """Score the tickets' root causes under `rule` and measure the energy (run.measure_per_item, `repeats`
    chunks). Calibration scores (content-free or `unlabelled` tickets) are computed once, outside the measured
    windows: a one-off per model, not per ticket.

    Returns (metrics, energy summary, details): metrics from classification_report plus the raw rule's
    accuracy/macro-F1, J/ticket and the rule; details per ticket: ids, predicted labels (under the rule and
    raw) and raw label scores (the RAW rule), for paired comparisons and for the record."""
    from helpers.energy import ticket_metrics

    parts, summary = run.measure_per_item("inference", [t["text"] for t in tickets],
                                          lambda texts: score_labels(model, tokenizer, texts, labels, shots), repeats)
    scores = np.concatenate(parts)
    reference = score_labels(model, tokenizer, calibration_texts(rule, unlabelled), labels, shots)
    pred, confidence = predict(apply_rule(scores, rule, reference))
    raw = apply_rule(scores, RAW)
    y_true, y_pred, y_raw = [t["root_cause"] for t in tickets], [labels[i] for i in pred], [labels[i] for i in raw.argmax(1)]
    metrics = {**classification_report(y_true, y_pred, labels), **ticket_metrics(summary),
               **{f"raw_{m}": v for m, v in rca_metrics(y_true, y_raw, labels).items()},
               "raw_top_label_share": prediction_spread(y_raw)["top_label_share"],
               "scoring_rule": rule.name, "mean_confidence": float(confidence.mean())}
    details = {"ticket_ids": [t["ticket_id"] for t in tickets], "predictions": y_pred, "raw_predictions": y_raw,
               "raw_label_scores": np.round(raw, 4).tolist()}
    return metrics, summary, details
