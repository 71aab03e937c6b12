"""``sparsity``: how well a few large weights describe each tensor (or neuron).

Measures of compressibility by sparse approximation, after Yang, Wang, Ding and Yang
(arXiv 2206.05604) and the PQ index of Diao et al. (arXiv 2302.05601). They are
properties of the values alone: any permutation of a tensor leaves them unchanged.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import InputError
from ..sparsity_measures import neuron_rows, row_sparsity
from ..variants import as_weights
from ..variants._weights import check_float


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
    - ``k_bound_sharp`` (weights): ``k_bound`` with Stechkin's sharp constant,
      c k^(1/2 - 1/q) ||w||_q, c = [(q/2)^(q/2) (1 - q/2)^(1 - q/2)]^(1/q) (Foucart and Rauhut,
      Thm 2.5; 0.3248 at q = 1/2): still a guarantee, k_eps <= k_bound_sharp <= k_bound.

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


