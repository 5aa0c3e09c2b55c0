"""Lifecycle accounting: one-off energy (compression + fine-tuning) against inference savings, money, carbon (put
into words and the manager's table by helpers.report).

Why: a manager's question is not "which variant is efficient" but "when does the effort pay back". A
variant pays back after the number of tickets at which the one-off energy it needs beyond the baseline's (the
baseline is often fine-tuned too) equals the inference energy it saved against the baseline; with a daily ticket
volume that becomes days. A saving the 95 % interval cannot tell
from 0 gives "within noise", not a payback: paired over the rounds where both variants were measured interleaved
(ranking.pair_spread), else both intervals in quadrature; either way widened by the drift between cells where the
table carries it (ranking.with_cell_drift).
"""
from __future__ import annotations

import math

from helpers.energy import best_reading
from helpers.ranking import pair_spread

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


def break_even_tickets(extra_one_off_j: float, j_per_ticket: float, baseline_j_per_ticket: float) -> float:
    """Tickets after which the one-off energy spent beyond the baseline's is repaid by the saving per ticket: 0 when
    the variant costs no more up front than the baseline; inf when it saves nothing per ticket."""
    saving = baseline_j_per_ticket - j_per_ticket
    if math.isnan(extra_one_off_j) or math.isnan(saving):
        return math.nan
    if saving <= 0:
        return math.inf
    return max(extra_one_off_j, 0.0) / saving


def per_thousand(j_per_ticket: float, price_per_kwh: float, grid_g_per_kwh: float) -> dict:
    """Energy (Wh), cost and CO2 (g) of 1,000 tickets."""
    kwh = j_per_ticket * 1000 / J_PER_KWH
    return {"wh_per_1000": kwh * 1000, "cost_per_1000": kwh * price_per_kwh, "co2_g_per_1000": kwh * grid_g_per_kwh}


def saving_within_noise(saving: float, saving_ci95: float) -> bool:
    """True when the 95 % interval of a per-ticket saving covers 0. With no interval (a single
    measurement) it cannot say: False, and the tables mark such figures "single measurement"."""
    return math.isfinite(saving_ci95) and abs(saving) <= saving_ci95


def lifecycle_table(inference, records: list[dict], baseline: str, price_per_kwh: float, grid_g_per_kwh: float,
                    tickets_per_day: float):
    """Per variant: J/ticket, the saving per ticket against the baseline with its 95 % interval, one-off energy
    (its own, and beyond the baseline's), break-even tickets and days, cost and CO2. Rows without a spec (classical
    references) take their one-off energy from their own `one_off_j` (the fitting)."""
    import pandas as pd

    if baseline not in set(inference["variant"]):
        raise ValueError(f"baseline variant {baseline!r} was not evaluated; evaluated: {', '.join(inference['variant'])}")
    if tickets_per_day <= 0:
        raise ValueError(f"tickets_per_day must be > 0, got {tickets_per_day}")
    rows_by_variant = inference.set_index("variant")
    base = rows_by_variant.loc[baseline]
    one_offs = {row["variant"]: _one_off(row, records) for _, row in inference.iterrows()}
    base_total = one_offs[baseline]["one_off_j"]
    rows = []
    for _, row in inference.iterrows():
        one_off = one_offs[row["variant"]]
        extra = one_off["one_off_j"] - base_total  # the baseline's own one-off (often a fine-tune) is spent either way
        saving = base["joules_per_ticket"] - row["joules_per_ticket"]
        ci = pair_spread(rows_by_variant, baseline, row["variant"])  # paired where both were measured interleaved
        tickets = break_even_tickets(extra, row["joules_per_ticket"], base["joules_per_ticket"])
        rows.append({"variant": row["variant"], "joules_per_ticket": row["joules_per_ticket"], **one_off,
                     "one_off_beyond_baseline_j": extra,
                     "baseline_one_off_unknown": one_offs[baseline]["one_off_unknown"],
                     "saving_j_per_ticket": saving, "saving_ci95": ci,
                     "within_noise": row["variant"] != baseline and saving_within_noise(saving, ci),
                     "break_even_tickets": 0.0 if row["variant"] == baseline else tickets,
                     "payback_days": (0.0 if row["variant"] == baseline else tickets) / tickets_per_day,
                     **per_thousand(row["joules_per_ticket"], price_per_kwh, grid_g_per_kwh)})
    return pd.DataFrame(rows)


def _one_off(row, records: list[dict]) -> dict:
    """A lifecycle row's one-off energy: its steps' records (one_off_joules), or a classical reference's fitting."""
    if isinstance(row.get("spec"), dict):
        one_off = one_off_joules(records, row["spec"])
    else:
        one_off = {"compression_j": row.get("one_off_j", math.nan), "finetune_j": 0.0,
                   "one_off_unknown": "" if math.isfinite(row.get("one_off_j", math.nan)) else "no fitting energy"}
    return {**one_off, "one_off_j": one_off["compression_j"] + one_off["finetune_j"]}


def energy_by_phase(table):
    """kJ per notebook (rows, in run order) and phase (columns), summed over every record that carries energy."""
    measured = table.dropna(subset=["joules"])
    return measured.pivot_table(index="notebook", columns="phase", values="joules", aggfunc="sum").sort_index() / 1000
