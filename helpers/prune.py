"""Pruning of the linear layers inside the transformer blocks (never the embeddings or the LM head).

One function per method, after the Wanda codebase. This first version has unstructured magnitude
pruning, per layer: in each linear layer exactly round(sparsity x weights) of the smallest-|w| weights
become zero. On dense kernels zeros save no time or energy by themselves; the record says so.
"""
from __future__ import annotations

METHODS = ("magnitude",)


def check_prune_spec(method: str, sparsity: float) -> None:
    """Clear one-line errors before any model is loaded."""
    if method not in METHODS:
        raise ValueError(f"unknown pruning method {method!r}; choose one of {', '.join(METHODS)}")
    if not 0 < float(sparsity) < 1:
        raise ValueError(f"sparsity must be strictly between 0 and 1, got {sparsity}")


def block_linears(model) -> dict:
    """name -> nn.Linear for every linear layer inside the decoder blocks."""
    import torch

    layers = model.get_decoder().layers
    return {f"layers.{i}.{name}": module for i, layer in enumerate(layers)
            for name, module in layer.named_modules() if isinstance(module, torch.nn.Linear)}


def magnitude_prune(model, sparsity: float) -> dict:
    """Zero the smallest-magnitude weights of each block linear; returns the achieved sparsity per layer."""
    import torch

    check_prune_spec("magnitude", sparsity)
    with torch.no_grad():
        for linear in block_linears(model).values():
            w = linear.weight
            k = round(sparsity * w.numel())
            if k:
                idx = torch.topk(w.abs().flatten(), k, largest=False).indices
                w.view(-1)[idx] = 0
    return layer_sparsity(model)


def layer_sparsity(model) -> dict:
    """Fraction of exact zeros in each block linear's weight."""
    return {name: float((m.weight == 0).sum() / m.weight.numel()) for name, m in block_linears(model).items()}


PRUNERS = {"magnitude": magnitude_prune}


def prune(model, method: str, sparsity: float) -> dict:
    check_prune_spec(method, sparsity)
    return PRUNERS[method](model, sparsity)
