"""MoMos projection: motif count, exact nearest motif, distortion, determinism."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcomplexity.errors import InputError
from kcomplexity.variants import momos, nearest_motif
from kcomplexity.variants._momos import n_motifs


@pytest.fixture
def weights():
    rng = np.random.default_rng(2)
    return {"a": rng.normal(size=(40, 16)).astype(np.float32), "b": rng.normal(size=64).astype(np.float32)}


def _flat(ws):
    return np.concatenate([v.reshape(-1) for v in ws.values()])


def test_k_motifs_leave_at_most_k_distinct_blocks(weights):
    result = momos(weights, s=4, k=10)
    blocks = _flat(result.weights).reshape(-1, 4)
    assert result.stats["k"] == 10 and result.stats["n_blocks"] == 176
    assert len(np.unique(blocks, axis=0)) <= 10
    np.testing.assert_array_equal(blocks, result.motifs[result.mosaic].astype(np.float32))
    assert not result.motifs[0].any()  # force_zero: motif 0 is the zero block
    assert result.stats["usage"].sum() == 176 and len(result.stats["usage"]) == 10


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 30).map(lambda b: 4 * b), k=st.integers(1, 12), seed=st.integers(0, 5),
       force_zero=st.booleans())
def test_property_at_most_k_blocks_and_exact_distortion(n, k, seed, force_zero):
    x = np.random.default_rng(seed).integers(-3, 4, size=n).astype(np.float32)  # many equal blocks
    result = momos({"x": x}, s=4, k=k, seed=seed, force_zero=force_zero)
    blocks = result.weights["x"].reshape(-1, 4)
    assert len(np.unique(blocks, axis=0)) <= min(k, n // 4)
    assert result.stats["distortion"] == pytest.approx(float(((result.weights["x"] - x) ** 2).sum()))


def test_distortion_is_the_sum_of_squared_changes(weights):
    result = momos(weights, s=4, capacity=0.1)
    diff = _flat(result.weights).astype(np.float64) - _flat(weights).astype(np.float64)
    assert result.stats["distortion"] == pytest.approx(float((diff ** 2).sum()), rel=1e-12)
    assert result.stats["changed_weights"] == int(np.count_nonzero(diff))
    assert result.stats["k"] == int(0.1 * 176)


def test_every_block_gets_its_exact_nearest_motif(weights):
    result = momos(weights, s=4, capacity=0.2, force_zero=False)
    blocks = _flat(weights).astype(np.float64).reshape(-1, 4)
    d2 = ((blocks[:, None, :] - result.motifs[None]) ** 2).sum(-1)
    np.testing.assert_allclose(d2[np.arange(len(blocks)), result.mosaic], d2.min(1), rtol=0, atol=0)
    # motifs are blocks of the input (no k-means)
    assert all((blocks == m).all(1).any() for m in result.motifs)


def test_kdtree_and_brute_force_agree():
    rng = np.random.default_rng(0)
    blocks, motifs = rng.normal(size=(3000, 4)), rng.normal(size=(50, 4))
    motifs[7] = motifs[3]  # a duplicate motif resolves to the lower index
    tree = nearest_motif(blocks, motifs, "kdtree")
    np.testing.assert_array_equal(tree, nearest_motif(blocks, motifs, "brute", chunk_bytes=4096))
    assert 7 not in tree and 3 in tree


def test_near_ties_below_float32_resolution_are_resolved_exactly():
    motifs = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [5.0, 5.0, 5.0, 5.0]])
    blocks = np.array([[0.5, 0.5 + 1e-9, 0, 0], [0.5 + 1e-9, 0.5, 0, 0], [4.0, 4.0, 4.0, 4.0]])
    for method in ("brute", "kdtree"):
        np.testing.assert_array_equal(nearest_motif(blocks, motifs, method), [1, 0, 2])


def test_padding_and_per_tensor(weights):
    odd = {"x": np.arange(1, 11, dtype=np.float64)}  # 10 values -> 3 blocks of 4, 2 padded
    result = momos(odd, s=4, k=3, force_zero=False)
    assert result.stats["padding"] == 2 and result.stats["distortion"] == 0.0
    np.testing.assert_array_equal(result.weights["x"], odd["x"])
    per = momos(weights, s=4, k=5, per_tensor=True)
    assert per.stats["k"] == 10 and len(per.motifs) == 10
    assert per.mosaic[:160].max() < 5 <= per.mosaic[160:].min()  # tensor b uses its own motif set


def test_deterministic_dtype_kept_input_untouched(weights):
    half = {k: v.astype(np.float16) for k, v in weights.items()}
    before = {k: v.copy() for k, v in half.items()}
    r1, r2 = momos(half, seed=4, capacity=0.05), momos(half, seed=4, capacity=0.05)
    assert all(r1.weights[k].dtype == np.float16 and r1.weights[k].shape == v.shape for k, v in half.items())
    np.testing.assert_array_equal(r1.mosaic, r2.mosaic)
    assert not np.array_equal(r1.mosaic, momos(half, seed=5, capacity=0.05).mosaic)
    for k in half:
        np.testing.assert_array_equal(half[k], before[k])


def test_motif_count_rule_and_errors(weights):
    assert n_motifs(0.01, 2_500_000) == 25_000 and n_motifs(0.001, 10) == 1 and n_motifs(1.0, 7, k=100) == 7
    with pytest.raises(InputError, match="capacity"):
        momos(weights, capacity=0)
    with pytest.raises(InputError, match="block size"):
        momos(weights, s=0)
    with pytest.raises(InputError, match="method"):
        momos(weights, method="annoy")
