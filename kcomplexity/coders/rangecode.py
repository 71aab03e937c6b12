"""Real bitstreams behind the ideal code lengths: range coding (``constriction``) and exact bit fields.

``entropy`` and ``motif-S`` report ideal code lengths (n x H, the KT code length) plus
``coding_overhead``, a proven bound on how far the real range-coded stream can exceed
them; these functions write and read those real streams (``verify=True``). Streams are
lists of 32-bit words (``constriction``'s range coder: 64-bit state, 24-bit model
precision), so a real stream is 32 x its word count long.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

PRECISION = 24           # bits of constriction's fixed-point probabilities
STATE_BITS, WORD_BITS = 64, 32
TABLE_CELLS = 1 << 22    # probability-table cells per chunk of the adaptive (KT) coder


def coding_overhead(n: int, k: int, ideal: float = math.inf, p_max: float = 1.0) -> float:
    """Most bits by which the range-coded stream of ``n`` symbols over ``k`` model symbols
    can exceed their ideal length ``ideal`` = sum(-log2 p), p the model's float probabilities
    (a static model may give ``ideal`` and its largest probability ``p_max``; an adaptive one
    leaves them, and only the per-symbol bound applies).

    From constriction 0.5's range coder (64-bit state, 32-bit words, 24-bit precision) and its
    fast (``perfect=False``) quantiser:

    - quantisation: symbol i gets weight w_i = 1 + floor(C_(i+1) s) - floor(C_i s) with
      s = (2^24 - k) / sum(p) and C the cumulative p, so q_i = w_i / 2^24 > p_i (1 - k/2^24)
      up to a float rounding of relative 2^-25: at most Q = -log2(1 - k/2^24) - log2(1 - 2^-25)
      bits per symbol, and q_max < p_max + 2^-22;
    - truncation: a symbol shrinks the range r (always >= 2^32 on entry) to floor(r/2^24) w_i,
      losing at most l(r) = 2^24 / (r ln 2 (1 - 2^-8)) <= -log2(1 - 2^-8)-ish bits: per symbol
      at most d = 2^-8 / (ln 2 (1 - 2^-8)). Between two 32-bit shifts the range falls by at
      least a factor q_max per symbol and ends >= 2^32, so one such cycle loses at most
      a = d / (1 - q_max); with at most (ideal + Q n + L)/32 + 2 cycles the total L is at most
      a (ideal + Q n + 64) / (32 - a) (when a < 32);
    - termination: the words written are the range's shifts plus at most two words of the
      final state: at most the information plus 96 bits.

    Returns Q n + min(d n, the cycle bound) + 96; ``inf`` when the model cannot be built
    (k >= 2^24 - 1); 0 when k <= 1 (nothing is sent).

    >>> round(coding_overhead(1000, 256), 2)
    101.68
    >>> round(coding_overhead(1000, 2, ideal=1000.0, p_max=0.5), 2)
    96.38
    """
    if k <= 1:
        return 0.0
    if k >= (1 << PRECISION) - 1:
        return math.inf
    quantisation = -math.log2(1 - k / (1 << PRECISION)) - math.log2(1 - 2.0 ** -25)
    per_symbol = 2.0 ** (PRECISION - (STATE_BITS - WORD_BITS)) / (math.log(2) * (1 - 2.0 ** -8))
    truncation = per_symbol * n
    q_max = p_max + 2.0 ** -22
    if q_max < 1:
        per_cycle = per_symbol / (1 - q_max)
        if per_cycle < WORD_BITS:
            cycles = per_cycle * (ideal + quantisation * n + 2 * WORD_BITS) / (WORD_BITS - per_cycle)
            truncation = min(truncation, cycles)
    return quantisation * n + truncation + STATE_BITS + WORD_BITS


def _model(weights=None):
    import constriction

    return constriction.stream.model.Categorical(weights, perfect=False)


def _range_coder():
    import constriction

    return constriction.stream.queue


def encode_static(ranks: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``ranks`` (0..k-1) range-coded with the fixed model p_i = counts_i / n; no words when k = 1."""
    if len(counts) <= 1:
        return np.zeros(0, np.uint32)
    encoder = _range_coder().RangeEncoder()
    encoder.encode(ranks.astype(np.int32), _model(counts.astype(np.float64)))
    return encoder.get_compressed()


def decode_static(words: np.ndarray, counts: np.ndarray, n: int) -> np.ndarray:
    """Invert ``encode_static`` for ``n`` symbols."""
    if len(counts) <= 1:
        return np.zeros(n, np.int64)
    decoder = _range_coder().RangeDecoder(words)
    return decoder.decode(_model(counts.astype(np.float64)), n).astype(np.int64)


def _kt_tables(ranks: np.ndarray, k: int, start: int, stop: int, seen: np.ndarray) -> np.ndarray:
    """KT probabilities (counts so far + 1/2) for symbols ``start:stop``, one row each."""
    onehot = np.zeros((stop - start, k))
    onehot[np.arange(stop - start), ranks[start:stop]] = 1
    return seen + np.cumsum(onehot, axis=0) - onehot + 0.5


def encode_kt(ranks: np.ndarray, k: int, encoder=None) -> np.ndarray:
    """``ranks`` (0..k-1) range-coded with the adaptive Krichevsky-Trofimov model (``kt_bits``);
    into ``encoder`` when given (its words are then the caller's to take)."""
    if k <= 1:
        return np.zeros(0, np.uint32)
    own = encoder is None
    encoder, seen, step = encoder or _range_coder().RangeEncoder(), np.zeros(k), max(1, TABLE_CELLS // k)
    for start in range(0, len(ranks), step):
        stop = min(start + step, len(ranks))
        encoder.encode(ranks[start:stop].astype(np.int32), _model(), _kt_tables(ranks, k, start, stop, seen))
        seen += np.bincount(ranks[start:stop], minlength=k)
    return encoder.get_compressed() if own else np.zeros(0, np.uint32)


def decode_kt(words: np.ndarray | None, k: int, n: int, decoder=None) -> np.ndarray:
    """Invert ``encode_kt`` for ``n`` symbols, one at a time (each model needs the symbols before
    it), from ``words`` or, when given, from ``decoder``."""
    out = np.zeros(n, np.int64)
    if k <= 1:
        return out
    decoder, seen = decoder or _range_coder().RangeDecoder(words), np.full(k, 0.5)
    for i in range(n):
        out[i] = decoder.decode(_model(seen))
        seen[out[i]] += 1
    return out


def pack_fields(values: ArrayLike, width: int) -> np.ndarray:
    """Each value as ``width`` bits, most significant first (a bit array)."""
    if width == 0:
        return np.zeros(0, np.uint8)
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    return ((np.asarray(values, np.uint64).reshape(-1, 1) >> shifts) & np.uint64(1)).astype(np.uint8).reshape(-1)


def unpack_fields(bits: np.ndarray, width: int, count: int) -> np.ndarray:
    """Invert ``pack_fields`` for ``count`` values."""
    if width == 0:
        return np.zeros(count, np.uint64)
    weights = np.uint64(1) << np.arange(width - 1, -1, -1, dtype=np.uint64)
    return (bits[:count * width].reshape(count, width).astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)


def _widths(alphabet: int, n: int) -> tuple[int, int, int]:
    """Bits of one count, one symbol, and the distinct-symbol count (as ``histogram_bits``)."""
    return math.ceil(math.log2(n + 1)), max(1, math.ceil(math.log2(alphabet))), math.ceil(math.log2(alphabet + 1))


def write_histogram(symbols: np.ndarray, counts: np.ndarray, alphabet: int, n: int) -> np.ndarray:
    """The histogram as ``histogram_bits`` lays it out: a flag bit, then a dense table of
    every symbol's count or a sparse list (distinct count, then symbol and count each)."""
    count_bits, symbol_bits, distinct_bits = _widths(alphabet, n)
    if alphabet * count_bits <= distinct_bits + len(counts) * (symbol_bits + count_bits):
        table = np.zeros(alphabet, np.uint64)
        table[np.asarray(symbols, np.int64)] = counts
        return np.concatenate([[0], pack_fields(table, count_bits)]).astype(np.uint8)
    pairs = np.stack([np.asarray(symbols, np.uint64), np.asarray(counts, np.uint64)], axis=1)
    body = np.concatenate([pack_fields(pairs[:, 0:1], symbol_bits).reshape(-1, symbol_bits),
                           pack_fields(pairs[:, 1:2], count_bits).reshape(-1, count_bits)], axis=1)
    return np.concatenate([[1], pack_fields([len(counts)], distinct_bits), body.reshape(-1)]).astype(np.uint8)


def read_histogram(bits: np.ndarray, alphabet: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Invert ``write_histogram``: (symbols, counts) of the symbols that occur."""
    count_bits, symbol_bits, distinct_bits = _widths(alphabet, n)
    if bits[0] == 0:
        table = unpack_fields(bits[1:], count_bits, alphabet)
        symbols = np.flatnonzero(table).astype(np.uint64)
        return symbols, table[symbols.astype(np.int64)]
    distinct = int(unpack_fields(bits[1:1 + distinct_bits], distinct_bits, 1)[0])
    body = bits[1 + distinct_bits:].reshape(distinct, symbol_bits + count_bits)
    return (unpack_fields(body[:, :symbol_bits].reshape(-1), symbol_bits, distinct),
            unpack_fields(body[:, symbol_bits:].reshape(-1), count_bits, distinct))
