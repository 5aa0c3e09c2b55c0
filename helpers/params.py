"""Strict checks of a profile's parameter values, before any notebook starts (papermill only warns).

Why strict: papermill passes any name and any value; a typo or an out-of-range value would fail (or silently
do something else) notebooks and minutes later. Every parameter a notebook declares has a rule in RULES
(tests/test_malformed_inputs.py checks that), and a bad value fails in one line naming the parameter, the
value and what is valid.
"""
from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from helpers import ticket_generator
from helpers.variants import Variant

VARIANT_FIELDS = tuple(Variant.__dataclass_fields__)  # set in a profile's variants list, not in params
DATASET_SUFFIXES = (".csv", ".jsonl", ".parquet")
# The generator writes at least MIN_PER_SPLIT tickets of each root cause into each split; fewer cannot be honoured.
MIN_TICKETS = len(ticket_generator.LABELS) * ticket_generator.MIN_PER_SPLIT * len(ticket_generator.SPLIT_SHARES)
TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string", dict: "a mapping",
              type(None): "null", object: "anything"}


@dataclass(frozen=True)
class Rule:
    """Allowed types, an optional range (inclusive unless open_*), and an optional check saying what is wrong."""

    types: tuple
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    check: Callable[[object], str | None] | None = None
    note: str = ""

    def describe(self) -> str:
        text = " or ".join(TYPE_NAMES[t] for t in self.types)
        if self.low is not None and self.high is not None:
            text += f" in {'(' if self.open_low else '['}{self.low}, {self.high}{')' if self.open_high else ']'}"
        elif self.low is not None:
            text += f" {'>' if self.open_low else '>='} {self.low}"
        return text + (f" ({self.note})" if self.note else "")

    def problem(self, value) -> str | None:
        """What is wrong with value, or None."""
        allowed = (isinstance(value, t) and (t in (bool, object) or not isinstance(value, bool)) for t in self.types)
        is_number = float in self.types and isinstance(value, int) and not isinstance(value, bool)
        if not (any(allowed) or is_number):
            if float in self.types and isinstance(value, str) and re.fullmatch(r"[-+]?\d+e[-+]?\d+", value):
                return f"expected {self.describe()}; YAML reads {value} as text: write it with a dot, e.g. 1.0e-3"
            return f"expected {self.describe()}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            too_low = self.low is not None and (value < self.low or value == self.low and self.open_low)
            too_high = self.high is not None and (value > self.high or value == self.high and self.open_high)
            if not math.isfinite(value) or too_low or too_high:
                return f"expected {self.describe()}"
        return self.check(value) if self.check else None


def model_path_problem(value: str) -> str | None:
    """'default' or a local Hugging Face causal-LM folder with config.json and safetensors weights."""
    if value == "default":
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        hub = re.fullmatch(r"[\w.-]+/[\w.-]+", value) and not path.parent.is_dir()
        return ("looks like a Hugging Face hub id; the study runs offline and never downloads: " if hub else
                "no such folder; ") + "use \"default\" (the embedded SmolLM2-135M-Instruct) or a local model folder"
    if not (path / "config.json").is_file():
        return "folder has no config.json; use \"default\" or a local Hugging Face causal-LM folder"
    if not any(path.glob("*.safetensors")):
        return "folder has no *.safetensors weights (the study loads safetensors only, never pickled .bin)"
    return None


def dataset_path_problem(value) -> str | None:
    """Empty (generate synthetic tickets) or an existing .csv/.jsonl/.parquet file (helpers.ticket_files reads it)."""
    if not value:
        return None
    path = Path(value).expanduser()
    if path.suffix.lower() not in DATASET_SUFFIXES:
        return f"unsupported file type {path.suffix!r}; use {', '.join(DATASET_SUFFIXES)} or leave it empty"
    if not path.is_file():
        return "file not found; leave it empty to generate synthetic tickets"
    return None


def columns_problem(value) -> str | None:
    """Null/{} or a mapping of ticket fields to the file's own (non-empty) column names."""
    from helpers.ticket_files import FIELDS

    unknown = sorted(map(str, set(value or {}) - set(FIELDS)))
    if unknown:
        return f"unknown field(s) {', '.join(unknown)}; map any of {', '.join(FIELDS)} to your file's column names"
    if not all(isinstance(v, str) and v for v in (value or {}).values()):
        return "column names must be non-empty strings"
    return None


def profile_problem(value: str) -> str | None:
    """A profile names folders (data/<profile>/ ...): letters, digits, '.', '_' and '-', not starting with '.'."""
    return None if re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", value) else \
        "a profile name is a folder name: letters, digits, '.', '_' and '-' (not starting with '.')"


def nonempty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


def count(low=1, high=None, note="") -> Rule:
    return Rule((int,), low, high, note=note)


def number(low=None, high=None, open_low=False, open_high=False) -> Rule:
    return Rule((float,), low, high, open_low, open_high)


def belongs_to_variants(value) -> str:
    return "belongs to variants: set it in the profile's variants list"


RULES: dict[str, Rule] = {
    "profile": Rule((str,), check=profile_problem),
    "model_path": Rule((str,), check=model_path_problem),
    "threads": count(),
    "seed": count(0, 2**32 - 1),  # NumPy's seed range
    "n_tickets": count(MIN_TICKETS, note=f"{ticket_generator.MIN_PER_SPLIT} of each of {len(ticket_generator.LABELS)} root causes "
                                         f"in each of {len(ticket_generator.SPLIT_SHARES)} splits"),
    "label_noise": number(0, 1, open_high=True),
    "shift": Rule((bool,)),
    "dataset_path": Rule((str, type(None)), check=dataset_path_problem),
    "columns": Rule((dict, type(None)), check=columns_problem),
    "n_eval": count(0, note="0: the whole test split; else a stratified sample holding every class"),
    "n_shots": count(),
    "n_response": count(),
    "max_new_tokens": count(1, 2048),
    "repeats": count(),
    "rounds": count(2, note="a paired interval needs two rounds"),
    "n_calib": count(),
    "n_ppl": count(),
    "epochs": number(0, 100, open_low=True),
    "max_steps": count(0, note="0: no cap; a cap stops a fine-tune before its epochs end"),
    "validate": Rule((bool,)),
    "warmup_ratio": number(0, 1, open_high=True),
    "response_share": number(0, 10),
    "batch_size": count(),
    "learning_rate": number(0, 1, open_low=True),
    "lora_r": count(),
    "w": number(0, 1),
    "baseline": Rule((str,), check=nonempty),
    "price_per_kwh": number(0),
    "grid_g_per_kwh": number(0),
    "grid_country": Rule((str,), check=nonempty),
    "tickets_per_day": number(0, open_low=True),
    **{name: Rule((object,), check=belongs_to_variants) for name in VARIANT_FIELDS},
}


def declared_default(name: str):
    """A parameter's default in the first notebook that declares it (what runs when a profile leaves it out)."""
    from helpers.grid import NOTEBOOKS_IN_ORDER, declared_parameters

    for notebook in NOTEBOOKS_IN_ORDER:
        if name in declared_parameters(notebook):
            return ast.literal_eval(declared_parameters(notebook)[name]["default"])
    raise KeyError(name)


def synthetic_split_sizes(n_tickets: int) -> dict[str, int]:
    """How many tickets each split of the synthetic generator holds (helpers.ticket_generator.generate_splits)."""
    return {split: sum(ticket_generator.class_counts(round(n_tickets * share)).values())
            for split, share in ticket_generator.SPLIT_SHARES.items()}


def check_sizes(params: dict) -> None:
    """Counts that must fit the synthetic splits (a user file's splits are only known once it is read)."""
    if params.get("dataset_path"):
        return
    get = lambda name: params[name] if name in params else declared_default(name)  # noqa: E731
    sizes = synthetic_split_sizes(get("n_tickets"))
    check_n_eval(params.get("n_eval", 0), len(ticket_generator.LABELS), "synthetic test split")
    for name, split in (("n_eval", "test"), ("n_response", "test"), ("n_ppl", "validation"), ("n_calib", "train")):
        if name in params and params[name] > sizes[split]:
            choice = f"0 (the whole split) or n_eval in [{len(ticket_generator.LABELS)}, {sizes[split]}]" if name == "n_eval" \
                else f"{name} in [1, {sizes[split]}]"
            raise ValueError(f"parameter {name}={params[name]!r}: the synthetic {split} split of n_tickets="
                             f"{get('n_tickets')} holds {sizes[split]} tickets; choose {choice} or raise n_tickets")
    if params.get("n_shots", 0) > len(ticket_generator.LABELS):
        raise ValueError(f"parameter n_shots={params['n_shots']!r}: one shot per root cause and the synthetic "
                         f"tickets have {len(ticket_generator.LABELS)}; choose n_shots in [1, {len(ticket_generator.LABELS)}]")


def check_n_eval(n_eval: int, n_classes: int, split: str = "test split") -> None:
    """n_eval is 0 (the whole test split) or large enough for a sample holding every class of the test split."""
    if 0 < n_eval < n_classes:
        raise ValueError(f"parameter n_eval={n_eval}: below the {n_classes} root causes of the {split}, so some class "
                         f"could not be evaluated; use 0 (the whole split) or n_eval >= {n_classes}")


def check_params(params: dict, variant_names: list[str] | None = None) -> None:
    """Raise ValueError naming the first invalid parameter value and the valid choices.

    variant_names (the profile's evaluated variants), when given, must include the analysis baseline."""
    unknown = sorted(set(params) - set(RULES))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(map(str, unknown))}; valid: "
                         f"{', '.join(sorted(set(RULES) - set(VARIANT_FIELDS)))}")
    for name, value in params.items():
        problem = RULES[name].problem(value)
        if problem:
            raise ValueError(f"parameter {name}={value!r}: {problem}")
    check_sizes(params)
    baseline = params.get("baseline") or declared_default("baseline")
    if variant_names is not None and baseline not in variant_names:
        raise ValueError(f"parameter baseline={baseline!r}: not one of the profile's variants; "
                         f"choose one of {', '.join(variant_names)}")
