"""Saving figures: PNG for slides, SVG for papers, into figures/<profile>/, never half-written."""
from __future__ import annotations

import os
from pathlib import Path

from helpers.paths import figures_dir


def save_figure(fig, profile: str, name: str, formats=("png", "svg")) -> list[Path]:
    """Save a matplotlib figure as figures/<profile>/<name>.<fmt> for each format (temp file + rename)."""
    folder = figures_dir(profile)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = folder / f"{name}.{fmt}"
        tmp = folder / f".{name}.tmp.{fmt}"
        fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
        os.replace(tmp, path)
        paths.append(path)
    return paths
