"""Every prompt the study sends to the model, in one place: RCA (notebooks 2, 6 and the fine-tuning data), the
few-shot examples, and the resolution note (response feedback)."""
from __future__ import annotations

RCA_SYSTEM_PROMPT = ("You are a network operations engineer. Read the fault ticket and name its root cause. "
                     "Answer with exactly one of: {labels}.")


def rca_messages(text: str, labels: list[str], shots: list[dict] | None = None) -> list[dict]:
    """System prompt, optional worked examples (few-shot: earlier user/assistant turns), then the ticket."""
    messages = [{"role": "system", "content": RCA_SYSTEM_PROMPT.format(labels="; ".join(labels))}]
    for shot in shots or []:
        messages += [{"role": "user", "content": shot["text"]}, {"role": "assistant", "content": shot["root_cause"]}]
    return messages + [{"role": "user", "content": text}]


def chat_prompt(tokenizer, text: str, labels: list[str], shots: list[dict] | None = None) -> str:
    """The chat-formatted prompt, ending where the assistant's answer starts."""
    return tokenizer.apply_chat_template(rca_messages(text, labels, shots), tokenize=False, add_generation_prompt=True)


def pick_shots(train: list[dict], k: int, seed: int = 0) -> list[dict]:
    """k training tickets of k different root causes (the most frequent first), for few-shot prompts."""
    import random

    by_class: dict[str, list[dict]] = {}
    for row in train:
        by_class.setdefault(row["root_cause"], []).append(row)
    rng = random.Random(seed)
    common = sorted(by_class, key=lambda c: -len(by_class[c]))[:k]
    return [rng.choice(by_class[c]) for c in common]


NOTE_SYSTEM_PROMPT = ("You are a network operations engineer. Write the short resolution note for the fault ticket: "
                      "what was found and what was done.")


def response_messages(text: str) -> list[dict]:
    return [{"role": "system", "content": NOTE_SYSTEM_PROMPT}, {"role": "user", "content": text}]
