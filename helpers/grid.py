"""Profiles (YAML recipes) and their expansion into notebook executions ("cells").

Why a grid from the start: a profile lists variants once; each notebook that acts on one variant runs
once per distinct variant it cares about, with scalar parameters, exactly as a person would run it by
hand with papermill. Data and energy analysis run once per profile.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from helpers.paths import CONFIGS, NOTEBOOKS
from helpers.variants import Variant

NOTEBOOKS_IN_ORDER = ("01_data", "02_baseline", "03_prune", "04_quantize", "05_finetune", "06_rca_eval",
                      "07_energy_analysis")
PROFILE_KEYS = {"description", "params", "variants", "compression_sweep"}
# What each notebook reads from earlier ones: a cell's id changes when any cell it depends on changes.
DEPENDS_ON = {"01_data": (), "02_baseline": ("01_data",), "03_prune": ("01_data",),
              "04_quantize": ("01_data", "03_prune"), "05_finetune": ("01_data", "03_prune"),
              "06_rca_eval": ("01_data", "02_baseline", "03_prune", "05_finetune"), "07_energy_analysis": NOTEBOOKS_IN_ORDER[:-1]}


@dataclass
class Cell:
    """One papermill execution: a notebook, the variant it acts on (or None), its parameters, and an id that
    hashes all three with the notebook's code and the ids of the cells it depends on."""

    notebook: str
    variant: str | None
    parameters: dict = field(default_factory=dict)
    id: str = ""

    def variant_spec(self) -> Variant | None:
        """The variant a per-variant cell acts on, rebuilt from its parameters."""
        fields = {k: v for k, v in self.parameters.items() if k in Variant.__dataclass_fields__}
        return Variant.from_dict(fields) if self.variant else None

    @property
    def label(self) -> str:
        return self.notebook + (f"[{self.variant}]" if self.variant else "")

    @property
    def output_name(self) -> str:
        return self.notebook + (f"__{self.variant}" if self.variant else "") + ".ipynb"


def notebook_path(name: str) -> Path:
    return NOTEBOOKS / f"{name}.ipynb"


def load_profile(name_or_path: str) -> dict:
    """Read configs/<name>.yaml (or a path to a YAML file) and check its shape."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = CONFIGS / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CONFIGS.glob("*.yaml")))
        raise FileNotFoundError(f"profile {name_or_path!r} not found ({path}); known profiles: {known}")
    try:
        profile = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not valid UTF-8 (byte {exc.object[exc.start]:#04x}); save it as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"{path}{where}: not valid YAML ({problem})") from None
    profile = {} if profile is None else profile
    keys = ", ".join(sorted(PROFILE_KEYS))
    if not isinstance(profile, dict):
        raise ValueError(f"{path}: a profile is a mapping with keys {keys}, not a {type(profile).__name__}")
    if set(profile) - PROFILE_KEYS:
        unknown = ", ".join(sorted(map(str, set(profile) - PROFILE_KEYS)))
        raise ValueError(f"{path}: unknown key(s) {unknown}; a profile is a mapping with keys {keys}")
    if not isinstance(profile.get("description", ""), (str, type(None))):
        raise ValueError(f"{path}: description must be text")
    profile["params"] = profile.get("params") or {}
    if not isinstance(profile["params"], dict):
        raise ValueError(f"{path}: params must be a mapping of parameter names to values")
    profile["params"].setdefault("profile", path.stem)

    def variant_list(key: str, default: list) -> list[Variant]:
        entries = profile.get(key, default)
        entries = default if entries is None and not default else entries  # an empty compression_sweep: is fine
        if not isinstance(entries, list) or (key == "variants" and not entries):
            raise ValueError(f"{path}: {key} must be a{' non-empty' if key == 'variants' else ''} list of variants, "
                             f"e.g. - {{precision: bf16, method: magnitude, sparsity: 0.5}}")
        found = {}
        for i, entry in enumerate(entries, start=1):
            try:
                variant = Variant.from_dict({} if entry is None else entry)
            except ValueError as exc:
                raise ValueError(f"{path}: {key} entry {i}: {exc}") from None
            if variant in found:
                raise ValueError(f"{path}: {key} entries {found[variant]} and {i} are the same variant "
                                 f"({variant.name})")
            found[variant] = i
        return list(found)

    profile["variants"] = variant_list("variants", [{}])
    # Variants only pruned and quantized (footprint, speed, perplexity), not fine-tuned or evaluated on tasks.
    profile["compression_sweep"] = variant_list("compression_sweep", [])
    return profile


@lru_cache(maxsize=None)
def declared_parameters(notebook: str) -> dict:
    """The parameters a notebook declares in its `parameters` cell (name -> papermill's description)."""
    import papermill

    return papermill.inspect_notebook(str(notebook_path(notebook)))


def _unique(items):
    return list(dict.fromkeys(items))


def expand(profile: dict) -> list[Cell]:
    """All cells of a profile in pipeline order, each notebook given only the parameters it declares."""
    variants = profile["variants"]
    compressed = variants + profile["compression_sweep"]
    # A swept fp32 pruned model needs no quantize run: the prune run already measured it, and its zeros sit in
    # dense fp32 weights that run exactly like the dense fp32 model.
    measured = variants + [v for v in profile["compression_sweep"] if not (v.pruned and v.precision == "fp32")]
    per_notebook = {
        "01_data": [None],
        "02_baseline": [None],
        "03_prune": _unique(Variant(method=v.method, sparsity=v.sparsity, pattern=v.pattern) for v in compressed
                            if v.pruned),
        "04_quantize": _unique(Variant(v.precision, v.method, v.sparsity, v.pattern) for v in measured),
        "05_finetune": _unique(v for v in variants if v.finetune != "none"),
        "06_rca_eval": _unique(variants),
        "07_energy_analysis": [None],
    }
    cells = []
    for notebook in NOTEBOOKS_IN_ORDER:
        declared = declared_parameters(notebook)
        shared = {k: v for k, v in profile["params"].items() if k in declared}
        for variant in per_notebook[notebook]:
            params = dict(shared)
            if variant is not None:
                params.update({k: v for k, v in variant.as_dict().items() if k in declared})
            label = None if variant is None else variant.pruning_name if notebook == "03_prune" else variant.name
            upstream = sorted(c.id for c in cells if reads(notebook, variant, c))
            cells.append(Cell(notebook, label, params, cell_id(notebook, label, params, upstream)))
    return cells


def reads(notebook: str, variant: Variant | None, cell: Cell) -> bool:
    """Whether the cell of `notebook` for `variant` reads the output of `cell`: a notebook it depends on, and
    the same variant's pruned weights or adapter (or a cell for the whole profile, like the data)."""
    if cell.notebook not in DEPENDS_ON[notebook]:
        return False
    if cell.variant is None or variant is None:
        return True
    return cell.variant in (variant.pruning_name, variant.name)


@lru_cache(maxsize=None)
def code_hash(notebook: str) -> str:
    """Hash of a notebook's code cells and of the helpers package: editing either makes the cells that run
    that code (and those downstream) run again. Conservative: any helpers edit reruns the whole grid."""
    cells = json.loads(notebook_path(notebook).read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return hashlib.sha256((code + helpers_source()).encode()).hexdigest()


@lru_cache(maxsize=None)
def helpers_source() -> str:
    return "\n".join(p.read_text() for p in sorted(Path(__file__).parent.glob("*.py")))


def cell_id(notebook: str, variant: str | None, parameters: dict, upstream: list[str]) -> str:
    """Stable content hash: same notebook code, parameters and upstream cells give the same id."""
    payload = json.dumps([notebook, variant, parameters, code_hash(notebook), upstream], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]

