"""``hf:ORG/NAME[@REVISION]`` sources on a real hub cache layout, offline; no network in any test."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import kcomplexity as kc
from hub_cache import add_revision
from kcomplexity.errors import SourceError

REPO = "tiny-org/gpt2-steps"
STEPS = (0, 1000, 20000)


def gpt2_folder(path, seed: int):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(seed)
    config = transformers.GPT2Config(vocab_size=96, n_embd=32, n_layer=2, n_head=2, n_positions=32,
                                     bos_token_id=0, eos_token_id=0)
    transformers.GPT2LMHeadModel(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return {s: gpt2_folder(tmp_path_factory.mktemp(f"step{s}"), seed=s) for s in STEPS}


@pytest.fixture
def cache(tmp_path, folders, monkeypatch):
    """A hub cache with revisions step0, step1000, step20000 (and main = step20000), offline."""
    root = tmp_path / "hub"
    for s, folder in folders.items():
        add_revision(root, REPO, f"step{s}", folder)
    add_revision(root, REPO, "main", folders[STEPS[-1]])
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return root


def test_a_revision_glob_is_a_series_with_steps_from_the_revision_names(cache, folders):
    df = kc.analyse(f"hf:{REPO}@step*", "raw|zstd-3", per="model", cache=False, progress=False)
    assert df["step"].tolist() == list(STEPS)
    assert df["checkpoint"].tolist() == [f"step{s}" for s in STEPS]
    direct = [kc.analyse(str(folders[s]), "raw|zstd-3", per="model", cache=False, progress=False)["bits"].item()
              for s in STEPS]
    assert df["bits"].tolist() == direct  # the snapshots hold the same bytes as the folders they came from
    assert len(set(direct)) == 3


def test_a_list_of_revisions_and_the_cli_option_give_the_same_series(cache, tmp_path, capsys):
    from kcomplexity.cli import main

    listed = kc.analyse(f"hf:{REPO}@step20000,step0", "raw|zstd-3", cache=False, progress=False)
    assert sorted(set(listed["step"])) == [0, 20000]
    out = tmp_path / "r.csv"
    assert main(["analyse", f"hf:{REPO}", "--revisions", "step0,step20000", "-e", "raw|zstd-3", "--no-cache",
                 "-q", "--out", str(out)]) == 0
    import pandas as pd
    table = pd.read_csv(out)
    assert table["bits"].tolist() == listed["bits"].tolist() and table["step"].tolist() == listed["step"].tolist()


def test_load_reads_one_revision_bit_for_bit(cache, folders):
    hub = kc.load(f"hf:{REPO}@step1000")
    local = kc.load(str(folders[1000]))
    assert list(hub) == list(local)
    for name in local:
        assert hub[name].tobytes() == local[name].tobytes()
    main = kc.load(f"hf:{REPO}")  # no revision: main
    assert main["transformer.h.0.attn.c_attn.weight"].tobytes() == \
        kc.load(str(folders[20000]))["transformer.h.0.attn.c_attn.weight"].tobytes()


def test_random_init_and_compare_take_an_hf_source(cache):
    reference = kc.variants.initialise(f"hf:{REPO}@step0", seed=3)
    assert reference.kind.startswith("hf-config:GPT2LMHeadModel")
    again = kc.variants.random_init(f"hf:{REPO}@step0", seed=3)
    name = "transformer.h.1.mlp.c_fc.weight"
    assert np.array_equal(reference.weights[name], again[name])
    table = kc.compare({"trained": f"hf:{REPO}@step20000"}, "raw|zstd-3", seeds=(0, 1), min_ndim=2)
    assert table["reference_kind"].iloc[0].startswith("hf-config:GPT2LMHeadModel")


def test_offline_a_missing_revision_names_the_cache_folder_and_hf_hub_offline(cache):
    with pytest.raises(SourceError) as err:
        kc.load(f"hf:{REPO}@step5")
    message = str(err.value)
    assert str(cache / "models--tiny-org--gpt2-steps") in message and "HF_HUB_OFFLINE" in message
    with pytest.raises(SourceError, match="HF_HUB_OFFLINE"):
        kc.load("hf:other-org/absent")
    with pytest.raises(SourceError, match="no revision matches"):
        kc.analyse(f"hf:{REPO}@epoch*", "raw|zstd-3", cache=False)


def test_online_a_missing_revision_is_downloaded_by_the_hub_and_a_cached_one_is_not(cache, folders, monkeypatch):
    import huggingface_hub

    calls = []
    real = huggingface_hub.snapshot_download

    def fake(repo_id, *, revision, cache_dir, local_files_only=False, allow_patterns=None):
        if local_files_only:
            return real(repo_id, revision=revision, cache_dir=cache_dir, local_files_only=True,
                        allow_patterns=allow_patterns)
        calls.append((repo_id, revision, tuple(allow_patterns)))  # the hub's download, done here from a folder
        return str(add_revision(cache, repo_id, revision, folders[0]))

    def listing(self, repo_id, revision):
        return sorted(p.name for p in folders[0].iterdir()) + ["README.md", "onnx/model.onnx"]

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", listing)
    kc.load(f"hf:{REPO}@step1000")
    assert calls == []  # the cache comes first
    w = kc.load(f"hf:{REPO}@step7")
    assert calls == [(REPO, "step7", ("model.safetensors", "config.json"))]  # the weights and config, nothing else
    assert w["lm_head.weight" if "lm_head.weight" in w else "transformer.wte.weight"].shape == (96, 32)


def test_a_snapshot_link_leaving_the_repository_folder_is_refused(cache, tmp_path):
    outside = tmp_path / "elsewhere.safetensors"
    outside.write_bytes(b"x")
    snapshot = next((cache / "models--tiny-org--gpt2-steps" / "snapshots").iterdir())
    target = snapshot / "model.safetensors"
    commit = snapshot.name
    rev = next(r for r in (cache / "models--tiny-org--gpt2-steps" / "refs").iterdir() if r.read_text() == commit)
    target.unlink()
    target.symlink_to(outside)
    with pytest.raises(SourceError, match="a link that leaves the repository.s cache folder"):
        kc.load(f"hf:{REPO}@{rev.name}")


@pytest.mark.parametrize("source, message", [
    ("hf:", "not a Hugging Face model id"),
    ("hf:a/b//c", "not a file path inside the repository"),
    ("hf:../x", "not a Hugging Face model id"),
    ("hf:org/name@../../etc", "not a branch, tag or commit"),
    ("hf:org/name@/abs", "not a branch, tag or commit"),
    ("hf:org/name@a,", "not a branch, tag or commit"),
    ("hf:org/name@step*,step1", "either one revision glob"),
])
def test_malformed_specs_are_refused_before_any_lookup(source, message, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceError, match=message):
        kc.load(source)


def test_a_damaged_ref_is_refused(cache):
    (cache / "models--tiny-org--gpt2-steps" / "refs" / "step0").write_text("../../../../etc")
    with pytest.raises(SourceError, match="not a 40-digit commit hash"):
        kc.load(f"hf:{REPO}@step0")


def test_a_series_of_numpy_safetensors_snapshots_needs_no_torch(tmp_path, monkeypatch):
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    for step in (5, 50):
        folder = tmp_path / f"src{step}"
        folder.mkdir()
        save_file({"w": rng.standard_normal((16, 16)).astype(np.float32)}, str(folder / "model.safetensors"))
        (folder / "config.json").write_text(json.dumps({"model_type": "mlp"}))
        add_revision(tmp_path / "hub", "org/mlp", f"checkpoint-{step}", folder)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    df = kc.analyse("hf:org/mlp@checkpoint-*", "raw|zstd-3", cache=False, progress=False)
    assert df["step"].tolist() == [5, 50]
    assert df["bits"].tolist() == [kc.estimate(kc.load(str(tmp_path / f"src{s}"))["w"], "raw|zstd-3").bits
                                   for s in (5, 50)]


def test_one_file_of_a_repository_such_as_a_gguf_is_read_and_a_series_over_revisions(tmp_path, monkeypatch):
    gguf = pytest.importorskip("gguf")
    for step in (10, 20):
        folder = tmp_path / f"q{step}"
        folder.mkdir()
        writer = gguf.GGUFWriter(str(folder / "model.Q8_0.gguf"), "llama")
        w = np.full((4, 32), step / 100, np.float32)
        writer.add_tensor("w", gguf.quants.quantize(w, gguf.GGMLQuantizationType.Q8_0),
                          raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        (folder / "README.md").write_text("a GGUF repository")
        add_revision(tmp_path / "hub", "org/m-GGUF", f"step{step}", folder)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    w = kc.load("hf:org/m-GGUF/model.Q8_0.gguf@step20")
    assert w["w"].tobytes() == kc.load(tmp_path / "q20" / "model.Q8_0.gguf")["w"].tobytes()
    df = kc.analyse("hf:org/m-GGUF/model.Q8_0.gguf@step*", "raw|zstd-3", cache=False, progress=False)
    assert df["step"].tolist() == [10, 20] and df["tensor"].tolist() == ["w", "w"]
    with pytest.raises(SourceError, match="lacks model.Q4_0.gguf"):
        kc.load("hf:org/m-GGUF/model.Q4_0.gguf@step10")
    with pytest.raises(SourceError, match="not a file path inside the repository"):
        kc.load("hf:org/m-GGUF/../x.gguf@step10")
    with pytest.raises(SourceError, match=r"name one, hf:org/m-GGUF/model.Q8_0.gguf@step10"):
        kc.load("hf:org/m-GGUF@step10")  # the snapshot is no model folder
