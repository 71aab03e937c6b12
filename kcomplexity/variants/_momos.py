"""``momos``: the Mosaic-of-Motifs projection (arXiv 2602.14896), as the reference code does it.

The selected tensors are taken in the canonical model order (natural name order,
``kcomplexity.io.model_order``, whatever the source; the reference walks
``named_parameters``) and cut into blocks of ``s`` values
through ``kcomplexity.io.ModelStream``, the cut ``motif-S`` and
``analyse(per="model")`` use: each tensor zero-padded to a multiple of ``s`` on
its own (``pad="tensor"``, the reference), or the joined model padded once
(``pad="model"``). k = int(capacity x total blocks), clamped to [1, total], motifs
counting the zero motif; they are blocks drawn uniformly without replacement (motif
0 is the zero block with ``force_zero``), and every block is replaced by its nearest
motif in squared Euclidean distance. The padding is dropped from the returned weights.
We draw with numpy's RNG, where the reference uses torch ``randperm``: the same
seed picks other motifs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..arrays import to_float
from ..errors import InputError
from ..io import ModelStream
from ._weights import as_weights, check_float, check_seed, like

DEFAULT_CHUNK_BYTES = 256 << 20


@dataclass
class MomosResult:
    """``weights`` (projected, same names/shapes/dtypes), ``motifs`` (k, s) float64,
    ``mosaic`` (n_blocks,) motif index per block, ``stats``: distortion (sum of
    squared changes over the real weights), changed_weights, usage (blocks per
    motif), k, n_blocks, padding, seconds."""
    weights: dict
    motifs: np.ndarray
    mosaic: np.ndarray
    stats: dict = field(default_factory=dict)


def n_motifs(capacity: float, n_blocks: int, k: int | None = None) -> int:
    """k = max(1, min(int(capacity x n_blocks), n_blocks)) unless ``k`` is given."""
    if k is not None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"k (the number of motifs) must be an integer >= 1 or None, got {k!r}")
        return min(int(k), n_blocks)
    if isinstance(capacity, bool) or not isinstance(capacity, (int, float, np.number)) or not 0 < capacity <= 1:
        raise InputError(f"capacity is a fraction of the number of blocks in (0, 1], got {capacity}")
    return max(1, min(int(capacity * n_blocks), n_blocks))


def draw_motifs(blocks: np.ndarray, k: int, force_zero: bool, rng: np.random.Generator) -> np.ndarray:
    """k motifs: blocks drawn uniformly without replacement; motif 0 = zeros if ``force_zero``."""
    n_drawn = k - 1 if force_zero else k
    drawn = blocks[np.sort(rng.choice(len(blocks), size=n_drawn, replace=False))] if n_drawn else blocks[:0]
    if force_zero:
        drawn = np.concatenate([np.zeros((1, blocks.shape[1])), drawn])
    return drawn


def nearest_motif(blocks: np.ndarray, motifs: np.ndarray, method: str = "auto",
                  chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> np.ndarray:
    """Index of the nearest motif (squared Euclidean) for every block; identical
    motifs resolve to the lowest index. ``method``: "kdtree" (scipy cKDTree, exact,
    distances summed in float64), "brute" (chunked float32 BLAS of ||c||^2 - 2 x.c,
    near-ties redone in float64; chunks of ``chunk_bytes``), "auto" = kdtree for s <= 16."""
    unique, first = np.unique(motifs, axis=0, return_index=True)
    if method == "auto":
        method = "kdtree" if motifs.shape[1] <= 16 else "brute"
    if method == "kdtree":
        from scipy.spatial import cKDTree
        found = cKDTree(unique).query(blocks, k=1, workers=-1)[1]
    elif method == "brute":
        found = _brute_argmin(blocks, unique, chunk_bytes)
    else:
        raise InputError(f"method must be 'auto', 'kdtree' or 'brute', got {method!r}")
    return first[found]


def _brute_argmin(blocks: np.ndarray, motifs: np.ndarray, chunk_bytes: int) -> np.ndarray:
    """argmin_c ||c||^2 - 2 x.c by float32 BLAS in chunks; rows whose two best float32
    scores lie within the float32 error bound of each other are redone in float64."""
    rows = max(1, int(chunk_bytes) // (8 * len(motifs)))
    norms64 = np.einsum("ks,ks->k", motifs, motifs)
    motifs32, norms32 = motifs.astype(np.float32), norms64.astype(np.float32)
    out = np.empty(len(blocks), dtype=np.int64)
    for start in range(0, len(blocks), rows):
        chunk = blocks[start:start + rows]
        scores = norms32 - 2.0 * (chunk.astype(np.float32) @ motifs32.T)
        out[start:start + len(chunk)] = np.argmin(scores, axis=1)
        if len(motifs) > 1:
            best2 = np.partition(scores, 1, axis=1)[:, :2]
            bound = 8 * (motifs.shape[1] + 2) * np.finfo(np.float32).eps * (
                np.einsum("bs,bs->b", chunk, chunk) + norms64.max())
            unsure = np.flatnonzero(best2[:, 1] - best2[:, 0] <= bound)
            if unsure.size:
                exact = norms64 - 2.0 * (chunk[unsure] @ motifs.T)
                out[start + unsure] = np.argmin(exact, axis=1)
    return out


def momos(weights, s: int = 4, capacity: float = 0.01, k: int | None = None, force_zero: bool = True,
          seed: int = 0, per_tensor: bool = False, pad: str = "tensor", chunk_bytes: int = DEFAULT_CHUNK_BYTES,
          method: str = "auto") -> MomosResult:
    """Project ``weights`` onto a mosaic of k motifs of size ``s`` (see module doc).

    ``pad``: "tensor" (default) or "model". ``per_tensor=True``: each tensor is
    projected on its own motif set (k or capacity per tensor); ``motifs`` then stacks
    the sets and ``mosaic`` indexes into the stack. Deterministic for a given ``seed``.
    """
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
        raise InputError(f"block size s must be a positive integer, got {s!r}")
    original = as_weights(weights)
    for name, x in original.items():
        check_float(name, x, "momos")
    if s > sum(x.size for x in original.values()):
        raise InputError(f"block size s={s} is larger than the model ({sum(x.size for x in original.values())} "
                         "values); use a small block such as s=4")
    start = time.perf_counter()
    rng = np.random.default_rng(check_seed(seed))
    groups = [[n] for n in original] if per_tensor else [list(original)]
    out, motif_sets, mosaics, offset, padding = {}, [], [], 0, 0
    for names in groups:
        model = ModelStream({n: original[n] for n in names}, pad=pad, allow_nonfinite=True)
        blocks, pad_values = model.blocks(s)
        motifs = draw_motifs(blocks, n_motifs(capacity, len(blocks), k), force_zero, rng)
        mosaic = nearest_motif(blocks, motifs, method, chunk_bytes)
        for n, flat in model.unblock(motifs[mosaic], pad_values).items():
            out[n] = like(flat, original[n])
        motif_sets.append(motifs)
        mosaics.append(mosaic + offset)
        offset += len(motifs)
        padding += pad_values
    motifs, mosaic = np.concatenate(motif_sets), np.concatenate(mosaics)
    stats = _stats(original, out, motifs, mosaic, padding)
    stats["seconds"] = time.perf_counter() - start
    return MomosResult(out, motifs, mosaic, stats)


def _stats(original: dict, projected: dict, motifs: np.ndarray, mosaic: np.ndarray, padding: int) -> dict:
    distortion, changed = 0.0, 0
    for n, x in original.items():
        diff = to_float(projected[n], wide=True) - to_float(x, wide=True)
        distortion += float(np.dot(diff.reshape(-1), diff.reshape(-1)))
        changed += int(np.count_nonzero(diff))
    usage = np.bincount(mosaic, minlength=len(motifs))
    return {"distortion": distortion, "changed_weights": changed, "usage": usage, "k": len(motifs),
            "n_blocks": len(mosaic), "padding": padding}
