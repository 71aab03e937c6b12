"""The whole model as one stream: native dtypes, per-tensor padding, source order, one route for all callers."""
import ml_dtypes
import numpy as np
import pytest
torch = pytest.importorskip("torch")  # torch-free CI (.ci/run) skips this module

import kcomplexity as kc
from kcomplexity.coders.motif import Motif
from kcomplexity.encodings import cut_blocks, uncut_blocks
from kcomplexity.errors import InputError, VerificationError
from kcomplexity.io import ModelStream, model_order
from kcomplexity.variants import momos


@pytest.fixture
def mixed():
    """The issue's example: a float64 tensor and a small float32 one."""
    rng = np.random.default_rng(0)
    return {"a": rng.standard_normal(4096), "b": np.ones(16, np.float32)}


def test_mixed_join_keeps_native_bits(mixed):
    alone = kc.estimate(mixed["a"], "raw|lzma-9").bits
    whole = kc.estimate(ModelStream(mixed), "raw|lzma-9", verify=True)
    assert whole.bits >= alone
    assert whole.raw_bits == 64 * 4096 + 32 * 16 and whole.n_values == 4112
    assert whole.ratio == pytest.approx(whole.raw_bits / whole.bits)
    assert whole.dtype == "float64+float32" and whole.lossless
    assert set(whole.details["streams"]) == {"float64.raw", "float32.raw"}


def test_fields_splits_each_dtype_by_its_own_layout(mixed):
    whole = kc.estimate(ModelStream(mixed), "fields|zstd-3", verify=True)
    streams = whole.details["streams"]
    assert "float64.mantissa_6" in streams and "float32.mantissa_2" in streams
    assert "float32.mantissa_3" not in streams
    assert whole.bits == sum(streams.values())


@pytest.mark.parametrize("spec", ["raw|zstd-3", "fields|lzma-9", "raw|bz2-9"])
def test_verify_decodes_every_tensor_of_a_mixed_model(spec):
    rng = np.random.default_rng(1)
    tensors = {"w": rng.standard_normal((8, 5)).astype(np.float32), "h": rng.standard_normal(7).astype(np.float16),
               "bf": rng.standard_normal(9).astype(ml_dtypes.bfloat16), "d": rng.standard_normal(3),
               "w2": rng.standard_normal(11).astype(np.float32)}
    model = ModelStream(tensors)
    encoding = kc.parse(spec).encoding
    back = model.decode(encoding, model.encode(encoding))
    for (name, t), b in zip(tensors.items(), back):
        assert b.dtype == t.dtype and b.shape == t.shape and b.tobytes() == t.tobytes(), name
    assert kc.estimate(model, spec, verify=True).lossless
    back[2] = back[2].copy()
    back[2][0] = 7
    with pytest.raises(VerificationError, match="'bf'"):
        model.check_decoded(back, spec)


def test_float64_beyond_float32_range_is_measured_not_rejected():
    model = ModelStream({"big": np.array([1e300, -2e300, 3.0]), "small": np.ones(4, np.float32)})
    assert kc.estimate(model, "raw|zstd-3", verify=True).bits > 0
    assert model.values().dtype == np.float64 and model.values()[0] == 1e300
    with pytest.raises(InputError, match="NaN or Inf"):
        ModelStream({"a": np.array([1.0, np.inf]), "b": np.ones(2, np.float32)})


def test_single_dtype_model_is_the_concatenation(mixed):
    rng = np.random.default_rng(3)
    tensors = {"a": rng.standard_normal((6, 4)).astype(np.float32), "b": rng.standard_normal(5).astype(np.float32)}
    flat = np.concatenate([t.reshape(-1) for t in tensors.values()])
    for spec in ["raw|lzma-9", "fields|zstd-3", "q8|lzma-9", "sign|entropy", "sign|bdm"]:
        assert kc.estimate(ModelStream(tensors), spec).bits == kc.estimate(flat, spec).bits, spec
    # lossy encodings see values: float16 + float32 join in float32, exactly
    half = {"a": tensors["a"].astype(np.float16), "b": tensors["b"]}
    assert ModelStream(half).values().dtype == np.float32
    assert ModelStream({**half, "c": np.ones(2)}).values().dtype == np.float64


def test_cut_blocks_pads_each_segment_and_inverts():
    flat = np.arange(1, 12)
    blocks, padding = cut_blocks(flat, 4, (3, 5, 3))
    assert blocks.tolist() == [[1, 2, 3, 0], [4, 5, 6, 7], [8, 0, 0, 0], [9, 10, 11, 0]] and padding == 5
    np.testing.assert_array_equal(uncut_blocks(blocks, (3, 5, 3), padding), flat)
    once, pad_once = cut_blocks(flat, 4)
    assert once.shape == (3, 4) and pad_once == 1
    np.testing.assert_array_equal(uncut_blocks(once, None, pad_once), flat)


def test_motif_cuts_each_tensor_on_its_own():
    tensors = {"a": np.full(6, 2.0, np.float32), "b": np.full(6, 2.0, np.float32)}
    per_tensor = kc.estimate(ModelStream(tensors), "motif-4")
    per_model = kc.estimate(ModelStream(tensors, pad="model"), "motif-4")
    # per tensor: [2 2 2 2] [2 2 0 0] twice; once: [2 2 2 2] x 3
    assert per_tensor.details["distinct_blocks"] == 2 and per_tensor.details["padding"] == 4
    assert per_model.details["distinct_blocks"] == 1 and per_model.details["padding"] == 0
    motif = Motif(4)
    mosaic = motif.split(np.concatenate(list(tensors.values())), (6, 6))
    np.testing.assert_array_equal(motif.join(mosaic), np.full(12, 2.0, np.float32))


def test_model_order_and_pad_errors():
    assert model_order(["b.10", "b.2", "a"]) == ["b.10", "b.2", "a"]
    assert model_order(["b.10", "b.2", "a"], carries_order=False) == ["a", "b.2", "b.10"]
    with pytest.raises(InputError, match="pad"):
        ModelStream({"a": np.ones(2)}, pad="layer")


def test_analyse_per_model_joins_in_module_order_with_native_dtypes():
    net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Linear(5, 3)).double()
    net[1].float()
    df = kc.analyse(net, ["raw|lzma-9", "motif-4", "q8|zstd-3"], per="model", cache=False)
    params = dict(net.named_parameters())
    expected = kc.estimate(ModelStream(params), ["raw|lzma-9", "motif-4", "q8|zstd-3"])
    assert df["bits"].tolist() == [e.bits for e in expected]
    assert list(params) == ["0.weight", "0.bias", "1.weight", "1.bias"]  # not natural order
    assert kc.estimate(ModelStream(params), "raw|lzma-9").raw_bits == 64 * 35 + 32 * 18


def test_momos_model_shows_at_most_k_distinct_full_blocks():
    """momos and motif-S cut the same blocks: every full block of the result is one of the k motifs."""
    rng = np.random.default_rng(5)
    weights = {"w1": rng.standard_normal((7, 9)).astype(np.float32), "b1": rng.standard_normal(7).astype(np.float32),
               "w2": rng.standard_normal((3, 7)).astype(np.float32), "b2": rng.standard_normal(3).astype(np.float32)}
    total = sum(-(-w.size // 4) for w in weights.values())  # per-tensor padding: 16 + 2 + 6 + 1 blocks
    result = momos(weights, s=4, capacity=0.2)
    assert result.stats["n_blocks"] == total == 25 and result.stats["k"] == int(0.2 * total) == 5
    blocks, _ = ModelStream(result.weights).blocks(4)
    full = np.ones(len(blocks), bool)
    full[np.cumsum([-(-w.size // 4) for w in weights.values()]) - 1] = [w.size % 4 == 0 for w in weights.values()]
    assert len(np.unique(blocks[full], axis=0)) <= 5
    coded = kc.estimate(ModelStream(result.weights), "motif-4")
    assert coded.details["n_blocks"] == total
    assert coded.details["distinct_blocks"] <= 5 + int((~full).sum())
    # the old join (padded once over the model) straddles tensors and sees more distinct blocks
    once = momos(weights, s=4, capacity=0.2, pad="model")
    assert once.stats["n_blocks"] == -(-sum(w.size for w in weights.values()) // 4) == 24


def test_model_order_is_the_files_own_except_safetensors(tmp_path):
    """A .pt state dict keeps its order; safetensors carries none, so names sort naturally."""
    from safetensors.torch import save_file

    rng = np.random.default_rng(8)
    state = {"layer.10.w": np.zeros(3000), "a.bias": rng.standard_normal(300), "layer.2.w": np.zeros(3000)}
    tensors = {k: torch.tensor(v, dtype=torch.float32) for k, v in state.items()}
    torch.save(tensors, tmp_path / "m.pt")
    save_file(tensors, tmp_path / "m.safetensors")
    as32 = {k: v.astype(np.float32) for k, v in state.items()}
    natural = {k: as32[k] for k in ["a.bias", "layer.2.w", "layer.10.w"]}  # the zeros joined in one run
    for path, order in (("m.pt", as32), ("m.safetensors", natural)):
        df = kc.analyse(tmp_path / path, ["raw|lzma-9", "q8|zstd-3"], per="model", cache=False)
        expected = [e.bits for e in kc.estimate(ModelStream(order), ["raw|lzma-9", "q8|zstd-3"])]
        assert df["bits"].tolist() == expected, path
    assert kc.estimate(ModelStream(as32), "raw|lzma-9").bits != kc.estimate(ModelStream(natural), "raw|lzma-9").bits
