"""BDM engine: CTM table conversion and cache, known answers, the pybdm faults we fix, the coders."""
import gzip
import math
import pickle
import warnings

import numpy as np
import pytest

import kcomplexity as kc
from kcomplexity.coders import bdm as bdm_module
from kcomplexity.coders import ctm
from kcomplexity.coders.bdm import MissingCTMWarning, canonical
from kcomplexity.errors import CTMError, InputError, SpecError, TooSmall, UnsafePickleError

ONES_12 = 25.610413747641715   # CTM('111111111111'), pybdm's doctest
ONES_12x12_2D = 25.176631293734488  # pybdm's doctest: 9 blocks of ones(4, 4)


def first_appearance(code, base, size):
    digits = np.base_repr(code, base).rjust(size, "0") if code else "0" * size
    labels: dict = {}
    return int("".join(str(labels.setdefault(d, len(labels))) for d in digits), base)


# ---------------------------------------------------------------- tables
@pytest.mark.parametrize("ndim,nsymbols", [(1, 2), (2, 2), (1, 4), (1, 5)])
def test_conversion_keeps_the_keys_and_values(ndim, nsymbols):
    """Every entry of the pickles (a 5000-entry sample per shape for 4 and 5 symbols)."""
    stem = ctm.TABLES[(ndim, nsymbols)][0]
    raw = ctm.read_pybdm_table(ctm.pybdm_table_path(stem))
    table = ctm.load_table(ndim, nsymbols)
    assert sorted(table.shapes) == sorted(shape[0] for shape in raw)
    for shape, entries in raw.items():
        t = table[shape[0]]
        assert len(t.codes) == len(entries)
        items = list(entries.items())[:: max(1, len(entries) // 5000) if nsymbols > 2 else 1]
        codes = np.array([int(k, nsymbols) for k, _ in items], np.int64)
        values, missing = t.lookup(codes)
        assert not missing.any()
        np.testing.assert_array_equal(values, [v for _, v in items])


def test_cache_written_atomically_and_reloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("KCOMPLEXITY_CACHE", str(tmp_path))
    ctm.load_table.cache_clear()
    try:
        first = ctm.load_table(1, 2)
        files = list((tmp_path / "ctm").iterdir())
        assert [f.suffix for f in files] == [".npz"]
        ctm.load_table.cache_clear()
        again = ctm.load_table(1, 2)
        for side in first.shapes:
            np.testing.assert_array_equal(first[side].codes, again[side].codes)
            np.testing.assert_array_equal(first[side].ctm, again[side].ctm)
    finally:
        ctm.load_table.cache_clear()


def test_restricted_unpickler_refuses_code(tmp_path):
    evil = tmp_path / "evil.pkl.gz"
    evil.write_bytes(gzip.compress(pickle.dumps(print)))
    with pytest.raises(UnsafePickleError, match="builtins.print"):
        ctm.read_pybdm_table(evil)


def test_missing_pybdm_names_the_fix(monkeypatch):
    monkeypatch.setattr(ctm.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CTMError, match="pip install pybdm==0.1.0"):
        ctm.pybdm_table_path("ctm-b2-d12")


def test_max_bdm_counts_raw_blocks_and_cycles():
    t = ctm.load_table(1, 2)[2]   # '00' and '01', both 3.3274..., each standing for 2 raw blocks
    assert t.n_raw == 4
    assert t.max_bdm(3) == pytest.approx(3 * t.max_ctm)
    assert t.max_bdm(9) == pytest.approx(4 * t.max_ctm + math.log2(3) + 3 * math.log2(2))


# ---------------------------------------------------------------- engine
@pytest.mark.parametrize("base,size", [(2, 12), (4, 7), (5, 12), (6, 5), (9, 12)])
def test_canonical_relabels_by_first_appearance(base, size, rng):
    codes = rng.integers(0, base ** size, 300, dtype=np.int64)
    expected = [first_appearance(int(c), base, size) for c in codes]
    np.testing.assert_array_equal(canonical(codes, base, size), np.array(expected, np.int64))


def test_known_values():
    assert kc.bdm(np.ones(24, np.uint8)) == pytest.approx(ONES_12 + 1)
    assert kc.bdm(np.zeros(36, np.uint8)) == pytest.approx(ONES_12 + math.log2(3))
    assert kc.bdm(np.ones((12, 12), int), ndim=2) == pytest.approx(ONES_12x12_2D)
    assert kc.block_entropy(np.r_[np.zeros(12), np.ones(12)].astype(int)) == pytest.approx(1.0)


def test_chunked_counting_equals_one_pass(monkeypatch, rng):
    x1, x4 = rng.integers(0, 2, 12 * 1000), rng.integers(0, 4, 12 * 1000)
    x2d = rng.integers(0, 2, (64, 80))
    whole = [kc.bdm(x1), kc.bdm(x4, nsymbols=4), kc.bdm(x2d, 2), kc.bdm(x2d, 2, partition="correlated")]
    monkeypatch.setattr(bdm_module, "CHUNK_BLOCKS", 7)
    chunked = [kc.bdm(x1), kc.bdm(x4, nsymbols=4), kc.bdm(x2d, 2), kc.bdm(x2d, 2, partition="correlated")]
    assert chunked == pytest.approx(whole, rel=1e-12)


def test_missing_blocks_warn_once_and_cost_max_plus_one(rng):
    table = ctm.load_table(1, 9)[12]
    codes = rng.integers(0, 9 ** 12, 5000, dtype=np.int64)
    absent = codes[table.lookup(canonical(codes, 9, 12))[1]][:20]
    assert len(absent) == 20
    digits = np.array([[int(d) for d in np.base_repr(int(c), 9).rjust(12, "0")] for c in absent])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = kc.bdm(digits.reshape(-1), nsymbols=9)
    assert [w.category for w in caught] == [MissingCTMWarning]
    assert "20 block(s) have no CTM value" in str(caught[0].message)
    assert value == pytest.approx(20 * (table.max_ctm + 1))
    # pybdm returns > 1 here (imputed blocks beat the table's max); ours is clipped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert kc.bdm(digits.reshape(-1), nsymbols=9, normalized=True) == 1.0


# ---------------------------------------------------------------- pybdm faults, defined
def test_too_short_raises_too_small_not_zero():
    with pytest.raises(TooSmall, match="no complete 12 block"):
        kc.bdm(np.ones(11, int))
    with pytest.raises(TooSmall, match="4x4"):
        kc.bdm(np.ones((3, 50), int), ndim=2)
    assert kc.bdm(np.ones(11, int), partition="recursive") == pytest.approx(ctm.load_table(1, 2)[11].min_ctm)


def test_recursive_normalisation_uses_the_blocks_it_keeps(rng):
    """A 1-symbol remainder is dropped, so it is not in min/max either (pybdm counts it)."""
    x = rng.integers(0, 2, 12 * 5 + 1)
    t = ctm.load_table(1, 2)[12]
    low, high = t.min_ctm + math.log2(5), t.max_bdm(5)
    expected = (kc.bdm(x, partition="recursive") - low) / (high - low)
    assert kc.bdm(x, partition="recursive", normalized=True) == pytest.approx(expected)


def test_recursive_2d_normalisation_is_defined(rng):
    """pybdm raises StopIteration. A 9x10 input keeps four 4x4 blocks and, from the two 4x2
    right-edge parts, four 2x2 blocks; the 1-row bottom strip is dropped."""
    x = rng.integers(0, 2, (9, 10))
    table = ctm.load_table(2, 2)
    counts = kc.coders.bdm.count(x, ndim=2, partition="recursive")
    assert {s: int(n.sum()) for s, (_, n) in counts.items()} == {4: 4, 2: 4}
    low = table[4].min_ctm + 2 + table[2].min_ctm + 2
    high = table[4].max_bdm(4) + table[2].max_bdm(4)
    value = kc.bdm(x, 2, partition="recursive", normalized=True)
    assert value == pytest.approx((kc.bdm(x, 2, partition="recursive") - low) / (high - low))
    assert 0 <= value <= 1


def test_correlated_normalisation_and_degenerate_cases():
    x = np.tile([0, 1, 1], 20)
    t = ctm.load_table(1, 2)[12]
    value = kc.bdm(x, partition="correlated", normalized=True)
    n = 60 - 12 + 1
    assert value == pytest.approx((kc.bdm(x, partition="correlated") - t.min_ctm - math.log2(n))
                                  / (t.max_bdm(n) - t.min_ctm - math.log2(n)))
    assert kc.bdm(np.ones(12, int), normalized=True) == 0.0   # pybdm: max == min -> nan
    assert kc.block_entropy(np.ones(12, int), normalized=True) == 0.0


def test_normalised_entropy_extremes(rng):
    same = np.tile(rng.integers(0, 2, 12), 10)
    assert kc.block_entropy(same, normalized=True) == 0.0
    distinct = np.array([[int(b) for b in np.binary_repr(i, 12)] for i in range(0, 4096, 41)]).reshape(-1)
    assert kc.block_entropy(distinct, normalized=True) == pytest.approx(1.0)
    # recursive: 5 blocks of 12 and 1 of 6, all identical within a shape -> the minimum
    x = np.r_[np.zeros(60), np.ones(6)].astype(int)
    assert kc.block_entropy(x, partition="recursive", normalized=True) == 0.0


@pytest.mark.parametrize("kwargs,error,match", [
    ({"x": np.ones(24) * 0.5}, InputError, "integer symbols"),
    ({"x": np.full(24, 2)}, InputError, "0..1"),
    ({"x": np.ones((4, 4), int)}, InputError, "1-D array"),
    ({"x": np.ones(24, int), "nsymbols": 3}, SpecError, "2, 4, 5, 6, 9 symbols"),
    ({"x": np.ones(24, int), "partition": "periodic"}, SpecError, "recursive"),
    ({"x": np.ones(24, int), "block": 13}, SpecError, "1..12"),
    ({"x": np.ones(24, int), "partition": "correlated", "shift": 0}, SpecError, "positive"),
])
def test_bad_arguments_name_the_fix(kwargs, error, match):
    with pytest.raises(error, match=match):
        kc.bdm(**kwargs)


# ---------------------------------------------------------------- coders
def test_sign_bdm_is_bdm_of_positive_weights(rng):
    w = rng.standard_normal(5000).astype(np.float32)
    est = kc.estimate(w, "sign|bdm")
    assert est.bits == pytest.approx(kc.bdm((w > 0).astype(np.uint8)))
    assert est.details["bdm"] == est.bits and not est.lossless


def test_q2_bdm_uses_four_symbols_and_other_widths_name_valid_ones(rng):
    w = rng.standard_normal(3000)
    codes = kc.encodings.Quantize(2).codes(w)
    assert kc.estimate(w, "q2|bdm").details["bdm"] == pytest.approx(kc.bdm(codes, nsymbols=4))
    with pytest.raises(SpecError, match="over 8 symbols.*'q2\\|bdm' quantises"):
        kc.estimate(w, "q3|bdm")


def test_qubd_per_plane_values_lsb_first_and_sum(rng):
    w = rng.standard_normal((64, 3, 3, 3)).astype(np.float32)
    est = kc.estimate(w, "bitplanes8|bdm2d")
    codes = kc.encodings.Quantize(8).codes(w.reshape(64, -1))
    planes = [kc.bdm(((codes >> i) & 1), ndim=2) for i in range(8)]
    assert list(est.details["streams"]) == [f"plane_{i}" for i in range(8)]
    assert list(est.details["streams"].values()) == pytest.approx(planes)
    assert est.details["bdm"] == pytest.approx(sum(planes))
    assert est.bits == pytest.approx(sum(planes) + est.details["side_bits"])
    tiled = kc.estimate(w, "bitplanes8-tiled|bdm2d")
    assert tiled.details["bdm"] == pytest.approx(kc.bdm(kc.encodings.interleave(
        [((codes >> i) & 1).astype(np.uint8) for i in range(8)], (4, 2)), ndim=2))


def test_too_small_tensors_are_skipped_and_specs_round_trip():
    est = kc.estimate(np.ones(50, np.float32), "bitplanes8|bdm2d")
    assert math.isnan(est.bits) and "4x4" in est.skipped
    assert kc.parse("sign|bdm-recursive").spec == "sign|bdm-recursive"
    assert kc.estimate(np.linspace(-1, 1, 20), "sign|bdm-recursive").bits > 0
    with pytest.raises(SpecError, match="2-D binary"):
        kc.estimate(np.ones(100), "sign|bdm2d")
    with pytest.raises(SpecError, match="partition"):
        kc.parse("sign|bdm-periodic")
