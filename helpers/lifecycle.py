"""Lifecycle accounting: one-off energy (compression + fine-tuning) against inference savings, money, carbon.

Why: a manager's question is not "which variant is efficient" but "when does the effort pay back". A
variant pays back after the number of tickets at which its one-off energy equals the inference energy it
saved against the baseline; with a daily ticket volume that becomes days. A saving the measurement repeats cannot
tell from 0 gives "within noise", not a payback.
"""
from __future__ import annotations

import math

from helpers.energy import best_reading

J_PER_KWH = 3.6e6


def one_off_joules(records: list[dict], spec: dict) -> dict:
    """Energy spent once to produce a variant: pruning (with calibration), conversion to its precision (not the
    model load every variant pays), fine-tuning; for a variant made from a fine-tuned parent's merged weights, the
    parent's fine-tuning too (and its own recovery fine-tune when it has one).

    The prune notebook's record belongs to every variant pruned the same way; fine-tuning to the variant
    with the same precision and pruning. A step the variant needs whose record is missing makes its total
    unknown (NaN), never 0; `one_off_unknown` says which.
    """
    from helpers.variants import Variant, parent_variant

    defaults = {k: f.default for k, f in Variant.__dataclass_fields__.items()}  # records from before a field existed
    missing = []

    def total(notebook, keys, target=spec):
        want = {**defaults, **target}
        found = [_work_joules(r) for r in records if r["notebook"] == notebook
                 and all({**defaults, **(r.get("spec") or {})}[k] == want[k] for k in keys)]
        if not found:
            missing.append(f"no {notebook} record")
        elif any(math.isnan(j) for j in found):
            missing.append(f"no energy reading in {notebook}")
        return sum(found) if found else math.nan

    pruning = ("method", "sparsity", "pattern", "parent")
    out = {"compression_j": total("04_quantize", ("precision", *pruning)), "finetune_j": 0.0}
    if spec.get("method", "none") != "none":
        out["compression_j"] += total("03_prune", pruning)
    if spec.get("finetune", "none") != "none":
        out["finetune_j"] = total("05_finetune", ("precision", *pruning, "finetune"))
    if spec.get("parent"):
        out["finetune_j"] += total("05_finetune", tuple(defaults), parent_variant(spec["parent"]).as_dict())
    return {**out, "one_off_unknown": "; ".join(missing)}


def _work_joules(record: dict) -> float:
    """The one-off work in a record. Notebook 4's window loads the weights at the variant's precision; the load
    itself, which every variant pays, is taken off (its `plain_load_joules`: the same weights loaded in fp32), so
    what is left is the conversion. A conversion below the two loads' spread reads 0 J."""
    joules = _joules(record)
    if record["notebook"] != "04_quantize":
        return joules
    plain = record["metrics"].get("plain_load_joules")
    return math.nan if plain is None else max(0.0, joules - plain)


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


def saving_within_noise(saving: float, saving_ci95: float) -> bool:
    """True when the repeats' 95 % interval of a per-ticket saving covers 0. With no interval (a single
    measurement) it cannot say: False, and the tables mark such figures "single measurement"."""
    return math.isfinite(saving_ci95) and abs(saving) <= saving_ci95


def lifecycle_table(inference, records: list[dict], baseline: str, price_per_kwh: float, grid_g_per_kwh: float,
                    tickets_per_day: float):
    """Per variant: J/ticket, the saving per ticket against the baseline with its 95 % interval, one-off energy,
    break-even tickets and days, cost and CO2. Rows without a spec (classical references) take their one-off
    energy from their own `one_off_j` (the fitting)."""
    import pandas as pd

    if baseline not in set(inference["variant"]):
        raise ValueError(f"baseline variant {baseline!r} was not evaluated; evaluated: {', '.join(inference['variant'])}")
    if tickets_per_day <= 0:
        raise ValueError(f"tickets_per_day must be > 0, got {tickets_per_day}")
    base = inference.set_index("variant").loc[baseline]
    rows = []
    for _, row in inference.iterrows():
        if isinstance(row.get("spec"), dict):
            one_off = one_off_joules(records, row["spec"])
        else:
            one_off = {"compression_j": row.get("one_off_j", math.nan), "finetune_j": 0.0,
                       "one_off_unknown": "" if math.isfinite(row.get("one_off_j", math.nan)) else "no fitting energy"}
        total = one_off["compression_j"] + one_off["finetune_j"]
        saving = base["joules_per_ticket"] - row["joules_per_ticket"]
        ci = math.hypot(_float(base.get("joules_per_ticket_ci95")), _float(row.get("joules_per_ticket_ci95")))
        tickets = break_even_tickets(total, row["joules_per_ticket"], base["joules_per_ticket"])
        rows.append({"variant": row["variant"], "joules_per_ticket": row["joules_per_ticket"], **one_off,
                     "one_off_j": total, "saving_j_per_ticket": saving, "saving_ci95": ci,
                     "within_noise": row["variant"] != baseline and saving_within_noise(saving, ci),
                     "break_even_tickets": 0.0 if row["variant"] == baseline else tickets,
                     "payback_days": (0.0 if row["variant"] == baseline else tickets) / tickets_per_day,
                     **per_thousand(row["joules_per_ticket"], price_per_kwh, grid_g_per_kwh)})
    return pd.DataFrame(rows)


def _float(value) -> float:
    return math.nan if value is None else float(value)


def payback_text(row, is_baseline: bool, tickets_per_day: float) -> str:
    """'1,234 tickets (0.25 days at 5,000 a day)', 'never (costs more per ticket)', 'within noise …', 'unknown …'."""
    if is_baseline:
        return "baseline"
    if row["one_off_unknown"] or math.isnan(row["break_even_tickets"]):
        return f"unknown ({row['one_off_unknown'] or 'energy unavailable'})"
    if row["within_noise"]:
        return (f"within noise (saving {row['saving_j_per_ticket']:.2g} ± {row['saving_ci95']:.2g} J per ticket)"
                if math.isfinite(row["saving_ci95"]) else "within noise (no interval for the saving)")
    single = "" if math.isfinite(row.get("saving_ci95", 0.0)) else ", single measurement"
    if math.isinf(row["break_even_tickets"]):
        return f"never (costs more per ticket{single})"
    if row["break_even_tickets"] < 1:
        return f"within the first ticket{single}"
    days = row["break_even_tickets"] / tickets_per_day
    tickets = f"{row['break_even_tickets']:,.0f}"
    return f"{tickets} ticket{'' if tickets == '1' else 's'} ({_readable(days)} days at {tickets_per_day:,.0f} a day{single})"


def _significant(x: float, digits: int = 3) -> str:
    """x with `digits` significant digits as a plain decimal: a classical model's 0.00142 Wh neither rounds to 0
    nor turns into scientific notation."""
    if not math.isfinite(x):
        return "unknown"
    return "0" if x == 0 else f"{x:.{max(0, digits - 1 - math.floor(math.log10(abs(x))))}f}"


def _readable(x: float) -> str:
    """A plain decimal with two significant digits, never scientific notation: 0.00042, 3.1, 1,200."""
    return f"{x:,.0f}" if math.isfinite(x) and abs(x) >= 100 else _significant(x, 2)


def short_method(method: str) -> str:
    """'codecarbon ... (modelled CPU ...)' -> 'codecarbon ..., modelled'."""
    return method.split(" (")[0] + (", modelled" if "modelled" in method else ", metered" if "metered" in method else "")


def manager_summary(ranked, life, baseline: str, grid_country: str, tickets_per_day: float):
    """One table a manager can read, in ranking order: role (recommended, candidate, outranked by another candidate,
    does not do the task, classical reference), quality, energy against the baseline (or "within noise"), cost, carbon, one-off energy, payback."""
    import pandas as pd

    merged = ranked.drop(columns=[c for c in life if c in ranked and c != "variant"]).merge(life, on="variant")
    roles = ["reference (not an LLM)" if not llm else "does not do the task" if not works
             else f"outranked by {by}" if by else "candidate"
             for llm, works, by in zip(merged["llm"], merged["does_task"], merged["outranked_by"])]
    if merged["recommendable"].any():
        roles[int(merged["recommendable"].to_numpy().argmax())] = "recommended"
    base_j = float(merged.loc[merged["variant"] == baseline, "joules_per_ticket"].iloc[0])
    out = pd.DataFrame({
        "variant": merged["variant"],
        "role": roles,
        "rank (R)": merged["R"].round(3).astype(object).where(merged["llm"], "not ranked"),
        "RCA macro-F1": merged["macro_f1"].round(3),
        "task check": merged["task_check"],
        "J per ticket": merged["joules_per_ticket"].map(_significant),
        "Wh per 1,000 tickets": merged["wh_per_1000"].map(_significant),
        "energy counts": merged["energy_counts"] if "energy_counts" in merged else "RCA only",
        f"J per ticket vs {baseline}": [_versus(row, row["variant"] == baseline, base_j) for _, row in merged.iterrows()],
        "EUR per 1,000 tickets": merged["cost_per_1000"].map(_significant),
        f"g CO2e per 1,000 tickets ({grid_country})": merged["co2_g_per_1000"].map(_significant),
        "one-off kJ": (merged["one_off_j"] / 1000).round(2),
        "payback": [payback_text(row, row["variant"] == baseline, tickets_per_day) for _, row in merged.iterrows()],
        "energy method": merged["energy_method"].map(short_method),
        "repeats": merged["energy_repeats"].astype(int),
        "compute path": merged["compute_path"],
    })
    if "response_quality" in merged:
        out.insert(4, "response quality", merged["response_quality"].round(3))
    return out


def _versus(row, is_baseline: bool, base_j: float) -> str:
    """'x0.45', 'x0.45 (single measurement)', 'within noise', 'baseline' or 'unknown'."""
    if is_baseline:
        return "baseline"
    if not math.isfinite(row["joules_per_ticket"]):
        return "unknown"
    if row["within_noise"]:
        return "within noise"
    return f"x{_readable(row['joules_per_ticket'] / base_j)}" + ("" if math.isfinite(row["saving_ci95"]) else " (single measurement)")


def to_markdown(table) -> str:
    """A plain GitHub-style markdown table (no extra dependency)."""
    cells = [list(map(str, table.columns))] + [[str(v) for v in row] for row in table.itertuples(index=False)]
    lines = ["| " + " | ".join(r) + " |" for r in cells]
    lines.insert(1, "|" + "---|" * len(table.columns))
    return "\n".join(lines) + "\n"
