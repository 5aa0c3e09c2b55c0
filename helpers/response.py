"""Response feedback: the model writes the resolution note for a ticket; we compare it with the engineer's.

Generation is greedy and batched with left padding. Quality is scored on natural-length notes (each stops at its
end-of-text token, at most max_new_tokens); energy is measured on notes of exactly max_new_tokens tokens, so every
variant does the same work and one that stops writing early does not look cheaper. Scores: ROUGE-L F (rouge-score), corpus BLEU (sacrebleu) and the cosine between
MiniLM embeddings of generated and reference notes. `response_quality` — the mean embedding cosine
clipped to [0, 1] — is the single number the ranking uses for this task (our choice).
"""
from __future__ import annotations

import numpy as np

from helpers.prompts import response_messages

def generate_notes(model, tokenizer, texts: list[str], max_new_tokens: int = 40, batch_size: int = 8,
                   fixed_length: bool = False) -> list[str]:
    """Greedy resolution notes, batched (left padding), at most max_new_tokens each; with `fixed_length`, exactly
    max_new_tokens each (the end-of-text token is suppressed until then: the energy measurement's workload)."""
    import torch

    device = next(model.parameters()).device
    prompts = [tokenizer.apply_chat_template(response_messages(t), tokenize=False, add_generation_prompt=True)
               for t in texts]
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    notes = []
    try:
        for i in range(0, len(prompts), batch_size):
            batch = tokenizer(prompts[i:i + batch_size], return_tensors="pt", padding=True,
                              add_special_tokens=False).to(device)
            with torch.inference_mode():
                out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                     min_new_tokens=max_new_tokens if fixed_length else None,
                                     pad_token_id=tokenizer.pad_token_id)
            notes += tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    finally:
        tokenizer.padding_side = side
    return [n.strip() for n in notes]


def note_scores(generated: list[str], references: list[str]):
    """Per note: ROUGE-L F1 and the MiniLM embedding cosine against the reference (two arrays)."""
    from rouge_score import rouge_scorer

    from helpers.encoder import embed

    if len(generated) != len(references) or not generated:
        raise ValueError("need as many generated notes as references, and at least one")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    rouge = np.array([scorer.score(ref, gen)["rougeL"].fmeasure for gen, ref in zip(generated, references)])
    return rouge, (embed(generated) * embed(references)).sum(axis=1)


def note_quality(cosine) -> np.ndarray:
    """A note's quality for the ranking: its embedding cosine clipped to [0, 1]."""
    return np.clip(cosine, 0, 1)


def score(tickets: list[dict], notes: list[str]) -> tuple[dict, dict]:
    """Metrics of the notes written for tickets — ROUGE-L F1 (mean), corpus BLEU (0-100), mean embedding cosine,
    response_quality in [0, 1] and the count — and per-ticket details for the record and for paired comparisons:
    ids, notes and quality."""
    from sacrebleu.metrics import BLEU

    references = [t["resolution"] for t in tickets]
    rouge, cosine = note_scores(notes, references)
    metrics = {"rougeL": float(np.mean(rouge)),
               "bleu": float(BLEU(effective_order=True).corpus_score(notes, [references]).score),
               "embedding_cosine": float(np.mean(cosine)), "response_quality": float(note_quality(cosine).mean()),
               "n_tickets": len(tickets)}
    details = {"ticket_ids": [t["ticket_id"] for t in tickets], "notes": notes,
               "note_quality": np.round(note_quality(cosine), 4).tolist()}
    return metrics, details


def evaluate(tickets: list[dict], notes: list[str], summary, max_new_tokens: int, tokenizer):
    """Scores of the natural-length `notes` written for `tickets`, with the energy of the notebook's window
    (`summary`), in which notes of exactly max_new_tokens were written for the same tickets.
    Returns (metrics with J per note and J per generated token, per-ticket details)."""
    from helpers.energy import ticket_metrics

    metrics, details = score(tickets, notes)
    energy = ticket_metrics(summary)  # one note per ticket: J per note
    per_token = energy["joules_per_ticket"] / max_new_tokens if energy["joules_per_ticket"] is not None else None
    lengths = [len(tokenizer(n, add_special_tokens=False)["input_ids"]) for n in notes]
    return ({**metrics, **energy, "joules_per_generated_token": per_token, "energy_tokens_per_note": max_new_tokens,
             "mean_note_tokens": float(np.mean(lengths))}, details)


def side_by_side(tickets: list[dict], notes: list[str], rows: int = 3):
    """The first few reference and generated notes next to each other, for a reader."""
    import pandas as pd

    return pd.DataFrame({"reference": [t["resolution"] for t in tickets], "generated": notes}).head(rows)
