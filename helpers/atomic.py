"""Files that are either complete or absent: written to a temporary sibling and renamed into place.

Why: a run killed mid-write must never leave a truncated record or model folder that looks complete; a rename is
atomic on one file system.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str) -> Path:
    """Write text to path via a temp file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_folder_atomic(target: Path, save) -> Path:
    """Call save(tmp_folder), then swap it into place: a crash mid-save never leaves a folder that looks
    complete at `target`, and the previous folder is only deleted once the new one stands in its place
    (stale temporary folders are cleared on the next try)."""
    target = Path(target)
    tmp, old = target.with_name(f".{target.name}.tmp"), target.with_name(f".{target.name}.old")
    for stale in (tmp, old):
        shutil.rmtree(stale, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    save(tmp)
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
    return target
