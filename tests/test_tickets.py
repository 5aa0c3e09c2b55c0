"""The ticket generator is deterministic, and its splits are stratified."""
import pytest

from helpers import tickets


def test_same_seed_same_tickets_other_seed_other_tickets():
    assert tickets.generate_tickets(50, seed=3) == tickets.generate_tickets(50, seed=3)
    assert tickets.generate_tickets(50, seed=3) != tickets.generate_tickets(50, seed=4)


def test_every_class_with_three_tickets_is_in_every_split():
    rows = tickets.generate_tickets(300, seed=0)
    splits = tickets.split_tickets(rows, seed=0)
    counts = {}
    for r in rows:
        counts[r["root_cause"]] = counts.get(r["root_cause"], 0) + 1
    for name, split in splits.items():
        assert {r["root_cause"] for r in split} == {c for c, n in counts.items() if n >= 3}, name
    ids = [r["ticket_id"] for split in splits.values() for r in split]
    assert sorted(ids) == sorted(r["ticket_id"] for r in rows)  # a partition: nothing lost or duplicated


def test_long_tail_and_required_fields():
    rows = tickets.generate_tickets(400, seed=1)
    counts = sorted((sum(r["root_cause"] == c for r in rows) for c in tickets.LABELS), reverse=True)
    assert counts[0] >= 3 * counts[-1] > 0
    for field in ("ticket_id", "opened_at", "node_type", "vendor", "site", "alarms", "description",
                  "root_cause", "resolution"):
        assert all(r[field] for r in rows), field


def test_save_and_load_round_trip(tmp_path):
    splits = tickets.split_tickets(tickets.generate_tickets(60, seed=0))
    tickets.save_splits(splits, tmp_path)
    assert tickets.load_split(tmp_path, "test") == splits["test"]
    assert set(tickets.load_labels(tmp_path)) == {r["root_cause"] for s in splits.values() for r in s}


def test_missing_data_names_the_notebook_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="01_data"):
        tickets.load_split(tmp_path, "train")
    with pytest.raises(ValueError, match="n_tickets"):
        tickets.generate_tickets(0, seed=0)
