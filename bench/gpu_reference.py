"""Publish a GPU run (bench/gpu_smoke.sh's gpu-smoke.tar.gz, unpacked) as reference/<name>/: its records, the 2:4
bench, the done markers, and a README generated from them (nothing typed by hand).

    python bench/gpu_reference.py UNPACKED_FOLDER --commit SHA [--model-bench JSON --model-bench-commit SHA]
                                  [--name gpu-smoke-h200]

`--commit`: the commit whose working tree ran (the device copies the tree; its git metadata may be older).
`--model-bench`: a later `bench/sparse24_cuda.py --model-only` output (its whole-model rows replace the run's), from the
tree of `--model-bench-commit`.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers import execution, grid  # noqa: E402
from helpers.paths import ROOT  # noqa: E402
from helpers.atomic import write_atomic  # noqa: E402
from helpers.results import read_record  # noqa: E402

PROFILE = "gpu-smoke"


def load(folder: Path) -> list[dict]:
    return [read_record(p) for p in sorted(folder.glob("*.json"))]


def fmt(value, digits=3):
    return "unknown" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def failures(runs: Path) -> dict[str, str]:
    """Executed notebook name -> its first error, 'Name: message' (first line)."""
    out = {}
    for path in sorted(runs.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if errors:
                out[path.stem] = f"{errors[0]['ename']}: {errors[0]['evalue'].splitlines()[0][:160]}"
                break
    return out


def dash(value, digits=3):
    """A measured value, 'unknown' where it was measured as unknown, '–' where this run did not measure it."""
    return "–" if value is None else fmt(value, digits)


def rca_rows(by: dict) -> list[str]:
    lines = ["| variant | compute path | macro-F1 [95% CI] | labels predicted (top share) | does the task "
             "| J per ticket (RCA) | J per generated token (notes) |", "|---|---|---|---|---|---|---|"]
    for (nb, phase, variant), r in by.items():
        if nb not in ("02_baseline", "06_rca_eval") or phase != "inference":
            continue
        m = r["metrics"]
        note = by.get((nb, "response", variant), {}).get("metrics", {})
        ci = f" [{m['macro_f1_ci_low']:.2f}, {m['macro_f1_ci_high']:.2f}]" if "macro_f1_ci_low" in m else ""
        metered = "nvml" in m.get("energy_method", "")
        jt = f"{m['joules_per_ticket']:.3g} ± {fmt(m.get('joules_per_ticket_ci95'))} ({'metered' if metered else 'modelled'})"
        lines.append(f"| {variant} | {r['compute_path']} | {m['macro_f1']:.2f}{ci} "
                     f"| {m['n_labels_predicted']} of {m['n_labels']} ({m['top_label_share']:.2f}) "
                     f"| {'yes' if m.get('does_task') else 'no'} | {jt} "
                     f"| {dash(note.get('joules_per_generated_token'))} |")
    return lines


def compression_rows(by: dict) -> list[str]:
    lines = ["| variant | compute path | weights (MB) | on disk (MB) | perplexity | generation tokens/s |",
             "|---|---|---|---|---|---|"]
    for (nb, phase, variant), r in by.items():
        if nb == "04_quantize":
            m = r["metrics"]
            mb = {k: m[k] / 1e6 if isinstance(m.get(k), int) else m.get(k) for k in ("weight_bytes", "disk_bytes")}
            lines.append(f"| {variant} | {r['compute_path']} | {dash(mb['weight_bytes'])} | {dash(mb['disk_bytes'])} "
                         f"| {dash(m.get('perplexity'))} | {dash(m.get('generate_tokens_per_s'))} |")
    return lines


def finetune_rows(by: dict) -> list[str]:
    lines = ["| variant | compute path | validated | steps | training tokens | loss first → last | training s "
             "| J (NVML window) | J per training token |", "|---|---|---|---|---|---|---|---|---|"]
    for (nb, phase, variant), r in by.items():
        if nb == "05_finetune":
            m = r["metrics"]
            lines.append(f"| {variant} | {r['compute_path']} | {'yes' if m.get('best_val_macro_f1') is not None else 'no'} "
                         f"| {m['steps']} | {m['train_tokens']} | {m['loss_first']:.2f} → {m['loss_last']:.2f} "
                         f"| {m['seconds']:.1f} | {r['energy'][0]['joules']:.4g} | {m['joules_per_training_token']:.3g} |")
    return lines


def sparse_rows(bench: dict, model_bench: dict | None) -> list[str]:
    if "linears" not in bench:
        return [bench.get("result", "not run")]
    speed = [r["speedup"] for r in bench["linears"]]
    lines = [f"PyTorch's `to_sparse_semi_structured` ({bench['linears'][0]['backend']}) on the model's layer-0 linears "
             f"(fp16 and bf16, {', '.join(map(str, sorted({r['tokens'] for r in bench['linears']})))} input rows): "
             f"dense time / 2:4 time between {min(speed)} and {max(speed)} (above 1 would be a speed-up); largest "
             f"absolute output difference {max(r['max_abs_diff'] for r in bench['linears']):.3g}.", ""]
    if bench.get("large"):
        lines += ["A large square linear, to tell the kernel's own speed from its call cost on this model's small shapes:",
                  "", "| shape | dtype | input rows | backend | dense ms | 2:4 ms | speed-up | max abs difference |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {'×'.join(map(str, r['shape']))} | {r['dtype']} | {r['tokens']} | {r['backend']} | {r['dense_ms']} "
                  + (f"| {r['sparse_ms']} | {r['speedup']} | {r['max_abs_diff']:.3g} |" if "speedup" in r
                     else f"| {r['result']} | | |") for r in bench["large"]]
        lines.append("")
    rows = (model_bench or bench)["model"]
    lines += ["The whole 2:4-pruned model (magnitude), dense weights against the semi-structured kernel; the logits are "
              "read against the dense model's at the same dtype, and, as the yardstick, that dense model's against fp32 "
              "(rounding alone):", "",
              "| whole model | batch × tokens | dense ms | 2:4 ms | speed-up | 2:4 vs dense: max / mean abs logit "
              "difference, top-1 agreement | 16-bit vs fp32 dense: the same |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        kernel = (f"{r['max_abs_logit_diff']:.3g} / {r['mean_abs_logit_diff']:.3g}, {r['top1_agreement']:.3f}"
                  if "top1_agreement" in r else f"{r['max_abs_logit_diff']:.3g} / –, –")
        rounding = (f"{r['rounding_max_abs_logit_diff']:.3g} / {r['rounding_mean_abs_logit_diff']:.3g}, "
                    f"{r['rounding_top1_agreement']:.3f}" if "rounding_top1_agreement" in r else "–")
        lines.append(f"| {r['precision']} | {r['batch']}×{r['seq']} | {r['dense_ms']} | {r['sparse_ms']} | {r['speedup']} "
                     f"| {kernel} | {rounding} |")
    return lines


def readme(records: list[dict], markers: list[dict], bench: dict, errors: dict, commit: str,
           model_bench: dict | None = None, model_bench_commit: str | None = None) -> str:
    by = {(r["notebook"], r["phase"], r["variant"]): r for r in records}
    prov = records[0]["provenance"]
    hw, pk = prov["hardware"], prov["packages"]
    tuned = [r for r in records if r["notebook"] == "06_rca_eval" and r["phase"] == "inference"]
    capable = [r["variant"] for r in tuned if r["metrics"].get("does_task")]
    lines = [f"# GPU smoke run: {hw['gpu']}", "",
             f"Generated by `bench/gpu_reference.py` from the records of `bench/gpu_smoke.sh` (profile `{PROFILE}`), "
             f"run from the working tree of commit `{commit}` (the records' `git_sha` is the device copy's older git "
             f"metadata, `{prov['git_sha']}`)"
             + (f"; the whole-model 2:4 rows from `bench/sparse24_cuda.py --model-only` on the same kind of machine, "
                f"tree of commit `{model_bench_commit}`." if model_bench else "."), "",
             f"Machine: {hw['gpu']}, {hw['cpu_count']} CPUs ({hw['cpu']}); Python {prov['python']}, "
             + ", ".join(f"{k} {v}" for k, v in pk.items()) + ".", "",
             "Energy: the GPU board's NVML total-energy counter (**metered**, GPU board only: no CPU, RAM or "
             "cooling; it includes the board's idle draw while a window is open). Windows shorter than a second sit "
             "near the counter's update period, hence the wide intervals. Smoke-sized data (33 test tickets, 4 notes, "
             "4 training steps): these numbers check the GPU code paths; they are too few to conclude from.", "",
             f"Quality: {len(capable)} of the {len(tuned)} fine-tuned or pruned variants evaluated here do the task"
             + (f" ({', '.join(capable)})" if capable else "")
             + ". Four training steps teach the smoke model nothing, as on a CPU, so the stage-1 ranking that chose "
             "stage 2's parent, and every energy comparison between these variants, only show that the code runs.", "",
             "## RCA and notes per variant", ""]
    lines += rca_rows(by)
    lines += ["", "## Footprint, perplexity and generation speed (notebook 4)", ""] + compression_rows(by)
    lines += ["", "## Fine-tuning (fixed steps)", "",
              "The first fine-tuning in a kernel also pays CUDA's and the trainer's start-up inside its window."]
    lines += [""] + finetune_rows(by)
    lines += ["", "## 2:4 semi-structured sparse kernel against dense (`bench/sparse24_cuda.py`)", ""]
    lines += sparse_rows(bench, model_bench)
    cells = grid.expand(grid.load_profile(PROFILE), records, device="cuda")
    done = {m["label"] for m in markers}
    lines += ["", "## Cells that failed or did not run", ""]
    lines += [f"- `{name}`: {error}" for name, error in errors.items()]
    for cell in cells:
        if cell.label in done or cell.output_name.removesuffix(".ipynb") in errors:
            continue
        why = execution.not_runnable_here(cell, "cuda")
        partial = sorted(phase for (nb, phase, variant) in by if nb == cell.notebook and variant == cell.variant)
        lines.append(f"- `{cell.label}`: " + (f"N/A on CUDA: {why}" if why else
                                              "not finished (the run reached its time limit)"
                                              + (f"; it had written its {', '.join(partial)} record" if partial else "")))
    if lines[-1] == "":
        lines.append("None: every cell of the profile finished.")
    return "\n".join(lines) + "\n"


def render(dest: Path, commit: str) -> str:
    """The README of a published GPU run, from its folder alone (so a test can check that it was not edited)."""
    bench_path, model_path = dest / "sparse24_cuda.json", dest / "sparse24_model.json"
    bench = json.loads(bench_path.read_text()) if bench_path.is_file() else {"result": "not run"}
    model_bench = json.loads(model_path.read_text()) if model_path.is_file() else None
    model_commit = (dest / "sparse24_model.COMMIT").read_text().strip() if model_bench else None
    errors = json.loads((dest / "failures.json").read_text())
    return readme(load(dest / "records"), load(dest / "done"), bench, errors, commit, model_bench, model_commit)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="gpu-smoke.tar.gz unpacked (results/, runs/ inside)")
    parser.add_argument("--commit", required=True)
    parser.add_argument("--model-bench", type=Path, help="a later sparse24_cuda.py --model-only output")
    parser.add_argument("--model-bench-commit", help="the commit whose tree ran --model-bench")
    parser.add_argument("--name", default="gpu-smoke-h200")
    args = parser.parse_args(argv)
    results, runs = args.folder / "results" / PROFILE, args.folder / "runs" / PROFILE
    if not results.is_dir():
        print(f"gpu_reference: no {results}", file=sys.stderr)
        return 2
    dest = ROOT / "reference" / args.name
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(results, dest / "records")
    shutil.copytree(runs / "done", dest / "done")
    if (runs / "sparse24_cuda.json").is_file():
        shutil.copy(runs / "sparse24_cuda.json", dest)
    if args.model_bench:
        shutil.copy(args.model_bench, dest / "sparse24_model.json")
        write_atomic(dest / "sparse24_model.COMMIT", f"{args.model_bench_commit}\n")
    markers = load(runs / "done")
    finished = {m["notebook_output"] for m in markers}  # a cell that failed once and then finished is no failure
    errors = {name: error for name, error in failures(runs).items() if f"{name}.ipynb" not in finished}
    write_atomic(dest / "failures.json", json.dumps(errors, indent=2))
    write_atomic(dest / "COMMIT", args.commit + "\n")
    write_atomic(dest / "README.md", render(dest, args.commit))
    print(dest / "README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
