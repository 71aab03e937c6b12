"""QuBD's CPU time against zstd-3 one-shot of the same bytes, in one process (issue 19).

Per bf16 matrix shape (4096x2048, and the 1024x1024, 2816x1024 and 32000x1024 matrices of
``bench_scale.py``'s 310M model): zstd-3 one-shot of the tensor's bytes, then
``bitplanes8|bdm2d`` and ``bitplanes8|bdm2d-tile64``, alternating, each keeping its fastest of
``--repeat`` runs in CPU time (``time.process_time``: load from other processes counts little).
``--model`` does the same over every tensor of the 310M model (built in memory one tensor at a
time, no files) and sums. ``--profile SPEC`` adds cProfile's top functions of SPEC on 4096x2048.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_qubd.py [--repeat 5] [--model] [--profile SPEC]``.
"""
from __future__ import annotations

import argparse
import cProfile
import math
import pstats
import sys
import time
import warnings
from pathlib import Path

import ml_dtypes
import numpy as np
import zstandard

import kcomplexity as kc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import llm_shapes, weight  # noqa: E402

SPECS = ["bitplanes8|bdm2d", "bitplanes8|bdm2d-tile64"]
SHAPES = [(4096, 2048), (1024, 1024), (2816, 1024), (32000, 1024)]
BF16 = np.dtype(ml_dtypes.bfloat16)


def fastest(w: np.ndarray, repeat: int) -> dict[str, float]:
    """CPU seconds of zstd-3 one-shot ("zstd") and of each spec on ``w``: alternating, fastest of ``repeat``."""
    cctx = zstandard.ZstdCompressor(level=3)
    runs = {"zstd": lambda: cctx.compress(np.ascontiguousarray(w).view(np.uint8).data),
            **{spec: (lambda spec=spec: kc.estimate(w, spec)) for spec in SPECS}}
    out = dict.fromkeys(runs, math.inf)
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.process_time()
            run()
            out[name] = min(out[name], time.process_time() - start)
    return out


def line(label: str, t: dict[str, float]) -> str:
    return f"{label:12s} zstd-3 {t['zstd'] * 1e3:8.1f} ms  " + "  ".join(
        f"{spec.split('|')[1]} {t[spec] * 1e3:8.1f} ms = {t[spec] / t['zstd']:.2f}x" for spec in SPECS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--model", action="store_true", help="also every tensor of the 310M bf16 model, summed")
    ap.add_argument("--profile", metavar="SPEC", help="cProfile SPEC once on the 4096x2048 tensor")
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # BDM saturation on these sizes is expected
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        print(line("x".join(map(str, shape)), fastest(weight(rng, "w", shape, BF16), args.repeat)), flush=True)
    if args.model:
        total = dict.fromkeys(["zstd", *SPECS], 0.0)
        for name, shape in llm_shapes(3e8).items():
            for key, seconds in fastest(weight(rng, name, shape, BF16), args.repeat).items():
                total[key] += seconds
        print(line("310M model", total))
    if args.profile:
        w = weight(rng, "w", SHAPES[0], BF16)
        profile = cProfile.Profile()
        profile.runcall(kc.estimate, w, args.profile)
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
