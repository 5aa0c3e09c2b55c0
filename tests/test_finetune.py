"""LoRA through trl on a tiny model: the loss falls, and the saved adapter reloads to identical outputs."""
import copy

import torch
from peft import PeftModel
from transformers import LlamaForCausalLM

from helpers import finetune, tickets


def test_lora_lowers_loss_and_adapter_round_trips(tiny_model, tokenizer, tmp_path):
    rows = tickets.generate_splits(8, seed=0)["train"]
    examples = finetune.rca_examples(rows, tickets.LABELS)
    assert examples[0]["completion"][0]["content"] == rows[0]["root_cause"]
    base_weights = copy.deepcopy(tiny_model.state_dict())
    trained, log = finetune.lora_finetune(tiny_model, tokenizer, examples[:2] * 4, tmp_path / "adapter",
                                          max_steps=8, batch_size=2, learning_rate=5e-2, seed=0)
    assert log["steps"] == 8 and log["trainable_params"] > 0
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

    rows = tickets.generate_splits(8, seed=0)["train"]
    examples = finetune.rca_examples(rows, tickets.LABELS)[:4]
    switch = trl_utils._use_triton
    curves, base = [], copy.deepcopy(tiny_model)
    for compact in (True, False):
        if not compact:
            monkeypatch.setattr(finetune, "completion_positions_only", contextlib.nullcontext)
        model = copy.deepcopy(base)
        _, log = finetune.lora_finetune(model, tokenizer, examples, tmp_path / f"a{compact}", max_steps=3, batch_size=2,
                                        learning_rate=5e-2, seed=0)
        curves.append(log["loss_curve"])
        assert trl_utils._use_triton is switch
    torch.testing.assert_close(torch.tensor(curves[0]), torch.tensor(curves[1]), rtol=1e-4, atol=1e-4)
