"""Encodings: tensor -> streams of bytes or symbols (numpy only).

An encoding turns one array into one or more named ``Stream``s plus the side
information a decoder needs (``side_bits``: quantisation scale and offset).
Shape and dtype are treated as known to the decoder (they are the architecture).
"""
from __future__ import annotations

import math
import re
from abc import abstractmethod
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from .arrays import BFLOAT16, UINT_OF_SIZE, bit_patterns, gather, histogram, is_float, to_float
from .errors import SpecError
from .specced import Specced

# IEEE layouts: dtype -> (exponent bits, mantissa bits); sign is 1 bit.
FLOAT_LAYOUT = {np.dtype(np.float16): (5, 10), BFLOAT16: (8, 7),
                np.dtype(np.float32): (8, 23), np.dtype(np.float64): (11, 52)}
SIDE_BITS_PER_PARAM = 32  # a float32 scale or offset


@dataclass
class Stream:
    """One named stream an encoding emits and a coder measures.

    Parameters
    ----------
    name : str
        Its name in ``details`` and in ``analyse``'s per-stream columns (``"sign"``, ``"plane_0"``).
    data : numpy.ndarray
        Symbols ``0 .. nsymbols-1`` (any integer dtype, 1-D or 2-D), or, when
        ``nsymbols`` is None, raw values whose little-endian bytes are the stream.
    nsymbols : int or None
        Alphabet size k: each symbol carries at most log2(k) bits. None for raw bytes.
    segments : tuple of int or None
        Sizes of the tensors the stream joins, in order, when block coders must pad
        each one on its own (see ``cut_blocks``); None for one piece.
    counts : numpy.ndarray or None
        The dense histogram, when an encoding counted the stream without building
        ``data`` (``Encoding.count``); ``data`` is then None.
    rows : tuple of (int, int) or None
        (number of rows, row length) runs covering a stream of one symbol per value, from
        the tensors' shapes (a matrix's first axis; a 1-D tensor is one row), for coders
        with row contexts (``ctx``); None when unknown.
    source : (numpy.ndarray, int) or None
        The 16-bit words the symbols were cut from (one per symbol) and the field's lowest
        bit in them (``fields``), so that a coder can count several fields of a value in one
        histogram of the words (``ctx``); None otherwise.

    Examples
    --------
    >>> list(Stream("sign", np.array([1, 0, 1], np.uint8), 2).to_bytes())  # bits packed: 0b10100000
    [160]
    """
    name: str
    data: np.ndarray | None
    nsymbols: int | None = None
    segments: tuple[int, ...] | None = None
    counts: np.ndarray | None = None
    rows: tuple[tuple[int, int], ...] | None = None
    source: tuple[np.ndarray, int] | None = None

    @property
    def array(self) -> np.ndarray:
        """``data``, which a stream counted without it (``Encoding.count``) does not have."""
        if self.data is None:
            raise TypeError(f"stream {self.name!r} holds counts only: its coder must declare counts_only")
        return self.data

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``data`` (a counted stream: one axis of its length), read without building ``data``."""
        if self.data is None:
            return (int(self.counts.sum()),) if self.counts is not None else (0,)
        return self.data.shape

    @property
    def size(self) -> int:
        """Number of symbols or raw values."""
        return math.prod(self.shape)

    @property
    def width(self) -> int:
        """Bits per value stored verbatim: 8 x itemsize for raw values, ceil(log2 nsymbols) for symbols."""
        if self.nsymbols is None:
            return 8 * self.array.dtype.itemsize
        return math.ceil(math.log2(self.nsymbols)) if self.nsymbols > 1 else 0

    @property
    def bitplane(self) -> tuple[np.ndarray, int] | None:
        """(code matrix, bit) when the stream is one bit-plane of a code matrix, so that a coder
        may read every plane of the matrix in one pass; None otherwise."""
        return None

    def histogram(self) -> np.ndarray | None:
        """Dense symbol counts (raw streams: counts of every bit pattern), or None for raw
        values wider than 16 bits, whose alphabet is too large to tabulate."""
        if self.counts is not None:
            return self.counts
        if self.nsymbols is not None:
            return histogram(self.array, self.nsymbols)
        if self.array.dtype.itemsize <= 2:
            return histogram(bit_patterns(self.array.reshape(-1)), 1 << (8 * self.array.dtype.itemsize))
        return None

    def to_bytes(self) -> memoryview:
        """The stream as bytes for a byte coder: bits packed, codes as uint8/uint16 LE."""
        if self.nsymbols is None:
            return np.ascontiguousarray(self.array.reshape(-1)).view(np.uint8).data
        if self.nsymbols == 2:
            return np.packbits(self.array.reshape(-1).astype(np.uint8, copy=False)).data
        width = np.uint8 if self.nsymbols <= 256 else np.dtype("<u2")
        codes = np.ascontiguousarray(self.array.reshape(-1).astype(width, copy=False))
        return codes.view(np.uint8).data

    def from_bytes(self, payload: bytes) -> np.ndarray:
        """Invert ``to_bytes``: this stream's data (same dtype and shape) read from ``payload``."""
        n = self.array.size
        if self.nsymbols is None:
            out = np.frombuffer(payload, dtype=self.array.dtype.newbyteorder("<"))
        elif self.nsymbols == 2:
            out = np.unpackbits(np.frombuffer(payload, np.uint8))[:n]
        else:
            out = np.frombuffer(payload, np.uint8 if self.nsymbols <= 256 else np.dtype("<u2"))
        return out.astype(self.array.dtype).reshape(self.array.shape)


def cut_blocks(flat: np.ndarray, size: int, segments: tuple[int, ...] | None = None) -> tuple[np.ndarray, int]:
    """``flat`` as rows of ``size`` values, each segment (or the whole, when ``segments`` is
    None) zero-padded at its end to a multiple of ``size``. Returns (blocks, total padding).

    >>> cut_blocks(np.arange(1, 6), 2, (3, 2))[0].tolist()
    [[1, 2], [3, 0], [4, 5]]
    """
    pieces = np.split(flat, np.cumsum(segments)[:-1]) if segments else [flat]
    pads = [(-len(p)) % size for p in pieces]
    if any(pads):
        pieces = [np.concatenate([p, np.zeros(pad, flat.dtype)]) for p, pad in zip(pieces, pads)]
    return np.concatenate(pieces).reshape(-1, size), sum(pads)


def uncut_blocks(blocks: np.ndarray, segments: tuple[int, ...] | None, padding: int) -> np.ndarray:
    """Invert ``cut_blocks``: the flat values without the padding."""
    flat = blocks.reshape(-1)
    if not segments:
        return flat[:flat.size - padding]
    size = blocks.shape[1]
    starts = np.cumsum([0] + [-(-n // size) * size for n in segments[:-1]])
    return np.concatenate([flat[start:start + n] for start, n in zip(starts, segments)])


@dataclass
class Encoded:
    """What ``Encoding.encode`` returns: the streams and the side information.

    Parameters
    ----------
    streams : list of Stream
        The streams, each coded on its own; the estimate sums their bits.
    side_bits : int
        Bits a decoder needs besides the streams (32 per float32 scale or offset).
    """
    streams: list[Stream]
    side_bits: int = 0


class Encoding(Specced):
    """Abstract base of encodings: a tensor in, named streams and side bits out.

    Subclasses set ``family`` (the spec name), ``pattern`` (its help text) and
    ``lossless``, and implement ``encode``; a lossless one also implements
    ``decode``. Register one with ``kcomplexity.register``.

    Attributes
    ----------
    lossless : bool
        Declared: True when ``decode`` gives back the exact input from the streams and
        the side bits (given shape and dtype); False for a lossy code such as ``qB``.

    Examples
    --------
    >>> enc = Raw().encode(np.arange(3, dtype=np.uint8))
    >>> list(enc.streams[0].to_bytes()), enc.side_bits
    ([0, 1, 2], 0)
    """
    kind = "encoding"
    lossless = True

    @abstractmethod
    def encode(self, x: np.ndarray) -> Encoded:
        """Turn one tensor into streams.

        Parameters
        ----------
        x : numpy.ndarray
            A validated array (``kcomplexity.arrays.as_array``), any shape.

        Returns
        -------
        Encoded
            The streams and ``side_bits``, the bits a decoder needs besides them.
        """

    def count(self, x: np.ndarray) -> Encoded:
        """The streams as an order-0 coder needs them (only ``Stream.histogram()`` is read).
        Encodings that can count without building the streams override this."""
        return self.encode(x)

    def decode(self, enc: Encoded, shape: tuple, dtype: np.dtype) -> np.ndarray:
        """Invert ``encode`` (lossless encodings only).

        Parameters
        ----------
        enc : Encoded
            What ``encode`` returned (streams decoded back from their frames).
        shape : tuple of int
            Of the original tensor, known to the decoder (it is the architecture).
        dtype : numpy.dtype
            Of the original tensor, likewise known.

        Returns
        -------
        numpy.ndarray
            The tensor, bit for bit.
        """
        raise SpecError(f"encoding {self.spec!r} is lossy and cannot be decoded")


def little_endian(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x)
    return x if x.dtype.byteorder in "=|<" or x.dtype.itemsize == 1 else x.astype(x.dtype.newbyteorder("<"))


class Raw(Encoding):
    """The native dtype bytes, little-endian."""
    family = "raw"

    def encode(self, x):
        return Encoded([Stream("raw", little_endian(x).reshape(-1))])

    def decode(self, enc, shape, dtype):
        return np.ascontiguousarray(enc.streams[0].data).astype(dtype, copy=False).reshape(shape)


class Fields(Encoding):
    """IEEE fields split into streams: sign bits, exponents, mantissa byte planes (MSB first).

    The byte-grouping of ZipNN-style codecs: exponents of trained weights are
    highly skewed and compress well once separated from the noisy mantissa.
    Every field of the four float layouts lies inside one 16-bit word of the
    value, so a field is a shift and a mask of that word, and its counts are a
    marginal of the word's 65536-bin histogram (``count``).
    Integer and bool tensors have no fields: they pass as one ``raw`` stream.
    """
    family = "fields"

    def encode(self, x):
        if not is_float(x.dtype):
            return Raw().encode(x)
        x = little_endian(x)
        layout, words, streams = self._layout(x.dtype), self._words(x), []
        for name, lo, width, nsymbols in layout:
            # shift and narrow in one buffered pass into the stream itself: no full-size temporary
            value = np.empty(len(words), np.uint8 if nsymbols <= 256 else np.uint16)
            np.right_shift(words[:, lo // 16], np.uint16(lo % 16), out=value, casting="unsafe")
            if min(16 - lo % 16, 8 * value.itemsize) > width:  # bits above the field survived
                np.bitwise_and(value, value.dtype.type((1 << width) - 1), out=value)
            streams.append(Stream(name, value, nsymbols, source=(words[:, lo // 16], lo % 16)))
        return Encoded(streams)

    def count(self, x):
        """Each field's counts, marginalised from one histogram per 16-bit word used."""
        if not is_float(x.dtype):
            return Raw().encode(x)
        x = little_endian(x)
        layout, words, histograms, streams = self._layout(x.dtype), self._words(x), {}, []
        for name, lo, width, nsymbols in layout:
            k, shift = lo // 16, lo % 16
            if k not in histograms:
                histograms[k] = histogram(words[:, k], 1 << 16)
            counts = histograms[k].reshape(1 << (16 - shift - width), 1 << width, 1 << shift).sum(axis=(0, 2))
            streams.append(Stream(name, None, nsymbols, counts=np.pad(counts, (0, nsymbols - counts.size))))
        return Encoded(streams)

    def decode(self, enc, shape, dtype):
        dtype = np.dtype(dtype)
        if not is_float(dtype):
            return Raw().decode(enc, shape, dtype)
        s = {st.name: st.data.astype(np.uint64) for st in enc.streams}
        u = np.zeros_like(s["sign"])
        for name, lo, _, _ in self._layout(dtype):
            u |= s[name] << np.uint64(lo)
        return u.astype(UINT_OF_SIZE[dtype.itemsize]).view(dtype).reshape(shape)

    @staticmethod
    def _layout(dtype) -> list[tuple[str, int, int, int]]:
        """(stream, lowest bit, width, nsymbols) of each field of a float dtype, bits counted from the
        LSB; nsymbols = 2^width, the field's true alphabet."""
        exp_bits, man_bits = FLOAT_LAYOUT[np.dtype(dtype)]
        n_planes = -(-man_bits // 8)
        layout = [("sign", exp_bits + man_bits, 1, 2), ("exponent", man_bits, exp_bits, 1 << exp_bits)]
        for i in range(n_planes):
            lo = 8 * (n_planes - 1 - i)
            width = min(8, man_bits - lo)
            layout.append((f"mantissa_{i}", lo, width, 1 << width))
        return layout

    @staticmethod
    def _words(x: np.ndarray) -> np.ndarray:
        """The 16-bit words of a contiguous little-endian array, one row per value (a view)."""
        return x.reshape(-1).view(np.uint16).reshape(-1, x.dtype.itemsize // 2)


class Sign(Encoding):
    """One bit per weight, w > 0 (the MoMos reference's BDM input)."""
    family = "sign"
    lossless = False

    def encode(self, x):
        return Encoded([Stream("sign", (to_float(x.reshape(-1)) > 0).astype(np.uint8), 2)])


CHUNK_VALUES = 1 << 16  # values quantised at once (float64 temporaries stay in cache)
SAMPLE_SIZE = 1 << 14   # sample that brackets an order statistic of a large array


@lru_cache(maxsize=None)
def _pattern_values(dtype: np.dtype) -> np.ndarray:
    patterns = np.arange(1 << (8 * dtype.itemsize), dtype=UINT_OF_SIZE[dtype.itemsize])
    with np.errstate(invalid="ignore"):  # the NaN patterns
        return to_float(patterns.view(dtype)).astype(np.float64)


def pattern_values(dtype) -> np.ndarray | None:
    """float64 value of every bit pattern of an 8- or 16-bit numeric dtype, indexed by
    pattern (None for wider dtypes and bool)."""
    dtype = np.dtype(dtype)
    if dtype.itemsize > 2 or not (dtype.kind in "iuf" or dtype == BFLOAT16):
        return None
    return _pattern_values(dtype)


def _linear_quantile(rank, n: int, q: float) -> float:
    """``np.quantile(a, q)`` (method "linear") of ``n`` values from their order statistics
    ``rank(k)`` (k-th smallest, float64), with numpy's float64 operations."""
    virtual = (n - 1) * q
    k = math.floor(virtual)
    if virtual >= n - 1:
        return rank(n - 1)
    a, b, gamma = rank(k), rank(k + 1), virtual - k
    diff = b - a
    return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma


@lru_cache(maxsize=None)
def _finite_order(dtype: np.dtype) -> np.ndarray:
    """The bit patterns of finite values of an 8- or 16-bit dtype, in ascending order of value."""
    values = _pattern_values(dtype)
    finite = np.flatnonzero(np.isfinite(values))
    return finite[np.argsort(values[finite], kind="stable")]


class _TableStats:
    """Order statistics of the finite values of a tensor from its bit-pattern histogram."""

    def __init__(self, dtype: np.dtype, counts: np.ndarray):
        order = _finite_order(np.dtype(dtype))
        order = order[counts[order] > 0]
        self.sorted, self.cumulative = _pattern_values(np.dtype(dtype))[order], np.cumsum(counts[order])
        self.n = int(self.cumulative[-1]) if order.size else 0

    def rank(self, k: int) -> float:
        if self.n == 0:
            return 0.0
        return float(self.sorted[np.searchsorted(self.cumulative, k, side="right")])

    def quantile(self, q: float) -> float:
        return _linear_quantile(self.rank, max(self.n, 1), q)


class _ArrayStats:
    """Order statistics of the finite values of a float array, exact and without a full sort:
    a strided sample brackets the wanted rank, one counting pass confirms the bracket and
    ``np.partition`` orders only the values inside it (the whole array if the bracket missed)."""

    def __init__(self, w: np.ndarray):
        lo, hi = (w.min(), w.max()) if w.size else (np.nan, np.nan)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            w = w[np.isfinite(w)]
            if w.size == 0:
                w = np.zeros(1)
        self.w, self.n = w, w.size
        self._known: dict[int, float] = {}

    def rank(self, k: int) -> float:
        if k not in self._known:
            self._known.update(self._select(k))
        return self._known[k]

    def quantile(self, q: float) -> float:
        virtual = (self.n - 1) * q
        self._select_pair(math.floor(virtual))
        return _linear_quantile(self.rank, self.n, q)

    def _select_pair(self, k: int) -> None:
        ranks = [r for r in (k, k + 1) if r < self.n and r not in self._known]
        if ranks:
            self._known.update(self._select(*ranks))

    def _select(self, *ranks: int) -> dict[int, float]:
        w, n = self.w, self.n
        if ranks[0] in (0, n - 1) and len(ranks) == 1:
            return {ranks[0]: float(w.min() if ranks[0] == 0 else w.max())}
        if n > 64 * SAMPLE_SIZE:
            sample = np.sort(w[:: n // SAMPLE_SIZE])
            pos = [r * (sample.size - 1) // (n - 1) for r in ranks]
            p = min(ranks) / n
            margin = 16 + int(6 * math.sqrt(sample.size * p * (1 - p)))  # ~6 sigma of a random sample
            t_lo, t_hi = sample[max(min(pos) - margin, 0)], sample[min(max(pos) + margin, sample.size - 1)]
            inside = w[(w >= t_lo) & (w <= t_hi)]
            below = int(np.count_nonzero(w < t_lo))
            if below <= min(ranks) and max(ranks) < below + inside.size:
                part = np.partition(inside, [r - below for r in ranks])
                return {r: float(part[r - below]) for r in ranks}
        part = np.partition(w, list(ranks))
        return {r: float(part[r]) for r in ranks}


def _parse_quant_options(family: str, bits: int | None, options: list[str]) -> dict:
    if bits is None:
        raise SpecError(f"{family!r} needs a bit width, e.g. '{family}8'")
    kw: dict = {"bits": bits}
    for opt in options:
        if opt == "sym":
            kw["scheme"] = "sym"
        elif opt == "minmax":
            kw["robust"] = None
        elif opt.startswith("p"):
            if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", opt[1:]):
                raise SpecError(f"bad clipping option {opt!r}: use e.g. '-p99.9' (ASCII digits)")
            kw["robust"] = float(opt[1:])
        elif opt == "tiled" and family == "bitplanes":
            kw["tiled"] = True
        else:
            raise SpecError(f"unknown option {opt!r} for {family!r}: use -sym, -minmax, -pNN"
                            + (" or -tiled" if family == "bitplanes" else ""))
    return kw


class Quantize(Encoding):
    """Uniform B-bit codes (B = 1..16), lossy.

    ``scheme="asym"`` (QuBD): range [lo, hi] = [min, max], or the quantiles
    (1 - p/100)/2 and 1 - (1 - p/100)/2 with ``robust=p`` (default 99.9);
    step = (hi - lo) / (2^B - 1); code = clamp(round((w - lo) / step), 0, 2^B - 1).
    ``scheme="sym"`` (MoMos QAT): Q = 2^(B-1) - 1, scale = max|w| / Q,
    code = clamp(round(w / scale), -Q, Q) + Q.
    Scale and offset count as 2 x 32 side bits. NaN maps to the code of 0.
    """
    family = "q"
    pattern = "qB[-sym|-minmax|-pNN] (B = 1..16)"
    lossless = False
    examples = ("q1", "q16", "q4-sym", "q8-minmax", "q8-p99", "q8-p99.9999999", "q3-p0.00001",
                "q8-p50.5")

    def __init__(self, bits: int = 8, scheme: str = "asym", robust: float | None = 99.9):
        if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 16:
            raise SpecError(f"quantisation bits must be an integer in 1..16, got {bits!r}")
        if scheme not in ("asym", "sym"):
            raise SpecError(f"quantisation scheme must be 'asym' or 'sym', got {scheme!r}")
        if scheme == "sym" and bits < 2:
            raise SpecError("symmetric quantisation needs bits >= 2 (Q = 2^(B-1) - 1 is 0 for B = 1)")
        if robust is not None and (isinstance(robust, bool) or not isinstance(robust, (int, float, np.number))
                                   or not 0 < robust <= 100):
            raise SpecError(f"robust clipping percentile must be a number in (0, 100] or None, got {robust!r}")
        self.bits, self.scheme = int(bits), scheme
        # p100 clips nothing: the same setting as minmax, so one spec ("-minmax") names both
        self.robust = None if scheme == "sym" or robust is None or robust == 100 else float(robust)

    @property
    def spec(self):
        s = f"{self.family}{self.bits}"
        if self.scheme == "sym":
            return s + "-sym"
        if self.robust is None:
            return s + "-minmax"
        return s if self.robust == 99.9 else f"{s}-p{np.format_float_positional(self.robust, trim='-')}"

    @classmethod
    def from_spec(cls, number, options):
        return cls(**_parse_quant_options("q", number, options))

    def codes(self, x: np.ndarray) -> np.ndarray:
        """The integer codes, same shape as ``x``, dtype uint8 or uint16.

        8- and 16-bit dtypes with at least as many values as bit patterns go through a
        table over every pattern (one histogram, one gather); the rest are coded in chunks.
        Clipping quantiles equal ``np.quantile`` (method "linear") over the finite values
        in float64.
        """
        dtype = np.uint8 if self.bits <= 8 else np.uint16
        values = pattern_values(x.dtype)
        if values is not None and x.size >= values.size:
            patterns = bit_patterns(x)
            counts = histogram(patterns, values.size)
            grid, present = self._grid(_TableStats(x.dtype, counts)), np.flatnonzero(counts != 0)
            table = np.zeros(values.size, dtype)  # only the patterns that occur are ever looked up
            table[present] = self._map(values[present], grid)
            return gather(table, patterns)
        w = to_float(x).reshape(-1)
        grid = self._grid(_ArrayStats(w))
        out = np.empty(w.size, dtype)
        for start in range(0, w.size, CHUNK_VALUES):
            out[start:start + CHUNK_VALUES] = self._map(w[start:start + CHUNK_VALUES].astype(np.float64), grid)
        return out.reshape(x.shape)

    def _grid(self, stats: "_TableStats | _ArrayStats") -> tuple:
        """(offset, step[, scale]) of the codes: code = clamp(round((w x scale - offset) / step))."""
        levels = (1 << self.bits) - 1
        if self.scheme == "sym":
            q = (1 << (self.bits - 1)) - 1
            return 0.0, max(abs(stats.rank(0)), abs(stats.rank(stats.n - 1))) / q or 1.0
        if self.robust is None or self.robust == 100:
            lo, hi = stats.rank(0), stats.rank(stats.n - 1)
        else:
            tail = (1 - self.robust / 100) / 2
            lo, hi = stats.quantile(tail), stats.quantile(1 - tail)
        if not np.isfinite(hi - lo):  # near the float64 maximum: halve all values (exact) so hi - lo fits
            return lo / 2, (hi / 2 - lo / 2) / levels or 1.0, 0.5
        return lo, (hi - lo) / levels or 1.0

    def _map(self, w: np.ndarray, grid: tuple) -> np.ndarray:
        """The formula of the class docstring on float64 values (codes as float64); ``grid`` is
        (offset, step) or (offset, step, scale) with offset and step for the values times scale."""
        lo, step, scale = (*grid, 1.0)[:3]
        if self.scheme == "sym":
            q = (1 << (self.bits - 1)) - 1
            return np.clip(np.rint(np.nan_to_num(w / step)), -q, q) + q
        shifted = (w * scale - lo) if scale != 1.0 else (w - lo)
        return np.clip(np.rint(np.nan_to_num(shifted / step, nan=-lo / step)), 0, (1 << self.bits) - 1)

    def encode(self, x):
        return Encoded([Stream(self.spec, self.codes(x).reshape(-1), 1 << self.bits)],
                       side_bits=2 * SIDE_BITS_PER_PARAM)


class Bitplanes(Encoding):
    """The B bit-planes of the ``qB`` codes, LSB first (QuBD), as 2-D binary matrices.

    Tensors are reshaped to (rows, -1); 1-D tensors become one row. With
    ``tiled=True`` the planes are interleaved into one matrix of 2x2 tiles
    (B = 4) or 4x2 tiles (B = 8) instead.
    """
    family = "bitplanes"
    pattern = "bitplanesB[-sym|-minmax|-pNN][-tiled]"
    lossless = False
    examples = ("bitplanes1", "bitplanes4-tiled", "bitplanes8-sym-tiled", "bitplanes8-p99.99999", "bitplanes4-minmax")
    TILES = {4: (2, 2), 8: (4, 2)}

    def __init__(self, bits: int = 8, scheme: str = "asym", robust: float | None = 99.9, tiled: bool = False):
        self.quantize = Quantize(bits, scheme, robust)
        if tiled and bits not in self.TILES:
            raise SpecError(f"tiled bit-planes exist for 4 or 8 bits, got {bits}")
        self.tiled = tiled

    @property
    def bits(self) -> int:
        return self.quantize.bits

    @property
    def spec(self):
        return self.family + self.quantize.spec[1:] + ("-tiled" if self.tiled else "")

    @classmethod
    def from_spec(cls, number, options):
        return cls(**_parse_quant_options("bitplanes", number, options))

    def encode(self, x):
        matrix = x.reshape(x.shape[0], -1) if x.ndim >= 2 else x.reshape(1, -1)
        codes = self.quantize.codes(matrix)
        planes = [BitPlane(f"plane_{i}", codes, i) for i in range(self.bits)]
        if self.tiled:
            planes = [Stream("tiled", interleave([p.data for p in planes], self.TILES[self.bits]), 2)]
        return Encoded(planes, side_bits=2 * SIDE_BITS_PER_PARAM)


class BitPlane(Stream):
    """Bit-plane ``bit`` of a 2-D code matrix, built on first use of ``data``; a coder that
    reads every plane from ``codes`` in one pass (QuBD's BDM) never builds it."""

    def __init__(self, name: str, codes: np.ndarray, bit: int):
        self.name, self.codes, self.bit, self.nsymbols, self.segments = name, codes, bit, 2, None

    @cached_property
    def data(self) -> np.ndarray:  # type: ignore[override]  # built on first use, never assigned
        return ((self.codes >> self.bit) & 1).astype(np.uint8)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.codes.shape

    @property
    def bitplane(self) -> tuple[np.ndarray, int]:
        return self.codes, self.bit


def interleave(planes: list[np.ndarray], tile: tuple[int, int]) -> np.ndarray:
    """Place plane i of each cell at tile position divmod(i, tile_width) (row-major)."""
    th, tw = tile
    rows, cols = planes[0].shape
    out = np.empty((rows, th, cols, tw), dtype=np.uint8)
    for i, plane in enumerate(planes):
        out[:, i // tw, :, i % tw] = plane
    return out.reshape(rows * th, cols * tw)
