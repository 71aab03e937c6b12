"""Benchmark: reading is linear in the number of tensors in one file (issue 20).

One ``.safetensors``, one ``.npz`` and one ``.pt`` holding N small float32 tensors
(256 values each) are analysed per tensor with ``raw|zstd-3`` (no cache, one worker,
imports done before timing), for N = 1,000, 4,000 and 8,000. Targets on the 2-core
machine: safetensors with 8,000 tensors in <= 3 s, npz with 8,000 in <= 5 s. The
ratio t(8k) / t(1k) is ~8 when the cost per tensor is constant (it was ~60 for
safetensors before: each read re-opened the file and re-parsed its whole header).

Run: ``.venv/bin/python benchmarks/bench_many_tensors.py [--counts 1000 4000 8000]``.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

import kcomplexity

TARGETS = {"safetensors": 3.0, "npz": 5.0}


def write(folder: Path, n: int) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    tensors = {f"model.layers.{i // 8}.expert_{i % 8}.weight": rng.standard_normal(256).astype(np.float32)
               for i in range(n)}
    paths = {kind: folder / f"m{n}.{kind}" for kind in ("safetensors", "npz", "pt")}
    save_file(tensors, str(paths["safetensors"]))
    np.savez(paths["npz"], **tensors)
    torch.save({k: torch.from_numpy(v) for k, v in tensors.items()}, paths["pt"])
    return paths


def seconds(path: Path, n: int) -> tuple[float, float]:
    """Wall and CPU seconds of one analysis (CPU time is what a loaded machine does not inflate)."""
    start, cpu = time.perf_counter(), time.process_time()
    df = kcomplexity.analyse(path, "raw|zstd-3", cache=False, progress=False)
    took = time.perf_counter() - start, time.process_time() - cpu
    assert len(df) == n, (path, len(df))
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 4000, 8000])
    args = parser.parse_args()
    times: dict[str, dict[int, tuple[float, float]]] = {"safetensors": {}, "npz": {}, "pt": {}}
    with tempfile.TemporaryDirectory() as tmp:
        seconds(write(Path(tmp), 10)["npz"], 10)  # warm-up: lazy imports
        for n in args.counts:
            for kind, path in write(Path(tmp), n).items():
                times[kind][n] = seconds(path, n)
    first, last = args.counts[0], args.counts[-1]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; wall s (CPU s)")
    print(f"{'format':<12}" + "".join(f"{n:>16,}" for n in args.counts) + f"  t({last})/t({first}) wall, CPU  target")
    for kind, row in times.items():
        target = TARGETS.get(kind)
        verdict = "" if target is None or last != 8000 else \
            f"<= {target:.0f} s at 8,000: {'met' if row[last][0] <= target else 'MISSED'}"
        print(f"{kind:<12}" + "".join(f"{row[n][0]:>8.2f} ({row[n][1]:>5.2f})" for n in args.counts)
              + f"  {row[last][0] / row[first][0]:>5.1f}, {row[last][1] / row[first][1]:>5.1f} (x{last / first:.0f} tensors)"
              + f"  {verdict}")


if __name__ == "__main__":
    main()
