"""Bring-your-own tickets: each malformed file gives one clear line naming file, row or column, and nothing is
written; the user's file is never modified."""
import hashlib

import pandas as pd
import pytest

from helpers import ticket_files
from helpers.ticket_files import TicketFileError, load_user_tickets


def good_rows(n_per_class=3, classes=("fibre cut", "mains power failure")):
    return [{"id": f"T{c[:2]}{i}", "desc": f"ticket {i} about {c}", "cause": c, "note": "fixed"}
            for c in classes for i in range(n_per_class)]


def write_csv(path, rows):
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


COLUMNS = {"text": "desc", "root_cause": "cause", "ticket_id": "id", "resolution": "note"}


def test_valid_csv_jsonl_and_parquet_give_stratified_splits(tmp_path):
    rows = good_rows()
    paths = [write_csv(tmp_path / "t.csv", rows), tmp_path / "t.parquet", tmp_path / "t.jsonl"]
    pd.DataFrame(rows).to_parquet(paths[1])
    pd.DataFrame(rows).to_json(paths[2], orient="records", lines=True)
    for path in paths:
        splits = load_user_tickets(path, COLUMNS)
        for rows_ in splits.values():
            assert {r["root_cause"] for r in rows_} == {"fibre cut", "mains power failure"}
        assert splits["train"][0].keys() >= {"ticket_id", "text", "root_cause", "resolution"}


def test_save_splits_writes_jsonl_labels_and_datasetdict(tmp_path):
    splits = load_user_tickets(write_csv(tmp_path / "t.csv", good_rows()), COLUMNS)
    ticket_files.save_splits(splits, tmp_path / "out")
    from datasets import load_from_disk

    assert load_from_disk(str(tmp_path / "out" / "hf"))["test"].num_rows == len(splits["test"])
    assert ticket_files.load_split(tmp_path / "out", "train") == splits["train"]
    assert ticket_files.load_labels(tmp_path / "out") == ["fibre cut", "mains power failure"]


def test_given_split_column_is_used(tmp_path):
    rows = [dict(r, part=p) for r, p in zip(good_rows(), ["train", "validation", "test"] * 2)]
    splits = load_user_tickets(write_csv(tmp_path / "t.csv", rows), {**COLUMNS, "split": "part"})
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [2, 2, 2]


def test_a_file_sorted_by_class_is_shuffled_and_every_class_is_evaluated(tmp_path):
    """Rows grouped by class (as an export sorted by cause comes): the splits are shuffled, not left in class order,
    and an evaluation sample holds every class of the test split."""
    classes = ("fibre cut", "mains power failure", "hvac overheating", "software crash")
    splits = load_user_tickets(write_csv(tmp_path / "sorted.csv", good_rows(20, classes)), COLUMNS, seed=3)
    test = splits["test"]
    assert {r["root_cause"] for r in test} == set(classes)
    assert [r["root_cause"] for r in test] != sorted(r["root_cause"] for r in test)  # not grouped by class
    assert {r["root_cause"] for r in test[:8]} == set(classes)  # so even the first few tickets span the classes
    assert splits == load_user_tickets(tmp_path / "sorted.csv", COLUMNS, seed=3)  # the seed fixes the order
    sample = ticket_files.eval_sample(test, 6, seed=0)
    assert len(sample) == 6 and {r["root_cause"] for r in sample} == set(classes)
    assert [r["ticket_id"] for r in sample] == [r["ticket_id"] for r in test if r in sample]  # the split's order
    assert ticket_files.eval_sample(test, 0, seed=0) == test
    with pytest.raises(ValueError, match="n_eval=3: below the 4 root causes of the test split"):
        ticket_files.eval_sample(test, 3, seed=0)
    few = ticket_files.eval_sample(test, 3, seed=0, every_class=False)  # a few notes: 3 tickets, 3 classes
    assert len({r["root_cause"] for r in few}) == 3


def test_eval_sample_is_stratified():
    rows = [{"ticket_id": f"{c}{i}", "root_cause": c} for c, n in (("a", 60), ("b", 30), ("c", 6), ("d", 4)) for i in range(n)]
    counts = {}
    for r in ticket_files.eval_sample(rows, 20, seed=1):
        counts[r["root_cause"]] = counts.get(r["root_cause"], 0) + 1
    assert counts == {"a": 11, "b": 6, "c": 2, "d": 1}


def bad_cases(tmp_path):
    rows = good_rows()
    yield "missing column", write_csv(tmp_path / "a.csv", [{k: v for k, v in r.items() if k != "cause"} for r in rows]), \
        "missing column(s) 'cause' (for root_cause); found: id, desc, note"
    yield "empty text", write_csv(tmp_path / "b.csv", [dict(r, desc="  ") if i == 4 else r for i, r in enumerate(rows)]), \
        "row 5: empty text in column 'desc'"
    yield "empty label", write_csv(tmp_path / "b2.csv", [dict(r, cause="") if i == 1 else r for i, r in enumerate(rows)]), \
        "row 2: empty root_cause in column 'cause'"
    yield "one class", write_csv(tmp_path / "c.csv", good_rows(classes=("fibre cut",))), "only one root-cause class"
    yield "duplicate ids", write_csv(tmp_path / "d.csv", [dict(r, id="T1") if i in (1, 3) else r for i, r in enumerate(rows)]), \
        "rows 2 and 4: duplicate ticket id 'T1' in column 'id'"
    bad_utf8 = tmp_path / "e.csv"
    bad_utf8.write_bytes(b"id,desc,cause,note\nT1,caf\xe9 down,fibre cut,x\n")
    yield "bad encoding", bad_utf8, "line 2: not valid UTF-8 (byte 0xe9)"
    yield "too few per class", write_csv(tmp_path / "f.csv", good_rows() + [dict(good_rows()[0], id="X1", cause="rare")]), \
        "class 'rare' has 1 ticket(s); a stratified train/validation/test split needs at least 3"
    malformed = tmp_path / "g.csv"
    malformed.write_text('id,desc,cause,note\nT1,"unclosed quote,fibre cut,x\n')
    yield "malformed csv", malformed, "malformed CSV"
    split_rows = [dict(r, part="test" if r["cause"] == "mains power failure" else p)
                  for r, p in zip(good_rows(), ["train", "validation", "test"] * 2)]
    yield "test label unseen in train", write_csv(tmp_path / "h.csv", split_rows), \
        "label(s) 'mains power failure' appear in test but not in train"
    untested = [dict(r, part=p if r["cause"] == "mains power failure" else p.replace("test", "train"))
                for r, p in zip(good_rows(), ["train", "validation", "test"] * 2)]
    yield "train label missing from test", write_csv(tmp_path / "h2.csv", untested), \
        "label(s) 'fibre cut' appear in train but not in test, so no evaluation could score them"
    yield "bad split value", write_csv(tmp_path / "i.csv", [dict(r, part="dev") for r in rows]), \
        "row 1: split 'dev' in column 'part'"
    bad_json = tmp_path / "j.jsonl"
    bad_json.write_text('{"desc": "a", "cause": "x"}\n{"desc": "b", cause\n')
    yield "bad jsonl", bad_json, "j.jsonl line 2: not valid JSON"
    yield "unsupported type", tmp_path / "k.xlsx", "file not found"
    xlsx = tmp_path / "l.xlsx"
    xlsx.write_text("x")
    yield "unsupported type", xlsx, "unsupported file type '.xlsx'"


def test_each_bad_file_gives_one_clear_line_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    for name, path, message in bad_cases(tmp_path):
        before = path.read_bytes() if path.exists() else None
        split_given = ("test label unseen in train", "train label missing from test", "bad split value")
        columns = {**COLUMNS, "split": "part"} if name in split_given else COLUMNS
        if name == "bad jsonl":
            columns = {"text": "desc", "root_cause": "cause"}
        with pytest.raises(TicketFileError) as info:
            splits = load_user_tickets(path, columns)
            ticket_files.save_splits(splits, out)
        text = str(info.value)
        assert message in text, (name, text)
        assert "\n" not in text and str(path) in text, (name, text)
        assert not out.exists()
        if before is not None:
            assert path.read_bytes() == before  # only read, never modified


def test_blank_ids_get_row_numbers_instead_of_a_false_duplicate(tmp_path):
    rows = [dict(r, id="") for r in good_rows()]
    splits = load_user_tickets(write_csv(tmp_path / "t.csv", rows), COLUMNS)
    assert sorted(r["ticket_id"] for s in splits.values() for r in s)[0] == "row-000001"


def test_unknown_column_mapping_is_refused(tmp_path):
    with pytest.raises(TicketFileError, match="unknown field.*labels"):
        load_user_tickets(write_csv(tmp_path / "t.csv", good_rows()), {"labels": "cause"})


def test_user_file_is_unchanged_after_a_full_load(tmp_path):
    path = write_csv(tmp_path / "t.csv", good_rows())
    digest, mtime = hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns
    ticket_files.save_splits(load_user_tickets(path, COLUMNS), tmp_path / "out")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest and path.stat().st_mtime_ns == mtime
