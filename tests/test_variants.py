"""Variant specs: readable names, clear errors before any weights load."""
import pytest

from helpers.variants import Variant, load_variant


def test_names():
    assert Variant().name == "fp32"
    assert Variant("bf16", "magnitude", 0.5).name == "bf16-magnitude50"
    assert Variant("bf16", finetune="lora").name == "bf16-lora"
    assert Variant("nf4", finetune="lora").name == "nf4-qlora"


@pytest.mark.parametrize("spec, message", [
    ({"precision": "int3"}, "unknown precision 'int3'; choose one of fp32, bf16"),
    ({"sparsity": 0.5}, "without a pruning method"),
    ({"method": "magnitude", "sparsity": 1.2}, "strictly between 0 and 1"),
    ({"finetune": "full"}, "unknown finetune 'full'"),
    ({"precisoin": "bf16"}, "unknown variant field"),
])
def test_invalid_variant_is_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        Variant.from_dict(spec)


def test_missing_upstream_artefact_names_the_notebook(tmp_path):
    with pytest.raises(FileNotFoundError, match="03_prune"):
        load_variant(Variant(method="magnitude", sparsity=0.5), "no-such-profile")
    with pytest.raises(FileNotFoundError, match="not a local Hugging Face model folder"):
        load_variant(Variant(), "p", model_path=tmp_path)
    with pytest.raises(FileNotFoundError, match="05_finetune"):
        load_variant(Variant("bf16", finetune="lora"), "no-such-profile")
