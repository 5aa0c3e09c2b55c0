#!/usr/bin/env python
"""CPU seconds of inference with the weights' requires_grad flag on and off: the same model, alternating.

    .venv/bin/python bench/frozen_weights.py [--precision bf16] [--repeats 6]

Why it exists: a model loaded from a folder has requires_grad on (transformers' default); peft freezes the base
weights, so a model whose LoRA adapter is merged at load time had them off. Notebook 7's interleaved measurement
found those merged variants 10-25 % dearer per ticket than their pruned copies loaded from folders, though both run
the same dense kernels. Everything here runs under torch.inference_mode, where the flag builds no graph; this
measures what it costs anyway: notes of 40 tokens and RCA scoring for 8 synthetic tickets on the embedded model,
each flag in turn, the order swapped every repeat. Prints one JSON line (CPU seconds per repeat and the medians).
Run it alone (one torch job at a time).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import models, response, scoring, ticket_generator  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args(argv)
    models.set_runtime(2, 0)
    texts = [t["text"] for t in ticket_generator.generate_splits(200, 0)["test"][:8]]
    model, tokenizer = models.load_model("default", args.precision)
    response.generate_notes(model, tokenizer, texts[:1], 40, fixed_length=True)  # warm-up
    seconds = {flag: {"notes": [], "rca": []} for flag in ("on", "off")}
    for r in range(args.repeats):
        for flag in ("on", "off") if r % 2 == 0 else ("off", "on"):
            model.requires_grad_(flag == "on")
            t = time.process_time()
            response.generate_notes(model, tokenizer, texts, 40, fixed_length=True)
            seconds[flag]["notes"].append(round(time.process_time() - t, 3))
            t = time.process_time()
            scoring.score_labels(model, tokenizer, texts, ticket_generator.LABELS)
            seconds[flag]["rca"].append(round(time.process_time() - t, 3))
    medians = {f"{task}_off_over_on": statistics.median(seconds["off"][task]) / statistics.median(seconds["on"][task])
               for task in ("notes", "rca")}
    return {"precision": args.precision, "cpu_seconds": seconds, **{k: round(v, 3) for k, v in medians.items()}}


if __name__ == "__main__":
    print(json.dumps(main()))
