"""kcomplexity.bdm against pybdm 0.1.0 on the same inputs, and QuBD on a ResNet-18-sized weight set.

Prints, per input: pybdm seconds (one call; it is slow), ours (median of 5), the ratio
pybdm / ours (target >= 50) and both values. Then ours alone on 10^8 binary symbols with
its peak extra memory (tracemalloc, a separate call), and bitplanes8|bdm2d (QuBD) over
random tensors shaped like ResNet-18's 11.7M parameters (target < 10 s). Then the
perturbation experiment (every cell of a binary matrix flipped) against pybdm's
``PerturbationExperiment(BDM(2), X).run()`` (target >= 100x).
Run: .venv/bin/python benchmarks/bench_bdm.py [bdm] [large] [qubd] [perturbation] (default: all)
"""
import statistics
import sys
import time
import tracemalloc
import warnings

import numpy as np

import kcomplexity as kc
from kcomplexity.arrays import dtype_name
from kcomplexity.coders.ctm import load_table

CASES = [("1-D binary 10^6", 1, 2, (10 ** 6,)), ("1-D 4-symbol 10^6", 1, 4, (10 ** 6,)),
         ("2-D binary 2048x2048", 2, 2, (2048, 2048))]


def timed(fn, repeats=1):
    times, value = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), value


def resnet18_shapes():
    """Weight shapes of torchvision's ResNet-18 (convs, downsamples, fc; 1-D BN/bias tensors too)."""
    shapes = [(64, 3, 7, 7), (64,), (64,)]
    cin = 64
    for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        for b in range(2):
            shapes += [(cout, cin if b == 0 else cout, 3, 3), (cout,), (cout,), (cout, cout, 3, 3), (cout,), (cout,)]
            if b == 0 and (stride != 1 or cin != cout):
                shapes += [(cout, cin, 1, 1), (cout,), (cout,)]
        cin = cout
    return shapes + [(1000, 512), (1000,)]


def compare_with_pybdm(rng):
    from pybdm import BDM  # the reference; imported here only
    for name, ndim, k, shape in CASES:
        x = rng.integers(0, k, shape)
        ref = BDM(ndim=ndim, nsymbols=k)
        load_table(ndim, k)
        t_ref, v_ref = timed(lambda: ref.bdm(x))
        t_ours, v_ours = timed(lambda: kc.bdm(x, ndim, k), repeats=5)
        print(f"{name:22s} pybdm {t_ref:7.3f} s  ours {t_ours:7.4f} s  ratio {t_ref / t_ours:7.1f}x  "
              f"values {v_ref:.6f} / {v_ours:.6f}  rel diff {abs(v_ref - v_ours) / v_ref:.1e}")


def large_binary(rng):
    x = rng.integers(0, 2, 10 ** 8, dtype=np.uint8)
    t, value = timed(lambda: kc.bdm(x))
    tracemalloc.start()
    kc.bdm(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{'1-D binary 10^8':22s} ours {t:7.3f} s  ({x.size / t / 1e6:.0f} M symbols/s)  value {value:.3f}  "
          f"peak extra memory {peak / 2 ** 20:.0f} MiB (input {x.nbytes / 2 ** 20:.0f} MiB)")


def qubd(rng):
    tensors = [rng.standard_normal(s).astype(np.float32) * 0.05 for s in resnet18_shapes()]
    n = sum(t.size for t in tensors)
    start = time.perf_counter()
    estimates = [kc.estimate(t, "bitplanes8|bdm2d") for t in tensors]
    seconds = time.perf_counter() - start
    scored = [e for e in estimates if e.skipped is None]
    total = sum(e.details["bdm"] for e in scored)
    print(f"{'QuBD bitplanes8|bdm2d':22s} {n / 1e6:.1f}M parameters, {len(scored)} tensors scored, "
          f"{len(estimates) - len(scored)} skipped (1-D): {seconds:.2f} s (target < 10 s), BDM {total:.0f} bits")


def qubd_vs_zstd(rng):
    """QuBD on one LLM-shaped matrix (a 7B model's MLP) against zstandard level 3 one-shot of its bytes."""
    import ml_dtypes
    import zstandard
    w = rng.standard_normal((4096, 11008), dtype=np.float32) * 0.02
    for x in (w.astype(ml_dtypes.bfloat16), w):
        data = x.tobytes()
        t_zstd, _ = timed(lambda: zstandard.ZstdCompressor(level=3).compress(data), repeats=3)
        t_qubd, est = timed(lambda: kc.estimate(x, "bitplanes8|bdm2d"), repeats=3)
        print(f"{'QuBD 4096x11008 ' + dtype_name(x.dtype):22s} {t_qubd:.3f} s, zstd-3 one-shot "
              f"{t_zstd:.3f} s: ratio {t_qubd / t_zstd:.2f}x (target <= 2.0x)  BDM {est.details['bdm']:.0f} bits")


def perturbation_vs_pybdm(rng):
    from pybdm import BDM, PerturbationExperiment
    for n in (64, 256):
        x = rng.integers(0, 2, (n, n))
        experiment = PerturbationExperiment(BDM(ndim=2), x.copy())  # counts the blocks once, outside the timing
        t_ref, v_ref = timed(experiment.run)
        t_ours, v_ours = timed(lambda: kc.perturbation(x, ndim=2), repeats=5)
        print(f"{'perturbation ' + f'{n}x{n}':22s} pybdm {t_ref:7.3f} s  ours {t_ours:7.4f} s  "
              f"ratio {t_ref / t_ours:7.1f}x (target >= 100x)  max |diff| {np.abs(v_ref - v_ours.ravel()).max():.1e}")


SECTIONS = {"bdm": compare_with_pybdm, "large": large_binary, "qubd": qubd, "qubd_zstd": qubd_vs_zstd,
            "perturbation": perturbation_vs_pybdm}


def main():
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    print("timings on a shared 2-core machine are noisy")
    for name in sys.argv[1:] or SECTIONS:
        SECTIONS[name](rng)


if __name__ == "__main__":
    main()
