"""Bootstrap intervals: one system's, and the paired difference of two systems on the same tickets."""
import pytest

from helpers import intervals


def test_identical_systems_differ_by_exactly_zero():
    labels = ["a", "b", "c"]
    y_true = ["a", "b", "c", "a"] * 10
    y_pred = ["a", "b", "b", "c"] * 10
    out = intervals.compare_predictions(y_true, y_pred, y_pred, labels)
    assert all(v == 0 for v in out.values())
    assert intervals.verdict(out["macro_f1_diff_ci_low"], out["macro_f1_diff_ci_high"]) == "no significant difference"


def test_a_clearly_better_system_is_better_and_the_difference_is_exact():
    labels = ["a", "b"]
    y_true = ["a", "b"] * 30
    good, bad = y_true[:], ["a"] * 60
    out = intervals.compare_predictions(y_true, good, bad, labels, seed=1)
    # macro-F1: perfect 1.0 against always-"a" (F1(a) = 2*30/(30+60) = 2/3, F1(b) = 0) -> 1/3
    assert out["macro_f1_diff"] == pytest.approx(1 - 1 / 3) and out["accuracy_diff"] == pytest.approx(0.5)
    assert 0 < out["macro_f1_diff_ci_low"] <= out["macro_f1_diff"] <= out["macro_f1_diff_ci_high"]
    assert intervals.verdict(out["macro_f1_diff_ci_low"], out["macro_f1_diff_ci_high"]) == "better"
    reverse = intervals.compare_predictions(y_true, bad, good, labels, seed=1)
    assert intervals.verdict(reverse["macro_f1_diff_ci_low"], reverse["macro_f1_diff_ci_high"]) == "worse"
    with pytest.raises(ValueError, match="same tickets"):
        intervals.compare_predictions(y_true, good, bad[:-1], labels)


def test_paired_interval_separates_what_the_two_own_intervals_cannot():
    """b is a with 20 of 200 right answers made wrong: the two systems' own accuracy intervals overlap, the paired
    interval of their difference excludes 0."""
    labels = list("abcd")
    y_true = [labels[i % 4] for i in range(200)]
    wrong = lambda y: labels[(labels.index(y) + 1) % 4]  # noqa: E731
    a = [y if i % 4 else wrong(y) for i, y in enumerate(y_true)]  # accuracy 0.75
    right = [i for i in range(200) if a[i] == y_true[i]][:20]
    b = [wrong(y) if i in right else p for i, (y, p) in enumerate(zip(y_true, a))]  # accuracy 0.65
    own_a, own_b = intervals.bootstrap_ci(y_true, a, labels), intervals.bootstrap_ci(y_true, b, labels)
    paired = intervals.compare_predictions(y_true, a, b, labels)
    assert paired["accuracy_diff"] == pytest.approx(0.1)
    assert own_b["accuracy_ci_high"] > own_a["accuracy_ci_low"]  # the two own intervals overlap
    assert paired["accuracy_diff_ci_low"] > 0  # the paired one still sees that a is better


def test_compare_means_of_per_ticket_scores():
    out = intervals.compare_means([0.9, 0.8, 0.7, 0.9], [0.5, 0.4, 0.6, 0.5])
    assert out["diff"] == pytest.approx(0.325) and out["diff_ci_low"] > 0
    with pytest.raises(ValueError, match="non-empty"):
        intervals.compare_means([], [])
