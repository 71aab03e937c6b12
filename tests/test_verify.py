"""lossless = a literal upper bound: every stream decodes bit for bit and its real length is at most
its reported bits (checked in ``Pipeline._verify`` for every coder), never more than stored + 1 bit."""
import ml_dtypes
import numpy as np
import pytest

import kcomplexity as kc
from kcomplexity.coders import Entropy
from kcomplexity.coders.base import Coded
from kcomplexity.coders.motif import Motif
from kcomplexity.coders.rangecode import (coding_overhead, decode_kt, decode_static, encode_kt, encode_static,
                                          read_histogram, write_histogram)
from kcomplexity.encodings import Stream
from kcomplexity.errors import SpecError, VerificationError
from kcomplexity.io import ModelStream

RNG = np.random.default_rng(11)
INPUTS = {
    "gauss32": RNG.standard_normal(3000).astype(np.float32),
    "sparse16": np.where(RNG.random(4000) < 0.7, 0, RNG.standard_normal(4000)).astype(np.float16),
    "mosaic": RNG.choice(RNG.standard_normal((50, 4)).astype(np.float32), 900).reshape(-1),
    "periodic": np.tile(RNG.standard_normal(12), 300),
    "constant": np.full(1000, 0.25, np.float32),
    "bf16": RNG.standard_normal((30, 40)).astype(ml_dtypes.bfloat16),
}


@pytest.mark.parametrize("name", sorted(INPUTS))
@pytest.mark.parametrize("spec", ["raw|entropy", "fields|entropy", "raw|motif-4", "fields|motif-2", "q6|entropy",
                                  "q4|motif-8"])
def test_real_stream_decodes_and_is_at_most_the_reported_bits(name, spec):
    x = INPUTS[name]
    e = kc.estimate(x, spec, verify=True)
    assert e.lossless == spec.startswith(("raw", "fields"))
    assert e.details["verified_bits"] <= e.bits
    if e.details.get("stored_streams", 0) == 0 and "entropy" in spec:  # the bound is tight: overhead only
        n_streams = len(e.details.get("streams", {})) or 1
        assert e.bits - e.details["verified_bits"] <= e.details["coding_overhead_bits"] + n_streams


def test_entropy_real_length_is_within_the_proven_overhead():
    stream = Stream("s", RNG.integers(0, 5, 2000), 5)
    coded = Entropy().code(stream)
    data, bits = Entropy().roundtrip(stream, coded)
    np.testing.assert_array_equal(data, stream.data)
    ideal = coded.details["entropy_bits"] + coded.details["histogram_bits"]
    counts = np.bincount(stream.data, minlength=5)
    assert coded.details["coding_overhead_bits"] == coding_overhead(2000, 5, coded.details["entropy_bits"],
                                                                    counts.max() / 2000)
    assert ideal - 1 <= bits <= coded.bits == ideal + coded.details["coding_overhead_bits"]


class _Lying(Entropy):
    """An entropy coder reporting 200 bits less than it writes."""

    def code(self, stream):
        coded = super().code(stream)
        return Coded(coded.bits - 200, coded.details)


def test_verify_refuses_a_real_stream_longer_than_reported_with_zero_tolerance():
    x = RNG.integers(0, 5, 3000).astype(np.int8)
    assert kc.estimate(x, kc.Pipeline(kc.parse("raw|zstd").encoding, Entropy()), verify=True)
    with pytest.raises(VerificationError, match="more than the .* reported"):
        kc.estimate(x, kc.Pipeline(kc.parse("raw|zstd").encoding, _Lying()), verify=True)


@pytest.mark.parametrize("n,p1", [(200_000, 0.999), (100_000, 0.5), (50_000, 1e-4), (300_000, 0.9), (1000, 0.99)])
@pytest.mark.parametrize("k", [2, 200])
def test_range_coder_overhead_bound_holds_on_skewed_streams(n, p1, k):
    """Tiny costs per symbol keep the range near 2^32 (the truncation term's worst case)."""
    ranks = np.where(RNG.random(n) < p1, 0, RNG.integers(1, k, n)).astype(np.int64)
    counts = np.bincount(ranks, minlength=k)
    counts, ranks = counts[counts > 0], np.unique(ranks, return_inverse=True)[1]
    real = 32 * len(encode_static(ranks, counts))
    ideal = kc.coders.entropy.entropy_bits(counts)
    bound = coding_overhead(n, len(counts), ideal, counts.max() / n)
    assert real <= ideal + bound <= ideal + coding_overhead(n, len(counts))  # the cycle bound only tightens
    ranks = RNG.integers(0, k, n)  # the adaptive KT code: the per-symbol bound
    assert 32 * len(encode_kt(ranks, k)) <= kc.coders.motif.kt_bits(np.bincount(ranks, minlength=k)) \
        + coding_overhead(n, k)


def test_histogram_fields_roundtrip_dense_and_sparse():
    for symbols, alphabet, flag in (([0, 1, 2, 3, 5, 7], 8, 0), ([0, 3, 7], 1 << 32, 1)):  # dense, sparse
        symbols, counts = np.array(symbols), np.arange(1, len(symbols) + 1)
        bits = write_histogram(symbols, counts, alphabet, int(counts.sum()))
        got_symbols, got_counts = read_histogram(bits, alphabet, int(counts.sum()))
        np.testing.assert_array_equal(got_symbols, symbols)
        np.testing.assert_array_equal(got_counts, counts)
        assert len(bits) == kc.coders.entropy.histogram_bits(counts, alphabet) and bits[0] == flag


def test_static_and_adaptive_range_coders_invert():
    ranks = RNG.integers(0, 6, 3000) % RNG.integers(1, 7, 3000)
    counts = np.bincount(ranks, minlength=6)
    np.testing.assert_array_equal(decode_static(encode_static(ranks, counts), counts, len(ranks)), ranks)
    np.testing.assert_array_equal(decode_kt(encode_kt(ranks, 6), 6, len(ranks)), ranks)
    assert len(encode_static(np.zeros(10, int), np.array([10]))) == 0  # one symbol: nothing to send


class _ForcedIndex(Motif):
    """Motif with one index code forced, to reach every branch of the decoder."""

    def __init__(self, size, index_code):
        super().__init__(size)
        self.index_code = index_code

    def _options(self, stream):
        mosaic, dictionary, index = super()._options(stream)
        forced = {k: (0 if k == self.index_code else v) for k, v in index.items()}
        return mosaic, {k: 0 for k in dictionary}, forced  # the raw dictionary


@pytest.mark.parametrize("index_code", ["static", "kt", "lzma"])
@pytest.mark.parametrize("name", ["mosaic", "periodic", "gauss32"])
def test_motif_decoder_restores_the_tensor_end_to_end(name, index_code):
    x = INPUTS[name]
    stream = Stream("raw", x, None, (500, x.size - 500))  # two tensors, each padded on its own
    coder = _ForcedIndex(4, index_code)
    code = coder.encode(stream)
    back = coder.decode(code, x.size, x.dtype, None, stream.segments)
    assert back.dtype == x.dtype and back.tobytes() == x.tobytes()
    assert code.index_code == index_code


def test_motif_decoder_covers_both_dictionary_codes_and_the_pipeline_stores_the_rest():
    coder = Motif(4)
    kinds = set()
    few = RNG.integers(0, 3, 8000).astype(np.float32)
    for x in (few, INPUTS["periodic"]):
        code = coder.encode(Stream("raw", x))
        kinds.add(code.dictionary_code)
        assert code.bits <= coder.code(Stream("raw", x)).bits
        assert coder.decode(code, x.size, x.dtype).tobytes() == x.tobytes()
    assert kinds == {"raw", "lzma"}
    e = kc.estimate(INPUTS["gauss32"], "raw|motif-4", verify=True)  # all blocks distinct: stored
    assert e.details["stored_streams"] == 1 and e.bits == e.raw_bits + 1 == e.details["verified_bits"]
    symbols = Stream("q", RNG.integers(0, 3, 4001).astype(np.uint8), 3)
    code = coder.encode(symbols)
    np.testing.assert_array_equal(coder.decode(code, 4001, np.uint8, 3), symbols.data)


def test_estimates_have_no_decoder():
    with pytest.raises(SpecError, match="no decoder"):
        kc.estimate(INPUTS["gauss32"], "sign|bdm", verify=True)


def test_verify_whole_model_with_entropy_and_motif():
    model = ModelStream({"a": INPUTS["gauss32"], "b": INPUTS["sparse16"], "c": INPUTS["periodic"]})
    for spec in ("raw|entropy", "fields|entropy", "raw|motif-4"):
        e = kc.estimate(model, spec, verify=True)
        assert e.lossless and e.details["verified_bits"] <= e.bits


def test_delta_rows_for_entropy_and_motif_specs():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((16, 16)).astype(np.float32)
    series = [{"w": w}, {"w": np.where(rng.random(w.shape) < 0.1, w + 1, w).astype(np.float32)}]
    df = kc.analyse(series, ["raw|entropy", "raw|motif-4", "sign|entropy"], delta=True, cache=False)
    deltas = df[df["estimator"].str.startswith("delta:")]
    assert sorted(deltas["estimator"]) == ["delta:raw|entropy", "delta:raw|motif-4"]
    assert deltas["lossless"].all() and (deltas["step"] == 1).all() and deltas["bits"].gt(0).all()
