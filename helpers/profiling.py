"""Model measurements that do not depend on the task: perplexity, forward latency, footprint."""
from __future__ import annotations

import math
import statistics
import time
from pathlib import Path


def perplexity(model, tokenizer, texts: list[str], max_length: int = 256) -> float:
    """Token-weighted perplexity of the model on texts (one text per forward, no padding effects)."""
    import torch

    device = next(model.parameters()).device
    nll, tokens = 0.0, 0
    for text in texts:
        ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_length)["input_ids"].to(device)
        if ids.shape[1] < 2:
            continue
        with torch.inference_mode():
            loss = model(input_ids=ids, labels=ids).loss.float().item()
        n = ids.shape[1] - 1
        nll, tokens = nll + loss * n, tokens + n
    if tokens == 0:
        raise ValueError("no text with at least two tokens to compute perplexity on")
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
