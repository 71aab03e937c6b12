"""pybdm's algorithms beyond BDM itself, vectorised: the perturbation experiment and
the coarse conditional BDM.

Both read the raw block counts of ``bdm.py`` (``block_counts``) and the CTM tables.
With a partition into disjoint blocks ("ignore", "recursive") a cell lies in at most
one block, so changing it replaces exactly one raw block b by b'; every cell's change
follows from the counts n(b), n(b') and the CTM values, in one numpy pass.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..errors import InputError, SpecError, TooSmall
from .bdm import MissingCTMWarning, _block_groups, _check, _pack, block_counts, canonical, tiles
from .ctm import load_table

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


def _ctm(codes: np.ndarray, ndim: int, nsymbols: int, side: int) -> tuple[np.ndarray, int]:
    """CTM of raw block codes (via their canonical form) and how many were missing from the table."""
    values, missing = load_table(ndim, nsymbols)[side].lookup(canonical(codes, nsymbols, side ** ndim))
    return values, int(missing.sum())


def _warn_missing(missing: int) -> None:
    if missing:
        warnings.warn(f"{missing} block(s) have no CTM value; imputed as max CTM of their shape + 1 bit",
                      MissingCTMWarning, stacklevel=3)


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
    for (s, view), (_, where) in zip(_block_groups(arr, side, partition, 1), _block_groups(index, side, partition, 1)):
        where = where.reshape(-1)
        slot_of[where] = np.arange(first, first + where.size)
        groups.append((s, first, _pack(view, nsymbols, ndim).astype(np.int64)))
        first += where.size
    return slot_of, groups


def _changes(metric: str, before: np.ndarray, after: np.ndarray, known, total: int, shape) -> tuple[np.ndarray, int]:
    """Change of BDM (or block entropy over ``total`` blocks) when a block b becomes b' != b, with
    counts n(b) >= 1 and n(b') >= 0 from ``known`` (before the change); and the CTM values missing.
    ``shape``: (ndim, nsymbols, side) of the blocks."""
    ndim, nsymbols, side = shape
    (ctm_old, m_old), (ctm_new, m_new) = (_ctm(c, ndim, nsymbols, side) for c in (before, after))
    n_codes = nsymbols ** side ** ndim
    n_old, n_new = _count_of(before, known, n_codes), _count_of(after, known, n_codes)
    return _block_change(metric, n_old, n_new, ctm_old, ctm_new, total), m_old + m_new


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
                 idx=None, values=None, block: int | None = None, seed=None) -> np.ndarray:
    """Change of BDM (or block entropy) when each cell of ``x`` is perturbed, pybdm's
    ``PerturbationExperiment(BDM(ndim, nsymbols), x, metric).run(idx, values)``.

    value[cell] = metric(x with the cell changed) - metric(x), in bits (``"ent"``: bits
    per block). The change is a flip for binary data; ``values`` sets the new symbols
    (negative: a random other symbol, drawn with ``seed``). Cells in no block (the
    remainder the "ignore" partition drops) get 0, as do cells set to their own value.
    Returns an array shaped like ``x``, or with ``idx`` (integer array, one row of
    indices per cell) one value per row. Partitions: "ignore", "recursive"; ``block``
    as in ``bdm``. Unlike pybdm's ``run``, the values stay floats when the first
    requested perturbation is a no-op (pybdm then truncates all of them to integers).

    >>> import numpy as np
    >>> round(float(perturbation(np.ones(30, np.uint8), idx=[10])[0]), 6)  # pybdm's own example
    26.91763
    """
    if metric not in METRICS:
        raise SpecError(f"unknown metric {metric!r}: use 'bdm' or 'ent'")
    if partition not in _DISJOINT:
        raise SpecError(f"perturbation needs a partition into disjoint blocks ('ignore' or 'recursive'), "
                        f"got {partition!r}: the correlated partition's overlapping blocks are not supported")
    arr, side = _check(x, ndim, nsymbols, block, partition, 1)
    cells, new = _requests(arr, nsymbols, idx, values, seed)
    counts = block_counts(arr, ndim, nsymbols, block, partition)
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
    _warn_missing(missing)
    return out.reshape(arr.shape) if idx is None else out


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
    if tile is not None:
        return _tiled(lambda part: bdm_conditional(x[part], y[part], ndim, nsymbols, block, partition, shift),
                      np.shape(x), tile)
    counts_x = block_counts(x, ndim, nsymbols, block, partition, shift)
    try:
        counts_y = block_counts(y, ndim, nsymbols, block, partition, shift)
    except TooSmall:
        counts_y = {}
    total, missing = 0.0, 0
    for s, (codes, n_x) in counts_x.items():
        n_y = _count_of(codes, counts_y.get(s), nsymbols ** s ** ndim)
        absent = n_y == 0
        ctm, missing_here = _ctm(codes[absent], ndim, nsymbols, s)
        total += float(ctm.sum() + np.log2(n_x[n_y != n_x]).sum())
        missing += missing_here
    _warn_missing(missing)
    return total


def _tiled(measure, shape: tuple[int, ...], tile: int) -> float:
    """Sum of ``measure(part)`` over the tiles of ``shape``; tiles too small for a block add nothing."""
    total, scored = 0.0, False
    for part in tiles(shape, tile):
        try:
            total += measure(part)
            scored = True
        except TooSmall:
            continue
    if not scored:
        raise TooSmall(f"no tile of shape {shape} holds one full block")
    return total
