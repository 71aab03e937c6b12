"""The counting behind ``ctx``: every shortcut gives exactly the counts and bits of the plain way."""
from __future__ import annotations

import math
from dataclasses import replace

import ml_dtypes
import numpy as np
import pytest

from kcomplexity.coders import context, context_counts
from kcomplexity.coders.context_counts import SharedCounts, joint_counts
from kcomplexity.encodings import Fields
from kcomplexity.io import ModelStream

DTYPES = [ml_dtypes.bfloat16, np.float16, np.float32]


def scaled(shape, seed: int = 0, spread: float = 1.0) -> np.ndarray:
    """Gaussian values with a scale per row and per column: side contexts of several values."""
    rng = np.random.default_rng(seed)
    rows, columns = (np.exp(rng.normal(0, spread, (n, 1))) for n in shape)
    return (rng.standard_normal(shape) * rows * columns.T).astype(np.float32)


def ordered_streams(x, source: bool = True):
    streams = ModelStream.of(x).encode(Fields()).streams
    streams = streams if source else [replace(s, source=None) for s in streams]
    by_name = {s.name: s for s in streams}
    return [by_name[name] for name in context.decode_order(list(by_name))]


@pytest.mark.parametrize("source", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_joints_are_the_plain_joints(dtype, source):
    streams = ordered_streams(scaled((300, 250)).astype(dtype), source)
    shared = SharedCounts(streams)
    assert len(shared.arrays) >= 3 and (shared.words is not None) == source
    for a in shared.arrays:
        alphabet = shared.sizes[shared._axis(a)]
        assert np.array_equal(shared.joint(None, a, 1, alphabet), joint_counts(None, a, 1, alphabet))
        for c in shared.arrays:
            n_context = int(c.max()) + 1
            assert np.array_equal(shared.joint(c, a, n_context, alphabet), joint_counts(c, a, n_context, alphabet))


def side_cases():
    """(row values, column values or None, rows): few values (counted by key), many row values
    (counted by rows), and runs of rows of several lengths."""
    rng = np.random.default_rng(1)
    rows = ((700, 600),)
    yield rng.integers(5, 8, 700), rng.integers(2, 4, 600), rows
    yield rng.integers(0, 6, 700), None, rows
    yield rng.integers(0, 3, 700), rng.integers(0, 2, 600), rows
    runs = ((300, 500), (2, 90000))
    yield rng.integers(1, 4, 302), None, runs
    yield rng.integers(1, 3, 302), rng.integers(0, 2, 90500), runs


@pytest.mark.parametrize("case", range(5))
@pytest.mark.parametrize("chunk", [context_counts.CHUNK, 1000])
def test_side_joints_are_the_counts_of_the_expanded_values(case, chunk, monkeypatch):
    monkeypatch.setattr(context_counts, "CHUNK", chunk)
    row_values, column_values, rows = list(side_cases())[case]
    n = sum(c * l for c, l in rows)
    x = np.random.default_rng(2).standard_normal(n).astype(ml_dtypes.bfloat16)
    streams = ordered_streams(x)
    symbols = streams[0].data  # the exponents
    values = context.expand_rows(row_values, rows)
    if column_values is not None:
        values = values + context.expand_columns(column_values, rows)
    n_values = int(values.max()) + 2
    expected = joint_counts(values, symbols, n_values, 256)
    for shared in (SharedCounts(streams), SharedCounts()):  # in the fused pass, and on its own
        got = shared.side_joint(row_values, column_values, rows, symbols, n_values, 256)
        assert np.array_equal(got, expected)
    shared = SharedCounts(streams)
    shared.side_joint(row_values, column_values, rows, symbols, n_values, 256)
    assert np.array_equal(shared.counts(), SharedCounts(streams).counts())  # the fused pass it shared


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_side_context_counts_its_values(dtype):
    """``side_joint`` against ``side_context``'s per-symbol values, for each side context a
    stream has (a context whose values it does not know goes through them)."""
    x = scaled((400, 300), spread=2.0)
    x[:200] = x[:200].astype(ml_dtypes.bfloat16).astype(np.float32)  # rows with trailing zero mantissa bits
    streams = ordered_streams(x.astype(dtype))
    decoded = {}
    tried = 0
    for stream in streams:
        symbols, alphabet = stream.data.reshape(-1), stream.nsymbols
        rows = context.stream_rows(stream)
        for name, option in context.candidates(stream, decoded, alphabet).items():
            if option is None:
                sides = context.side_values(name, symbols, rows, alphabet)
                values, n_values = context.side_context(name, sides, rows, alphabet)
                got = context.side_joint(name, sides, rows, symbols, alphabet, SharedCounts(streams))
                assert np.array_equal(got, joint_counts(values, symbols, n_values, alphabet))
                tried += 1
        decoded[stream.name] = symbols
    assert tried >= 3


def reference_threshold(joint: np.ndarray, alphabet: int, n: int) -> tuple[int, float]:
    """``best_threshold`` the plain way: every threshold's groups priced on their own."""
    per_value, sizes, best = context._group_bits(joint, alphabet, n), joint.sum(axis=1), (0, math.inf)
    for i, threshold in enumerate(context.THRESHOLDS):
        keep = sizes >= threshold
        rest = joint[~keep].sum(axis=0, keepdims=True)
        bits = (per_value[keep].sum() + context._group_bits(rest, alphabet, n).sum()
                + max(context._flush_bits(joint[keep]), context._flush_bits(rest)))
        if bits < best[1]:
            best = (i, float(bits))
    return best


@pytest.mark.parametrize("seed", range(40))
def test_thresholds_priced_together_are_priced_alone(seed):
    rng = np.random.default_rng(seed)
    alphabet = int(rng.choice([2, 8, 128, 256]))
    joints = []
    for _ in range(int(rng.integers(1, 4))):
        values = int(rng.integers(1, 80))
        scale = rng.exponential(10.0 ** rng.uniform(0, 4), (values, 1))
        joint = rng.poisson(scale * rng.exponential(1.0, (1, alphabet))).astype(np.int64)
        joint[rng.random(values) < 0.2] = 0  # context values that never occur
        joints.append(joint)
    joints += [joints[0].sum(axis=0, keepdims=True), joints[0].copy()]  # a marginal and a repeat
    n = max(int(j.sum()) for j in joints) + int(rng.integers(0, 2)) * (context.KT_STREAM + 1)
    assert context.best_thresholds(joints, alphabet, n) == [reference_threshold(j, alphabet, n) for j in joints]


@pytest.mark.parametrize("dtype", DTYPES)
def test_bits_do_not_depend_on_the_counting(dtype, monkeypatch):
    x = scaled((500, 400), seed=3, spread=0.3).astype(dtype)
    plain = {name: c.bits for name, c in context.Context().code_all(ordered_streams(x, source=False)).items()}
    fast = {name: c.bits for name, c in context.Context().code_all(ordered_streams(x)).items()}
    monkeypatch.setattr(context_counts, "CHUNK", 777)
    small = {name: c.bits for name, c in context.Context().code_all(ordered_streams(x)).items()}
    assert plain == fast == small
