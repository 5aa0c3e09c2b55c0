"""A browsable HTML report of one profile: every executed notebook, every figure, the summary table.

Why: a manager opens one file (runs/<profile>/report/index.html) instead of Jupyter. The report must open
offline, from a copied folder or an air-gapped machine, so the notebook pages use nbconvert's lab template
without its CDN scripts (require.js, MathJax, mermaid, widgets); output images are embedded already.

    python -m helpers.report --profile smoke
"""
from __future__ import annotations

import argparse
import html
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    print(build_report(parser.parse_args().profile))
