"""A browsable HTML report of one profile: every executed notebook, every figure, the summary table; and the
manager's summary itself (notebook 7): lifecycle figures put into words a person reads.

Why: a manager opens one file (runs/<profile>/report/index.html) instead of Jupyter. The report must open
offline, from a copied folder or an air-gapped machine, so the notebook pages use nbconvert's lab template
without its CDN scripts (require.js, MathJax, mermaid, widgets); output images are embedded already.

    python -m helpers.report --profile smoke
"""
from __future__ import annotations

import argparse
import html
import math
import shutil
from datetime import datetime, timezone
from pathlib import Path

from helpers.paths import figures_dir, results_dir, runs_dir
from helpers.atomic import write_folder_atomic
from helpers.provenance import git_sha
from helpers.results import load_records, records_table

# The lab template with every block that loads a script from a CDN left empty.
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
RECORD_COLUMNS = ("notebook", "phase", "variant", "compute_path", "macro_f1", "joules", "duration_s", "energy_method")
STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#eef}.note{background:#fff6d5;padding:.6em;border-left:4px solid #e0b000}
figure{display:inline-block;margin:.5em;vertical-align:top}img{max-width:540px;border:1px solid #ddd}"""


def notebook_pages(notebooks: list[Path]) -> list[Path]:
    """Pipeline order: by notebook (01_data .. 07_energy_analysis), then variant."""
    return sorted(map(Path, notebooks), key=lambda p: (p.stem.partition("__")[0], p.stem))


def exporter():
    import jinja2
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab", template_file="offline.html.j2",
                        extra_loaders=[jinja2.DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})])


def summary_table(profile: str) -> tuple[str, list[str]]:
    """The manager summary (summary.csv of 07_energy_analysis) as HTML, else a table of the records;
    with the energy methods found."""
    import pandas as pd

    csv = results_dir(profile) / "summary.csv"
    if csv.exists():
        table, method = pd.read_csv(csv), "energy method"
    else:
        records = records_table(load_records(profile))
        table, method = records[[c for c in RECORD_COLUMNS if c in records]], "energy_method"
    if table.empty:
        return "<p>No summary or result records yet.</p>", []
    methods = sorted(set(table[method].dropna().astype(str))) if method in table else []
    return table.to_html(index=False, na_rep="", border=0), methods


def energy_note(methods: list[str]) -> str:
    from helpers.energy import how_obtained

    return {None: "No energy readings are recorded yet.",
            "modelled": "All energy figures are <b>modelled on CPU</b> (from CPU time and a power model: CodeCarbon's "
                        "TDP table, cross-checked by a fixed power per busy thread), not metered: no power counter "
                        "was readable on this machine. Compare variants with each other, not with a wattmeter.",
            "partly modelled": "Some energy figures are <b>modelled on CPU</b>, not metered; the energy method "
                               "column says which.",
            "metered": "Energy figures are metered (see the energy method column)."}[how_obtained(methods)]


def index_html(profile: str, pages: list[Path], figures: list[Path], table: str, methods: list[str]) -> str:
    esc = html.escape
    links = "\n".join(f'<li><a href="{esc(p.stem)}.html">{esc(p.stem)}</a></li>' for p in pages)
    figs = "\n".join(f'<figure><img src="figures/{esc(f.name)}" alt="{esc(f.stem)}">'
                     f"<figcaption>{esc(f.stem)}</figcaption></figure>" for f in figures)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Study report: {esc(profile)}</title>
<style>{STYLE}</style></head><body>
<h1>Energy vs quality of compressed LLMs: profile <code>{esc(profile)}</code></h1>
<p>Built {when} from commit <code>{esc(git_sha())}</code>.</p>
<h2>Summary</h2>
<p class="note">{energy_note(methods)}</p>
{table}
<h2>Executed notebooks</h2>
<ol id="notebooks">
{links or "<li>No executed notebooks yet.</li>"}
</ol>
<h2>Figures</h2>
{figs or "<p>No figures yet.</p>"}
</body></html>
"""


def build_report(profile: str, notebooks: list[Path] | None = None) -> Path:
    """Write runs/<profile>/report/ (atomically): one HTML page per notebook, figures, index.html."""
    import nbformat

    pages = notebook_pages(notebooks if notebooks is not None else runs_dir(profile).glob("*.ipynb"))
    figures = sorted(figures_dir(profile).glob("*.png"))
    table, methods = summary_table(profile)

    def save(folder: Path) -> None:
        folder.mkdir(parents=True)
        export = exporter()
        for page in pages:
            body, _ = export.from_notebook_node(nbformat.read(page, as_version=4))
            (folder / f"{page.stem}.html").write_text(body, encoding="utf-8")
        (folder / "figures").mkdir()
        for fig in figures:
            shutil.copy2(fig, folder / "figures" / fig.name)
        (folder / "index.html").write_text(index_html(profile, pages, figures, table, methods), encoding="utf-8")

    return write_folder_atomic(runs_dir(profile) / "report", save) / "index.html"


# The manager's summary: lifecycle figures (helpers.lifecycle) put into words and one table.
def payback_text(row, is_baseline: bool, tickets_per_day: float) -> str:
    """'1,234 tickets (0.25 days at 5,000 a day)', 'at once …', 'never (costs more per ticket)', 'within noise …',
    'unknown …'."""
    if is_baseline:
        return "baseline"
    if row["one_off_unknown"] or math.isnan(row["break_even_tickets"]):
        base = row.get("baseline_one_off_unknown")
        return f"unknown ({row['one_off_unknown'] or (f'baseline: {base}' if base else 'energy unavailable')})"
    if row["within_noise"]:
        return (f"within noise (saving {row['saving_j_per_ticket']:.2g} ± {row['saving_ci95']:.2g} J per ticket)"
                if math.isfinite(row["saving_ci95"]) else "within noise (no interval for the saving)")
    single = "" if math.isfinite(row.get("saving_ci95", 0.0)) else ", single measurement"
    if math.isinf(row["break_even_tickets"]):
        return f"never (costs more per ticket{single})"
    if row["break_even_tickets"] == 0:
        return f"at once (no one-off energy beyond the baseline's{single})"
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


def methods_label(table) -> str:
    """The energy methods behind a table's energy figures (its rows with joules, where it has that column), short
    and joined: what a figure's energy axis names."""
    rows = table.dropna(subset=["joules"]) if "joules" in table else table
    return "; ".join(rows.energy_method.dropna().map(short_method).unique())


def manager_summary(ranked, life, baseline: str, grid_country: str, tickets_per_day: float):
    """One table a manager can read, in ranking order: role (recommended, candidate, outranked by another candidate,
    does not do the task, classical reference), quality, energy against the baseline (or "within noise"), cost,
    carbon, one-off energy, payback."""
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


FINETUNE_METRICS = {"steps": "optimizer steps", "epochs": "epochs", "best_epoch": "epoch kept (best validation)",
                    "first_val_macro_f1": "validation macro-F1 after the first epoch",
                    "best_val_macro_f1": "validation macro-F1 kept", "loss_first": "loss, first step",
                    "loss_last": "loss, last step", "train_tokens": "training tokens", "seconds": "wall seconds",
                    "validation_seconds": "of which validation, s", "joules_per_training_token": "J per training token",
                    "joules_per_epoch": "J per epoch", "energy_method": "energy method",
                    "training_attention": "attention in training", "mixed_precision": "mixed precision"}  # notebook 5
RCA_METRICS = {"accuracy": "accuracy", "macro_f1": "macro-F1", "macro_f1_ci_low": "macro-F1, 95 % interval from",
               "macro_f1_ci_high": "macro-F1, 95 % interval to", "raw_macro_f1": "macro-F1 of the raw scores",
               "top_label_share": "share of the most predicted label", "n_labels_predicted": "labels predicted",
               "majority_macro_f1": "macro-F1 of the majority class", "chance_macro_f1": "macro-F1 of chance",
               "task_check": "task check", "joules_per_ticket": "J per ticket", "energy_method": "energy method"}  # notebook 6
NOTE_METRICS = {"rougeL": "ROUGE-L", "bleu": "BLEU", "embedding_cosine": "embedding cosine",
                "mean_note_tokens": "tokens per note", "joules_per_ticket": "J per note (fixed length)",
                "energy_tokens_per_note": "tokens per note, energy window",
                "joules_per_generated_token": "J per token", "energy_method": "energy method"}  # notebook 6


def quantities(values: dict, names: dict, column: str):
    """A small table a reader scans: `values` picked and renamed by `names` ({key: readable name}), one column named
    `column`; numbers as plain decimals with three significant digits (whole numbers as they are), None as "n/a"."""
    import pandas as pd

    def text(v):
        if v is None:
            return "n/a"
        if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1):
            return f"{v:,.0f}"
        return _significant(v) if isinstance(v, float) else str(v)

    return pd.DataFrame({column: [text(values.get(k)) for k in names]}, index=list(names.values()))


def to_markdown(table) -> str:
    """A plain GitHub-style markdown table (no extra dependency)."""
    cells = [list(map(str, table.columns))] + [[str(v) for v in row] for row in table.itertuples(index=False)]
    lines = ["| " + " | ".join(r) + " |" for r in cells]
    lines.insert(1, "|" + "---|" * len(table.columns))
    return "\n".join(lines) + "\n"

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    print(build_report(parser.parse_args().profile))
