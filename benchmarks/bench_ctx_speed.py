"""fields|ctx (ideal length, no verify) vs zstd-3 one-shot on realistic bf16 tensors (issue 19).

Per tensor: CPU time (``time.process_time``, best of ``--repeat`` alternating rounds) of zstandard level 3 one-shot
of the tensor's bytes and of ``kcomplexity.estimate(w, "fields|ctx")``, and their ratio (target
<= 1.5x). Run: ``python benchmarks/bench_ctx_speed.py [--repeat 5] [--bits]`` (``--bits`` also
prints the bits, to compare before / after a change).
"""
from __future__ import annotations

import argparse
import math
import time

import ml_dtypes
import numpy as np
import zstandard

import kcomplexity

BF16 = np.dtype(ml_dtypes.bfloat16)


def tensors(seed: int = 0) -> dict[str, np.ndarray]:
    """Gaussian (std 0.02) bf16 matrices of Llama shapes (bench_scale's 310M model has hidden size 1024), and a heavy-tailed one with per-row scales."""
    rng = np.random.default_rng(seed)
    out = {f"gauss {r}x{c}": (rng.standard_normal((r, c), np.float32) * 0.02).astype(BF16)
           for r, c in [(1024, 1024), (2816, 1024), (4096, 2048), (5632, 2048), (32000, 2048)]}
    scale = np.exp(rng.normal(-4, 0.5, (4096, 1))).astype(np.float32)
    out["trained-like 4096x2048"] = (rng.standard_t(4, (4096, 2048)).astype(np.float32) * scale).astype(BF16)
    return out


def per_call(fn, calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - start) / calls


def best_of(fns, repeat: int) -> list[float]:
    """Each function's best CPU seconds per call over ``repeat`` rounds, the functions alternating
    within a round (so that a busy machine slows them alike); small calls are looped to >= 20 ms."""
    calls = [max(1, math.ceil(0.02 / max(per_call(fn, 1), 1e-6))) for fn in fns]
    best = [math.inf] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], per_call(fn, calls[i]))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--bits", action="store_true")
    args = parser.parse_args()
    ratios = []
    for name, w in tensors().items():
        raw = w.tobytes()
        t_zstd, t_ctx = best_of([lambda: zstandard.ZstdCompressor(level=3).compress(raw),
                                 lambda: kcomplexity.estimate(w, "fields|ctx")], args.repeat)
        ratios.append(t_ctx / t_zstd)
        bits = f"  bits {kcomplexity.estimate(w, 'fields|ctx').bits!r}" if args.bits else ""
        print(f"{name:26s} zstd-3 {t_zstd:6.3f} s  fields|ctx {t_ctx:6.3f} s  {t_ctx / t_zstd:5.2f}x{bits}")
    print(f"worst ratio {max(ratios):.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
