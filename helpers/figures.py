"""Saving figures: PNG for slides, SVG for papers, into figures/<profile>/, never half-written."""
from __future__ import annotations

import os

from helpers.paths import figures_dir


def save_figure(fig, profile: str, name: str, formats=("png", "svg")) -> None:
    """Save a matplotlib figure as figures/<profile>/<name>.<fmt> for each format (temp file + rename)."""
    folder = figures_dir(profile)
    folder.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        path = folder / f"{name}.{fmt}"
        tmp = folder / f".{name}.tmp.{fmt}"
        fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
        os.replace(tmp, path)
    print(f"saved figures/{profile}/{name}.{{{','.join(formats)}}}")
