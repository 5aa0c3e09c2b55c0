"""LoRA fine-tuning throughput: the study's own trainer (helpers.finetune.lora_finetune) for a few steps.

Useful FLOPs per training token = 4 x the non-embedding weights: the forward pass (2 per weight) plus the backward
pass's input gradient (2 per weight) through the frozen block linears; the LoRA matrices, attention scores, the LM
head and the weight gradient of the tiny adapters are not counted (they are small, or not what the GEMM peak
measures). The same count as issue #14's: about 0.42 GFLOP per token for SmolLM2-135M.
"""
from __future__ import annotations

import tempfile
from pathlib import Path


def non_embedding_params(model) -> int:
    """Weights of the block linears (the embeddings and the tied LM head excluded)."""
    from helpers.prune import block_linears

    return sum(linear.weight.numel() for linear in block_linears(model).values())


def lora_throughput(load, examples: list[dict], batch_size: int = 8, steps: int = 4, lora_r: int = 16,
                    bf16: bool = True) -> dict:
    """Seconds per optimizer step and useful FLOP/s of LoRA training: the study's trainer runs 1 + `steps` steps on a
    freshly loaded model (`load()` returns (model, tokenizer)) and times each step after the first (its log's
    step_seconds), which leaves out start-up, the first step's warm-up and the save."""
    from helpers import finetune

    model, tokenizer = load()
    weights = non_embedding_params(model)  # before LoRA wraps the linears
    with tempfile.TemporaryDirectory() as folder:
        _, log = finetune.lora_finetune(model, tokenizer, examples, Path(folder) / "adapter", epochs=1.0,
                                        batch_size=batch_size, learning_rate=1e-3, seed=0, lora_r=lora_r, bf16=bf16,
                                        max_steps=1 + steps)
    if len(log["step_seconds"]) != steps or len(log["step_tokens"]) != 1 + steps:  # a step's time and tokens align
        raise RuntimeError(f"asked for {1 + steps} steps, the trainer logged {len(log['step_tokens'])} with tokens "
                           f"and timed {len(log['step_seconds'])} after the first")
    seconds = sum(log["step_seconds"])
    tokens = log["step_tokens"][-1] - log["step_tokens"][0]
    flops = 4 * weights * tokens
    return {"steps": steps, "batch_size": batch_size, "seconds_per_step": seconds / steps, "tokens": tokens,
            "tokens_per_s": tokens / seconds, "flops": flops, "flop_per_s": flops / seconds}
