"""The paper's ranking R = w*phi + (1-w)*rho, the sweep over w, and Pareto fronts.

Our normalisation (the paper does not publish one):
- phi (energy efficiency) = lowest J/ticket among the variants / this variant's J/ticket, in (0, 1];
  the most efficient variant scores 1, one that costs twice as much scores 0.5.
- rho (task quality) = the mean of the task-quality columns given (each already in [0, 1], e.g. RCA
  macro-F1 and a response-feedback score), so both tasks weigh equally.
Both are "higher is better", so R is too.
"""
from __future__ import annotations

import numpy as np


def rank(table, w: float = 0.5, energy: str = "joules_per_ticket", quality=("macro_f1",)):
    """Add phi, rho and R columns to a table of variants and sort it by R, best first."""
    if not 0 <= w <= 1:
        raise ValueError(f"w must be between 0 and 1, got {w}")
    if table[energy].isna().any():
        raise ValueError(f"{energy} is unavailable for {', '.join(table.loc[table[energy].isna(), 'variant'])}")
    if (table[energy] <= 0).any():
        raise ValueError(f"every {energy} must be > 0 to compute energy efficiency")
    quality = [quality] if isinstance(quality, str) else list(quality)
    out = table.copy()
    out["phi"] = out[energy].min() / out[energy]
    out["rho"] = out[quality].mean(axis=1)
    out["R"] = w * out["phi"] + (1 - w) * out["rho"]
    return out.sort_values("R", ascending=False).reset_index(drop=True)


def sweep_w(table, steps: int = 21, **kwargs):
    """R of every variant for w from 0 to 1; one row per (w, variant), with the winner flagged."""
    import pandas as pd

    rows = []
    for w in np.linspace(0, 1, steps):
        ranked = rank(table, float(w), **kwargs)
        rows += [{"w": round(float(w), 4), "variant": v, "R": r, "winner": i == 0}
                 for i, (v, r) in enumerate(zip(ranked["variant"], ranked["R"]))]
    return pd.DataFrame(rows)


def pareto_front(costs, qualities) -> np.ndarray:
    """Boolean mask of the points no other point beats: lower-or-equal cost and higher-or-equal quality,
    strictly better in one."""
    costs, qualities = np.asarray(costs, float), np.asarray(qualities, float)
    mask = np.ones(len(costs), bool)
    for i in range(len(costs)):
        dominated = (costs <= costs[i]) & (qualities >= qualities[i]) & ((costs < costs[i]) | (qualities > qualities[i]))
        mask[i] = not dominated.any()
    return mask


def task_table(table):
    """One row per evaluated variant (notebook 6): RCA metrics, response-feedback metrics, and joules_per_ticket
    for handling a ticket fully (RCA + resolution note; 95 % half-widths added in quadrature).

    When some variant has no response-feedback record (e.g. tickets without resolution notes), the table keeps
    RCA alone for every variant, so energies stay comparable."""
    evaluated = table[table["notebook"] == "06_rca_eval"]
    rca = evaluated[evaluated["phase"] == "inference"].set_index("variant")
    notes = evaluated[evaluated["phase"] == "response"].set_index("variant")
    columns = ["response_quality", "rougeL", "bleu", "embedding_cosine"]
    out = rca.drop(columns=[c for c in columns if c in rca])
    if notes.empty or not set(out.index) <= set(notes.index):
        return out.reset_index()
    notes = notes.reindex(out.index)
    out = out.join(notes[columns])
    out["rca_joules_per_ticket"] = out["joules_per_ticket"]
    out["response_joules_per_ticket"] = notes["joules_per_ticket"]
    out["joules_per_ticket"] = out["rca_joules_per_ticket"] + out["response_joules_per_ticket"]
    out["joules_per_ticket_ci95"] = np.hypot(out["joules_per_ticket_ci95"].astype(float).fillna(0),
                                             notes["joules_per_ticket_ci95"].astype(float).fillna(0))
    same = out["energy_method"] == notes["energy_method"]
    out["energy_method"] = out["energy_method"].where(same, out["energy_method"] + " + " + notes["energy_method"])
    return out.reset_index()


def finetune_gain(table, metric: str = "macro_f1"):
    """Each fine-tuned variant against the same compressed model without fine-tuning: both scores with their
    95 % bootstrap intervals and the gain (the variants must both have been evaluated)."""
    import pandas as pd

    rows = []
    for _, tuned in table[table["spec"].map(lambda s: s["finetune"] != "none")].iterrows():
        base_spec = {**tuned["spec"], "finetune": "none"}
        base = table[table["spec"].map(lambda s: s == base_spec)]
        if base.empty:
            continue
        base = base.iloc[0]
        rows.append({"fine-tuned": tuned["variant"], "base": base["variant"], metric: tuned[metric],
                     f"{metric} 95% CI": f"[{tuned[metric + '_ci_low']:.3f}, {tuned[metric + '_ci_high']:.3f}]",
                     f"base {metric}": base[metric],
                     "base 95% CI": f"[{base[metric + '_ci_low']:.3f}, {base[metric + '_ci_high']:.3f}]",
                     "gain": tuned[metric] - base[metric]})
    return pd.DataFrame(rows)
