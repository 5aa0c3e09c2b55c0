"""Saving figures: PNG for slides, SVG for papers, into figures/<profile>/, never half-written."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from helpers.paths import figures_dir


def save_figure(fig, profile: str, name: str, formats=("png", "svg")) -> None:
    """Save a matplotlib figure as figures/<profile>/<name>.<fmt> for each format (temp file + rename)."""
    folder = figures_dir(profile)
    folder.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=f".{fmt}")
        os.close(fd)
        try:
            fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
            os.replace(tmp, folder / f"{name}.{fmt}")
        finally:
            Path(tmp).unlink(missing_ok=True)
    print(f"saved figures/{profile}/{name}.{{{','.join(formats)}}}")


def pareto_plot(ax, table, quality: str, front, label: str, energy_label: str, legend: bool = True):
    """Quality against J/ticket per variant (with the 95 % energy interval when known) and the Pareto front of the
    LLM variants (`front`: a mask over the rows whose `llm` is not False, in order); classical references, when the
    table has them, are crosses. Log-scaled energy: references cost a thousandth of an LLM. `legend=False` for all
    but one panel of a row, so panels don't overlap."""
    import seaborn as sns

    table = table.assign(system=["LLM" if llm is not False else "not an LLM" for llm in table.get("llm", [True] * len(table))])
    xerr = table["joules_per_ticket_ci95"] if "joules_per_ticket_ci95" in table else None
    ax.errorbar(table["joules_per_ticket"], table[quality], xerr=xerr, fmt="none", ecolor="grey", alpha=0.6)
    sns.scatterplot(data=table, x="joules_per_ticket", y=quality, hue="variant", style="system",
                    markers={"LLM": "o", "not an LLM": "X"}, s=90, ax=ax)
    if (table["system"] == "not an LLM").any():
        ax.set_xscale("log")
    best = table[table["system"] == "LLM"][front].sort_values("joules_per_ticket")
    ax.step(best["joules_per_ticket"], best[quality], where="post", color="black", lw=1, label="Pareto front")
    ax.set(xlabel=f"J per ticket ({energy_label})", ylabel=label)
    if legend:
        ax.legend(loc="upper left", bbox_to_anchor=(1, 1), fontsize="small")
    else:
        ax.get_legend().remove()


def breakeven_plot(ax, life, baseline: str, horizon_tickets: float, energy_label: str):
    """Cumulative energy (one-off + inference) against tickets handled, one line per variant."""
    import itertools

    import matplotlib
    import numpy as np

    tickets = np.linspace(0, horizon_tickets, 200)
    colors = itertools.cycle(matplotlib.colormaps["tab20"].colors)  # 20 lines before a colour repeats (tab10: 10)
    for _, row in life.iterrows():
        style = {"lw": 2.5, "color": "black"} if row["variant"] == baseline else {"lw": 1.5, "color": next(colors)}
        ax.plot(tickets, (row["one_off_j"] + row["joules_per_ticket"] * tickets) / 3.6e3, label=row["variant"], **style)
    ax.set(xlabel="tickets handled", ylabel=f"cumulative Wh, one-off + inference\n({energy_label})")
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1), fontsize="small")


def retention_plot(ax, stage2):
    """Stage 2's retention (macro-F1 as % of the parent's, with the paired 95 % interval) against sparsity: one
    series per parent, method and pattern, dashed as pruned and solid after the recovery fine-tune. A 2:4 pattern is
    a series of its own (squares), never averaged with unstructured pruning at the same sparsity."""
    colors, parents = {}, stage2["parent"].nunique()
    for (parent, method, pattern, stage), rows in stage2.groupby(["parent", "method", "pattern", "stage"]):
        rows = rows.sort_values("sparsity")
        color = colors.setdefault((parent, method, pattern), f"C{len(colors)}")
        name = f"{method} {pattern}" + (f" of {parent}" if parents > 1 else "")
        kept = rows["retention_pct"]
        ax.errorbar(100 * rows["sparsity"], kept, yerr=[kept - rows["retention_ci_low_pct"], rows["retention_ci_high_pct"] - kept],
                    color=color, capsize=3, marker="s" if pattern == "2:4" else "o",
                    ls="-" if stage == "recovered" else "--", label=f"{name}, {stage}")
    ax.axhline(100, color="grey", ls=":", lw=1, label="parent (100 %)")
    ax.set(xlabel="sparsity, % of the block linears' weights",
           ylabel="macro-F1 kept, % of the parent's\n(paired 95 % interval)")
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1), fontsize="small")


def energy_by_phase_plot(ax, phases, energy_label: str):
    """Stacked bars of kJ per notebook and phase (lifecycle.energy_by_phase's table): sums, not means, so a bar is
    all of a notebook's measured energy."""
    phases.plot.barh(stacked=True, ax=ax)
    ax.invert_yaxis()  # notebooks in run order, top to bottom
    ax.set(xlabel=f"kJ, all variants ({energy_label})", ylabel="")
    ax.legend(title="phase", loc="upper left", bbox_to_anchor=(1, 1), fontsize="small")
