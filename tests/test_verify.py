"""lossless = a decodable upper bound: entropy and motif-S write real bitstreams that decode bit for bit."""
import ml_dtypes
import numpy as np
import pytest

import kcomplexity as kc
from kcomplexity.coders import Entropy
from kcomplexity.coders.base import Coded
from kcomplexity.coders.motif import Motif
from kcomplexity.coders.rangecode import (SLACK_BITS, decode_kt, decode_static, encode_kt, encode_static,
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
def test_real_stream_decodes_and_is_within_slack_of_the_ideal(name, spec):
    x = INPUTS[name]
    e = kc.estimate(x, spec, verify=True)
    assert e.lossless == spec.startswith(("raw", "fields"))
    n_streams = len(e.details.get("streams", {})) or 1
    assert -SLACK_BITS * n_streams <= e.details["verified_bits"] - e.bits <= SLACK_BITS * n_streams


def test_entropy_real_length_is_checked_against_the_reported_one():
    stream = Stream("s", RNG.integers(0, 5, 2000), 5)
    coded = Entropy().code(stream)
    data, bits = Entropy().roundtrip(stream, coded)
    np.testing.assert_array_equal(data, stream.data)
    assert coded.bits <= bits <= coded.bits + SLACK_BITS
    lying = Coded(coded.bits - 200, dict(coded.details, entropy_bits=coded.details["entropy_bits"] - 200))
    with pytest.raises(VerificationError, match="more than 64 bits above"):
        Entropy().roundtrip(stream, lying)


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
        return mosaic, {k: 0 for k in dictionary}, forced  # never "stored"; the raw dictionary


@pytest.mark.parametrize("index_code", ["static", "kt", "lzma"])
@pytest.mark.parametrize("name", ["mosaic", "periodic", "gauss32"])
def test_motif_decoder_restores_the_tensor_end_to_end(name, index_code):
    x = INPUTS[name]
    stream = Stream("raw", x, None, (500, x.size - 500))  # two tensors, each padded on its own
    coder = _ForcedIndex(4, index_code)
    code = coder.encode(stream)
    back = coder.decode(code, x.size, x.dtype, None, stream.segments)
    assert back.dtype == x.dtype and back.tobytes() == x.tobytes()
    assert code.mode == "mosaic" and code.index_code == index_code


def test_motif_decoder_covers_both_dictionary_codes_and_stored_mode():
    coder = Motif(4)
    kinds = set()
    few = RNG.integers(0, 3, 8000).astype(np.float32)
    for x in (few, INPUTS["periodic"], INPUTS["gauss32"]):
        code = coder.encode(Stream("raw", x))
        kinds.add(code.mode if code.mode == "stored" else code.dictionary_code)
        assert code.bits == pytest.approx(coder.code(Stream("raw", x)).bits, abs=SLACK_BITS)
        assert coder.decode(code, x.size, x.dtype).tobytes() == x.tobytes()
    assert kinds == {"stored", "raw", "lzma"}
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
        assert e.lossless and e.details["verified_bits"] - e.bits <= SLACK_BITS * len(e.details["streams"])


def test_delta_rows_for_entropy_and_motif_specs():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((16, 16)).astype(np.float32)
    series = [{"w": w}, {"w": np.where(rng.random(w.shape) < 0.1, w + 1, w).astype(np.float32)}]
    df = kc.analyse(series, ["raw|entropy", "raw|motif-4", "sign|entropy"], delta=True, cache=False)
    deltas = df[df["estimator"].str.startswith("delta:")]
    assert sorted(deltas["estimator"]) == ["delta:raw|entropy", "delta:raw|motif-4"]
    assert deltas["lossless"].all() and (deltas["step"] == 1).all() and deltas["bits"].gt(0).all()
