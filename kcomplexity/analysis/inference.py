"""Inference for comparisons: is a variant's bit count outside its reference's draw-to-draw noise?

The reference (for example ``random_init``) is a random object: each seed gives other bits. A
variant is judged against n >= 2 reference draws r_1..r_n (mean m, sample sd s, ddof=1).

Test (``against_reference``)
    One variant value x (a trained checkpoint is one object): the two-sided **prediction test for
    one new draw**, T = (x - m) / (s sqrt(1 + 1/n)) ~ t(n - 1) under H0 "x is one more draw of the
    reference". Several variant draws (a random variant, one per seed): **Welch's t-test** of the
    two means. Assumptions: the draws are independent and approximately normal (bits are sums over
    many weights); the test is then exact (prediction) or nearly so (Welch), so a variant that is
    just another reference draw gets p < alpha with probability alpha.
Interval
    ``ci_low``/``ci_high``: a 95 % interval for ratio = mean(x) / E[reference bits]. One value: the
    t interval of the reference mean, inverted (x / (m +- q s / sqrt(n))). Several: the delta-method
    interval of the ratio of means with Welch-Satterthwaite degrees of freedom.
Multiplicity
    ``holm`` adjusts the p-values of one family of rows (one ``compare`` call, one demo claim);
    the chance of any false "lower"/"higher" in the family is then at most alpha.
Verdict
    ``"lower"`` or ``"higher"`` when the adjusted p-value is below alpha (0.05), else ``"no evidence"``.
    When the noise cannot be estimated (one reference draw, or identical draws) the p-value is NaN
    and the verdict is ``"no evidence"``; ``test`` says why. Draws are identical when they agree to
    ``RTOL`` (relative), so float round-off in a sum of block scores is not taken for noise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05
LEVEL = 0.95
RTOL = 1e-12  # draws that agree to this relative tolerance are identical (float round-off is not noise)
VERDICTS = ("lower", "higher", "no evidence")


@dataclass(frozen=True)
class Test:
    __test__ = False  # not a pytest class
    """One variant against its reference: the ratio of means, its interval, the test's p-value."""
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    noise: float  # the reference's coefficient of variation, s / m


def _t(q: float, df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(q, df))


def _undefined(ratio: float, noise: float, why: str) -> Test:
    return Test(ratio, math.nan, math.nan, math.nan, f"undefined: {why}", noise)


def prediction_test(x: float, ref: np.ndarray, level: float = LEVEL) -> Test:
    """x against the reference draws ``ref``: the prediction t-test for one new draw."""
    from scipy import stats

    n, m = len(ref), float(ref.mean())
    if n < 2:
        return _undefined(x / m, math.nan, "one reference draw; pass more seeds")
    s = float(ref.std(ddof=1))
    if s <= RTOL * abs(m):
        why = "the reference draws are identical, so their noise cannot be estimated"
        same = abs(x - m) <= RTOL * abs(m)
        return Test(x / m, x / m, x / m, 1.0, why, 0.0) if same else _undefined(x / m, 0.0, why)
    t_stat = (x - m) / (s * math.sqrt(1 + 1 / n))
    p = float(2 * stats.t.sf(abs(t_stat), n - 1))
    half = _t(0.5 + level / 2, n - 1) * s / math.sqrt(n)
    high = x / (m - half) if m - half > 0 else math.inf
    return Test(x / m, x / (m + half), high, p, f"prediction t, {n - 1} df", s / m)


def welch_test(own: np.ndarray, ref: np.ndarray, level: float = LEVEL) -> Test:
    """Several variant draws against the reference draws: Welch's t-test, delta-method ratio interval."""
    from scipy import stats

    a, b = float(own.mean()), float(ref.mean())
    va, vb = own.var(ddof=1) / len(own), ref.var(ddof=1) / len(ref)
    ratio, noise = a / b, float(ref.std(ddof=1)) / b
    if math.sqrt(va + vb) <= RTOL * max(abs(a), abs(b)):
        why = "every draw of both is identical, so the noise cannot be estimated"
        return Test(ratio, ratio, ratio, 1.0, why, noise) if abs(a - b) <= RTOL * abs(b) else \
            _undefined(ratio, noise, why)
    df = (va + vb) ** 2 / (va ** 2 / (len(own) - 1) + vb ** 2 / (len(ref) - 1))
    p = float(2 * stats.t.sf(abs(a - b) / math.sqrt(va + vb), df))
    se = ratio * math.sqrt(va / a ** 2 + vb / b ** 2)
    half = _t(0.5 + level / 2, df) * se
    return Test(ratio, ratio - half, ratio + half, p, f"Welch t, {df:.1f} df", noise)


def against_reference(own, ref, level: float = LEVEL) -> Test:
    """The variant's draws ``own`` (one value or several) against the reference's draws ``ref``."""
    own, ref = np.asarray(own, dtype=float).reshape(-1), np.asarray(ref, dtype=float).reshape(-1)
    if not (np.isfinite(own).all() and np.isfinite(ref).all()) or not own.size or not ref.size:
        return _undefined(math.nan, math.nan, "bits missing (a skipped estimate)")
    if len(own) == 1 or len(ref) < 2:
        return prediction_test(float(own.mean()), ref, level)
    return welch_test(own, ref, level)


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values of one family; NaN entries stay NaN and do not count in the family.

    The i-th smallest of m p-values becomes max_{j<=i} min(1, (m - j + 1) p_(j)) (Holm 1979; equal to
    ``statsmodels.stats.multitest.multipletests(p, method="holm")``, which costs ~50 ms a call).
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = (len(order) - np.arange(len(order))) * p[order]
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return adjusted


def verdict(ratio: float, p_adjusted: float, alpha: float = ALPHA) -> str:
    """``"lower"``/``"higher"`` when ``p_adjusted < alpha``, else ``"no evidence"``."""
    if not (p_adjusted < alpha):  # NaN included
        return "no evidence"
    return "lower" if ratio < 1 else "higher"
