"""Lifecycle accounting: one-off energy (compression + fine-tuning) against inference savings, money, carbon.

Why: a manager's question is not "which variant is efficient" but "when does the effort pay back". A
variant pays back after the number of tickets at which its one-off energy equals the inference energy it
saved against the baseline; with a daily ticket volume that becomes months.
"""
from __future__ import annotations

import math

from helpers.energy import best_reading

J_PER_KWH = 3.6e6
DAYS_PER_MONTH = 365.25 / 12


def one_off_joules(records: list[dict], spec: dict) -> dict:
    """Energy spent once to produce a variant: pruning (with calibration), quantization/loading, fine-tuning.

    The prune notebook's record belongs to every variant pruned the same way; fine-tuning to the variant
    with the same precision and pruning.
    """
    def matches(record, keys):
        s = record.get("spec") or {}
        return all(s.get(k) == spec.get(k) for k in keys)

    def total(notebook, keys):
        return sum(_joules(r) for r in records if r["notebook"] == notebook and matches(r, keys))

    pruning = ("method", "sparsity", "pattern")
    out = {"compression_j": 0.0, "finetune_j": 0.0}
    if spec.get("method", "none") != "none":
        out["compression_j"] += total("03_prune", pruning)
    out["compression_j"] += total("04_quantize", ("precision", *pruning))
    if spec.get("finetune", "none") != "none":
        out["finetune_j"] += total("05_finetune", ("precision", *pruning, "finetune"))
    return out


def _joules(record: dict) -> float:
    """A record's energy; NaN (never 0) when no meter could read, so totals show as unknown."""
    best = best_reading(record["energy"])
    return best["joules"] if best else math.nan


def break_even_tickets(one_off_j: float, j_per_ticket: float, baseline_j_per_ticket: float) -> float:
    """Tickets after which the one-off energy is repaid; inf when the variant saves nothing per ticket."""
    saving = baseline_j_per_ticket - j_per_ticket
    if math.isnan(one_off_j) or math.isnan(saving):
        return math.nan
    if saving <= 0:
        return math.inf
    return one_off_j / saving


def per_thousand(j_per_ticket: float, price_per_kwh: float, grid_g_per_kwh: float) -> dict:
    """Energy (Wh), cost and CO2 (g) of 1,000 tickets."""
    kwh = j_per_ticket * 1000 / J_PER_KWH
    return {"wh_per_1000": kwh * 1000, "cost_per_1000": kwh * price_per_kwh, "co2_g_per_1000": kwh * grid_g_per_kwh}


def payback_months(tickets: float, tickets_per_day: float) -> float:
    if tickets_per_day <= 0:
        raise ValueError(f"tickets_per_day must be > 0, got {tickets_per_day}")
    return tickets / tickets_per_day / DAYS_PER_MONTH


def lifecycle_table(inference, records: list[dict], baseline: str, price_per_kwh: float, grid_g_per_kwh: float,
                    tickets_per_day: float):
    """Per evaluated variant: J/ticket, one-off energy, break-even tickets, payback months, cost and CO2."""
    import pandas as pd

    if baseline not in set(inference["variant"]):
        raise ValueError(f"baseline variant {baseline!r} was not evaluated; evaluated: {', '.join(inference['variant'])}")
    base_j = float(inference.loc[inference["variant"] == baseline, "joules_per_ticket"].iloc[0])
    rows = []
    for _, row in inference.iterrows():
        one_off = one_off_joules(records, row["spec"])
        total = one_off["compression_j"] + one_off["finetune_j"]
        tickets = break_even_tickets(total, row["joules_per_ticket"], base_j) if row["variant"] != baseline else 0.0
        rows.append({"variant": row["variant"], "joules_per_ticket": row["joules_per_ticket"], **one_off,
                     "one_off_j": total, "break_even_tickets": tickets,
                     "payback_months": payback_months(tickets, tickets_per_day) if math.isfinite(tickets) else tickets,
                     **per_thousand(row["joules_per_ticket"], price_per_kwh, grid_g_per_kwh)})
    return pd.DataFrame(rows)


def _payback_text(months: float, is_baseline: bool) -> str:
    if is_baseline:
        return "baseline"
    if math.isnan(months):
        return "unknown (energy unavailable)"
    return "never" if math.isinf(months) else f"{months:.2g}"


def short_method(method: str) -> str:
    """'codecarbon ... (modelled CPU ...)' -> 'codecarbon ..., modelled'."""
    return method.split(" (")[0] + (", modelled" if "modelled" in method else ", metered" if "metered" in method else "")


def manager_summary(ranked, life, baseline: str, grid_country: str):
    """One table a manager can read: quality, energy, cost, carbon, payback per variant, best R first."""
    import pandas as pd

    merged = ranked.merge(life.drop(columns=["joules_per_ticket"]), on="variant")
    out = pd.DataFrame({
        "variant": merged["variant"],
        "rank (R)": merged["R"].round(3),
        "RCA macro-F1": merged["macro_f1"].round(3),
        "task check": merged["task_check"],
        "Wh per 1,000 tickets": merged["wh_per_1000"].round(2),
        "EUR per 1,000 tickets": merged["cost_per_1000"].round(5),
        f"g CO2e per 1,000 tickets ({grid_country})": merged["co2_g_per_1000"].round(3),
        "one-off kJ": (merged["one_off_j"] / 1000).round(2),
        "payback, months": [_payback_text(m, v == baseline) for m, v in zip(merged["payback_months"], merged["variant"])],
        "energy method": merged["energy_method"].map(short_method),
        "repeats": merged["energy_repeats"].astype(int),
        "kernel": merged["kernel"],
    })
    if "response_quality" in merged:
        out.insert(3, "response quality", merged["response_quality"].round(3))
    return out


def to_markdown(table) -> str:
    """A plain GitHub-style markdown table (no extra dependency)."""
    cells = [list(map(str, table.columns))] + [[str(v) for v in row] for row in table.itertuples(index=False)]
    lines = ["| " + " | ".join(r) + " |" for r in cells]
    lines.insert(1, "|" + "---|" * len(table.columns))
    return "\n".join(lines) + "\n"
