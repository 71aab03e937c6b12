"""Throughput paths (issue 13): fast fields split and counting, chunked compressors, progress."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import kcomplexity as kc
from kcomplexity.arrays import bit_patterns
from kcomplexity.encodings import FLOAT_LAYOUT, Fields, Stream, symbol_counts

FLOATS = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]


def weights(dtype, shape=(70, 90), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape) * 0.05
    w[0, :5] = [0.0, -0.0, 1e-30, -3.5e3, 1.0]  # zeros, a subnormal (or flush), large values
    return w.astype(dtype)


def fields_by_formula(x: np.ndarray) -> dict[str, np.ndarray]:
    """The IEEE split written out with 64-bit integers, as a reference."""
    exp_bits, man_bits = FLOAT_LAYOUT[np.dtype(x.dtype)]
    u = bit_patterns(x.reshape(-1)).astype(np.uint64)
    out = {"sign": u >> np.uint64(exp_bits + man_bits),
           "exponent": (u >> np.uint64(man_bits)) & np.uint64((1 << exp_bits) - 1)}
    mantissa, n_planes = u & np.uint64((1 << man_bits) - 1), -(-man_bits // 8)
    for i in range(n_planes):
        out[f"mantissa_{i}"] = (mantissa >> np.uint64(8 * (n_planes - 1 - i))) & np.uint64(255)
    return out


@pytest.mark.parametrize("dtype", FLOATS)
def test_fields_split_matches_the_formula_and_counts_match_the_streams(dtype):
    x = weights(dtype)
    expected = fields_by_formula(x)
    encoded, counted = Fields().encode(x), Fields().count(x)
    assert [s.name for s in encoded.streams] == list(expected) == [s.name for s in counted.streams]
    for s, c in zip(encoded.streams, counted.streams):
        assert s.data.dtype == (np.uint16 if s.nsymbols > 256 else np.uint8)
        np.testing.assert_array_equal(s.data, expected[s.name])
        assert c.data is None and c.counts.size == s.nsymbols
        np.testing.assert_array_equal(c.counts, np.bincount(expected[s.name].astype(np.int64), minlength=s.nsymbols))


@pytest.mark.parametrize("dtype", FLOATS)
def test_fields_of_strided_and_big_endian_input_equal_the_contiguous_ones(dtype):
    x = weights(dtype, (40, 60))
    strided = np.asfortranarray(x).T.T  # same values, not C-contiguous
    bits = kc.estimate(x, ["fields|entropy", "fields|zstd-3"])
    assert [e.bits for e in kc.estimate(strided, ["fields|entropy", "fields|zstd-3"])] == [e.bits for e in bits]
    if np.dtype(dtype).kind == "f" and dtype is not ml_dtypes.bfloat16:
        swapped = x.astype(np.dtype(dtype).newbyteorder(">"))
        assert kc.estimate(swapped, "fields|entropy", verify=False).bits == bits[0].bits
    assert kc.estimate(x, "fields|zstd-3", verify=True).bits == bits[1].bits


def test_symbol_counts_chunks_add_up(monkeypatch):
    import kcomplexity.encodings as enc

    codes = np.random.default_rng(1).integers(0, 300, 10_001).astype(np.uint16)
    monkeypatch.setattr(enc, "COUNT_CHUNK", 1000)
    np.testing.assert_array_equal(symbol_counts(codes, 300), np.bincount(codes, minlength=300))
    raw = Stream("raw", codes.view(np.float16))
    np.testing.assert_array_equal(raw.histogram(), np.bincount(codes, minlength=1 << 16))
    assert Stream("raw", np.zeros(3, np.float32)).histogram() is None  # 2^32 patterns: not tabulated
