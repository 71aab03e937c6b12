"""MoMos projection time: 10^7 float32 parameters, s = 4, capacity 0.01 (25,000 motifs x 2.5M blocks).

Prints the full projection time with the default exact nearest-motif search (scipy cKDTree),
then, on a 10^6-parameter slice (2,500 motifs), the kd-tree against the chunked float32
BLAS brute force (near-ties redone in float64) side by side (same mosaic asserted), and
the description length of the projected model under motif-4 against lzma-9 and zstd-19.
Run: .venv/bin/python benchmarks/bench_momos.py   (timings on a shared machine are noisy)
"""
import time

import numpy as np

import kcomplexity as kc
from kcomplexity.variants import momos, nearest_motif
from kcomplexity.io import ModelStream
from kcomplexity.variants._momos import draw_motifs

N_PARAMS, S, CAPACITY = 10 ** 7, 4, 0.01


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    x = np.random.default_rng(0).standard_normal(N_PARAMS, dtype=np.float32) * 0.05
    result, seconds = timed(momos, {"w": x}, s=S, capacity=CAPACITY)
    st = result.stats
    print(f"momos 10^7 params, s={S}, capacity={CAPACITY}: k={st['k']} motifs x {st['n_blocks']} blocks "
          f"in {seconds:.1f} s (kd-tree, exact)")

    blocks, _ = ModelStream({"w": x[:10 ** 6]}).blocks(S)
    motifs = draw_motifs(blocks, int(CAPACITY * len(blocks)), True, np.random.default_rng(0))
    tree, t_tree = timed(nearest_motif, blocks, motifs, "kdtree")
    brute, t_brute = timed(nearest_motif, blocks, motifs, "brute")
    assert np.array_equal(tree, brute), "kd-tree and brute force disagree"
    print(f"10^6 params, k={len(motifs)}: kd-tree {t_tree:.2f} s, brute force (float32 BLAS + float64 near-ties) {t_brute:.2f} s, "
          f"brute / kd-tree = {t_brute / t_tree:.0f}x; same mosaic")

    estimates = kc.estimate(result.weights["w"], ["motif-4", "raw|lzma-9", "raw|zstd-19"])
    bits = {e.estimator: e.bits for e in estimates}
    print("projected 10^7 model, bits: " + ", ".join(f"{e.estimator} {e.bits:,.0f} ({e.seconds:.1f} s)"
                                                     for e in estimates)
          + f"; lzma-9 / motif-4 = {bits['raw|lzma-9'] / bits['raw|motif-4']:.2f}, "
          f"zstd-19 / motif-4 = {bits['raw|zstd-19'] / bits['raw|motif-4']:.2f}")


if __name__ == "__main__":
    main()
