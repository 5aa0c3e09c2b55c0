"""The Finding that ends each notebook: two to five sentences answering its Question, built from this run's
records (numbers with intervals and the energy method), never typed. Each function returns Markdown text."""
from __future__ import annotations

from collections import Counter

from helpers import paths, ticket_files
from helpers.energy import best_reading
from helpers.report import short_method
from helpers.ranking import compare_in_profile
from helpers.results import load_record, load_records

SMOKE = " *Smoke-sized profile: too few tickets and steps to conclude anything; it checks the plumbing.*"


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
    return text + (SMOKE if "smoke" in profile else "")  # smoke, gpu-smoke and the tests' copies


def _joules(record: dict) -> str:
    reading = best_reading(record["energy"])
    return f"{reading['joules']:.3g} J ({short_method(reading['method'])})" if reading else "energy unavailable"


def data(profile: str) -> str:
    """Notebook 1: which tickets, how balanced, how hard for a keyword rule and a classical classifier."""
    m = load_record(profile, "01_data", "data", "tickets")["metrics"]
    counts = Counter(t["root_cause"] for t in ticket_files.load_split(paths.data_dir(profile), "train"))
    top, rare = counts.most_common()[0], counts.most_common()[-1]
    return _end(profile, (
        f"{m['n_train']} training, {m['n_validation']} validation and {m['n_test']} test tickets over {m['n_classes']} "
        f"root causes. In the training split the most frequent, {top[0]}, is {top[1] / sum(counts.values()):.0%} of "
        f"it, the rarest, {rare[0]}, {rare[1] / sum(counts.values()):.0%}. On the test split a keyword rule reaches macro-F1 "
        f"{m['keyword_rule_macro_f1']:.2f} and TF-IDF + logistic regression {m['tfidf_logreg_macro_f1']:.2f} "
        f"(point estimates; notebook 2 gives their intervals): the bar an LLM variant has to clear."))


def pruning(profile: str, variant: str) -> str:
    """Notebook 3: how much perplexity this pruning run cost, at what one-off energy, and whether it saves anything."""
    record = load_record(profile, "03_prune", "compression", variant)
    m, spec = record["metrics"], record["spec"]
    share = (f"{m['sparsity_min']:.0%}" if round(m["sparsity_min"], 2) == round(m["sparsity_max"], 2) else
             f"{m['sparsity_min']:.0%} to {m['sparsity_max']:.0%}")
    checked = "the 2:4 pattern" if spec["pattern"] == "2:4" else "the share of zeros"
    return _end(profile, (
        f"{spec['method'].capitalize()} pruning ({spec['pattern']}) zeroed {share} of every block linear's weights "
        f"({checked} {'verified' if m['pattern_verified'] else 'NOT verified'} in every layer). Perplexity "
        f"on held-out tickets went from {m['perplexity_dense']:.1f} (dense) to {m['perplexity']:.1f} "
        f"({m['perplexity'] / m['perplexity_dense']:.1f}×). The pruning run"
        f"{', calibration included,' if spec['method'] == 'wanda' else ''} took "
        f"{_joules(record)}. The zeros are kept in dense weights ({record['compute_path'].removesuffix(' (pruning run)')}): "
        f"notebook 4 measures speed, and notebook 6 what is left of the task and which kernel serves it."))


def quantization(profile: str, variant: str) -> str:
    """Notebook 4: footprint, speed and perplexity of this variant against fp32's, with the kernel that ran."""
    record = load_record(profile, "04_quantize", "compression", variant)
    m = record["metrics"]
    if not m:
        return _end(profile, f"{variant} does not run on this machine: {record['compute_path']}.")
    try:
        ref = load_record(profile, "04_quantize", "compression", "fp32")["metrics"]
    except FileNotFoundError:
        ref = {}
    plain = (f", a plain fp32 load of the same weights {m['plain_load_joules']:.3g} J: the one-off conversion is the "
             "difference" if m.get("plain_load_joules") is not None else "")

    def against(key, fmt, scale=1):
        return f" (fp32: {ref[key] / scale:{fmt}})" if ref.get(key) and variant != "fp32" else ""

    return _end(profile, (
        f"{variant} runs on {record['compute_path']}. Its weights take {m['weight_bytes'] / 1e6:.0f} MB in memory"
        f"{against('weight_bytes', '.0f', 1e6)}, perplexity on held-out tickets is {m['perplexity']:.1f}"
        f"{against('perplexity', '.1f')}, a forward pass over {m['latency_batch_tokens']} tokens takes "
        f"{m['latency_s_median']:.3g} s{against('latency_s_median', '.3g')} and greedy generation "
        f"{m['generate_tokens_per_s']:.3g} tokens/s{against('generate_tokens_per_s', '.3g')}. Loading at this "
        f"precision took {_joules(record)}{plain}. Whether the task survives is notebook 6's question."))


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
        text += " Without fine-tuning, a classical model is the better RCA tool here"
        llm_j = [rca[v]["joules_per_ticket"] for v in prompts if rca[v].get("joules_per_ticket")]
        text += (f", at {tfidf['joules_per_ticket'] / min(llm_j):.2g}x the base LLM's energy per ticket."
                 if llm_j and tfidf.get("joules_per_ticket") is not None else ".")
    return _end(profile, text)


def finetune(profile: str, variant: str) -> str:
    """Notebook 5: did validation macro-F1 rise, and what did an epoch cost?"""
    record = load_record(profile, "05_finetune", "finetune", variant)
    m, history = record["metrics"], record["validation"]
    energy = (f"{m['joules_per_epoch'] / 1000:.3g} kJ per epoch and {m['joules_per_training_token']:.3g} J per training "
              f"token ({short_method(m['energy_method'])})" if m["joules_per_epoch"] is not None else "energy unavailable")
    if not history:
        return _end(profile, (
            f"{variant} trained for its fine-tuning energy only: {m['steps']} steps ({m['epochs']:.2g} epochs) took "
            f"{m['seconds'] / 60:.1f} min, {energy}. Not validated and not evaluated: so few steps do not teach the task."))
    rose = "rose" if m["best_val_macro_f1"] > history[0]["val_macro_f1"] else "did not rise"
    return _end(profile, (
        f"Validation macro-F1 of {variant} {rose}: {history[0]['val_macro_f1']:.2f} after epoch {history[0]['epoch']:g}, "
        f"best {m['best_val_macro_f1']:.2f} after epoch {m['best_epoch']:g} (that adapter is kept). {m['steps']} steps over "
        f"{m['epochs']:.2g} epochs took {m['seconds'] / 60:.1f} min, {m['validation_seconds']:.0f} s of it validation; "
        f"training alone {m['seconds_per_epoch'] / 60:.1f} min per epoch, {energy} (validation's share taken off by "
        f"time). Notebook 6 scores it on the test split."))


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


SIXTEEN_BIT = ("bf16", "fp16")


def versus_paper(ranked, records: list[dict]) -> str:
    """Whether this run agrees with the paper's two findings (arXiv 2503.17783): 16-bit gives the best balance in
    fine-tuning and in inference; 16-bit with 2:4 pruning is the best overall. From the ranking (`ranked`, best R
    first), the fine-tuning records and the kernels that ran; where it disagrees, it says why."""
    candidates = ranked[ranked.llm & ranked.recommendable]
    tuned = sorted((r["metrics"]["joules_per_training_token"], r["spec"]["precision"]) for r in records
                   if r["notebook"] == "05_finetune" and r["metrics"].get("joules_per_training_token") is not None
                   and (r.get("spec") or {}).get("method", "none") == "none")  # stage 1's, not stage 2's recoveries
    text = "Against the paper's findings: "
    if tuned:
        cheapest = tuned[0][1]
        text += (f"fine-tuning costs the fewest joules per training token at {cheapest} ("
                 + ", ".join(f"{p} {j:.3g} J" for j, p in tuned) + ("), as the paper found for 16-bit; " if cheapest
                                                                    in SIXTEEN_BIT else "), not at 16-bit as in the paper; "))
    dense = candidates[candidates.method == "none"]
    if dense.empty:
        text += "no unpruned LLM variant does the task, so the inference finding cannot be checked. "
    else:
        top = dense.iloc[0]
        text += (f"in inference the best-ranked unpruned variant is {top.variant} ({top.precision}), "
                 + ("16-bit as in the paper. " if top.precision in SIXTEEN_BIT else "not 16-bit as in the paper. "))
    two_four = ranked[ranked.llm & (ranked.pattern == "2:4")]
    if not candidates.empty and candidates.iloc[0].pattern == "2:4" and candidates.iloc[0].precision in SIXTEEN_BIT:
        return text + f"Overall, {candidates.iloc[0].variant} (16-bit, 2:4) ranks first, as in the paper."
    if two_four.empty:
        return text + "This profile has no 2:4 variant, so the paper's overall finding (16-bit + 2:4) is not tested."
    sparse = [k for k in two_four.compute_path if "semi-structured 2:4 cuda" in k and "failed" not in k]
    why = ", ".join(f"{r.variant} {'does the task' if r.does_task else 'does not do the task'}"
                    for r in two_four.itertuples())
    return text + (f"Overall, no 16-bit 2:4 variant ranks first, unlike the paper: {why}; "
                   + (f"the 2:4 sparse kernel ran ({sparse[0]})." if sparse else
                      f"no 2:4 sparse kernel ran here ({two_four.compute_path.iloc[0]}), so its zeros saved no work."))


def _pruning(method: str, pattern: str, sparsity: float) -> str:
    """'wanda 30 %' or 'wanda 2:4'."""
    return f"{method} {'2:4' if pattern == '2:4' else f'{sparsity * 100:.0f} %'}"


def stage2(retention) -> str:
    """Stage 2 in a sentence per parent: how much of its macro-F1 each pruning kept, as pruned and after recovery,
    with the paired interval (ranking.retention_table)."""
    if retention.empty:
        return ""
    parts = []
    for parent, rows in retention.groupby("parent", sort=False):
        ways = []
        for (method, pattern, sparsity), way in rows.groupby(["method", "pattern", "sparsity"], sort=False):
            kept = "; ".join(f"{r.stage} {r.retention_pct:.0f} % [{r.retention_ci_low_pct:.0f}, "
                             f"{r.retention_ci_high_pct:.0f}] ({r.verdict})" for r in way.itertuples())
            ways.append(f"{_pruning(method, pattern, sparsity)}: {kept}")
        parts.append(f"Stage 2 pruned {parent} (chosen by R on notebook 6's energies, before notebook 7); macro-F1 "
                     f"kept, as % of its own on the same tickets with the paired 95 % interval — " + ", ".join(ways) + ".")
    return " ".join(parts)


def analysis(profile: str, ranked, paired, w: float, summary, records: list[dict] | None = None,
             classical=("tfidf-logreg", "minilm-logreg"), retention=None) -> str:
    """Notebook 7: the recommended LLM variant at w (quality with interval, energy against the baseline, one-off
    energy and payback), the variants that do not do the task, whether a classical model would do as well, what
    stage 2's pruning kept (`retention`), and (given the run's records) how this compares with the paper's findings."""
    text = _recommendation(ranked, paired, w, summary, classical) + " " + drift(ranked)
    if retention is not None and not retention.empty:
        text += " " + stage2(retention)
    return _end(profile, text + (" " + versus_paper(ranked, records) if records is not None else ""))


def drift(ranked) -> str:
    """What the energy intervals hold: whether notebook 7 measured the LLM variants interleaved, and the gap two
    variants doing the same work measured (ranking.with_cell_drift), or that none did."""
    llm = ranked[ranked.llm] if "cell_drift" in ranked else ranked.iloc[:0]
    together = "energy_counts" in llm and len(llm) > 0 and llm.energy_counts.astype(str).str.contains("interleaved").all()
    rounds = max((len(r) for r in llm.get("joules_per_ticket_rounds", []) if isinstance(r, list)), default=0)
    head = (f"Energy was measured interleaved: every LLM variant on the same tickets in {rounds} rounds, in rotation, "
            "so the drift of the machine's speed between notebook runs does not enter the comparisons, and savings "
            "are judged round by round. ") if together else ""
    if llm.empty or not llm.cell_drift.notna().any():
        return head + ("No two LLM variants did the same work, so the noise between identical work was not measured: "
                       "the energy intervals hold the repeats only.")
    row = llm[llm.cell_drift.notna()].iloc[0]
    if together:
        return head + (f"Two variants doing the same work per ticket, {row.cell_drift_pair}, still measured "
                       f"{row.cell_drift:.0%} apart: that gap is added to every interval, and variants doing the same "
                       "work share their mean J per ticket.")
    return (f"Between cells the machine's speed drifted: {row.cell_drift_pair}, which do the same work per ticket, "
            f"measured {row.cell_drift:.0%} apart. LLM variants doing the same work are therefore given their mean J "
            "per ticket, and every LLM variant's J-per-ticket interval includes that drift, so only energy differences "
            "beyond it are stated as savings.")


def _recommendation(ranked, paired, w: float, summary, classical) -> str:
    llm = ranked[ranked.llm]
    flagged = llm.loc[~llm.does_task, "variant"].tolist()
    text = ""
    if flagged:
        text = (f"{len(flagged)} of {len(llm)} LLM variants do not do the task ({', '.join(flagged)}); they are never "
                "recommended, whatever their energy. ")
    if not llm.does_task.any():
        return text + "No LLM variant does the task: a classical model (notebook 2) is the honest choice."
    if not llm.recommendable.any():
        return text + "Every LLM variant that does the task is outranked by another (see the ranking table): no " \
                      "recommendation at this w."
    best = llm[llm.recommendable].iloc[0]
    row = summary.set_index("variant").loc[best.variant]
    vs = [c for c in row.index if c.startswith("J per ticket vs ")][0]
    text += (f"At w = {w}, the recommended LLM variant is **{best.variant}** (R {best.R:.2f}): macro-F1 "
             f"{best.macro_f1:.2f} [{best.macro_f1_ci_low:.2f}, {best.macro_f1_ci_high:.2f}], {_energy(best)}; "
             f"{vs}: {row[vs]}; one-off energy {row['one-off kJ']:g} kJ, payback {row['payback']}.")
    higher = llm[llm.does_task & ~llm.recommendable & (llm.R > best.R)]
    if not higher.empty:
        text += (" Not recommended despite a higher R: " + "; ".join(
            f"{r.variant} (R {r.R:.2f}, outranked by {r.outranked_by})" for r in higher.itertuples())
            + " — each is significantly worse than a variant that outranks it on the same tickets (or a copy of it "
              "that is no better) and saves no energy beyond the measured spread, or runs the same dense kernels, "
              "which do the same work per ticket: its higher R is measurement noise.")
    gaps = {r["b"]: r for r in paired[paired.a == best.variant].to_dict("records") if r["b"] in classical}
    for b, r in gaps.items():
        text += f" Against {b} on the same tickets: {_gap(r)}."
    energy = {v.split(" + ")[0]: j for v, j in zip(ranked.variant, ranked.joules_per_ticket)}
    cheaper = {b: r["verdict"] for b, r in gaps.items() if energy.get(b, float("inf")) < best.joules_per_ticket}
    for verdict, how in (("worse", "is better on these tickets"),  # the verdict is the LLM's against the classical model
                         ("no significant difference", "could not be told apart from it on these tickets")):
        would_do = [b for b, v in cheaper.items() if v == verdict]
        if would_do:
            text += (f" A classical model ({', '.join(would_do)}) {how} for less energy per ticket "
                     f"({', '.join(f'{energy[b]:.2g} J' for b in would_do)}): on this evidence it would do"
                     + ("." if verdict == "worse" else ", though the interval above leaves room for the LLM to be "
                        "somewhat better."))
    return text


# Figure titles that state what the figure shows, from the same tables the figures draw.


def retention_title(stage2) -> str:
    """'After recovery, wanda 30 % keeps 95 % of bf16-lora's macro-F1, wanda 2:4 52 %': the best and the worst
    pruning (after recovery where there was one)."""
    rows = stage2[stage2.stage == "recovered"] if (stage2.stage == "recovered").any() else stage2
    ordered = rows.sort_values("retention_pct", ascending=False)
    best, worst = ordered.iloc[0], ordered.iloc[-1]
    when = "After recovery" if best.stage == "recovered" else "As pruned"
    parent = best.parent if stage2.parent.nunique() == 1 else "its parent"
    text = (f"{when}, {_pruning(best.method, best.pattern, best.sparsity)} keeps {best.retention_pct:.0f} % of "
            f"{parent}'s macro-F1")
    return text + (f", {_pruning(worst.method, worst.pattern, worst.sparsity)} {worst.retention_pct:.0f} %"
                   if len(ordered) > 1 else "")


def winners_title(winners) -> str:
    """'R's winner: bf16-lora@fp32 for w 0–0.15, bf16-lora for w 0.2–1' (ranking.sweep_w's winners by w range)."""
    if winners.empty:
        return "No LLM variant is recommendable at any w"
    return "R's winner: " + ", ".join(f"{v} for w {r['min']:g}–{r['max']:g}" for v, r in winners.iterrows())


def breakeven_title(life, baseline: str) -> str:
    """'Against bf16-lora@fp32, bf16-lora pays back first: after 2,355 tickets', or that none pays back."""
    pays = life[(life.variant != baseline) & ~life.within_noise & life.break_even_tickets.between(0, float("inf"),
                                                                                                 inclusive="left")]
    if pays.empty:
        return f"No variant's saving against {baseline} pays back its one-off energy beyond the measured noise"
    first = pays.sort_values("break_even_tickets").iloc[0]
    n = first.break_even_tickets
    if n == 0:
        return f"Against {baseline}, {first.variant} pays back at once: no one-off energy beyond the baseline's"
    return f"Against {baseline}, {first.variant} pays back first: after {n:,.0f} ticket{'' if round(n) == 1 else 's'}"


def energy_title(phases) -> str:
    """'05_finetune holds 81 % of the measured energy (finetune: 81 %)': the largest notebook and its largest phase
    (lifecycle.energy_by_phase's table)."""
    by_notebook, total = phases.sum(axis=1), phases.to_numpy(na_value=0).sum()
    top = by_notebook.idxmax()
    phase = phases.loc[top].idxmax()
    return (f"{top} holds {100 * by_notebook[top] / total:.0f} % of the measured energy "
            f"({phase}: {100 * phases.loc[top, phase] / total:.0f} %)")
