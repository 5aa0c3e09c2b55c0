"""The naive peer: the same model and prompt, free greedy generation one ticket at a time, then string parsing."""
from __future__ import annotations

import difflib

from bench.hardware import Timer


def parse_label(answer: str, labels: list[str]) -> str | None:
    """The label a free-text answer names: an exact match, else the label named earliest in the text, else the
    closest label by string similarity (difflib, cutoff 0.6), else None (counted as wrong)."""
    text = " ".join(answer.lower().replace("_", " ").split()).strip(" .:;'\"")
    lower = {label.lower(): label for label in labels}
    if text in lower:
        return lower[text]
    found = [(text.find(key), -len(key), label) for key, label in lower.items() if key in text]
    if found:
        return min(found)[2]
    close = difflib.get_close_matches(text, list(lower), n=1, cutoff=0.6)
    return lower[close[0]] if close else None


def naive_peer(model, tokenizer, tickets: list[dict], labels: list[str], max_new_tokens: int = 16) -> dict:
    """What a first implementation would do: same chat prompt, greedy `generate` one ticket at a time, then
    string parsing. Unparsed answers count as wrong."""
    import torch

    from helpers import classification, prompts

    predictions, answers = [], []
    with Timer() as timer, torch.inference_mode():
        for t in tickets:
            ids = tokenizer(prompts.chat_prompt(tokenizer, t["text"], labels), add_special_tokens=False,
                            return_tensors="pt")
            out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
            answers.append(tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
            predictions.append(parse_label(answers[-1], labels))
    y_true = [t["root_cause"] for t in tickets]
    return {"tickets": len(tickets), "seconds": timer.seconds, "tickets_per_s": len(tickets) / timer.seconds,
            "macro_f1": classification.rca_metrics(y_true, [p or "(unparsed)" for p in predictions], labels)["macro_f1"],
            "unparsed": sum(p is None for p in predictions), "other_load": timer.other_load,
            "example_answer": answers[0] if answers else ""}
