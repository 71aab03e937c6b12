"""BDM's regime (blocks, distinct and possible blocks, saturation), the size-stable tiled and
chunked forms, and QuBD's one-pass bit-plane blocks against the plain computation."""
import math
import warnings
from itertools import product

import numpy as np
import pytest

import kcomplexity as kc
from kcomplexity.coders.bdm import BDM, BDM2D, plane_block_codes, plane_block_codes_by_plane
from kcomplexity.encodings import Quantize
from kcomplexity.errors import BDMSaturationWarning, SpecError


@pytest.mark.parametrize("shape, bits", [((37, 61), 8), ((8, 8), 8), ((16, 21), 3), ((13, 40), 12), ((9, 9), 1)])
def test_one_pass_plane_blocks_equal_plane_by_plane(shape, bits, rng):
    codes = rng.integers(0, 1 << bits, shape).astype(np.uint8 if bits <= 8 else np.uint16)
    fast = plane_block_codes(codes, bits)
    assert fast.shape == (bits, shape[0] // 4, shape[1] // 4)
    assert np.array_equal(fast, plane_block_codes_by_plane(codes, bits))


def test_qubd_planes_equal_bdm_of_each_plane(rng):
    w = rng.standard_normal((50, 83)).astype(np.float32)
    est = kc.estimate(w, "bitplanes8|bdm2d")
    codes = Quantize(8).codes(w)
    for i in range(8):
        assert est.details["streams"][f"plane_{i}"] == pytest.approx(kc.bdm((codes >> i) & 1, ndim=2), rel=1e-12)


def tile_sum(x, tile, ndim, partition="ignore"):
    """Sum of kc.bdm over the tiles of x, written out."""
    total = 0.0
    for origin in product(*(range(0, n, tile) for n in x.shape)):
        part = x[tuple(slice(o, o + tile) for o in origin)]
        try:
            total += kc.bdm(part, ndim=ndim, partition=partition)
        except kc.errors.TooSmall:
            pass
    return total


@pytest.mark.parametrize("partition", ["ignore", "recursive"])
def test_tiled_2d_is_the_sum_over_tiles(partition, rng):
    w = rng.standard_normal((70, 45)).astype(np.float32)  # edge tiles 6 x 16 and 16 x 13
    est = kc.estimate(w, f"bitplanes4|bdm2d-{partition}-tile16")
    codes = Quantize(4).codes(w)
    for i in range(4):
        assert est.details["streams"][f"plane_{i}"] == pytest.approx(tile_sum((codes >> i) & 1, 16, 2, partition))


@pytest.mark.parametrize("partition", ["ignore", "correlated"])
def test_chunked_1d_is_the_sum_over_chunks(partition, rng):
    w = rng.standard_normal(1000)
    signs = (w > 0).astype(np.uint8)
    est = kc.estimate(w, f"sign|bdm-{partition}-chunk48")
    assert est.bits == pytest.approx(tile_sum(signs, 48, 1, partition))


def test_a_tile_larger_than_the_tensor_is_the_whole(rng):
    w = rng.standard_normal((40, 52))
    assert kc.estimate(w, "bitplanes8|bdm2d-tile64").bits == pytest.approx(kc.estimate(w, "bitplanes8|bdm2d").bits)
    assert kc.estimate(w, "sign|bdm-chunk2400").bits == pytest.approx(kc.estimate(w, "sign|bdm").bits)


def test_regime_details_count_blocks(rng):
    signs = rng.standard_normal(12 * 5000 + 7)
    d = kc.estimate(signs, "sign|bdm").details
    counts = kc.coders.bdm.count((signs > 0).astype(np.uint8))
    assert d["blocks"] == {"sign": 5000} and d["possible_blocks"] == {"sign": 4096}
    assert d["distinct_blocks"] == {"sign": len(counts[12][0])}
    assert d["saturation"] == {"sign": 5000 / 4096}
    tiled = kc.estimate(rng.standard_normal((100, 130)), "bitplanes2|bdm2d-tile40").details
    assert tiled["blocks"] == {"plane_0": 25 * 32, "plane_1": 25 * 32}
    assert tiled["saturation"]["plane_1"] == 100 / 65536  # a full 40 x 40 tile holds 10 x 10 blocks
    assert 0 < tiled["distinct_blocks"]["plane_0"] <= 800


def test_one_saturation_warning_per_call_saying_what_to_use(rng):
    w = rng.standard_normal((1040, 1040)).astype(np.float32)  # 67,600 4x4 blocks per plane > 65,536
    with pytest.warns(BDMSaturationWarning, match="bitplanes8\\|bdm2d-tile64") as caught:
        est = kc.estimate(w, "bitplanes8|bdm2d")
    assert len([c for c in caught if c.category is BDMSaturationWarning]) == 1
    assert "8 of 8 stream(s)" in str(caught[0].message)
    assert max(est.details["saturation"].values()) == pytest.approx(67600 / 65536)
    with warnings.catch_warnings():
        warnings.simplefilter("error", BDMSaturationWarning)
        kc.estimate(w, "bitplanes8|bdm2d-tile64")
        kc.estimate(w[:200, :200], "bitplanes8|bdm2d")
    with pytest.warns(BDMSaturationWarning, match="sign\\|bdm-chunk1200"):
        kc.estimate(rng.standard_normal(60_000), "sign|bdm")


@pytest.mark.parametrize("spec", ["bdm2d-tile64", "bdm2d-recursive-tile8", "bdm-chunk1200", "bdm-correlated-chunk12",
                                  "bdm", "bdm2d-correlated"])
def test_specs_print_back(spec):
    p = kc.parse(f"sign|{spec}")
    assert p.coder.spec == spec and kc.parse(p.spec) == p


def test_tile_options_any_order_and_bad_sizes():
    assert kc.parse("bitplanes8|bdm2d-tile64-recursive").coder == BDM2D("recursive", 64)
    assert kc.parse("sign|bdm-chunk24").coder == BDM("ignore", 24) != BDM("ignore", 36)
    for bad, match in [("bdm2d-tile6", "multiple of the block side 4"), ("bdm-chunk100", "multiple of the block side 12"),
                       ("bdm2d-chunk64", "unknown option"), ("bdm-tile64", "unknown option"),
                       ("bdm2d-tile64-tile8", "unknown option"), ("bdm2d-tile0", "multiple")]:
        with pytest.raises(SpecError, match=match):
            kc.parse(f"sign|{bad}")


@pytest.mark.parametrize("shape", [(3, 50), (50, 3), (2, 2), (1, 9)])
@pytest.mark.parametrize("spec", ["bitplanes8|bdm2d", "bitplanes8|bdm2d-tile8", "bitplanes12|bdm2d"])
def test_too_small_for_one_block_is_skipped(shape, spec):
    est = kc.estimate(np.arange(np.prod(shape), dtype=np.float32).reshape(shape), spec)
    assert math.isnan(est.bits) and "4x4" in est.skipped


def test_analyse_has_regime_columns(rng):
    model = {"a": rng.standard_normal((40, 40)).astype(np.float32)}
    df = kc.analyse(model, ["bitplanes8|bdm2d", "raw|zstd-3"], cache=False)
    qubd = df[df.estimator == "bitplanes8|bdm2d"].iloc[0]
    assert qubd["blocks"] == 8 * 100 and qubd["possible_blocks"] == 8 * 65536
    assert qubd["saturation"] == pytest.approx(100 / 65536)
    assert math.isnan(df[df.estimator == "raw|zstd-3"].iloc[0]["blocks"])


def bits_per_value(spec, x):
    return kc.estimate(x, spec).bits_per_value


def test_tiled_2d_is_flat_in_size_on_iid_input(rng):
    small = bits_per_value("bitplanes8|bdm2d-tile64", rng.standard_normal((256, 256)).astype(np.float32))
    large = bits_per_value("bitplanes8|bdm2d-tile64", rng.standard_normal((2048, 2048)).astype(np.float32))
    assert abs(large / small - 1) < 0.03
    with pytest.warns(BDMSaturationWarning):  # the whole-matrix form is not flat: 8x more cells, far fewer bits each
        whole = bits_per_value("bitplanes8|bdm2d", rng.standard_normal((2048, 2048)).astype(np.float32))
    assert whole < 0.8 * bits_per_value("bitplanes8|bdm2d", rng.standard_normal((256, 256)).astype(np.float32))


def test_chunked_1d_is_flat_in_size_on_iid_input(rng):
    small = bits_per_value("sign|bdm-chunk1200", rng.standard_normal(10 ** 5).astype(np.float32))
    large = bits_per_value("sign|bdm-chunk1200", rng.standard_normal(10 ** 7).astype(np.float32))
    assert abs(large / small - 1) < 0.03


def test_qubd_planes_equal_an_independent_pybdm_computation(rng):
    """Issue 9: clipping quantiles in float64 as the QuBD reference does with numpy; every plane
    of a ~150k-value tensor then equals pybdm's 2-D BDM of the plane built here, to 1e-9."""
    from pybdm import BDM as PyBDM

    w = (rng.standard_normal((384, 400)) * 0.02).astype(np.float32)
    values = w.astype(np.float64)
    lo, hi = np.quantile(values, [0.0005, 0.9995])
    codes = np.clip(np.rint((values - lo) / ((hi - lo) / 255)), 0, 255).astype(np.int64)
    est = kc.estimate(w, "bitplanes8|bdm2d")
    reference = PyBDM(ndim=2)
    for i in range(8):
        assert est.details["streams"][f"plane_{i}"] == pytest.approx(reference.bdm((codes >> i) & 1), rel=1e-9)


@pytest.mark.parametrize("ndim, nsymbols, alphabet", [(2, 2, 2), (2, 2, 40), (2, 2, 1 << 16), (1, 4, 5), (1, 4, 4 ** 12)])
def test_tile_scores_equal_each_tile_counted_alone(ndim, nsymbols, alphabet, rng, monkeypatch):
    """The sorted-runs tile scorer against np.unique per tile, on few and on mostly distinct codes,
    with chunks that split the tiles' rows (CHUNK_BLOCKS small)."""
    from kcomplexity.coders import bdm as bdm_module
    monkeypatch.setattr(bdm_module, "CHUNK_BLOCKS", 300)
    grid = rng.integers(0, alphabet, (23, 37) if ndim == 2 else (1, 857)).astype(np.int64)
    per_tile = (5, 8) if ndim == 2 else (1, 10)
    got = bdm_module.score_tiles(grid, per_tile, ndim, nsymbols)
    side = 4 if ndim == 2 else 12
    want, distinct = 0.0, 0
    for r, c in product(range(0, grid.shape[0], per_tile[0]), range(0, grid.shape[1], per_tile[1])):
        codes, n = np.unique(grid[r:r + per_tile[0], c:c + per_tile[1]], return_counts=True)
        want += float(bdm_module.lookup(codes, ndim, nsymbols, side)[0].sum() + np.log2(n).sum())
        distinct += codes.size
    assert got.bits == pytest.approx(want, rel=1e-12)
    assert (got.blocks, got.distinct, got.largest) == (grid.size, distinct, math.prod(per_tile))
