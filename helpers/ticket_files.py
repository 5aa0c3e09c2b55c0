"""Ticket files: the splits every notebook reads, and a team's own tickets, validated before anything is written.

Why strict: a team trying the study on its own export should learn in one line what is wrong with
its file (which file, row or column), before a model loads, and its file is only ever read.

Minimal schema of a user file (CSV, JSONL or Parquet): a ticket text column and a root-cause label
column; optional: a ticket id, a resolution note (response-feedback reference) and a split column
(train / validation / test). `columns` maps these names to the file's own column names.
"""
from __future__ import annotations

import io
import json
import random
from pathlib import Path

from helpers.atomic import write_folder_atomic

FIELDS = ("text", "root_cause", "ticket_id", "resolution", "split")
REQUIRED = ("text", "root_cause")
SPLITS = ("train", "validation", "test")
MIN_PER_CLASS = 3  # a stratified 3-way split needs at least one ticket of a class per split


class TicketFileError(ValueError):
    """A user file that cannot be used; the message names the file and the row or column."""


def read_table(path: Path):
    """Read CSV, JSONL or Parquet into a DataFrame of strings, refusing bad encodings and malformed rows."""
    import pandas as pd

    if not path.is_file():
        raise TicketFileError(f"{path}: file not found")
    kind = path.suffix.lower()
    if kind == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:
            raise TicketFileError(f"{path}: not a readable Parquet file ({exc})") from None
        return frame.astype(object).where(frame.notna(), "").astype(str)
    if kind not in (".csv", ".jsonl"):
        raise TicketFileError(f"{path}: unsupported file type {kind!r}; use .csv, .jsonl or .parquet")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise TicketFileError(f"{path} line {line}: not valid UTF-8 (byte {raw[exc.start]:#04x}); "
                              "re-export the file as UTF-8") from None
    if kind == ".csv":
        try:
            return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, on_bad_lines="error")
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise TicketFileError(f"{path}: malformed CSV ({str(exc).strip()})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TicketFileError(f"{path} line {number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise TicketFileError(f"{path} line {number}: expected a JSON object per line")
        rows.append({k: "" if v is None else str(v) for k, v in row.items()})
    if not rows:
        raise TicketFileError(f"{path}: no tickets in the file")
    return pd.DataFrame(rows).fillna("")


def load_user_tickets(path, columns: dict | None = None, seed: int = 0) -> dict[str, list[dict]]:
    """Validate a team's ticket file and return train/validation/test rows; writes nothing."""
    path = Path(path).expanduser()
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(FIELDS))
    if unknown:
        raise TicketFileError(f"columns: unknown field(s) {', '.join(unknown)}; map any of {', '.join(FIELDS)}")
    frame = read_table(path)
    names = {field: columns.get(field, field) for field in FIELDS}
    missing = [f"{names[f]!r} (for {f})" for f in REQUIRED if names[f] not in frame.columns]
    if missing:
        raise TicketFileError(f"{path}: missing column(s) {', '.join(missing)}; found: {', '.join(map(str, frame.columns))}")
    if frame.empty:
        raise TicketFileError(f"{path}: no tickets in the file")
    present = {f: names[f] for f in FIELDS if names[f] in frame.columns}
    rows, seen_ids = [], {}
    for i, record in enumerate(frame.to_dict("records"), start=1):
        row = {f: str(record[col]).strip() for f, col in present.items()}
        for field in REQUIRED:
            if not row[field]:
                raise TicketFileError(f"{path} row {i}: empty {field} in column {names[field]!r}")
        if not row.get("ticket_id"):
            row["ticket_id"] = f"row-{i:06d}"
        if row["ticket_id"] in seen_ids:
            raise TicketFileError(f"{path} rows {seen_ids[row['ticket_id']]} and {i}: duplicate ticket id "
                                  f"{row['ticket_id']!r} in column {names['ticket_id']!r}")
        seen_ids[row["ticket_id"]] = i
        rows.append(row)
    counts = {}
    for row in rows:
        counts[row["root_cause"]] = counts.get(row["root_cause"], 0) + 1
    if len(counts) < 2:
        raise TicketFileError(f"{path}: only one root-cause class ({next(iter(counts))!r}); RCA needs at least two")
    if "split" in present:
        return _given_splits(path, rows, names["split"], seed)
    rare = {label: n for label, n in counts.items() if n < MIN_PER_CLASS}
    if rare:
        label, n = sorted(rare.items(), key=lambda kv: kv[1])[0]
        raise TicketFileError(f"{path}: class {label!r} has {n} ticket(s); a stratified train/validation/test "
                              f"split needs at least {MIN_PER_CLASS} per class ({len(rare)} class(es) too small)")
    return stratified_split(rows, seed)


def _given_splits(path: Path, rows: list[dict], column: str, seed: int) -> dict[str, list[dict]]:
    """The file's own split column, each split shuffled with the seed (a file sorted by class stays sorted otherwise)."""
    splits = {name: [] for name in SPLITS}
    for i, row in enumerate(rows, start=1):
        name = row.pop("split")
        if name not in splits:
            raise TicketFileError(f"{path} row {i}: split {name!r} in column {column!r}; use train, validation or test")
        splits[name].append(row)
    for name, part in splits.items():
        if not part:
            raise TicketFileError(f"{path}: no {name} tickets in column {column!r}")
    unseen = sorted({r["root_cause"] for r in splits["test"]} - {r["root_cause"] for r in splits["train"]})
    if unseen:
        raise TicketFileError(f"{path}: label(s) {', '.join(map(repr, unseen))} appear in test but not in train")
    untested = sorted({r["root_cause"] for r in splits["train"]} - {r["root_cause"] for r in splits["test"]})
    if untested:
        raise TicketFileError(f"{path}: label(s) {', '.join(map(repr, untested))} appear in train but not in test, "
                              f"so no evaluation could score them; add test tickets of them in column {column!r}")
    rng = random.Random(seed)
    for part in splits.values():
        rng.shuffle(part)
    return splits


def stratified_split(rows: list[dict], seed: int, shares=(0.6, 0.2, 0.2)) -> dict[str, list[dict]]:
    """60/20/20 per class, at least one ticket of each class (with >= 3 tickets) in every split; each split is
    shuffled with the seed, so a file sorted by class does not stay sorted."""
    rng = random.Random(seed)
    by_class: dict[str, list[dict]] = {}
    for row in rows:
        by_class.setdefault(row["root_cause"], []).append(row)
    splits = {name: [] for name in SPLITS}
    for label in sorted(by_class):
        part = by_class[label][:]
        rng.shuffle(part)
        n_val = max(1, round(shares[1] * len(part)))
        n_test = max(1, round(shares[2] * len(part)))
        splits["validation"] += part[:n_val]
        splits["test"] += part[n_val:n_val + n_test]
        splits["train"] += part[n_val + n_test:]
    for part in splits.values():
        rng.shuffle(part)
    return splits


def eval_sample(rows: list[dict], n: int, seed: int, every_class: bool = True) -> list[dict]:
    """The tickets an evaluation scores, in the rows' order: all of them when n is 0 or covers them, else a
    seeded stratified sample of n: one ticket of every class, the rest in proportion to class size.
    n below the number of classes is refused (n_eval: such a sample cannot evaluate every class), unless
    every_class is False (a few resolution notes): then n tickets of n different classes."""
    from helpers.params import check_n_eval

    if not n or n >= len(rows):
        return list(rows)
    by_class: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_class.setdefault(row["root_cause"], []).append(i)
    rng = random.Random(seed)
    if every_class:
        check_n_eval(n, len(by_class))
    elif n < len(by_class):
        by_class = {c: by_class[c] for c in rng.sample(sorted(by_class), n)}
    quota = {c: 1 for c in by_class}  # one per class, then one more to the class least represented so far
    for _ in range(n - len(by_class)):
        c = min((c for c in by_class if quota[c] < len(by_class[c])), key=lambda c: quota[c] / len(by_class[c]))
        quota[c] += 1
    chosen = {i for c, members in by_class.items() for i in rng.sample(members, quota[c])}
    return [row for i, row in enumerate(rows) if i in chosen]


def save_splits(splits: dict[str, list[dict]], folder: Path, labels: list[str] | None = None) -> None:
    """Write JSONL per split, labels.json and a datasets.DatasetDict (hf/) as one folder, swapped in atomically:
    no reader ever sees new splits beside old labels."""
    from datasets import Dataset, DatasetDict

    present = {r["root_cause"] for rows in splits.values() for r in rows}
    labels = [label for label in (labels or []) if label in present] + sorted(present - set(labels or []))

    def save(tmp: Path):
        tmp.mkdir(parents=True)
        for name, rows in splits.items():
            (tmp / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        DatasetDict({name: Dataset.from_list(rows) for name, rows in splits.items()}).save_to_disk(tmp / "hf")
        (tmp / "labels.json").write_text(json.dumps(labels, indent=1))

    write_folder_atomic(Path(folder), save)


def load_split(folder: Path, name: str) -> list[dict]:
    path = Path(folder) / f"{name}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run notebooks/01_data.ipynb for this profile first")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_labels(folder: Path) -> list[str]:
    path = Path(folder) / "labels.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run notebooks/01_data.ipynb for this profile first")
    return json.loads(path.read_text())
