"""What compression does to a model, whatever the task: footprint in memory and on disk, perplexity on held-out
tickets, forward latency and generation speed (notebooks 3 and 4)."""
from __future__ import annotations

import math
import statistics
import time
from pathlib import Path


def quantizes_activations(model) -> bool:
    """True when some layer quantizes its input with a range taken over the batch (bitsandbytes LLM.int8's outlier
    columns), so a text's result would depend on what it is batched with. (dynamic-int8 takes one scale per token.)"""
    return any(type(m).__name__ == "Linear8bitLt" for m in model.modules())


def perplexity(model, tokenizer, texts: list[str], max_length: int = 256, batch_size: int = 8) -> float:
    """Token-weighted perplexity of the model on texts.

    Texts are scored in batches of similar length (sorted, right-padded, padding masked out of attention and
    loss), so the value is that of one text per forward — each text's tokens see only that text — up to
    floating-point rounding, at a fraction of the forward passes (which matters most for 4-bit and int8 layers,
    whose weights are dequantized on every call). Models that quantize activations per batch are scored one
    text per forward.
    """
    import torch
    import torch.nn.functional as F

    if quantizes_activations(model):
        batch_size = 1  # activation scales are taken over the whole batch: padding and neighbours would leak in
    device = next(model.parameters()).device
    encoded = [tokenizer(text, truncation=True, max_length=max_length)["input_ids"] for text in texts]
    encoded = sorted((ids for ids in encoded if len(ids) >= 2), key=len)
    if not encoded:
        raise ValueError("no text with at least two tokens to compute perplexity on")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    nll, tokens = 0.0, 0
    for i in range(0, len(encoded), batch_size):
        chunk = encoded[i:i + batch_size]
        width = len(chunk[-1])
        ids = torch.tensor([x + [pad] * (width - len(x)) for x in chunk], device=device)
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in chunk], device=device)
        with torch.inference_mode():
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none")
            nll += (losses * mask[:, 1:].reshape(-1)).double().sum().item()
        tokens += int(mask[:, 1:].sum())
    return math.exp(nll / tokens)


def forward_latency(model, tokenizer, texts: list[str], repeats: int = 3) -> dict:
    """Median and spread of the wall time of one forward pass on a fixed, padded batch (after a warm-up)."""
    import torch

    device = next(model.parameters()).device
    batch = tokenizer(texts, return_tensors="pt", padding=True).to(device)
    timings = []
    with torch.inference_mode():
        model(**batch)  # warm-up
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            model(**batch)
            if device.type == "cuda":
                torch.cuda.synchronize()
            timings.append(time.perf_counter() - t0)
    return {"latency_s_median": statistics.median(timings), "latency_s_min": min(timings),
            "latency_s_max": max(timings), "latency_repeats": repeats,
            "latency_batch_tokens": int(batch["input_ids"].numel())}


def disk_bytes(folder: Path) -> int:
    """Size of the weight files (safetensors) in a saved model or adapter folder."""
    return sum(p.stat().st_size for p in Path(folder).glob("*.safetensors"))


def generation_speed(model, tokenizer, prompt: str, new_tokens: int = 16) -> dict:
    """Greedy generation speed at batch 1 (after a warm-up): new tokens per second."""
    import torch

    device = next(model.parameters()).device
    ids = tokenizer(prompt, return_tensors="pt").to(device)
    settings = dict(do_sample=False, pad_token_id=tokenizer.pad_token_id)
    with torch.inference_mode():
        model.generate(**ids, max_new_tokens=2, **settings)  # warm-up
        t0 = time.perf_counter()
        out = model.generate(**ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **settings)
        elapsed = time.perf_counter() - t0
    n = out.shape[1] - ids["input_ids"].shape[1]
    return {"generate_tokens_per_s": n / elapsed, "generate_new_tokens": n}


def saved_bytes(model) -> int | str:
    """Size of the model saved as safetensors (what a deployment ships), or 'N/A: reason'."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        try:
            model.save_pretrained(folder, safe_serialization=True)
        except Exception as exc:
            return f"N/A: cannot be saved as safetensors ({type(exc).__name__})"
        return disk_bytes(folder)


def compression_metrics(model, tokenizer, texts: list[str]) -> dict:
    """Footprint, speed and language-modelling quality of one loaded variant, on held-out ticket texts."""
    from helpers.models import weight_bytes

    return {"weight_bytes": weight_bytes(model), "disk_bytes": saved_bytes(model),
            "perplexity": perplexity(model, tokenizer, texts), **forward_latency(model, tokenizer, texts[:4]),
            **generation_speed(model, tokenizer, texts[0])}


def dense_perplexity(model, tokenizer, texts: list[str], model_path, profile: str) -> float:
    """Perplexity of the unpruned model, computed once per (weights, texts) and kept in runs/<profile>/artifacts/.

    Every pruning run compares against the same dense reference; the key holds the weight files' identity
    (path, size, modification time) and a hash of the texts, so other weights or other texts recompute it.
    """
    import hashlib
    import json

    from helpers.models import resolve_model_path
    from helpers.paths import artifacts_dir
    from helpers.atomic import write_atomic

    folder = resolve_model_path(model_path)
    weights = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in Path(folder).glob("*.safetensors"))
    key = hashlib.sha256(json.dumps([str(Path(folder).resolve()), weights, texts]).encode()).hexdigest()
    cache = artifacts_dir(profile) / "dense_perplexity.json"
    known = json.loads(cache.read_text()) if cache.is_file() else {}
    if key not in known:
        known = {**known, key: perplexity(model, tokenizer, texts)}
        write_atomic(cache, json.dumps(known, indent=1))
    return known[key]
