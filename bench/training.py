"""LoRA fine-tuning throughput: the study's own trainer (helpers.finetune.lora_finetune) for a few steps.

Useful FLOPs per training token = 4 x the non-embedding weights: the forward pass (2 per weight) plus the backward
pass's input gradient (2 per weight) through the frozen block linears; the LoRA matrices, attention scores, the LM
head and the weight gradient of the tiny adapters are not counted (they are small, or not what the GEMM peak
measures). The same count as issue #14's: about 0.42 GFLOP per token for SmolLM2-135M.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path


def non_embedding_params(model) -> int:
    """Weights of the block linears (the embeddings and the tied LM head excluded)."""
    from helpers.prune import block_linears

    return sum(linear.weight.numel() for linear in block_linears(model).values())


def lora_throughput(load, examples: list[dict], batch_size: int = 8, steps: int = 4, lora_r: int = 16,
                    bf16: bool = True) -> dict:
    """Seconds per optimizer step and useful FLOP/s of LoRA training, from runs of the study's trainer on a freshly
    loaded model (`load()` returns (model, tokenizer)): an untimed 1-step run (imports and one-time set-up), then
    1 step and 1 + `steps` steps; their difference leaves out start-up, the first step's warm-up and the save."""
    from helpers import finetune

    timings, logs, weights = [], [], None
    for n in (1, 1, 1 + steps):
        model, tokenizer = load()
        weights = weights or non_embedding_params(model)  # before LoRA wraps the linears
        with tempfile.TemporaryDirectory() as folder:
            t0 = time.perf_counter()
            _, log = finetune.lora_finetune(model, tokenizer, examples, Path(folder) / "adapter", epochs=1.0,
                                            batch_size=batch_size, learning_rate=1e-3, seed=0, lora_r=lora_r,
                                            bf16=bf16, max_steps=n)
            timings.append(time.perf_counter() - t0)
            logs.append(log)
    seconds = timings[2] - timings[1]
    tokens = logs[2]["train_tokens"] - logs[1]["train_tokens"]
    flops = 4 * weights * tokens
    if seconds <= 0:  # the extra steps took less than the runs' spread: nothing to report but that
        raise RuntimeError(f"{steps} extra steps did not outlast the run-to-run spread of the trainer's start-up; "
                           "time more steps")
    return {"steps": steps, "batch_size": batch_size, "seconds_per_step": seconds / steps, "tokens": tokens,
            "tokens_per_s": tokens / seconds, "flops": flops, "flop_per_s": flops / seconds}
