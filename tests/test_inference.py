"""The inference rules: false-positive rates under the null, power, Holm, undefined noise."""
import math

import numpy as np
import pytest

from kcomplexity.analysis.inference import holm, against_reference, verdict


@pytest.mark.parametrize("n_ref, n_own", [(8, 1), (3, 1), (8, 3)])
def test_null_false_positive_rate_is_alpha(n_ref, n_own):
    rng = np.random.default_rng(0)
    trials = 2000
    hits = 0
    for _ in range(trials):
        draws = rng.normal(1e6, 500.0, n_ref + n_own)
        t = against_reference(draws[:n_own], draws[n_own:])
        hits += t.p_value < 0.05
    rate = hits / trials
    assert 0.032 < rate < 0.068, rate  # 0.05 within about 3.3 binomial SE


def test_interval_covers_the_true_ratio_at_its_level():
    rng = np.random.default_rng(1)
    x, covered, trials = 0.97e6, 0, 1000
    for _ in range(trials):
        t = against_reference([x], rng.normal(1e6, 2000.0, 8))
        covered += t.ci_low <= 0.97 <= t.ci_high
    assert 0.925 < covered / trials < 0.97


def test_a_clear_effect_is_found_and_signed():
    ref = np.random.default_rng(2).normal(1e6, 100.0, 8)
    low, high = against_reference([0.99e6], ref), against_reference([1.01e6], ref)
    assert low.p_value < 1e-6 and verdict(low.ratio, low.p_value) == "lower"
    assert verdict(high.ratio, high.p_value) == "higher"
    assert low.ci_low < low.ratio < low.ci_high < 1


def test_holm_controls_the_family_and_keeps_nan():
    adjusted = holm([0.01, 0.04, math.nan, 0.03])
    assert np.isnan(adjusted[2])
    np.testing.assert_allclose(adjusted[[0, 3, 1]], [0.03, 0.06, 0.06])
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    for p in rng.uniform(0, 0.2, size=(3, 7)):
        np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1])
    any_hit = sum((holm(rng.uniform(size=10)) < 0.05).any() for _ in range(1000)) / 1000
    assert any_hit <= 0.07


def test_noise_that_cannot_be_estimated_says_so():
    same = against_reference([90.0], [100.0, 100.0, 100.0])
    assert math.isnan(same.p_value) and "identical" in same.test
    assert verdict(same.ratio, same.p_value) == "no evidence"
    one = against_reference([90.0], [100.0])
    assert math.isnan(one.p_value) and "one reference draw" in one.test
    skipped = against_reference([math.nan], [1.0, 2.0])
    assert "skipped" in skipped.test


def test_float_round_off_is_not_noise():
    """Sums of block scores differ in the last bits between draws; that is no spread to test against."""
    ref = np.array([183.486999] * 3) + np.array([0.0, 2.8e-14, 5.7e-14])
    same, other = against_reference(183.486999 + 2.8e-14, ref), against_reference(190.0, ref)
    assert same.p_value == 1.0 and "identical" in same.test and same.noise == 0
    assert math.isnan(other.p_value) and "identical" in other.test
    welch = against_reference(ref + 1e-14, ref)
    assert welch.p_value == 1.0 and "identical" in welch.test
