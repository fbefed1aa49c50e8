"""tradelake.analysis: AUC, weight of evidence and information value against hand-computed values."""
from __future__ import annotations

import itertools
import math
import random

import pandas as pd
import pytest

from tradelake import analysis

LN3, LN5 = math.log(3), math.log(5)


def pairwise_auc(scores, labels):
    """The definition: P(score of a defaulter > score of a non-defaulter), ties counting half."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("scores, labels, want", [
    ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 1.0),
    ([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1], 0.0),
    ([1, 2, 2, 3], [0, 1, 0, 1], 3.5 / 4),                      # one tie between the classes
    ([0.5, 0.3, 0.3, 0.8, 0.1, 0.6], [1, 0, 1, 1, 0, 0], 6.5 / 9),
    ([7, 7, 7, 7], [0, 1, 0, 1], 0.5),                          # all tied: no separation
])
def test_auc_hand_computed(scores, labels, want):
    assert analysis.auc(scores, labels) == pytest.approx(want, abs=1e-12)


def test_auc_equals_the_pairwise_definition_with_many_ties():
    rnd = random.Random(7)
    scores = [rnd.randint(0, 20) for _ in range(300)]
    labels = [int(rnd.random() < 0.2 + s / 40) for s in scores]
    assert analysis.auc(scores, labels) == pytest.approx(pairwise_auc(scores, labels), abs=1e-12)


def test_auc_leaves_missing_scores_out_and_needs_both_classes():
    assert analysis.auc([1, None, 3, float("nan"), 2], [0, 1, 1, 0, 0]) == pytest.approx(1.0)
    assert math.isnan(analysis.auc([1, 2, 3], [1, 1, 1]))
    assert math.isnan(analysis.auc([None, 2, 3], [1, 0, 0]))  # the only defaulter has no score
    with pytest.raises(ValueError):
        analysis.auc([1, 2], [0, 2])


def test_equal_frequency_bins():
    b = analysis.bin_values(list(range(10)), bins=5)
    assert list(b.categories) == ["[0.0, 1.0]", "[2.0, 3.0]", "[4.0, 5.0]", "[6.0, 7.0]", "[8.0, 9.0]"]
    assert list(pd.Series(b).value_counts(sort=False)) == [2, 2, 2, 2, 2]
    # a value holding n / bins rows or more is a bin of its own: 0 here (12 of 20 rows, target 5)
    b = analysis.bin_values([0] * 12 + [1, 2, 3, 4, 5, 6, 7, 8], bins=4)
    assert list(b.categories) == ["[0.0, 0.0]", "[1.0, 5.0]", "[6.0, 8.0]"]
    # target 2.5 rows: 1-3 | 4-6 | 7-9 | 10 alone is under half the target and joins the bin before
    b = analysis.bin_values(list(range(1, 11)), bins=4)
    assert list(b.categories) == ["[1.0, 3.0]", "[4.0, 6.0]", "[7.0, 10.0]"]
    assert list(analysis.bin_values([0] * 8 + [1] * 2, bins=10).categories) == ["[0.0, 0.0]", "[1.0, 1.0]"]
    assert list(analysis.bin_values([1.0, None, 2.0], bins=1).astype(str)) == ["[1.0, 2.0]", "missing", "[1.0, 2.0]"]
    assert list(analysis.bin_values([0.5, 1, 3], bins=[0, 1, 3]).astype(str)) == ["[0.0, 1.0)", "[1.0, 3.0]", "[1.0, 3.0]"]


def test_woe_and_iv_hand_computed():
    # bins 1-4 and 5-8: goods 3 and 1, bads 1 and 3 (G = B = 4); WoE = ln(3), -ln(3); IV = ln(3)
    values, labels = [1, 2, 3, 4, 5, 6, 7, 8], [0, 0, 0, 1, 0, 1, 1, 1]
    t = analysis.woe_table(values, labels, bins=[0, 4.5, 8])
    assert list(t["goods"]) == [3, 1] and list(t["bads"]) == [1, 3]
    assert list(t["dist_good"]) == pytest.approx([0.75, 0.25])
    assert list(t["woe"]) == pytest.approx([LN3, -LN3])
    assert analysis.information_value(values, labels, bins=[0, 4.5, 8]) == pytest.approx(LN3)
    # the two quantile bins of 1..8 are the same bins
    assert analysis.information_value(values, labels, bins=2) == pytest.approx(LN3)


def test_empty_cells_are_smoothed():
    # goods 2, 0 and bads 0, 2: 0.5 is added to every cell -> goods 2.5, 0.5 and bads 0.5, 2.5 (G = B = 3)
    # WoE = ln((2.5/3) / (0.5/3)) = ln 5 and -ln 5; IV = 2 x (4/6) x ln 5
    t = analysis.woe_table([1, 2, 3, 4], [0, 0, 1, 1], bins=2)
    assert list(t["dist_good"]) == pytest.approx([5 / 6, 1 / 6])
    assert list(t["woe"]) == pytest.approx([LN5, -LN5])
    assert t["iv"].sum() == pytest.approx(4 / 3 * LN5)
    # smoothing 1: goods 3, 1 and bads 1, 3 (G = B = 4): WoE ln 3, -ln 3; IV = ln 3
    assert analysis.information_value([1, 2, 3, 4], [0, 0, 1, 1], bins=2, smoothing=1.0) == pytest.approx(LN3)


def test_text_values_and_missing_bin():
    # a: 1 good 1 bad; b: 2 goods 1 bad; c: 0 goods 1 bad -> smoothed: a 1.5/1.5, b 2.5/1.5, c 0.5/1.5
    # (G = B = 4.5): WoE 0, ln(5/3), ln(1/3); IV = (2/9) ln(5/3) + (2/9) ln 3 = (2/9) ln 5
    t = analysis.woe_table(["a", "a", "b", "b", "b", "c"], [1, 0, 0, 0, 1, 1])
    assert list(t["bin"]) == ["a", "b", "c"]
    assert list(t["woe"]) == pytest.approx([0.0, math.log(5 / 3), math.log(1 / 3)])
    assert t["iv"].sum() == pytest.approx(2 / 9 * LN5)
    # missing values are a bin of their own, last; here both bins are 1 good 1 bad: no information
    t = analysis.woe_table([1.0, None, 2.0, None], [0, 1, 1, 0], bins=[1, 2])
    assert list(t["bin"]) == ["[1.0, 2.0]", "missing"]
    assert list(t["woe"]) == pytest.approx([0.0, 0.0])
    assert analysis.information_value([5, 5, 5, 5], [0, 1, 0, 1]) == 0.0  # constant: one bin
    assert math.isnan(analysis.information_value([1, 2, 3], [0, 0, 0]))


def test_feature_power_and_default_rate_by_bucket():
    frame = pd.DataFrame({
        "dpd_now": [0, 0, 5, 40, 0, 95, 10, 0],
        "payment_ratio": [1.0, 0.9, 0.8, 0.2, 1.0, 0.0, None, 0.95],
        "dpd_bucket_now": ["CURRENT", "CURRENT", "1-29", "30-59", "CURRENT", "90+", "1-29", "CURRENT"],
        "default_180d": [0, 0, 0, 1, 0, 1, 1, 0],
    })
    power = analysis.feature_power(frame, ["dpd_now", "payment_ratio", "dpd_bucket_now"], "default_180d", bins=2)
    row = power.set_index("feature")
    assert row.loc["dpd_now", "auc"] == pytest.approx(pairwise_auc(frame.dpd_now, frame.default_180d))
    assert row.loc["payment_ratio", "auc"] == pytest.approx(0.0)  # lower ratios go with default, perfectly
    assert row.loc["payment_ratio", "rows"] == 7
    assert math.isnan(row.loc["dpd_bucket_now", "auc"]) and row.loc["dpd_bucket_now", "iv"] > 0
    assert list(power["iv"]) == sorted(power["iv"], reverse=True)
    rates = analysis.default_rate_by(frame, "dpd_bucket_now", "default_180d")
    assert list(rates["dpd_bucket_now"]) == ["CURRENT", "1-29", "30-59", "90+"]
    assert list(rates["rows"]) == [4, 2, 1, 1]
    assert list(rates["default_rate"]) == [0.0, 0.5, 1.0, 1.0]
