"""Energy of the evaluated LLM variants measured interleaved (notebook 7), so that comparing them does not compare
two moments of a drifting machine.

Notebook 6 measures each variant in its own run, minutes to an hour apart, and a shared machine's speed drifts in
between: identical work measured 2.57 and 1.77 J per RCA ticket in two cells of one reference run. Here every
variant notebook 6 evaluated is loaded once and all run the same tickets in rotation
(helpers.energy.measure_interleaved): each round, each variant scores the round's tickets (RCA) and writes their
resolution notes at exactly max_new_tokens tokens, each task in its own window. The records mirror notebook 6's
(phase "inference" for RCA, "response" for notes) and keep each round's J per ticket, so two variants compare
round by round (helpers.ranking.pair_spread).
"""
from __future__ import annotations

from helpers.energy import best_reading, per_item
from helpers.response import generate_notes
from helpers.scoring import BATCH_SIZE, score_labels
from helpers.models import pick_device, unsupported
from helpers.variants import Variant

PHASES = {"rca": "inference", "note": "response"}  # as notebook 6 names its records of the two tasks


def evaluated_variants(records: list[dict]) -> dict[str, Variant]:
    """The variants notebook 6 evaluated (its RCA records), by name; refused in one line, before any is loaded,
    when this machine cannot run one of them (e.g. records of a GPU run re-analysed on a CPU)."""
    evaluated = {r["variant"]: Variant(**r["spec"]) for r in records
                 if r["notebook"] == "06_rca_eval" and r["phase"] == "inference" and r.get("spec")}
    device = pick_device()  # inference only: their fine-tuning is done
    cannot = {name: why for name, variant in evaluated.items() if (why := unsupported(variant.precision, device))}
    if cannot:
        raise ValueError(f"notebook 7 measures every evaluated variant here, and this machine cannot run "
                         f"{', '.join(f'{n} ({w})' for n, w in cannot.items())}")
    return evaluated


def check_room(model, still_to_load: int, spare: float = 1.25) -> None:
    """Refuses in one line, before memory runs out, when the variants still to load may not fit beside those loaded
    (all stay loaded for the rotation): each is taken to be as large as `model`, the last one loaded, times `spare`.
    Memory is the GPU's when the model is on one, else the machine's available RAM."""
    import psutil
    import torch

    from helpers.models import weight_bytes

    size = weight_bytes(model)  # packed sizes too (quantized weights are wrapper tensors)
    device = next(model.parameters()).device
    free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else psutil.virtual_memory().available
    if still_to_load * size * spare > free:
        raise MemoryError(f"notebook 7 holds every evaluated variant at once, and {still_to_load} more of about "
                          f"{size / 2**30:.2f} GiB each may not fit in the {free / 2**30:.1f} GiB free on {device.type}: "
                          "free memory, or run it on a larger machine")


def tasks(records: list[dict]) -> tuple[str, ...]:
    """The tasks notebook 6 measured: RCA, and notes when it wrote any."""
    notes = any(r["notebook"] == "06_rca_eval" and r["phase"] == "response" for r in records)
    return ("rca", "note") if notes else ("rca",)


def tickets(test: list[dict], rounds: int, seed: int, tasks=("rca", "note")) -> list[dict]:
    """`rounds` full batches of test tickets (as notebook 6 batches them; fewer when the split is smaller), taken
    from the classes in turn; those with a resolution note when notes are measured. Per-ticket energy depends on
    the batch: one ticket at a time costs several times more per ticket."""
    from helpers.ticket_files import eval_sample

    pool = [t for t in test if t.get("resolution")] if "note" in tasks else test
    return eval_sample(pool, rounds * BATCH_SIZE, seed, every_class=False)


def works(name: str, model, tokenizer, labels: list[str], max_new_tokens: int, tasks=("rca", "note")) -> dict:
    """{(name, task): work(texts)}: variant `name`'s RCA scoring and fixed-length notes as notebook 6 runs them, the
    work each window holds."""
    every = {"rca": lambda texts: score_labels(model, tokenizer, texts, labels),
             "note": lambda texts: generate_notes(model, tokenizer, texts, max_new_tokens, fixed_length=True)}
    return {(name, task): every[task] for task in tasks}


def metrics(summary: dict, n_tickets: int, max_new_tokens: int, task: str) -> dict:
    """A task's record metrics from its interleaved summary: J per ticket with its 95 % interval and method (as
    notebook 6 records them), each round's J per ticket, and the id of the measurement those rounds belong to."""
    reading = best_reading(summary["readings"])
    out = {**per_item(summary, "ticket"), "joules_per_ticket_rounds": reading["joules_per_item_rounds"] if reading
           else None, "tickets": n_tickets, "measured": "interleaved", "measurement": summary["measurement"]}
    if task == "note":
        out.update(energy_tokens_per_note=max_new_tokens)
    return out
