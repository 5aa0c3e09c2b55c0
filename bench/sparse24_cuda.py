"""2:4 semi-structured sparse matmul against dense, on the model's own linear layers (CUDA only).

    python bench/sparse24_cuda.py [--tokens 256 4096] [--out runs/bench/sparse24_cuda.json]

For each distinct block-linear shape of the model (q/k/v/o, gate/up/down of decoder layer 0), the weight is
pruned 2:4 by magnitude (helpers.prune), and F.linear on `tokens` input rows is timed with the dense weight and
with torch.sparse.to_sparse_semi_structured's weight (fp16 and bf16; median of torch.utils.benchmark runs).
Then one large square linear (--large, default 8192: far bigger than this model's), with each of PyTorch's two
2:4 backends (cuSPARSELt and CUTLASS), to tell the kernel's own speed from the cost of calling it on small shapes.
Then the whole model's forward pass over one batch, dense against every block linear swapped
(helpers.variants.use_semi_structured). Outputs are compared too: the sparse kernel must give the dense result.
Without CUDA it prints and writes "N/A: reason": PyTorch's semi-structured kernels exist only on CUDA GPUs.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.paths import ROOT  # noqa: E402
from helpers.atomic import write_atomic  # noqa: E402


def median_ms(fn) -> float:
    from torch.utils import benchmark

    return benchmark.Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=0.5).median * 1e3


def linear_rows(model, tokens: list[int], dtypes) -> list[dict]:
    import torch
    import torch.nn.functional as F
    from torch.sparse import to_sparse_semi_structured

    from helpers.prune import block_linears, magnitude_prune

    magnitude_prune(model, 0.5, pattern="2:4")
    layer0 = {name.split(".", 2)[2]: lin for name, lin in block_linears(model).items() if name.startswith("layers.0.")}
    rows = []
    for dtype in dtypes:
        for name, linear in layer0.items():
            dense = linear.weight.detach().to(dtype)
            sparse = to_sparse_semi_structured(dense)
            for n in tokens:
                x = torch.randn(n, dense.shape[1], device=dense.device, dtype=dtype)
                err = (F.linear(x, sparse) - F.linear(x, dense)).abs().max().item()
                dense_ms, sparse_ms = median_ms(lambda: F.linear(x, dense)), median_ms(lambda: F.linear(x, sparse))
                rows.append({"layer": name, "shape": list(dense.shape), "dtype": str(dtype).split(".")[-1],
                             "backend": type(sparse).__name__,  # cuSPARSELt or CUTLASS: PyTorch picks one
                             "tokens": n, "dense_ms": round(dense_ms, 4), "sparse_ms": round(sparse_ms, 4),
                             "speedup": round(dense_ms / sparse_ms, 2), "max_abs_diff": err})
    return rows


def large_rows(size: int, tokens: int, dtypes) -> list[dict]:
    """A random size x size weight pruned 2:4 (largest 2 of every 4 by magnitude), timed dense and with each backend."""
    import torch
    import torch.nn.functional as F
    from torch.sparse import SparseSemiStructuredTensorCUSPARSELT, SparseSemiStructuredTensorCUTLASS

    rows = []
    for dtype in dtypes:
        w = torch.randn(size, size, device="cuda", dtype=dtype)
        groups = w.view(-1, 4)
        groups.scatter_(1, groups.abs().topk(2, dim=1, largest=False).indices, 0)
        x = torch.randn(tokens, size, device="cuda", dtype=dtype)
        dense_ms = median_ms(lambda: F.linear(x, w))
        for backend, cls in (("cuSPARSELt", SparseSemiStructuredTensorCUSPARSELT), ("CUTLASS", SparseSemiStructuredTensorCUTLASS)):
            row = {"shape": [size, size], "dtype": str(dtype).split(".")[-1], "tokens": tokens, "backend": backend,
                   "dense_ms": round(dense_ms, 4)}
            try:
                sparse = cls.from_dense(w)
                row["max_abs_diff"] = (F.linear(x, sparse) - F.linear(x, w)).abs().max().item()
                row["sparse_ms"] = round(median_ms(lambda: F.linear(x, sparse)), 4)
                row["speedup"] = round(dense_ms / row["sparse_ms"], 2)
            except Exception as error:  # a backend this build or GPU lacks: its reason, not a number
                row["result"] = f"N/A: {type(error).__name__}: {str(error).splitlines()[0][:160]}"
            rows.append(row)
    return rows


def agreement(logits, reference) -> dict:
    """How far logits are from a reference's: largest and mean absolute difference, and the share of positions
    whose most likely next token is the same."""
    diff = (logits - reference).abs()
    return {"max_abs_logit_diff": diff.max().item(), "mean_abs_logit_diff": diff.mean().item(),
            "top1_agreement": (logits.argmax(-1) == reference.argmax(-1)).float().mean().item()}


def model_rows(batch: int, seq: int, dtypes, device: str = "cuda") -> list[dict]:
    """The whole 2:4-pruned model at each 16-bit dtype: dense against semi-structured (time, logits), and, as the
    yardstick for the logits, the same dense model at 16 bits against fp32 (rounding alone)."""
    import torch

    from helpers.models import load_model
    from helpers.prune import magnitude_prune
    from helpers.variants import use_semi_structured

    rows = []
    for precision in dtypes:
        model, _ = load_model("default", "fp32", device=device)
        magnitude_prune(model, 0.5, pattern="2:4")
        ids = torch.randint(0, model.config.vocab_size, (batch, seq), device=device)
        with torch.inference_mode():
            exact = model(ids).logits.float()
            model.to({"fp16": torch.float16, "bf16": torch.bfloat16}[precision])
            reference = model(ids).logits.float()
            dense_ms = median_ms(lambda: model(ids))
            kernel = use_semi_structured(model, precision, device)
            sparse = model(ids).logits.float()
            sparse_ms = median_ms(lambda: model(ids))
        rows.append({"precision": precision, "batch": batch, "seq": seq, "kernel": kernel,
                     "dense_ms": round(dense_ms, 3), "sparse_ms": round(sparse_ms, 3),
                     "speedup": round(dense_ms / sparse_ms, 2), **agreement(sparse, reference),
                     **{f"rounding_{k}": v for k, v in agreement(reference, exact).items()},
                     "max_abs_logit": reference.abs().max().item()})  # the scale the difference is read against
        del model, exact, reference, sparse
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, nargs="+", default=[256, 4096])
    parser.add_argument("--batch", type=int, default=16, help="tickets per forward in the whole-model timing")
    parser.add_argument("--seq", type=int, default=256, help="tokens per ticket in the whole-model timing")
    parser.add_argument("--large", type=int, default=8192, help="side of the large square linear")
    parser.add_argument("--model-only", action="store_true", help="only the whole-model rows")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench" / "sparse24_cuda.json")
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        doc = {"result": "N/A: no CUDA device; PyTorch's 2:4 semi-structured sparse kernels run only on CUDA GPUs"}
        print(doc["result"])
    else:
        from helpers.models import load_model

        doc = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "linears": [], "large": []}
        if not args.model_only:
            model, _ = load_model("default", "fp32", device="cuda")
            doc["linears"] = linear_rows(model, args.tokens, (torch.float16, torch.bfloat16))
            del model
            doc["large"] = large_rows(args.large, max(args.tokens), (torch.float16, torch.bfloat16))
        doc["model"] = model_rows(args.batch, args.seq, ("fp16", "bf16"))
        print(f"{doc['device']}, torch {doc['torch']}: dense vs 2:4 semi-structured (median ms)")
        for r in doc["linears"]:
            print(f"  {r['layer']:<18} {str(r['shape']):<12} {r['dtype']:<9} {r['tokens']:>5} tokens  "
                  f"dense {r['dense_ms']:.4f}  2:4 {r['sparse_ms']:.4f}  x{r['speedup']}  |diff| {r['max_abs_diff']:.2g}")
        for r in doc["large"]:
            print(f"  large {str(r['shape']):<12} {r['dtype']:<9} {r['tokens']:>5} tokens  {r['backend']:<10} "
                  + (f"dense {r['dense_ms']:.4f}  2:4 {r['sparse_ms']:.4f}  x{r['speedup']}  |diff| {r['max_abs_diff']:.2g}"
                     if "speedup" in r else r["result"]))
        for r in doc["model"]:
            print(f"  whole model {r['precision']} {r['batch']}x{r['seq']}: dense {r['dense_ms']} ms, "
                  f"2:4 {r['sparse_ms']} ms, x{r['speedup']} ({r['kernel']}); 2:4 vs dense |logit diff| max "
                  f"{r['max_abs_logit_diff']:.2g} mean {r['mean_abs_logit_diff']:.2g}, top-1 agreement "
                  f"{r['top1_agreement']:.3f}; {r['precision']} vs fp32 dense: max {r['rounding_max_abs_logit_diff']:.2g} "
                  f"mean {r['rounding_mean_abs_logit_diff']:.2g}, top-1 {r['rounding_top1_agreement']:.3f} "
                  f"(|logit| up to {r['max_abs_logit']:.3g})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out, json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
