"""Lossless bits are literal upper bounds (issue 17.5): on hostile inputs every registered lossless
coder, after every encoding that gives it streams, writes a real stream no longer than its
reported bits, and a lossless pipeline never costs more than stored plus 1 bit per stream."""
import ml_dtypes
import numpy as np
import pytest

import kcomplexity as kc
from kcomplexity import registry

RNG = np.random.default_rng(1706)
N = 2048
INPUTS = {
    "distinct32": RNG.permutation(np.arange(1, N + 1, dtype=np.float32) / 3),
    "distinct64": RNG.standard_normal(N),
    "two_values": np.where(RNG.random(N) < 0.5, 1.5, -0.75).astype(np.float32),
    "heavy_tails": RNG.standard_cauchy(N).astype(np.float32),
    "constant": np.full(N, -0.375, np.float32),
    "bf16": RNG.standard_normal((32, 64)).astype(ml_dtypes.bfloat16),
}
ENCODINGS = ["raw", "fields", "q8", "sign", "bitplanes8"]
LOSSLESS_CODERS = registry.families(lossless=True)


def _accepts(coder, encoding: str) -> bool:
    gives = "bytes" if encoding == "raw" else "symbols"
    return gives in coder.accepts and (coder.ndim == 2) == (encoding == "bitplanes8")


CASES = [(f"{e}|{c}", name) for c in LOSSLESS_CODERS for e in ENCODINGS
         if _accepts(registry.registered()["coders"][c], e) for name in INPUTS]


def test_every_lossless_coder_is_covered():
    assert {"entropy", "motif", "zstd", "lzma"} <= set(LOSSLESS_CODERS)
    assert {spec.split("|")[1] for spec, _ in CASES} == set(LOSSLESS_CODERS)


@pytest.mark.parametrize("spec,name", CASES)
def test_verified_bits_never_exceed_the_reported_bits(spec, name):
    e = kc.estimate(INPUTS[name], spec, verify=True)
    assert e.details["verified_bits"] <= e.bits
    n_streams = len(e.details.get("streams", {})) or 1
    if e.lossless:  # never more than stored plus the 1-bit flag per stream
        assert e.bits <= e.raw_bits + n_streams


@pytest.mark.parametrize("dtype,width", [(np.float32, 32), (np.float64, 64)])
def test_raw_entropy_on_random_floats_costs_at_most_stored_plus_the_flag(dtype, width):
    x = RNG.standard_normal(100_000).astype(dtype)  # all distinct: the histogram alone exceeds the data
    e = kc.estimate(x, "raw|entropy", verify=True)
    assert e.bits_per_value <= width + 1 / x.size and e.details["verified_bits"] <= e.bits
    f = kc.estimate(x, "fields|entropy", verify=True)
    assert f.bits <= f.raw_bits + len(f.details["streams"]) and f.details["verified_bits"] <= f.bits


def test_fields_declare_each_fields_true_alphabet():
    enc = registry.registered()["encodings"]["fields"]()
    alphabets = {dt: {s.name: s.nsymbols for s in enc.encode(np.zeros(4, dt)).streams}
                 for dt in (np.float32, np.float64, np.float16, ml_dtypes.bfloat16)}
    assert alphabets[ml_dtypes.bfloat16] == {"sign": 2, "exponent": 256, "mantissa_0": 128}
    assert alphabets[np.float16] == {"sign": 2, "exponent": 32, "mantissa_0": 4, "mantissa_1": 256}
    assert alphabets[np.float32]["mantissa_0"] == 128 and alphabets[np.float64]["mantissa_0"] == 16
    for dt, fields in alphabets.items():  # the widths add up to the value's bits: stored mode is exact
        assert sum(int(np.log2(k)) for k in fields.values()) == 8 * np.dtype(dt).itemsize


@pytest.mark.parametrize("nsymbols, values, packed", [
    (2, [1, 0, 1], b"\xa0"),                 # 1 bit each: 101 then zero padding
    (8, [1, 7], b"\x3c"),                    # 3 bits each: 001 111 00
    (300, [256, 1], b"\x80\x00\x40"),        # 9 bits each: 100000000 000000001 000000
])
def test_stored_streams_are_packed_msb_first_and_read_back(nsymbols, values, packed):
    from kcomplexity.coders.base import store, unstore
    from kcomplexity.encodings import Stream

    stream = Stream("s", np.array(values, np.uint16 if nsymbols > 256 else np.uint8), nsymbols)
    assert store(stream) == packed
    back = unstore(stream, packed)
    assert back.dtype == stream.array.dtype and back.tolist() == values
