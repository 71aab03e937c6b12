"""The public estimate() API, the spec grammar, the registry and the error family."""
import ml_dtypes
import numpy as np
import pytest
torch = pytest.importorskip("torch")  # torch-free CI (.ci/run) skips this module
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import kcomplexity as kc
from kcomplexity.coders import Coded, Coder
from kcomplexity.errors import InputError, KComplexityError, SpecError

LOSSLESS = ["raw|zstd-3", "raw|gzip-6", "raw|bz2-9", "raw|lzma-6", "raw|brotli-5", "raw|lz4", "raw|lz4hc-9",
            "fields|zstd-3", "fields|lz4"]
FLOATS = [np.float16, np.float32, np.float64]


def test_estimate_record_fields(rng):
    x = rng.standard_normal((64, 32)).astype(np.float32)
    e = kc.estimate(x, "raw|zstd-19")
    assert (e.estimator, e.n_values, e.dtype, e.raw_bits) == ("raw|zstd-19", 2048, "float32", 2048 * 32)
    assert e.bits_per_value == e.bits / 2048 and e.ratio == e.raw_bits / e.bits
    assert e.lossless and e.seconds >= 0 and e.skipped is None


def test_default_estimator_and_bare_coder():
    assert kc.estimate([1.0, 2.0, 3.0]).estimator == kc.DEFAULT_ESTIMATOR == "raw|zstd-3"
    assert kc.parse("zstd").spec == "raw|zstd-3" and kc.parse("lzma").spec == "raw|lzma-9"


def test_list_of_specs_returns_one_each(rng):
    x = rng.standard_normal(500)
    out = kc.estimate(x, ["raw|zstd-19", "sign|entropy"])
    assert [e.estimator for e in out] == ["raw|zstd-19", "sign|entropy"]
    assert not out[1].lossless


def test_lossless_is_declared_by_encoding_and_coder():
    assert not kc.parse("q8|lzma-9").lossless and not kc.parse("sign|bdm").lossless
    assert not kc.parse("bitplanes8|entropy").lossless and not kc.parse("raw|bdm").lossless
    for spec in ("fields|zstd-3", "raw|entropy", "fields|entropy", "raw|motif-4", "fields|motif-8"):
        assert kc.parse(spec).lossless, spec
    assert kc.encodings.Bitplanes.lossless is False and kc.encodings.Bitplanes(8).lossless is False


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64,
                                   torch.int8, torch.int64, torch.uint8, torch.bool])
def test_torch_dtypes(dtype):
    t = (torch.randn(40, 10) * 5).to(dtype)
    e = kc.estimate(t, "raw|zstd-3", verify=True)
    assert e.raw_bits == 400 * 8 * t.element_size() and e.n_values == 400


def test_torch_requires_grad_and_noncontiguous():
    t = torch.randn(30, 20, requires_grad=True).t()
    assert kc.estimate(t, "raw|lz4").n_values == 600


def test_spec_objects_round_trip():
    from kcomplexity.coders.compressors import Lzma
    from kcomplexity.encodings import Quantize
    p = kc.Pipeline(Quantize(bits=8, robust=99.9), Lzma(9))
    assert p.spec == "q8|lzma-9" and kc.parse(p.spec) == p
    for spec in ["raw|zstd-19", "fields|zstd-3", "sign|entropy", "q4-sym|brotli-11", "bitplanes8-tiled|gzip-9"]:
        assert kc.parse(spec).spec == spec


@pytest.mark.parametrize("bad, fragment", [
    ("nosuch", "valid coders: "), ("foo|zstd", "valid encodings: "), ("raw|zstd-23", "1..22"),
    ("zstd-x", "integer"), ("a|b|c", "more than one"), ("", "spec is a string"), ("gzip-10", "0..9")])
def test_unknown_specs_list_the_valid_ones(bad, fragment):
    with pytest.raises(SpecError, match=fragment):
        kc.parse(bad)


@pytest.mark.parametrize("bad, fragment", [
    ([], "empty"), (np.zeros((3, 0)), "empty"), (["a", "b"], "non-numeric"), (np.array([1j]), "complex"),
    ([[1, 2], [3]], "rectangular"), (np.array([1.0, np.nan]), "allow_nonfinite"),
    (torch.tensor([float("inf")]), "NaN or Inf"), (np.array([object()]), "non-numeric")])
def test_bad_input_errors(bad, fragment):
    with pytest.raises(InputError, match=fragment):
        kc.estimate(bad)


def test_nonfinite_can_proceed():
    x = np.array([1.0, np.nan, np.inf, -np.inf, 2.0], np.float32)
    e = kc.estimate(x, "raw|zstd-3", allow_nonfinite=True, verify=True)
    assert e.bits > 0
    assert kc.estimate(x, "q4|entropy", allow_nonfinite=True).bits > 0


def test_errors_are_one_family():
    assert issubclass(InputError, KComplexityError) and issubclass(SpecError, ValueError)


def test_register_a_third_party_coder():
    class CountOnes(Coder):
        family = "countones"

        def code(self, stream):
            return Coded(float(np.count_nonzero(stream.data)) + 1)

    kc.register(CountOnes)
    assert kc.estimate([1.0, -1.0, 2.0], "sign|countones").bits == 3
    assert "countones" in kc.available()["coders"]


def test_register_rejects_non_classes():
    with pytest.raises(SpecError):
        kc.register(int, "intcoder")


def test_entry_point_plugins_are_loaded(monkeypatch):
    import kcomplexity.registry as est

    class Zeros(Coder):
        family = "zeros_ep"

        def code(self, stream):
            return Coded(1.0)

    class FakeEP:
        name = "zeros_ep"

        def load(self):
            return Zeros

    monkeypatch.setattr(est, "_plugins_loaded", False)
    monkeypatch.setattr(est, "entry_points", lambda group: [FakeEP()] if group == est.ENTRY_POINT_GROUP else [])
    assert kc.estimate([1.0], "raw|zeros_ep").bits == 1.0


# ---------------------------------------------------------------- properties
arrays = st.one_of(
    *[hnp.arrays(dt, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=12),
                 elements=st.floats(allow_nan=False, allow_infinity=False, width=np.dtype(dt).itemsize * 8))
      for dt in FLOATS],
    hnp.arrays(np.int32, hnp.array_shapes(min_dims=1, max_dims=2, max_side=20)),
    hnp.arrays(np.bool_, hnp.array_shapes(min_dims=1, max_dims=2, max_side=20)))


@settings(max_examples=40, deadline=None)
@given(x=arrays, spec=st.sampled_from(LOSSLESS))
def test_lossless_pipelines_round_trip(x, spec):
    if spec.startswith("fields") and x.dtype.kind != "f":
        spec = "raw" + spec[len("fields"):]
    e = kc.estimate(x, spec, verify=True)
    assert e.bits > 0 and e.ratio == e.raw_bits / e.bits


@settings(max_examples=25, deadline=None)
@given(x=hnp.arrays(np.float32, st.integers(1, 300), elements=st.floats(-1e3, 1e3, width=32)))
def test_bf16_fields_round_trip(x):
    kc.estimate(x.astype(ml_dtypes.bfloat16), "fields|zstd-3", verify=True)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(256, 4000), seed=st.integers(0, 2 ** 16),
       spec=st.sampled_from(LOSSLESS + ["q8|zstd-3", "sign|entropy", "fields|entropy", "q4|entropy"]))
def test_constant_input_is_cheaper_than_random(n, seed, spec):
    random = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
    constant = np.full(n, 0.37, np.float32)
    assert kc.estimate(constant, spec).bits < kc.estimate(random, spec).bits


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16])
def test_16_bit_floats_are_checked_for_nan_and_inf_by_their_exponent_bits(dtype):
    extremes = np.array([-1.0, 0.0, 6e4, -6e4, 1e-7], np.float32).astype(dtype)  # finite, incl. near the max
    assert kc.estimate(extremes, "raw|zstd-3").bits > 0
    for bad in (np.nan, np.inf, -np.inf):
        x = np.concatenate([extremes, np.array([bad], np.float32).astype(dtype)])
        with pytest.raises(InputError, match="1 of 6 values are NaN or Inf"):
            kc.estimate(x, "raw|zstd-3")
