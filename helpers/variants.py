"""A variant of the model = precision x pruning x fine-tuning, as plain data, validated up front.

Why one spec: every notebook that acts on a variant rebuilds it from these fields, so a result record names
exactly what ran, and a bad combination fails in one line before any weights load.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from helpers.models import (BNB_PRECISIONS, FOUR_BIT, check_precision, compute_path_name, load_model, pick_device,
                            unsupported, unsupported_training)
from helpers.paths import artifacts_dir
from helpers.prune import check_prune_spec

FINETUNES = ("none", "lora")


@dataclass(frozen=True)
class Variant:
    precision: str = "fp32"
    method: str = "none"  # pruning method: none, magnitude or wanda
    sparsity: float = 0.0
    pattern: str = "unstructured"  # or "2:4" (sparsity 0.5)
    finetune: str = "none"  # "lora" (QLoRA when the precision is 4-bit); after pruning a parent: the recovery
    parent: str = ""  # a fine-tuned variant (e.g. "bf16-lora") whose merged weights this one starts from

    def __post_init__(self):
        check_precision(self.precision)
        if self.method == "none":
            if float(self.sparsity) != 0 or self.pattern != "unstructured":
                raise ValueError(f"sparsity {self.sparsity} / pattern {self.pattern!r} given without a pruning method")
        else:
            check_prune_spec(self.method, self.sparsity, self.pattern)
        if self.finetune not in FINETUNES:
            raise ValueError(f"unknown finetune {self.finetune!r}; choose one of {', '.join(FINETUNES)}")
        if self.finetune != "none" and self.precision == "dynamic-int8":
            raise ValueError("dynamic-int8 is inference-only: fine-tune a fp32/bf16/4-bit base instead")
        if self.parent:
            if not self.pruned and self.precision == parent_variant(self.parent).precision:
                raise ValueError(f"parent {self.parent} at its own precision {self.precision} is the parent itself; "
                                 f"list it as {{precision: {self.precision}, finetune: lora}}")
            if self.finetune != "none" and not self.pruned:
                raise ValueError(f"parent {self.parent} with finetune {self.finetune}: only a pruned copy of a "
                                 f"fine-tuned model is fine-tuned again (the recovery)")
        object.__setattr__(self, "sparsity", float(self.sparsity))

    @classmethod
    def from_dict(cls, spec: dict) -> "Variant":
        """A variant from a profile entry; wrong shapes and types fail in one line naming the field."""
        fields = ", ".join(cls.__dataclass_fields__)
        if not isinstance(spec, dict):
            raise ValueError(f"a variant is a mapping of {fields}, e.g. {{precision: bf16}}; got {spec!r}")
        unknown = set(spec) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown variant field(s) {sorted(map(str, unknown))}; valid: {fields}")
        if spec.get("pattern") == 124:  # YAML 1.1 reads an unquoted 2:4 as the base-60 number 124
            raise ValueError('pattern 124: YAML reads an unquoted 2:4 as a number; write pattern: "2:4"')
        for name, value in spec.items():
            wanted = (int, float) if name == "sparsity" else str
            if not isinstance(value, wanted) or isinstance(value, bool):
                hint = "; YAML reads unquoted yes/no/on/off as true/false: quote it" if isinstance(value, bool) else ""
                expected = "a number" if name == "sparsity" else "text"
                raise ValueError(f"variant field {name}={value!r}: expected {expected}{hint}")
        return cls(**spec)

    @property
    def pruned(self) -> bool:
        return self.method != "none"

    @property
    def taught(self) -> bool:
        """Whether the model was taught the task: fine-tuned itself, or made from a fine-tuned parent's weights."""
        return self.finetune != "none" or bool(self.parent)

    @property
    def pruning_name(self) -> str:
        """'magnitude50', 'wanda-2of4', 'bf16-lora-wanda50' (a parent's weights pruned), or '' when dense."""
        if not self.pruned:
            return ""
        name = f"{self.method}-2of4" if self.pattern == "2:4" else f"{self.method}{round(self.sparsity * 100)}"
        return f"{self.parent}-{name}" if self.parent else name

    @property
    def compressed_name(self) -> str:
        """Name without fine-tuning, e.g. 'bf16-magnitude50'; from a parent: 'bf16-lora@fp32' (its merged weights
        served at fp32) or 'bf16-lora-wanda50' (pruned, at the parent's precision)."""
        if self.parent:
            served = "" if self.precision == parent_variant(self.parent).precision else f"@{self.precision}"
            return self.parent + served + (f"-{self.pruning_name.removeprefix(self.parent + '-')}" if self.pruned else "")
        return self.precision + (f"-{self.pruning_name}" if self.pruned else "")

    @property
    def name(self) -> str:
        """Stable, readable id, e.g. 'fp32', 'bf16-wanda-2of4', 'nf4-qlora', 'bf16-lora-wanda50-recovered'."""
        if self.finetune == "none":
            return self.compressed_name
        if self.parent:
            return self.compressed_name + "-recovered"
        return self.compressed_name + ("-qlora" if self.precision in FOUR_BIT else "-lora")

    def as_dict(self) -> dict:
        return asdict(self)


def parent_variant(name: str) -> Variant:
    """The stage-1 fine-tuned variant a name like 'bf16-lora' or 'nf4-qlora' stands for (dense, no parent)."""
    precision = name.removesuffix("-qlora").removesuffix("-lora")
    try:
        variant = Variant(precision, finetune="lora")
    except ValueError:
        variant = None
    if variant is None or variant.name != name:
        raise ValueError(f"parent {name!r}: name a fine-tuned variant without pruning, e.g. bf16-lora or nf4-qlora")
    return variant


def merged_dir(profile: str, variant: Variant):
    """Where the fine-tune notebook saves a fine-tuned variant's adapter merged into fp32 weights."""
    return artifacts_dir(profile) / f"merged-{variant.name}"


def save_merged(variant: Variant, profile: str, model_path="default"):
    """Fold a fine-tuned variant's adapter into fp32 copies of its base weights and save the model: what its other
    serving precisions and its pruned copies start from. A QLoRA adapter, trained on 4-bit weights, is merged into
    the fp32 weights those were quantized from (the usual way to serve a QLoRA model at another precision)."""
    from helpers.models import save_model_folder

    model, tokenizer = load_model(weights_source(variant, profile, model_path), "fp32", adapter=adapter_dir(profile, variant))
    return save_model_folder(model.merge_and_unload(), tokenizer, merged_dir(profile, variant))


def pruned_dir(profile: str, variant: Variant):
    """Where the prune notebook saves the pruned fp32 weights (a loadable safetensors model folder)."""
    return artifacts_dir(profile) / f"pruned-{variant.pruning_name}"


def adapter_dir(profile: str, variant: Variant):
    return artifacts_dir(profile) / f"adapter-{variant.compressed_name}"


def unsupported_here(variant: Variant, device: str | None = None) -> str | None:
    """'N/A' reason when this hardware cannot run the variant at all, cannot fine-tune it, or cannot fine-tune the
    parent it is made from (it is then recorded, not run)."""
    device = device or pick_device()
    check = unsupported_training if variant.finetune != "none" else unsupported
    return parent_unsupported_here(variant, device) or check(variant.precision, device)


def parent_unsupported_here(variant: Variant, device: str | None = None) -> str | None:
    """'N/A' reason when the variant is made from a fine-tuned parent this hardware cannot fine-tune: the parent's
    merged weights never exist here."""
    if variant.parent and (why := unsupported_here(parent_variant(variant.parent), device)):
        return f"its parent {variant.parent} is N/A here ({why})"
    return None


def weights_source(variant: Variant, profile: str, model_path="default"):
    """The weights a variant starts from: the pruned copy notebook 3 saved, its parent's merged weights (notebook
    5), or the model itself."""
    if not variant.pruned:
        return dense_weights(variant.parent, profile, model_path)
    source = pruned_dir(profile, variant)
    if not (source / "config.json").is_file():
        raise FileNotFoundError(f"{source} not found: run notebooks/03_prune.ipynb with method={variant.method} "
                                f"sparsity={variant.sparsity} pattern={variant.pattern}"
                                + (f" parent={variant.parent}" if variant.parent else "") + f" for profile {profile!r} first")
    return source


def dense_weights(parent: str, profile: str, model_path="default"):
    """The unpruned weights a variant starts from: the model, or the merged weights of a fine-tuned `parent`."""
    if not parent:
        return model_path
    source = merged_dir(profile, parent_variant(parent))
    if not (source / "config.json").is_file():
        raise FileNotFoundError(f"{source} not found: run notebooks/05_finetune.ipynb for {parent} "
                                f"(profile {profile!r}) first")
    return source


def load_variant(variant: Variant, profile: str, model_path="default", with_adapter: bool = True,
                 for_training: bool = False):
    """Rebuild a variant: pruned weights (if any) from the prune notebook, precision at load time, LoRA adapter
    (if any) from the fine-tune notebook, and 2:4 sparse kernels where the hardware has them.
    Returns (model, tokenizer, compute path: what runs the linear layers, in words). Missing inputs name the notebook to run."""
    source = weights_source(variant, profile, model_path)
    adapter = None
    if with_adapter and variant.finetune != "none":
        adapter = adapter_dir(profile, variant)
        if not (adapter / "adapter_config.json").is_file():
            raise FileNotFoundError(f"{adapter} not found: run notebooks/05_finetune.ipynb for {variant.compressed_name} first")
    model, tokenizer = load_model(source, variant.precision, adapter=adapter)
    device = next(model.parameters()).device.type
    text = compute_path_name(variant.precision, device) + (f"; weights of {variant.parent}, its adapter merged" if variant.parent else "")
    if adapter is not None and not for_training:
        from peft import PeftModel

        model, merged = merge_adapter(model, variant.precision, keep_zeros=variant.pruned)
        text += f"; {merged}"
        adapter = adapter if isinstance(model, PeftModel) else None  # still a separate adapter at inference
    if variant.pruned:
        text += f" ({variant.method} {variant.pattern} zeros"
        if variant.pattern == "2:4" and not for_training and adapter is None:
            text += "; " + use_semi_structured(model, variant.precision, device) + ")"
        else:
            text += " in dense weights; no sparse kernel)"
    return model, tokenizer, text


def merge_adapter(model, precision: str, keep_zeros: bool = False):
    """Fold a LoRA adapter into the weights, so inference pays nothing for it. With `keep_zeros` (a pruned base)
    the base's zeros are applied again after merging (a dense adapter fills them) and the sparsity is measured
    again for the record. The merged weights get back the requires_grad flag a model loaded from a folder has, so
    merged and folder-loaded variants run alike. bitsandbytes' 8/4-bit weights cannot absorb an adapter without
    leaving their format: they keep it unmerged. bench/merge_check.py compares merged and unmerged predictions on a
    run's test tickets.
    Returns (model, what happened in words)."""
    if precision in BNB_PRECISIONS:
        return model, f"LoRA adapter unmerged ({precision} weights cannot absorb it)"
    from helpers.prune import block_linears, layer_sparsity

    zeros = {name.removesuffix(".base_layer"): linear.weight == 0
             for name, linear in block_linears(model.get_base_model()).items() if ".lora_" not in name} if keep_zeros else {}
    model = model.merge_and_unload().eval()
    model.requires_grad_(True)  # as after loading from a folder: peft froze them, and frozen weights made this CPU's
    if not keep_zeros:          # inference 6-13 % slower (bench/frozen_weights.py), telling identical work apart
        return model, "LoRA merged"
    for name, linear in block_linears(model).items():
        linear.weight.data[zeros[name]] = 0
    sparsity = sum(layer_sparsity(model).values()) / len(zeros)
    return model, f"LoRA merged, pruned zeros re-applied (sparsity {sparsity:.2f})"


def use_semi_structured(model, precision: str, device: str) -> str:
    """Swap 2:4-pruned block linears to PyTorch semi-structured sparse tensors where supported; say what ran."""
    if device != "cuda":
        return "N/A semi-structured 2:4 kernel: PyTorch's needs CUDA, zeros stay in dense weights"
    if precision not in ("fp16", "bf16"):
        return f"N/A semi-structured 2:4 kernel: needs fp16/bf16 weights, not {precision}; zeros stay in dense weights"
    import torch
    from torch.sparse import to_sparse_semi_structured

    from helpers.prune import block_linears

    linears = block_linears(model)
    try:  # all or none: every weight is converted before any is swapped
        sparse = {name: to_sparse_semi_structured(linear.weight) for name, linear in linears.items()}
    except Exception as exc:  # e.g. a GPU older than Ampere: fall back, and say why
        return f"semi-structured 2:4 kernel failed ({type(exc).__name__}: {str(exc)[:120]}); dense fallback"
    for name, linear in linears.items():
        linear.weight = torch.nn.Parameter(sparse[name], requires_grad=False)
    return "semi-structured 2:4 cuda"


