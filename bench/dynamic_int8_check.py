#!/usr/bin/env python
"""Why dynamic-int8 takes one activation scale per token: a fine-tuned model's RCA quality under both schemes.

    python bench/dynamic_int8_check.py runs/default/artifacts/merged-bf16-lora data/default   # ~3 min; run it alone

One merged model, scored on the validation tickets (not the test split, which reports quality) at fp32, under
PyTorch's older dynamic quantization (torch.ao.quantization.quantize_dynamic: int8 weights, one activation scale per
batch) and under the study's dynamic-int8 (torchao: one scale per weight row and per token). Each against fp32 on the
same tickets: macro-F1 difference with its paired 95 % interval, and how many predictions changed. First it prints
the linear layers whose input has the largest peak relative to a typical token's peak (on 16 training tickets): one
such outlier sets a per-batch scale for every token.
"""
import json
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import classification, intervals, models, scoring, ticket_files  # noqa: E402


def input_peaks(model, tokenizer, texts, labels) -> dict:
    """Per linear layer: the largest |input| and the median over tokens of each token's largest |input|."""
    import torch

    seen = {}

    def keep(name):
        return lambda module, args, out: seen.setdefault(name, []).append(args[0].detach().float().abs().flatten(0, -2).amax(-1))

    hooks = [m.register_forward_hook(keep(n)) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    scoring.predict_labels(model, tokenizer, texts, labels)
    for hook in hooks:
        hook.remove()
    return {n: (torch.cat(v).max().item(), torch.cat(v).median().item()) for n, v in seen.items()}


def per_batch_int8(model):
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated in favour of torchao
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


if __name__ == "__main__":
    merged, data = str(Path(sys.argv[1])), Path(sys.argv[2])
    models.set_runtime(2, 0)
    labels, tickets = ticket_files.load_labels(data), ticket_files.load_split(data, "validation")
    texts, y_true = [t["text"] for t in tickets], [t["root_cause"] for t in tickets]
    fp32, tokenizer = models.load_model(merged, "fp32")
    peaks = input_peaks(fp32, tokenizer, [t["text"] for t in ticket_files.load_split(data, "train")[:16]], labels)
    for name, (peak, typical) in sorted(peaks.items(), key=lambda kv: -kv[1][0] / kv[1][1])[:3]:
        print(json.dumps({"layer": name, "input_peak": round(peak, 1), "typical_token_peak": round(typical, 2)}))
    reference = scoring.predict_labels(fp32, tokenizer, texts, labels)
    print(json.dumps({"scheme": "fp32", "tickets": len(texts), **classification.rca_metrics(y_true, reference, labels)}))
    for scheme, load in (("int8, one activation scale per batch (torch.ao quantize_dynamic)",
                          lambda: per_batch_int8(models.load_model(merged, "fp32")[0])),
                         ("int8, one activation scale per token (the study's dynamic-int8, torchao)",
                          lambda: models.load_model(merged, "dynamic-int8")[0])):
        pred = scoring.predict_labels(load(), tokenizer, texts, labels)
        diff = intervals.compare_predictions(y_true, pred, reference, labels)
        print(json.dumps({"scheme": scheme, **classification.rca_metrics(y_true, pred, labels),
                          "changed": sum(a != b for a, b in zip(pred, reference)),
                          **{k: round(v, 3) for k, v in diff.items() if k.startswith("macro")}}))
