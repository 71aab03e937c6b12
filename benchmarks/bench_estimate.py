"""estimate(x, "raw|zstd-3") against zstandard called directly, on a 64 MiB float32 tensor.

Prints the time ratio (target <= 1.05; calls alternate in one process, median of 7)
and the peak extra memory of estimate as a multiple of the tensor's bytes
(target <= 2.5; VmHWM of a fresh process, before and after the call).
Run: .venv/bin/python benchmarks/bench_estimate.py
"""
import statistics
import subprocess
import sys
import time

import numpy as np
import zstandard

import kcomplexity as kc

N_BYTES = 64 * 2 ** 20
REPEATS = 7
SPEC = "raw|zstd-3"


def make_tensor() -> np.ndarray:
    x = np.random.default_rng(0).standard_normal(N_BYTES // 4, dtype=np.float32)
    x *= 0.02  # no temporary larger than the tensor itself
    return x


def estimate_bits(x):
    return kc.estimate(x, SPEC).bits


def direct_bits(x):
    return 8 * len(zstandard.ZstdCompressor(level=3).compress(memoryview(x).cast("B")))


def peak_rss() -> int:
    """This process's peak resident set (VmHWM; unlike ru_maxrss it is not inherited at fork)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))


def peak_extra_bytes(mode: str) -> int:
    """Run one call in a fresh process; return its peak RSS minus the RSS before the call."""
    code = (f"import bench_estimate as b\nx = b.make_tensor(); b.{mode}(x[:1000])\n"
            f"before = b.peak_rss(); b.{mode}(x); print(b.peak_rss() - before)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=__file__.rsplit("/", 1)[0] or ".")
    return int(out.stdout)


def main() -> None:
    x = make_tensor()
    assert estimate_bits(x) == direct_bits(x), "estimate and zstandard disagree"
    times = {estimate_bits: [], direct_bits: []}
    for _ in range(REPEATS):
        for fn, ts in times.items():
            t = time.perf_counter()
            fn(x)
            ts.append(time.perf_counter() - t)
    t_est, t_dir = (statistics.median(ts) for ts in times.values())
    print(f"tensor: 64 MiB float32, N(0, 0.02); median of {REPEATS} alternating calls")
    print(f"zstandard direct   : {t_dir:.3f} s")
    print(f"estimate {SPEC}: {t_est:.3f} s")
    print(f"time ratio estimate/direct: {t_est / t_dir:.3f}  (target <= 1.05)")
    extra, extra_direct = (peak_extra_bytes(m) / N_BYTES for m in ("estimate_bits", "direct_bits"))
    print(f"peak extra memory of estimate: {extra:.2f} x tensor bytes "
          f"(zstandard direct: {extra_direct:.2f} x)  (target <= 2.5)")


if __name__ == "__main__":
    main()
