#!/usr/bin/env python
"""Benchmark of the study itself and of its variants against the hardware's peak and a naive peer.

    .venv/bin/python bench/run.py                  # full: runs the smoke profile, writes BENCHMARKS.md
    .venv/bin/python bench/run.py --quick          # a few minutes: fewer tickets, no run_all
    .venv/bin/python bench/run.py --with-default   # also runs the default profile (~30 min)

What it measures (one process, torch threads fixed and recorded):
1. wall time of `run_all.py` for the smoke profile (run here) and the default profile (run here only with
   --with-default; else read from runs/default/timings.json or the executed notebooks' papermill metadata);
2. per variant: RCA tickets/s, achieved FLOP/s and its ratio to the GEMM peak of that precision, measured in
   the same run with torch.matmul (or the int8 kernel the variant uses);
3. per variant: joules per ticket, its ratio to fp32, and the method. On a machine without RAPL or NVML every
   joule is MODELLED (CodeCarbon process mode, and CPU-seconds x 4 W), never metered: the table says which;
4. a naive peer: the same prompt, free greedy generation one ticket at a time, the label parsed from the text;
5. metering overhead: the same scoring batch with and without helpers.energy.measure.
No figure here is asserted in tests; tests/test_bench.py only runs the pieces on a tiny model.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import helpers  # noqa: E402,F401  (offline mode)

TARGETS = {"default_s": 600, "smoke_s": 90, "peak_ratio": 0.60, "joule_ratio": 0.30, "f1_loss_points": 1.0,
           "naive_speedup": 5.0, "meter_overhead_pct": 1.0}


# ---------------------------------------------------------------- machine and load
def machine() -> dict:
    import torch

    from helpers.provenance import _cpu_model, git_sha

    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(), "torch": torch.__version__,
            "mkldnn": torch.backends.mkldnn.is_available(), "python": platform.python_version(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "(unset)"), "git_sha": git_sha(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _own_cpu_s() -> float:
    """CPU seconds of this process and of its finished children (run_all's subprocess and its kernels)."""
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


class Timer:
    """Wall time plus the share of the machine's CPUs other processes used meanwhile (as helpers.energy)."""

    def __enter__(self):
        from helpers.energy import _machine_busy_s

        self._b0, self._t0, self._c0 = _machine_busy_s(), time.perf_counter(), _own_cpu_s()
        return self

    def __exit__(self, *exc):
        from helpers.energy import _machine_busy_s, _machine_cpus

        self.seconds = time.perf_counter() - self._t0
        busy = _machine_busy_s()
        cpu = _own_cpu_s() - self._c0
        self.other_load = None if busy is None or self._b0 is None else max(
            0.0, (busy - self._b0 - cpu) / (max(self.seconds, 1e-9) * _machine_cpus()))


# ---------------------------------------------------------------- 2. GEMM peak
def gemm_peak(kind: str, tokens: int = 1024, hidden: int = 576, intermediate: int = 1536, square: int = 2048,
              min_seconds: float = 0.5) -> dict:
    """Best GEMM rate (FLOP/s) over the model's shapes and one large square, for 'fp32', 'bf16' or 'int8'
    (int8: PyTorch's dynamic-int8 linear, the kernel the dynamic-int8 variant runs, activations quantized
    per call). Returns {"peak": best, "shapes": {name: FLOP/s}}."""
    import torch

    shapes = {f"{tokens}x{hidden}x{intermediate}": (tokens, hidden, intermediate),
              f"{tokens}x{intermediate}x{hidden}": (tokens, intermediate, hidden),
              f"{tokens}x{hidden}x{hidden}": (tokens, hidden, hidden),
              f"{square}x{square}x{square}": (square, square, square)}
    rates = {}
    with torch.inference_mode():
        for name, (m, k, n) in shapes.items():
            run = _gemm_fn(kind, m, k, n)
            run()  # warm-up
            count, t0 = 0, time.perf_counter()
            while True:
                run()
                count += 1
                elapsed = time.perf_counter() - t0
                if elapsed >= min_seconds and count >= 3:
                    break
            rates[name] = 2 * m * k * n * count / elapsed
    return {"peak": max(rates.values()), "shapes": rates}


def _gemm_fn(kind: str, m: int, k: int, n: int):
    import torch

    if kind in ("fp32", "bf16"):
        dtype = torch.float32 if kind == "fp32" else torch.bfloat16
        a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
        return lambda: torch.matmul(a, b)
    if kind == "int8":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            linear = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(torch.nn.Linear(k, n, bias=False)),
                                                            {torch.nn.Linear}, dtype=torch.qint8)
        x = torch.randn(m, k)
        return lambda: linear(x)
    raise ValueError(f"unknown GEMM kind {kind!r}")


# ---------------------------------------------------------------- 2. FLOPs of the RCA scoring
def scoring_flops(config, tokenizer, texts: list[str], labels: list[str], shots=None) -> dict:
    """Useful FLOPs of helpers.scoring.score_labels on these tickets, from the tokens it actually processes:
    2 x (block-linear weights) per token, 2 x hidden x vocab per position whose logits are computed, and
    4 x (heads x head_dim) per (query, visible key) pair for QK^T and AV. Padding is not counted."""
    from helpers import prompts, scoring

    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    q_width, kv_width = config.num_attention_heads * head_dim, config.num_key_value_heads * head_dim
    per_layer = config.hidden_size * (2 * q_width + 2 * kv_width) + 3 * config.hidden_size * config.intermediate_size
    linear = config.num_hidden_layers * per_layer
    head = config.hidden_size * config.vocab_size
    label_ids = [tokenizer(label, add_special_tokens=False)["input_ids"] for label in labels]
    prompts = [tokenizer(prompts.chat_prompt(tokenizer, t, labels, shots), add_special_tokens=False)["input_ids"]
               for t in texts]
    n_prefix = len(scoring._common_prefix(prompts))
    tail = sum(map(len, label_ids))
    tokens = n_prefix + sum(len(p) - n_prefix + tail for p in prompts)
    logit_rows = 1 + len(prompts) * (1 + sum(len(ids) - 1 for ids in label_ids))
    pairs = n_prefix * (n_prefix + 1) // 2  # causal prefix
    for p in prompts:
        s = len(p) - n_prefix
        pairs += s * n_prefix + s * (s + 1) // 2  # the ticket's tokens
        pairs += sum((n_prefix + s) * len(ids) + len(ids) * (len(ids) + 1) // 2 for ids in label_ids)
    attention = 4 * q_width * pairs * config.num_hidden_layers
    return {"flops": 2 * linear * tokens + 2 * head * logit_rows + attention, "tokens": tokens,
            "prefix_tokens": n_prefix, "linear_params": linear}


# ---------------------------------------------------------------- 2-3. variants
def load_bench_variant(name: str, calibration: list[str]):
    """(model, tokenizer, kernel, GEMM kind it runs on) for fp32, bf16, dynamic-int8, nf4, or
    'bf16-wanda-2of4' (pruned here on calibration tickets, exactly as notebook 3, then cast to bf16)."""
    import torch

    from helpers import models, prune

    if name == "bf16-wanda-2of4":
        model, tokenizer = models.load_model("default", "fp32")
        prune.prune(model, "wanda", 0.5, "2:4", prune.input_norms(model, tokenizer, calibration))
        model.to(torch.bfloat16)
        return model, tokenizer, "dense bf16 cpu (2:4 zeros in dense weights; no sparse kernel on CPU)", "bf16"
    model, tokenizer = models.load_model("default", name)
    gemm = {"fp32": "fp32", "bf16": "bf16", "dynamic-int8": "int8", "nf4": "bf16"}[name]
    return model, tokenizer, models.kernel_name(name, models.pick_device()), gemm


def bench_scoring(model, tokenizer, tickets: list[dict], labels: list[str], codecarbon_dir: Path,
                  chunks: int = 3) -> dict:
    """Score tickets as notebook 6 does (helpers.energy.measure_per_item: warm-up, `chunks` metered windows)."""
    import numpy as np

    from helpers import classification, energy, scoring

    texts = [t["text"] for t in tickets]
    parts, summary = energy.measure_per_item("bench-inference", texts, lambda x: scoring.score_labels(model, tokenizer, x, labels),
                                             chunks, codecarbon_dir=codecarbon_dir)
    pred, _ = scoring.predict(scoring.apply_rule(np.concatenate(parts), scoring.RAW))
    seconds = sum(r["duration_s"] for r in summary["readings"][:1])
    by_meter = {r["meter"]: r for r in summary["readings"]}
    flops = scoring_flops(model.config, tokenizer, texts, labels)
    return {"tickets": len(texts), "seconds": seconds, "tickets_per_s": len(texts) / seconds,
            "flops": flops["flops"], "flop_per_s": flops["flops"] / seconds, "tokens": flops["tokens"],
            "macro_f1": classification.rca_metrics([t["root_cause"] for t in tickets], [labels[i] for i in pred], labels)["macro_f1"],
            "j_cpu_model": by_meter["cpu-model"].get("joules_per_item"),
            "j_codecarbon": by_meter.get("codecarbon", {}).get("joules_per_item"),
            "codecarbon_method": by_meter.get("codecarbon", {}).get("method", "codecarbon not run"),
            "other_load": summary["other_load_max"]}


# ---------------------------------------------------------------- 4. naive peer
def parse_label(answer: str, labels: list[str]) -> str | None:
    """The label a free-text answer names: an exact match, else the label named earliest in the text, else the
    closest label by string similarity (difflib, cutoff 0.6), else None (counted as wrong)."""
    text = " ".join(answer.lower().replace("_", " ").split()).strip(" .:;'\"")
    lower = {label.lower(): label for label in labels}
    if text in lower:
        return lower[text]
    found = [(text.find(key), -len(key), label) for key, label in lower.items() if key in text]
    if found:
        return min(found)[2]
    close = difflib.get_close_matches(text, list(lower), n=1, cutoff=0.6)
    return lower[close[0]] if close else None


def naive_peer(model, tokenizer, tickets: list[dict], labels: list[str], max_new_tokens: int = 16) -> dict:
    """What a first implementation would do: same chat prompt, greedy `generate` one ticket at a time, then
    string parsing. Unparsed answers count as wrong."""
    import torch

    from helpers import classification, prompts

    predictions, answers = [], []
    with Timer() as timer, torch.inference_mode():
        for t in tickets:
            ids = tokenizer(prompts.chat_prompt(tokenizer, t["text"], labels), add_special_tokens=False,
                            return_tensors="pt")
            out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
            answers.append(tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
            predictions.append(parse_label(answers[-1], labels))
    y_true = [t["root_cause"] for t in tickets]
    return {"tickets": len(tickets), "seconds": timer.seconds, "tickets_per_s": len(tickets) / timer.seconds,
            "macro_f1": classification.rca_metrics(y_true, [p or "(unparsed)" for p in predictions], labels)["macro_f1"],
            "unparsed": sum(p is None for p in predictions), "other_load": timer.other_load,
            "example_answer": answers[0] if answers else ""}


# ---------------------------------------------------------------- 5. metering overhead
def meter_overhead(work, codecarbon_dir: Path, repeats: int = 7) -> dict:
    """work() timed bare and inside helpers.energy.measure (CodeCarbon + CPU model, as the notebooks use),
    alternating, `repeats` each; plus the fixed cost of an empty window. Medians."""
    from helpers.energy import measure

    with measure("bench-warmup", codecarbon_dir=codecarbon_dir):  # starts CodeCarbon's tracker once
        work()
    bare, metered, loads = [], [], []
    for _ in range(repeats):
        with Timer() as t:
            work()
        bare.append(t.seconds)
        loads.append(t.other_load)
        with Timer() as t:
            with measure("bench-overhead", codecarbon_dir=codecarbon_dir):
                work()
        metered.append(t.seconds)
        loads.append(t.other_load)
    empty = []
    for _ in range(max(5, repeats)):
        with Timer() as t:
            with measure("bench-empty", codecarbon_dir=codecarbon_dir):
                pass
        empty.append(t.seconds)
    b, m = statistics.median(bare), statistics.median(metered)
    return {"bare_s": b, "metered_s": m, "overhead_pct": 100 * (m - b) / b, "empty_window_s": statistics.median(empty),
            "empty_window_pct": 100 * statistics.median(empty) / b, "repeats": repeats,
            "other_load_max": max((x for x in loads if x is not None), default=None)}


def tracker_start_cost(codecarbon_dir: Path) -> float:
    """Seconds to start a CodeCarbon tracker (paid once per notebook process), in a fresh subprocess."""
    code = ("import time, helpers; from pathlib import Path; from helpers.energy import measure;"
            "t0 = time.perf_counter()\nwith measure('x', codecarbon_dir=Path(%r)): pass\n"
            "print(time.perf_counter() - t0)") % str(codecarbon_dir)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    try:
        return float(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return float("nan")


# ---------------------------------------------------------------- 1. run_all
def run_profile(profile: str) -> dict:
    """Run run_all.py for a profile in a subprocess and time it; attach runs/<profile>/timings.json if written."""
    help_text = subprocess.run([sys.executable, "run_all.py", "--help"], cwd=ROOT, capture_output=True, text=True).stdout
    command = [sys.executable, "run_all.py", "--profile", profile] + (["--force"] if "--force" in help_text else [])
    started = datetime.now(timezone.utc)
    with Timer() as timer:
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    result = {"profile": profile, "wall_s": timer.seconds, "rc": proc.returncode, "other_load": timer.other_load,
              "source": f"run here: `{' '.join(['python'] + command[1:])}` at {started.isoformat(timespec='seconds')}",
              "stderr_tail": proc.stderr[-600:] if proc.returncode else ""}
    timings = ROOT / "runs" / profile / "timings.json"
    if timings.is_file() and timings.stat().st_mtime >= started.timestamp():
        result["by_notebook"] = by_notebook(json.loads(timings.read_text()).get("cells", []))
    else:
        result["by_notebook"] = papermill_breakdown(profile, since=started.timestamp())[1]
    return result


def by_notebook(cells: list[dict]) -> dict:
    out: dict = {}
    for cell in cells:
        key = cell.get("label", cell.get("id", "?")).split("__")[0].split("[")[0].split(" ")[0]
        out[key] = out.get(key, 0.0) + float(cell.get("seconds", 0.0))
    return out


def papermill_breakdown(profile: str, since: float = 0.0) -> tuple[dict | None, dict]:
    """(span of the run from papermill's start/end times, seconds per notebook) from runs/<profile>/*.ipynb."""
    runs = []
    for path in sorted((ROOT / "runs" / profile).glob("*.ipynb")):
        if path.stat().st_mtime < since:
            continue
        meta = json.loads(path.read_text()).get("metadata", {}).get("papermill", {})
        if meta.get("start_time") and meta.get("end_time"):
            runs.append((path.stem, datetime.fromisoformat(meta["start_time"]), datetime.fromisoformat(meta["end_time"]),
                         float(meta.get("duration") or 0.0)))
    # A full run starts with 01_data: notebooks that started before the latest 01_data belong to older runs.
    first = max((start for stem, start, _, _ in runs if stem == "01_data"), default=None)
    runs = [run for run in runs if first is None or run[1] >= first]
    starts, ends, per = [run[1] for run in runs], [run[2] for run in runs], {}
    for stem, _, _, duration in runs:
        per[stem.split("__")[0]] = per.get(stem.split("__")[0], 0.0) + duration
    if not starts:
        return None, per
    return {"start": min(starts), "end": max(ends), "wall_s": (max(ends) - min(starts)).total_seconds()}, per


def previous_profile(profile: str) -> dict:
    """Wall time of an earlier run: runs/<profile>/timings.json, else papermill metadata, else 'not run'."""
    timings = ROOT / "runs" / profile / "timings.json"
    if timings.is_file():
        data = json.loads(timings.read_text())
        return {"profile": profile, "wall_s": data["wall_s"], "by_notebook": by_notebook(data.get("cells", [])),
                "source": f"runs/{profile}/timings.json (run started {data.get('started_at', '?')}; not run by this bench)"}
    span, per = papermill_breakdown(profile)
    if span:
        return {"profile": profile, "wall_s": span["wall_s"], "by_notebook": per,
                "source": f"papermill start/end times of runs/{profile}/*.ipynb ({span['start']:%Y-%m-%d %H:%M} to "
                          f"{span['end']:%H:%M} UTC; code of that time, not run by this bench)"}
    return {"profile": profile, "wall_s": None, "by_notebook": {}, "source": "not run"}


# ---------------------------------------------------------------- report
def fmt(x, spec=".3g"):
    return "n/a" if x is None else format(x, spec)


def render(r: dict) -> str:
    m, lines = r["machine"], []
    add = lines.append
    add("# Benchmarks\n")
    add(f"Command: `{r['command']}`  ")
    add(f"Date: {m['date']}  \nGit: `{m['git_sha']}`  ")
    add(f"Machine: {m['cpu']}, {m['cores']} logical cores; torch {m['torch']} with {m['torch_threads']} threads "
        f"(interop {m['torch_interop_threads']}, OMP_NUM_THREADS {m['omp_num_threads']}, oneDNN {m['mkldnn']}); "
        f"Python {m['python']}.  ")
    add(f"Tickets: the first {r['n_tickets']} test tickets of the default profile's data "
        "(`helpers.ticket_generator.generate_splits(600, seed=0, label_noise=0.05, shift=True)`), 13 root-cause labels, zero-shot prompt.\n")
    add("**Energy is modelled, not metered.** This machine has no RAPL counter and no GPU: `cpu-model` is this "
        "process's CPU-seconds x 4 W per busy thread (CodeCarbon's figure for an unknown CPU, no RAM/idle); "
        "`codecarbon` is CodeCarbon's offline tracker in process mode (the same modelled CPU power plus a constant "
        "RAM power, so it mostly tracks wall time). Ratios between variants inherit those models.\n")
    load = r.get("max_other_load")
    add(f"Other processes' load during the measurements: max {fmt(load, '.0%')} of the machine's CPUs "
        f"(per row below).{' **The machine was shared with other jobs during this run; figures with a high load are perturbed.**' if load and load > 0.1 else ''}\n")

    add("## 1. Wall time of the study (`run_all.py`)\n")
    add("| profile | wall time | source | other load | slowest notebooks (s, summed over executions) |")
    add("|---|---|---|---|---|")
    for p in r["profiles"]:
        top = sorted(p.get("by_notebook", {}).items(), key=lambda kv: -kv[1])[:4]
        add(f"| {p['profile']} | {fmt(p['wall_s'], '.0f')} s | {p['source']} | {fmt(p.get('other_load'), '.0%')} | "
            + ", ".join(f"{k} {v:.0f}" for k, v in top) + " |")

    add("\n## 2. GEMM peak (same run)\n")
    add("| kind | peak GFLOP/s | " + " | ".join(next(iter(r["gemm"].values()))["shapes"]) + " |")
    add("|---|---|" + "---|" * len(next(iter(r["gemm"].values()))["shapes"]))
    for kind, g in r["gemm"].items():
        add(f"| {kind} | {g['peak'] / 1e9:.0f} | " + " | ".join(f"{v / 1e9:.0f}" for v in g["shapes"].values()) + " |")
    add("\nint8 = PyTorch's dynamic-int8 `Linear` (fbgemm, activations quantized per call), the kernel the dynamic-int8 "
        "variant runs. nf4 and the 2:4-pruned variant run bf16 GEMMs on this CPU (bitsandbytes dequantizes nf4 to bf16; "
        "there is no CPU 2:4 sparse kernel), so they are compared with the bf16 peak.\n")

    add("## 2-3. RCA scoring per variant\n")
    add("Achieved FLOP/s = useful FLOPs / scoring wall time, with useful FLOPs = 2 x (block-linear weights) x "
        "(tokens processed: shared prompt prefix once, then each ticket's own tokens and its 13 label continuations) "
        "+ 2 x hidden x vocab x (positions whose logits are needed) + 4 x (heads x head_dim) x (visible query-key pairs) "
        "per layer. Padding and masked attention are not counted. Pruned zeros are counted (the kernel is dense).\n")
    add("| variant | kernel | tickets/s | GFLOP/s | peak used | % of peak | J/ticket cpu-model | x fp32 | "
        "J/ticket codecarbon | x fp32 | macro-F1 | vs fp32 (points) | other load |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    base = r["variants"].get("fp32")
    for name, v in r["variants"].items():
        peak = r["gemm"][v["gemm"]]["peak"]
        jr = v["j_cpu_model"] / base["j_cpu_model"] if base else None
        cr = v["j_codecarbon"] / base["j_codecarbon"] if base and v["j_codecarbon"] and base["j_codecarbon"] else None
        df = 100 * (v["macro_f1"] - base["macro_f1"]) if base else None
        add(f"| {name} | {v['kernel']} | {v['tickets_per_s']:.2f} | {v['flop_per_s'] / 1e9:.0f} | {v['gemm']} | "
            f"{100 * v['flop_per_s'] / peak:.0f} % | {fmt(v['j_cpu_model'])} | {fmt(jr, '.2f')} | {fmt(v['j_codecarbon'])} | "
            f"{fmt(cr, '.2f')} | {v['macro_f1']:.3f} | {fmt(df, '+.1f')} | {fmt(v['other_load'], '.0%')} |")
    add(f"\nJ/ticket: mean over {r['chunks']} metered windows (helpers.energy.measure_per_item, as notebook 6), "
        "each a chunk of the tickets, after a one-ticket warm-up. Method: "
        + (base["codecarbon_method"] if base else "") + "; cpu-model = process CPU-s x 4 W.\n")

    add("## 4. Naive peer (same model, tickets and prompt; free generation, then string parsing)\n")
    add("| precision | naive tickets/s | naive macro-F1 | unparsed | study tickets/s | study macro-F1 | speed-up | other load |")
    add("|---|---|---|---|---|---|---|---|")
    for name, n in r["naive"].items():
        s = r["variants"][name]
        add(f"| {name} | {n['tickets_per_s']:.3f} | {n['macro_f1']:.3f} | {n['unparsed']}/{n['tickets']} | "
            f"{s['tickets_per_s']:.2f} | {s['macro_f1']:.3f} | {s['tickets_per_s'] / n['tickets_per_s']:.1f}x | "
            f"{fmt(n['other_load'], '.0%')} |")
    add(f"\nNaive peer: `model.generate` greedy, max_new_tokens={r['naive_max_new_tokens']}, batch 1, stopping at "
        "end-of-turn; the answer is mapped to a label by exact match, else the label named earliest in it, else the "
        "closest label name (difflib, cutoff 0.6); unparsed answers count as wrong. Naive tickets are the first "
        f"{next(iter(r['naive'].values()))['tickets'] if r['naive'] else 0} of the same set; the study figures are "
        f"on all {r['n_tickets']}.\n")

    o = r["overhead"]
    add("## 5. Metering overhead\n")
    add("| work | bare (median) | inside `measure` (median) | overhead | empty window | empty window / work | "
        "repeats | other load | CodeCarbon tracker start (once per process) |")
    add("|---|---|---|---|---|---|---|---|---|")
    add(f"| {o['work']} | {o['bare_s']:.3f} s | {o['metered_s']:.3f} s | {o['overhead_pct']:+.2f} % | "
        f"{1000 * o['empty_window_s']:.1f} ms | {o['empty_window_pct']:.2f} % | {o['repeats']} | "
        f"{fmt(o['other_load_max'], '.0%')} | {fmt(o.get('tracker_start_s'), '.2f')} s |")
    add("\nThe A/B difference is within run-to-run noise when it is below the spread of the repeats; the empty window "
        "is the meter's fixed cost per window (CodeCarbon task start/stop, /proc reads).\n")

    add("## Targets\n")
    add("| figure | measured | target | met? | what bounds it if missed |")
    add("|---|---|---|---|---|")
    for t in r["targets"]:
        add(f"| {t['figure']} | {t['measured']} | {t['target']} | {'met' if t['met'] else 'missed'} | {t['bound']} |")
    if r.get("notes"):
        add("\n## Notes\n")
        lines += [f"- {n}" for n in r["notes"]]
    notes = Path(__file__).with_name("notes.md")
    if notes.is_file():  # hand-written analysis: what bounds each missed target, what changed for speed
        add("\n" + notes.read_text().strip())
    return "\n".join(lines) + "\n"


def targets(r: dict) -> list[dict]:
    out = []
    prof = {p["profile"]: p for p in r["profiles"]}
    for name, key, bound in (
            ("default", "default_s", "LoRA fine-tuning (2 x 40 trl steps at 4 x ~250 tokens) and 32 notebook "
             "kernels (~7 s of imports each) alone exceed it; see 'What bounds the missed targets'"),
            ("smoke", "smoke_s", "16 notebook executions x (kernel start + ~7 s imports + model load) are ~3 min "
             "before any compute; see 'What bounds the missed targets'")):
        wall = prof.get(name, {}).get("wall_s")
        out.append({"figure": f"run_all {name} wall time", "measured": f"{fmt(wall, '.0f')} s" if wall else "not run",
                    "target": f"<= {TARGETS[key]} s", "met": bool(wall and wall <= TARGETS[key]),
                    "bound": "" if wall and wall <= TARGETS[key] else bound})
    for name in ("fp32", "bf16"):
        v = r["variants"].get(name)
        if v:
            ratio = v["flop_per_s"] / r["gemm"][v["gemm"]]["peak"]
            out.append({"figure": f"RCA scoring FLOP/s, {name}", "measured": f"{100 * ratio:.0f} % of {name} GEMM peak",
                        "target": ">= 60 %", "met": ratio >= TARGETS["peak_ratio"],
                        "bound": "" if ratio >= TARGETS["peak_ratio"] else "non-GEMM ops (masked attention, norms, "
                        "rotary, SiLU) and the model's narrow 576-wide GEMMs; see 'What bounds the missed targets'"})
    base = r["variants"].get("fp32")
    if base:
        ok = [(v["j_cpu_model"] / base["j_cpu_model"], n) for n, v in r["variants"].items() if n != "fp32"
              and 100 * (base["macro_f1"] - v["macro_f1"]) <= TARGETS["f1_loss_points"]]
        best = min(ok) if ok else (None, "none")
        floor = r["gemm"]["fp32"]["peak"] / max(g["peak"] for g in r["gemm"].values())
        out.append({"figure": "best variant J/ticket vs fp32 (<= 1 pt macro-F1 loss)",
                    "measured": f"{fmt(best[0], '.2f')}x ({best[1]}, cpu-model)", "target": "<= 0.30x",
                    "met": bool(best[0] is not None and best[0] <= TARGETS["joule_ratio"]),
                    "bound": "" if best[0] is not None and best[0] <= TARGETS["joule_ratio"] else
                    f"the same FLOPs on the fastest kernel here: fp32 peak / best GEMM peak = {floor:.2f}x at equal "
                    "efficiency; pruning saves no FLOPs without a CPU sparse kernel"})
    if "fp32" in r["naive"]:
        n, s = r["naive"]["fp32"], r["variants"]["fp32"]
        speed = s["tickets_per_s"] / n["tickets_per_s"]
        out.append({"figure": "study vs naive peer, fp32", "measured": f"{speed:.1f}x tickets/s, macro-F1 "
                    f"{s['macro_f1']:.3f} vs {n['macro_f1']:.3f}", "target": ">= 5x at equal or better macro-F1",
                    "met": speed >= TARGETS["naive_speedup"] and s["macro_f1"] >= n["macro_f1"],
                    "bound": "" if speed >= TARGETS["naive_speedup"] and s["macro_f1"] >= n["macro_f1"] else
                    "see section 4"})
    o = r["overhead"]
    worst = max(o["overhead_pct"], o["empty_window_pct"])
    out.append({"figure": "metering overhead", "measured": f"{o['overhead_pct']:+.2f} % A/B, "
                f"{o['empty_window_pct']:.2f} % fixed cost", "target": "<= 1 %", "met": worst <= TARGETS["meter_overhead_pct"],
                "bound": "" if worst <= TARGETS["meter_overhead_pct"] else "the A/B difference does not resolve 1 % with 9 repeats; the fixed cost per window is the stable figure (see notes)"})
    return out


# ---------------------------------------------------------------- main
VARIANTS = ("fp32", "bf16", "dynamic-int8", "nf4", "bf16-wanda-2of4")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="12 tickets, fewer repeats, no run_all")
    parser.add_argument("--with-default", action="store_true", help="also run the default profile (~30 min)")
    parser.add_argument("--tickets", type=int, help="test tickets per variant (48; 12 with --quick)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", help="markdown report (default BENCHMARKS.md; runs/bench/quick.md with --quick)")
    parser.add_argument("--render", metavar="JSON", help="re-render the report from a saved runs/bench/*.json, no measuring")
    args = parser.parse_args(argv)
    if args.render:
        r = json.loads(Path(args.render).read_text())
        r["targets"] = targets(r)
        out = Path(args.out or ROOT / "BENCHMARKS.md")
        out.write_text(render(r))
        print(f"written: {out}")
        return 0
    import torch

    from helpers import ticket_generator

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n = args.tickets or (12 if args.quick else 48)
    out = Path(args.out) if args.out else ROOT / ("runs/bench/quick.md" if args.quick else "BENCHMARKS.md")
    work_dir = ROOT / "runs" / "bench"
    work_dir.mkdir(parents=True, exist_ok=True)
    cc_dir = Path(tempfile.mkdtemp(prefix="codecarbon-", dir=work_dir))
    splits = ticket_generator.generate_splits(600, 0, 0.05, True)
    test, labels = splits["test"][:n], list(ticket_generator.LABELS)
    calibration = [t["text"] for t in splits["train"][:16]]
    r = {"command": "python bench/run.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip(),
         "machine": machine(), "n_tickets": n, "chunks": 3, "naive_max_new_tokens": 16, "notes": []}

    def say(msg):
        print(msg, file=sys.stderr, flush=True)

    say("GEMM peaks ...")
    r["gemm"] = {kind: gemm_peak(kind, min_seconds=0.3 if args.quick else 1.0) for kind in ("fp32", "bf16", "int8")}
    r["variants"], r["naive"] = {}, {}
    naive_n = 6 if args.quick else min(n, 24)
    for name in args.variants.split(","):
        say(f"variant {name} ...")
        model, tokenizer, kernel, gemm = load_bench_variant(name, calibration)
        r["variants"][name] = {**bench_scoring(model, tokenizer, test, labels, cc_dir), "kernel": kernel, "gemm": gemm}
        if name in (("fp32",) if args.quick else ("fp32", "bf16")):
            say(f"naive peer {name} ...")
            r["naive"][name] = naive_peer(model, tokenizer, test[:naive_n], labels)
        if name == "bf16":
            say("metering overhead ...")
            from helpers import scoring

            batch = [t["text"] for t in test[:8]]
            r["overhead"] = meter_overhead(lambda: scoring.score_labels(model, tokenizer, batch, labels), cc_dir,
                                           repeats=3 if args.quick else 9)
            r["overhead"]["work"] = f"bf16 scoring of {len(batch)} tickets"
            r["overhead"]["tracker_start_s"] = tracker_start_cost(cc_dir)
        del model
    r["profiles"] = []
    if not args.quick:
        say("run_all smoke ...")
        r["profiles"].append(run_profile("smoke"))
    r["profiles"].append(run_profile("default") if args.with_default else previous_profile("default"))
    loads = [v["other_load"] for v in [*r["variants"].values(), *r["naive"].values()] if v.get("other_load") is not None]
    loads += [p["other_load"] for p in r["profiles"] if p.get("other_load") is not None]
    r["max_other_load"] = max(loads) if loads else None
    r["targets"] = targets(r)
    text = render(r)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    (work_dir / ("quick.json" if args.quick else "full.json")).write_text(json.dumps(r, indent=1, default=str))
    print(text)
    say(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
