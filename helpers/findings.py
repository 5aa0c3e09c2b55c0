"""The Finding that ends each notebook: two to five sentences answering its Question, built from this run's
records (numbers with intervals and the energy method), never typed. Each function returns Markdown text."""
from __future__ import annotations

from helpers.lifecycle import short_method
from helpers.ranking import compare_in_profile
from helpers.results import load_record, load_records

SMOKE = " *Smoke profile: too few tickets and steps to conclude anything; it checks the plumbing.*"


def _ci(m: dict, metric: str = "macro_f1") -> str:
    return f"{m[metric]:.2f} [{m[metric + '_ci_low']:.2f}, {m[metric + '_ci_high']:.2f}]"


def _gap(row, prefix: str = "macro_f1_diff", verdict: str = "verdict") -> str:
    """'**better** (difference +0.12, paired 95 % interval [+0.03, +0.20])' from a ranking.compare row."""
    return (f"**{row[verdict]}** (difference {row[prefix]:+.2f}, paired 95 % interval "
            f"[{row[prefix + '_ci_low']:+.2f}, {row[prefix + '_ci_high']:+.2f}])")


def _compare(profile: str, pairs) -> dict:
    table = compare_in_profile(profile, pairs)
    return {(row["a"], row["b"]): row for row in table.to_dict("records")}


def _energy(m: dict) -> str:
    if m.get("joules_per_ticket") is None:
        return "energy unavailable"
    return f"{m['joules_per_ticket']:.3g} J per ticket ({short_method(m['energy_method'])})"


def _end(profile: str, text: str) -> str:
    return text + (SMOKE if profile == "smoke" else "")


def baseline(profile: str) -> str:
    """Notebook 2: do we need an LLM? Classical against the base LLM on RCA, retrieval against writing notes."""
    records = [r for r in load_records(profile) if r["notebook"] == "02_baseline"]
    rca = {r["variant"]: r["metrics"] for r in records if r["phase"] == "inference"}
    notes = {r["variant"]: r["metrics"] for r in records if r["phase"] == "response"}
    rule = load_record(profile, "02_baseline", "scoring", "zero-shot")["metrics"]["chosen_rule"]
    prompts = [v for v in rca if v.startswith("fp32-")]
    pairs = _compare(profile, [(v, "tfidf-logreg") for v in prompts] + [("fp32-zero-shot", "retrieval-tfidf")])
    tfidf, m = rca["tfidf-logreg"], rca[prompts[0]]
    text = (f"On {m['n_tickets']} test tickets ({m['n_classes_in_tickets']} classes), TF-IDF + logistic regression "
            f"reaches macro-F1 {_ci(tfidf)} at {_energy(tfidf)}, and MiniLM + logistic regression {_ci(rca['minilm-logreg'])}. "
            f"The base LLM, scored with the rule chosen on validation ({rule}):")
    for v in prompts:
        text += (f" {v.removeprefix('fp32-')} {_ci(rca[v])}, {rca[v]['task_check']}, compared with TF-IDF on the same "
                 f"tickets {_gap(pairs[(v, 'tfidf-logreg')])}, at {_energy(rca[v])};")
    if "retrieval-tfidf" in notes:
        row = pairs[("fp32-zero-shot", "retrieval-tfidf")]
        text += (f" resolution notes written by the base LLM, compared with the note of the most similar training "
                 f"ticket: {_gap(row, 'note_quality_diff', 'note_verdict')} ({int(row['note_tickets'])} tickets, note "
                 f"quality {notes['fp32-zero-shot']['response_quality']:.2f} against "
                 f"{notes['retrieval-tfidf']['response_quality']:.2f}).")
    if all(pairs[(v, "tfidf-logreg")]["verdict"] == "worse" for v in prompts):
        text += " Without fine-tuning, a classical model is the better RCA tool here, for a sliver of the energy."
    return _end(profile, text)


def finetune(profile: str, variant: str) -> str:
    """Notebook 5: did validation macro-F1 rise, and what did an epoch cost?"""
    record = load_record(profile, "05_finetune", "finetune", variant)
    m, history = record["metrics"], record["validation"]
    rose = "rose" if m["best_val_macro_f1"] > history[0]["val_macro_f1"] else "did not rise"
    energy = (f"{m['joules_per_epoch'] / 1000:.3g} kJ per epoch and {m['joules_per_training_token']:.3g} J per training "
              f"token ({short_method(m['energy_method'])})" if m["joules_per_epoch"] is not None else "energy unavailable")
    return _end(profile, (
        f"Validation macro-F1 of {variant} {rose}: {history[0]['val_macro_f1']:.2f} after epoch {history[0]['epoch']:g}, "
        f"best {m['best_val_macro_f1']:.2f} after epoch {m['best_epoch']:g} (that adapter is kept). {m['steps']} steps over "
        f"{m['epochs']:.2g} epochs took {m['seconds'] / 60:.1f} min ({m['seconds_per_epoch'] / 60:.1f} min per epoch, "
        f"validation included: {m['validation_seconds']:.0f} s in all), {energy}. Notebook 6 scores it on the test split."))


def evaluation(profile: str, variant: str) -> str:
    """Notebook 6: how well does this variant do the task, against TF-IDF, at what energy per ticket?"""
    m = load_record(profile, "06_rca_eval", "inference", variant)["metrics"]
    row = _compare(profile, [(variant, "tfidf-logreg")])[(variant, "tfidf-logreg")]
    return _end(profile, (
        f"{variant} finds the root cause of {m['accuracy']:.0%} of {m['n_tickets']} test tickets "
        f"({m['n_classes_in_tickets']} classes): macro-F1 {_ci(m)} under scoring rule {m['scoring_rule']} (raw scores "
        f"{m['raw_macro_f1']:.2f}); {m['task_check']} (most frequent label on {m['top_label_share']:.0%} of tickets; "
        f"majority-class macro-F1 {m['majority_macro_f1']:.2f}). Compared with TF-IDF + logistic regression on the "
        f"same tickets: {_gap(row)}. RCA costs {_energy(m)}."))


def analysis(profile: str, ranked, paired, w: float, summary, classical=("tfidf-logreg", "minilm-logreg")) -> str:
    """Notebook 7: the recommended LLM variant at w (quality with interval, energy against the baseline, one-off
    energy and payback), the variants that do not do the task, and whether a classical model would do as well."""
    llm = ranked[ranked.llm]
    flagged = llm.loc[~llm.recommendable, "variant"].tolist()
    text = ""
    if flagged:
        text = (f"{len(flagged)} of {len(llm)} LLM variants do not do the task ({', '.join(flagged)}); they are never "
                "recommended, whatever their energy. ")
    if not llm.recommendable.any():
        return _end(profile, text + "No LLM variant does the task: a classical model (notebook 2) is the honest choice.")
    best = llm[llm.recommendable].iloc[0]
    row = summary.set_index("variant").loc[best.variant]
    vs = [c for c in row.index if c.startswith("J per ticket vs ")][0]
    text += (f"At w = {w}, the recommended LLM variant is **{best.variant}** (R {best.R:.2f}): macro-F1 "
             f"{best.macro_f1:.2f} [{best.macro_f1_ci_low:.2f}, {best.macro_f1_ci_high:.2f}], {_energy(best)}; "
             f"{vs}: {row[vs]}; one-off energy {row['one-off kJ']:g} kJ, payback {row['payback']}.")
    gaps = {r["b"]: r for r in paired[paired.a == best.variant].to_dict("records") if r["b"] in classical}
    for b, r in gaps.items():
        text += f" Against {b} on the same tickets: {_gap(r)}."
    energy = {v.split(" + ")[0]: j for v, j in zip(ranked.variant, ranked.joules_per_ticket)}
    would_do = [b for b, r in gaps.items() if r["verdict"] in ("worse", "no significant difference")
                and energy.get(b, float("inf")) < best.joules_per_ticket]
    if would_do:
        text += (f" A classical model ({', '.join(would_do)}) does at least as well on these tickets for less energy "
                 f"per ticket ({', '.join(f'{energy[b]:.2g} J' for b in would_do)}): it would do.")
    return _end(profile, text)
