"""Batched perplexity equals the one-text-per-forward definition: padding changes nothing but the speed."""
import math

import pytest
import torch

from helpers import compression

TEXTS = ["Alarms: MAINS_FAIL, SITE_DOWN at site NB-0421 since 03:10.",
         "LOS on the uplink port",
         "Customer reports slow data in the evening; cell 3 shows high PRB utilisation and RRC drops.",
         "x",  # one token at most: skipped, as before
         "Fibre cut suspected between the hub and the aggregation switch; two sites dark, generators idle."]


def reference_perplexity(model, tokenizer, texts, max_length=256):
    """The definition: each text alone, the model's own causal-LM loss, weighted by its predicted tokens."""
    nll, tokens = 0.0, 0
    for text in texts:
        ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_length)["input_ids"]
        if ids.shape[1] < 2:
            continue
        with torch.inference_mode():
            loss = model(input_ids=ids, labels=ids).loss.float().item()
        nll, tokens = nll + loss * (ids.shape[1] - 1), tokens + ids.shape[1] - 1
    return math.exp(nll / tokens)


@pytest.mark.parametrize("batch_size", [1, 2, 8])
def test_batched_perplexity_matches_one_text_per_forward(tiny_model, tokenizer, batch_size):
    tiny_model.eval()
    expected = reference_perplexity(tiny_model, tokenizer, TEXTS)
    assert compression.perplexity(tiny_model, tokenizer, TEXTS, batch_size=batch_size) == pytest.approx(expected, rel=1e-5)


def test_perplexity_truncates_and_rejects_empty_input(tiny_model, tokenizer):
    tiny_model.eval()
    short = compression.perplexity(tiny_model, tokenizer, TEXTS, max_length=8)
    assert short == pytest.approx(reference_perplexity(tiny_model, tokenizer, TEXTS, max_length=8), rel=1e-5)
    with pytest.raises(ValueError):
        compression.perplexity(tiny_model, tokenizer, ["x"])


def test_dynamic_int8_takes_one_scale_per_token_so_batching_changes_nothing(tiny_model, tokenizer):
    """dynamic-int8 quantizes each token's activations with its own scale: batched perplexity (padding and
    neighbours in the same tensor) equals one text per forward, so it is not forced to batch size 1."""
    from helpers import models

    model = models.quantize_dynamic_int8(tiny_model.eval())
    assert not compression.quantizes_activations(model)
    layer = model.model.layers[0].mlp.down_proj
    x = torch.randn(3, layer.in_features)
    outlier = torch.cat([x, 1000 * torch.randn(1, layer.in_features)])  # a massive activation in the same batch
    with torch.inference_mode():
        torch.testing.assert_close(layer(outlier)[:3], layer(x))  # per-batch scales would round x to zero
    expected = reference_perplexity(model, tokenizer, TEXTS)
    assert compression.perplexity(model, tokenizer, TEXTS, batch_size=8) == pytest.approx(expected, rel=1e-4)


def test_llm_int8_picks_outliers_over_the_batch_so_it_is_scored_one_text_per_forward(tiny_model, tokenizer, tmp_path):
    from helpers import models

    models.save_model_folder(tiny_model, tokenizer, tmp_path / "tiny")
    model, _ = models.load_model(tmp_path / "tiny", "int8", device="cpu")
    assert compression.quantizes_activations(model)
    expected = reference_perplexity(model, tokenizer, TEXTS)
    assert compression.perplexity(model, tokenizer, TEXTS, batch_size=8) == pytest.approx(expected, rel=1e-5)


def test_dense_perplexity_is_computed_once_per_weights_and_texts(tiny_model, tokenizer, tmp_path, monkeypatch):
    from helpers import paths

    weights = tmp_path / "model"
    tiny_model.save_pretrained(weights)
    monkeypatch.setattr(paths, "artifacts_dir", lambda profile: tmp_path / profile / "artifacts")
    calls = []
    monkeypatch.setattr(compression, "perplexity", lambda *a, **k: calls.append(a[2]) or 10.0 + len(calls))
    assert compression.dense_perplexity(tiny_model, tokenizer, TEXTS, weights, "p") == 11.0
    assert compression.dense_perplexity(tiny_model, tokenizer, TEXTS, weights, "p") == 11.0  # cached
    assert compression.dense_perplexity(tiny_model, tokenizer, TEXTS[:2], weights, "p") == 12.0  # other texts
    assert len(calls) == 2 and (tmp_path / "p" / "artifacts" / "dense_perplexity.json").is_file()
