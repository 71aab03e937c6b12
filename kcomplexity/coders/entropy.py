"""Order-0 empirical entropy of a symbol stream, plus the cost of sending its histogram."""
from __future__ import annotations

import math

import numpy as np

from ..arrays import bit_patterns
from ..encodings import Stream
from .base import Coded, Coder


def counts_of(stream: Stream) -> tuple[np.ndarray, int]:
    """Symbol counts (zeros dropped) and the alphabet size.

    Symbol streams count codes ``0..nsymbols-1``; raw streams count distinct bit
    patterns of their values (alphabet 2^(8 x itemsize)).
    """
    data = stream.data.reshape(-1)
    if stream.nsymbols is not None:
        counts = np.bincount(data, minlength=stream.nsymbols)
        return counts[counts > 0], stream.nsymbols
    return np.unique(bit_patterns(data), return_counts=True)[1], 1 << (8 * data.dtype.itemsize)


def entropy_bits(counts: np.ndarray) -> float:
    """n x H in bits: H = -sum p log2 p with p = c / n (the ideal order-0 code length)."""
    counts = counts[counts > 0].astype(np.float64)
    n = counts.sum()
    return float(n * math.log2(n) - (counts * np.log2(counts)).sum())


def histogram_bits(counts: np.ndarray, alphabet: int) -> int:
    """Bits to send the histogram: the cheaper of a dense table (every symbol's count,
    ceil(log2(n+1)) bits each) and a sparse list (the number of distinct symbols, then
    each one's symbol and count), plus 1 bit saying which."""
    n = int(counts.sum())
    count_bits = math.ceil(math.log2(n + 1))
    symbol_bits = max(1, math.ceil(math.log2(alphabet)))
    dense = alphabet * count_bits
    sparse = math.ceil(math.log2(alphabet + 1)) + len(counts) * (symbol_bits + count_bits)
    return 1 + min(dense, sparse)


class Entropy(Coder):
    """n x H(symbols) + histogram bits. An estimate of an ideal arithmetic coder's output."""
    family, pattern = "entropy", "entropy"

    def code(self, stream: Stream) -> Coded:
        counts, alphabet = counts_of(stream)
        h = entropy_bits(counts)
        hist = histogram_bits(counts, alphabet)
        return Coded(h + hist, {"entropy_bits": h, "histogram_bits": hist, "distinct": len(counts)})
