"""pybdm's algorithms beyond BDM itself, vectorised: the perturbation experiment and
the coarse conditional BDM.

Both are built from the public stages of ``bdm.py``: ``decompose``/``pack`` (where each
block lies), ``count``, ``lookup`` (CTM) and the one tile loop ``over_tiles``.
With a partition into disjoint blocks ("ignore", "recursive") a cell lies in at most
one block, so changing it replaces exactly one raw block b by b'; every cell's change
follows from the counts n(b), n(b') and the CTM values, in one numpy pass.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from ..errors import InputError, SpecError, TooSmall
from .bdm import check_symbols, count, decompose, lookup, over_tiles, pack, warn_missing

METRICS = ("bdm", "ent")
_DISJOINT = ("ignore", "recursive")
_DENSE_LIMIT = 1 << 20  # block alphabets up to this size are counted in a dense array
_CHUNK_CELLS = 1 << 20  # cells perturbed at once: bounds peak memory


def _count_of(codes: np.ndarray, known: tuple[np.ndarray, np.ndarray] | None, n_codes: int) -> np.ndarray:
    """How often each of ``codes`` (< n_codes) occurs in ``known`` = (sorted distinct codes, counts)."""
    if known is None or len(known[0]) == 0:
        return np.zeros(len(codes), np.int64)
    distinct, n = known
    if n_codes <= _DENSE_LIMIT:  # index a dense count array: no search
        dense = np.zeros(n_codes, np.int64)
        dense[distinct] = n
        return dense[codes]
    pos = np.minimum(np.searchsorted(distinct, codes), len(distinct) - 1)
    return np.where(distinct[pos] == codes, n[pos], 0)


# ---------------------------------------------------------------- perturbation
def _requests(arr: np.ndarray, nsymbols: int, idx, values, seed) -> tuple[np.ndarray, np.ndarray]:
    """Flat positions of the cells to perturb and their new values (negative value: another symbol)."""
    if idx is None:
        cells = np.arange(arr.size)
    else:
        idx = np.asarray(idx)
        if idx.ndim == 1 and arr.ndim == 1:
            idx = idx[:, None]
        if idx.dtype.kind not in "iu" or idx.ndim != 2 or idx.shape[1] != arr.ndim:
            raise InputError(f"idx must be an integer array of shape (n, {arr.ndim}) (one row per cell), "
                             f"got {idx.dtype} {idx.shape}")
        if ((idx < 0) | (idx >= np.array(arr.shape))).any():
            raise InputError(f"idx holds indices outside the input's shape {arr.shape}")
        cells = np.ravel_multi_index(tuple(idx.T), arr.shape)
    old = arr.reshape(-1)[cells]
    new = np.full(len(cells), -1, np.int16) if values is None else np.asarray(values, np.int64).reshape(-1)
    if new.shape != old.shape or (new >= nsymbols).any():
        raise InputError(f"values must hold one symbol < {nsymbols} (or -1) per perturbed cell "
                         f"({len(cells)}), got {np.shape(values)} with max {new.max(initial=-1)}")
    other = new < 0   # pybdm: any other symbol; for binary data a flip
    shift = 1 if nsymbols == 2 else np.random.default_rng(seed).integers(1, nsymbols, int(other.sum()))
    new[other] = (old[other] + shift) % nsymbols
    return cells, new.astype(np.int16)


def _slots(arr: np.ndarray, side: int, partition: str, ndim: int, nsymbols: int):
    """Where each cell sits: slot_of[cell] = first + block * size + offset within its group's
    blocks (-1: in no block), and per group (side, first slot, block codes in slot order)."""
    slot_of = np.full(arr.size, -1, np.int64)
    index = np.arange(arr.size).reshape(arr.shape)
    groups, first = [], 0
    for (s, view), (_, where) in zip(decompose(arr, side, partition, 1), decompose(index, side, partition, 1)):
        where = where.reshape(-1)
        slot_of[where] = np.arange(first, first + where.size)
        groups.append((s, first, pack(view, nsymbols, ndim).astype(np.int64)))
        first += where.size
    return slot_of, groups


def _changes(metric: str, before: np.ndarray, after: np.ndarray, known, total: int, shape) -> tuple[np.ndarray, int]:
    """Change of BDM (or block entropy over ``total`` blocks) when a block b becomes b' != b, with
    counts n(b) >= 1 and n(b') >= 0 from ``known`` (before the change); and the CTM values missing.
    ``shape``: (ndim, nsymbols, side) of the blocks."""
    ndim, nsymbols, side = shape
    (ctm_old, m_old), (ctm_new, m_new) = (lookup(c, ndim, nsymbols, side) for c in (before, after))
    n_codes = nsymbols ** side ** ndim
    n_old, n_new = _count_of(before, known, n_codes), _count_of(after, known, n_codes)
    return _block_change(metric, n_old, n_new, ctm_old, ctm_new, total), int(m_old.sum() + m_new.sum())


def _block_change(metric: str, n_old: np.ndarray, n_new: np.ndarray, ctm_old, ctm_new, total: int) -> np.ndarray:
    """The change of one block b -> b' from n(b), n(b') and their CTM values."""
    if metric == "bdm":
        with np.errstate(divide="ignore", invalid="ignore"):
            removed = np.where(n_old > 1, np.log2((n_old - 1) / n_old), -ctm_old)
            added = np.where(n_new > 0, np.log2((n_new + 1) / n_new), ctm_new)
        return removed + added

    def c_log_c(c):
        return c * np.log2(np.maximum(c, 1))
    n_old, n_new = n_old.astype(np.float64), n_new.astype(np.float64)
    return -(c_log_c(n_old - 1) - c_log_c(n_old) + c_log_c(n_new + 1) - c_log_c(n_new)) / total


def perturbation(x, ndim: int = 1, nsymbols: int = 2, metric: str = "bdm", partition: str = "ignore",
                 idx=None, values=None, block: int | None = None, seed=None, tile: int | None = None) -> np.ndarray:
    """Change of BDM (or block entropy) when each cell of ``x`` is perturbed, pybdm's
    ``PerturbationExperiment(BDM(ndim, nsymbols), x, metric).run(idx, values)``.

    Every value equals the brute-force difference metric(x') - metric(x) (pybdm's own BDM of both).
    pybdm's experiment agrees with that under the "ignore" partition; for 2-D "recursive" on ragged
    shapes it re-cuts the slice around a cell and differs from its own BDM differences (by up to
    15 bits on a random 10 x 7 matrix), so there this function follows the definition, not pybdm.

    value[cell] = metric(x with the cell changed) - metric(x), in bits (``"ent"``: bits
    per block). The change is a flip for binary data; ``values`` sets the new symbols
    (negative: a random other symbol, drawn with ``seed``). Cells in no block (the
    remainder the "ignore" partition drops) get 0, as do cells set to their own value.
    Returns an array shaped like ``x``, or with ``idx`` (integer array, one row of
    indices per cell) one value per row. Partitions: "ignore", "recursive"; ``block``
    as in ``bdm``. Unlike pybdm's ``run``, the values stay floats when the first
    requested perturbation is a no-op (pybdm then truncates all of them to integers).
    ``tile``: the metric is a sum over tile x tile parts (the ``-tileT`` / ``-chunkN``
    coders), so a cell's change is that of its own part (``idx`` and ``values`` unsupported).

    >>> import numpy as np
    >>> round(float(perturbation(np.ones(30, np.uint8), idx=[10])[0]), 6)  # pybdm's own example
    26.91763
    """
    if metric not in METRICS:
        raise SpecError(f"unknown metric {metric!r}: use 'bdm' or 'ent'")
    if partition not in _DISJOINT:
        raise SpecError(f"perturbation needs a partition into disjoint blocks ('ignore' or 'recursive'), "
                        f"got {partition!r}: the correlated partition's overlapping blocks are not supported")
    arr, _ = check_symbols(x, ndim, nsymbols, block, partition, 1)
    measure = partial(_perturbation, ndim=ndim, nsymbols=nsymbols, metric=metric, partition=partition,
                      block=block, seed=seed)
    if tile is None:
        out, missing = measure(arr, idx, values)
        warn_missing(missing)
        return out.reshape(arr.shape) if idx is None else out
    if idx is not None or values is not None:
        raise SpecError("perturbation with tile= perturbs every cell: leave idx and values unset")
    out, missing = np.zeros(arr.shape), 0
    for part, (values_part, missing_part) in over_tiles(lambda part: measure(arr[part], None, None), arr.shape, tile):
        out[part] = values_part.reshape(out[part].shape)  # cells in no block of a tile stay 0
        missing += missing_part
    warn_missing(missing)
    return out


def _perturbation(arr: np.ndarray, idx, values, ndim: int, nsymbols: int, metric: str, partition: str, block,
                  seed) -> tuple[np.ndarray, int]:
    """The flat perturbation values of the requested cells of ``arr`` (no tiles) and the CTM values missing."""
    arr, side = check_symbols(arr, ndim, nsymbols, block, partition, 1)  # a tile: made contiguous
    cells, new = _requests(arr, nsymbols, idx, values, seed)
    counts = count(arr, ndim, nsymbols, block, partition)
    slot_of, groups = _slots(arr, side, partition, ndim, nsymbols)
    total = sum(int(n.sum()) for _, n in counts.values())
    out, missing = np.zeros(len(cells)), 0
    for lo in range(0, len(cells), _CHUNK_CELLS):
        at = cells[lo:lo + _CHUNK_CELLS]
        change, slot = new[lo:lo + _CHUNK_CELLS].astype(np.int64) - arr.flat[at], slot_of[at]
        for s, first, codes in groups:
            size = s ** ndim
            hit = np.flatnonzero((slot >= first) & (slot < first + codes.size * size) & (change != 0))
            in_block, offset = np.divmod(slot[hit] - first, size)
            before = codes[in_block]
            after = before + change[hit] * np.int64(nsymbols) ** (size - 1 - offset)
            out[lo + hit], m = _changes(metric, before, after, counts[s], total, (ndim, nsymbols, s))
            missing += m
    return out, missing


# ---------------------------------------------------------------- conditional BDM
def bdm_conditional(x, y, ndim: int = 1, nsymbols: int = 2, block: int | None = None, partition: str = "ignore",
                    shift: int = 1, tile: int | None = None) -> float:
    """Coarse conditional BDM(x | y) in bits: what x's blocks cost beyond what y already holds.

    BDM(x|y) = sum over raw blocks b of x absent from y of CTM(b)
             + sum over raw blocks b of x with n_x(b) != n_y(b) of log2 n_x(b)

    (n_y(b) = 0 for an absent block, so those pay CTM(b) + log2 n_x(b)). Definition:
    Hernandez-Orozco, Zenil, Riedel, Uccello, Kiani and Tegner, "Algorithmic
    probability-guided machine learning on non-differentiable spaces", Front. Artif.
    Intell. 3:567356 (2021), the coarse conditional BDM; as in pybdm's open pull request
    #16. BDM(x|x) = 0; for y sharing no block with x, BDM(x|y) = BDM(x). x and y are
    partitioned alike (arguments as for ``bdm``); a y too small for one block holds none.
    ``tile``: the sum over tile x tile parts of x, each given the same part of y (the
    conditional form of the ``-tileT`` / ``-chunkN`` coders).

    >>> import numpy as np
    >>> bdm_conditional(np.ones(24, np.uint8), np.ones(12, np.uint8))  # same block, count 2 vs 1
    1.0
    """
    measure = partial(_conditional, ndim=ndim, nsymbols=nsymbols, block=block, partition=partition, shift=shift)
    if tile is None:
        bits, missing = measure(x, y)
    else:
        parts = [value for _, value in over_tiles(lambda part: measure(x[part], y[part]), np.shape(x), tile)]
        bits, missing = sum(b for b, _ in parts), sum(m for _, m in parts)
    warn_missing(missing)
    return bits


def _conditional(x, y, ndim: int, nsymbols: int, block, partition: str, shift: int) -> tuple[float, int]:
    """BDM(x | y) without tiles, and how many distinct blocks had no CTM value."""
    counts_x = count(x, ndim, nsymbols, block, partition, shift)
    try:
        counts_y = count(y, ndim, nsymbols, block, partition, shift)
    except TooSmall:
        counts_y = {}
    total, missing = 0.0, 0
    for s, (codes, n_x) in counts_x.items():
        n_y = _count_of(codes, counts_y.get(s), nsymbols ** s ** ndim)
        ctm, absent = lookup(codes[n_y == 0], ndim, nsymbols, s)
        total += float(ctm.sum() + np.log2(n_x[n_y != n_x]).sum())
        missing += int(absent.sum())
    return total, missing
