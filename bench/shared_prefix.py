#!/usr/bin/env python
"""Issue #14's lever "the shared prompt prefix computed once per batch in training, as in scoring": built here,
measured, and not adopted by the study's trainer (helpers.finetune.lora_finetune), because it did not pay there.

    .venv/bin/python bench/shared_prefix.py            # 6 batches, SDPA and eager attention
    .venv/bin/python bench/shared_prefix.py 10         # 10 batches
    .venv/bin/python bench/lora_levers.py '{"shared_prefix": true}'   # inside the study's trainer

`shared_prefixes_once` is exact up to float rounding (tests/test_bench.py). The paired measurement: batches of 8
drawn (seeded) from the default data's training examples, RCA and notes mixed as in training; the default model in
bf16 with LoRA r 16 on every block linear, under bf16 autocast. Each batch runs the decoder's forward and backward
once plainly and once with shared prefixes, in alternating order, so the two are compared on the same batch at
nearly the same moment: on a shared machine, step times drift by tens of percent between runs, far more than
within a pair. Prints one JSON line per attention implementation: the median seconds of each, every batch's
shared/plain ratio and their median. Run it alone (one torch job at a time).

Why it saves less than the third of the tokens it skips: a batch mixes two prompts (RCA and notes), so each step
runs one more forward and backward pass (the prefixes) of small GEMMs, whose fixed cost per op is paid on all
~200 linears and their adapters; the remaining rows are padded to the longest, usually a note; and SDPA's backward
with an explicit block mask is slower than with the plain padding mask (eager attention keeps more of the gain).
"""
from __future__ import annotations

import contextlib
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import finetune, models, ticket_generator  # noqa: E402
from helpers.scoring import block_attention_mask, common_prefix  # noqa: E402


def prefix_groups(rows: list[list[int]]) -> list[tuple[list[int], int]]:
    """Split a batch's rows (token lists) into groups that share a prompt prefix, each with its prefix length, the
    split that spares the most prefix tokens: rows in token order, cut between neighbours sharing fewer than t
    tokens, t the best of the neighbours' shared lengths. A row alone gets 0; every row keeps a token of its own."""
    order = sorted(range(len(rows)), key=lambda r: rows[r])
    shared = [len(common_prefix([rows[a], rows[b]])) for a, b in zip(order, order[1:])]

    def split(t):
        groups = [[order[0]]]
        for row, s in zip(order[1:], shared):
            if s >= t:
                groups[-1].append(row)
            else:
                groups.append([row])
        return [(g, len(common_prefix([rows[r] for r in g])) if len(g) > 1 else 0) for g in groups]

    return max((split(t) for t in sorted(set(shared) | {0})), key=lambda gs: sum((len(g) - 1) * n for g, n in gs))


@contextlib.contextmanager
def shared_prefixes_once(model):
    """In training, run a prompt prefix that several rows of a batch share through the model once, not once per row.

    Every RCA example starts with the same system prompt listing the labels (about a third of a batch's tokens), and
    every note example with the note prompt. Inside this context the decoder of `model` (a PEFT model or a causal
    LM) runs one pass over each group's prefix (prefix_groups) and one over every row's remaining tokens, at their
    own positions, attending to their group's prefix keys and values, which stay in the graph, so the gradients
    reach the adapters through the prefix as before: the same hidden states and gradients up to float rounding
    (tests/test_bench.py). Evaluation, left-padded batches and calls with other arguments run as they are.
    Yields a count of the prefix tokens it did not recompute ("spared").
    """
    import torch
    from transformers import DynamicCache
    from transformers.modeling_outputs import BaseModelOutputWithPast

    decoder = (model.get_base_model() if hasattr(model, "get_base_model") else model).base_model
    plain, count = decoder.forward, {"spared": 0}

    def forward(input_ids=None, attention_mask=None, use_cache=None, **kwargs):
        lengths = attention_mask.sum(1) if attention_mask is not None and attention_mask.dim() == 2 else None
        if (any(v is not None for v in kwargs.values()) or input_ids is None or lengths is None
                or not (decoder.training and torch.is_grad_enabled())
                or not bool((attention_mask == (torch.arange(input_ids.shape[1], device=input_ids.device) < lengths[:, None])).all())):
            return plain(input_ids=input_ids, attention_mask=attention_mask, use_cache=use_cache, **kwargs)
        groups = [(g, n) for g, n in prefix_groups([r[:k].tolist() for r, k in zip(input_ids, lengths.tolist())]) if n]
        if not groups:
            return plain(input_ids=input_ids, attention_mask=attention_mask, use_cache=use_cache)
        head_ids, head_mask, n_of, head_of = _prefix_batch(input_ids, groups)
        head = plain(input_ids=head_ids, attention_mask=head_mask, use_cache=True)
        ids, positions, visible, gather = _rest_batch(input_ids, lengths, n_of, head_ids.shape[1])
        cache = DynamicCache(ddp_cache_data=[(layer.keys[head_of], layer.values[head_of]) for layer in head.cache.layers])
        rest = plain(input_ids=ids, attention_mask=block_attention_mask(decoder, visible), position_ids=positions,
                     cache=cache, use_cache=True).last_hidden_state
        both = torch.cat([head.last_hidden_state[head_of], rest], dim=1)
        count["spared"] += sum((len(g) - 1) * n for g, n in groups)
        return BaseModelOutputWithPast(last_hidden_state=both.gather(1, gather[..., None].expand(-1, -1, both.shape[2])))

    decoder.forward = forward
    try:
        yield count
    finally:
        del decoder.forward


def _prefix_batch(input_ids, groups):
    """One right-padded row per group's prefix; each batch row's prefix length and the prefix row it attends to."""
    import torch

    width, rows = max(n for _, n in groups), input_ids.shape[0]
    on = {"device": input_ids.device, "dtype": torch.long}
    head_ids, head_mask = torch.zeros(len(groups), width, **on), torch.zeros(len(groups), width, **on)
    n_of, head_of = torch.zeros(rows, **on), torch.zeros(rows, **on)
    for h, (group, n) in enumerate(groups):
        head_ids[h, :n], head_mask[h, :n] = input_ids[group[0], :n], 1
        n_of[group], head_of[group] = n, h
    return head_ids, head_mask, n_of, head_of


def _rest_batch(input_ids, lengths, n_of, width):
    """Every row's tokens after its prefix (right-padded) at their own positions; the block mask that lets each see
    its prefix's `n` keys of `width` and its own earlier tokens; where each position of the whole row comes from in
    [prefix row, rest row] (the prefix's `width` slots, then the rest's)."""
    import torch

    rest = lengths - n_of
    span = int(rest.max())
    device = input_ids.device
    t = torch.arange(span, device=device)
    ids = torch.zeros(len(rest), span, dtype=input_ids.dtype, device=device)
    for r in range(len(rest)):
        ids[r, :rest[r]] = input_ids[r, n_of[r]:lengths[r]]
    causal = torch.ones(span, span, dtype=torch.bool, device=device).tril()[None] & (t[None, None, :] < rest[:, None, None])
    seen = torch.arange(width, device=device)[None, None, :] < n_of[:, None, None]
    visible = torch.cat([seen.expand(-1, span, -1), causal], dim=2)[:, None]
    whole = torch.arange(input_ids.shape[1], device=device)[None]
    gather = torch.where(whole < n_of[:, None], whole, width + (whole - n_of[:, None]).clamp(max=span - 1))
    return ids, n_of[:, None] + t[None], visible, gather


def paired(attention: str, n_batches: int) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model

    splits = ticket_generator.generate_splits(600, 0, label_noise=0.05, shift=True)
    examples = finetune.training_examples(splits["train"], ticket_generator.LABELS, 0.25, 0)
    model, tokenizer = models.load_model("default", "bf16")
    model.set_attn_implementation(attention)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, task_type="CAUSAL_LM", target_modules=[
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])).train()
    tokenizer.padding_side = "right"
    rng, decoder = random.Random(0), model.get_base_model().base_model
    seconds = {"plain": [], "shared": []}
    for i in range(n_batches):
        rows = [examples[j] for j in rng.sample(range(len(examples)), 8)]
        batch = tokenizer([tokenizer.apply_chat_template(e["prompt"] + e["completion"], tokenize=False) for e in rows],
                          padding=True, return_tensors="pt")
        for mode in (("shared", "plain") if i % 2 else ("plain", "shared")):
            sharing = shared_prefixes_once(model) if mode == "shared" else contextlib.nullcontext()
            with sharing:
                t0 = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    hidden = decoder(**batch).last_hidden_state
                hidden.float().pow(2).mean().backward()
                seconds[mode].append(time.perf_counter() - t0)
    ratios = [s / p for s, p in zip(seconds["shared"], seconds["plain"])]
    return {"attention": attention, "batches": n_batches,
            "median_s": {mode: round(statistics.median(s), 3) for mode, s in seconds.items()},
            "shared_over_plain": [round(r, 3) for r in ratios], "median_ratio": round(statistics.median(ratios), 3)}


if __name__ == "__main__":
    models.set_runtime(2, 0)
    for attention in ("sdpa", "eager"):
        print(json.dumps(paired(attention, int(sys.argv[1]) if len(sys.argv) > 1 else 6)), flush=True)
