"""Pruning of the linear layers inside the transformer blocks (never the embeddings or the LM head).

One function per method, after the Wanda codebase (Sun et al. 2023):
- magnitude: score = |W|; unstructured pruning compares all weights of a layer.
- wanda: score = |W| x ||X_j||, the weight times the L2 norm of its input feature over calibration tokens
  (tickets of the training split); weights compete within each output row, as in the paper.
Both support the 2:4 semi-structured pattern: in every group of 4 consecutive input weights of a row, the
2 lowest-scoring are zeroed (sparsity exactly 0.5), the pattern NVIDIA's sparse tensor cores accelerate.
On dense kernels zeros save no time or energy by themselves; the records say which kernel ran.
"""
from __future__ import annotations

METHODS = ("magnitude", "wanda")
PATTERNS = ("unstructured", "2:4")


def check_prune_spec(method: str, sparsity: float, pattern: str = "unstructured") -> None:
    """Clear one-line errors before any model is loaded."""
    if method not in METHODS:
        raise ValueError(f"unknown pruning method {method!r}; choose one of {', '.join(METHODS)}")
    if pattern not in PATTERNS:
        raise ValueError(f"unknown sparsity pattern {pattern!r}; choose one of {', '.join(PATTERNS)}")
    if not 0 < float(sparsity) < 1:
        raise ValueError(f"sparsity must be strictly between 0 and 1, got {sparsity}")
    if pattern == "2:4" and float(sparsity) != 0.5:
        raise ValueError(f"the 2:4 pattern means sparsity 0.5 exactly, got {sparsity}")


def block_linears(model) -> dict:
    """name -> nn.Linear for every linear layer inside the decoder blocks."""
    import torch

    layers = model.get_decoder().layers
    return {f"layers.{i}.{name}": module for i, layer in enumerate(layers)
            for name, module in layer.named_modules() if isinstance(module, torch.nn.Linear)}


def input_norms(model, tokenizer, texts: list[str], max_length: int = 256) -> dict:
    """L2 norm of each block linear's input features over all calibration tokens (Wanda's ||X_j||)."""
    import torch

    linears = block_linears(model)
    sums = {name: torch.zeros(m.in_features, dtype=torch.float64) for name, m in linears.items()}

    def hook(name):
        def accumulate(module, inputs, output):
            x = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).double().cpu()
            sums[name] += (x * x).sum(dim=0)
        return accumulate

    handles = [m.register_forward_hook(hook(name)) for name, m in linears.items()]
    device = next(model.parameters()).device
    try:
        with torch.inference_mode():
            for text in texts:
                ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_length)["input_ids"]
                model(input_ids=ids.to(device))
    finally:
        for h in handles:
            h.remove()
    return {name: s.sqrt().float() for name, s in sums.items()}


def _mask(scores, sparsity: float, pattern: str, per_row: bool):
    """Boolean mask of the weights to zero: the lowest scores, per layer, per row, or per group of 4."""
    import torch

    if pattern == "2:4":
        rows, cols = scores.shape
        if cols % 4:
            raise ValueError(f"2:4 needs input features divisible by 4, got {cols}")
        groups = scores.reshape(rows, cols // 4, 4)
        lowest = torch.topk(groups, 2, dim=-1, largest=False).indices
        return torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, lowest, True).reshape(rows, cols)
    if per_row:
        k = round(sparsity * scores.shape[1])
        lowest = torch.topk(scores, k, dim=1, largest=False).indices
        return torch.zeros_like(scores, dtype=torch.bool).scatter_(1, lowest, True)
    k = round(sparsity * scores.numel())
    mask = torch.zeros(scores.numel(), dtype=torch.bool, device=scores.device)
    mask[torch.topk(scores.flatten(), k, largest=False).indices] = True
    return mask.reshape(scores.shape)


def magnitude_prune(model, sparsity: float, pattern: str = "unstructured", **_) -> dict:
    """Zero the smallest-|W| weights of each block linear; returns the achieved sparsity per layer."""
    import torch

    with torch.no_grad():
        for linear in block_linears(model).values():
            linear.weight[_mask(linear.weight.abs(), sparsity, pattern, per_row=False)] = 0
    return layer_sparsity(model)


def wanda_prune(model, sparsity: float, pattern: str = "unstructured", norms: dict | None = None, **_) -> dict:
    """Zero the lowest |W| x ||X|| weights within each output row; needs `norms` from input_norms()."""
    import torch

    if norms is None:
        raise ValueError("wanda needs calibration input norms: pass norms=input_norms(model, tokenizer, texts)")
    with torch.no_grad():
        for name, linear in block_linears(model).items():
            scores = linear.weight.abs().float() * norms[name].to(linear.weight.device).unsqueeze(0)
            linear.weight[_mask(scores, sparsity, pattern, per_row=True)] = 0
    return layer_sparsity(model)


PRUNERS = {"magnitude": magnitude_prune, "wanda": wanda_prune}


def prune(model, method: str, sparsity: float, pattern: str = "unstructured", norms: dict | None = None) -> dict:
    """Prune with one method; returns achieved sparsity per block linear."""
    check_prune_spec(method, sparsity, pattern)
    return PRUNERS[method](model, sparsity, pattern=pattern, norms=norms)


def layer_sparsity(model) -> dict:
    """Fraction of exact zeros in each block linear's weight."""
    return {name: float((m.weight == 0).sum() / m.weight.numel()) for name, m in block_linears(model).items()}


def follows_2_4(weight) -> bool:
    """True when every group of 4 consecutive input weights of every row has at least 2 zeros."""
    rows, cols = weight.shape
    return bool(((weight.reshape(rows, cols // 4, 4) == 0).sum(-1) >= 2).all())
