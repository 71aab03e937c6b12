"""Issue 18 items 1-3 and 17.5: a half-bits plugin fails check_component and verify=True; lossless
bits on random fp32 are at least the verified length and at most stored + 1 bit per stream (prints the numbers)."""
import numpy as np
import kcomplexity as kc
from kcomplexity.coders.compressors import Zstd
from kcomplexity.encodings import Raw
from kcomplexity.testing import ConformanceError, check_component


class HalfBits(Zstd):
    family, examples = "halfzstd", ()

    def code(self, stream, threads=1, progress=None):
        c = super().code(stream, threads, progress)
        return kc.Coded(c.bits / 2, c.details, frame=c.frame)


x = np.random.default_rng(0).standard_normal(100_000).astype(np.float32)
try:
    check_component(HalfBits)
except ConformanceError as e:
    print("check_component(HalfBits): ConformanceError:", str(e)[:160])
try:
    kc.estimate(x, kc.Pipeline(Raw(), HalfBits(3)), verify=True)
except kc.KComplexityError as e:
    print("verify=True:", type(e).__name__, str(e)[:160])
for spec in ["raw|entropy", "fields|entropy", "raw|motif-4", "raw|zstd-3", "raw|lz4"]:
    e = kc.estimate(x, spec, verify=True)
    n = len(e.details.get("streams", {})) or 1
    print(f"{spec:15s} random fp32: {e.bits_per_value:.6f} bits/value, bits {e.bits:.1f} >= verified "
          f"{e.details['verified_bits']:.0f}, stored {e.raw_bits} + {n} stream flag(s)")
