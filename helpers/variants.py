"""A variant of the model = precision x pruning x fine-tuning, as plain data, validated up front.

Why one spec: every notebook that acts on a variant rebuilds it from these four fields, so a result
record names exactly what ran, and a bad combination fails in one line before any weights load.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from helpers.models import PRECISIONS, check_precision, kernel_name, load_model
from helpers.paths import artifacts_dir
from helpers.prune import check_prune_spec

FINETUNES = ("none", "lora")


@dataclass(frozen=True)
class Variant:
    precision: str = "fp32"
    method: str = "none"  # pruning method, "none" for dense
    sparsity: float = 0.0
    finetune: str = "none"  # "lora" (QLoRA when the precision is 4-bit)

    def __post_init__(self):
        check_precision(self.precision)
        if self.method == "none":
            if float(self.sparsity) != 0:
                raise ValueError(f"sparsity {self.sparsity} given without a pruning method")
        else:
            check_prune_spec(self.method, self.sparsity)
        if self.finetune not in FINETUNES:
            raise ValueError(f"unknown finetune {self.finetune!r}; choose one of {', '.join(FINETUNES)}")
        object.__setattr__(self, "sparsity", float(self.sparsity))

    @classmethod
    def from_dict(cls, spec: dict) -> "Variant":
        unknown = set(spec) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown variant field(s) {sorted(unknown)}; valid: {', '.join(cls.__dataclass_fields__)}")
        return cls(**spec)

    @property
    def pruned(self) -> bool:
        return self.method != "none"

    @property
    def compressed_name(self) -> str:
        """Name without fine-tuning, e.g. 'bf16-magnitude50'."""
        return self.precision + (f"-{self.method}{round(self.sparsity * 100)}" if self.pruned else "")

    @property
    def name(self) -> str:
        """Stable, readable id, e.g. 'fp32', 'bf16-magnitude50', 'nf4-qlora'."""
        if self.finetune == "none":
            return self.compressed_name
        return self.compressed_name + ("-qlora" if self.precision in ("nf4", "fp4") else "-lora")

    def as_dict(self) -> dict:
        return asdict(self)


def pruned_dir(profile: str, method: str, sparsity: float):
    """Where the prune notebook saves the pruned fp32 weights (a loadable safetensors model folder)."""
    return artifacts_dir(profile) / f"pruned-{method}{round(float(sparsity) * 100)}"


def adapter_dir(profile: str, variant: Variant):
    return artifacts_dir(profile) / f"adapter-{variant.compressed_name}"


def load_variant(variant: Variant, profile: str, model_path="default", with_adapter: bool = True):
    """Rebuild a variant: pruned weights (if any) from the prune notebook, precision at load time,
    LoRA adapter (if any) from the fine-tune notebook. Missing inputs name the notebook to run."""
    source = model_path
    if variant.pruned:
        source = pruned_dir(profile, variant.method, variant.sparsity)
        if not (source / "config.json").is_file():
            raise FileNotFoundError(f"{source} not found: run notebooks/03_prune.ipynb with method="
                                    f"{variant.method} sparsity={variant.sparsity} for profile {profile!r} first")
    adapter = None
    if with_adapter and variant.finetune != "none":
        adapter = adapter_dir(profile, variant)
        if not (adapter / "adapter_config.json").is_file():
            raise FileNotFoundError(f"{adapter} not found: run notebooks/05_finetune.ipynb for {variant.compressed_name} first")
    return load_model(source, variant.precision, adapter=adapter)


def kernel(variant: Variant, device: str) -> str:
    """What executes the linear layers, honestly: zeros in dense weights are still dense math."""
    text = kernel_name(variant.precision, device)
    if variant.pruned:
        text += f" ({variant.method} {variant.sparsity:.0%} zeros in dense weights; no sparse kernel)"
    return text


__all__ = ["Variant", "PRECISIONS", "FINETUNES", "load_variant", "kernel", "pruned_dir", "adapter_dir"]
