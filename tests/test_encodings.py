"""Encodings: bit-exact field splits, quantiser formulas, bit-planes, stream bytes."""
import ml_dtypes
import numpy as np
import pytest
torch = pytest.importorskip("torch")  # torch-free CI (.ci/run) skips this module

import kcomplexity as kc
from kcomplexity.encodings import Bitplanes, Fields, Quantize, Raw, Sign, Stream, interleave
from kcomplexity.errors import SpecError

SPECIAL = [0.0, -0.0, 1.0, -1.5, 1e-40, 3.4e38, np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.float32, np.float64])
def test_fields_split_then_join_is_bit_exact(dtype, rng):
    values = rng.standard_normal(1000) * 10.0 ** rng.integers(-5, 5, 1000)
    with np.errstate(over="ignore"):  # float16 overflows to inf on purpose
        x = np.concatenate([values, SPECIAL]).astype(dtype)
    enc = Fields().encode(x)
    back = Fields().decode(enc, x.shape, x.dtype)
    assert back.tobytes() == x.tobytes()


def test_fields_fp32_layout_known_answer():
    x = np.array([-1.5], np.float32)  # 0xBFC00000: sign 1, exponent 127, mantissa 0x400000
    s = {st.name: st.data[0] for st in Fields().encode(x).streams}
    assert (s["sign"], s["exponent"]) == (1, 127)
    assert (s["mantissa_0"], s["mantissa_1"], s["mantissa_2"]) == (0x40, 0, 0)


def test_fields_bf16_layout_known_answer():
    x = np.array([-1.5], ml_dtypes.bfloat16)  # 0xBFC0
    s = {st.name: st.data[0] for st in Fields().encode(x).streams}
    assert (s["sign"], s["exponent"], s["mantissa_0"]) == (1, 127, 0x40)
    assert len(s) == 3


def test_fields_passes_integers_through_raw():
    x = np.arange(10)
    assert kc.estimate(x, "fields|zstd", verify=True).bits == kc.estimate(x, "raw|zstd").bits


def test_sign_is_w_greater_than_zero():
    enc = Sign().encode(np.array([-1.0, 0.0, 2.0, -0.0], np.float32))
    assert enc.streams[0].data.tolist() == [0, 0, 1, 0]


def test_asymmetric_quantiser_formula():
    x = np.linspace(-1, 3, 9, dtype=np.float32)
    codes = Quantize(2, robust=None).codes(x)
    step = 4 / 3
    assert codes.tolist() == np.clip(np.rint((x + 1) / step), 0, 3).astype(int).tolist()
    assert codes.min() == 0 and codes.max() == 3


def test_symmetric_quantiser_formula():
    x = np.array([-2.0, -0.9, 0.0, 0.4, 2.0], np.float32)
    q = Quantize(3, "sym").codes(x)  # Q = 3, scale = 2/3, code = round(w / scale) + 3
    assert q.tolist() == [0, 2, 3, 4, 6]


def test_robust_clipping_uses_central_quantiles(rng):
    x = rng.standard_normal(100_000).astype(np.float32)
    x[0] = 1e6  # one outlier must not stretch the range
    codes = Quantize(8).codes(x)
    assert np.count_nonzero(codes == 255) < 200
    assert len(np.unique(codes)) > 200
    assert np.count_nonzero(Quantize(8, robust=None).codes(x) == 128) < 10  # minmax collapses everything


def test_quantise_spec_round_trip():
    for spec in ["q8", "q4-sym", "q8-minmax", "q6-p99", "bitplanes8", "bitplanes4-tiled", "bitplanes8-sym"]:
        enc = kc.parse(f"{spec}|zstd").encoding
        assert enc.spec == spec


@pytest.mark.parametrize("bad", ["q0|zstd", "q17|zstd", "q1-sym|zstd", "q8-p0|zstd", "bitplanes3-tiled|zstd", "q|zstd"])
def test_bad_quantiser_specs(bad):
    with pytest.raises(SpecError):
        kc.parse(bad)


def test_bitplanes_reassemble_codes(rng):
    x = rng.standard_normal((16, 12)).astype(np.float32)
    enc = Bitplanes(8).encode(x)
    planes = [s.data for s in enc.streams]
    assert [s.name for s in enc.streams] == [f"plane_{i}" for i in range(8)]
    assert all(p.shape == (16, 12) for p in planes)
    codes = sum(p.astype(np.int64) << i for i, p in enumerate(planes))
    assert np.array_equal(codes, Quantize(8).codes(x))


def test_bitplanes_reshape_rows_and_1d():
    assert Bitplanes(4).encode(np.ones((3, 4, 5), np.float32)).streams[0].data.shape == (3, 20)
    assert Bitplanes(4).encode(np.ones(7, np.float32)).streams[0].data.shape == (1, 7)


def test_tiled_interleave_positions():
    planes = [np.full((2, 3), i % 2, np.uint8) * 0 + (i == k) for k in [5] for i in range(8)]
    tiled = interleave(planes, (4, 2))
    assert tiled.shape == (8, 6)
    assert tiled.reshape(2, 4, 3, 2)[:, 2, :, 1].all()  # plane 5 -> row 2, col 1 of each 4x2 tile
    assert tiled.sum() == 6


def test_stream_bytes_widths():
    assert len(Stream("b", np.ones(16, np.uint8), 2).to_bytes()) == 2
    assert len(Stream("c", np.ones(16, np.uint8), 256).to_bytes()) == 16
    assert len(Stream("d", np.ones(16, np.uint16), 4096).to_bytes()) == 32
    assert len(Stream("r", np.ones(16, np.float64)).to_bytes()) == 128


def test_raw_is_little_endian():
    x = np.arange(4, dtype=">f4")
    assert bytes(Raw().encode(x).streams[0].to_bytes()) == np.arange(4, dtype="<f4").tobytes()


def test_torch_bf16_matches_numpy_bits():
    t = torch.randn(50, dtype=torch.bfloat16)
    a = kc.estimate(t, "fields|zstd-3", verify=True)
    b = kc.estimate(t.float().numpy().astype(ml_dtypes.bfloat16), "fields|zstd-3")
    assert a.bits == b.bits and a.dtype == "bfloat16" and a.raw_bits == 800


def reference_codes(q: Quantize, x: np.ndarray) -> np.ndarray:
    """The quantiser formula written plainly: float64 values, np.quantile over the finite ones."""
    w = np.asarray(x, np.float32 if x.dtype != np.float64 else np.float64).astype(np.float64)
    finite = w[np.isfinite(w)]
    finite = finite if finite.size else np.zeros(1)
    levels = (1 << q.bits) - 1
    if q.scheme == "sym":
        half = (1 << (q.bits - 1)) - 1
        scale = float(np.abs(finite).max()) / half or 1.0
        return np.clip(np.rint(np.nan_to_num(w / scale)), -half, half) + half
    tail = (1 - (q.robust or 100) / 100) / 2
    lo, hi = (float(v) for v in np.quantile(finite, [tail, 1 - tail]))
    step = (hi - lo) / levels or 1.0
    return np.clip(np.rint(np.nan_to_num((w - lo) / step, nan=-lo / step)), 0, levels)


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.float32, np.float64, np.int8, np.int32])
@pytest.mark.parametrize("n", [1, 5, 4000, 1_100_000])
def test_fast_codes_equal_the_plain_formula(dtype, n, rng):
    x = rng.standard_normal(n) * 20
    if n > 5:
        x[:: 7] = np.round(x[:: 7])           # ties
    if dtype == np.float64:
        x[:: max(n // 16384, 1)] = 0.0        # a strided sample that misrepresents the data
    if n == 4000 and dtype in (np.float16, np.float32):
        x[3], x[10] = np.nan, -np.inf         # non-finite values are coded, not used for the range
    with np.errstate(invalid="ignore", over="ignore"):
        x = x.astype(dtype)
    for q in [Quantize(8), Quantize(4, "sym"), Quantize(8, robust=None), Quantize(12, robust=99), Quantize(3, robust=50)]:
        codes = q.codes(x)
        assert codes.dtype == (np.uint8 if q.bits <= 8 else np.uint16)
        assert np.array_equal(codes, reference_codes(q, x)), (q, n)


def test_bitplanes_are_built_only_when_read(rng):
    enc = Bitplanes(8).encode(rng.standard_normal((8, 8)).astype(np.float32))
    assert all("data" not in vars(s) for s in enc.streams)
    assert enc.streams[3].data.dtype == np.uint8 and "data" in vars(enc.streams[3])
