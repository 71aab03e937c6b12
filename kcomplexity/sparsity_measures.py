"""Sparse-approximation measures of weight vectors, used by pruning and analysis alike.

After Yang, Wang, Ding and Yang (arXiv 2206.05604: the l_q ratio and best-k-term bounds) and
Diao et al. (arXiv 2302.05601: the PQ index). They are properties of the values alone: any
permutation of a vector leaves them unchanged. Each ``*_rows`` function measures every row of a
2-D array (all entries count, zeros too).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .arrays import as_array, check_number, to_float
from .errors import InputError

COLUMNS = ["lq_ratio", "pq_index", "gini", "k_bound", "k_eps", "k_bound_sharp"]


def _number(value, what: str) -> float:
    """``value`` as a float (strings, None, bools and NaN refused); the caller checks the range."""
    return check_number(value, what, float("-inf"))


def neuron_rows(x: np.ndarray) -> np.ndarray:
    """A view of ``x`` with one row per neuron: a weight matrix's rows (output units), a conv
    weight flattened per output channel; a 1-D tensor is one row."""
    return x.reshape(x.shape[0], -1) if x.ndim >= 2 else x.reshape(1, -1)


def pq_index_rows(rows: np.ndarray, p: float = 0.5, q: float = 1.0) -> np.ndarray:
    """``pq_index`` of each row of a 2-D array (all entries count); 0 for an all-zero row."""
    p, q = _number(p, "p"), _number(q, "q")
    if not 0 < p < q:
        raise InputError(f"the PQ index needs 0 < p < q, got p={p}, q={q}")
    a = np.abs(to_float(np.asarray(rows), wide=True))
    top = a.max(axis=1, keepdims=True) if a.shape[1] else np.zeros((a.shape[0], 1))
    a = a / np.where(top > 0, top, 1.0)  # scale-free; avoids under/overflow in the powers
    norm_p, norm_q = np.sum(a ** p, axis=1) ** (1.0 / p), np.sum(a ** q, axis=1) ** (1.0 / q)
    ratio = max(a.shape[1], 1) ** (1.0 / q - 1.0 / p) * norm_p / np.where(norm_q > 0, norm_q, 1.0)
    return np.where(top[:, 0] > 0, 1.0 - ratio, 0.0)


def pq_index(w, p: float = 0.5, q: float = 1.0) -> float:
    """PQ index (Diao et al. 2023): I = 1 - d^(1/q - 1/p) ||w||_p / ||w||_q, 0 < p < q.

    d = number of entries of ``w`` (pass only the unpruned ones). 0 when all |w|
    are equal, approaching 1 - d^(1/q - 1/p) for a single non-zero; 0 for w = 0.
    """
    return float(pq_index_rows(as_array(w).reshape(1, -1), p, q)[0])


def lq_ratio_rows(rows: np.ndarray, q: float = 0.5) -> np.ndarray:
    """||w||_q / (d^(1/q - 1/2) ||w||_2) per row, 0 < q < 1: 1 for equal |w|, d^(1/2 - 1/q) for a
    single non-zero; 1 for a zero row. It is 1 - (PQ index with p = q, q = 2)."""
    if not 0 < _number(q, "q") < 1:
        raise InputError(f"the l_q ratio needs 0 < q < 1, got q={q}")
    return 1.0 - pq_index_rows(rows, q, 2.0)


def stechkin_constant(q: float, p: float = 2.0) -> float:
    """The sharp constant of sigma_k(w)_p <= c k^(1/p - 1/q) ||w||_q for 0 < q < p (Foucart and Rauhut,
    *A Mathematical Introduction to Compressive Sensing*, Thm 2.5, their p and q swapped):
    c = [(q/p)^(q/p) (1 - q/p)^(1 - q/p)]^(1/q) <= 1. 0.3248 at q = 1/2, p = 2; 1/2 at q = 1, p = 2.
    Equal |w_i| with k = (1 - q/p) d attain it.

    >>> round(stechkin_constant(0.5), 4), round(stechkin_constant(1.0), 12)
    (0.3248, 0.5)
    """
    if not 0 < _number(q, "q") < _number(p, "p"):
        raise InputError(f"the Stechkin constant needs 0 < q < p, got q={q}, p={p}")
    r = q / p
    return float((r ** r * (1 - r) ** (1 - r)) ** (1 / q))


def k_bound(lq_ratio, d, q: float = 0.5, eps: float = 0.1, constant: float = 1.0) -> np.ndarray:
    """Smallest k with c k^(1/2 - 1/q) ||w||_q / ||w||_2 <= eps, capped at d (0 where d = 0).

    The best k-term bound sigma_k(w)_2 <= c k^(1/2 - 1/q) ||w||_q (Stechkin; Foucart and Rauhut,
    Prop. 2.3 with c = 1, Thm 2.5 with the sharp ``c = stechkin_constant(q)``) makes this k a
    guarantee: keeping the k largest |w_i| leaves a relative l_2 error <= eps. With
    ||w||_q / ||w||_2 = lq_ratio d^(1/q - 1/2): k = ceil(d (c lq_ratio / eps)^(1 / (1/q - 1/2))).
    ``constant`` is c: 1 (the simple form, the default) or the sharp constant (a smaller k).
    """
    if not 0 < _number(eps, "eps") < 1:
        raise InputError(f"eps is a relative l2 error in (0, 1), got {eps!r}")
    if not 0 < _number(constant, "constant") <= 1:
        raise InputError(f"the bound's constant is in (0, 1] (1, or stechkin_constant(q)), got {constant!r}")
    d = np.asarray(d, dtype=np.float64)
    exact = d * (constant * np.asarray(lq_ratio, dtype=np.float64) / eps) ** (1.0 / (1.0 / q - 0.5))
    k = np.ceil(exact * (1 - 1e-12))  # an exact integer stays itself despite rounding
    return np.minimum(np.maximum(k, 1.0), d).astype(np.int64)


def gini_rows(rows: np.ndarray) -> np.ndarray:
    """Gini index of |w| per row (Hurley and Rickard 2009): with c_(1) <= ... <= c_(d) sorted,
    G = 1 - 2 sum_k (c_(k) / ||c||_1) (d - k + 1/2) / d. 0 for equal |w|, 1 - 1/d for one non-zero."""
    c = np.sort(np.abs(rows), axis=1)
    d = c.shape[1]
    total = c.sum(axis=1)
    weights = (d - np.arange(1, d + 1) + 0.5) / d
    share = c / np.where(total > 0, total, 1.0)[:, None]
    return np.where(total > 0, 1.0 - 2.0 * share @ weights, 0.0)


def k_eps_rows(rows: np.ndarray, eps: float) -> np.ndarray:
    """Per row, the fewest largest |w| whose keeping leaves a relative l_2 error <= eps:
    the smallest k with sqrt(sum of the d - k smallest w_i^2) <= eps ||w||_2 (0 for a zero row)."""
    energy = np.sort(np.square(rows), axis=1)                          # ascending
    dropped = np.concatenate([np.zeros((len(rows), 1)), np.cumsum(energy, axis=1)], axis=1)
    # dropped[:, j] = energy of the j smallest = the error^2 of keeping k = d - j
    ok = dropped <= eps ** 2 * dropped[:, -1:] * (1 + 1e-12)   # true for j = 0 .. (largest j allowed)
    return rows.shape[1] - (ok.sum(axis=1) - 1)


def row_sparsity(rows: np.ndarray, q: float = 0.5, p: float = 0.5, eps: float = 0.1) -> dict[str, np.ndarray]:
    """The ``COLUMNS`` of ``sparsity`` for each row of a 2-D array (every entry counts, zeros too)."""
    rows = to_float(np.asarray(rows), wide=True)
    lq = lq_ratio_rows(rows, q)
    zero = ~np.any(rows != 0, axis=1)
    return {"lq_ratio": lq, "pq_index": pq_index_rows(rows, p, 1.0), "gini": gini_rows(rows),
            "k_bound": np.where(zero, 0, k_bound(lq, rows.shape[1], q, eps)), "k_eps": k_eps_rows(rows, eps),
            "k_bound_sharp": np.where(zero, 0, k_bound(lq, rows.shape[1], q, eps, stechkin_constant(q)))}


def vector_sparsity(x: np.ndarray, q: float = 0.5, p: float = 0.5, eps: float = 0.1) -> dict[str, float]:
    """The ``COLUMNS`` of one flattened tensor (or joined model), as plain numbers."""
    return {k: v[0].item() for k, v in row_sparsity(np.asarray(x).reshape(1, -1), q, p, eps).items()}


def sparsity_options(sparsity) -> dict | None:
    """``analyse``'s ``sparsity=`` argument as keyword options (None when off)."""
    if sparsity is False or sparsity is None:
        return None
    if sparsity is not True and not isinstance(sparsity, Mapping):
        raise InputError(f"sparsity is True, False or a dict of options such as {{'eps': 0.2}}, got {sparsity!r}")
    options = {} if sparsity is True else dict(sparsity)
    unknown = set(options) - {"q", "p", "eps"}
    if unknown:
        raise InputError(f"sparsity options are q, p and eps; got {sorted(unknown)}: pass e.g. sparsity={{'eps': 0.2}}")
    vector_sparsity(np.ones(2), **options)  # bad values fail now, not after the analysis
    return options
