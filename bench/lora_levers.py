#!/usr/bin/env python
"""Seconds per LoRA training step under one setting changed against the study's trainer (issue #14's levers).

    .venv/bin/python bench/lora_levers.py '{}'                                  # the study's settings
    .venv/bin/python bench/lora_levers.py '{"shared_prefix": true}'             # shared prompt prefixes run once
    .venv/bin/python bench/lora_levers.py '{"attn": "sdpa"}'                    # SDPA attention, not eager
    .venv/bin/python bench/lora_levers.py '{"bf16": false}'                     # bf16 weights without autocast
    .venv/bin/python bench/lora_levers.py '{"adapter_bf16": true, "bf16": false}'   # bf16 LoRA weights too
    .venv/bin/python bench/lora_levers.py '{"sampling": "group_by_length"}'     # batches of similar length
    .venv/bin/python bench/lora_levers.py '{"input_cast": true}'                # PEFT's fp32 cast of adapter inputs
    .venv/bin/python bench/lora_levers.py '{"compile": true, "pad_mult": 64, "steps": 10}'  # torch.compile
    .venv/bin/python bench/lora_levers.py '{"precision": "fp16", "bf16": false, "fp16": true, "steps": 2}'  # fp16
    .venv/bin/python bench/lora_levers.py '{"profile": true, "steps": 4}'       # + where the steps' CPU time goes

The default data's first examples, batch 8, bf16 base, LoRA r 16 on every block linear, trl's SFTTrainer with the
study's CPU settings. Prints one JSON line: each step's seconds (the first includes one-time set-up; the median
leaves it out), the non-pad tokens trained and the loss per step, so a lever's numerical effect is visible too.
Measures speed only: whether a lever keeps the task quality needs bench/finetune_recipe.py. Run it alone (one
torch job at a time).
"""
from __future__ import annotations

import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.shared_prefix import shared_prefixes_once  # noqa: E402
from helpers import finetune, models, ticket_generator  # noqa: E402


def main(cfg: dict) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from peft.helpers import disable_input_dtype_casting
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    models.set_runtime(2, 0)
    splits = ticket_generator.generate_splits(600, 0, label_noise=0.05, shift=True)
    examples = finetune.training_examples(splits["train"], ticket_generator.LABELS, 0.25, 0)
    model, tokenizer = models.load_model("default", cfg.get("precision", "bf16"))
    model.set_attn_implementation(cfg.get("attn", "eager"))  # the study trains with eager attention
    times = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *args, **kwargs):
            self.t0 = time.perf_counter()

        def on_step_end(self, *args, **kwargs):
            times.append(time.perf_counter() - self.t0)

    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, task_type="CAUSAL_LM",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    with tempfile.TemporaryDirectory() as scratch:
        config = SFTConfig(
            output_dir=scratch, max_steps=cfg.get("steps", 6), per_device_train_batch_size=8, learning_rate=1e-3,
            logging_steps=1, save_strategy="no", report_to="none", seed=0, data_seed=0, use_cpu=True,
            bf16=cfg.get("bf16", True), fp16=cfg.get("fp16", False), activation_checkpointing=False, max_length=512,
            dataloader_num_workers=0, disable_tqdm=True, train_sampling_strategy=cfg.get("sampling", "random"),
            torch_compile=cfg.get("compile", False), pad_to_multiple_of=cfg.get("pad_mult"))
        trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(examples),
                             processing_class=tokenizer, peft_config=lora, callbacks=[StepTimer()])
        if cfg.get("adapter_bf16"):
            for param in trainer.model.parameters():
                if param.requires_grad:
                    param.data = param.data.to(torch.bfloat16)
        sharing = shared_prefixes_once if cfg.get("shared_prefix") else lambda model_: contextlib.nullcontext({"spared": 0})
        uncast = disable_input_dtype_casting(trainer.model, active=cfg.get("bf16", True) and not cfg.get("input_cast"))
        profiler = torch.profiler.profile(record_shapes=True) if cfg.get("profile") else contextlib.nullcontext()
        with finetune.completion_positions_only(), uncast, sharing(trainer.model) as prefixes, profiler:
            trainer.train()
    log = trainer.state.log_history
    top = profiler.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=20, max_shapes_column_width=60) if cfg.get("profile") else None
    return {"profile_top_ops": top, "cfg": cfg, "median_step_s": statistics.median(times[1:]), "steps": [round(t, 2) for t in times],
            "tokens": [e["num_tokens"] for e in log if "num_tokens" in e][-1],
            "loss": [round(e["loss"], 3) for e in log if "loss" in e], "prefix_tokens_spared": prefixes["spared"]}


if __name__ == "__main__":
    result = main(json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}"))
    print(result.pop("profile_top_ops") or "", end="")
    print(json.dumps(result))
