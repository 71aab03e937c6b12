"""Model I/O: every format read back bit for bit, selection, safety of torch.load, corrupt files."""
import json

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # torch-free CI (.ci/run) skips this module
from safetensors.torch import save_file

import kcomplexity
from kcomplexity.errors import InputError, SourceError, UnsafePickleError
from kcomplexity.io import load


def bits_of(x) -> bytes:
    """The raw bytes of a tensor or array (bfloat16 through its int16 view)."""
    if isinstance(x, torch.Tensor):
        x = x.contiguous()
        return (x.view(torch.int16) if x.dtype == torch.bfloat16 else x).numpy().tobytes()
    return np.ascontiguousarray(x).tobytes()


def assert_same(loaded, originals):
    assert list(loaded) == sorted(originals, key=kcomplexity.io.natural_key)
    for name, tensor in originals.items():
        arr = loaded[name]
        assert arr.shape == tuple(tensor.shape)
        assert bits_of(arr) == bits_of(tensor), name


@pytest.fixture
def state():
    g = torch.Generator().manual_seed(0)
    return {"layers.10.weight": torch.randn(4, 6, generator=g),
            "layers.2.weight": torch.randn(3, 4, generator=g).to(torch.bfloat16),
            "layers.2.bias": torch.randn(3, generator=g).to(torch.float16),
            "head.weight": torch.randn(2, 3, generator=g, dtype=torch.float64)}


def test_safetensors_roundtrip_bit_exact(tmp_path, state):
    save_file(state, tmp_path / "m.safetensors", metadata={"global_step": "40"})
    w = load(tmp_path / "m.safetensors")
    assert_same(w, state)
    assert w.metadata == {"global_step": 40}
    assert w["layers.2.weight"].dtype == kcomplexity.arrays.BFLOAT16


def test_names_are_naturally_sorted(tmp_path, state):
    save_file(state, tmp_path / "m.safetensors")
    assert list(load(tmp_path / "m.safetensors")) == ["head.weight", "layers.2.bias", "layers.2.weight",
                                                      "layers.10.weight"]


def test_pt_state_dict_and_lightning_ckpt(tmp_path, state):
    torch.save(state, tmp_path / "m.pt")
    assert_same(load(tmp_path / "m.pt"), state)
    torch.save({"state_dict": state, "epoch": 3, "global_step": 200, "optimizer_states": [{"lr": 0.1}]},
               tmp_path / "epoch=3-step=200.ckpt")
    w = load(tmp_path / "epoch=3-step=200.ckpt")
    assert_same(w, state)
    assert w.metadata["epoch"] == 3 and w.metadata["global_step"] == 200


def test_npz_and_npy(tmp_path):
    arrays = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.linspace(0, 1, 5)}
    np.savez(tmp_path / "w.npz", **arrays)
    assert_same(load(tmp_path / "w.npz"), arrays)
    np.save(tmp_path / "solo.npy", arrays["a"])
    assert bits_of(load(tmp_path / "solo.npy")["solo"]) == bits_of(arrays["a"])


def test_huggingface_sharded_and_single(tmp_path, state):
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    names = sorted(state)
    shards = {"model-00001-of-00002.safetensors": names[:2], "model-00002-of-00002.safetensors": names[2:]}
    for file, keys in shards.items():
        save_file({k: state[k] for k in keys}, sharded / file)
    index = {"metadata": {}, "weight_map": {k: f for f, keys in shards.items() for k in keys}}
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    assert_same(load(sharded), state)
    single = tmp_path / "single"
    single.mkdir()
    save_file(state, single / "model.safetensors")
    assert_same(load(single), state)


def test_missing_shard_is_named(tmp_path, state):
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "gone.safetensors"}}))
    with pytest.raises(SourceError, match="gone.safetensors"):
        load(tmp_path)


def test_module_parameters_and_buffers():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    params = load(net)
    assert list(params) == ["0.bias", "0.weight", "1.bias", "1.weight"]
    assert bits_of(params["0.weight"]) == bits_of(net[0].weight.detach())
    with_buffers = load(net, buffers=True)
    assert "1.running_mean" in with_buffers and "1.num_batches_tracked" not in with_buffers  # int64: not float
    assert "1.num_batches_tracked" in load(net, buffers=True, floats_only=False)


def test_selection_globs_ndim_and_dtype():
    sd = {"enc.weight": np.ones((2, 2), np.float32), "enc.bias": np.ones(2, np.float32),
          "dec.weight": np.ones((2, 2), np.float32), "ids": np.arange(3)}
    assert list(load(sd)) == ["dec.weight", "enc.bias", "enc.weight"]
    assert list(load(sd, min_ndim=2)) == ["dec.weight", "enc.weight"]          # QuBD: matrices only
    assert list(load(sd, include="enc.*", exclude=["*.bias"])) == ["enc.weight"]
    assert list(load(sd, floats_only=False)) == ["dec.weight", "enc.bias", "enc.weight", "ids"]
    with pytest.raises(InputError, match="min_ndim"):
        load(sd, min_ndim=-1)


class _CreatesFile:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    proof = tmp_path / "proof.txt"
    torch.save({"w": torch.ones(2), "evil": _CreatesFile(str(proof))}, tmp_path / "evil.pt")
    torch.load(tmp_path / "evil.pt", weights_only=False)  # the payload really runs when allowed to ...
    assert proof.exists()
    proof.unlink()
    with pytest.raises(UnsafePickleError, match="evil.pt.*refused"):  # ... and never through kcomplexity
        load(tmp_path / "evil.pt")
    assert not proof.exists()


@pytest.mark.parametrize("suffix", [".safetensors", ".pt", ".npz"])
def test_truncated_files_raise_source_error_naming_the_file(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    tensors = {"w": torch.randn(64, 64)}
    if suffix == ".safetensors":
        save_file(tensors, path)
    elif suffix == ".pt":
        torch.save(tensors, path)
    else:
        np.savez(path, w=tensors["w"].numpy())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(SourceError, match=f"broken\\{suffix}.*(truncated|corrupt)"):
        w = load(path)
        w["w"]


def test_unknown_format_and_missing_path(tmp_path):
    (tmp_path / "w.txt").write_text("1 2 3")
    with pytest.raises(SourceError, match="unknown checkpoint format '.txt'"):
        load(tmp_path / "w.txt")
    with pytest.raises(SourceError, match="no such file"):
        load(tmp_path / "nope.safetensors")
    with pytest.raises(SourceError, match="cannot read weights from a int"):
        load(3)


def test_legacy_torch_format_reads_and_truncation_is_not_called_unsafe(tmp_path, state):
    path = tmp_path / "legacy.pth"
    torch.save(state, path, _use_new_zipfile_serialization=False)  # no mmap possible: read whole
    assert_same(load(path), state)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(SourceError, match="legacy.pth.*truncated") as info:
        load(path)
    assert not isinstance(info.value, UnsafePickleError)
