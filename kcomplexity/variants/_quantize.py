"""``quantize``: post-training symmetric uniform quantisation, returned dequantised."""
from __future__ import annotations

import numpy as np

from ..arrays import to_float
from ..encodings import Quantize
from ._weights import as_weights, check_float, like


def _dequantised(x: np.ndarray, quantizer: Quantize) -> np.ndarray:
    """scale x (code - Q) with Q = 2^(B-1) - 1 and scale = max|w| / Q (1 when w = 0),
    the inverse of ``Quantize(bits, "sym").codes``."""
    q = (1 << (quantizer.bits - 1)) - 1
    scale = float(np.abs(to_float(x, wide=True)).max()) / q or 1.0
    return (quantizer.codes(x).astype(np.float64) - q) * scale


def quantize(weights, bits: int = 8, per_channel: bool = False) -> dict[str, np.ndarray]:
    """Symmetric B-bit fake quantisation (MoMos' QAT baseline), same dtypes and shapes.

    w_q = scale x clamp(round(w / scale), -Q, Q), Q = 2^(B-1) - 1, scale = max|w| / Q,
    computed by ``kcomplexity.encodings.Quantize(bits, "sym")``. ``per_channel``: one
    scale per row of dim 0 for tensors with ndim >= 2 (1-D tensors keep one scale).
    """
    quantizer = Quantize(bits, "sym")
    out = {}
    for name, x in as_weights(weights).items():
        check_float(name, x, "quantize")
        if per_channel and x.ndim >= 2:
            rows = x.reshape(x.shape[0], -1)
            values = np.stack([_dequantised(row, quantizer) for row in rows])
        else:
            values = _dequantised(x, quantizer)
        out[name] = like(values, x)
    return out
