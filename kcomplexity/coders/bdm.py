"""The Block Decomposition Method (BDM), vectorised, with pybdm 0.1.0's conventions.

BDM(x) = sum over distinct raw blocks b of [CTM(canon(b)) + log2(count(b))] bits,
where x is cut into blocks (1-D strings of length <= 12, or s x s binary squares,
s <= 4), canon(b) relabels b's symbols 0, 1, 2, ... by first appearance (row-major)
and CTM comes from pybdm's tables (see ``ctm.py``). A block missing from the table
costs (max CTM of its shape + 1), with one ``MissingCTMWarning`` per call.

Each block is packed into one integer (base k, first cell most significant), blocks
are counted with ``bincount``/``unique``, and only the distinct blocks are relabelled
and looked up. Values agree with pybdm to ~1e-12 relative. Where pybdm is faulty
this module defines (and tests) instead:

* an input with no complete block raises ``TooSmall`` (pybdm: "Computed BDM is 0");
* normalised values are clipped to [0, 1] (pybdm exceeds 1 when imputed blocks cost
  more than the table's most complex block) and are 0 when max == min;
* normalisation uses the block shapes the partition really produces (pybdm's
  recursive partition counts a phantom length-1 remainder in 1-D and raises
  StopIteration in 2-D) and is defined for the correlated partition too;
* normalised block entropy uses the true extremes for the observed block counts per
  shape: min = entropy of the shape counts, max = each shape's blocks spread evenly
  over its k^size raw blocks (pybdm's agree when one shape occurs and n <= k^size).
"""
from __future__ import annotations

import math
import warnings
from collections import defaultdict
from itertools import product

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..arrays import as_array
from ..encodings import Stream
from ..errors import InputError, SpecError, TooSmall
from .base import Coded, Coder
from .ctm import TABLES, load_table, no_table_message
from .entropy import entropy_bits

PARTITIONS = ("ignore", "recursive", "correlated")
MIN_LENGTH = 2          # smallest side the recursive partition keeps (pybdm's default)
CHUNK_BLOCKS = 1 << 21  # blocks packed at once: bounds peak memory
_BINCOUNT_LIMIT = 1 << 20


class MissingCTMWarning(RuntimeWarning):
    """Some blocks had no CTM value and were imputed (max CTM of the shape + 1)."""


# ---------------------------------------------------------------- partition
def _layout(shape: tuple, side: int) -> list[tuple[tuple, int]]:
    """pybdm's recursive decomposition of a part of ``shape`` into side x side tiles:
    (origin, side) of every block it keeps. Used only on small boundary parts."""
    out = []
    for origin in product(*(range(0, n, side) for n in shape)):
        part = tuple(min(side, n - o) for n, o in zip(shape, origin))
        if all(p == side for p in part):
            out.append((origin, side))
        elif min(part) >= MIN_LENGTH:
            out += [(tuple(o + so for o, so in zip(origin, sub)), s) for sub, s in _layout(part, min(part))]
    return out


def _grid(x: np.ndarray, axes: list[tuple[int, int, int]], side: int) -> np.ndarray:
    """Read-only view of shape (*counts, side, ...): per axis (count, step, offset) of block origins."""
    offset = sum(o * st for (_, _, o), st in zip(axes, x.strides))
    base = x.reshape(-1)[offset // x.itemsize:]
    counts = tuple(c for c, _, _ in axes)
    steps = tuple(s * st for (_, s, _), st in zip(axes, x.strides))
    return as_strided(base, counts + (side,) * x.ndim, steps + x.strides, writeable=False)


def _block_groups(x: np.ndarray, side: int, partition: str, shift: int):
    """Yield (side, view) groups of same-shaped blocks, view shaped (*counts, side, ...)."""
    if partition == "correlated":
        counts = [(n - side) // shift + 1 if n >= side else 0 for n in x.shape]
        if min(counts) > 0:
            yield side, _grid(x, [(c, shift, 0) for c in counts], side)
        return
    full = [n // side for n in x.shape]
    rest = [n % side for n in x.shape]
    choices = [(False, True) if partition == "recursive" else (False,)] * x.ndim
    for edge in product(*choices):   # per axis: the full blocks, or the remainder strip
        counts = [1 if e else f for e, f in zip(edge, full)]
        part = tuple(r if e else side for e, r in zip(edge, rest))
        if min(counts) == 0 or min(part) == 0:
            continue
        sub = [((0,) * x.ndim, side)] if not any(edge) else (
            _layout(part, min(part)) if min(part) >= MIN_LENGTH else [])
        for origin, s in sub:
            axes = [(c, side, (f * side if e else 0) + o) for c, e, f, o in zip(counts, edge, full, origin)]
            yield s, _grid(x, axes, s)


# ---------------------------------------------------------------- counting
def _code_dtype(n_codes: int):
    return np.uint16 if n_codes <= 1 << 16 else np.uint32 if n_codes <= 1 << 32 else np.int64


def _pack(blocks: np.ndarray, base: int, ndim: int) -> np.ndarray:
    """Integer code of each block of ``blocks`` (shape (*counts, side, ...)), first cell most significant."""
    side = blocks.shape[-1]
    dtype = _code_dtype(base ** (side ** ndim))
    codes = np.zeros(blocks.shape[:-ndim], dtype)
    for cell in product(range(side), repeat=ndim):
        codes *= dtype(base)
        codes += blocks[(...,) + cell]
    return codes.reshape(-1)


def _count(view: np.ndarray, base: int, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct block codes of a group and their counts, packed a chunk of rows at a time."""
    n_codes = base ** (view.shape[-1] ** ndim)
    dense = np.zeros(n_codes, np.int64) if n_codes <= _BINCOUNT_LIMIT else None
    found: list[tuple[np.ndarray, np.ndarray]] = []
    step = max(1, CHUNK_BLOCKS // math.prod(view.shape[1:ndim]))
    for start in range(0, view.shape[0], step):
        codes = _pack(view[start:start + step], base, ndim)
        if dense is not None:
            dense += np.bincount(codes, minlength=n_codes)
        else:
            found.append(np.unique(codes, return_counts=True))
    if dense is not None:
        codes = np.flatnonzero(dense)
        return codes.astype(np.int64), dense[codes]
    return _merge(found)


def _merge(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    if len(parts) == 1:
        return parts[0][0].astype(np.int64), parts[0][1]
    codes, inverse = np.unique(np.concatenate([c for c, _ in parts]), return_inverse=True)
    return codes.astype(np.int64), np.bincount(inverse, weights=np.concatenate([n for _, n in parts])).astype(np.int64)


def _indicator_codes(codes: np.ndarray, base: int, size: int) -> np.ndarray:
    """(base, n) array: row v holds the code of each block's indicator string of symbol v."""
    dtype = _code_dtype(base ** size)
    codes = codes.astype(dtype)
    weights = np.zeros((base, len(codes)), dtype)
    if base in (2, 4):  # digits are bit fields: compare all of them at once
        width = base.bit_length() - 1
        ones = dtype(sum(1 << (width * j) for j in range(size)))  # a 1 in every digit's low bit
        for v in range(base):
            same = ~(codes ^ dtype(int(ones) * v))
            weights[v] = same & (same >> dtype(1)) & ones if width == 2 else same & ones
        return weights
    digits = np.empty((size, len(codes)), np.uint8)
    for i in range(size - 1, -1, -1):
        digits[i] = codes % dtype(base)
        codes //= dtype(base)
    for v in range(base):
        for row in digits:
            weights[v] *= dtype(base)
            weights[v] += row == v
    return weights


def canonical(codes: np.ndarray, base: int, size: int) -> np.ndarray:
    """Relabel the symbols of packed blocks (``size`` cells) 0, 1, 2, ... by first appearance.

    With w_v the code of the indicator string of symbol v (1 where the block holds v),
    the symbol seen first has the largest w_v, so its label is rank_v = #{u: w_u > w_v}
    and the canonical code is sum_v rank_v * w_v.
    """
    weights = _indicator_codes(codes, base, size)
    out = np.zeros(len(codes), weights.dtype)
    for w in weights:
        out += (weights > w).sum(axis=0, dtype=weights.dtype) * w
    return out.astype(np.int64)


def block_counts(x, ndim: int = 1, nsymbols: int = 2, block: int | None = None,
                 partition: str = "ignore", shift: int = 1) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """{block side: (distinct raw block codes, their counts)} of ``x`` under ``partition``."""
    arr, side = _check(x, ndim, nsymbols, block, partition, shift)
    parts: dict[int, list] = defaultdict(list)
    for s, view in _block_groups(arr, side, partition, shift):
        parts[s].append(_count(view, nsymbols, ndim))
    result = {s: _merge(p) for s, p in parts.items()}
    if not result:
        raise TooSmall(f"input of shape {arr.shape} holds no complete {'x'.join([str(side)] * ndim)} block "
                       f"under the {partition!r} partition: use a larger input, a smaller block, "
                       "or partition='recursive'")
    return result


def _check(x, ndim, nsymbols, block, partition, shift) -> tuple[np.ndarray, int]:
    if (ndim, nsymbols) not in TABLES:
        raise SpecError(no_table_message(ndim, nsymbols))
    if partition not in PARTITIONS:
        raise SpecError(f"unknown partition {partition!r}: use one of {', '.join(PARTITIONS)}")
    if not isinstance(shift, (int, np.integer)) or shift < 1:
        raise SpecError(f"shift must be a positive integer, got {shift!r}")
    largest = TABLES[(ndim, nsymbols)][1]
    side = largest if block is None else block
    if not isinstance(side, (int, np.integer)) or not 1 <= side <= largest:
        raise SpecError(f"block must be an integer side length in 1..{largest} for ndim={ndim}, got {block!r}")
    arr = as_array(x)
    if arr.ndim != ndim:
        raise InputError(f"ndim={ndim} BDM needs a {ndim}-D array, got shape {arr.shape}: reshape it first")
    if arr.dtype.kind not in "biu":
        raise InputError(f"BDM needs integer symbols 0..{nsymbols - 1}, got dtype {arr.dtype}: quantise first, "
                         "e.g. kcomplexity.estimate(w, 'sign|bdm') or 'q2|bdm'")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= nsymbols:
        raise InputError(f"symbols must lie in 0..{nsymbols - 1}, found {lo}..{hi}: "
                         "pass nsymbols matching the alphabet or recode the input")
    return np.ascontiguousarray(arr, np.uint8), int(side)


# ---------------------------------------------------------------- BDM and entropy
def _bdm_of_counts(counts: dict, ndim: int, nsymbols: int) -> float:
    table = load_table(ndim, nsymbols)
    total, missing = 0.0, 0
    for side, (codes, n) in counts.items():
        ctm, absent = table[side].lookup(canonical(codes, nsymbols, side ** ndim))
        total += float(ctm.sum() + np.log2(n).sum())
        missing += int(absent.sum())
    if missing:
        warnings.warn(f"{missing} distinct block(s) have no CTM value; imputed as max CTM of "
                      "their shape + 1 bit", MissingCTMWarning, stacklevel=3)
    return total


def _normalise(value: float, low: float, high: float) -> float:
    return 0.0 if high <= low else float(min(1.0, max(0.0, (value - low) / (high - low))))


def bdm(x, ndim: int = 1, nsymbols: int = 2, block: int | None = None, partition: str = "ignore",
        shift: int = 1, normalized: bool = False) -> float:
    """BDM of ``x`` in bits (or normalised to [0, 1]), pybdm 0.1.0's definition.

    ``x``: integer symbols 0..nsymbols-1, 1-D (nsymbols 2, 4, 5, 6, 9) or 2-D binary.
    ``block``: block side (default the table's largest, 12 or 4). ``partition``:
    "ignore" drops the remainder, "recursive" re-cuts it into smaller squares (side >= 2),
    "correlated" slides a window by ``shift``. Normalised: (BDM - min) / (max - min) with
    min = every block of a shape equal to its simplest, max = the most complex raw blocks.

    >>> import numpy as np
    >>> round(bdm(np.ones(24, np.uint8)), 6)  # two copies of '1'*12: 25.610414 + log2(2)
    26.610414
    """
    counts = block_counts(x, ndim, nsymbols, block, partition, shift)
    value = _bdm_of_counts(counts, ndim, nsymbols)
    if not normalized:
        return value
    table = load_table(ndim, nsymbols)
    sizes = {s: int(n.sum()) for s, (_, n) in counts.items()}
    low = sum(table[s].min_ctm + math.log2(n) for s, n in sizes.items())
    high = sum(table[s].max_bdm(n) for s, n in sizes.items())
    return _normalise(value, low, high)


def _entropy(counts) -> float:
    """-sum p log2 p with p = counts / sum (bits per block)."""
    counts = np.asarray(counts, np.float64)
    return entropy_bits(counts) / counts.sum()


def _max_entropy(sizes: dict[int, int], n_raw: dict[int, int]) -> float:
    """Entropy when each shape's ``sizes[s]`` blocks are spread evenly over its ``n_raw[s]`` raw blocks."""
    total = sum(sizes.values())
    c_log_c = 0.0  # sum of c log2 c over the raw blocks' counts c
    for s, n in sizes.items():
        q, r = divmod(n, n_raw[s])
        c_log_c += r * (q + 1) * math.log2(q + 1) + ((n_raw[s] - r) * q * math.log2(q) if q else 0.0)
    return math.log2(total) - c_log_c / total


def block_entropy(x, ndim: int = 1, nsymbols: int = 2, block: int | None = None, partition: str = "ignore",
                  shift: int = 1, normalized: bool = False) -> float:
    """Shannon entropy (bits per block) of the distribution of raw blocks (pybdm's ``ent``).

    Arguments as for ``bdm``. Normalised: (H - min) / (max - min), min = entropy of the
    per-shape block counts, max = each shape's blocks spread evenly over its k^size raw blocks.
    """
    counts = block_counts(x, ndim, nsymbols, block, partition, shift)
    value = _entropy(np.concatenate([n for _, n in counts.values()]))
    if not normalized:
        return value
    sizes = {s: int(n.sum()) for s, (_, n) in counts.items()}
    n_raw = {s: nsymbols ** (s ** ndim) for s in sizes}
    return _normalise(value, _entropy(list(sizes.values())), _max_entropy(sizes, n_raw))


# ---------------------------------------------------------------- coders
class BDM(Coder):
    """1-D BDM of a symbol stream with 2, 4, 5, 6 or 9 symbols, in bits.

    ``sign|bdm`` is the MoMos metric. ``qB`` streams have 2^B symbols, so of the
    quantisers only ``q1|bdm`` (2) and ``q2|bdm`` (4) have CTM tables. Written
    ``bdm[-ignore|-recursive|-correlated]``; ``details["bdm"]`` sums over streams.
    """
    family, pattern, ndim = "bdm", "bdm[-recursive|-correlated]", 1

    def __init__(self, partition: str = "ignore"):
        if partition not in PARTITIONS:
            raise SpecError(f"unknown partition {partition!r} for {self.family!r}: use -{', -'.join(PARTITIONS)}")
        self.partition = partition

    @property
    def spec(self) -> str:
        return self.family if self.partition == "ignore" else f"{self.family}-{self.partition}"

    @classmethod
    def from_spec(cls, number, options):
        if number is not None or len(options) > 1:
            raise SpecError(f"write {cls.family!r} as {cls.pattern}")
        return cls(*options)

    def _symbols(self, stream: Stream) -> np.ndarray:
        if (1, stream.nsymbols) not in TABLES:
            raise SpecError(f"'bdm' cannot score stream {stream.name!r} (qB gives 2^B symbols): "
                            + no_table_message(1, stream.nsymbols))
        return stream.data.reshape(-1)

    def code(self, stream: Stream) -> Coded:
        data = self._symbols(stream)
        value = bdm(data, self.ndim, stream.nsymbols, partition=self.partition)
        return Coded(value, {"bdm": value})


class BDM2D(BDM):
    """2-D BDM of a binary matrix (4x4 blocks), in bits: ``bitplanesB|bdm2d`` is QuBD."""
    family, pattern, ndim = "bdm2d", "bdm2d[-recursive|-correlated]", 2

    def _symbols(self, stream: Stream) -> np.ndarray:
        if stream.nsymbols != 2 or stream.data.ndim != 2:
            raise SpecError(f"'bdm2d' scores 2-D binary matrices, got {stream.data.ndim}-D stream {stream.name!r} "
                            f"with {stream.nsymbols or 'raw'} symbols: use 'bitplanesB|bdm2d' (QuBD)")
        return stream.data



