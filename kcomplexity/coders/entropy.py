"""Order-0 empirical entropy of a symbol stream, plus the cost of sending its histogram."""
from __future__ import annotations

import math

import numpy as np

from ..arrays import UINT_OF_SIZE, bit_patterns
from ..encodings import Stream
from .base import Coded, Coder
from .rangecode import coding_overhead, decode_static, encode_static, read_histogram, write_histogram


def counts_of(stream: Stream) -> tuple[np.ndarray, int]:
    """Symbol counts (zeros dropped, in symbol order) and the alphabet size.

    Symbol streams count codes ``0..nsymbols-1``; raw streams count distinct bit
    patterns of their values (alphabet 2^(8 x itemsize)).
    """
    dense = stream.histogram()
    if stream.nsymbols is not None and dense is not None:  # a symbol stream always has a histogram
        return dense[dense > 0], stream.nsymbols
    alphabet = 1 << (8 * stream.array.dtype.itemsize)
    if dense is not None:
        return dense[dense > 0], alphabet
    return np.unique(bit_patterns(stream.array.reshape(-1)), return_counts=True)[1], alphabet


def entropy_bits(counts: np.ndarray) -> float:
    """n x H in bits: H = -sum p log2 p with p = c / n (the ideal order-0 code length)."""
    counts = counts[counts > 0].astype(np.float64)
    n = counts.sum()
    return float(n * math.log2(n) - (counts * np.log2(counts)).sum())


def histogram_bits(counts: np.ndarray, alphabet: int, n: int | None = None):
    """Bits to send the histogram: the cheaper of a dense table (every symbol's count,
    ceil(log2(n+1)) bits each) and a sparse list (the number of distinct symbols, then
    each one's symbol and count), plus 1 bit saying which. ``n`` (default: the counts' sum)
    is the largest count the decoder must allow for. Zero counts are ignored; a 2-D
    ``counts`` gives one histogram per row (an int array)."""
    counts = np.asarray(counts)
    n = int(counts.sum()) if n is None else int(n)
    count_bits = math.ceil(math.log2(n + 1))
    symbol_bits = max(1, math.ceil(math.log2(alphabet)))
    dense = min(alphabet * count_bits, 1 << 62)  # a wider table never wins: the sparse list is shorter
    sparse = math.ceil(math.log2(alphabet + 1)) + (counts > 0).sum(axis=-1) * (symbol_bits + count_bits)
    bits = 1 + np.minimum(dense, sparse)
    return int(bits) if counts.ndim <= 1 else bits


def symbols_of(stream: Stream) -> tuple[np.ndarray, int]:
    """The stream's symbols as uint64 (codes, or the bit patterns of raw values) and the alphabet size."""
    data = stream.array.reshape(-1)
    if stream.nsymbols is not None:
        return data.astype(np.uint64), stream.nsymbols
    return bit_patterns(data).astype(np.uint64), 1 << (8 * data.dtype.itemsize)


class Entropy(Coder):
    """n x H(symbols) + histogram bits + ``coding_overhead``: a proven upper bound on the real
    static order-0 range code with its histogram, which ``roundtrip`` writes and reads.
    ``details`` keep the three parts (``entropy_bits``, ``histogram_bits``, ``coding_overhead_bits``)."""
    family, pattern = "entropy", "entropy"
    lossless = True
    counts_only = True

    def code(self, stream: Stream) -> Coded:
        counts, alphabet = counts_of(stream)
        h = entropy_bits(counts)
        hist = histogram_bits(counts, alphabet)
        n = int(counts.sum())
        overhead = coding_overhead(n, len(counts), h, float(counts.max()) / n if n else 1.0)
        return Coded(h + hist + overhead, {"entropy_bits": h, "histogram_bits": hist,
                                           "coding_overhead_bits": overhead, "distinct": len(counts)})

    def roundtrip(self, stream: Stream, coded: Coded) -> tuple[np.ndarray, float]:
        symbols, alphabet = symbols_of(stream)
        present, ranks, counts = np.unique(symbols, return_inverse=True, return_counts=True)
        table = write_histogram(present, counts, alphabet, symbols.size)
        words = encode_static(ranks.reshape(-1), counts)
        got_symbols, got_counts = read_histogram(table, alphabet, symbols.size)
        decoded = got_symbols[decode_static(words, got_counts, symbols.size)]
        if stream.nsymbols is None:
            decoded = decoded.astype(UINT_OF_SIZE[stream.array.dtype.itemsize]).view(stream.array.dtype)
        return decoded.astype(stream.array.dtype).reshape(stream.array.shape), len(table) + 32 * len(words)
