"""The ticket generator: deterministic, every class in every split, long-tailed, shifted validation and test world."""
import pytest

from helpers import ticket_generator


def test_same_seed_same_tickets_other_seed_other_tickets():
    assert ticket_generator.generate_splits(80, seed=3) == ticket_generator.generate_splits(80, seed=3)
    assert ticket_generator.generate_splits(80, seed=3) != ticket_generator.generate_splits(80, seed=4)


@pytest.mark.parametrize("n", [1, 120, 600])
def test_every_class_is_in_every_split(n):
    splits = ticket_generator.generate_splits(n, seed=0)
    for name, rows in splits.items():
        assert {r["root_cause"] for r in rows} == set(ticket_generator.LABELS), name
    ids = [r["ticket_id"] for rows in splits.values() for r in rows]
    assert len(ids) == len(set(ids))


def test_taxonomy_is_long_tailed_across_domains():
    assert len(ticket_generator.LABELS) >= 10
    assert {c.domain for c in ticket_generator.TAXONOMY.values()} >= {"ran", "transport", "core", "power", "environment",
                                                             "software", "configuration"}
    counts = ticket_generator.class_counts(1000)
    assert max(counts.values()) >= 10 * min(counts.values())


def test_validation_and_test_splits_are_shifted():
    splits = ticket_generator.generate_splits(600, seed=0)
    seen = {r["vendor"] for r in splits["train"]}
    train_sites = {r["site"][:3] for r in splits["train"]}
    for split in ("validation", "test"):
        assert {"ZTE", "Samsung"} <= {r["vendor"] for r in splits[split]} and not {"ZTE", "Samsung"} & seen
        assert not train_sites & {r["site"][:3] for r in splits[split]}
    assert not {r["ticket_id"] for r in splits["validation"]} & {r["ticket_id"] for r in splits["test"]}
    unshifted = ticket_generator.generate_splits(600, seed=0, shift=False)
    assert {r["vendor"] for r in unshifted["test"]} <= seen


def test_label_noise_touches_train_and_validation_only():
    clean = ticket_generator.generate_splits(600, seed=0)
    noisy = ticket_generator.generate_splits(600, seed=0, label_noise=0.2)
    flipped = [r for r in noisy["train"] if r.get("label_noise")]
    assert 0.1 < len(flipped) / len(noisy["train"]) < 0.3
    assert not any(r.get("label_noise") for r in noisy["test"])
    assert not any(r.get("label_noise") for rows in clean.values() for r in rows)


def test_tickets_have_the_fields_noc_staff_fill_in():
    for r in ticket_generator.generate_splits(60, seed=1)["train"]:
        for field in ("ticket_id", "opened_at", "domain", "node_type", "vendor", "site", "alarms", "kpi",
                      "description", "text", "root_cause", "resolution"):
            assert r[field], field
        assert r["site"] in r["text"] and all(a in r["text"] for a in r["alarms"])


@pytest.mark.parametrize("kwargs, message", [({"n_tickets": 0}, "n_tickets"), ({"label_noise": 1.0}, "label_noise")])
def test_bad_generator_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ticket_generator.generate_splits(**{"n_tickets": 10, "seed": 0, **kwargs})
