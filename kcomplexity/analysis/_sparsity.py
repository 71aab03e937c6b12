"""``sparsity``: how well a few large weights describe each tensor (or neuron).

Measures of compressibility by sparse approximation, after Yang, Wang, Ding and Yang
(arXiv 2206.05604) and the PQ index of Diao et al. (arXiv 2302.05601). They are
properties of the values alone: any permutation of a tensor leaves them unchanged.
"""
from __future__ import annotations

from collections.abc import Mapping

import os

import numpy as np

from ..arrays import to_float
from ..errors import InputError
from ..variants import as_weights
from ..variants._prune import k_bound, lq_ratio_rows, neuron_rows, pq_index_rows
from ..variants._weights import check_float

COLUMNS = ["lq_ratio", "pq_index", "gini", "k_bound", "k_eps"]


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
            "k_bound": np.where(zero, 0, k_bound(lq, rows.shape[1], q, eps)), "k_eps": k_eps_rows(rows, eps)}


def sparsity(weights, q: float = 0.5, p: float = 0.5, eps: float = 0.1, per: str = "tensor"):
    """Sparse-approximation measures of each tensor (``per="tensor"``) or neuron (``"neuron"``).

    ``weights``: a mapping name -> tensor, an ``nn.Module`` (its trainable parameters), a
    variant result, or a checkpoint path. ``per="neuron"``: one row per output unit (a
    row of a weight matrix, a conv weight flattened per output channel); a 1-D tensor
    stays one row with ``neuron`` = <NA>. Over the d entries w of a row (zeros count):

    - ``lq_ratio`` = ||w||_q / (d^(1/q - 1/2) ||w||_2), 0 < q < 1 (dimensionless, in
      [d^(1/2 - 1/q), 1]): 1 for equal |w|, smaller when sparser; = 1 - I_{q,2}.
    - ``pq_index`` = I_{p,1} = 1 - d^(1 - 1/p) ||w||_p / ||w||_1 (Diao et al.; in [0, 1)).
    - ``gini``: Gini index of |w| (in [0, 1 - 1/d]; larger = sparser).
    - ``k_bound`` (weights): the smallest k with k^(1/2 - 1/q) ||w||_q / ||w||_2 <= eps, capped
      at d. By sigma_k(w)_2 <= k^(1/2 - 1/q) ||w||_q (Stechkin) keeping the k largest |w_i|
      guarantees relative l_2 error <= eps.
    - ``k_eps`` (weights): the k that actually reaches relative l_2 error <= eps, from the
      sorted magnitudes; k_eps <= k_bound always.

    Returns a DataFrame: ``tensor, [neuron,] shape, d``, then those columns.

    >>> import numpy as np
    >>> table = sparsity({"w": np.array([0.0, 0.0, 0.0, 1.0])})  # 1-sparse: the bound is loose
    >>> table[["lq_ratio", "k_bound", "k_eps"]].values.tolist()
    [[0.125, 4.0, 1.0]]
    """
    import pandas as pd

    if per not in ("tensor", "neuron"):
        raise InputError(f"per must be 'tensor' or 'neuron', got {per!r}")
    if isinstance(weights, (str, os.PathLike)):
        from ..io import load
        weights = load(weights)
    frames = []
    for name, x in as_weights(weights).items():
        check_float(name, x, "sparsity")
        rows = neuron_rows(x) if per == "neuron" else x.reshape(1, -1)
        frame = pd.DataFrame({"tensor": name, "shape": "x".join(map(str, x.shape)), "d": rows.shape[1],
                              **row_sparsity(rows, q, p, eps)})
        if per == "neuron":
            frame.insert(1, "neuron", pd.array(np.arange(len(rows)) if x.ndim >= 2 else [pd.NA], dtype="Int64"))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


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


def vector_sparsity(x: np.ndarray, q: float = 0.5, p: float = 0.5, eps: float = 0.1) -> dict[str, float]:
    """The ``COLUMNS`` of one flattened tensor (or joined model), as plain numbers."""
    return {k: v[0].item() for k, v in row_sparsity(np.asarray(x).reshape(1, -1), q, p, eps).items()}
