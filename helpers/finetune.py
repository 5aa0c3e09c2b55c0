"""LoRA fine-tuning with trl's SFTTrainer (QLoRA when the base model is loaded in 4-bit).

Why prompt-completion examples: the loss then falls on the answer only (the root cause, or the resolution
note), not on the ticket, so a few steps already move the model towards the tasks. The prompts are the
same ones the RCA scorer and the note generator use, so training and evaluation see identical inputs.
"""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from helpers.rca import rca_messages
from helpers.response import response_messages
from helpers.results import write_folder_atomic


def rca_examples(rows: list[dict], labels: list[str]) -> list[dict]:
    """Conversational prompt-completion examples for the RCA task (rows carry `text` and `root_cause`)."""
    return [{"prompt": rca_messages(r["text"], labels), "completion": [{"role": "assistant", "content": r["root_cause"]}]}
            for r in rows]


def response_examples(rows: list[dict]) -> list[dict]:
    """Prompt-completion examples for response feedback: the ticket, then the engineer's resolution note."""
    return [{"prompt": response_messages(r["text"]), "completion": [{"role": "assistant", "content": r["resolution"]}]}
            for r in rows if r.get("resolution")]


@contextlib.contextmanager
def completion_positions_only():
    """Let trl's fused LM head score only the completion positions on CPU too.

    trl projects the hidden states through the 49k-token LM head in chunks and, off CUDA/XPU, does so for every
    position, then zeroes the prompt ones (fixed shapes keep compiled Neuron kernels from recompiling). The loss
    only counts completion tokens (~7 % of positions here), so on CPU the "compact" path — the same per-token
    log-probabilities on the positions that count — gives the same loss and gradients at a fraction of the cost.
    The switch is trl's own; if a trl version lacks it, training runs unchanged.
    """
    from trl.trainer import utils as trl_utils

    original = getattr(trl_utils, "_use_triton", None)
    if original is None:
        yield
        return
    trl_utils._use_triton = lambda device: device.type == "cpu" or original(device)
    try:
        yield
    finally:
        trl_utils._use_triton = original


def lora_finetune(model, tokenizer, examples: list[dict], output_dir: Path, max_steps: int, batch_size: int,
                  learning_rate: float, seed: int, lora_r: int = 8, bf16: bool = False):
    """Train a LoRA adapter for max_steps and save it as safetensors in output_dir.

    Returns (the peft-wrapped model, the training log: steps, loss curve, tokens, trainable parameters).

    CPU-safe settings: use_cpu when there is no GPU, an explicit bf16 flag, no activation checkpointing
    (pointless for a 135M model), no checkpoints, no reporting integrations.
    """
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    peft_config = LoraConfig(r=lora_r, lora_alpha=2 * lora_r, lora_dropout=0.0, task_type="CAUSAL_LM",
                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    with tempfile.TemporaryDirectory(prefix="sft-") as scratch:  # trainer output; nothing is saved there
        config = SFTConfig(
            output_dir=scratch, max_steps=max_steps, per_device_train_batch_size=batch_size,
            learning_rate=learning_rate, lr_scheduler_type="constant", warmup_steps=0, logging_steps=1,
            save_strategy="no", report_to="none", seed=seed, data_seed=seed, use_cpu=not torch.cuda.is_available(),
            bf16=bf16, activation_checkpointing=False, max_length=512, dataloader_num_workers=0, disable_tqdm=True,
        )
        trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(examples),
                             processing_class=tokenizer, peft_config=peft_config)
        with completion_positions_only():
            result = trainer.train()
    write_folder_atomic(output_dir, lambda folder: trainer.model.save_pretrained(folder, safe_serialization=True))
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    tokens = [float(e["num_tokens"]) for e in trainer.state.log_history if "num_tokens" in e]
    return trainer.model, {"steps": int(result.global_step), "loss_curve": losses, "train_tokens": int(tokens[-1]) if tokens else None,
            "trainable_params": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)}
