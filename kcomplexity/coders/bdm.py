"""The Block Decomposition Method (BDM), vectorised, with pybdm 0.1.0's conventions.

BDM(x) = sum over distinct raw blocks b of [CTM(canon(b)) + log2(count(b))] bits,
where x is cut into blocks (1-D strings of length <= 12, or s x s binary squares,
s <= 4), canon(b) relabels b's symbols 0, 1, 2, ... by first appearance (row-major)
and CTM comes from pybdm's tables (see ``ctm.py``). A block missing from the table
costs (max CTM of its shape + 1), with one ``MissingCTMWarning`` per call.

Public stages, in pybdm's order (perturbation, conditional BDM, tiles and delta rows
build on them): ``decompose`` cuts x into views of same-shaped blocks and ``pack`` makes
each block one integer (base k, first cell most significant); ``count`` gives the
distinct codes and their counts (``bincount``/``unique``); ``lookup`` gives their CTM;
``aggregate`` sums CTM + log2 count; ``warn_missing`` is the one missing-block warning
and ``over_tiles`` the one tile loop. Only distinct blocks are relabelled and looked up. Values agree with pybdm to ~1e-12 relative. Where pybdm is faulty
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
import sys
import warnings
from collections import defaultdict
from collections.abc import Callable
from typing import Literal, TypeVar
from dataclasses import dataclass
from functools import lru_cache, reduce
from itertools import product

import numpy as np

T = TypeVar("T")
from numpy.lib.stride_tricks import as_strided

from ..arrays import _native, as_array, histogram
from ..encodings import Stream
from ..errors import BDMSaturationWarning, InputError, SpecError, TooSmall
from ..specced import ascii_int
from .base import Coded, Coder
from .ctm import TABLES, load_table, no_table_message
from .entropy import entropy_bits

PARTITIONS = ("ignore", "recursive", "correlated")
MIN_LENGTH = 2          # smallest side the recursive partition keeps (pybdm's default)
CHUNK_BLOCKS = 1 << 21  # blocks packed at once: bounds peak memory
_BINCOUNT_LIMIT = 1 << 20
RAW_TABLE_LIMIT = 1 << 16  # shapes with at most this many raw blocks get a CTM array by raw code
SORT_KIND: Literal["stable"] = "stable"  # radix sort for 16-bit codes: ~3x numpy's default on a tile's few hundred codes
SKEW = 0.10  # the whole form is out of regime where it differs from the size-stable form by more


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


def decompose(x: np.ndarray, side: int, partition: str, shift: int = 1):
    """Stage 1, decompose: yield (side, view) groups of same-shaped blocks of ``x`` (any array of
    that shape: the symbols, or their flat indices), view shaped (*counts, side, ...)."""
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


def pack(blocks: np.ndarray, base: int, ndim: int) -> np.ndarray:
    """Stage 1, decompose: integer code of each block of ``blocks`` (shape (*counts, side, ...)), first cell most significant."""
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
        codes = pack(view[start:start + step], base, ndim)
        if dense is not None:
            dense += np.bincount(codes, minlength=n_codes)
        else:
            found.append(np.unique(codes, return_counts=True))
    if dense is not None:
        return _present(dense)
    return _merge(found)


def _present(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codes with a nonzero count in a dense histogram (int64, ascending) and their counts."""
    codes = np.flatnonzero(dense != 0)  # on the bool mask: 4x faster than on the int64 counts
    return codes.astype(np.int64, copy=False), dense[codes]


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


def check_symbols(x, ndim: int = 1, nsymbols: int = 2, block: int | None = None, partition: str = "ignore",
                  shift: int = 1) -> tuple[np.ndarray, int]:
    """The arguments of ``bdm`` checked: (``x`` as a C-contiguous uint8 array, the block side)."""
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


def too_small(shape: tuple, side: int, partition: str) -> TooSmall:
    """The error for an input (or tile) of ``shape`` holding no complete block."""
    return TooSmall(f"input of shape {shape} holds no complete {'x'.join([str(side)] * len(shape))} block "
                    f"under the {partition!r} partition: use a larger input, a smaller block, or the recursive "
                    "partition (spec suffix '-recursive', e.g. 'bdm2d-recursive'; API partition='recursive')")


def count(x, ndim: int = 1, nsymbols: int = 2, block: int | None = None,
          partition: str = "ignore", shift: int = 1) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Stages 1-2, decompose and count: {block side: (distinct raw block codes, their counts)} of
    ``x`` under ``partition`` (arguments as for ``bdm``). TooSmall when no block is complete."""
    arr, side = check_symbols(x, ndim, nsymbols, block, partition, shift)
    parts: dict[int, list] = defaultdict(list)
    for s, view in decompose(arr, side, partition, shift):
        parts[s].append(_count(view, nsymbols, ndim))
    result = {s: _merge(p) for s, p in parts.items()}
    if not result:
        raise too_small(arr.shape, side, partition)
    return result


# ---------------------------------------------------------------- lookup and aggregate
LOG2_TABLE = 1 << 16  # counts below this take their log2 from a table


@lru_cache(maxsize=None)
def _log2_table() -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log2(np.arange(LOG2_TABLE, dtype=np.int64))


def log2_counts(n: np.ndarray) -> np.ndarray:
    """``np.log2(n)`` of integer counts, the same float64 values, the small ones gathered from a
    table of np.log2 (a gather costs a fraction of a log2)."""
    if n.dtype.kind not in "iu" or n.dtype.itemsize < 4 or n.size == 0:  # narrower ints: a float32 log2
        return np.log2(n)
    table = _log2_table()
    if n.max() < LOG2_TABLE:
        return table[n]
    out = table[np.minimum(n, LOG2_TABLE - 1)]
    big = n >= LOG2_TABLE
    out[big] = np.log2(n[big])
    return out


@lru_cache(maxsize=None)
def _raw_ctm(ndim: int, nsymbols: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """CTM (imputed where missing) and the missing mask of every raw block code of a small shape."""
    every = np.arange(nsymbols ** side ** ndim, dtype=np.int64)
    return load_table(ndim, nsymbols)[side].lookup(canonical(every, nsymbols, side ** ndim))


def lookup(codes: np.ndarray, ndim: int, nsymbols: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Stage 3: CTM of raw block codes (max CTM of the shape + 1 where the table has none) and the
    missing mask. Small shapes index a table by raw code; larger ones relabel (``canonical``) first."""
    if nsymbols ** side ** ndim <= RAW_TABLE_LIMIT:
        values, missing = _raw_ctm(ndim, nsymbols, side)
        return values[codes], missing[codes] if missing.any() else np.zeros(codes.shape, bool)  # full tables: no gather
    return load_table(ndim, nsymbols)[side].lookup(canonical(codes, nsymbols, side ** ndim))


def aggregate(counts: dict, ndim: int, nsymbols: int) -> tuple[float, int]:
    """Stage 4: BDM of {side: (distinct codes, counts)} = sum of CTM(b) + log2 n(b), in bits, and how
    many distinct blocks had no CTM value (report them with ``warn_missing``)."""
    total, missing = 0.0, 0
    for side, (codes, n) in counts.items():
        ctm, absent = lookup(codes, ndim, nsymbols, side)
        total += float(ctm.sum() + log2_counts(n).sum())
        missing += int(absent.sum())
    return total, missing


def warn_missing(missing: int, stacklevel: int = 2) -> None:
    """The one ``MissingCTMWarning`` of a call whose lookups imputed ``missing`` blocks."""
    if missing:
        warnings.warn(f"{missing} block(s) have no CTM value; imputed as max CTM of their shape + 1 bit",
                      MissingCTMWarning, stacklevel=stacklevel + 1)


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
    counts = count(x, ndim, nsymbols, block, partition, shift)
    value, missing = aggregate(counts, ndim, nsymbols)
    warn_missing(missing, stacklevel=2)
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
    counts = count(x, ndim, nsymbols, block, partition, shift)
    value = _entropy(np.concatenate([n for _, n in counts.values()]))
    if not normalized:
        return value
    sizes = {s: int(n.sum()) for s, (_, n) in counts.items()}
    n_raw = {s: nsymbols ** (s ** ndim) for s in sizes}
    return _normalise(value, _entropy(list(sizes.values())), _max_entropy(sizes, n_raw))


# ---------------------------------------------------------------- 4x4 blocks of bit-planes in one pass
_SWAPS = tuple((np.uint64(mask), np.uint64(shift)) for mask, shift in
               ((0x00AA00AA00AA00AA, 7), (0x0000CCCC0000CCCC, 14), (0x00000000F0F0F0F0, 28)))
_HIGH, _LOW, _FOUR = np.uint64(0xF0F0F0F0F0F0F0F0), np.uint64(0x0F0F0F0F0F0F0F0F), np.uint64(4)
CHUNK_WORDS = 1 << 16  # uint64 words transposed at once


def _transpose_bits(words: np.ndarray, tmp: np.ndarray) -> None:
    """In place: each uint64 read as an 8x8 bit matrix (row j = byte j) is transposed, so
    byte i then holds bit i of every byte (byte j's at bit j)."""
    for mask, shift in _SWAPS:
        np.right_shift(words, shift, out=tmp)
        tmp ^= words
        tmp &= mask
        words ^= tmp
        tmp <<= shift
        words ^= tmp


def _byte_plane_blocks(codes: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """(8, rows, cols) uint16 4x4 block codes of the 8 bit-planes of a uint8 matrix."""
    words_per_row = -(-cols // 2)  # a uint64 word holds 8 columns: two blocks
    matrix = codes[:4 * rows, :4 * cols]
    if matrix.shape[1] != 8 * words_per_row or not matrix.flags.c_contiguous:
        matrix = np.zeros((4 * rows, 8 * words_per_row), np.uint8)
        matrix[:, :4 * cols] = codes[:4 * rows, :4 * cols]
    words = matrix.reshape(rows, 4, 8 * words_per_row).view(np.uint64)
    out = np.empty((8, rows, words_per_row, 2, 2), np.uint8)  # plane, block row, word, block, byte
    step = max(1, CHUNK_WORDS // (4 * words_per_row))
    for r in range(0, rows, step):
        w = words[r:r + step].byteswap()  # column j of a word in byte 7 - j: the first column ends up high
        _transpose_bits(w, np.empty_like(w))
        r0, r1, r2, r3 = w[:, 0], w[:, 1], w[:, 2], w[:, 3]
        halves = [((r0 & _HIGH) | ((r1 & _HIGH) >> _FOUR), (r2 & _HIGH) | ((r3 & _HIGH) >> _FOUR)),
                  (((r0 & _LOW) << _FOUR) | (r1 & _LOW), ((r2 & _LOW) << _FOUR) | (r3 & _LOW))]
        for block, (upper, lower) in enumerate(halves):   # rows 0-1 in the high byte, 2-3 in the low
            for byte, part in ((1, upper), (0, lower)):
                out[:, r:r + step, :, block, byte] = np.moveaxis(part.view(np.uint8).reshape(part.shape + (8,)), -1, 0)
    return out.view(np.uint16).reshape(8, rows, 2 * words_per_row)[:, :, :cols]


def plane_block_codes(codes: np.ndarray, bits: int) -> np.ndarray:
    """Raw 4x4 block codes of bit-planes 0..bits-1 of a 2-D matrix of codes, in one pass over the
    codes (no plane is built): (bits, rows // 4, cols // 4) uint16, packed as ``pack`` does
    (first cell most significant). Cells outside the 4x4 grid are dropped ("ignore" partition).

    Eight codes of a row form a uint64 whose 8x8 bit matrix is transposed (byte i = plane i
    of the eight cells); nibbles of four rows then make two blocks of every plane.
    """
    if sys.byteorder != "little":  # the word layout below assumes it
        return plane_block_codes_by_plane(codes, bits)
    rows, cols = codes.shape[0] // 4, codes.shape[1] // 4
    if rows == 0 or cols == 0:
        return np.zeros((bits, rows, cols), np.uint16)
    if codes.dtype == np.uint8:
        return _byte_plane_blocks(codes, rows, cols)[:bits]
    return np.concatenate([_byte_plane_blocks(((codes >> (8 * byte)) & 0xFF).astype(np.uint8), rows, cols)
                           for byte in range(-(-bits // 8))])[:bits]


def plane_block_codes_by_plane(codes: np.ndarray, bits: int) -> np.ndarray:
    """``plane_block_codes`` the plain way: each plane built, then cut into blocks by ``pack``."""
    shape = (codes.shape[0] // 4, codes.shape[1] // 4)
    axes = [(n, 4, 0) for n in shape]
    return np.stack([pack(_grid(((codes >> i) & 1).astype(np.uint8), axes, 4), 2, 2).reshape(shape)
                     for i in range(bits)])


def _counts_of_grid(grid: np.ndarray, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct codes of a block-code grid and their counts, as ``_count`` returns them."""
    return _present(histogram(grid, n_codes))


# ---------------------------------------------------------------- regime and tiles
@dataclass
class Score:
    """BDM of one stream (bits) and its regime: ``largest`` is the block count of the largest
    single BDM sum (the stream, or one tile); saturated when it exceeds ``possible``."""
    bits: float
    blocks: int
    distinct: int
    possible: int
    largest: int
    missing: int = 0

    @property
    def saturation(self) -> float:
        return self.largest / self.possible

    def add(self, other: "Score") -> "Score":
        return Score(self.bits + other.bits, self.blocks + other.blocks, self.distinct + other.distinct,
                     self.possible, max(self.largest, other.largest), self.missing + other.missing)


def score_counts(counts: dict, ndim: int, nsymbols: int) -> Score:
    """The Score of one BDM sum given its ``count``."""
    bits, missing = aggregate(counts, ndim, nsymbols)
    blocks = sum(int(n.sum()) for _, n in counts.values())
    possible = nsymbols ** TABLES[(ndim, nsymbols)][1] ** ndim
    return Score(bits, blocks, sum(len(c) for c, _ in counts.values()), possible, blocks, missing)


def _tile_rows(grid: np.ndarray, per_tile: tuple[int, int]) -> list[np.ndarray]:
    """A 2-D grid of block codes cut into tiles of per_tile blocks (edge tiles hold the rest),
    returned as arrays with one tile per row."""
    (a, b), (th, tw) = grid.shape, per_tile
    out = []
    for r0, r1 in ((0, a - a % th), (a - a % th, a)):
        for c0, c1 in ((0, b - b % tw), (b - b % tw, b)):
            if r1 > r0 and c1 > c0:
                h, w = min(th, r1 - r0), min(tw, c1 - c0)
                part = grid[r0:r1, c0:c1].reshape((r1 - r0) // h, h, (c1 - c0) // w, w)
                out.append(part.swapaxes(1, 2).reshape(-1, h * w))
    return out


def score_tiles(grid: np.ndarray, per_tile: tuple[int, int], ndim: int, nsymbols: int,
                whole: np.ndarray | None = None) -> Score:
    """Sum of BDM over the tiles of a grid of raw block codes (full-size blocks only).

    Each tile's codes are sorted (one row per tile): a run of equal codes is one distinct
    block b of that tile, and its length is n(b). Over all tiles, sum CTM(b) is the dot of
    the CTM table with a histogram of the runs' codes, and sum log2 n(b) comes from the run
    lengths: no loop over tiles, and work beyond the sort in proportion to the fewer of
    the runs and the repeats. ``whole`` (a zeroed dense histogram, small alphabets only) also
    receives every block's code: the whole form's counts, from the same pass. Where the C loops
    are built, a uint16 grid with a dense table is counted without a sort (``_score_tiles_native``).
    """
    side = TABLES[(ndim, nsymbols)][1]
    n_codes = nsymbols ** side ** ndim
    dense = n_codes <= RAW_TABLE_LIMIT
    if dense and _native is not None and grid.dtype == np.uint16:
        return _score_tiles_native(grid, per_tile, ndim, nsymbols, whole)
    by_code = np.zeros(n_codes if dense else 0, np.int64)
    ctm_bits, log_bits, missing, blocks, distinct, largest = 0.0, 0.0, 0, 0, 0, 0
    for rows in _tile_rows(grid, per_tile):
        step = max(1, CHUNK_BLOCKS // rows.shape[1])
        for lo in range(0, rows.shape[0], step):
            ordered = np.sort(rows[lo:lo + step], axis=1, kind=SORT_KIND).reshape(-1)
            first = np.empty(ordered.size, bool)  # the first block of each run
            np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
            first[::rows.shape[1]] = True
            runs = int(np.count_nonzero(first))
            repeats = np.flatnonzero(~first) if 2 * runs > ordered.size else None  # the fewer
            log_bits += _log_runs(first, runs, repeats)
            if not dense:
                ctm, absent = lookup(ordered[first].astype(np.int64), ndim, nsymbols, side)
                ctm_bits, missing = ctm_bits + float(ctm.sum()), missing + int(absent.sum())
            elif repeats is None and whole is None:
                by_code += histogram(ordered[first], n_codes)
            else:  # every block, less the repeats
                every = histogram(ordered, n_codes)
                by_code += every
                gone = ordered[~first] if repeats is None else np.take(ordered, repeats)
                if gone.size * 8 < n_codes:  # a few: one by one beats a histogram of n_codes bins
                    np.subtract.at(by_code, gone, 1)
                else:
                    by_code -= histogram(gone, n_codes)
                if whole is not None:
                    whole += every
            distinct += runs
        blocks, largest = blocks + rows.size, max(largest, rows.shape[1])
    if dense:
        values, absent = _raw_ctm(ndim, nsymbols, side)
        ctm_bits, missing = float((by_code * values).sum()), int(by_code[absent].sum())  # no BLAS call
    return Score(ctm_bits + log_bits, blocks, distinct, n_codes, largest, missing)


def _score_tiles_native(grid: np.ndarray, per_tile: tuple[int, int], ndim: int, nsymbols: int,
                        whole: np.ndarray | None) -> Score:
    """``score_tiles`` of a uint16 grid with a dense CTM table, counted by ``_native.tile_runs``
    (no sort): per code the tiles that hold it, and how many distinct blocks occur n times."""
    side = TABLES[(ndim, nsymbols)][1]
    n_codes = nsymbols ** side ** ndim
    by_code, blocks, largest = np.zeros(n_codes, np.int64), 0, 0
    multiplicities = np.zeros(min(per_tile[0] * per_tile[1], grid.size) + 1, np.int64)  # [n]: blocks seen n times
    for rows in _tile_rows(grid, per_tile):
        tile_counts = np.zeros(rows.shape[1] + 1, np.int64)
        _native.tile_runs(np.ascontiguousarray(rows), rows.shape[1], by_code, whole, tile_counts)
        multiplicities[:tile_counts.size] += tile_counts
        blocks, largest = blocks + rows.size, max(largest, rows.shape[1])
    values, absent = _raw_ctm(ndim, nsymbols, side)
    log_bits = float((multiplicities[1:] * log2_counts(np.arange(1, multiplicities.size, dtype=np.int64))).sum())
    return Score(float((by_code * values).sum()) + log_bits, blocks, int(multiplicities.sum()), n_codes, largest,
                 int(by_code[absent].sum()))


def _log_runs(first: np.ndarray, runs: int, repeats: np.ndarray | None = None) -> float:
    """Sum of log2 of the run lengths, given the mask of run starts (a row starts with one);
    ``repeats``: the positions that are no run start, when more than half are (else unused)."""
    if 2 * runs <= first.size:
        return float(log2_counts(np.diff(np.flatnonzero(first), append=first.size)).sum())
    if repeats is None:
        repeats = np.flatnonzero(~first)  # consecutive positions continue one run, n - 1 of them
    if repeats.size == 0:
        return 0.0
    ends = np.flatnonzero(np.diff(repeats) != 1)
    return float(log2_counts(np.diff(ends, prepend=-1, append=repeats.size - 1) + 1).sum())


def tiles(shape: tuple[int, ...], tile: int):
    """The index tuples of the tile x tile (1-D: tile-long) parts of ``shape``, edge parts smaller."""
    for origin in product(*(range(0, n, tile) for n in shape)):
        yield tuple(slice(o, o + tile) for o in origin)


def over_tiles(measure: Callable[[tuple[slice, ...]], T], shape: tuple[int, ...],
               tile: int) -> list[tuple[tuple[slice, ...], T]]:
    """The one tile loop: (part, ``measure(part)``) for every part of ``tiles(shape, tile)`` that
    holds a complete block (``measure`` raises TooSmall on the others). TooSmall when none does."""
    out = []
    for part in tiles(shape, tile):
        try:
            out.append((part, measure(part)))
        except TooSmall:
            continue
    if not out:
        raise TooSmall(f"no {tile}-wide tile of an input of shape {tuple(shape)} holds a complete block: "
                       "use a larger input or tile")
    return out


def alphabet(stream: Stream) -> int:
    """The symbol stream's alphabet size k (a BDM coder's ``symbols`` has refused raw streams)."""
    if stream.nsymbols is None:
        raise SpecError(f"BDM scores symbol streams; {stream.name!r} holds raw values: use an encoding "
                        "such as 'sign' or 'bitplanesB'")
    return stream.nsymbols


def score_tile_loop(x: np.ndarray, tile: int, ndim: int, nsymbols: int, partition: str) -> Score:
    """Sum of BDM over the tile x tile tiles of ``x`` (edge tiles smaller), each under ``partition``."""
    scores = over_tiles(lambda part: score_counts(count(x[part], ndim, nsymbols, partition=partition),
                                                  ndim, nsymbols), x.shape, tile)
    return reduce(Score.add, [score for _, score in scores])


# ---------------------------------------------------------------- coders
class BDM(Coder):
    """1-D BDM of a symbol stream with 2, 4, 5, 6 or 9 symbols, in bits.

    ``sign|bdm`` is the MoMos metric. ``qB`` streams have 2^B symbols, so of the
    quantisers only ``q1|bdm`` (2) and ``q2|bdm`` (4) have CTM tables. Written
    ``bdm[-recursive|-correlated][-chunkN]``: ``-chunkN`` (N a multiple of 12) sums BDM
    over chunks of N symbols (the last one shorter), a size-stable form.

    ``details``: ``bdm`` (sum over streams) and, per stream, ``blocks``, ``distinct_blocks``,
    ``possible_blocks`` (of the block shape), ``saturation`` = blocks of the largest
    single BDM sum (the stream, or one chunk) / possible blocks, and ``regime``. Above
    saturation 1 BDM is "saturated": it grows only logarithmically with size. A skewed
    stream (few distinct blocks) is out of regime below that: the whole form (no tiles)
    also reports ``size_stable_bits``, its tiled form's bits on the same stream, where it
    is not saturated and larger than one tile, and is "skewed" where the two differ by
    more than 10 % (``SKEW``). One ``BDMSaturationWarning`` names both kinds.
    """
    family, ndim, tile_word, suggestion, stable_tile = "bdm", 1, "chunk", "sign|bdm-chunk1200", 1200
    accepts = frozenset({"symbols"})
    examples = ("bdm-recursive", "bdm-correlated", "bdm-chunk1200", "bdm-recursive-chunk24")
    pattern = "bdm[-recursive|-correlated][-chunkN] (N a multiple of 12)"

    def __init__(self, partition: str = "ignore", tile: int | None = None):
        if partition not in PARTITIONS:
            raise SpecError(f"unknown partition {partition!r} for {self.family!r}: use -{', -'.join(PARTITIONS)}")
        side = TABLES[(self.ndim, 2)][1]
        if tile is not None and (not isinstance(tile, (int, np.integer)) or tile < side or tile % side):
            raise SpecError(f"{self.tile_word} size of {self.family!r} must be a positive multiple of the block "
                            f"side {side}, got {tile!r}: e.g. '{self.family}-{self.tile_word}{side * 100}'")
        self.partition, self.tile = partition, None if tile is None else int(tile)

    @property
    def spec(self) -> str:
        options = ([self.partition] if self.partition != "ignore" else []) + \
                  ([f"{self.tile_word}{self.tile}"] if self.tile else [])
        return "-".join([self.family] + options)

    @classmethod
    def from_spec(cls, number, options):
        kw = {}
        for opt in options:
            digits = opt[len(cls.tile_word):]
            if opt in PARTITIONS and "partition" not in kw:
                kw["partition"] = opt
            elif opt.startswith(cls.tile_word) and ascii_int(digits) is not None and "tile" not in kw:
                kw["tile"] = ascii_int(digits)
            else:
                raise SpecError(f"unknown option {opt!r} for {cls.family!r}: write {cls.pattern}, "
                                f"partition one of {', '.join(PARTITIONS)}")
        if number is not None:
            raise SpecError(f"write {cls.family!r} as {cls.pattern}")
        return cls(**kw)

    def symbols(self, stream: Stream) -> np.ndarray:
        """The stream's symbols as this coder scores them (SpecError when it cannot)."""
        if (1, stream.nsymbols) not in TABLES:
            raise SpecError(f"'bdm' cannot score stream {stream.name!r} (qB gives 2^B symbols): "
                            + no_table_message(1, stream.nsymbols))
        return stream.array.reshape(-1)

    def _block_grids(self, streams: list[Stream]) -> dict[str, np.ndarray]:
        """Raw block codes of the streams the 'ignore' partition cuts into a grid, by name."""
        if self.partition != "ignore" or self.tile is None:
            return {}
        out = {}
        for s in streams:
            data = self.symbols(s)
            side = TABLES[(1, alphabet(s))][1]
            out[s.name] = pack(data[:data.size // side * side].reshape(-1, side), alphabet(s), 1).reshape(1, -1)
        return out

    def _score(self, stream: Stream, grid: np.ndarray | None) -> Score:
        """Score of a stream, from its grid of block codes when ``_block_grids`` made one."""
        if grid is not None:
            side = TABLES[(self.ndim, alphabet(stream))][1]
            if grid.size == 0:
                raise too_small(stream.shape, side, self.partition)
            if self.tile is None:
                counts = {side: _counts_of_grid(grid, alphabet(stream) ** side ** self.ndim)}
                return score_counts(counts, self.ndim, alphabet(stream))
            per = self.tile // side
            return score_tiles(grid, (1, per) if self.ndim == 1 else (per, per), self.ndim, alphabet(stream))
        data = self.symbols(stream)
        if self.tile is not None:
            return score_tile_loop(data, self.tile, self.ndim, alphabet(stream), self.partition)
        return score_counts(count(data, self.ndim, alphabet(stream), partition=self.partition),
                            self.ndim, alphabet(stream))

    def size_stable(self) -> "BDM":
        """This coder's size-stable form: itself when tiled or chunked, else the same partition
        with the tiles (chunks) of ``suggestion``."""
        return self if self.tile else type(self)(self.partition, self.stable_tile)

    def measure(self, streams: list[Stream]) -> tuple[dict[str, Score], dict[str, float]]:
        """Each stream's Score, and the size-stable form's bits on the streams where the regime
        check compares them: the whole form on a stream that is not saturated but larger than
        one tile (a saturated one is out of regime anyway, a smaller one scores the same)."""
        grids, stable = self._block_grids(streams), self.size_stable()
        scores, stable_bits = {}, {}
        for s in streams:
            grid = grids.pop(s.name, None)
            if stable is self or stable.tile is None or (self.ndim, s.nsymbols) not in TABLES:  # _score says why
                scores[s.name] = self._score(s, grid)
                continue
            side = TABLES[(self.ndim, alphabet(s))][1]
            n_codes, per = alphabet(s) ** side ** self.ndim, stable.tile // side
            if grid is not None and per ** self.ndim < grid.size <= n_codes <= RAW_TABLE_LIMIT:
                # both forms from one pass over the sorted tiles
                whole = np.zeros(n_codes, np.int64)
                stable_bits[s.name] = score_tiles(grid.reshape(-1, grid.shape[-1]), (per, per) if self.ndim == 2
                                                  else (1, per), self.ndim, alphabet(s), whole).bits
                scores[s.name] = score_counts({side: _present(whole)}, self.ndim, alphabet(s))
                continue
            score = scores[s.name] = self._score(s, grid)
            if score.saturation <= 1 and score.blocks > per ** self.ndim:
                if grid is None:
                    grid = stable._block_grids([s]).get(s.name)
                stable_bits[s.name] = stable._score(s, grid).bits
        return scores, stable_bits

    def regimes(self, scores: dict[str, Score], stable_bits: dict[str, float]) -> dict[str, str]:
        """Per stream: "saturated" (more blocks in one BDM sum than possible blocks), "skewed"
        (whole and size-stable bits differ by more than ``SKEW``) or "ok"."""
        def regime(name: str, score: Score) -> str:
            if score.saturation > 1:
                return "saturated"
            stable = stable_bits.get(name)
            return "skewed" if stable is not None and abs(score.bits - stable) > SKEW * stable else "ok"
        return {name: regime(name, score) for name, score in scores.items()}

    def code_all(self, streams: list[Stream]) -> dict[str, Coded]:
        scores, stable_bits = self.measure(streams)
        warn_missing(sum(sc.missing for sc in scores.values()), stacklevel=4)
        regimes = self.regimes(scores, stable_bits)
        self._warn_regime(scores, stable_bits, regimes)
        out = {}
        for name, sc in scores.items():
            details = {"bdm": sc.bits, "blocks": {name: sc.blocks}, "distinct_blocks": {name: sc.distinct},
                       "possible_blocks": {name: sc.possible}, "saturation": {name: sc.saturation},
                       "regime": {name: regimes[name]}}
            if name in stable_bits:
                details["size_stable_bits"] = {name: stable_bits[name]}
            out[name] = Coded(sc.bits, details)
        return out

    def code(self, stream: Stream) -> Coded:
        return self.code_all([stream])[stream.name]

    def _warn_regime(self, scores: dict[str, Score], stable_bits: dict[str, float], regimes: dict[str, str]) -> None:
        """One BDMSaturationWarning naming the saturated and the skewed streams, and what to use."""
        hot = [name for name, r in regimes.items() if r == "saturated"]
        skewed = [name for name, r in regimes.items() if r == "skewed"]
        if not hot and not skewed:
            return
        found = []
        if hot:
            worst = max(hot, key=lambda n: scores[n].saturation)
            unit = "chunk" if self.tile and self.ndim == 1 else "tile" if self.tile else "stream"
            found.append(f"saturated on {len(hot)} of {len(scores)} stream(s) (worst {worst!r}: "
                         f"{scores[worst].largest:,} blocks per {unit} for {scores[worst].possible:,} possible "
                         "distinct blocks)")
        if skewed:
            worst = min(skewed, key=lambda n: scores[n].bits / stable_bits[n])
            found.append(f"skewed on {len(skewed)} of {len(scores)} stream(s) (worst {worst!r}: "
                         f"{scores[worst].bits / stable_bits[worst]:.3f}x its size-stable "
                         f"'{self.size_stable().spec}' bits, beyond the {SKEW:.0%} allowed)")
        warnings.warn(f"'{self.spec}' is {' and '.join(found)}: BDM there grows only logarithmically with "
                      "size, so it mostly measures the block distribution and ratios between tensors shrink "
                      f"toward 1. Use the size-stable '{self.suggestion}' (or smaller tiles/chunks), or compare "
                      "tensors of equal shape.", BDMSaturationWarning, stacklevel=5)


class BDM2D(BDM):
    """2-D BDM of a binary matrix (4x4 blocks), in bits: ``bitplanesB|bdm2d`` is QuBD.

    ``-tileT`` (T a multiple of 4) sums 2-D BDM over T x T tiles; edge tiles are smaller
    and cut by the partition rule. Bit-planes of one code matrix are cut into blocks in
    one pass over the codes. ``details`` as for ``bdm``.
    """
    family, ndim, tile_word, suggestion, stable_tile = "bdm2d", 2, "tile", "bitplanes8|bdm2d-tile64", 64
    examples = ("bdm2d-recursive", "bdm2d-correlated", "bdm2d-tile64", "bdm2d-correlated-tile8")
    pattern = "bdm2d[-recursive|-correlated][-tileT] (T a multiple of 4)"

    def symbols(self, stream: Stream) -> np.ndarray:
        ndim = len(stream.shape)
        if stream.nsymbols != 2 or ndim != 2:
            raise SpecError(f"'bdm2d' scores 2-D binary matrices, got {ndim}-D stream {stream.name!r} "
                            f"with {stream.nsymbols or 'raw'} symbols: use 'bitplanesB|bdm2d' (QuBD)")
        return stream.array

    def _block_grids(self, streams: list[Stream]) -> dict[str, np.ndarray]:
        """4x4 block codes ('ignore' partition): the bit-planes of one code matrix in one pass."""
        if self.partition != "ignore":
            return {}
        out: dict[str, np.ndarray] = {}
        planes: dict[int, list[tuple[str, np.ndarray, int]]] = defaultdict(list)
        for s in streams:
            if s.bitplane is not None and len(s.shape) == 2:
                codes, bit = s.bitplane
                planes[id(codes)].append((s.name, codes, bit))
            else:
                out[s.name] = plane_block_codes(self.symbols(s), 1)[0]
        for group in planes.values():
            grid = plane_block_codes(group[0][1], max(bit for _, _, bit in group) + 1)
            out.update({name: grid[bit] for name, _, bit in group})
        return out
