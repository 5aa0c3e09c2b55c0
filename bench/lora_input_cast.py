#!/usr/bin/env python
"""Issue #14's lever: under bf16 autocast, stop PEFT casting each LoRA layer's input to the adapter's fp32.

    .venv/bin/python bench/lora_input_cast.py        # 8 batches, eager attention (the study's trainer)
    .venv/bin/python bench/lora_input_cast.py 12     # 12 batches

PEFT keeps LoRA weights in fp32 and, before every adapter, casts the layer's bf16 input to fp32; autocast then casts
it straight back to bf16 for lora_A's matmul. The round trip is lossless (bf16 -> fp32 -> bf16), so turning the cast
off (`peft.helpers.disable_input_dtype_casting`) gives the same numbers with two fewer copies of an activation per
adapter and pass, 7 adapters per layer. The paired measurement: batches of 8 drawn (seeded) from the default data's
training examples; the default model in bf16 with LoRA r 16 on every block linear, eager attention, under bf16
autocast; each batch runs forward and backward once with the cast and once without, in alternating order. Prints one
JSON line: the median seconds of each, the median ratio, and the largest difference in any LoRA gradient between the
two (0.0 means bit-identical). Run it alone (one torch job at a time).
"""
from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import finetune, models, ticket_generator  # noqa: E402


def paired(n_batches: int) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from peft.helpers import disable_input_dtype_casting

    splits = ticket_generator.generate_splits(600, 0, label_noise=0.05, shift=True)
    examples = finetune.training_examples(splits["train"], ticket_generator.LABELS, 0.25, 0)
    model, tokenizer = models.load_model("default", "bf16")
    model.set_attn_implementation("eager")
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, task_type="CAUSAL_LM", target_modules=[
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])).train()
    for name, p in model.named_parameters():  # lora_B starts at zero; give it values so every gradient is non-trivial
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.02)
    tokenizer.padding_side = "right"
    rng, lora = random.Random(0), [p for p in model.parameters() if p.requires_grad]
    seconds, largest = {"cast": [], "no_cast": []}, 0.0
    for i in range(n_batches):
        rows = [examples[j] for j in rng.sample(range(len(examples)), 8)]
        batch = tokenizer([tokenizer.apply_chat_template(e["prompt"] + e["completion"], tokenize=False) for e in rows],
                          padding=True, return_tensors="pt")
        grads = {}
        for mode in (("no_cast", "cast") if i % 2 else ("cast", "no_cast")):
            with disable_input_dtype_casting(model, active=mode == "no_cast"):
                t0 = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    logits = model(**batch).logits
                logits.float().logsumexp(-1).mean().backward()
                seconds[mode].append(time.perf_counter() - t0)
            grads[mode] = [p.grad.clone() for p in lora]
            model.zero_grad(set_to_none=True)
        largest = max([largest] + [float((a - b).abs().max()) for a, b in zip(grads["cast"], grads["no_cast"])])
    ratios = [n / c for n, c in zip(seconds["no_cast"], seconds["cast"])]
    return {"batches": n_batches, "median_s": {m: round(statistics.median(s), 3) for m, s in seconds.items()},
            "no_cast_over_cast": [round(r, 3) for r in ratios], "median_ratio": round(statistics.median(ratios), 3),
            "largest_grad_difference": largest}


if __name__ == "__main__":
    models.set_runtime(2, 0)
    print(json.dumps(paired(int(sys.argv[1]) if len(sys.argv) > 1 else 8)), flush=True)
