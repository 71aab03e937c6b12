"""The whole model as one stream: native dtypes, per-tensor padding, one canonical order, one route for all callers."""
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
    assert model.names == ["bf", "d", "h", "w", "w2"]  # canonical order
    for name, b in zip(model.names, back):
        t = tensors[name]
        assert b.dtype == t.dtype and b.shape == t.shape and b.tobytes() == t.tobytes(), name
    assert kc.estimate(model, spec, verify=True).lossless
    back[0] = back[0].copy()
    back[0][0] = 7
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
    assert model_order(["b.10", "b.2", "a"]) == ["a", "b.2", "b.10"]
    assert ModelStream({"b.10": np.ones(2), "b.2": np.zeros(2), "a": np.ones(3)}).names == ["a", "b.2", "b.10"]
    with pytest.raises(InputError, match="pad"):
        ModelStream({"a": np.ones(2)}, pad="layer")


def test_analyse_per_model_joins_in_canonical_order_with_native_dtypes():
    net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Linear(5, 3)).double()
    net[1].float()
    df = kc.analyse(net, ["raw|lzma-9", "motif-4", "q8|zstd-3"], per="model", cache=False)
    params = dict(net.named_parameters())
    expected = kc.estimate(ModelStream(params), ["raw|lzma-9", "motif-4", "q8|zstd-3"])
    assert df["bits"].tolist() == [e.bits for e in expected]
    assert list(params) == ["0.weight", "0.bias", "1.weight", "1.bias"]  # the module's order, not the canonical one
    assert ModelStream(params).names == ["0.bias", "0.weight", "1.bias", "1.weight"]
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


def _lossless_builtin_specs() -> list[str]:
    """Every lossless built-in encoding with every lossless built-in coder, at default settings."""
    from kcomplexity.registry import BUILTIN_CODERS, BUILTIN_ENCODINGS
    encodings = [e().spec for e in BUILTIN_ENCODINGS if e.lossless]
    coders = [c().spec for c in BUILTIN_CODERS if c.lossless]
    return [f"{e}|{c}" for e in encodings for c in coders]


def test_the_same_weights_from_any_source_give_the_same_model_bits(tmp_path):
    """One canonical order (natural names): a config-built GPT-2 as a module, a dict in another
    order, a .pt and a .safetensors file give identical per-model bits for every lossless spec."""
    from safetensors.torch import save_file
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=120, n_positions=32,
                                       bos_token_id=0, eos_token_id=0)).eval()
    params = {n: p.detach().clone().contiguous() for n, p in model.named_parameters()}
    backwards = dict(reversed(list(params.items())))
    torch.save(backwards, tmp_path / "m.pt")
    save_file(params, tmp_path / "m.safetensors")
    specs = _lossless_builtin_specs()
    assert len(specs) >= 18 and "fields|entropy" in specs and "raw|lzma-9" in specs and "raw|motif-4" in specs
    bits = {name: kc.analyse(source, specs, per="model", cache=False, progress=False).set_index("estimator").bits
            for name, source in (("module", model), ("dict", backwards), ("pt", tmp_path / "m.pt"),
                                 ("safetensors", tmp_path / "m.safetensors"))}
    for name, got in bits.items():
        assert got.to_dict() == bits["module"].to_dict(), name
    assert list(params)[0] == "transformer.wte.weight" and ModelStream(params).names[0] == "transformer.h.0.attn.c_attn.bias"


def test_a_2d_coder_scores_a_whole_model_as_the_sum_over_its_matrices():
    """One rule for analyse(per="model") and compare: bdm2d sums its matrices, names the rest."""
    rng = np.random.default_rng(3)
    weights = {"w1": rng.standard_normal((40, 36)).astype(np.float32), "b1": rng.standard_normal(40).astype(np.float32),
               "w2": rng.standard_normal((12, 40)).astype(np.float32), "tiny": np.ones((2, 9), np.float32)}
    whole = kc.estimate(ModelStream(weights), "bitplanes8|bdm2d")
    assert whole.bits == pytest.approx(sum(kc.estimate(weights[n], "bitplanes8|bdm2d").bits for n in ("w1", "w2")),
                                       rel=1e-12)
    assert whole.details["left_out"] == ["b1", "tiny"] and whole.n_values == 40 * 36 + 12 * 40
    df = kc.analyse(weights, "bitplanes8|bdm2d", per="model", cache=False, progress=False)
    assert df.bits.iloc[0] == whole.bits and df.n_params.iloc[0] == whole.n_values
    cmp = kc.compare({"m": weights}, "bitplanes8|bdm2d", seeds=(0,), shuffle_control=False)
    row = cmp[(cmp.variant == "m") & (cmp.stream == "total")].iloc[0]
    assert row.bits == whole.bits and row.n_params == whole.n_values and "b1" in row.skipped
    totals = kc.analysis.totals.model_totals(df)  # a single in-memory checkpoint: no step, still one row
    assert len(totals) == 1 and totals.bits.iloc[0] == whole.bits
