"""Measure a fine-tuning recipe on the default data: validation macro-F1 after each epoch, test macro-F1 of the
kept adapter (all test tickets, every class), wall time. How the default profile's fine-tuning defaults were chosen:

    python bench/finetune_recipe.py --precision bf16 --epochs 3 --lr 2e-3 --lora-r 16 --batch-size 8

With two training attentions (`--attention sdpa eager`), the same recipe is trained once with each, and the second's
test predictions are compared with the first's on the same tickets (paired 95 % interval of the macro-F1
difference, and how many tickets get the same label): whether a faster attention keeps the task quality.
Run it alone (one torch job at a time). Prints one JSON line per training, then the comparison.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from helpers import classification, finetune, intervals, models, scoring, ticket_generator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--warmup-ratio", type=float, default=0.1)
    parser.add_argument("--response-share", type=float, default=0.25)
    parser.add_argument("--n-tickets", type=int, default=600)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--attention", nargs="+", default=["eager"], choices=["sdpa", "eager"],
                        help="attention while training (validation and test scoring use SDPA, as the study does)")
    args = parser.parse_args()

    splits = ticket_generator.generate_splits(args.n_tickets, args.seed, label_noise=0.05, shift=True)
    labels = ticket_generator.LABELS
    y_true = [t["root_cause"] for t in splits["test"]]
    predictions = [train_and_test(args, attention, splits, labels) for attention in args.attention]
    if len(predictions) == 2:
        a, b = predictions
        print(json.dumps({"compare": f"{args.attention[1]} minus {args.attention[0]}",
                          "same_label": f"{sum(x == y for x, y in zip(a, b))} of {len(a)}",
                          **intervals.compare_predictions(y_true, b, a, labels)}))


def train_and_test(args, attention: str, splits: dict, labels: list[str]) -> list[str]:
    """Train the recipe with `attention`, print its JSON line and return its test predictions (fine-tuned rule)."""
    models.set_runtime(args.threads, args.seed)  # the same seeds for every training
    examples = finetune.training_examples(splits["train"], labels, args.response_share, args.seed)
    model, tokenizer = models.load_model("default", args.precision)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        _, log = finetune.lora_finetune(model, tokenizer, examples, Path(folder) / "adapter", args.epochs,
                                        args.batch_size, args.lr, args.seed, args.lora_r, bf16=args.precision != "fp32",
                                        warmup_ratio=args.warmup_ratio, validation=splits["validation"], labels=labels,
                                        training_attention=attention)
        seconds = time.perf_counter() - started
        best, _ = models.load_model("default", args.precision, adapter=Path(folder) / "adapter")
    test = splits["test"]
    scores = scoring.score_labels(best, tokenizer, [t["text"] for t in test], labels)
    y_true = [t["root_cause"] for t in test]
    out = {"args": {**vars(args), "attention": attention}, "examples": len(examples), "steps": log["steps"],
           "seconds": round(seconds, 1), "train_tokens": log["train_tokens"], "validation": log["validation"], "best_epoch": log["best_epoch"]}
    for reduce in scoring.REDUCTIONS:
        y_pred = [labels[i] for i in scoring.apply_rule(scores, scoring.ScoringRule(reduce)).argmax(axis=1)]
        out[f"test_{reduce}"] = {**classification.rca_metrics(y_true, y_pred, labels), **classification.prediction_spread(y_pred)}
    print(json.dumps(out), flush=True)
    return [labels[i] for i in scoring.apply_rule(scores, scoring.FINE_TUNED).argmax(axis=1)]


if __name__ == "__main__":
    main()
