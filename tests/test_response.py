"""Response feedback: metrics on hand-made pairs, bounded batched generation, the MiniLM baseline."""
import numpy as np
import pytest

from helpers import baselines, encoder, response


def metrics(generated, references):
    return response.score([{"ticket_id": f"T{i}", "resolution": r} for i, r in enumerate(references)], generated)[0]


def test_metrics_identical_and_unrelated_notes():
    same = metrics(["Replaced the faulty board at NRT123."], ["Replaced the faulty board at NRT123."])
    assert same["rougeL"] == pytest.approx(1.0) and same["bleu"] == pytest.approx(100.0)
    assert same["embedding_cosine"] == pytest.approx(1.0, abs=1e-5) and same["response_quality"] == pytest.approx(1.0, abs=1e-5)
    other = metrics(["Spliced fibre"], ["HVAC reset and filter cleaned"])
    assert other["rougeL"] == 0.0 and other["bleu"] < 5 and other["embedding_cosine"] < 0.5
    with pytest.raises(ValueError, match="as many generated notes"):
        metrics(["a"], ["a", "b"])


def test_paraphrase_scores_higher_on_embeddings_than_on_overlap():
    m = metrics(["The broken baseband card was swapped."], ["Replaced the faulty baseband board."])
    assert m["embedding_cosine"] > m["rougeL"]


def test_generation_is_bounded_and_batched(tiny_model, tokenizer):
    texts = ["SITE_DOWN at NRT123", "a much longer ticket text about a fibre cut on the ring near the river"]
    notes = response.generate_notes(tiny_model, tokenizer, texts, max_new_tokens=5, batch_size=2)
    assert len(notes) == 2 and all(len(tokenizer(n)["input_ids"]) <= 6 for n in notes)
    assert tokenizer.padding_side == "right"  # restored after generation
    assert notes == response.generate_notes(tiny_model, tokenizer, texts, max_new_tokens=5, batch_size=1)


def test_fixed_length_notes_do_the_same_work_for_every_variant(tiny_model, tokenizer):
    """The energy workload: max_new_tokens decoding steps per note even where the model stops at once (here a hook
    makes the end-of-text token win every step)."""
    steps = []

    def eos_wins(module, inputs, logits):
        steps.append(1)
        logits[..., tokenizer.eos_token_id] += 1e4
        return logits

    hook = tiny_model.lm_head.register_forward_hook(eos_wins)
    texts = ["SITE_DOWN at NRT123", "fibre cut near the river"]
    assert response.generate_notes(tiny_model, tokenizer, texts, max_new_tokens=6) == ["", ""]
    assert len(steps) == 1  # one batch, one step: every note ended
    steps.clear()
    response.generate_notes(tiny_model, tokenizer, texts, max_new_tokens=6, fixed_length=True)
    hook.remove()
    assert len(steps) == 6


def test_encoder_ships_offline_and_normalises():
    vectors = encoder.embed(["mains failure", "power outage at the site", "BGP session down"])
    assert vectors.shape == (3, 384)
    assert (abs((vectors ** 2).sum(1) - 1) < 1e-4).all()
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_minilm_logreg_separates_a_toy():
    train = ["mains power failure at site", "battery discharge, no AC", "fibre cut near road", "loss of light on fibre"]
    labels = ["power", "power", "fibre", "fibre"]
    assert baselines.minilm_logreg(train, labels, ["AC mains lost", "the optical fibre was cut"]) == ["power", "fibre"]


def test_retrieval_baseline_returns_the_note_of_the_most_similar_training_ticket():
    texts = ["LOS on uplink, fibre dark after digging", "cabinet temperature high, HVAC tripped", "no note here"]
    notes = ["Spliced the fibre.", "Reset the HVAC unit.", ""]
    lookup = baselines.fit_nearest_note(texts, notes)
    found = lookup(["uplink LOS after digging works", "HVAC tripped again"])
    assert found == ["Spliced the fibre.", "Reset the HVAC unit."]
    assert "" not in lookup(["no note here"])  # a ticket without a note is never a candidate
    with pytest.raises(ValueError, match="no training ticket has a resolution note"):
        baselines.fit_nearest_note(["a"], [""])


def test_per_ticket_details_carry_ids_notes_and_quality():
    tickets = [{"ticket_id": "T1", "resolution": "Replaced the faulty board."},
               {"ticket_id": "T2", "resolution": "Reset the HVAC unit."}]
    metrics, out = response.score(tickets, ["Replaced the faulty board.", "Spliced fibre"])
    assert metrics["n_tickets"] == 2 and metrics["response_quality"] == pytest.approx(np.mean(out["note_quality"]), abs=1e-4)
    assert out["ticket_ids"] == ["T1", "T2"] and out["notes"][1] == "Spliced fibre"
    assert out["note_quality"][0] == pytest.approx(1.0, abs=1e-3) and out["note_quality"][1] < 0.6
