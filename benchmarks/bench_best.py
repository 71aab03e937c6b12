"""``best`` against its slowest member (issue 19): seconds summed over a MiniLM-shaped model.

Tensors: a 30522x384 embedding, four 384x384 and two 1536x384 matrices and a dozen 384- and
1536-vectors, Gaussian (std 0.05), in fp32 and bf16, and the small tensors alone. Times come
from ``bench_bound.best_seconds`` (best and each member side by side per tensor, fastest of
``--repeat``), as wall time and as CPU time. ``best`` runs its members in parallel threads, so
its wall time can reach the slowest member's only with a free core for each member: the load
average is printed.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_best.py [--repeat 3]``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import ml_dtypes
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bound import best_seconds  # noqa: E402

from kcomplexity.estimators import Best  # noqa: E402


def minilm_like(dtype) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    shapes = {"embeddings": (30522, 384), **{f"attention.{p}": (384, 384) for p in "qkvo"},
              "intermediate": (1536, 384), "output": (384, 1536),
              **{f"vector.{i}": (1536 if i % 4 == 0 else 384,) for i in range(12)}}
    return {name: (0.05 * rng.standard_normal(shape)).astype(dtype) for name, shape in shapes.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per tensor and side; the fastest counts")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    fp32 = minilm_like(np.float32)
    models = {"fp32": fp32, "bf16": minilm_like(ml_dtypes.bfloat16),
              "fp32 small tensors": {k: v for k, v in fp32.items() if k != "embeddings"}}
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, tensors in models.items():
        for clock in ("wall", "cpu"):
            timed = best_seconds(tensors, args.repeat, time.perf_counter if clock == "wall" else time.process_time)
            slowest = max(timed[m] for m in Best.DEFAULT)
            print(f"{name:19s} {clock:4s} " + "  ".join(f"{k} {v:.3f}s" for k, v in timed.items())
                  + f"  best/slowest {timed['best'] / slowest:.3f}", flush=True)


if __name__ == "__main__":
    main()
