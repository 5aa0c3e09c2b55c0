"""LoRA fine-tuning with trl's SFTTrainer (QLoRA when the base model is loaded in 4-bit).

Why prompt-completion examples: the loss then falls on the answer only (the root cause, or the resolution
note), not on the ticket, so a few steps already move the model towards the tasks. The prompts are the
same ones the RCA scorer and the note generator use, so training and evaluation see identical inputs.
"""
from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

from helpers.prompts import rca_messages
from helpers.prompts import response_messages
from helpers.atomic import write_folder_atomic


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


def training_examples(train: list[dict], labels: list[str], response_share: float, seed: int) -> list[dict]:
    """One epoch's examples: every RCA training ticket once, plus resolution-note examples numbering
    response_share x the RCA examples (a seeded sample of the tickets that have a note; all of them at most).

    Why this balance: RCA is what the study ranks, and its rare classes have a handful of tickets, so each epoch
    sees all of them; the notes are trained beside them without outnumbering them."""
    import random

    rca, notes = rca_examples(train, labels), response_examples(train)
    k = min(len(notes), round(response_share * len(rca)))
    return rca + random.Random(seed).sample(notes, k)


class _Validation:
    """Per-epoch validation macro-F1 with the scorer notebook 6 uses; keeps the best adapter on disk."""

    def __init__(self, tickets: list[dict], labels: list[str], output_dir: Path, scoring_attention: str):
        self.tickets, self.labels, self.output_dir = tickets, labels, Path(output_dir)
        self.scoring_attention = scoring_attention
        self.history, self.best = [], -1.0

    def macro_f1(self, model, tokenizer) -> float:
        from helpers import classification, scoring

        y_pred = scoring.predict_labels(model, tokenizer, [t["text"] for t in self.tickets], self.labels)
        return classification.rca_metrics([t["root_cause"] for t in self.tickets], y_pred, self.labels)["macro_f1"]

    def __call__(self, model, tokenizer, epoch: float, step: int) -> None:
        import time

        started, was_training = time.perf_counter(), model.training
        _eval_without_bnb_repacking(model)
        with attention(model, self.scoring_attention):  # scored as notebook 6 scores it
            f1 = self.macro_f1(model, tokenizer)
        model.train(was_training)
        if f1 > self.best:
            self.best = f1
            write_folder_atomic(self.output_dir, lambda folder: model.save_pretrained(folder, safe_serialization=True))
        self.history.append({"epoch": round(epoch, 3), "step": step, "val_macro_f1": f1,
                             "seconds": time.perf_counter() - started})


def steady_energy(window, log: dict) -> dict:
    """J per training token, and per epoch at that rate, from the steady steps of a fine-tuning window (log from
    lora_finetune): every optimizer step after the first, validation passes between them taken off, the window's
    joules apportioned by time. Set-up and the first step would weigh on a capped run of a few steps far more than
    on a full one; without them the two compare."""
    from helpers import energy

    steady = window.part(log["steady_seconds"], "optimizer steps after the first (set-up, first step, validation off)")
    per_token = energy.per_item(steady, "training_token", log["steady_tokens"])
    j = per_token["joules_per_training_token"]
    return {**per_token, "joules_per_epoch": None if j is None else j * log["train_tokens"] / log["epochs"]}


@contextlib.contextmanager
def attention(model, implementation: str):
    """Run the model's attention with `implementation` ("eager", "sdpa") inside the block, then switch it back."""
    before = model.config._attn_implementation
    model.set_attn_implementation(implementation)
    try:
        yield
    finally:
        model.set_attn_implementation(before)


def _eval_without_bnb_repacking(model) -> None:
    """model.eval(), except bitsandbytes' 4-bit layers, which stay in training mode (same arithmetic, no dropout).

    Why: on a CPU with AVX512-BF16, a Linear4bit's first forward in eval mode repacks its weight into an inference
    layout that training then runs on wrongly (bitsandbytes 0.50). Measured with nf4 QLoRA (bench/qlora_validation_check.py):
    the loss jumped from 0.69 to 20 on the first step after a validation pass and stayed near 14; validating with these
    layers in training mode gives exactly the loss curve of a run without validation."""
    model.eval()
    try:
        from bitsandbytes.nn import Linear4bit
    except ImportError:
        return
    for module in model.modules():
        if isinstance(module, Linear4bit):
            module.train()


def lora_finetune(model, tokenizer, examples: list[dict], output_dir: Path, epochs: float, batch_size: int,
                  learning_rate: float, seed: int, lora_r: int = 8, bf16: bool = False, warmup_ratio: float = 0.1,
                  max_steps: int = 0, validation: list[dict] | None = None, labels: list[str] | None = None,
                  training_attention: str | None = None):
    """Train a LoRA adapter for `epochs` passes over the examples (cosine learning rate after a linear warm-up;
    `max_steps` > 0 stops earlier) and save it as safetensors in output_dir.

    With `validation` tickets (and the labels), RCA macro-F1 on them is measured after every epoch (and after
    the last step), and output_dir keeps the adapter of the best one; without, the final adapter is saved.
    Returns (the peft-wrapped model as trained last, the training log: steps, loss curve with each step's epoch,
    tokens (in all and after each step), the wall seconds of every step after the first (from one step's end to the
    next's, validation included where it ran), the steady state's seconds and tokens (steps 2..N, the validation
    passes between them taken off: what J per training token counts, so runs of few steps and of many compare),
    trainable parameters, the attention and autocast it trained with, validation history and best epoch (empty and
    None without validation)).

    CPU-safe settings: use_cpu when there is no GPU, an explicit half-precision flag, no activation checkpointing
    (pointless for a 135M model), no checkpoints, no reporting integrations. `bf16` asks for half-precision autocast:
    bf16, or fp16 when the model's weights are fp16 (bf16 autocast would run an fp16 model's math in bf16); the log
    says which (`mixed_precision`). Under bf16 autocast, PEFT's cast of every adapter's bf16 input to the fp32
    adapter weights is switched off: autocast casts it straight back for the matmul, so the round trip changes no
    number and only copies activations (bench/lora_input_cast.py: bit-identical gradients, a bf16 forward and
    backward 16 % shorter; tests/test_finetune.py checks the losses are identical).

    Training runs the attention `training_attention`; by default eager on a CPU, whose backward there is faster than
    SDPA's (bench/notes.md: a bf16 step 13-20 % shorter, nf4 19 %), and the model's own on a GPU, where SDPA has
    fused kernels. Eager and SDPA give the same losses to rounding (tests/test_finetune.py); bench/finetune_recipe.py's
    paired test found no macro-F1 difference. Validation scores with the model's own attention, as notebook 6 does.
    """
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from peft.helpers import disable_input_dtype_casting
    from transformers import PrinterCallback, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    if epochs <= 0 and max_steps < 1:
        raise ValueError(f"epochs must be > 0 (or max_steps >= 1), got epochs={epochs}, max_steps={max_steps}")
    if validation and not labels:
        raise ValueError("validation tickets need the labels to score them against")
    weights = {p.dtype for p in model.parameters() if p.is_floating_point()}
    mixed_precision = ("fp16" if torch.float16 in weights else "bf16") if bf16 else "none"
    own_attention = model.config._attn_implementation
    validate = _Validation(validation, labels, output_dir, own_attention) if validation else None
    if training_attention is None:
        training_attention = own_attention if torch.cuda.is_available() else "eager"

    step_ends = []

    class StepClock(TrainerCallback):  # when each optimizer step ended: the log's step_seconds
        def on_step_end(self, args, state, control, **kwargs):
            step_ends.append(time.perf_counter())

    class EveryEpoch(TrainerCallback):
        def on_epoch_end(self, args, state, control, model=None, processing_class=None, **kwargs):
            validate(model, tokenizer, state.epoch, state.global_step)

        def on_train_end(self, args, state, control, model=None, **kwargs):
            if not validate.history or validate.history[-1]["step"] != state.global_step:  # stopped mid-epoch
                validate(model, tokenizer, state.epoch, state.global_step)

    peft_config = LoraConfig(r=lora_r, lora_alpha=2 * lora_r, lora_dropout=0.0, task_type="CAUSAL_LM",
                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    with tempfile.TemporaryDirectory(prefix="sft-") as scratch:  # trainer output; nothing is saved there
        config = SFTConfig(
            output_dir=scratch, num_train_epochs=epochs, max_steps=max_steps or -1, per_device_train_batch_size=batch_size,
            learning_rate=learning_rate, lr_scheduler_type="cosine", warmup_steps=warmup_ratio,  # a float below 1: a share of all steps
            logging_steps=1,
            save_strategy="no", report_to="none", seed=seed, data_seed=seed, use_cpu=not torch.cuda.is_available(),
            bf16=mixed_precision == "bf16", fp16=mixed_precision == "fp16", activation_checkpointing=False,
            max_length=512, dataloader_num_workers=0, disable_tqdm=True,
        )
        trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(examples),
                             processing_class=tokenizer, peft_config=peft_config,
                             callbacks=[StepClock()] + ([EveryEpoch()] if validate else []))
        trainer.remove_callback(PrinterCallback)  # a dict per step in the notebook; the loss is in the log
        with (completion_positions_only(), attention(trainer.model, training_attention),
              disable_input_dtype_casting(trainer.model, active=mixed_precision == "bf16")):
            result = trainer.train()
    if not validate:
        write_folder_atomic(output_dir, lambda folder: trainer.model.save_pretrained(folder, safe_serialization=True))
    logged = [e for e in trainer.state.log_history if "loss" in e]
    tokens = [float(e["num_tokens"]) for e in trainer.state.log_history if "num_tokens" in e]
    log = {"steps": int(result.global_step), "epochs": float(trainer.state.epoch),
           "loss_curve": [e["loss"] for e in logged], "loss_epochs": [e["epoch"] for e in logged],
           "train_tokens": int(tokens[-1]) if tokens else None, "step_tokens": tokens,
           "step_seconds": [b - a for a, b in zip(step_ends, step_ends[1:])],
           "trainable_params": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
           "training_attention": training_attention, "mixed_precision": mixed_precision}
    between = [h["seconds"] for h in validate.history if h["step"] < result.global_step] if validate else []
    log.update(steady_seconds=sum(log["step_seconds"]) - sum(between),  # steps 2..N: no set-up, no first step,
               steady_tokens=tokens[-1] - tokens[0] if tokens else None)  # no validation pass between two steps
    if validate:
        best = max(validate.history, key=lambda h: h["val_macro_f1"])
        log.update(validation=validate.history, best_epoch=best["epoch"], best_val_macro_f1=best["val_macro_f1"],
                   validation_seconds=sum(h["seconds"] for h in validate.history))
    else:
        log.update(validation=[], best_epoch=None, best_val_macro_f1=None, validation_seconds=0.0)
    return trainer.model, log
