"""The whole-model join and the real bitstreams behind the ideal code lengths.

1. The mixed-dtype join of issue 9: {"a": randn(4096) float64, "b": ones(16) float32}
   under raw|lzma-9, per model (native dtypes, one ModelStream) beside lzma-9 of the
   float64 tensor alone. Before the ModelStream the join cast to float32 and gave
   122,336 bits, raw_bits 131,584, ratio 1.0756 on this input (less than the float64
   tensor alone: the low bits were dropped while lossless said True).
2. For `entropy` and `motif-S`, the reported (ideal) length against the real
   range-coded bitstream that verify=True writes and decodes, on a few inputs.

Run: .venv/bin/python benchmarks/bench_join.py
"""
import numpy as np

import kcomplexity as kc
from kcomplexity.io import ModelStream


def mixed_join() -> None:
    rng = np.random.default_rng(0)
    model = {"a": rng.standard_normal(4096), "b": np.ones(16, np.float32)}
    alone = kc.estimate(model["a"], "raw|lzma-9").bits
    e = kc.estimate(ModelStream(model), "raw|lzma-9", verify=True)
    print(f"mixed join raw|lzma-9 per model: bits {e.bits:,.0f}  raw_bits {e.raw_bits:,}  ratio {e.ratio:.4f}  "
          f"lossless {e.lossless}  (float64 tensor alone: {alone:,.0f} bits)")


def inputs() -> dict:
    rng = np.random.default_rng(1)
    w = rng.standard_normal(100_000).astype(np.float32)
    trained = np.where(rng.random(40_000) < 0.5, 0, np.round(rng.laplace(size=40_000), 2)).astype(np.float32)
    mosaic = rng.choice(rng.standard_normal((2_000, 4)).astype(np.float32), 25_000).reshape(-1)
    return {"gauss fp32 1e5": w, "sparse laplace fp32 4e4": trained, "mosaic k=2000 fp32 1e5": mosaic,
            "gauss bf16 1e5": w.astype(kc.arrays.BFLOAT16)}


def real_vs_ideal() -> None:
    print(f"{'input':<26}{'spec':<16}{'streams':>8}{'ideal bits':>14}{'real bits':>14}{'real-ideal':>11}")
    for name, x in inputs().items():
        for spec in ("raw|entropy", "fields|entropy", "raw|motif-4", "fields|motif-4", "q8|motif-4"):
            e = kc.estimate(x, spec, verify=True)
            streams = len(e.details.get("streams", {})) or 1
            real = e.details["verified_bits"]
            print(f"{name:<26}{spec:<16}{streams:>8}{e.bits:>14,.1f}{real:>14,}{real - e.bits:>11.1f}")


if __name__ == "__main__":
    mixed_join()
    real_vs_ideal()
