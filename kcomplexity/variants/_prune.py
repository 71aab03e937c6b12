"""Pruning variants: to an exact sparsity by magnitude, or adaptively by the PQ index."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..arrays import as_array
from ..errors import InputError
from ._weights import as_weights, check_float, check_number, float_view

SCOPES = ("global", "layer")


@dataclass
class PruneResult:
    """``prune_pq`` output: the pruned ``weights`` and, per tensor (or ``"global"``),
    ``info[key] = {"pq_index", "d", "m", "ratio", "pruned"}``; ``ratios`` maps the same
    keys to the prune ratio applied."""
    weights: dict
    info: dict = field(default_factory=dict)

    @property
    def ratios(self) -> dict[str, float]:
        return {key: v["ratio"] for key, v in self.info.items()}


def _check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise InputError(f"scope must be 'global' or 'layer', got {scope!r}")


def _zero_smallest(weights: dict, names: list[str], count: int, candidates=None) -> None:
    """Zero, in place, the ``count`` smallest |w| over the concatenation of ``names``
    (restricted to the flat positions ``candidates`` when given)."""
    if count <= 0:
        return
    flat = np.concatenate([np.abs(float_view(weights[n])).reshape(-1) for n in names])
    positions = np.arange(flat.size) if candidates is None else candidates
    chosen = positions[np.argpartition(flat[positions], count - 1)[:count]]
    offset = 0
    for n in names:
        size = weights[n].size
        local = chosen[(chosen >= offset) & (chosen < offset + size)] - offset
        weights[n].reshape(-1)[local] = 0
        offset += size


def prune_magnitude(weights, sparsity: float, scope: str = "global") -> dict[str, np.ndarray]:
    """Zero the round(sparsity x n) smallest-magnitude weights.

    ``scope="global"``: n counts all tensors together (one threshold for the model);
    ``"layer"``: each tensor gets round(sparsity x its size) zeros. Weights already
    zero count as pruned first, so the result has at least that many zeros.
    """
    _check_scope(scope)
    sparsity = check_number(sparsity, "sparsity (a fraction)", 0.0, 1.0)
    out = as_weights(weights)
    for name, x in out.items():
        check_float(name, x, "prune_magnitude")
    groups = [list(out)] if scope == "global" else [[n] for n in out]
    for names in groups:
        n = sum(out[k].size for k in names)
        _zero_smallest(out, names, int(round(sparsity * n)))
    return out


def pq_index(w, p: float = 0.5, q: float = 1.0) -> float:
    """PQ index (Diao et al. 2023): I = 1 - d^(1/q - 1/p) ||w||_p / ||w||_q, 0 < p < q.

    d = number of entries of ``w`` (pass only the unpruned ones). 0 when all |w|
    are equal, approaching 1 - d^(1/q - 1/p) for a single non-zero; 0 for w = 0.
    """
    if not 0 < p < q:
        raise InputError(f"the PQ index needs 0 < p < q, got p={p}, q={q}")
    a = np.abs(float_view(as_array(w))).reshape(-1)
    norm_q = float(np.sum(a ** q) ** (1.0 / q))
    if norm_q == 0.0:
        return 0.0
    a = a / a.max()  # scale-free; avoids under/overflow in the powers
    norm_p, norm_q = np.sum(a ** p) ** (1.0 / p), np.sum(a ** q) ** (1.0 / q)
    return float(1.0 - a.size ** (1.0 / q - 1.0 / p) * norm_p / norm_q)


def sap_ratio(index: float, d: int, p: float, q: float, eta: float, gamma: float, beta: float) -> tuple[int, float]:
    """SAP rule: m = ceil(d (1+eta)^(-q/(q-p)) (1-I)^(qp/(q-p))), ratio = clamp(gamma (1 - m/d), 0, beta)."""
    m = math.ceil(d * (1.0 + eta) ** (-q / (q - p)) * (1.0 - index) ** (q * p / (q - p)))
    return m, min(max(gamma * (1.0 - m / d), 0.0), beta)


def prune_pq(weights, p: float = 0.5, q: float = 1.0, eta: float = 0.0, gamma: float = 1.0,
             beta: float = 0.9, scope: str = "layer") -> PruneResult:
    """One step of Sparsity-informed Adaptive Pruning (SAP, Diao et al., arXiv 2302.05601).

    Over the d unpruned (non-zero) entries of each tensor (``scope="layer"``) or of
    all tensors together (``"global"``): I = pq_index, m and ratio by ``sap_ratio``,
    then the floor(ratio x d) smallest |w| among them are zeroed. Call it again on
    the result (after retraining) to iterate.
    """
    _check_scope(scope)
    eta, gamma, beta = check_number(eta, "eta", 0.0), check_number(gamma, "gamma", 0.0), check_number(beta, "beta", 0, 1)
    out = as_weights(weights)
    for name, x in out.items():
        check_float(name, x, "prune_pq")
    groups = {"global": list(out)} if scope == "global" else {n: [n] for n in out}
    info = {}
    for key, names in groups.items():
        flat = np.concatenate([float_view(out[n]).reshape(-1) for n in names])
        alive = np.flatnonzero(flat)
        d = alive.size
        if d == 0:
            info[key] = {"pq_index": 0.0, "d": 0, "m": 0, "ratio": 0.0, "pruned": 0}
            continue
        index = pq_index(flat[alive], p, q)
        m, ratio = sap_ratio(index, d, p, q, eta, gamma, beta)
        count = math.floor(ratio * d)
        _zero_smallest(out, names, count, candidates=alive)
        info[key] = {"pq_index": index, "d": d, "m": m, "ratio": ratio, "pruned": count}
    return PruneResult(out, info)
