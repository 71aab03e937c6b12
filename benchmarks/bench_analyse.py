"""Benchmark of ``kcomplexity.analyse``: parallel speed-up and peak memory.

1. A 20-checkpoint series of ~1M float32 parameters each (4 tensors of 512x512),
   estimators raw|lzma-6 and fields|zstd-3 (CPU-bound), 1 worker vs 2 workers,
   no cache. Target speed-up >= 1.7x on an otherwise idle 2-core machine; a
   pure-Python loop run the same way is printed beside it as the machine's ceiling.
2. Peak RSS of a process analysing one ~400 MB safetensors file (25 tensors of
   2048x2048 float32) per tensor with raw|zstd-3, measured in a fresh subprocess
   by its VmHWM (ru_maxrss would inherit the parent's peak at fork). Target < 1.5 GB.

Run: ``.venv/bin/python benchmarks/bench_analyse.py [--quick]``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

import kcomplexity

SPECS = ["raw|lzma-6", "fields|zstd-3"]
RSS_CHILD = """
import sys, time
import kcomplexity
start = time.perf_counter()
df = kcomplexity.analyse(sys.argv[1], "raw|zstd-3", cache=False, progress=False)
seconds = time.perf_counter() - start
peak_mb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
print(f"{peak_mb:.0f} {seconds:.2f} {len(df)} {df.n_params.sum()}")
"""


def weights_like_training(rng, shape) -> np.ndarray:
    """Gaussian weights rounded to 1e-4 steps: compressible, like a smooth trained tensor."""
    return np.round(rng.standard_normal(shape, dtype=np.float32) * 0.05, 4).astype(np.float32)


def write_series(directory: Path, n_checkpoints: int, side: int) -> int:
    rng = np.random.default_rng(0)
    for epoch in range(n_checkpoints):
        tensors = {f"layers.{i}.weight": weights_like_training(rng, (side, side)) for i in range(4)}
        save_file(tensors, str(directory / f"epoch_{epoch:04d}.safetensors"))
    return 4 * side * side


def bench_speedup(directory: Path, n_checkpoints: int, side: int) -> None:
    n_params = write_series(directory, n_checkpoints, side)
    kcomplexity.analyse(directory / "epoch_0000.safetensors", SPECS, cache=False, progress=False)  # warm-up
    times, cpu = {}, {}
    for workers in (1, 2):
        before, start = os.times(), time.perf_counter()
        df = kcomplexity.analyse(directory, SPECS, workers=workers, cache=False, progress=False)
        times[workers], after = time.perf_counter() - start, os.times()
        cpu[workers] = sum(after[:4]) - sum(before[:4])  # user + system, this process and its workers
    print(f"series: {n_checkpoints} checkpoints x {n_params / 1e6:.2f}M params, {len(df)} rows, estimators {SPECS}")
    for workers in (1, 2):
        print(f"  {workers} worker(s): {times[workers]:7.2f} s wall, {cpu[workers]:6.2f} s CPU, "
              f"{cpu[workers] / times[workers]:4.2f} cores busy on average")
    print(f"  speed-up    : {times[1] / times[2]:7.2f}x  (target >= 1.7x; CPU time equal => no parallel overhead, "
          "a lower speed-up then means the cores were shared)")


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def bench_machine_control(n: int = 10_000_000, tasks: int = 8) -> float:
    """Speed-up of a pure-Python loop in 2 processes: what this machine gives 2 workers right now."""
    from concurrent.futures import ProcessPoolExecutor

    start = time.perf_counter()
    for _ in range(tasks):
        _burn(n)
    serial = time.perf_counter() - start
    start = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_burn, [n] * tasks))
    speedup = serial / (time.perf_counter() - start)
    print(f"  machine control: {speedup:.2f}x speed-up of a pure-Python loop, 2 processes vs 1 "
          "(what this machine allows 2 workers at this moment)")
    return speedup


def bench_rss(directory: Path, n_tensors: int, side: int) -> None:
    rng = np.random.default_rng(1)
    path = directory / "big.safetensors"
    save_file({f"block.{i}.weight": weights_like_training(rng, (side, side)) for i in range(n_tensors)}, str(path))
    size_mb = path.stat().st_size / 2**20
    out = subprocess.run([sys.executable, "-c", RSS_CHILD, str(path)], capture_output=True, text=True, check=True)
    peak_mb, seconds, rows, params = out.stdout.split()
    print(f"peak RSS analysing a {size_mb:.0f} MB safetensors file ({rows} tensors, {int(params) / 1e6:.0f}M params, "
          f"raw|zstd-3 per tensor): {float(peak_mb):.0f} MB in {float(seconds):.1f} s  (target < 1536 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the script runs")
    args = parser.parse_args()
    series_shape, rss_shape = ((4, 128), (4, 512)) if args.quick else ((20, 512), (25, 2048))
    print("note: timings on a shared 2-core machine are noisy; rerun on an idle one for reportable numbers")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "series").mkdir()
        bench_speedup(Path(tmp) / "series", *series_shape)
    bench_machine_control()
    with tempfile.TemporaryDirectory() as tmp:
        bench_rss(Path(tmp), *rss_shape)


if __name__ == "__main__":
    main()
