"""The C counting loops (``kcomplexity._native``) against the numpy code they replace: same counts, same bits."""
import numpy as np
import pytest

import kcomplexity.arrays as arrays
import kcomplexity.coders.bdm as bdm

_native = pytest.importorskip("kcomplexity._native", reason="built without a C compiler: numpy counts instead "
                              "(.ci/run requires the build)")


def test_histogram_u16_equals_bincount():
    rng = np.random.default_rng(0)
    for n, size in [(1, 5), (300, 1000), (65536, 3 << 20), (70, 0)]:
        values = rng.integers(0, n, size).astype(np.uint16)
        got = arrays.histogram(values, n)
        assert got.dtype == np.int64 and (got == np.bincount(values, minlength=n)).all()


def test_histogram_u16_refuses_values_outside_the_bins():
    out = np.arange(10, dtype=np.int64)
    with pytest.raises(ValueError, match="outside the 10 bins"):
        _native.histogram_u16(np.array([3, 3, 10, 4], np.uint16), out)
    assert (out == np.arange(10)).all()  # left as it was


def grids(rng):
    """uint16 block-code grids: random, skewed (many repeats per tile), and a few codes."""
    for trial in range(120):
        a, b = (int(v) for v in rng.integers(1, 60, 2))
        kind = trial % 3
        if kind == 0:
            grid = rng.integers(0, 1 << 16, (a, b))
        elif kind == 1:
            grid = rng.geometric(0.2, (a, b)) % 65535
        else:
            grid = rng.integers(0, 3, (a, b)) * 1000
        per = int(rng.choice([1, 2, 4, 16]))
        yield grid.astype(np.uint16), ((per, per) if trial % 2 else (1, per))


def test_tile_scores_equal_the_numpy_path(monkeypatch):
    for grid, per_tile in grids(np.random.default_rng(1)):
        whole_c, whole_np = np.zeros(1 << 16, np.int64), np.zeros(1 << 16, np.int64)
        native = bdm.score_tiles(grid, per_tile, 2, 2, whole_c)
        with monkeypatch.context() as m:
            m.setattr(bdm, "_native", None)
            plain = bdm.score_tiles(grid, per_tile, 2, 2, whole_np)
        assert native.bits == pytest.approx(plain.bits, rel=1e-13)
        assert (native.blocks, native.distinct, native.largest, native.missing) == \
               (plain.blocks, plain.distinct, plain.largest, plain.missing)
        assert (whole_c == whole_np).all()


def test_qubd_bits_are_the_same_without_native(monkeypatch):
    w = np.random.default_rng(2).normal(0, 0.02, (256, 192)).astype(np.float32)
    specs = ["bitplanes8|bdm2d", "bitplanes8|bdm2d-tile64", "fields|ctx", "fields|entropy"]
    native = [bdm_bits(w, s) for s in specs]
    monkeypatch.setattr(bdm, "_native", None)
    monkeypatch.setattr(arrays, "_native", None)
    assert [bdm_bits(w, s) for s in specs] == pytest.approx(native, rel=1e-13)


def bdm_bits(w, spec):
    import kcomplexity as kc
    return kc.estimate(w, spec).bits


def test_tile_runs_refuses_bad_shapes():
    with pytest.raises(ValueError):
        _native.tile_runs(np.zeros(10, np.uint16), 3, np.zeros(16, np.int64), None, np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="outside"):
        _native.tile_runs(np.array([20], np.uint16), 1, np.zeros(16, np.int64), None, np.zeros(2, np.int64))


def test_a_tile_larger_than_the_matrix_allocates_for_the_matrix():
    w = np.random.default_rng(3).normal(size=(64, 64)).astype(np.float32)
    assert kc_estimate(w, "bitplanes8|bdm2d-tile1048576").bits == pytest.approx(kc_estimate(w, "bitplanes8|bdm2d").bits, rel=1e-13)


def kc_estimate(w, spec):
    import warnings

    import kcomplexity as kc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return kc.estimate(w, spec)


def test_histogram_u32_equals_bincount_and_refuses_values_outside():
    values = np.random.default_rng(4).integers(0, 300_000, 100_000).astype(np.uint32)
    assert (arrays.histogram(values, 300_000) == np.bincount(values, minlength=300_000)).all()
    with pytest.raises(ValueError, match="outside the 5 bins"):
        _native.histogram_u32(np.array([7], np.uint32), np.zeros(5, np.int64))


def test_tile_runs_refuses_a_bad_code_without_counting_anything():
    by_code, multiplicities = np.zeros(16, np.int64), np.zeros(3, np.int64)
    with pytest.raises(ValueError, match="code at 3 is outside"):
        _native.tile_runs(np.array([1, 2, 1, 16], np.uint16), 2, by_code, None, multiplicities)
    assert not by_code.any() and not multiplicities.any()
