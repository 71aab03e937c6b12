"""Compressor bits equal the codec libraries' own one-shot output; entropy known answers."""
import bz2
import gzip
import lzma
import math

import brotli
import lz4.frame
import numpy as np
import pytest
import zstandard

import kcomplexity as kc
from kcomplexity.coders.entropy import entropy_bits, histogram_bits

ONE_SHOT = {
    "raw|zstd-3": lambda b: zstandard.ZstdCompressor(level=3).compress(b),
    "raw|lzma-9": lambda b: lzma.compress(b, preset=9),
    "raw|bz2-9": lambda b: bz2.compress(b, 9),
    "raw|gzip-9": lambda b: gzip.compress(b, compresslevel=9, mtime=0),
    "raw|brotli-11": lambda b: brotli.compress(b, quality=11),
    "raw|lz4": lambda b: lz4.frame.compress(b),
}


@pytest.mark.parametrize("spec", sorted(ONE_SHOT))
def test_bits_equal_library_one_shot_output(spec, rng):
    x = (rng.standard_normal(20_000) * np.linspace(0, 1, 20_000)).astype(np.float32)
    x[::7] = 0.0
    expected = 8 * len(ONE_SHOT[spec](x.tobytes()))
    est = kc.estimate(x, spec, verify=True)
    assert est.bits == 1 + expected < est.raw_bits  # + the stored-mode flag
    assert est.ratio == pytest.approx(x.nbytes * 8 / (1 + expected))


def test_gzip_frame_overhead_is_18_bytes_over_raw_deflate(rng):
    data = rng.integers(0, 4, 5000).astype(np.uint8).tobytes()
    deflate = zlib_raw_deflate(data, 9)
    assert len(gzip.compress(data, 9, mtime=0)) == len(deflate) + 18


def zlib_raw_deflate(data, level):
    import zlib
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize("n", [2, 100, 1001, 65536])
def test_entropy_of_fair_two_symbol_stream(n):
    symbols = np.arange(n) % 2  # n // 2 and n - n // 2 of each
    c = np.bincount(symbols)
    h = -sum(k * math.log2(k / n) for k in c)
    coded = kc.parse("q1-minmax|entropy").estimate(symbols.astype(np.float32))
    hist = 1 + 2 * math.ceil(math.log2(n + 1))
    assert coded.details["entropy_bits"] == pytest.approx(h)
    assert coded.details["histogram_bits"] == hist
    model = h + hist + coded.details["coding_overhead_bits"]
    assert coded.details["coding_overhead_bits"] == kc.coders.rangecode.coding_overhead(n, 2, h, c.max() / n)
    # + the stored-mode flag, the shorter of the model code and 1 bit per symbol, the quantiser's scale and offset
    assert coded.bits == pytest.approx(1 + min(model, n) + 64)
    if n % 2 == 0:
        assert coded.details["entropy_bits"] == pytest.approx(n)


def test_entropy_of_constant_stream_is_histogram_only():
    est = kc.estimate(np.ones(1000, np.float32), "sign|entropy")
    assert est.details["entropy_bits"] == 0
    # one distinct symbol: sparse list (2 + 1 + 10 bits) beats the dense table (2 x 10); + the stored-mode flag
    assert est.bits - 1 == est.details["histogram_bits"] == 1 + 2 + 1 + 10


def test_histogram_cost_picks_sparse_for_large_alphabets():
    counts = np.array([5, 5])
    assert histogram_bits(counts, 2 ** 32) == 1 + 33 + 2 * (32 + 4)
    assert histogram_bits(counts, 2) == 1 + 2 * 4


def test_entropy_bits_known_values():
    assert entropy_bits(np.array([1, 1, 1, 1])) == pytest.approx(8.0)
    assert entropy_bits(np.array([3, 1])) == pytest.approx(4 * (-(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))))


def test_raw_entropy_counts_bit_patterns():
    x = np.array([0.0, -0.0, 1.0, 1.0], np.float32)
    est = kc.estimate(x, "raw|entropy")
    assert est.details["distinct"] == 3
    assert est.details["entropy_bits"] == pytest.approx(1.5 * 4)
