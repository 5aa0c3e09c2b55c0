"""The paper's ranking with our normalisation, against a hand-computed example."""
import pandas as pd
import pytest

from helpers.ranking import rank


def test_rank_by_hand():
    table = pd.DataFrame({"variant": ["fp32", "bf16", "nf4"], "joules_per_ticket": [2.0, 1.0, 4.0],
                          "macro_f1": [0.6, 0.5, 0.9]})
    out = rank(table, w=0.5)
    # phi = min J / J: fp32 0.5, bf16 1.0, nf4 0.25; rho = macro-F1 / best (0.9): fp32 2/3, bf16 5/9, nf4 1
    assert out.variant.tolist() == ["bf16", "nf4", "fp32"]
    assert out.R.tolist() == pytest.approx([0.5 + 0.5 * 5 / 9, 0.125 + 0.5, 0.25 + 0.5 * 6 / 9])
    assert rank(table, w=0.0).variant[0] == "nf4" and rank(table, w=1.0).variant[0] == "bf16"


def test_bad_inputs():
    table = pd.DataFrame({"variant": ["a"], "joules_per_ticket": [0.0], "macro_f1": [0.5]})
    with pytest.raises(ValueError, match="must be > 0"):
        rank(table)
    with pytest.raises(ValueError, match="between 0 and 1"):
        rank(table.assign(joules_per_ticket=1.0), w=1.5)
