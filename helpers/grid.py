"""Profiles (YAML recipes) and their expansion into notebook executions ("cells").

Why a grid from the start: a profile lists variants once; each notebook that acts on one variant runs
once per distinct variant it cares about, with scalar parameters, exactly as a person would run it by
hand with papermill. Data and energy analysis run once per profile.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import yaml

from helpers.paths import CONFIGS, NOTEBOOKS
from helpers.models import check_precision
from helpers.variants import Variant, parent_variant

NOTEBOOKS_IN_ORDER = ("01_data", "02_baseline", "03_prune", "04_quantize", "05_finetune", "06_rca_eval",
                      "07_energy_analysis")
PROFILE_KEYS = {"description", "params", "variants", "serve", "finetune_energy", "compression_sweep", "stage2"}
KEYS_TEXT = ", ".join(sorted(PROFILE_KEYS | {"extends"}))  # what an error about a profile's keys lists
STAGE2_KEYS = {"top_k", "prune", "recovery_epochs"}
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
    upstream: tuple = ()  # ids of the cells whose outputs it reads

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


def profile_path(name_or_path: str) -> Path:
    """configs/<name>.yaml, or the path itself when it names a YAML file; a clear error when there is none."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = CONFIGS / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CONFIGS.glob("*.yaml")))
        raise FileNotFoundError(f"profile {name_or_path!r} not found ({path}); known profiles: {known}")
    return path


def read_profile_yaml(path: Path, seen: tuple = ()) -> dict:
    """A profile file as written, after `extends: <profile>`: the named profile, with this file's keys replacing its
    keys, except mappings (params, stage2, finetune_energy), which are merged key by key."""
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
    if not isinstance(profile, dict):
        raise ValueError(f"{path}: a profile is a mapping with keys {KEYS_TEXT}, not a {type(profile).__name__}")
    if "extends" not in profile:
        return profile
    base = profile_path(str(profile.pop("extends")))
    if base.resolve() in seen + (path.resolve(),):
        raise ValueError(f"{path}: extends {base.stem}, which extends it back")
    merged = read_profile_yaml(base, seen + (path.resolve(),))
    for key, value in profile.items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = {**merged[key], **value} if both else value
    return merged


def load_profile(name_or_path: str) -> dict:
    """Read configs/<name>.yaml (or a path to a YAML file), and the profile it extends, and check its shape."""
    path = profile_path(name_or_path)
    profile = read_profile_yaml(path)
    if set(profile) - PROFILE_KEYS:
        unknown = ", ".join(sorted(map(str, set(profile) - PROFILE_KEYS)))
        raise ValueError(f"{path}: unknown key(s) {unknown}; a profile is a mapping with keys {KEYS_TEXT}")
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
    profile["serve"] = profile.get("serve") or []
    try:
        if not isinstance(profile["serve"], list):
            raise ValueError("serve must be a list of precisions, e.g. [fp32, nf4, dynamic-int8]")
        for precision in profile["serve"]:
            check_precision(precision)
        profile["stage2"] = _stage2(profile.get("stage2"), profile["variants"])
        profile["finetune_energy"] = _finetune_energy(profile.get("finetune_energy"), profile["variants"])
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return profile


def _stage2(spec, variants: list[Variant]) -> dict | None:
    """The stage-2 recipe, checked: top_k fine-tuned variants (by R, chosen by the run) are pruned each way listed
    in `prune`, evaluated, recovered with a LoRA fine-tune of `recovery_epochs`, and evaluated again."""
    if spec is None:
        return None
    example = "e.g. {top_k: 1, prune: [{method: wanda, sparsity: 0.3}], recovery_epochs: 1.0}"
    if not isinstance(spec, dict) or set(spec) - STAGE2_KEYS or "prune" not in spec:
        raise ValueError(f"stage2 is a mapping of {', '.join(sorted(STAGE2_KEYS))} (prune required), {example}")
    tuned = [v for v in variants if v.finetune != "none" and not v.pruned]
    top_k = spec.get("top_k", 1)
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= len(tuned):
        raise ValueError(f"stage2 top_k {top_k!r}: stage 1 fine-tunes {len(tuned)} variant(s) "
                         f"({', '.join(v.name for v in tuned) or 'none'}), so top_k is an integer from 1 to {len(tuned)}")
    epochs = spec.get("recovery_epochs", 1.0)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, float)) or not epochs > 0:
        raise ValueError(f"stage2 recovery_epochs {epochs!r}: a number > 0")
    prune = spec["prune"]
    if not isinstance(prune, list) or not prune:
        raise ValueError(f"stage2 prune must be a non-empty list of prunings, {example}")
    ways = []
    for i, entry in enumerate(prune, start=1):
        if not isinstance(entry, dict) or set(entry) - {"method", "sparsity", "pattern"} or "method" not in entry:
            raise ValueError(f"stage2 prune entry {i}: a mapping of method, sparsity, pattern, "
                             f"e.g. {{method: wanda, sparsity: 0.3}}")
        try:
            ways.append(Variant.from_dict(entry))
        except ValueError as exc:
            raise ValueError(f"stage2 prune entry {i}: {exc}") from None
        if not ways[-1].pruned:
            raise ValueError(f"stage2 prune entry {i}: method none prunes nothing")
    return {"top_k": top_k, "prune": ways, "recovery_epochs": float(epochs)}


def _finetune_energy(spec, variants: list[Variant]) -> dict | None:
    """Stage 1's fine-tuning phase at precisions not trained fully: a LoRA fine-tune of `max_steps` steps at each of
    `precisions`, for its joules per training token (not evaluated: a few steps do not teach the task)."""
    if spec is None:
        return None
    example = "e.g. {precisions: [fp32, int8], max_steps: 8}"
    if not isinstance(spec, dict) or set(spec) != {"precisions", "max_steps"} or not isinstance(spec["precisions"], list):
        raise ValueError(f"finetune_energy is a mapping of precisions (a list) and max_steps, {example}")
    steps = spec["max_steps"]
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"finetune_energy max_steps {steps!r}: an integer >= 1")
    trained = {v.precision for v in variants if v.finetune != "none" and not v.pruned}
    out = []
    for precision in spec["precisions"]:
        variant = Variant(precision, finetune="lora")  # checks the precision (dynamic-int8 does not train)
        if precision in trained:
            raise ValueError(f"finetune_energy precision {precision}: variants fine-tune it fully already")
        out.append(variant)
    return {"variants": _unique(out), "max_steps": steps}


def served_variants(profile: dict) -> list[Variant]:
    """Stage 1's inference phase: each fine-tuned variant's merged weights at every precision in `serve` (at its own
    precision it is the fine-tuned variant itself)."""
    return [Variant(p, parent=v.name) for v in profile["variants"] if v.finetune != "none" and not v.pruned
            for p in profile["serve"] if p != v.precision]


@lru_cache(maxsize=None)
def declared_parameters(notebook: str) -> dict:
    """The parameters a notebook declares in its `parameters` cell (name -> papermill's description)."""
    import papermill

    return papermill.inspect_notebook(str(notebook_path(notebook)))


def _unique(items):
    return list(dict.fromkeys(items))


def expand(profile: dict, records: list[dict] | None = None, device: str | None = None) -> list[Cell]:
    """All cells of a profile in pipeline order, each notebook given only the parameters it declares.

    Stage 1 (notebooks 1-6): data, baselines, the listed variants and their served precisions. Stage 2 (when the
    profile has one): the top-ranked fine-tuned variants pruned (3), measured (4), evaluated (6), recovered (5) and
    evaluated again (6). Its cells exist once stage 1's evaluations are recorded: they are chosen from those, and
    their ids hash those evaluations' cell ids. The analysis (7) comes last, once every stage is known.
    `records` and `device`: stage 1's records and the device they ran on, when not this machine's (a published run)."""
    variants, served = profile["variants"], served_variants(profile)
    compressed = variants + profile["compression_sweep"]
    # A swept fp32 pruned model needs no quantize run: the prune run already measured it, and its zeros sit in
    # dense fp32 weights that run exactly like the dense fp32 model.
    measured = variants + [v for v in profile["compression_sweep"] if not (v.pruned and v.precision == "fp32")]
    cells = _cells(profile, [], {
        "01_data": [None],
        "02_baseline": [None],
        "03_prune": _unique(Variant(method=v.method, sparsity=v.sparsity, pattern=v.pattern) for v in compressed
                            if v.pruned),
        "04_quantize": _unique(Variant(v.precision, v.method, v.sparsity, v.pattern) for v in measured),
        "05_finetune": _unique(v for v in variants if v.finetune != "none"),
    })
    if profile["finetune_energy"]:  # fine-tuning energy only: a fixed number of steps, neither validated nor evaluated
        cells = _cells(profile, cells, {"05_finetune": profile["finetune_energy"]["variants"]}, (),
                       {"max_steps": profile["finetune_energy"]["max_steps"], "validate": False})
    cells = _cells(profile, cells, {"04_quantize": served, "06_rca_eval": _unique(variants + served)})  # merged weights
    if profile["stage2"]:
        parents = stage2_parents(profile, cells, records, device)
        if parents is None:
            return cells  # stage 2 and the analysis wait for stage 1's evaluations
        stage1 = tuple(c.id for c in cells if c.notebook == "06_rca_eval")
        pruned = [Variant(parent.precision, way.method, way.sparsity, way.pattern, parent=parent.name)
                  for parent in parents for way in profile["stage2"]["prune"]]
        recovered = [replace(v, finetune="lora") for v in pruned]
        cells = _cells(profile, cells, {
            "03_prune": [Variant(method=v.method, sparsity=v.sparsity, pattern=v.pattern, parent=v.parent) for v in pruned],
            "04_quantize": pruned,
            "06_rca_eval": pruned,
        }, stage1)
        cells = _cells(profile, cells, {"05_finetune": recovered}, stage1, {"epochs": profile["stage2"]["recovery_epochs"]})
        cells = _cells(profile, cells, {"06_rca_eval": recovered}, stage1)
    return _cells(profile, cells, {"07_energy_analysis": [None]})


def _cells(profile: dict, cells: list[Cell], per_notebook: dict, also_reads: tuple = (), overrides: dict | None = None):
    """`cells` followed by the cells of `per_notebook` ({notebook: its variants, or [None] for the whole profile},
    in the order given): each gets the profile's parameters its notebook declares, then `overrides` and the
    variant's fields; its id hashes them with the cells it reads (and `also_reads`)."""
    cells = list(cells)
    for notebook, variants in per_notebook.items():
        declared = declared_parameters(notebook)
        shared = {k: v for k, v in {**profile["params"], **(overrides or {})}.items() if k in declared}
        for variant in variants:
            params = dict(shared)
            if variant is not None:
                params.update({k: v for k, v in variant.as_dict().items() if k in declared})
            label = None if variant is None else variant.pruning_name if notebook == "03_prune" else variant.name
            upstream = tuple(sorted({c.id for c in cells if reads(notebook, variant, c)} | set(also_reads)))
            cells.append(Cell(notebook, label, params, cell_id(notebook, label, params, list(upstream)), upstream))
    return cells


def stage2_parents(profile: dict, cells: list[Cell], records: list[dict] | None = None,
                   device: str | None = None) -> list[Variant] | None:
    """The fine-tuned variants stage 2 prunes: the profile's top_k by R at its w, among stage 1's evaluations that do
    the task, read from the records the evaluation cells wrote. None while an evaluation this machine can run has no
    record from its current cell. `records`, `device`: a finished run's records and its device (a published run),
    matched by variant name, since the code and so the cell ids may have changed since it ran."""
    from helpers.ranking import ranked_records, top_fine_tuned
    from helpers.results import load_records
    from helpers.variants import unsupported_here

    stage1 = {c.id: c.variant for c in cells if c.notebook == "06_rca_eval" and not unsupported_here(c.variant_spec(), device)}
    if records is None:
        records = [r for r in load_records(profile["params"]["profile"]) if r["provenance"].get("cell_id") in stage1]
        key, wanted = (lambda r: r["provenance"]["cell_id"]), set(stage1)
    else:
        records = [r for r in records if r["notebook"] == "06_rca_eval" and r["variant"] in stage1.values()]
        key, wanted = (lambda r: r["variant"]), set(stage1.values())
    if {key(r) for r in records if r["phase"] == "inference"} != wanted:
        return None
    ranked = ranked_records(records, profile["params"].get("w", 0.5))
    return [parent_variant(name) for name in top_fine_tuned(ranked, profile["stage2"]["top_k"])]


def reads(notebook: str, variant: Variant | None, cell: Cell) -> bool:
    """Whether the cell of `notebook` for `variant` reads the output of `cell`: a notebook it depends on, and the
    same variant's pruned weights or adapter (or a cell for the whole profile, like the data); or the cell that
    fine-tuned the variant's parent (its merged weights)."""
    if variant is not None and variant.parent and cell.notebook == "05_finetune" and cell.variant == variant.parent:
        return True
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

