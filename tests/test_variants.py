"""Variants: random_init, shuffle, prune_magnitude, prune_pq, quantize (momos: test_variants_momos.py)."""
import math

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # torch-free CI (.ci/run) skips this module
from torch import nn

from kcomplexity.errors import InputError
from kcomplexity.variants import pq_index, prune_magnitude, prune_pq, quantize, random_init, shuffle


@pytest.fixture
def weights():
    rng = np.random.default_rng(1)
    return {"w1": rng.normal(size=(20, 10)).astype(np.float32), "b1": rng.normal(size=20).astype(np.float32),
            "w2": rng.normal(size=(3, 20)).astype(np.float32)}


def _copy(ws):
    return {k: v.copy() for k, v in ws.items()}


class Scaled(nn.Module):
    """A module whose own parameter has no reset_parameters()."""
    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.full((5, 4), 7.0))
        self.lin = nn.Linear(4, 5)


def test_random_init_module_keeps_shapes_changes_values_and_is_seeded():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # "trained": far from any initialisation
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state = torch.random.get_rng_state()
    fresh = random_init(model, seed=3)
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched
    assert list(fresh) == [n for n, _ in model.named_parameters()]
    for name, p in model.named_parameters():
        assert fresh[name].shape == tuple(p.shape) and fresh[name].dtype == np.float32
        assert not np.allclose(fresh[name], p.detach().numpy())
        assert torch.equal(before[name], p.detach())  # input not mutated
    assert np.abs(fresh["0.weight"]).max() <= 1 / math.sqrt(8)  # torch Linear's bound
    np.testing.assert_array_equal(random_init(model, seed=3)["0.weight"], fresh["0.weight"])
    assert not np.array_equal(random_init(model, seed=4)["0.weight"], fresh["0.weight"])


def test_random_init_module_parameter_without_reset_gets_tensor_rule():
    fresh = random_init(Scaled(), seed=0)
    assert set(fresh) == {"gain", "lin.weight", "lin.bias"}
    assert np.abs(fresh["gain"]).max() <= 0.5 and np.unique(fresh["gain"]).size == 20  # U(-1/sqrt(4), ..)


def test_shuffle_keeps_the_multiset_and_is_seeded(weights):
    out = shuffle(weights, seed=5)
    for k, x in weights.items():
        assert out[k].shape == x.shape and out[k].dtype == x.dtype
        np.testing.assert_array_equal(np.sort(out[k], axis=None), np.sort(x, axis=None))
        assert not np.array_equal(out[k], x)
    np.testing.assert_array_equal(shuffle(weights, seed=5)["w1"], out["w1"])


def test_shuffle_accepts_torch_tensors():
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    out = shuffle({"t": t}, seed=0)["t"]
    assert isinstance(out, np.ndarray) and sorted(out.ravel()) == list(range(12))
    assert torch.equal(t, torch.arange(12, dtype=torch.float32).reshape(3, 4))


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_prune_magnitude_exact_sparsity(weights, scope):
    out = prune_magnitude(weights, 0.7, scope=scope, min_ndim=0)  # every tensor, the bias too
    zeros = sum(int((v == 0).sum()) for v in out.values())
    n = sum(v.size for v in weights.values())
    if scope == "global":
        assert zeros == round(0.7 * n)
        kept = np.concatenate([np.abs(v[out[k] != 0]) for k, v in weights.items()])
        pruned = np.concatenate([np.abs(v[out[k] == 0]) for k, v in weights.items()])
        assert kept.min() >= pruned.max()  # the smallest magnitudes went
    else:
        for k, v in weights.items():
            assert int((out[k] == 0).sum()) == round(0.7 * v.size)
    for k, v in weights.items():  # survivors unchanged
        np.testing.assert_array_equal(out[k][out[k] != 0], v[out[k] != 0])


def test_prune_magnitude_bad_input(weights):
    with pytest.raises(InputError, match="fraction"):
        prune_magnitude(weights, 1.5)
    with pytest.raises(InputError, match="scope"):
        prune_magnitude(weights, 0.5, scope="neuron")
    with pytest.raises(InputError, match="float"):
        prune_magnitude({"i": np.arange(10).reshape(2, 5)}, 0.5)
    with pytest.raises(InputError, match="no tensor is selected.*min-ndim 1"):
        prune_magnitude({"b": np.ones(10, np.float32)}, 0.5)


def test_pq_index_known_values():
    # w = (1,1,1,1,1,1,1,16): ||w||_0.5 = (7 + 4)^2 = 121, ||w||_1 = 23, d = 8 -> I = 1 - 121 / (8 * 23)
    w = np.array([1, 1, 1, 1, 1, 1, 1, 16], np.float32)
    assert pq_index(w) == pytest.approx(63 / 184)
    assert pq_index(np.full(10, 3.0)) == pytest.approx(0.0, abs=1e-12)
    assert pq_index(np.zeros(5)) == 0.0
    assert pq_index(w * 1e-30) == pytest.approx(63 / 184)  # scale-free
    with pytest.raises(InputError, match="0 < p < q"):
        pq_index(w, p=1.0, q=0.5)


@pytest.mark.parametrize("eta,gamma,beta,m,ratio,pruned", [
    (0.0, 1.0, 0.9, 6, 0.25, 2),     # m = ceil(8 * 121/184) = ceil(5.26) = 6; ratio = 1 - 6/8
    (0.5, 1.0, 0.9, 3, 0.625, 5),    # m = ceil(8 * 1.5^-2 * 121/184) = ceil(2.34) = 3
    (0.0, 2.0, 0.9, 6, 0.5, 4),      # gamma doubles the ratio
    (0.5, 1.0, 0.4, 3, 0.4, 3),      # beta caps it; floor(0.4 * 8) = 3
])
def test_prune_pq_hand_computed(eta, gamma, beta, m, ratio, pruned):
    w = {"w": np.array([1, 1, 1, 1, 1, 1, 1, 16], np.float32)}
    result = prune_pq(w, eta=eta, gamma=gamma, beta=beta, min_ndim=1)
    info = result.info["w"]
    assert info["m"] == m and info["d"] == 8 and info["pruned"] == pruned
    assert info["ratio"] == pytest.approx(ratio) and result.ratios == {"w": info["ratio"]}
    assert int((result.weights["w"] == 0).sum()) == pruned and result.weights["w"][-1] == 16


def test_prune_pq_counts_only_unpruned_entries_and_global_scope(weights):
    first = prune_pq(weights, scope="global", min_ndim=0)
    assert set(first.info) == {"global"} and first.info["global"]["d"] == 280
    second = prune_pq(first.weights, scope="global", min_ndim=0)
    assert second.info["global"]["d"] == 280 - first.info["global"]["pruned"]
    zeros = sum(int((v == 0).sum()) for v in second.weights.values())
    assert zeros == first.info["global"]["pruned"] + second.info["global"]["pruned"]


def test_quantize_symmetric_levels_and_error(weights):
    original = _copy(weights)
    out = quantize(weights, bits=4)
    for k, x in weights.items():
        scale = np.abs(x).max() / 7
        assert out[k].dtype == x.dtype and out[k].shape == x.shape
        assert np.unique(out[k]).size <= 15
        np.testing.assert_allclose(out[k], np.clip(np.rint(x / scale), -7, 7) * scale, rtol=1e-6)
        assert np.abs(out[k] - x).max() <= scale / 2 + 1e-6
        np.testing.assert_array_equal(x, original[k])
    per_row = quantize(weights, bits=3, per_channel=True)["w1"]
    for row, x in zip(per_row, weights["w1"]):
        np.testing.assert_allclose(np.abs(row).max(), np.abs(x).max(), rtol=1e-6)  # each row keeps its own max
        assert np.unique(row).size <= 7
    assert np.unique(quantize(weights, bits=3)["w1"]).size <= 7


def test_quantize_zero_tensor_and_bad_bits():
    np.testing.assert_array_equal(quantize({"z": np.zeros(4, np.float32)})["z"], np.zeros(4))
    with pytest.raises(Exception, match="bits"):
        quantize({"z": np.ones(4)}, bits=1)


def test_variant_rejects_non_mapping():
    with pytest.raises(InputError, match="mapping"):
        shuffle(np.ones(4))


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_pruning_leaves_norms_and_biases_alone_on_bert(bert_dir, scope):
    """Default selection (min_ndim=2): a BERT's biases and LayerNorm weights keep every value, and
    the matrices share the zeros; include/exclude narrow it further. The variants read the folder."""
    import kcomplexity as kc

    source = kc.load(bert_dir)
    out = prune_magnitude(bert_dir, 0.5, scope=scope)
    assert list(out) == list(source)
    for name, x in out.items():
        if x.ndim < 2:
            np.testing.assert_array_equal(x, source[name])  # LayerNorm weights stay 1, biases untouched
    matrices = [n for n in out if out[n].ndim >= 2]
    zeros = sum(int((out[n] == 0).sum()) for n in matrices)
    assert zeros == round(0.5 * sum(out[n].size for n in matrices))
    assert max(float((out[n] == 0).mean()) for n in matrices) < 0.9  # no matrix wiped out
    only = prune_magnitude(bert_dir, 0.5, scope=scope, include="*attention.self.query.weight",
                           exclude="*layer.1.*")
    changed = [n for n in only if not np.array_equal(only[n], source[n])]
    assert changed == ["bert.encoder.layer.0.attention.self.query.weight"]
    for rule in (prune_pq, kc.variants.prune_lq):
        result = rule(bert_dir, scope="layer")
        assert all(np.array_equal(result.weights[n], source[n]) for n in source if source[n].ndim < 2)
        assert set(result.info) == set(matrices)
