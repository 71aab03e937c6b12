"""The context-model coder ``ctx``: real streams that decode, bounds that hold, contexts that pay."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import kcomplexity as kc
from kcomplexity.coders import context
from kcomplexity.coders.context import ALLOWANCE_BITS, PRECISION, model_bits, quantize
from kcomplexity.encodings import Stream
from kcomplexity.io import ModelStream


def adversarial() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    distinct32 = np.arange(1, 4097, dtype=np.uint32).view(np.float32) + np.float32(1.0)
    return {
        "distinct fp32": rng.permutation(np.unique(rng.standard_normal(5000).astype(np.float32))),
        "distinct fp64": distinct32.astype(np.float64) * np.pi,
        "constant": np.full((40, 30), -0.75, np.float32),
        "two values": rng.choice(np.array([0.5, -3.0], np.float32), size=(33, 17)),
        "bf16": (rng.standard_normal((64, 48)) * 0.02).astype(ml_dtypes.bfloat16),
        "fp16": rng.standard_normal(999).astype(np.float16),
        "one value": np.array([1.5], np.float32),
        "two bf16": np.array([0.25, -8.0]).astype(ml_dtypes.bfloat16),
        "int8": rng.integers(-128, 128, (20, 20)).astype(np.int8),
        "zeros": np.zeros(1000, np.float64),
    }


@pytest.mark.parametrize("name", sorted(adversarial()))
@pytest.mark.parametrize("spec", ["fields|ctx", "raw|ctx"])
def test_verify_decodes_and_bounds(name, spec):
    x = adversarial()[name]
    plain = kc.estimate(x, spec)
    checked = kc.estimate(x, spec, verify=True)  # raises unless every stream and tensor decodes bit for bit
    assert checked.bits == plain.bits
    assert checked.details["verified_bits"] <= checked.bits  # the literal bound
    assert checked.lossless


def test_quantised_model_is_what_the_decoder_rebuilds():
    counts = np.array([[5, 0, 1, 1 << 30], [0, 3, 0, 0], [1, 1, 1, 1]])
    f = quantize(counts)
    assert (f.sum(axis=1) == 1 << PRECISION).all()
    assert ((f >= 1) == (counts > 0)).all()
    assert model_bits(counts)[1] == 0.0  # one symbol: nothing to code
    assert model_bits(counts)[2] == pytest.approx(8.0)  # uniform over 4: 2 bits each


def test_large_stream_stays_below_reported_bits():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((1500, 1000)) * rng.gamma(2.0, 0.01, (1500, 1))).astype(np.float32)
    e = kc.estimate(x, "fields|ctx", verify=True)
    streams = 5  # sign, exponent, three mantissa planes: the allowance is the whole gap
    assert e.details["verified_bits"] <= e.bits < e.details["verified_bits"] + streams * ALLOWANCE_BITS * x.size


def test_row_scale_context_beats_order0():
    rng = np.random.default_rng(5)
    scales = 2.0 ** rng.integers(-12, 0, (400, 1))
    x = (rng.standard_normal((400, 300)) * scales).astype(ml_dtypes.bfloat16)
    ctx, order0 = kc.estimate(x, "fields|ctx", verify=True), kc.estimate(x, "fields|entropy")
    assert ctx.details["context"]["exponent"] in ("row", "rowcol")
    assert ctx.bits < order0.bits - 1.0 * x.size  # the exponent given its row: over 1 bit per value saved


def test_row_and_column_scales_multiply(monkeypatch):
    """Scales of rows times scales of columns (as in a layer fed by uneven features): the
    exponent given both its row's and its column's mean beats either alone."""
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((300, 200)) * 2.0 ** rng.integers(-6, 0, (300, 1))
         * 2.0 ** rng.integers(-6, 0, (1, 200))).astype(ml_dtypes.bfloat16)
    both = kc.estimate(x, "fields|ctx", verify=True)
    assert both.details["context"]["exponent"] == "rowcol" and both.details["verified_bits"] <= both.bits
    exponent = Stream("exponent", (x.view(np.uint16) >> 7 & 255).astype(np.uint8).reshape(-1), 256, rows=((300, 200),))
    both_bits = context.plan(exponent, {}).bits
    monkeypatch.setattr(context, "has_columns", lambda rows: False)
    assert context.plan(exponent, {}).context == "row" and both_bits < 0.85 * context.plan(exponent, {}).bits


def test_small_matrices_split_the_mantissa():
    """A 384 x 384 Gaussian matrix: the mantissa's top bits given the exponent, its low bits
    given the top bits, instead of a 128-symbol histogram per exponent."""
    x = (np.random.default_rng(9).standard_normal((384, 384)) * 0.05).astype(ml_dtypes.bfloat16)
    e = kc.estimate(x, "fields|ctx", verify=True)
    assert e.details["split"]["mantissa_0"] and e.details["context"]["mantissa_0"] == "exponent"
    assert e.details["verified_bits"] <= e.bits


def test_narrow_float_rows_are_found():
    """Rows of fp16 values inside an fp32 matrix: their 13 low mantissa bits cost nothing."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((200, 256)).astype(np.float32)
    x[::4] = x[::4].astype(np.float16).astype(np.float32)
    ctx, order0 = kc.estimate(x, "fields|ctx", verify=True), kc.estimate(x, "fields|entropy")
    assert ctx.details["context"]["mantissa_2"] == "row_tz"
    assert ctx.bits < order0.bits - 1.2 * x.size  # order 0 pays for the zero low bits of a quarter of the rows


def test_mantissa_given_exponent_on_a_joined_model():
    rng = np.random.default_rng(8)
    tensors = {f"w{i}": (rng.standard_normal((50, 40)) * 0.1).astype(np.float32) for i in range(3)}
    tensors["b"] = rng.standard_normal(40).astype(ml_dtypes.bfloat16)
    model = ModelStream(tensors)
    e = kc.estimate(model, "fields|ctx", verify=True)
    assert e.details["verified_bits"] <= e.bits
    assert set(e.details["context"]) == {f"{d}.{f}" for d, fields in
                                         [("float32", ["sign", "exponent", "mantissa_0", "mantissa_1", "mantissa_2"]),
                                          ("bfloat16", ["sign", "exponent", "mantissa_0"])] for f in fields}


# ---------------------------------------------------------------- best
def test_best_is_the_winner_plus_its_index():
    rng = np.random.default_rng(9)
    cases = {"trained": (rng.standard_normal((60, 50)) * 0.05).astype(np.float32),
             "repeating": np.tile(np.arange(16, dtype=np.float32), 256)}
    portfolio = ["fields|ctx", "raw|zstd-3", "raw|lzma-9"]
    for x in cases.values():
        e = kc.estimate(x, f"best({','.join(portfolio)})", verify=True)
        members = {spec: kc.estimate(x, spec).bits for spec in portfolio}
        assert e.details["members"] == members
        assert e.details["winner"] == min(members, key=members.get)
        assert e.bits == min(members.values()) + 2  # ceil(log2 3) bits name the winner
        assert all(e.bits <= bits + 2 for bits in members.values())
        assert e.details["verified_bits"] <= e.bits and e.lossless
    assert {kc.estimate(x, "best").details["winner"] for x in cases.values()} == {"fields|ctx", "raw|zstd-3"}


def test_best_spec_round_trip_and_errors():
    assert kc.parse("best").spec == "best"
    assert kc.parse("BEST( raw|lzma-9 , fields|ctx )-t30").spec == "best(raw|lzma-9,fields|ctx)-t30"
    assert kc.parse("best(fields|ctx,raw|zstd-3)") == kc.parse("best")
    for bad, what in [("best(q8|lzma-9)", "lossless"), ("best()", "cannot read"), ("best-t0", "budget"),
                      ("best(sign|bdm)", "lossless"), ("best(best)", "lossless")]:
        with pytest.raises(kc.KComplexityError, match=what):
            kc.parse(bad)


def test_best_budget_skips_members_that_did_not_start():
    from kcomplexity.estimators import Best
    e = Best(["raw|zstd-3", "fields|ctx"], budget=1e-9, workers=1).estimate(np.ones(100, np.float32))
    assert np.isnan(e.bits) and e.skipped and e.details["members"] == {"raw|zstd-3": None, "fields|ctx": None}


def test_best_codes_each_member_once_and_verifies_the_winner_from_that_run(monkeypatch):
    from kcomplexity.estimators import Best, Pipeline
    calls = []
    code = Pipeline.code
    monkeypatch.setattr(Pipeline, "code", lambda self, *a, **kw: calls.append(self.spec) or code(self, *a, **kw))
    e = Best(["raw|zstd-3", "raw|lz4"]).estimate(np.tile(np.arange(64, dtype=np.float32), 64), verify=True)
    assert sorted(calls) == ["raw|lz4", "raw|zstd-3"]
    assert e.bits - e.details["index_bits"] == e.details["members"][e.details["winner"]]
    assert e.details["verified_bits"] <= e.bits


def test_best_runs_a_small_model_in_the_calling_thread(monkeypatch):
    from kcomplexity import estimators
    workers = []
    run_each = estimators._run_each
    monkeypatch.setattr(estimators, "_run_each", lambda run, items, n: workers.append(n) or run_each(run, items, n))
    for size in (estimators.Best.PARALLEL_VALUES - 1, estimators.Best.PARALLEL_VALUES):
        kc.estimate(np.zeros(size, np.float32), "best")
    assert workers == [1, 2]


def test_best_in_analyse(tmp_path):
    rng = np.random.default_rng(10)
    df = kc.analyse({"w": rng.standard_normal((40, 30)).astype(np.float32), "b": np.zeros(30, np.float32)},
                    ["best", "fields|ctx"], cache=False)
    best, ctx = (df[df.estimator == s].set_index("tensor").bits for s in ("best", "fields|ctx"))
    assert (best <= ctx + 1).all() and (best > 0).all()
