#!/usr/bin/env python
"""Benchmark of the study itself and of its variants against the hardware's peak and a naive peer.

    .venv/bin/python bench/run.py                  # full: runs the smoke profile, writes BENCHMARKS.md
    .venv/bin/python bench/run.py --quick          # a few minutes: fewer tickets, no run_all
    .venv/bin/python bench/run.py --with-default   # also runs the default profile (over an hour here)

It measures the task-capable variants a default run evaluated (`make study` first): their models are rebuilt
from that run's artefacts by helpers.variants.load_variant, and scored on its test split (every class).

What it measures (one process, torch threads fixed and recorded):
1. wall time of `run_all.py` for the smoke profile (run here) and the default profile (run here only with
   --with-default; else read from runs/default/timings.json or the executed notebooks' papermill metadata);
2. per variant (fine-tuned ones, and stage 2's recovered 2:4 copy): RCA tickets/s, achieved FLOP/s and its ratio
   to the GEMM peak of that precision, measured in the same run with torch.matmul (or the variant's int8 kernel);
3. per variant: joules per ticket, its ratio to the fine-tuned model served at fp32, the paired 95 % interval of
   the macro-F1 difference to it on the same tickets, and the method. On a machine without RAPL or NVML every
   joule is MODELLED (CodeCarbon process mode, and CPU-seconds x 4 W), never metered: the table says which;
4. a naive peer on the same fine-tuned models: the same prompt, free greedy generation one ticket at a time, the
   label parsed from the text;
5. metering overhead: the same scoring batch with and without helpers.energy.measure;
6. LoRA fine-tuning throughput (bf16, the study's trainer, a few steps; not with --quick): useful FLOP/s against the
   bf16 GEMM peak.
Rows where other processes used more than 10 % of the CPUs are marked perturbed.
No figure here is asserted in tests; tests/test_bench.py only runs the pieces on a tiny model.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import helpers  # noqa: E402,F401  (offline mode)
from helpers.atomic import write_atomic  # noqa: E402
from bench.flops import scoring_flops  # noqa: E402
from bench.hardware import Timer, gemm_peak, machine  # noqa: E402
from bench.metering import meter_overhead, tracker_start_cost  # noqa: E402
from bench.peers import naive_peer  # noqa: E402
from bench.render import TARGETS, render, targets  # noqa: E402
from bench.timing import finetune_floor, previous_profile, run_profile  # noqa: E402
from bench.training import lora_throughput  # noqa: E402


def load_bench_variant(name: str, profile: str = "default"):
    """(model, tokenizer, compute path, GEMM kind it runs on, scoring rule) of a variant the profile's run evaluated
    (its notebook 6 record), rebuilt from that run's artefacts by variants.load_variant, as notebook 6 does."""
    from helpers import results, scoring, variants

    spec = results.load_record(profile, "06_rca_eval", "inference", name)["spec"]
    variant = variants.Variant(**spec)
    model, tokenizer, compute_path = variants.load_variant(variant, profile)
    gemm = {"fp32": "fp32", "dynamic-int8": "int8"}.get(variant.precision, "bf16")  # 4-bit dequantizes to bf16
    return model, tokenizer, compute_path, gemm, scoring.FINE_TUNED if variant.taught else scoring.RAW


def bench_scoring(model, tokenizer, tickets: list[dict], labels: list[str], codecarbon_dir: Path,
                  chunks: int = 3, rule=None) -> dict:
    """Score tickets as notebook 6 does (helpers.scoring.score_in_windows: warm-up, `chunks` metered windows) and
    predict with `rule` (the raw scores by default)."""
    from helpers import classification, energy, scoring

    texts = [t["text"] for t in tickets]
    measure = functools.partial(energy.measure_per_item, codecarbon_dir=codecarbon_dir)
    scores, summary = scoring.score_in_windows(measure, "bench-inference", model, tokenizer, texts, labels, chunks=chunks)
    pred, _ = scoring.predict(scoring.apply_rule(scores, rule or scoring.RAW))
    seconds = sum(r["duration_s"] for r in summary["readings"][:1])
    by_meter = {r["meter"]: r for r in summary["readings"]}
    flops = scoring_flops(model.config, tokenizer, texts, labels)
    predictions = [labels[i] for i in pred]
    return {"tickets": len(texts), "seconds": seconds, "tickets_per_s": len(texts) / seconds,
            "flops": flops["flops"], "flop_per_s": flops["flops"] / seconds, "tokens": flops["tokens"],
            "macro_f1": classification.rca_metrics([t["root_cause"] for t in tickets], predictions, labels)["macro_f1"],
            "predictions": predictions, "j_cpu_model": by_meter["cpu-model"].get("joules_per_item"),
            "j_codecarbon": by_meter.get("codecarbon", {}).get("joules_per_item"),
            "codecarbon_method": by_meter.get("codecarbon", {}).get("method", "codecarbon not run"),
            "other_load": summary["other_load_max"]}


def every_class(tickets: list[dict], n: int | None) -> list[dict]:
    """n tickets taken in turn from each root cause (every class while n allows), never the first n rows; all
    tickets when n is None."""
    if n is None or n >= len(tickets):
        return list(tickets)
    queues: dict[str, list[dict]] = {}
    for t in tickets:
        queues.setdefault(t["root_cause"], []).append(t)
    out = []
    while len(out) < n:
        for queue in queues.values():
            if queue and len(out) < n:
                out.append(queue.pop(0))
    return out


def versus_reference(variants: dict, tickets: list[dict], labels: list[str]) -> dict:
    """Each variant's macro-F1 minus the fp32 reference's on the same tickets, with the paired 95 % interval."""
    from helpers import intervals

    ref = variants.get(ROLES["fp32"])
    if ref is None:
        return {}
    truth = [t["root_cause"] for t in tickets]
    out = {}
    for name, v in variants.items():
        d = intervals.compare_predictions(truth, v["predictions"], ref["predictions"], labels)
        out[name] = {k: d[f"macro_f1_{k}"] for k in ("diff", "diff_ci_low", "diff_ci_high")}
        out[name]["verdict"] = intervals.verdict(d["macro_f1_diff_ci_low"], d["macro_f1_diff_ci_high"])
    return out


# The default profile's task-capable variants (stage 1 and 2): the fine-tuned model served at fp32 is the
# reference the J/ticket ratios and the paired macro-F1 intervals are taken against; naive peers run at fp32 and bf16.
VARIANTS = ("bf16-lora@fp32", "bf16-lora", "bf16-lora@dynamic-int8", "nf4-qlora", "bf16-lora-wanda-2of4-recovered")
ROLES = {"fp32": "bf16-lora@fp32", "bf16": "bf16-lora"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="26 tickets (2 per class), fewer repeats, no run_all")
    parser.add_argument("--with-default", action="store_true", help="also run the default profile (over an hour here)")
    parser.add_argument("--tickets", type=int, help="test tickets per variant, taken from every class in turn "
                        "(default: the whole test split; 26 with --quick)")
    parser.add_argument("--profile", default="default", help="the run whose variants and data are measured")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", help="markdown report (default BENCHMARKS.md; runs/bench/quick.md with --quick)")
    parser.add_argument("--render", metavar="JSON", help="re-render the report from a saved runs/bench/*.json, no measuring")
    args = parser.parse_args(argv)
    if args.render:
        r = json.loads(Path(args.render).read_text())
        r["targets"] = targets(r)
        out = Path(args.out or ROOT / "BENCHMARKS.md")
        write_atomic(out, render(r))
        print(f"written: {out}")
        return 0
    import torch

    from helpers import finetune, models, paths, ticket_files

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n = args.tickets or (26 if args.quick else None)
    out = Path(args.out) if args.out else ROOT / ("runs/bench/quick.md" if args.quick else "BENCHMARKS.md")
    work_dir = ROOT / "runs" / "bench"
    work_dir.mkdir(parents=True, exist_ok=True)
    cc_dir = Path(tempfile.mkdtemp(prefix="codecarbon-", dir=work_dir))
    data = paths.data_dir(args.profile)
    if not (data / "test.jsonl").is_file():
        raise SystemExit(f"no test split under {data}: run the {args.profile} profile first (make study)")
    test, labels = every_class(ticket_files.load_split(data, "test"), n), ticket_files.load_labels(data)
    train = ticket_files.load_split(data, "train")
    r = {"command": "python bench/run.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip(),
         "machine": machine(), "n_tickets": len(test), "n_classes": len({t["root_cause"] for t in test}),
         "profile": args.profile, "roles": ROLES, "chunks": 3, "naive_max_new_tokens": 16, "notes": []}

    def say(msg):
        print(msg, file=sys.stderr, flush=True)

    say("GEMM peaks ...")
    r["gemm"] = {kind: gemm_peak(kind, min_seconds=0.3 if args.quick else 1.0) for kind in ("fp32", "bf16", "int8")}
    r["variants"], r["naive"] = {}, {}
    naive_n = 6 if args.quick else 26
    for name in args.variants.split(","):
        say(f"variant {name} ...")
        model, tokenizer, compute_path, gemm, rule = load_bench_variant(name, args.profile)
        r["variants"][name] = {**bench_scoring(model, tokenizer, test, labels, cc_dir, rule=rule),
                               "compute_path": compute_path, "gemm": gemm, "rule": rule.name}
        if name in ((ROLES["fp32"],) if args.quick else tuple(ROLES.values())):
            say(f"naive peer {name} ...")
            r["naive"][name] = naive_peer(model, tokenizer, every_class(test, naive_n), labels)
        if name == ROLES["bf16"]:
            say("metering overhead ...")
            from helpers import scoring

            batch = [t["text"] for t in test[:8]]
            r["overhead"] = meter_overhead(lambda: scoring.score_labels(model, tokenizer, batch, labels), cc_dir,
                                           repeats=3 if args.quick else 9)
            r["overhead"]["work"] = f"bf16 scoring of {len(batch)} tickets"
            r["overhead"]["tracker_start_s"] = tracker_start_cost(cc_dir)
        del model
    r["versus_reference"] = versus_reference(r["variants"], test, labels)
    if not args.quick:
        say("LoRA fine-tuning throughput (bf16) ...")
        examples = finetune.training_examples(train, labels, 0.25, 0)
        with Timer() as timer:
            r["lora"] = lora_throughput(lambda: models.load_model("default", "bf16"), examples)
        r["lora"]["other_load"] = timer.other_load
        r["finetune_floor"] = finetune_floor(args.profile, r["lora"]["flops"] / r["lora"]["tokens"],
                                             TARGETS["lora_peak_ratio"] * r["gemm"]["bf16"]["peak"])
    r["profiles"] = []
    if not args.quick:
        say("run_all smoke ...")
        r["profiles"].append(run_profile("smoke"))
    r["profiles"].append(run_profile("default") if args.with_default else previous_profile("default"))
    for v in r["variants"].values():
        v.pop("predictions")  # compared above; the JSON keeps the figures
    loads = [v["other_load"] for v in [*r["variants"].values(), *r["naive"].values()] if v.get("other_load") is not None]
    loads += [p["other_load"] for p in r["profiles"] if p.get("other_load") is not None]
    r["max_other_load"] = max(loads) if loads else None
    r["targets"] = targets(r)
    text = render(r)
    write_atomic(work_dir / ("quick.json" if args.quick else "full.json"), json.dumps(r, indent=1, default=str))
    write_atomic(out, text)  # the figures first, so a report never lacks the JSON it was rendered from
    print(text)
    say(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
