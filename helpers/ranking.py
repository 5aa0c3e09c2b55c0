"""The paper's ranking R = w*phi + (1-w)*rho, the sweep over w, and Pareto fronts.

Our normalisation (the paper does not publish one): both axes are the share of the best *candidate* on that axis,
so they sit on the same scale and neither decides the ranking by its range alone.
- phi (energy efficiency) = the candidates' lowest J/ticket / this variant's J/ticket: the most efficient scores 1,
  one that costs twice as much scores 0.5.
- rho (task quality) = the mean over the tasks of this variant's quality / the candidates' best quality: the best
  scores 1 on each task, so both tasks weigh equally.
Candidates are the LLM variants that do the task (all LLM variants when none does). A variant flagged "does not do
the task" is ranked after every candidate whatever its R, so it is never the one recommended.

R compares point estimates, so an energy difference inside the measured spread can lift a worse variant above a
better one. The spread is the repeats' interval widened by the drift between cells (task_table: with_cell_drift):
the machine's speed changes between notebook runs by more than one cell's repeats show, and two variants that did
the same work measure how much; such variants share their mean J per ticket. Notebook 7 therefore measures the
variants again, interleaved (task_table(interleaved=True)): then the spread of two variants is paired over the
rounds (pair_spread), widened by the gap identical work still measured. Given paired comparisons on the same
tickets (`paired`), a candidate is *outranked* by another candidate when it saves no energy beyond the spread of
the two (paired, else the 95 % half-widths in quadrature) and is either significantly worse on a task (and better on none) or a
compressed or re-served copy of it (its `parent`) that is not significantly better: its one-off work bought
nothing measurable. Two variants that run the same dense kernels (a fine-tuned model and its pruned copies: zeros
in dense weights) do the same work per ticket, so neither saves energy over the other whatever was measured.
Outranked candidates are ranked after the others and are not recommended; `outranked_by` names who outranks them.
Classical systems (`llm` False) are reference points: their phi and rho are shown on the same scale (phi above 1
means cheaper than every candidate) but they get no R.
Both are "higher is better", so R is too.
"""
from __future__ import annotations

import numpy as np


def rank(table, w: float = 0.5, energy: str = "joules_per_ticket", quality=("macro_f1",), paired=None):
    """Add phi, rho, R, `does_task`, `outranked_by` and `recommendable` to a table of variants and sort it:
    candidates by R (best first), then the outranked ones (given `paired`: compare() rows), then the LLM variants
    that do not do the task, then the classical references."""
    if not 0 <= w <= 1:
        raise ValueError(f"w must be between 0 and 1, got {w}")
    quality = [quality] if isinstance(quality, str) else list(quality)
    out = table.copy()
    out["llm"] = out["llm"].fillna(True).astype(bool) if "llm" in out else True
    llm = out[out["llm"]]
    if llm[energy].isna().any():
        raise ValueError(f"{energy} is unavailable for {', '.join(llm.loc[llm[energy].isna(), 'variant'])}")
    if (llm[energy] <= 0).any():
        raise ValueError(f"every {energy} must be > 0 to compute energy efficiency")
    works = out["does_task"].fillna(True).astype(bool) if "does_task" in out else True
    out["does_task"] = out["llm"] & works
    candidates = out[out["does_task"]] if out["does_task"].any() else llm
    out["phi"] = candidates[energy].min() / out[energy]
    out["rho"] = (out[quality] / candidates[quality].max()).mean(axis=1)
    out["R"] = (w * out["phi"] + (1 - w) * out["rho"]).where(out["llm"])
    out["outranked_by"] = "" if paired is None else outranked(out[out["does_task"]], paired, energy).reindex(
        out["variant"], fill_value="").to_numpy()
    out["recommendable"] = out["does_task"] & (out["outranked_by"] == "")
    # 3 candidates, 2 outranked candidates, 1 LLMs that do not do the task, 0 references
    order = out["recommendable"].astype(int) + out["does_task"].astype(int) + out["llm"].astype(int)
    return out.assign(_order=order).sort_values(["_order", "R"], ascending=False).drop(columns="_order").reset_index(drop=True)


def outranked(candidates, paired, energy: str = "joules_per_ticket"):
    """{variant: "the candidates that outrank it, comma-separated"} (see the module's docstring) from compare() rows
    between candidates. The spread of two variants' energies is paired over their rounds where both were measured
    interleaved (pair_spread), else their intervals in quadrature; a missing interval then counts as the drift
    between cells alone (0 when that is unknown too: the point estimates decide)."""
    import pandas as pd

    rows = candidates.set_index("variant")
    spread = rows.get(f"{energy}_ci95", pd.Series(0.0, rows.index)).astype(float)
    spread = spread.fillna(rows.get(f"{energy}_drift_ci95", pd.Series(0.0, rows.index)).astype(float)).fillna(0.0)
    rows = rows.assign(**{f"{energy}_ci95": spread})  # what pair_spread adds in quadrature when not paired
    joules = rows[energy]
    parents = {v: (s or {}).get("parent") for v, s in rows.get("spec", pd.Series(None, rows.index)).items()}
    by: dict[str, list[str]] = {v: [] for v in rows.index}
    paths = rows["compute_path"] if "compute_path" in rows else pd.Series(None, rows.index)
    for r in paired.to_dict("records"):
        if r["a"] not in rows.index or r["b"] not in rows.index:
            continue
        verdicts = {r.get("verdict"), r.get("note_verdict")}
        sign = ("better" in verdicts) - ("worse" in verdicts) if {"better", "worse"} - verdicts else 0
        same = same_work(paths[r["a"]], paths[r["b"]])
        limit = pair_spread(rows, r["a"], r["b"], energy)
        for x, y, s in ((r["a"], r["b"], sign), (r["b"], r["a"], -sign)):
            saves = not same and joules[y] - joules[x] > limit
            if not saves and (s < 0 or (s == 0 and parents[x] == y)) and y not in by[x]:
                by[x].append(y)
    return pd.Series({v: ", ".join(ys) for v, ys in by.items()}, dtype=object)


def same_work(path_a, path_b) -> bool:
    """Whether two variants run the same dense kernels on the same model (e.g. a fine-tuned model and its pruned
    copies: zeros in dense weights, adapters merged), so they do the same work per ticket and any difference in
    their measured energy is noise. Not when a sparse kernel ran or an adapter stayed unmerged (more or less work)."""
    if not (isinstance(path_a, str) and isinstance(path_b, str)):
        return False
    engine = [p.split(";")[0].split(" (")[0] for p in (path_a, path_b)]
    other_work = [("unmerged" in p or ("semi-structured 2:4" in p and "N/A" not in p and "failed" not in p))
                  for p in (path_a, path_b)]
    return engine[0] == engine[1] and engine[0].startswith("dense ") and not any(other_work)


def llm_pairs(inference) -> list[tuple[str, str]]:
    """Every two LLM variants of a task_table: the paired comparisons rank() needs to find outranked ones."""
    from itertools import combinations

    return list(combinations(inference["variant"], 2))


def qualities(inference) -> list[str]:
    """The task-quality columns every variant of a task_table has: RCA macro-F1, and note quality where recorded."""
    return [c for c in ("macro_f1", "response_quality") if c in inference and inference[c].notna().all()]


def ranked_records(records: list[dict], w: float):
    """rank() of the LLM variants notebook 6 evaluated in `records`, on both tasks where every variant has both."""
    from helpers.results import records_table

    inference = task_table(records_table(records))
    return rank(inference, w, quality=qualities(inference))


def top_fine_tuned(ranked, k: int) -> list[str]:
    """The k best fine-tuned variants (dense, with an adapter of their own) in a ranking: stage 2 prunes these.
    Those that do the task come first (rank's order); one flagged "does not do the task" is taken only when fewer
    do (a smoke run's few steps), and notebook 7 shows the flag beside it."""
    tuned = ranked["spec"].map(lambda s: s["finetune"] != "none" and s["method"] == "none" and not s.get("parent"))
    return list(ranked.loc[ranked["llm"] & tuned, "variant"][:k])


def sweep_w(table, steps: int = 21, **kwargs):
    """R of every LLM variant for w from 0 to 1; one row per (w, variant), the winner (best recommendable) flagged."""
    import pandas as pd

    rows = []
    for w in np.linspace(0, 1, steps):
        ranked = rank(table, float(w), **kwargs)
        ranked = ranked[ranked["llm"]]
        rows += [{"w": round(float(w), 4), "variant": v, "R": r, "winner": i == 0 and ok}
                 for i, (v, r, ok) in enumerate(zip(ranked["variant"], ranked["R"], ranked["recommendable"]))]
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


def task_table(table, interleaved: bool = False):
    """One row per evaluated variant (notebook 6): RCA metrics, response-feedback metrics, and joules_per_ticket
    for handling a ticket fully (RCA + resolution note; 95 % half-widths added in quadrature, unknown when either
    is), with the two parts kept as rca_joules_per_ticket and response_joules_per_ticket and what the sum counts
    in energy_counts; variants doing the same work share their mean and every interval holds the drift between
    cells (with_cell_drift).

    When some variant has no response-feedback record (e.g. tickets without resolution notes), the table keeps
    RCA alone for every variant, so energies stay comparable. With `interleaved`, the energies are notebook 7's
    measurement of the same variants in rotation (helpers.interleaved) instead of notebook 6's, each with its
    rounds' J per ticket (joules_per_ticket_rounds) for paired comparisons (pair_spread)."""
    evaluated = table[table["notebook"] == "06_rca_eval"]
    rca, notes = (evaluated[evaluated["phase"] == phase].set_index("variant") for phase in ("inference", "response"))
    columns = ["response_quality", "rougeL", "bleu", "embedding_cosine"]
    out = rca.drop(columns=[c for c in columns if c in rca])
    both = not notes.empty and set(out.index) <= set(notes.index)
    if both:
        out = out.join(notes.reindex(out.index)[columns])
    if interleaved:
        measured = table[table["notebook"] == "07_energy_analysis"]
        rca, notes = (measured[measured["phase"] == phase].set_index("variant") for phase in ("inference", "response"))
        missing = [v for v in out.index if v not in rca.index or (both and v not in notes.index)]
        if missing:
            raise ValueError(f"no interleaved energy for {', '.join(missing)}: run notebook 7's measurement first")
        ids = {m if isinstance(m, str) else None  # None: a record from before measurement ids
               for part in ((rca, notes) if both else (rca,)) for m in part.reindex(out.index).get("measurement", [None])}
        if len(ids) > 1:  # e.g. an execution stopped while writing its records: rounds of two executions never pair
            raise ValueError(f"the interleaved energies come from {len(ids)} executions of notebook 7's measurement; "
                             "run it again so that every variant's rounds are the same rounds")
    energies = _energy_columns(rca.reindex(out.index), notes.reindex(out.index) if both else None,
                               ", measured interleaved" if interleaved else "")
    return with_cell_drift(out.assign(**energies)).reset_index()


def _energy_columns(rca, notes, how: str = "") -> dict:
    """J per ticket from RCA records and, given note records, one note per ticket added: the sum, its 95 %
    half-width (in quadrature; unknown when either is), the parts, the method(s), each round's J per ticket where
    both were measured in the same rounds, and what the sum counts (`how` appended)."""
    import pandas as pd

    j, ci = rca["joules_per_ticket"].astype(float), rca["joules_per_ticket_ci95"].astype(float)
    rounds = rca.get("joules_per_ticket_rounds", pd.Series(None, rca.index, dtype=object))
    repeats = {"energy_repeats": rca["energy_repeats"]} if "energy_repeats" in rca else {}
    if notes is None:
        return {"joules_per_ticket": j, "joules_per_ticket_ci95": ci, "joules_per_ticket_rounds": rounds,
                "energy_method": rca["energy_method"], "energy_counts": "RCA only" + how, **repeats}
    note_rounds = notes.get("joules_per_ticket_rounds", pd.Series(None, notes.index, dtype=object))
    tokens = notes.get("energy_tokens_per_note", pd.Series(np.nan, notes.index)).astype(float)
    same = rca["energy_method"] == notes["energy_method"]
    return {"rca_joules_per_ticket": j, "response_joules_per_ticket": notes["joules_per_ticket"].astype(float),
            "joules_per_ticket": j + notes["joules_per_ticket"].astype(float),
            "joules_per_ticket_ci95": np.hypot(ci, notes["joules_per_ticket_ci95"].astype(float)),  # unknown stays NaN
            "joules_per_ticket_rounds": [[a + b for a, b in zip(x, y)] if _rounds(x) and _rounds(y) and len(x) == len(y)
                                         else None for x, y in zip(rounds, note_rounds)],
            "energy_method": rca["energy_method"].where(same, rca["energy_method"] + " + " + notes["energy_method"]),
            **repeats,
            "energy_counts": [(f"RCA + one note of {n:.0f} tokens" if n == n else "RCA + one note (natural length)") + how
                              for n in tokens]}


def _rounds(value) -> bool:
    return isinstance(value, (list, tuple)) and len(value) > 0


def pair_spread(rows, x: str, y: str, energy: str = "joules_per_ticket") -> float:
    """95 % half-width of the difference in `energy` between variants x and y of `rows` (indexed by variant): paired
    over the rounds when both were measured in the same rounds (interleaved), widened by both variants' drift terms;
    else their two intervals ({energy}_ci95) in quadrature, NaN when either is unknown."""
    from helpers.energy import paired_ci95

    def value(column: str, v: str, default):
        got = rows.at[v, column] if column in rows else None
        return default if got is None else got

    paired = np.hypot(paired_ci95(value(f"{energy}_rounds", x, None), value(f"{energy}_rounds", y, None)),
                      np.hypot(float(value(f"{energy}_drift_ci95", x, 0.0)), float(value(f"{energy}_drift_ci95", y, 0.0))))
    if np.isfinite(paired):
        return float(paired)
    return float(np.hypot(float(value(f"{energy}_ci95", x, np.nan)), float(value(f"{energy}_ci95", y, np.nan))))


def same_work_families(table, energy: str = "joules_per_ticket") -> list[list[str]]:
    """The groups of two or more variants of `table` (indexed by variant) that do the same work (same_work) and
    were measured alike (same energy method and energy counts) with a finite `energy`."""
    if "compute_path" not in table:
        return []
    alike = [c for c in ("energy_method", "energy_counts") if c in table]
    families: list[list[str]] = []
    for v in table.index[np.isfinite(table[energy].astype(float))]:
        family = next((f for f in families if same_work(table.at[f[0], "compute_path"], table.at[v, "compute_path"])
                       and all(table.at[f[0], c] == table.at[v, c] for c in alike)), None)
        if family is None:
            families.append([v])
        else:
            family.append(v)
    return [f for f in families if len(f) > 1]


def cell_drift(table, families: list[list[str]], energy: str = "joules_per_ticket") -> tuple[float, str]:
    """How far the machine's speed drifted between the notebook runs (cells) that measured `table`'s variants (indexed
    by variant), which one cell's repeats cannot show: the largest difference in `energy` between two variants of a
    same-work family (same_work_families), as a share of their mean, and which two. (NaN, "") when there is none."""
    from itertools import combinations

    j = table[energy].astype(float)
    gaps = [(abs(j[a] - j[b]) / ((j[a] + j[b]) / 2), f"{a} and {b}") for family in families
            for a, b in combinations(family, 2)]
    return max(gaps) if gaps else (np.nan, "")


def with_cell_drift(table):
    """`table` (indexed by variant) with what the drift between cells means for its energies.

    - Variants that do the same work (same_work_families) take their family's mean J per ticket (and mean parts and
      rounds):
      one cell's reading of identical work is no better than another's, and a shared figure keeps one of them from
      "saving" energy over the other. Their own readings stay in measured_joules_per_ticket; energy_pooled_over names
      the family.
    - Each J-per-ticket 95 % half-width (the repeats', kept as joules_per_ticket_repeats_ci95) is widened in
      quadrature by cell_drift x J / sqrt(2) (joules_per_ticket_drift_ci95), so that two variants' intervals
      together span the largest gap seen between identical work. A single measurement's interval stays unknown.
      The drift and its pair are in cell_drift and cell_drift_pair; without a same-work pair, energies and intervals
      stay as measured."""
    families = same_work_families(table)
    drift, pair = cell_drift(table, families)
    out = table.assign(measured_joules_per_ticket=table["joules_per_ticket"], energy_pooled_over="",
                       joules_per_ticket_repeats_ci95=table["joules_per_ticket_ci95"], cell_drift=drift,
                       cell_drift_pair=pair)
    parts = [c for c in ("joules_per_ticket", "rca_joules_per_ticket", "response_joules_per_ticket") if c in out]
    for family in families:
        for part in parts:  # a part unknown for one member stays unknown for all: never a sibling's figure
            out.loc[family, part] = out.loc[family, part].astype(float).mean(skipna=False)
        if "joules_per_ticket_rounds" in out:  # and the mean of each round, where all were measured in the same rounds
            rounds = out.loc[family, "joules_per_ticket_rounds"].tolist()
            same = all(_rounds(r) and len(r) == len(rounds[0]) for r in rounds)
            for v in family:
                out.at[v, "joules_per_ticket_rounds"] = np.mean(rounds, axis=0).tolist() if same else None
        out.loc[family, "energy_pooled_over"] = ", ".join(family)
    if np.isfinite(drift):
        out["joules_per_ticket_drift_ci95"] = drift * out["joules_per_ticket"].astype(float) / np.sqrt(2)
        out["joules_per_ticket_ci95"] = np.hypot(out["joules_per_ticket_ci95"].astype(float),  # unknown stays NaN
                                                 out["joules_per_ticket_drift_ci95"])
    return out


def classical_references(table, inference, classifiers=("tfidf-logreg", "minilm-logreg"),
                         retrieval: str = "retrieval-tfidf"):
    """Notebook 2's classical systems as rows shaped like task_table's (`llm` False): each classifier's RCA and, when
    `inference` carries both tasks, the retrieved notes of the most similar training ticket, their energies added
    the same way. Their one-off energy is the fitting (`training_joules`)."""
    import pandas as pd

    baseline = table[table["notebook"] == "02_baseline"].set_index(["phase", "variant"])
    both = "response_quality" in inference
    rows = []
    for name in classifiers:
        if ("inference", name) not in baseline.index or (both and ("response", retrieval) not in baseline.index):
            continue
        rca = baseline.loc[("inference", name)]
        row = {**rca.to_dict(), "variant": name, "llm": False, "compute_path": rca["compute_path"], "spec": None,
               "one_off_j": rca.get("training_joules", np.nan), "energy_counts": "RCA only"}
        if both:
            notes = baseline.loc[("response", retrieval)]
            row.update({c: notes[c] for c in ("response_quality", "rougeL", "bleu", "embedding_cosine")},
                       variant=f"{name} + {retrieval}", rca_joules_per_ticket=rca["joules_per_ticket"],
                       response_joules_per_ticket=notes["joules_per_ticket"],
                       joules_per_ticket=rca["joules_per_ticket"] + notes["joules_per_ticket"],
                       joules_per_ticket_ci95=np.hypot(*(np.nan if part.get("joules_per_ticket_ci95") is None
                                                         else float(part["joules_per_ticket_ci95"]) for part in (rca, notes))),
                       energy_method=rca["energy_method"] if rca["energy_method"] == notes["energy_method"]
                       else f"{rca['energy_method']} + {notes['energy_method']}",
                       one_off_j=row["one_off_j"] + notes.get("training_joules", np.nan),
                       energy_counts="RCA + one retrieved note")
        rows.append(row)
    return pd.DataFrame(rows)


def per_ticket(records: list[dict], phase: str, field: str) -> dict[str, dict]:
    """{system: {ticket id: value}} from the records that carry per-ticket details: RCA predictions (phase
    "inference", field "predictions") or note quality (phase "response", field "note_quality"), of notebook 2's
    baselines and notebook 6's variants."""
    return {r["variant"]: dict(zip(r["ticket_ids"], r[field])) for r in records
            if r["phase"] == phase and field in r and r["notebook"] in ("02_baseline", "06_rca_eval")}


def compare(records: list[dict], truth: dict[str, str], labels: list[str], pairs, seed: int = 0):
    """Paired comparisons "a minus b" on the tickets both scored, one row per (a, b) pair: the RCA macro-F1 and
    accuracy differences with 95 % intervals where both classified tickets, and the note-quality difference where
    both wrote notes (NaN otherwise). `truth` maps ticket id to root cause."""
    import pandas as pd

    from helpers import intervals

    rca, notes = per_ticket(records, "inference", "predictions"), per_ticket(records, "response", "note_quality")
    rows = []
    for a, b in pairs:
        row = {"a": a, "b": b}
        if a in rca and b in rca:
            ids = [i for i in rca[a] if i in rca[b]]
            row.update(tickets=len(ids), **intervals.compare_predictions(
                [truth[i] for i in ids], [rca[a][i] for i in ids], [rca[b][i] for i in ids], labels, seed))
            row["verdict"] = intervals.verdict(row["macro_f1_diff_ci_low"], row["macro_f1_diff_ci_high"])
        if a in notes and b in notes:
            ids = [i for i in notes[a] if i in notes[b]]
            gap = intervals.compare_means([notes[a][i] for i in ids], [notes[b][i] for i in ids], seed)
            row.update({f"note_quality_{k}": v for k, v in gap.items()}, note_tickets=len(ids),
                       note_verdict=intervals.verdict(gap["diff_ci_low"], gap["diff_ci_high"]))
        rows.append(row)
    return pd.DataFrame(rows)


def compare_in_profile(profile: str, pairs, records: list[dict] | None = None, seed: int = 0):
    """compare() on a profile's records, with the truth and labels of its test split."""
    from helpers.paths import data_dir
    from helpers.results import load_records
    from helpers.ticket_files import load_labels, load_split

    truth = {t["ticket_id"]: t["root_cause"] for t in load_split(data_dir(profile), "test")}
    records = load_records(profile) if records is None else records
    return compare(records, truth, load_labels(data_dir(profile)), pairs, seed)


def comparison_pairs(inference, classical=("tfidf-logreg", "minilm-logreg"), retrieval: str = "retrieval-tfidf"):
    """The pairs the analysis reports: every evaluated variant against the classical classifiers (RCA) and
    against the retrieval baseline (notes), and every fine-tuned variant against the same model without
    fine-tuning, where that was evaluated."""
    specs = dict(zip(inference["variant"], inference["spec"]))
    pairs = [(v, baseline) for v in specs for baseline in (*classical, retrieval)]
    for name, spec in specs.items():
        base = {**spec, "finetune": "none"}
        pairs += [(name, other) for other, s in specs.items() if spec["finetune"] != "none" and s == base]
        if spec.get("parent") in specs:  # a fine-tuned model served at another precision, or pruned: against itself
            pairs.append((name, spec["parent"]))
    return list(dict.fromkeys(pairs))


def difference_text(row, prefix: str = "macro_f1_diff", verdict: str = "verdict") -> str:
    """'+0.15 [-0.00, +0.24] no significant difference' from a compare() row: a minus b, its paired 95 % interval
    and what that interval supports."""
    return (f"{row[prefix]:+.2f} [{row[prefix + '_ci_low']:+.2f}, {row[prefix + '_ci_high']:+.2f}] "
            f"{row[verdict]}")


def paired_overview(paired, references=("tfidf-logreg", "minilm-logreg", "retrieval-tfidf")):
    """compare()'s rows as a reader's table: one row per variant, one column per system it was compared with — the
    RCA macro-F1 difference against each classifier, the note-quality difference against the retrieval baseline
    (notes only), and against its parent or its base model (named in the cell) — each with its paired 95 % interval."""
    import pandas as pd

    rows: dict[str, dict] = {}
    for r in paired.to_dict("records"):
        row = rows.setdefault(r["a"], {"variant": r["a"]})
        rca = isinstance(r.get("verdict"), str)
        if not rca and not isinstance(r.get("note_verdict"), str):
            continue  # neither task was scored by both
        text = difference_text(r) if rca else difference_text(r, "note_quality_diff", "note_verdict")
        if r["b"] in references:
            row[f"{'macro-F1' if rca else 'note quality'} minus {r['b']}"] = text
        else:
            key = "macro-F1 minus its parent or base"
            row[key] = "; ".join(filter(None, [row.get(key), f"{r['b']}: {text}"]))
    return pd.DataFrame(rows.values()).fillna("")


def retention_table(inference, paired):
    """Stage 2: every pruned copy of a fine-tuned parent, as pruned and after its recovery fine-tune, with its
    macro-F1, the retention (macro-F1 as % of the parent's) and the paired 95 % interval of the difference to the
    parent on the same tickets (`paired`: compare() rows with these pairs), expressed in % of the parent's too."""
    import pandas as pd

    rows, by_variant = [], inference.set_index("variant")
    diffs = paired.set_index(["a", "b"])
    for name, spec in zip(inference["variant"], inference["spec"]):
        if not spec.get("parent") or spec["method"] == "none" or (name, spec["parent"]) not in diffs.index:
            continue
        parent, d = by_variant.loc[spec["parent"], "macro_f1"], diffs.loc[(name, spec["parent"])]
        rows.append({"parent": spec["parent"], "method": spec["method"], "pattern": spec["pattern"],
                     "sparsity": spec["sparsity"], "stage": "recovered" if spec["finetune"] != "none" else "as pruned",
                     "variant": name, "macro_f1": by_variant.loc[name, "macro_f1"],
                     "retention_pct": 100 * by_variant.loc[name, "macro_f1"] / parent,
                     "retention_ci_low_pct": 100 * (parent + d["macro_f1_diff_ci_low"]) / parent,
                     "retention_ci_high_pct": 100 * (parent + d["macro_f1_diff_ci_high"]) / parent,
                     "verdict": d["verdict"], "task_check": by_variant.loc[name, "task_check"],
                     "joules_per_ticket": by_variant.loc[name, "joules_per_ticket"]})
    columns = ["parent", "method", "pattern", "sparsity", "stage", "variant", "macro_f1", "retention_pct",
               "retention_ci_low_pct", "retention_ci_high_pct", "verdict", "task_check", "joules_per_ticket"]
    return pd.DataFrame(rows, columns=columns).sort_values(["parent", "method", "pattern", "sparsity", "stage"],
                                                           ignore_index=True)
