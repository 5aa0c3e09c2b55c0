"""Each pruning method reaches its exact sparsity and pattern in every block linear and touches nothing else."""
import pytest
import torch

from helpers import prune


def norms_for(model, tokenizer):
    return prune.input_norms(model, tokenizer, ["Alarms: MAINS_FAIL, SITE_DOWN", "LOS on the uplink port"])


@pytest.mark.parametrize("sparsity", [0.3, 0.5, 0.7])
def test_magnitude_exact_sparsity_per_layer(tiny_model, sparsity):
    embed = tiny_model.get_input_embeddings().weight.clone()
    per_layer = prune.prune(tiny_model, "magnitude", sparsity)
    assert len(per_layer) == 2 * 7  # q, k, v, o, gate, up, down in each of 2 layers
    for name, linear in prune.block_linears(tiny_model).items():
        assert int((linear.weight == 0).sum()) == round(sparsity * linear.weight.numel()), name
    assert torch.equal(tiny_model.get_input_embeddings().weight, embed)  # embeddings and tied LM head untouched


@pytest.mark.parametrize("sparsity", [0.3, 0.5, 0.7])
def test_wanda_exact_sparsity_per_output_row(tiny_model, tokenizer, sparsity):
    prune.prune(tiny_model, "wanda", sparsity, norms=norms_for(tiny_model, tokenizer))
    for name, linear in prune.block_linears(tiny_model).items():
        zeros_per_row = (linear.weight == 0).sum(dim=1)
        assert (zeros_per_row == round(sparsity * linear.in_features)).all(), name


def test_magnitude_removes_the_smallest_weights(tiny_model):
    linear = next(iter(prune.block_linears(tiny_model).values()))
    before = linear.weight.detach().abs().clone()
    prune.prune(tiny_model, "magnitude", 0.5)
    assert before[linear.weight == 0].max() <= before[linear.weight != 0].min()


def test_wanda_weighs_weights_by_their_input_norms(tiny_model, tokenizer):
    norms = norms_for(tiny_model, tokenizer)
    name, linear = next(iter(prune.block_linears(tiny_model).items()))
    scores = linear.weight.detach().abs() * norms[name]
    prune.prune(tiny_model, "wanda", 0.5, norms=norms)
    for row in range(linear.out_features):
        removed, kept = scores[row][linear.weight[row] == 0], scores[row][linear.weight[row] != 0]
        assert removed.max() <= kept.min()
    assert all(n.shape == (m.in_features,) and (n > 0).all() for n, m in
               zip(norms.values(), prune.block_linears(tiny_model).values()))


@pytest.mark.parametrize("method", ["magnitude", "wanda"])
def test_two_of_four_pattern(tiny_model, tokenizer, method):
    norms = norms_for(tiny_model, tokenizer) if method == "wanda" else None
    per_layer = prune.prune(tiny_model, method, 0.5, "2:4", norms=norms)
    assert set(per_layer.values()) == {0.5}
    for linear in prune.block_linears(tiny_model).values():
        groups = (linear.weight == 0).reshape(linear.out_features, -1, 4).sum(-1)
        assert (groups == 2).all() and prune.follows_2_4(linear.weight)


def test_unstructured_half_is_not_two_of_four(tiny_model):
    prune.prune(tiny_model, "magnitude", 0.5)
    assert not all(prune.follows_2_4(m.weight) for m in prune.block_linears(tiny_model).values())


def test_wanda_without_calibration_is_refused(tiny_model):
    with pytest.raises(ValueError, match="wanda needs calibration input norms"):
        prune.prune(tiny_model, "wanda", 0.5)


@pytest.mark.parametrize("method, sparsity, pattern, message", [
    ("magnitude", 0.0, "unstructured", "strictly between 0 and 1"),
    ("magnitude", 1.0, "unstructured", "strictly between 0 and 1"),
    ("wanda", 1.5, "unstructured", "strictly between 0 and 1"),
    ("random", 0.5, "unstructured", "unknown pruning method 'random'; choose one of magnitude, wanda"),
    ("magnitude", 0.3, "2:4", "the 2:4 pattern means sparsity 0.5 exactly"),
    ("magnitude", 0.5, "4:8", "unknown sparsity pattern '4:8'"),
])
def test_invalid_spec_is_refused(method, sparsity, pattern, message):
    with pytest.raises(ValueError, match=message):
        prune.check_prune_spec(method, sparsity, pattern)
