"""Input at the edge: big-endian arrays, float64 values near the maximum, integers under 'fields'."""
import warnings

import numpy as np
import pytest

import kcomplexity as kc
from kcomplexity.errors import InputError


@pytest.fixture
def big_endian():
    x = np.random.default_rng(4).standard_normal((20, 30)).astype(">f4")
    assert x.dtype.byteorder == ">"
    return x


def test_big_endian_is_native_at_the_edge(big_endian):
    arr = kc.arrays.as_array(big_endian)
    assert arr.dtype == np.float32 and arr.dtype.isnative and np.array_equal(arr, big_endian)
    native = big_endian.astype(np.float32)
    for spec in ("raw|zstd-3", "fields|lzma-9", "fields|entropy", "raw|motif-4"):
        e = kc.estimate(big_endian, spec, verify=True)
        assert e.bits == kc.estimate(native, spec).bits and e.dtype == "float32", spec


def test_big_endian_nan_is_caught(big_endian, tmp_path):
    big_endian[3, 4] = np.nan
    with pytest.raises(InputError, match="1 of 600 values are NaN"):
        kc.estimate(big_endian, "raw|zstd-3")
    np.save(tmp_path / "w.npy", big_endian)
    with pytest.raises(InputError, match="NaN"):
        kc.analyse(tmp_path / "w.npy", "fields|zstd-3", cache=False)


def test_big_endian_file_analyses_like_the_native_one(big_endian, tmp_path):
    np.save(tmp_path / "big.npy", big_endian)
    np.save(tmp_path / "little.npy", big_endian.astype("<f4"))
    big = kc.analyse(tmp_path / "big.npy", ["fields|zstd-3", "raw|lzma-9"], cache=False)
    little = kc.analyse(tmp_path / "little.npy", ["fields|zstd-3", "raw|lzma-9"], cache=False)
    assert big["bits"].tolist() == little["bits"].tolist()


@pytest.mark.parametrize("spec", ["q8|entropy", "q8-minmax|entropy", "q8-p90|entropy", "q4-sym|entropy"])
def test_quantisation_near_the_float64_maximum_is_scale_safe(spec):
    top = np.finfo(np.float64).max
    x = np.random.default_rng(0).uniform(-1, 1, 20000) * top
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow RuntimeWarning
        e = kc.estimate(x, spec)
    bits = int(spec[1])
    assert e.details["distinct"] == 2 ** bits - (1 if "sym" in spec else 0)
    # halving every value (exact) changes nothing: the codes depend on the values' ratios only
    assert e.bits == kc.estimate(x / 2, spec).bits


def test_fields_passes_integers_as_one_raw_stream():
    x = np.arange(-50, 50, dtype=np.int8)
    e = kc.estimate(x, "fields|zstd-3", verify=True)
    assert e.bits == kc.estimate(x, "raw|zstd-3").bits and e.lossless
