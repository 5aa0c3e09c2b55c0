"""The README's reference results: the headline table and key figures of one finished run, stamped with the
machine, date, commit and energy method that produced them.

Why generated: numbers typed into a README drift from the code; these are rewritten from a run's own records
by one command (`make reference`, which runs the default profile first):

    python -m helpers.reference --profile default
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pandas as pd

from helpers.energy import how_obtained
from helpers.report import to_markdown
from helpers.paths import ROOT, figures_dir, results_dir, runs_dir
from helpers.atomic import write_atomic, write_folder_atomic
from helpers.results import load_records

START, END = "<!-- reference:start -->", "<!-- reference:end -->"
DATA_START, DATA_END = "<!-- data-baselines:start -->", "<!-- data-baselines:end -->"
FIGURES = {"pareto": "quality against joules per ticket; the Pareto front is the line",
           "ranking_vs_w": "how the ranking R changes with the weight w on energy",
           "breakeven": "tickets after which a variant's one-off energy is paid back"}
COLUMNS = ["variant", "role", "RCA macro-F1", "task check", "response quality", "J per ticket", "vs baseline",
           "Wh per 1,000 tickets", "energy counts", "payback", "rank (R)", "energy method"]
TARGET = ROOT / "figures" / "reference"
PUBLISHED = ROOT / "reference"  # executed notebooks of reference runs, committed so readers need not run anything


def headline(profile: str) -> pd.DataFrame:
    """Variants × quality × J/ticket × payback, best R first (from the analysis notebook's summary.csv)."""
    summary = pd.read_csv(results_dir(profile) / "summary.csv")
    if "J per ticket" not in summary:  # summaries written before the column existed
        summary["J per ticket"] = (summary["Wh per 1,000 tickets"] * 3.6).round(3)  # 1 Wh / 1,000 = 3.6 J
    summary = summary.rename(columns={c: "vs baseline" for c in summary if c.startswith("J per ticket vs ")})
    return summary[[c for c in COLUMNS if c in summary]]


def quality(profile: str) -> tuple[pd.DataFrame, str]:
    """Every system that classified test tickets (notebook 2's baselines, notebook 6's variants): macro-F1 with
    its interval, classes scored, prediction spread, task check, and the paired difference with TF-IDF + logistic
    regression on the same tickets; and the sentences the README states from them."""
    from helpers.paths import data_dir
    from helpers.ranking import compare_in_profile
    from helpers.classification import COLLAPSE_SHARE
    from helpers.ticket_files import load_split

    records = load_records(profile)
    n_classes = len({t["root_cause"] for t in load_split(data_dir(profile), "test")})
    systems = [r for r in records if r["phase"] == "inference" and "predictions" in r]
    paired = compare_in_profile(profile, [(r["variant"], "tfidf-logreg") for r in systems], records).set_index("a")
    rows = []
    for r in systems:
        m, gap = r["metrics"], paired.loc[r["variant"]]
        spec = r.get("spec") or {}
        rows.append({"system": r["variant"], "fine-tuned": spec.get("finetune", "none") != "none" or bool(spec.get("parent")),
                     "macro-F1 [95 % CI]": f"{m['macro_f1']:.2f} [{m['macro_f1_ci_low']:.2f}, {m['macro_f1_ci_high']:.2f}]",
                     "accuracy": round(m["accuracy"], 2), "macro_f1": m["macro_f1"], "tickets": m["n_tickets"],
                     "width": m["macro_f1_ci_high"] - m["macro_f1_ci_low"],
                     "classes scored": f"{m['n_classes_in_tickets']} of {n_classes}",
                     "top label share": round(m["top_label_share"], 2), "task check": m["task_check"],
                     "minus TF-IDF [paired 95 % CI]": "" if r["variant"] == "tfidf-logreg" else
                     f"{gap.macro_f1_diff:+.2f} [{gap.macro_f1_diff_ci_low:+.2f}, {gap.macro_f1_diff_ci_high:+.2f}] {gap.verdict}"})
    table = pd.DataFrame(rows).sort_values("macro_f1", ascending=False)
    tuned = table[table["fine-tuned"]]
    text = []
    if len(tuned):
        best = tuned.iloc[0]
        seconds = {r["variant"]: r["metrics"]["seconds"] for r in records if r["notebook"] == "05_finetune"}
        text.append(f"Best fine-tuned LLM variant (highest test macro-F1): **{best.system}**, macro-F1 "
                    f"{best['macro-F1 [95 % CI]']} on {best.tickets} test tickets ({best['classes scored']} classes); "
                    f"minus TF-IDF + logistic regression on "
                    f"the same tickets: {best['minus TF-IDF [paired 95 % CI]']}. Fine-tuning wall time: " +
                    ", ".join(f"{v} {s / 60:.0f} min" for v, s in seconds.items()) + ".")
    text.append(f"On these tickets a macro-F1 interval is {table.width.median():.2f} wide (median over the systems); "
                "differences are claimed only from the paired interval.")
    flagged = table.loc[table["task check"] != "ok", "system"].tolist()
    text.append(f"Flagged as not doing the task (one label for more than {COLLAPSE_SHARE:.0%} of tickets, or macro-F1 or "
                f"accuracy below the majority class's): {', '.join(flagged) if flagged else 'none'}.")
    return table.drop(columns=["macro_f1", "fine-tuned", "tickets", "width"]), " ".join(text)


def stage1(profile: str, cells=None) -> pd.DataFrame:
    """Stage 1: every model taught the task and not pruned (fine-tuned, and its merged weights served at other
    precisions), with the fine-tuning's J per training token (its own, or its parent's), RCA J per ticket, the note's
    J per generated token (fixed-length notes), macro-F1 with its interval and note quality; and each fine-tuning of
    the grid (`cells`, by default the profile's) this hardware cannot run, with its "N/A: reason"."""
    from helpers.grid import expand, load_profile
    from helpers.variants import unsupported_here

    records = load_records(profile)
    tuned = {r["variant"]: r for r in records if r["notebook"] == "05_finetune"}
    notes = {r["variant"]: r["metrics"] for r in records if r["notebook"] == "06_rca_eval" and r["phase"] == "response"}
    rows = []
    for r in records:
        spec = r.get("spec") or {}
        if r["notebook"] != "06_rca_eval" or r["phase"] != "inference" or spec.get("method") != "none":
            continue
        trained = spec.get("parent") or (r["variant"] if spec.get("finetune") != "none" else None)
        if trained is None:
            continue
        m, note, fit = r["metrics"], notes.get(r["variant"], {}), tuned.get(trained, {}).get("metrics", {})
        rows.append({"variant": r["variant"], "runs at": spec["precision"], "fine-tuned as": trained,
                     "fine-tuning J per training token": _fmt(fit.get("joules_per_training_token")),
                     "RCA J per ticket": _fmt(m.get("joules_per_ticket"), m.get("joules_per_ticket_ci95")),
                     "note J per generated token": _fmt(note.get("joules_per_generated_token")),
                     "RCA macro-F1 [95 % CI]": f"{m['macro_f1']:.2f} [{m['macro_f1_ci_low']:.2f}, {m['macro_f1_ci_high']:.2f}]",
                     "note quality": _fmt(note.get("response_quality")), "task check": m.get("task_check", "")})
    evaluated = {row["fine-tuned as"] for row in rows}
    for name, record in tuned.items():  # the fine-tuning phase alone: a few steps for the energy figure
        fit, spec = record["metrics"], record.get("spec") or {}
        if name not in evaluated and spec.get("method") == "none":
            rows.append({"variant": name, "runs at": spec["precision"], "fine-tuned as": name,
                         "fine-tuning J per training token": _fmt(fit.get("joules_per_training_token")),
                         "RCA J per ticket": f"not evaluated ({fit.get('steps')} steps: energy only)"})
    for cell in cells if cells is not None else expand(load_profile(profile)):
        variant = cell.variant_spec() if cell.notebook == "05_finetune" else None
        if variant and variant.name not in tuned and (why := unsupported_here(variant)):
            rows.append({"variant": variant.name, "runs at": variant.precision, "fine-tuned as": variant.name,
                         "fine-tuning J per training token": f"N/A: {why}"})
    return pd.DataFrame(rows).fillna("")


def stage2(profile: str) -> pd.DataFrame:
    """Stage 2 from notebook 7's retention.csv: each pruning of the chosen parent, as pruned and recovered."""
    path = results_dir(profile) / "retention.csv"
    table = pd.read_csv(path) if path.is_file() else pd.DataFrame()
    if table.empty:
        return table
    return pd.DataFrame({
        "parent": table["parent"],
        "pruning": [f"{m} 2:4" if p == "2:4" else f"{m} {s * 100:.0f} %" for m, p, s in
                    zip(table["method"], table["pattern"], table["sparsity"])],
        "stage": table["stage"], "RCA macro-F1": table["macro_f1"].round(2),
        "kept, % of parent [95 % CI]": [f"{r:.0f} [{lo:.0f}, {hi:.0f}]" for r, lo, hi in
                                        zip(table["retention_pct"], table["retention_ci_low_pct"], table["retention_ci_high_pct"])],
        "paired verdict": table["verdict"], "task check": table["task_check"],
        "J per ticket": table["joules_per_ticket"].map(_fmt)})


def winners(profile: str) -> str:
    """The winner of the ranking for every w, from notebook 7's winners_over_w.csv, in one sentence."""
    path = results_dir(profile) / "winners_over_w.csv"
    if not path.is_file():
        return ""
    table = pd.read_csv(path)
    return "Winner of R = w·φ + (1−w)·ρ by w: " + "; ".join(
        f"{r.variant} for w {r.min:g}–{r.max:g}" for r in table.itertuples()) + "."


def _fmt(value, ci=None) -> str:
    if value is None or value != value:
        return "unknown"
    return f"{value:.3g}" + (f" ± {ci:.2g}" if ci is not None and ci == ci else "")


def run_facts(profile: str, cells=None) -> str:
    """Machine, date, commit, cell time and energy method of the run, from its records and the done markers of
    the profile's cells (configs/<profile>.yaml expanded, unless `cells` are given)."""
    from helpers.grid import expand, load_profile

    records = load_records(profile)
    prov = records[0]["provenance"]
    hw, threads = prov["hardware"], max(r["provenance"]["threads"] or 0 for r in records)
    ids = {c.id for c in cells or expand(load_profile(profile))}
    markers = [json.loads(p.read_text()) for p in (runs_dir(profile) / "done").glob("*.json")]
    markers = [m for m in markers if m["id"] in ids]
    device = hw.get("gpu") or f"{hw['cpu']}, {hw['cpu_count']} cores, {threads} threads, no GPU"
    energy = how_obtained(headline(profile)["energy method"].astype(str))
    energy = "modelled, not metered" if energy == "modelled" else energy
    finished = max((m["finished_at"] for m in markers), default="unknown date")[:10]
    return (f"Profile `{profile}`, finished {finished} on {device}; commit `{prov['git_sha'][:12]}`; "
            f"{len(markers)} cells, {sum(m['seconds'] for m in markers) / 60:.0f} min of notebook time. "
            f"Energy: {energy} (method per row; see *How energy is obtained*).")


def section(profile: str, cells=None) -> str:
    figures = "\n".join(f"![{name}: {text}](figures/reference/{name}.png)" for name, text in FIGURES.items())
    table, text = quality(profile)
    finding = results_dir(profile) / "finding.md"
    finding = f"\n\n**Finding** (notebook 7, generated): {finding.read_text().strip()}" if finding.is_file() else ""
    first, second = stage1(profile, cells), stage2(profile)
    stages = "".join([
        f"**Stage 1** (models taught the task, at their serving precisions; energy per the method below):\n\n"
        f"{to_markdown(first)}\n" if not first.empty else "",
        f"**Stage 2** (the top-ranked fine-tuned model pruned, then recovered; retention with the paired interval):"
        f"\n\n{to_markdown(second)}\n" if not second.empty else ""])
    return (f"{START}\n{run_facts(profile, cells)} Every executed notebook of this run, with its outputs and Finding: "
            f"[reference/{profile}/](reference/{profile}/README.md).\n\n**Task quality** (RCA, every system on the same test tickets):\n\n"
            f"{to_markdown(table)}\n{text}\n\n{stages}**Energy and ranking:**\n\n{to_markdown(headline(profile))}\n"
            f"{winners(profile)}{finding}\n\n{figures}\n\n"
            f"Regenerate with `make reference` (runs the default profile, then `python -m helpers.reference`).\n{END}")


def data_baselines(profile: str) -> str:
    """The data card's difficulty table: the keyword rule and TF-IDF + logistic regression on the test split of the
    profile's generated tickets, with the shift on and off (seconds on a CPU; computed here, never typed)."""
    from helpers import baselines, classification, ticket_generator
    from helpers.grid import load_profile

    params = load_profile(profile)["params"]
    rows = []
    for shift in (True, False):
        splits = ticket_generator.generate_splits(params["n_tickets"], params["seed"], params["label_noise"], shift=shift)
        train_x, train_y = [t["text"] for t in splits["train"]], [t["root_cause"] for t in splits["train"]]
        test_x, test_y = [t["text"] for t in splits["test"]], [t["root_cause"] for t in splits["test"]]
        rows.append({"test split": "shifted (default)" if shift else "unshifted (`shift=False`)",
                     "test tickets": len(splits["test"]), "tickets, all splits": sum(map(len, splits.values())),
                     "keyword rule": classification.rca_metrics(test_y, baselines.keyword_rule(train_x, train_y, test_x),
                                                     ticket_generator.LABELS)["macro_f1"],
                     "TF-IDF + logistic regression": classification.rca_metrics(
                         test_y, baselines.tfidf_logreg(train_x, train_y, test_x, params["seed"]), ticket_generator.LABELS)["macro_f1"]})
    table = pd.DataFrame(rows).round(2)
    cost = rows[1]["TF-IDF + logistic regression"] - rows[0]["TF-IDF + logistic regression"]
    return (f"{DATA_START}\nTest-split macro-F1 of two classical baselines on the `{profile}` profile's tickets (seed "
            f"{params['seed']}, label noise {params['label_noise']}), generated by `make reference`:\n\n"
            f"{to_markdown(table)}\nTF-IDF's macro-F1 is {cost:.2f} lower on the shifted test split than on the "
            f"unshifted one (point estimates on different test tickets).\n{DATA_END}")


def _check_markers(path, start: str, end: str) -> str:
    text = path.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{path.name} lacks the {start} … {end} markers")
    return text


def _replace_between(path, start: str, end: str, new: str) -> None:
    text = _check_markers(path, start, end)
    write_atomic(path, text[:text.index(start)] + new + text[text.index(end) + len(end):])


def publish_notebooks(profile: str, target=None, cells=None) -> Path:
    """Copy the executed notebooks of the profile's finished cells (configs/<profile>.yaml expanded, unless `cells`
    are given) to reference/<profile>/, in grid order, with an index page; GitHub renders them."""
    from helpers.grid import expand, load_profile

    cells = [c for c in cells or expand(load_profile(profile)) if (runs_dir(profile) / "done" / f"{c.id}.json").is_file()]

    def save(folder: Path) -> None:
        folder.mkdir(parents=True)
        for cell in cells:
            shutil.copy2(runs_dir(profile) / cell.output_name, folder / cell.output_name)
        lines = [f"# Executed notebooks of the `{profile}` reference run", "",
                 f"{run_facts(profile, cells)}", "", "Written by `make reference` (`python -m helpers.reference`); "
                 "the code cells are those of `notebooks/` (a test checks it), the outputs are this run's.", ""]
        write_atomic(folder / "README.md", "\n".join(lines + [f"- [{c.label}]({c.output_name})" for c in cells]) + "\n")

    return write_folder_atomic(Path(target or PUBLISHED / profile), save)


def update_readme(profile: str, readme=ROOT / "README.md", target=TARGET, cells=None) -> None:
    """Copy the key figures to figures/reference/ and rewrite the README between the reference markers."""
    _check_markers(readme, START, END)
    new = section(profile, cells)
    target.mkdir(parents=True, exist_ok=True)
    for name in FIGURES:
        shutil.copy2(figures_dir(profile) / f"{name}.png", target / f"{name}.png")
    _replace_between(readme, START, END, new)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    profile = parser.parse_args().profile
    _check_markers(ROOT / "data" / "README.md", DATA_START, DATA_END)
    update_readme(profile)
    publish_notebooks(profile)
    _replace_between(ROOT / "data" / "README.md", DATA_START, DATA_END, data_baselines(profile))
    print(f"README.md reference results, reference/{profile}/ notebooks and data/README.md baselines updated")
