"""Variant specs: readable names, clear errors before any weights load, honest kernels, N/A where impossible."""
import pytest
import torch

from helpers import models
from helpers.variants import Variant, load_variant, unsupported_here, use_semi_structured


def test_names():
    assert Variant().name == "fp32"
    assert Variant("bf16", "magnitude", 0.5).name == "bf16-magnitude50"
    assert Variant("bf16", "wanda", 0.5, "2:4").name == "bf16-wanda-2of4"
    assert Variant("bf16", finetune="lora").name == "bf16-lora"
    assert Variant("nf4-dq", finetune="lora").name == "nf4-dq-qlora"
    # from a fine-tuned parent's merged weights: served at another precision, pruned, pruned and recovered
    assert Variant("dynamic-int8", parent="bf16-lora").name == "bf16-lora@dynamic-int8"
    pruned = Variant("bf16", "wanda", 0.5, "2:4", parent="bf16-lora")
    assert pruned.name == pruned.pruning_name == "bf16-lora-wanda-2of4"
    assert Variant("bf16", "wanda", 0.3, finetune="lora", parent="bf16-lora").name == "bf16-lora-wanda30-recovered"
    assert Variant("nf4", "magnitude", 0.3, parent="nf4-qlora").name == "nf4-qlora-magnitude30"


@pytest.mark.parametrize("spec, message", [
    ({"precision": "int3"}, "unknown precision 'int3'; choose one of fp32, bf16"),
    ({"sparsity": 0.5}, "without a pruning method"),
    ({"pattern": "2:4"}, "without a pruning method"),
    ({"method": "magnitude", "sparsity": 1.2}, "strictly between 0 and 1"),
    ({"method": "wanda", "sparsity": 0.7, "pattern": "2:4"}, "2:4 pattern means sparsity 0.5"),
    ({"finetune": "full"}, "unknown finetune 'full'"),
    ({"precisoin": "bf16"}, "unknown variant field"),
    ({"precision": "dynamic-int8", "finetune": "lora"}, "dynamic-int8 is inference-only"),
    ({"parent": "bf16"}, "name a fine-tuned variant without pruning, e.g. bf16-lora"),
    ({"parent": "bf16-magnitude50-lora"}, "name a fine-tuned variant without pruning"),
    ({"precision": "bf16", "parent": "bf16-lora"}, "is the parent itself"),
    ({"precision": "fp32", "finetune": "lora", "parent": "bf16-lora"}, "only a pruned copy .* is fine-tuned again"),
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
    with pytest.raises(FileNotFoundError, match="run notebooks/05_finetune.ipynb for bf16-lora"):
        load_variant(Variant("fp32", parent="bf16-lora"), "no-such-profile")
    with pytest.raises(FileNotFoundError, match="03_prune.ipynb with method=wanda .* parent=bf16-lora"):
        load_variant(Variant("bf16", "wanda", 0.5, parent="bf16-lora"), "no-such-profile")


def test_hardware_that_cannot_run_a_variant_says_why(monkeypatch):
    import torch

    assert unsupported_here(Variant("dynamic-int8"), "cpu") is None
    monkeypatch.setattr(torch.cpu, "_is_amx_fp16_supported", lambda: False, raising=False)
    assert unsupported_here(Variant("fp16"), "cpu") is None  # fp16 runs on any CPU (slowly)...
    assert "fp16 matrix math" in unsupported_here(Variant("fp16", finetune="lora"), "cpu")  # ...but trains only
    assert unsupported_here(Variant("fp16", finetune="lora"), "cuda") is None               # with fp16 matrix math
    assert unsupported_here(Variant("bf16", finetune="lora"), "cpu") is None
    monkeypatch.setattr(torch.cpu, "_is_amx_fp16_supported", lambda: True, raising=False)
    assert unsupported_here(Variant("fp16", finetune="lora"), "cpu") is None
    assert "CPU only" in unsupported_here(Variant("dynamic-int8"), "cuda")
    with pytest.raises(ValueError, match="runs on CPU only"):
        models.load_model("default", "dynamic-int8", device="cuda")


def test_semi_structured_kernel_is_na_on_cpu_with_the_reason(tiny_model):
    text = use_semi_structured(tiny_model, "bf16", "cpu")
    assert text.startswith("N/A semi-structured 2:4 kernel") and "CUDA" in text
    assert "needs fp16/bf16" in use_semi_structured(tiny_model, "nf4", "cuda")


def test_kernel_names():
    assert models.compute_path_name("nf4-dq", "cpu") == "bnb nf4-dq cpu"
    assert models.compute_path_name("dynamic-int8", "cpu") == "torchao int8 dynamic cpu"
    assert "slow" in models.compute_path_name("fp16", "cpu") and models.compute_path_name("fp16", "cuda") == "dense fp16 cuda"


@pytest.mark.parametrize("precision", ["bf16", "nf4-dq", "dynamic-int8"])
def test_precisions_load_a_small_saved_model(tiny_model, tokenizer, tmp_path, precision):
    models.save_model_folder(tiny_model, tokenizer, tmp_path / "tiny")
    model, tok = models.load_model(tmp_path / "tiny", precision, device="cpu")
    ids = tok("SITE_DOWN at NRT123", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        assert torch.isfinite(model(input_ids=ids).logits.float()).all()
    assert models.weight_bytes(model) > 0
    assert models.weight_bytes(model) < models.weight_bytes(tiny_model)
    if precision == "dynamic-int8":  # block linears int8; the output head stays tied to the embedding
        assert model.lm_head.weight is model.model.embed_tokens.weight


def test_weight_bytes_counts_the_tensors_inside_a_wrapper_tensor():
    """A 2:4 semi-structured weight (CUDA) is a wrapper tensor with no storage of its own; TwoTensor is one on CPU."""
    from torch.testing._internal.two_tensor import TwoTensor

    layer = torch.nn.Linear(8, 4, bias=False)
    plain = models.weight_bytes(layer)
    layer.weight = torch.nn.Parameter(TwoTensor(layer.weight.detach(), layer.weight.detach().clone()),
                                      requires_grad=False)
    assert models.weight_bytes(layer) == 2 * plain


def test_merging_an_adapter_keeps_the_outputs_and_the_pruned_zeros(tokenizer):
    from peft import LoraConfig, get_peft_model

    from helpers import prune
    from helpers.variants import merge_adapter
    from conftest import make_tiny_model

    batch = tokenizer(["Node: gNodeB, site NRT101. Alarms: MAINS_FAIL"], return_tensors="pt")
    config = LoraConfig(r=4, target_modules=["q_proj", "down_proj"], init_lora_weights=False)  # a non-zero update
    dense = get_peft_model(make_tiny_model(tokenizer), config)
    with torch.no_grad():
        unmerged = dense(**batch).logits
        merged, text = merge_adapter(dense, "fp32")
        assert text == "LoRA merged" and not any("lora" in name for name, _ in merged.named_modules())
        assert all(p.requires_grad for p in merged.parameters())  # as loaded from a folder (peft had frozen them)
        torch.testing.assert_close(merged(**batch).logits, unmerged, rtol=1e-4, atol=1e-4)

    pruned = make_tiny_model(tokenizer)
    prune.prune(pruned, "magnitude", 0.5, "2:4")
    merged, text = merge_adapter(get_peft_model(pruned, config), "fp32", keep_zeros=True)
    assert text == "LoRA merged, pruned zeros re-applied (sparsity 0.50)"
    assert all(prune.follows_2_4(linear.weight) for linear in prune.block_linears(merged).values())
    assert merge_adapter(get_peft_model(make_tiny_model(tokenizer), config), "nf4")[1] == \
        "LoRA adapter unmerged (nf4 weights cannot absorb it)"
