"""What merging a LoRA adapter into the weights does to RCA quality, on a finished run's test tickets.

    python bench/merge_check.py [--profile default] [--precision bf16]

Loads the run's adapter (notebook 5) on the base at `precision`, scores every test ticket with the fine-tuned
scoring rule (as notebook 6) three ways: adapter unmerged at `precision`, merged into `precision` weights, and
merged into fp32 weights; each merged model also in batches of 3 instead of 8 (same tickets, other batch
neighbours: rounding alone). Prints macro-F1 of each and the paired bootstrap difference (same tickets) against the
unmerged model. Run it alone (one torch job at a time). Why it exists: in 16-bit weights W + BA is rounded to 8
mantissa bits, which could lose part of a small adapter; notebook 6 runs merged 16-bit weights
(helpers.variants.merge_adapter), and this checks what that costs on the test tickets.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import classification, intervals, models, paths, scoring, ticket_files, variants  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    models.set_runtime(args.threads, 0)
    data = paths.data_dir(args.profile)
    test, labels = ticket_files.load_split(data, "test"), ticket_files.load_labels(data)
    texts, truth = [t["text"] for t in test], [t["root_cause"] for t in test]
    adapter = variants.adapter_dir(args.profile, variants.Variant(args.precision, finetune="lora"))
    if not (adapter / "adapter_config.json").is_file():
        print(f"merge_check: no adapter at {adapter}: run notebook 5 for {args.precision} LoRA first", file=sys.stderr)
        return 2
    runs = {}
    for name, precision, merge in ((f"{args.precision} unmerged", args.precision, False),
                                   (f"{args.precision} merged", args.precision, True), ("fp32 merged", "fp32", True)):
        model, tokenizer = models.load_model("default", precision, adapter=adapter)
        model = model.merge_and_unload() if merge else model
        runs[name] = scoring.predict_labels(model, tokenizer, texts, labels)
        if merge:  # the same model and tickets, other batches: what batch composition alone does at this precision
            runs[f"{name}, batches of 3"] = scoring.predict_labels(model, tokenizer, texts, labels, batch_size=3)
    reference = f"{args.precision} unmerged"
    out = {"profile": args.profile, "tickets": len(test), "adapter": str(adapter)}
    for name, predicted in runs.items():
        out[name] = {"macro_f1": classification.rca_metrics(truth, predicted, labels)["macro_f1"],
                     "changed_tickets": sum(a != b for a, b in zip(predicted, runs[reference]))}
        if name != reference:
            diff = intervals.compare_predictions(truth, predicted, runs[reference], labels, 0)
            out[name].update({k: v for k, v in diff.items() if k.startswith("macro_f1")},
                             verdict=intervals.verdict(diff["macro_f1_diff_ci_low"], diff["macro_f1_diff_ci_high"]))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
