"""Pruning reaches its exact sparsity in every block linear and touches nothing else."""
import pytest
import torch

from helpers import prune


@pytest.mark.parametrize("sparsity", [0.3, 0.5, 0.7])
def test_magnitude_pruning_exact_sparsity_per_layer(tiny_model, sparsity):
    embed = tiny_model.get_input_embeddings().weight.clone()
    per_layer = prune.prune(tiny_model, "magnitude", sparsity)
    assert len(per_layer) == 2 * 7  # q, k, v, o, gate, up, down in each of 2 layers
    for name, linear in prune.block_linears(tiny_model).items():
        expected = round(sparsity * linear.weight.numel())
        assert int((linear.weight == 0).sum()) == expected, name
    assert torch.equal(tiny_model.get_input_embeddings().weight, embed)  # embeddings and tied LM head untouched


def test_magnitude_pruning_removes_the_smallest_weights(tiny_model):
    linear = next(iter(prune.block_linears(tiny_model).values()))
    before = linear.weight.detach().abs().clone()
    prune.prune(tiny_model, "magnitude", 0.5)
    kept = before[linear.weight != 0]
    removed = before[linear.weight == 0]
    assert removed.max() <= kept.min()


@pytest.mark.parametrize("method, sparsity, message", [
    ("magnitude", 0.0, "strictly between 0 and 1"),
    ("magnitude", 1.0, "strictly between 0 and 1"),
    ("magnitude", 1.5, "strictly between 0 and 1"),
    ("random", 0.5, "unknown pruning method 'random'"),
])
def test_invalid_spec_is_refused(method, sparsity, message):
    with pytest.raises(ValueError, match=message):
        prune.check_prune_spec(method, sparsity)
