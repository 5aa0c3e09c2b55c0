"""LoRA through trl on a tiny model: the loss falls, the saved adapter reloads to identical outputs, epochs are
validated and the best adapter kept, and each epoch balances RCA and resolution-note examples."""
import copy
import time

import pytest
import torch
from peft import PeftModel
from transformers import LlamaForCausalLM

from helpers import finetune, ticket_generator


def test_lora_lowers_loss_and_adapter_round_trips(tiny_model, tokenizer, tmp_path):
    rows = ticket_generator.generate_splits(8, seed=0)["train"]
    examples = finetune.rca_examples(rows, ticket_generator.LABELS)
    assert examples[0]["completion"][0]["content"] == rows[0]["root_cause"]
    base_weights = copy.deepcopy(tiny_model.state_dict())
    trained, log = finetune.lora_finetune(tiny_model, tokenizer, examples[:2] * 4, tmp_path / "adapter", epochs=2,
                                          batch_size=2, learning_rate=5e-2, seed=0, warmup_ratio=0.0)
    assert log["steps"] == 8 and log["epochs"] == 2 and log["trainable_params"] > 0
    assert len(log["step_tokens"]) == 8 and len(log["step_seconds"]) == 7 and min(log["step_seconds"]) > 0
    assert log["loss_curve"][-1] < log["loss_curve"][0]
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()

    ids = tokenizer("MAINS_FAIL at site NRT123", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        expected = trained.eval()(input_ids=ids).logits
    fresh = LlamaForCausalLM(tiny_model.config)
    fresh.load_state_dict(base_weights)
    reloaded = PeftModel.from_pretrained(fresh, tmp_path / "adapter").eval()
    with torch.inference_mode():
        torch.testing.assert_close(reloaded(input_ids=ids).logits, expected)


def test_scoring_completion_positions_only_keeps_the_loss(tiny_model, tokenizer, tmp_path, monkeypatch):
    """On CPU trl's LM head scores only the completion positions: same losses as scoring all, and its switch restored."""
    import contextlib

    from trl.trainer import utils as trl_utils

    rows = ticket_generator.generate_splits(8, seed=0)["train"]
    examples = finetune.rca_examples(rows, ticket_generator.LABELS)[:4]
    switch = trl_utils._use_triton
    curves, base = [], copy.deepcopy(tiny_model)
    for compact in (True, False):
        if not compact:
            monkeypatch.setattr(finetune, "completion_positions_only", contextlib.nullcontext)
        model = copy.deepcopy(base)
        _, log = finetune.lora_finetune(model, tokenizer, examples, tmp_path / f"a{compact}", epochs=1, batch_size=2,
                                        learning_rate=5e-2, seed=0, max_steps=3)
        curves.append(log["loss_curve"])
        assert log["validation"] == [] and log["best_epoch"] is None and log["validation_seconds"] == 0.0
        assert trl_utils._use_triton is switch
    torch.testing.assert_close(torch.tensor(curves[0]), torch.tensor(curves[1]), rtol=1e-4, atol=1e-4)


def test_training_examples_hold_every_rca_ticket_and_a_share_of_notes():
    train = ticket_generator.generate_splits(120, seed=0)["train"]
    examples = finetune.training_examples(train, ticket_generator.LABELS, response_share=0.25, seed=0)
    rca = [e for e in examples if e["completion"][0]["content"] in ticket_generator.LABELS]
    assert len(rca) == len(train) and len(examples) - len(rca) == round(0.25 * len(train))
    assert finetune.training_examples(train, ticket_generator.LABELS, 0.25, seed=0) == examples
    assert len(finetune.training_examples(train, ticket_generator.LABELS, 5.0, seed=0)) == 2 * len(train)  # all notes at most


def test_every_epoch_is_validated_and_the_best_adapter_is_kept(tiny_model, tokenizer, tmp_path, monkeypatch):
    from safetensors.torch import load_file

    splits = ticket_generator.generate_splits(40, seed=0)
    examples = finetune.rca_examples(splits["train"], ticket_generator.LABELS)[:8]
    scripted, snapshots = iter([0.2, 0.5, 0.3]), []  # validation macro-F1 after epochs 1-3: epoch 2's adapter stays

    def macro_f1(self, model, tokenizer_):
        assert not model.training
        snapshots.append({k.replace(".default", ""): v.detach().clone() for k, v in model.state_dict().items() if "lora_" in k})
        time.sleep(0.5)  # a validation pass long enough to see in the step times
        return next(scripted)

    monkeypatch.setattr(finetune._Validation, "macro_f1", macro_f1)
    _, log = finetune.lora_finetune(tiny_model, tokenizer, examples, tmp_path / "adapter", epochs=3, batch_size=4,
                                    learning_rate=1e-2, seed=0, validation=splits["validation"][:6], labels=ticket_generator.LABELS)
    assert [h["epoch"] for h in log["validation"]] == [1.0, 2.0, 3.0] and log["steps"] == 6
    assert log["best_epoch"] == 2.0 and log["best_val_macro_f1"] == 0.5
    assert len(log["loss_epochs"]) == len(log["loss_curve"]) == 6
    # the steady state (what J per training token counts): steps 2-6, without the passes after epochs 1 and 2
    between = [h["seconds"] for h in log["validation"][:2]]
    assert min(between) >= 0.5 and log["steady_seconds"] == pytest.approx(sum(log["step_seconds"]) - sum(between))
    assert 0 < log["steady_seconds"] < sum(log["step_seconds"]) - 1.0
    assert log["steady_tokens"] == log["train_tokens"] - log["step_tokens"][0] > 0
    kept = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    assert kept.keys() == snapshots[1].keys()
    for name, value in kept.items():
        torch.testing.assert_close(value, snapshots[1][name])
    assert any(not torch.equal(kept[k], snapshots[2][k]) for k in kept)  # epoch 3 moved on, and was not kept



def test_validation_leaves_bitsandbytes_4bit_weights_in_their_training_layout(tiny_model, tokenizer, tmp_path):
    """bitsandbytes repacks a 4-bit weight for CPU inference on its first eval-mode forward, and training on the
    repacked weight goes wrong (nf4 QLoRA loss 0.69 -> 20 after a validation pass): validation must not repack."""
    from bitsandbytes.nn import Linear4bit
    from transformers import BitsAndBytesConfig

    tiny_model.save_pretrained(tmp_path / "tiny")
    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)

    def packed_after(prepare):
        model = LlamaForCausalLM.from_pretrained(tmp_path / "tiny", quantization_config=config, device_map="cpu")
        prepare(model)
        with torch.inference_mode():
            model(input_ids=tokenizer("LOS on uplink", return_tensors="pt")["input_ids"])
        layers = [m for m in model.modules() if isinstance(m, Linear4bit)]
        assert layers
        return [getattr(m.weight.quant_state, "packing_format_for_cpu", False) for m in layers], layers

    packed, layers = packed_after(finetune._eval_without_bnb_repacking)
    assert not any(packed) and all(m.training for m in layers)
    if layers[0].support_avx512bf16_for_cpu:  # where bitsandbytes repacks at all, plain eval() does
        assert all(packed_after(lambda m: m.eval())[0])


def test_eager_attention_in_training_gives_the_losses_of_sdpa_and_validation_keeps_the_models_own(
        tiny_model, tokenizer, tmp_path, monkeypatch):
    """The trainer's eager attention (faster backward on CPU) changes the arithmetic only to rounding; validation
    scores with the attention the model was loaded with, and the model gets it back after training."""
    rows = ticket_generator.generate_splits(40, seed=0)
    examples = finetune.rca_examples(rows["train"], ticket_generator.LABELS)[:6]
    seen = []
    monkeypatch.setattr(finetune._Validation, "macro_f1",
                        lambda self, model, tok: seen.append(model.config._attn_implementation) or 0.5)
    curves, base = {}, copy.deepcopy(tiny_model)
    assert base.config._attn_implementation == "sdpa"
    for attention in ("sdpa", "eager"):
        model = copy.deepcopy(base)
        _, log = finetune.lora_finetune(model, tokenizer, examples, tmp_path / attention, epochs=1, batch_size=2,
                                        learning_rate=5e-2, seed=0, max_steps=3, training_attention=attention,
                                        validation=rows["validation"][:2], labels=ticket_generator.LABELS)
        curves[attention] = log["loss_curve"]
        assert model.config._attn_implementation == "sdpa" and log["training_attention"] == attention
    assert seen == ["sdpa", "sdpa"]
    torch.testing.assert_close(torch.tensor(curves["eager"]), torch.tensor(curves["sdpa"]), rtol=1e-3, atol=1e-3)


def test_an_fp16_model_trains_under_fp16_autocast_not_bf16(tiny_model, tokenizer, tmp_path):
    examples = finetune.rca_examples(ticket_generator.generate_splits(8, seed=0)["train"], ticket_generator.LABELS)[:2]
    half = copy.deepcopy(tiny_model).to(torch.float16)
    _, log = finetune.lora_finetune(half, tokenizer, examples, tmp_path / "fp16", epochs=1, batch_size=2,
                                    learning_rate=1e-2, seed=0, max_steps=1, bf16=True)
    assert log["mixed_precision"] == "fp16" and log["steps"] == 1
    _, log = finetune.lora_finetune(tiny_model.to(torch.bfloat16), tokenizer, examples, tmp_path / "bf16", epochs=1,
                                    batch_size=2, learning_rate=1e-2, seed=0, max_steps=1, bf16=True)
    assert log["mixed_precision"] == "bf16"


def test_adapter_inputs_stay_in_the_autocast_dtype_and_the_losses_are_identical(tiny_model, tokenizer, tmp_path,
                                                                                  monkeypatch):
    """Under bf16 autocast the trainer skips PEFT's cast of each adapter's input to fp32 (autocast casts it back):
    the same losses, bit for bit, as with the cast; outside bf16 autocast nothing is switched off."""
    import contextlib

    import peft.helpers

    examples = finetune.rca_examples(ticket_generator.generate_splits(8, seed=0)["train"], ticket_generator.LABELS)[:4]
    switched, plain = [], peft.helpers.disable_input_dtype_casting

    def recording(model, active=True):
        switched.append(active)
        return plain(model, active)

    curves, base = [], copy.deepcopy(tiny_model).to(torch.bfloat16)
    for recorded in (recording, lambda model, active=True: contextlib.nullcontext()):
        monkeypatch.setattr(peft.helpers, "disable_input_dtype_casting", recorded)
        model = copy.deepcopy(base)
        trained, log = finetune.lora_finetune(model, tokenizer, examples, tmp_path / f"a{len(curves)}", epochs=1,
                                              batch_size=2, learning_rate=5e-2, seed=0, max_steps=3, bf16=True)
        curves.append(log["loss_curve"])
    assert switched == [True] and curves[0] == curves[1]
    assert all(m.cast_input_dtype_enabled for m in trained.modules() if hasattr(m, "cast_input_dtype_enabled"))
    monkeypatch.setattr(peft.helpers, "disable_input_dtype_casting", recording)
    finetune.lora_finetune(copy.deepcopy(tiny_model), tokenizer, examples, tmp_path / "fp32", epochs=1, batch_size=2,
                           learning_rate=5e-2, seed=0, max_steps=1)
    assert switched == [True, False]


def test_steady_energy_leaves_out_the_first_step_and_the_validation_between_steps():
    from helpers.energy import Window

    window = Window("finetune", 100.0, 200.0, 0.0, [{"meter": "m", "method": "m (modelled)", "joules": 1000.0,
                                                    "duration_s": 100.0}])
    log = {"steady_seconds": 60.0, "steady_tokens": 3000, "train_tokens": 4000, "epochs": 2.0}
    out = finetune.steady_energy(window, log)  # 60 % of the window: 600 J over 3,000 tokens
    assert out["joules_per_training_token"] == pytest.approx(0.2) and out["joules_per_epoch"] == pytest.approx(400.0)
    assert "optimizer steps after the first (set-up, first step, validation off): 60%" in out["energy_method"]
    unread = Window("finetune", 100.0, 200.0, 0.0, [{"meter": "m", "method": "m unavailable: no meter", "joules": None,
                                                    "duration_s": 100.0}])
    assert finetune.steady_energy(unread, log)["joules_per_epoch"] is None  # unknown, never 0
