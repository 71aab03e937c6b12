"""ONNX initializers through onnx: a model built with onnx.helper from a state dict gives back its bits."""
from __future__ import annotations

import numpy as np
import pytest

import kcomplexity as kc
from kcomplexity.arrays import BFLOAT16, as_array
from kcomplexity.errors import SourceError

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402


def save_onnx(path, weights: dict, external: bool = False):
    """A one-node graph (Identity) carrying ``weights`` as initializers, as an exporter writes them."""
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "weights", [x], [y],
                              initializer=[numpy_helper.from_array(np.asarray(a), n) for n, a in weights.items()])
    model = helper.make_model(graph)
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location="weights.data", size_threshold=0)
    else:
        onnx.save_model(model, str(path))
    return path


@pytest.fixture(scope="module")
def gpt2_state():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=96, n_embd=32, n_layer=2, n_head=2, n_positions=32)
    state = {n: as_array(t) for n, t in transformers.GPT2LMHeadModel(config).state_dict().items()}
    state["transformer.wte.weight.bf16"] = state["transformer.wte.weight"].astype(BFLOAT16)
    state["transformer.h.0.ln_1.weight.f16"] = state["transformer.h.0.ln_1.weight"].astype(np.float16)
    return state


@pytest.mark.parametrize("external", [False, True])
def test_a_config_built_gpt2_gives_the_state_dicts_bits(tmp_path, gpt2_state, external):
    path = save_onnx(tmp_path / "gpt2.onnx", gpt2_state, external)
    assert (tmp_path / "weights.data").exists() == external
    w = kc.load(path, floats_only=False)
    assert list(w) == sorted(gpt2_state, key=kc.io.natural_key)
    for name, array in gpt2_state.items():
        assert w[name].dtype == array.dtype and w[name].shape == array.shape
        assert w[name].tobytes() == np.ascontiguousarray(array).tobytes(), name
    table = kc.analyse(path, "raw|zstd-3", per="model", cache=False, progress=False)
    direct = kc.analyse({n: a for n, a in gpt2_state.items() if a.dtype.kind == "f" or a.dtype == BFLOAT16},
                        "raw|zstd-3", per="model", cache=False, progress=False)
    assert table["bits"].item() == direct["bits"].item()


def test_numpy_weights_need_no_torch(tmp_path):
    rng = np.random.default_rng(1)
    weights = {"fc.weight": rng.standard_normal((8, 4)).astype(np.float32), "fc.bias": np.zeros(8, np.float64)}
    w = kc.load(save_onnx(tmp_path / "mlp.onnx", weights, external=True))
    assert all(w[n].tobytes() == a.tobytes() and w[n].dtype == a.dtype for n, a in weights.items())


def _external_model(tmp_path, **changes):
    path = save_onnx(tmp_path / "m.onnx", {"w": np.arange(16, dtype=np.float32)}, external=True)
    model = onnx.load(str(path), load_external_data=False)
    entries = {e.key: e for e in model.graph.initializer[0].external_data}
    for key, value in changes.items():
        if key not in entries:
            entries[key] = model.graph.initializer[0].external_data.add()
            entries[key].key = key
        entries[key].value = value
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize("changes, message", [
    ({"location": "../outside.data"}, "outside the model's folder"),
    ({"location": "/etc/passwd"}, "outside the model's folder"),
    ({"location": "absent.data"}, "is missing"),
    ({"length": "4"}, "claims 4 bytes"),
    ({"offset": "60"}, "at offset 60"),
    ({"offset": "x"}, "non-numeric"),
])
def test_external_data_outside_the_folder_or_the_file_is_refused(tmp_path, changes, message):
    (tmp_path.parent / "outside.data").write_bytes(bytes(64))
    with pytest.raises(SourceError, match=message):
        kc.load(_external_model(tmp_path, **changes))["w"]


def test_a_symlinked_data_file_leaving_the_folder_is_refused(tmp_path):
    path = _external_model(tmp_path)
    outside = tmp_path.parent / f"{tmp_path.name}-elsewhere.data"
    outside.write_bytes((tmp_path / "weights.data").read_bytes())
    (tmp_path / "weights.data").unlink()
    (tmp_path / "weights.data").symlink_to(outside)
    with pytest.raises(SourceError, match="outside the model's folder"):
        kc.load(path)


def test_raw_data_shorter_than_the_shape_is_refused(tmp_path):
    path = save_onnx(tmp_path / "m.onnx", {"w": np.arange(16, dtype=np.float32)})
    model = onnx.load(str(path))
    model.graph.initializer[0].dims[0] = 10**12
    path.write_bytes(model.SerializeToString())
    with pytest.raises(SourceError, match="needs 4000000000000 bytes but holds 64"):
        kc.load(path)


def test_workers_reparse_the_model_themselves(tmp_path):
    rng = np.random.default_rng(2)
    weights = {f"layer{i}.weight": rng.standard_normal((16, 16)).astype(np.float32) for i in range(3)}
    for external in (False, True):
        folder = tmp_path / str(external)
        folder.mkdir()
        path = save_onnx(folder / "m.onnx", weights, external)
        one = kc.analyse(path, "raw|zstd-3", cache=False, progress=False)
        two = kc.analyse(path, "raw|zstd-3", cache=False, progress=False, workers=2)
        assert one["bits"].tolist() == two["bits"].tolist() == \
            [kc.estimate(weights[n], "raw|zstd-3").bits for n in one["tensor"]]
