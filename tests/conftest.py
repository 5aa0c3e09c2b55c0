"""Shared fixtures: a tiny Llama built from a config (fast, random weights) and the real tokenizer."""
import pytest

import helpers  # noqa: F401  (offline mode)


@pytest.fixture(scope="session")
def tokenizer():
    from transformers import AutoTokenizer

    from helpers.models import build_default_cache

    tok = AutoTokenizer.from_pretrained(build_default_cache())
    tok.pad_token = tok.pad_token or tok.eos_token
    return tok


@pytest.fixture
def tiny_model(tokenizer):
    return make_tiny_model(tokenizer)


def make_tiny_model(tokenizer):
    """A 2-layer Llama with the real vocabulary: same module layout as the default model, ~3 M params."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                         tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(config).eval()
