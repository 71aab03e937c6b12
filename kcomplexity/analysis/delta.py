"""Conditional complexity between checkpoints: ``delta:<spec>`` bounds K(w_t | w_{t-1}).

The delta of two same-shape, same-dtype tensors is the bitwise XOR of their bit
patterns, kept in the tensor's dtype: ``d = w_t XOR w_{t-1}``. It is exactly
invertible (``w_t = w_{t-1} XOR d``), so a lossless ``<spec>`` applied to ``d``
gives an upper bound on K(w_t | w_{t-1}) (up to the constant-size decoder). Weights
that did not change give all-zero words; small updates leave sign and exponent
untouched, so ``delta:fields|zstd-L`` shows which IEEE fields moved. Only lossless
encodings (``raw``, ``fields``) are accepted: a lossy code of XOR words means nothing.
The first checkpoint of a series has no predecessor and gets no delta rows.
"""
from __future__ import annotations

import numpy as np

from ..arrays import bit_patterns
from ..errors import SpecError
from ..estimators import parse

PREFIX = "delta:"


def delta_spec(spec: str) -> str:
    """``"delta:<spec>"`` for a lossless ``spec``; SpecError otherwise."""
    pipeline = parse(spec)
    if not pipeline.lossless:
        raise SpecError(f"delta needs a lossless estimator (raw|... or fields|... with a compressor, entropy or "
                        f"motif-S), got "
                        f"{pipeline.spec!r}: the XOR delta between checkpoints is only meaningful bit for bit")
    return PREFIX + pipeline.spec


def xor_delta(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Bitwise XOR of two same-shape, same-dtype arrays, viewed back in their dtype."""
    if current.shape != previous.shape or current.dtype != previous.dtype:
        raise SpecError(f"delta needs equal shape and dtype, got {current.shape} {current.dtype} and "
                        f"{previous.shape} {previous.dtype}")
    return np.bitwise_xor(bit_patterns(current), bit_patterns(previous)).view(current.dtype)
