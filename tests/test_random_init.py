"""random_init from a model's own architecture: HF folders and configs, timm names, name rules."""
import json
import sys
import types

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # torch-free CI (.ci/run) skips this module
from safetensors.numpy import save_file
from torch import nn

import kcomplexity as kc
from kcomplexity.errors import InputError, SourceError
from kcomplexity.variants import INIT_RULES, ReferenceGuessWarning, initialise, random_init
from kcomplexity.variants._init_rules import tensor_kind


def pooled_std(weights, names):
    return float(np.concatenate([weights[n].reshape(-1) for n in names]).std())


def test_bert_folder_names_shapes_and_init_statistics(bert_dir):
    ref = initialise(bert_dir, seed=0)
    checkpoint = kc.load(bert_dir)
    assert ref.kind == "hf-config:BertForMaskedLM" and ref.unmatched == []
    assert list(ref.weights) == list(checkpoint)
    assert all(ref.weights[n].shape == checkpoint[n].shape and ref.weights[n].dtype == checkpoint[n].dtype
               for n in checkpoint)
    w = ref.weights
    matrices = [n for n in w if w[n].ndim == 2]            # every Linear and Embedding weight
    assert len(matrices) == 2 * 6 + 3 + 1
    assert pooled_std(w, matrices) == pytest.approx(0.02, rel=0.03)
    assert all(abs(w[n].std() - 0.02) < 0.004 for n in matrices if w[n].size >= 4096)
    norms = [n for n in w if "LayerNorm.weight" in n]
    biases = [n for n in w if n.endswith("bias")]
    assert len(norms) == 6 and all((w[n] == 1).all() for n in norms)
    assert len(biases) == 2 * 8 + 1 + 2 + 1 and all((w[n] == 0).all() for n in biases)


def test_bert_folder_draw_is_the_architectures_own_initialisation(bert_dir, tiny_bert_config):
    from transformers import BertForMaskedLM

    torch.manual_seed(100)                               # the seed the folder's weights were drawn with
    model = BertForMaskedLM(tiny_bert_config)
    state = torch.get_rng_state()
    drawn = random_init(bert_dir, seed=100)
    assert torch.equal(state, torch.get_rng_state())      # global RNG untouched
    expected = {k: v.numpy() for k, v in model.state_dict().items()}
    for name, x in kc.load(bert_dir).items():
        np.testing.assert_array_equal(drawn[name], x)
        np.testing.assert_array_equal(drawn[name], expected[name])
    assert not np.array_equal(random_init(bert_dir, seed=1)["bert.embeddings.word_embeddings.weight"],
                              drawn["bert.embeddings.word_embeddings.weight"])


def test_gpt2_folder_uses_gpt2s_scaled_projection_init(gpt2_dir):
    ref = initialise(gpt2_dir, seed=0)
    w = ref.weights
    assert ref.kind == "hf-config:GPT2LMHeadModel" and list(w) == list(kc.load(gpt2_dir))
    assert "lm_head.weight" not in w                      # tied to wte: not in the checkpoint, not in the reference
    proj = [n for n in w if n.endswith("c_proj.weight")]
    plain = [n for n in w if w[n].ndim == 2 and n not in proj]
    assert len(proj) == 4 and len(plain) == 2 + 2 * 2
    assert pooled_std(w, plain) == pytest.approx(0.02, rel=0.03)
    assert pooled_std(w, proj) == pytest.approx(0.02 / np.sqrt(2 * 2), rel=0.05)  # 0.02/sqrt(2 n_layer)
    assert all((w[n] == 1).all() for n in w if ".ln_" in n and n.endswith("weight"))
    assert all((w[n] == 0).all() for n in w if n.endswith("bias"))


def test_initializer_range_comes_from_the_config(tmp_path, bert_dir):
    config = json.loads((bert_dir / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "initializer_range": 0.05}))
    w = random_init(tmp_path / "config.json", seed=0)     # a bare config: the model's own parameter names
    assert "bert.embeddings.word_embeddings.weight" in w and "cls.predictions.decoder.weight" not in w
    assert pooled_std(w, [n for n in w if w[n].ndim == 2]) == pytest.approx(0.05, rel=0.03)


def test_checkpoint_names_are_aligned_and_strays_reported(tmp_path, bert_dir):
    """Names without the ``bert.`` prefix, legacy gamma/beta, and a tensor the architecture lacks."""
    old = {n.removeprefix("bert.").replace("LayerNorm.weight", "LayerNorm.gamma")
           .replace("LayerNorm.bias", "LayerNorm.beta"): x for n, x in kc.load(bert_dir).items()}
    old["adapter.proj.weight"] = np.ones((8, 64), np.float32)
    save_file(old, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text((bert_dir / "config.json").read_text())
    with pytest.warns(ReferenceGuessWarning, match=r"1 checkpoint tensors have no counterpart.*adapter\.proj"):
        ref = initialise(tmp_path, seed=100, init="normal-0.02")
    assert ref.unmatched == ["adapter.proj.weight"] and ref.kind.endswith("rules:normal-0.02 for 1")
    assert set(ref.weights) == set(old)
    assert (ref.weights["embeddings.LayerNorm.gamma"] == 1).all() and (ref.weights["embeddings.LayerNorm.beta"] == 0).all()
    np.testing.assert_array_equal(ref.weights["encoder.layer.1.output.dense.weight"],
                                  old["encoder.layer.1.output.dense.weight"])   # the same seed-100 draw
    assert ref.weights["adapter.proj.weight"].std() == pytest.approx(0.02, rel=0.15)


def test_hf_module_is_rebuilt_by_its_own_initialiser(tiny_bert_config):
    from transformers import BertModel

    model = BertModel(tiny_bert_config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ref = initialise(model, seed=0)
    w = ref.weights
    assert ref.kind == "hf-config:BertModel" and list(w) == [n for n, _ in model.named_parameters()]
    # torch's Linear default would give U(+-1/sqrt(64)), std 0.072; BERT's own is N(0, 0.02)
    assert pooled_std(w, [n for n in w if w[n].ndim == 2]) == pytest.approx(0.02, rel=0.03)


def test_name_rule_table():
    f32, i64 = np.zeros((4, 4), np.float32), np.zeros(3, np.int64)
    vec = np.zeros(4, np.float32)
    cases = {"h.0.ln_1.weight": (vec, "norm-weight"), "ln_f.weight": (vec, "norm-weight"),
             "encoder.LayerNorm.gamma": (vec, "norm-weight"), "layer1.0.bn1.weight": (vec, "norm-weight"),
             "model.norm.weight": (vec, "norm-weight"), "bn1.running_var": (vec, "norm-weight"),
             "h.0.ln_1.bias": (vec, "bias"), "attn.in_proj_bias": (vec, "bias"), "fc.bias": (vec, "bias"),
             "encoder.LayerNorm.beta": (vec, "bias"), "bn1.running_mean": (vec, "bias"),
             "wte.weight": (f32, "embedding"), "embeddings.word_embeddings.weight": (f32, "embedding"),
             "fc.weight": (f32, "matrix"), "prelu.weight": (vec, "matrix"), "lnk.weight": (f32, "matrix"),
             "bn1.num_batches_tracked": (i64, "kept")}
    assert {n: tensor_kind(n, x) for n, (x, _) in cases.items()} == {n: k for n, (_, k) in cases.items()}


@pytest.mark.parametrize("init", INIT_RULES)
def test_bare_state_dict_rules(bert_dir, init):
    trained = {n: x * 3 + 0.5 for n, x in kc.load(bert_dir).items()}   # "trained": far from any init
    with pytest.warns(ReferenceGuessWarning, match=f"init={init!r}: 6 norm weights -> 1, 20 biases -> 0, "
                                                   "3 embeddings and 13 other tensors"):
        ref = initialise(trained, seed=0, init=init)
    w = ref.weights
    assert ref.kind == f"rules:{init}" and list(w) == list(trained)
    assert all((w[n] == 1).all() for n in w if "LayerNorm.weight" in n)
    assert all((w[n] == 0).all() for n in w if n.endswith("bias"))
    word, dense = "bert.embeddings.word_embeddings.weight", "bert.encoder.layer.0.intermediate.dense.weight"
    if init == "normal-0.02":
        assert w[word].std() == pytest.approx(0.02, rel=0.05) and w[dense].std() == pytest.approx(0.02, rel=0.05)
    elif init == "matched":
        for n in (word, dense):
            assert w[n].mean() == pytest.approx(trained[n].mean(), abs=0.01)
            assert w[n].std() == pytest.approx(trained[n].std(), rel=0.05)
    else:  # torch-default: nn.Embedding N(0, 1), Linear U(+-1/sqrt(fan_in))
        assert w[word].std() == pytest.approx(1.0, rel=0.05)
        bound = 1 / np.sqrt(dense_fan_in := w[dense].shape[1])
        assert np.abs(w[dense]).max() <= bound and w[dense].std() == pytest.approx(bound / np.sqrt(3), rel=0.05)
        assert dense_fan_in == 64


def test_bare_file_and_loaded_folder(bert_dir):
    with pytest.warns(ReferenceGuessWarning, match="model.safetensors"):
        assert initialise(bert_dir / "model.safetensors", seed=0).kind == "rules:torch-default"
    loaded = kc.load(bert_dir, min_ndim=2)                 # kc.load(folder) counts as the folder
    ref = initialise(loaded, seed=0)
    assert ref.kind == "hf-config:BertForMaskedLM" and list(ref.weights) == list(loaded)


def test_module_without_reset_parameters_uses_the_rules():
    class Gated(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate = nn.Parameter(torch.full((5, 4), 7.0))
            self.norm_scale = nn.Parameter(torch.full((4,), 7.0))
            self.lin = nn.Linear(4, 5)

    w = random_init(Gated(), seed=0, init="normal-0.02")
    assert w["gate"].std() == pytest.approx(0.02, rel=0.6) and np.unique(w["gate"]).size == 20
    assert np.abs(w["lin.weight"]).max() <= 0.5          # nn.Linear's own reset_parameters


def test_timm_name_builds_without_weights(monkeypatch):
    calls = []

    def create_model(name, pretrained):
        calls.append((name, pretrained))
        torch.manual_seed(999)                          # random_init's seed must win over anything inside
        return nn.Sequential(nn.Linear(16, 8))

    monkeypatch.setitem(sys.modules, "timm", types.SimpleNamespace(create_model=create_model))
    ref = initialise("timm:resnet18", seed=3)
    assert calls == [("resnet18", False)] and ref.kind == "timm:resnet18"
    assert np.abs(ref.weights["0.weight"]).max() <= 0.25
    np.testing.assert_array_equal(random_init("timm:resnet18", seed=3)["0.weight"], ref.weights["0.weight"])


def test_timm_that_does_not_import_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)       # what an absent or broken timm looks like
    with pytest.raises(InputError, match="timm.*does not import.*torchvision"):
        random_init("timm:resnet18")


def test_bad_sources_and_rules(tmp_path):
    with pytest.raises(InputError, match="init must be one of"):
        random_init({"w": np.ones((2, 2))}, init="xavier")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "no-such-model"}))
    with pytest.raises(SourceError, match="not a Hugging Face config"):
        random_init(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertNoSuchHead"]}))
    with pytest.raises(SourceError, match="BertNoSuchHead"):
        random_init(tmp_path)
    with pytest.raises(InputError, match="random_init needs"):
        random_init(42)
