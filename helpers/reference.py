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

import pandas as pd

from helpers.energy import how_obtained
from helpers.lifecycle import to_markdown
from helpers.paths import ROOT, figures_dir, results_dir, runs_dir
from helpers.results import load_records, write_atomic

START, END = "<!-- reference:start -->", "<!-- reference:end -->"
FIGURES = {"pareto": "quality against joules per ticket; the Pareto front is the line",
           "ranking_vs_w": "how the ranking R changes with the weight w on energy",
           "breakeven": "tickets after which a variant's one-off energy is paid back"}
COLUMNS = ["variant", "RCA macro-F1", "response quality", "J per ticket", "Wh per 1,000 tickets",
           "payback, months", "rank (R)", "energy method"]
TARGET = ROOT / "figures" / "reference"


def headline(profile: str) -> pd.DataFrame:
    """Variants × quality × J/ticket × payback, best R first (from the analysis notebook's summary.csv)."""
    summary = pd.read_csv(results_dir(profile) / "summary.csv")
    summary["J per ticket"] = (summary["Wh per 1,000 tickets"] * 3.6).round(2)  # 1 Wh / 1,000 = 3.6 J
    return summary[[c for c in COLUMNS if c in summary]]


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
    return (f"{START}\n{run_facts(profile, cells)}\n\n{to_markdown(headline(profile))}\n{figures}\n\n"
            f"Regenerate with `make reference` (runs the default profile, then `python -m helpers.reference`).\n{END}")


def update_readme(profile: str, readme=ROOT / "README.md", target=TARGET, cells=None) -> None:
    """Copy the key figures to figures/reference/ and rewrite the README between the reference markers."""
    text = readme.read_text()
    if START not in text or END not in text:
        raise ValueError(f"README.md lacks the {START} … {END} markers")
    new = section(profile, cells)
    target.mkdir(parents=True, exist_ok=True)
    for name in FIGURES:
        shutil.copy2(figures_dir(profile) / f"{name}.png", target / f"{name}.png")
    write_atomic(readme, text[:text.index(START)] + new + text[text.index(END) + len(END):])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    update_readme(parser.parse_args().profile)
    print("README.md reference results updated")
