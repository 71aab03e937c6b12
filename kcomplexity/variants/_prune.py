"""Pruning variants: to an exact sparsity by magnitude, adaptively by the PQ index (SAP), or by
the l_q best-k-term bound."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..arrays import check_number, dtype_name, to_float
from ..errors import InputError
from ..io import Selection
from ..sparsity_measures import k_bound, lq_ratio_rows, neuron_rows, pq_index
from ._weights import as_weights, check_float

SCOPES = ("global", "layer", "neuron")
PRUNED_BY_DEFAULT = "weight matrices and conv kernels (min_ndim=2); biases and norm weights are left alone"


@dataclass
class PruneResult:
    """``prune_pq`` / ``prune_lq`` output: the pruned ``weights`` and ``info[key]``, a dict of the
    rule's numbers (``d`` unpruned entries before, ``pruned``, ``ratio`` = pruned / d, ...), keyed by
    tensor name (``"global"`` for the global scope). With ``scope="neuron"`` each value is an array
    with one entry per neuron (row) of that tensor. ``ratios`` maps the same keys to ``ratio``."""
    weights: dict
    info: dict = field(default_factory=dict)

    @property
    def ratios(self) -> dict:
        return {key: v["ratio"] for key, v in self.info.items()}


def _check_scope(scope: str, allowed=SCOPES) -> None:
    if scope not in allowed:
        raise InputError(f"scope must be one of {', '.join(map(repr, allowed))}, got {scope!r}")


def _pruned_names(weights: dict, include, exclude, min_ndim) -> list[str]:
    """The names a pruning rule touches: ``include``/``exclude`` globs and ``min_ndim`` as in
    ``kcomplexity.load``; the other tensors are returned unchanged."""
    selection = Selection.make(include, exclude, min_ndim, floats_only=False)
    names = [n for n, x in weights.items() if selection.keeps(n, dtype_name(x.dtype), x.shape)]
    if not names:
        raise InputError(f"no tensor is selected for pruning (include={include!r}, exclude={exclude!r}, "
                         f"min_ndim={min_ndim}); by default only {PRUNED_BY_DEFAULT}: pass min_ndim=1 "
                         "(command line: --min-ndim 1) to prune 1-D tensors too")
    for name in names:
        check_float(name, weights[name], "pruning")
    return names


def _zero_smallest(views: list[np.ndarray], count: int, candidates=None) -> None:
    """Zero, in place, the ``count`` smallest |w| over the concatenation of the 1-D ``views``
    (restricted to the flat positions ``candidates`` when given)."""
    if count <= 0:
        return
    flat = np.concatenate([np.abs(to_float(v, wide=True)) for v in views])
    positions = np.arange(flat.size) if candidates is None else candidates
    chosen = positions[np.argpartition(flat[positions], count - 1)[:count]]
    offset = 0
    for v in views:
        v[chosen[(chosen >= offset) & (chosen < offset + v.size)] - offset] = 0
        offset += v.size


def prune_magnitude(weights, sparsity: float, scope: str = "global", include=None, exclude=None,
                    min_ndim: int = 2) -> dict[str, np.ndarray]:
    """Zero the round(sparsity x n) smallest-magnitude weights of the selected tensors.

    ``scope="global"``: n counts all selected tensors together (one threshold for them);
    ``"layer"``: each gets round(sparsity x its size) zeros. Weights already zero count as
    pruned first, so the result has at least that many zeros. ``include``/``exclude`` (name
    globs) and ``min_ndim`` select the tensors as ``kcomplexity.load`` does; the default
    ``min_ndim=2`` prunes weight matrices and conv kernels and leaves biases and norm weights
    alone. Every tensor is returned, the unselected ones unchanged.
    """
    _check_scope(scope, ("global", "layer"))
    sparsity = check_number(sparsity, "sparsity (a fraction)", 0.0, 1.0)
    out = as_weights(weights)
    names = _pruned_names(out, include, exclude, min_ndim)
    groups = [names] if scope == "global" else [[n] for n in names]
    for names in groups:
        n = sum(out[k].size for k in names)
        _zero_smallest([out[k].reshape(-1) for k in names], int(round(sparsity * n)))
    return out


def _pq_rule(p, q, eta, gamma, beta):
    def rule(values: np.ndarray) -> tuple[int, dict]:
        d = values.size
        index = pq_index(values, p, q) if d else 0.0
        m, ratio = sap_ratio(index, d, p, q, eta, gamma, beta) if d else (0, 0.0)
        count = math.floor(ratio * d)
        return count, {"pq_index": index, "d": d, "m": m, "ratio": ratio, "pruned": count}
    return rule


def _lq_rule(q, eps):
    def rule(values: np.ndarray) -> tuple[int, dict]:
        d = values.size
        lq = float(lq_ratio_rows(values.reshape(1, -1), q)[0]) if d else 1.0
        kept = int(k_bound(lq, d, q, eps)) if d else 0
        return d - kept, {"lq_ratio": lq, "d": d, "kept": kept, "ratio": (d - kept) / d if d else 0.0,
                          "pruned": d - kept}
    return rule


def _prune_by_rule(weights, scope: str, rule, selection: tuple) -> PruneResult:
    """Apply ``rule`` (unpruned values -> (count to zero, info)) to each pruning unit of ``scope``
    among the tensors ``selection = (include, exclude, min_ndim)`` picks."""
    _check_scope(scope)
    out = as_weights(weights)
    names = _pruned_names(out, *selection)
    if scope == "global":
        units = [("global", [out[n].reshape(-1) for n in names])]
    elif scope == "layer":
        units = [(n, [out[n].reshape(-1)]) for n in names]
    else:
        units = [(n, [row]) for n in names for row in neuron_rows(out[n])]
    info: dict = {}
    for key, views in units:
        flat = np.concatenate([to_float(v, wide=True) for v in views])
        alive = np.flatnonzero(flat)
        count, numbers = rule(flat[alive])
        _zero_smallest(views, count, candidates=alive)
        info.setdefault(key, []).append(numbers)
    if scope != "neuron":
        return PruneResult(out, {key: rows[0] for key, rows in info.items()})
    return PruneResult(out, {key: {k: np.array([r[k] for r in rows]) for k in rows[0]} for key, rows in info.items()})


def sap_ratio(index: float, d: int, p: float, q: float, eta: float, gamma: float, beta: float) -> tuple[int, float]:
    """SAP rule: m = ceil(d (1+eta)^(-q/(q-p)) (1-I)^(qp/(q-p))), ratio = clamp(gamma (1 - m/d), 0, beta)."""
    m = math.ceil(d * (1.0 + eta) ** (-q / (q - p)) * (1.0 - index) ** (q * p / (q - p)))
    return m, min(max(gamma * (1.0 - m / d), 0.0), beta)


def prune_pq(weights, p: float = 0.5, q: float = 1.0, eta: float = 0.0, gamma: float = 1.0,
             beta: float = 0.9, scope: str = "layer", include=None, exclude=None, min_ndim: int = 2) -> PruneResult:
    """One step of Sparsity-informed Adaptive Pruning (SAP, Diao et al., arXiv 2302.05601).

    Over the d unpruned (non-zero) entries of each neuron (``scope="neuron"``: a row of a
    weight matrix, a conv weight per output channel, a 1-D tensor whole), each tensor
    (``"layer"``) or all tensors together (``"global"``), the scopes of the PQ-index
    reference code: I = pq_index, m and ratio by ``sap_ratio``, then the floor(ratio x d)
    smallest |w| among them are zeroed. Call it again on the result (after retraining) to
    iterate. ``info[key]``: ``pq_index, d, m, ratio, pruned``. ``include``, ``exclude`` and
    ``min_ndim`` select the tensors as in ``prune_magnitude`` (default: matrices and kernels only).
    """
    p, q = check_number(p, "p", 0), check_number(q, "q", 0)
    if not 0 < p < q:
        raise InputError(f"the PQ index needs 0 < p < q, got p={p}, q={q}")
    eta, gamma, beta = check_number(eta, "eta", 0.0), check_number(gamma, "gamma", 0.0), check_number(beta, "beta", 0, 1)
    return _prune_by_rule(weights, scope, _pq_rule(p, q, eta, gamma, beta), (include, exclude, min_ndim))


def prune_lq(weights, q: float = 0.5, eps: float = 0.1, scope: str = "neuron", include=None, exclude=None,
             min_ndim: int = 2) -> PruneResult:
    """Adaptive pruning by the l_q best-k-term bound (after Yang, Wang, Ding, Yang, arXiv 2206.05604).

    Each neuron (``scope="neuron"``, as in ``prune_pq``), tensor (``"layer"``) or the whole
    model (``"global"``) keeps its ``k_bound(eps)`` largest-magnitude unpruned weights and
    the rest are zeroed: k = ceil(d (lq_ratio / eps)^(1 / (1/q - 1/2))), capped at d, over its d
    non-zero entries. The rule follows from sigma_k(w)_2 <= k^(1/2 - 1/q) ||w||_q, so each unit's
    relative l_2 change is at most eps; the paper's exact algorithm may differ in constants.
    Dense weights (lq_ratio >= eps) keep everything. ``info[key]``: ``lq_ratio, d, kept, ratio,
    pruned``. ``include``, ``exclude`` and ``min_ndim`` select the tensors as in ``prune_magnitude``.
    """
    q, eps = check_number(q, "q", 0, 1), check_number(eps, "eps", 0, 1)
    if not 0 < q < 1:
        raise InputError(f"the l_q ratio needs 0 < q < 1, got q={q}")
    if not 0 < eps < 1:
        raise InputError(f"eps is a relative l2 error in (0, 1), got {eps!r}")
    return _prune_by_rule(weights, scope, _lq_rule(q, eps), (include, exclude, min_ndim))
