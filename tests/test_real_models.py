"""End to end on real architectures: tiny BERT, GPT-2 and LLaMA models built from configs
with ``transformers`` (no download), saved as Hugging Face folders (single file, sharded,
bf16), a hand-made sharded bf16 checkpoint with LLM layer names, and checkpoint series."""
import json
import os
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import kcomplexity as kc
from kcomplexity import cli
from kcomplexity.errors import InputError, SkippedTensorsWarning

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
from safetensors import safe_open  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

LOSSLESS = ["raw|zstd-3", "fields|entropy", "fields|zstd-3", "motif-4", "entropy"]  # lzma-9: ~0.1 s a call
SPREAD = LOSSLESS + ["sign|bdm", "q8|lzma-9", "bitplanes8|bdm2d"]


def _n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())  # tied weights counted once


def _perturbed(model, scale: float, seed: int):
    copy = type(model)(model.config)
    copy.load_state_dict(model.state_dict())
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in copy.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))
    return copy


def _hand_bf16(folder, d=64, ff=176, vocab=300, layers=2):
    """A LLaMA-style bf16 checkpoint in two shards with a model.safetensors.index.json."""
    shapes = {"model.embed_tokens.weight": (vocab, d), "lm_head.weight": (vocab, d), "model.norm.weight": (d,)}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes |= {p + "self_attn.q_proj.weight": (d, d), p + "self_attn.k_proj.weight": (d // 2, d),
                   p + "self_attn.v_proj.weight": (d // 2, d), p + "self_attn.o_proj.weight": (d, d),
                   p + "mlp.gate_proj.weight": (ff, d), p + "mlp.up_proj.weight": (ff, d),
                   p + "mlp.down_proj.weight": (d, ff), p + "input_layernorm.weight": (d,),
                   p + "post_attention_layernorm.weight": (d,)}
    gen = torch.Generator().manual_seed(1)
    tensors = {n: (torch.ones(s) if len(s) == 1 else 0.02 * torch.randn(s, generator=gen)).to(torch.bfloat16)
               for n, s in shapes.items()}
    folder.mkdir()
    names = list(tensors)
    weight_map = {}
    for k, part in enumerate((names[: len(names) // 2], names[len(names) // 2:]), start=1):
        shard = f"model-0000{k}-of-00002.safetensors"
        save_file({n: tensors[n] for n in part}, str(folder / shard), metadata={"format": "pt"})
        weight_map |= dict.fromkeys(part, shard)
    total = sum(2 * t.numel() for t in tensors.values())
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    return shapes


def _trainer_run(model, out, steps=3):
    """A real 3-step AdamW fine-tune saved in the Hugging Face Trainer layout: checkpoint-N folders with
    optimizer state and trainer_state.json (fractional epochs), and the final model in the output folder."""
    model = _perturbed(model, 0.0, seed=0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    tokens = torch.randint(0, model.config.vocab_size, (4, 16), generator=torch.Generator().manual_seed(2))
    log = []
    for step in range(1, steps + 1):
        loss = model(input_ids=tokens, labels=tokens).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        log.append({"loss": loss.item(), "step": step, "epoch": step / steps})
        folder = out / f"checkpoint-{step}"
        model.save_pretrained(folder)
        torch.save(opt.state_dict(), folder / "optimizer.pt")
        (folder / "trainer_state.json").write_text(json.dumps(
            {"global_step": step, "epoch": step / steps, "log_history": log, "best_metric": None}))
    model.save_pretrained(out)


@pytest.fixture(scope="module")
def hf(tmp_path_factory):
    """Folders and the models they hold: name -> path, plus parameter counts."""
    root = tmp_path_factory.mktemp("hf")
    torch.manual_seed(0)
    bert = transformers.BertModel(transformers.BertConfig(
        vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
        max_position_embeddings=64))
    gpt2 = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=256, n_embd=64, n_layer=2, n_head=4, n_positions=64, bos_token_id=0, eos_token_id=0))
    llama = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=256, hidden_size=64, intermediate_size=176, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64))
    bert.save_pretrained(root / "bert")
    gpt2.save_pretrained(root / "gpt2")
    gpt2.save_pretrained(root / "gpt2_sharded", max_shard_size="50KB")
    llama.save_pretrained(root / "llama")
    llama.to(torch.bfloat16).save_pretrained(root / "llama_bf16")
    for step in (0, 10, 20):  # a short "fine-tune": each step moves every weight a little
        _perturbed(gpt2, 1e-3 * step / 10, seed=step).save_pretrained(root / "series" / f"checkpoint-{step}")
    for step in (1, 2):
        gpt2.save_pretrained(root / "same" / f"checkpoint-{step}")
    hand = _hand_bf16(root / "hand_bf16")
    _trainer_run(gpt2, root / "trainer_out")
    (root / "gpt2_bin").mkdir()
    torch.save(gpt2.state_dict(), root / "gpt2_bin" / "pytorch_model.bin")  # lm_head tied to wte, both saved
    return {"root": root, "bert": bert, "gpt2": gpt2, "llama": llama, "hand_shapes": hand}


def _checkpoint_names(folder) -> set[str]:
    names = set()
    for f in folder.glob("*.safetensors"):
        with safe_open(str(f), "np" if "bf16" not in folder.name else "pt") as fh:
            names |= set(fh.keys())
    return names


@pytest.mark.parametrize("name,model", [("bert", "bert"), ("gpt2", "gpt2"), ("gpt2_sharded", "gpt2"),
                                        ("llama", "llama"), ("llama_bf16", "llama")])
def test_load_gives_the_checkpoint_names_and_the_model_parameter_count(hf, name, model):
    folder = hf["root"] / name
    w = kc.load(folder)
    assert set(w) == _checkpoint_names(folder)
    assert sum(int(np.prod(w[n].shape)) for n in w) == _n_params(hf[model])
    assert {w[n].dtype for n in w} == ({np.dtype(ml_dtypes.bfloat16)} if "bf16" in name else {np.dtype("float32")})


def test_per_tensor_rows_match_the_checkpoint(hf):
    folder = hf["root"] / "llama"
    df = kc.analyse(folder, SPREAD, cache=False)
    names = _checkpoint_names(folder)
    assert len(df) == len(names) * len(SPREAD)
    for spec, rows in df.groupby("estimator"):
        assert set(rows.tensor) == names
        assert rows.n_params.sum() == _n_params(hf["llama"])
    measured = df[df.skipped.isna()]
    assert np.isfinite(measured.bits).all() and (measured.bits > 0).all()
    assert (df.skipped.notna() == df.bits.isna()).all()  # no NaN without a reason
    # only QuBD skips, and only 1-D tensors (RMSNorm weights) that hold no 4x4 block
    skipped = df[df.skipped.notna()]
    assert set(skipped.estimator) == {"bitplanes8|bdm2d"}
    assert all("x" not in s for s in skipped["shape"])
    assert (df[df.estimator.isin(kc.parse(s).spec for s in LOSSLESS)].lossless).all()
    assert not df[df.estimator.isin(["sign|bdm", "q8|lzma-9", "bitplanes8|bdm2d"])].lossless.any()


def test_llama_gqa_shapes_and_qubd_planes(hf):
    df = kc.analyse(hf["root"] / "llama", ["bitplanes8|bdm2d"], min_ndim=2, cache=False).set_index("tensor")
    cfg = hf["llama"].config
    kv = cfg.num_key_value_heads * cfg.hidden_size // cfg.num_attention_heads
    assert df.loc["model.layers.0.self_attn.k_proj.weight", "shape"] == f"{kv}x{cfg.hidden_size}"
    assert df.loc["model.layers.1.mlp.down_proj.weight", "shape"] == f"{cfg.hidden_size}x{cfg.intermediate_size}"
    assert df.skipped.isna().all()
    planes = df[[f"plane_{i}" for i in range(8)]].sum(axis=1)
    side = df.details.map(lambda d: json.loads(d)["side_bits"])
    np.testing.assert_allclose(planes + side, df.bits)


@pytest.mark.parametrize("name,bits_per_value", [("llama_bf16", 16), ("llama", 32), ("hand_bf16", 16)])
def test_raw_bits_are_the_native_width(hf, name, bits_per_value):
    df = kc.analyse(hf["root"] / name, ["raw|zstd-3", "fields|entropy"], cache=False)
    np.testing.assert_allclose(df.ratio * df.bits, bits_per_value * df.n_params)
    model = kc.analyse(hf["root"] / name, ["raw|zstd-3"], per="model", cache=False).iloc[0]
    assert model.n_params == df.n_params.sum() / 2
    np.testing.assert_allclose(model.ratio * model.bits, bits_per_value * model.n_params)


def test_hand_made_sharded_bf16_index(hf):
    folder = hf["root"] / "hand_bf16"
    shapes = hf["hand_shapes"]
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    w = kc.load(folder)
    assert {n: tuple(w[n].shape) for n in w} == shapes
    df = kc.analyse(folder, ["fields|entropy"], per="model", cache=False).iloc[0]
    assert df.n_params * 2 == index["metadata"]["total_size"]
    details = json.loads(df.details)
    # a bf16 field split: sign, exponent and one mantissa byte, each bounded by its raw width
    assert set(details["streams"]) == {"sign", "exponent", "mantissa_0"}
    assert details["streams"]["sign"] <= df.n_params + 1024
    assert df.bits_per_param < 16


@pytest.mark.parametrize("name", ["gpt2", "llama_bf16"])
def test_lossless_rows_verify(hf, name):
    w = kc.load(hf["root"] / name)
    picks = [n for n in w if "embed" in n or "wte" in n][:1] + [n for n in w if "norm" in n.lower() or ".ln_" in n][:1] \
        + [n for n in w if "attn" in n and w[n].ndim == 2][:1]
    assert len(picks) == 3
    for n in picks:
        for e in kc.estimate(w[n], LOSSLESS, verify=True):
            assert e.lossless
            streams = len(e.details.get("streams", {})) or 1
            assert e.details["verified_bits"] <= e.bits <= e.raw_bits + streams, (n, e.estimator)
            assert e.raw_bits == 8 * w[n].dtype.itemsize * w[n].size


def test_estimate_of_a_whole_model_is_its_per_model_row(hf):
    """A folder, a path or the loaded mapping: kc.estimate measures the model as one stream, the
    same bits as analyse(per="model"); a bare mapping handed to as_array is still refused."""
    folder = hf["root"] / "gpt2"
    row = kc.analyse(folder, "fields|entropy", per="model", cache=False)["bits"].item()
    assert kc.estimate(folder, "fields|entropy").bits == kc.estimate(kc.load(folder), "fields|entropy").bits == row
    assert [e.bits for e in kc.estimate(str(folder), ["fields|entropy"])] == [row]
    with pytest.raises(InputError, match="whole model"):
        kc.parse("raw|zstd-3").estimate(kc.load(folder))


def test_sharded_and_unsharded_copies_give_the_same_bits(hf):
    assert len(list((hf["root"] / "gpt2_sharded").glob("*.safetensors"))) > 1
    key = ["tensor", "estimator"]
    for per, specs in (("model", ["raw|zstd-3", "fields|entropy", "sign|bdm", "q8|lzma-9", "motif-4"]),
                       ("tensor", ["raw|zstd-3", "fields|entropy", "sign|bdm"])):
        a = kc.analyse(hf["root"] / "gpt2", specs, per=per, cache=False).sort_values(key).reset_index(drop=True)
        b = kc.analyse(hf["root"] / "gpt2_sharded", specs, per=per, cache=False).sort_values(key).reset_index(
            drop=True)
        assert (a[key] == b[key]).all().all() and len(a) == len(specs) * (1 if per == "model" else 28)
        np.testing.assert_array_equal(a.bits, b.bits)


def test_series_delta_workers_and_cached_rerun(hf, tmp_path, monkeypatch):
    cache = tmp_path / "cache.sqlite"
    specs = ["raw|zstd-3", "fields|entropy", "sign|bdm", "q8|zstd-3"]
    first = kc.analyse(hf["root"] / "series", specs, delta=True, workers=2, cache=cache)
    n_tensors = len(_checkpoint_names(hf["root"] / "series" / "checkpoint-0"))
    deltas = {"delta:raw|zstd-3", "delta:fields|entropy", "delta:sign|bdm"}  # none for lossy q8
    assert sorted(first.step.unique()) == [0, 10, 20]
    assert len(first) == 3 * n_tensors * len(specs) + 2 * n_tensors * len(deltas)
    assert set(first.estimator) - set(specs) == deltas
    assert not first[first.step == 0].estimator.str.startswith("delta:").any()
    # the perturbed series moves every weight: its XOR delta costs most of the raw bits
    totals = first.groupby(["step", "estimator"]).bits.sum()
    assert totals[(10, "delta:raw|zstd-3")] > 0.5 * totals[(10, "raw|zstd-3")]

    def not_from_cache(*args, **kwargs):
        raise AssertionError("measured again: the rerun should read every row from the cache")
    monkeypatch.setattr(kc.Pipeline, "estimate", not_from_cache)
    again = kc.analyse(hf["root"] / "series", specs, delta=True, workers=1, cache=cache)
    key = ["step", "tensor", "estimator"]
    a, b = first.sort_values(key).reset_index(drop=True), again.sort_values(key).reset_index(drop=True)
    assert (a[key] == b[key]).all().all()
    np.testing.assert_array_equal(a.bits, b.bits)
    np.testing.assert_array_equal(a.ratio, b.ratio)


def test_delta_of_identical_checkpoints_is_tiny(hf):
    df = kc.analyse(hf["root"] / "same", ["raw|zstd-3", "fields|entropy", "sign|bdm"], per="model",
                    delta=True, cache=False).set_index("estimator")
    n = _n_params(hf["gpt2"])
    assert (df.n_params == n).all()
    plain, delta = df[df.step == 2], df[df.index.str.startswith("delta:")]
    assert len(delta) == 3
    assert (delta.bits_per_param < 0.01).all() and (plain.loc[["raw|zstd-3", "fields|entropy"]].bits_per_param > 20).all()
    assert delta.loc["delta:sign|bdm", "bits"] == 0 and delta.loc["delta:sign|bdm", "ratio"] == np.inf


def test_compare_bits_equal_the_per_model_analysis(hf):
    specs = ["raw|lzma-9", "q8|lzma-9", "sign|bdm"]
    init = kc.load(hf["root"] / "series" / "checkpoint-0")
    later = kc.load(hf["root"] / "series" / "checkpoint-20")
    table = kc.compare({"init": init, "step20": later}, specs, reference="init", seeds=(0, 1)).set_index(
        ["variant", "estimator"])
    for variant, step in (("init", 0), ("step20", 20)):
        per_model = kc.analyse(hf["root"] / "series" / f"checkpoint-{step}", specs, per="model",
                               cache=False).set_index("estimator")
        for spec in specs:
            assert table.loc[(variant, spec), "bits"] == per_model.loc[spec, "bits"]
            assert table.loc[(variant, spec), "n_params"] == _n_params(hf["gpt2"])
    assert (table.loc["init"].ratio_to_reference == 1).all()
    # i.i.d.-like initial weights: shuffling them changes lzma bits by well under 1 %
    assert abs(table.loc[("init", "raw|lzma-9"), "ratio_to_shuffle"] - 1) < 0.01


def test_cli_analyse_compare_and_plot(hf, tmp_path, capsys):
    series, out = hf["root"] / "series", tmp_path / "r.parquet"
    argv = ["analyse", str(series), "--per", "model", "-e", "raw|zstd-3", "-e", "sign|bdm", "--delta",
            "--out", str(out), "--workers", "2", "-q", "--cache", str(tmp_path / "c.sqlite")]
    assert cli.main(argv) == 0
    import pandas as pd
    table = pd.read_parquet(out)
    api = kc.analyse(series, ["raw|zstd-3", "sign|bdm"], per="model", delta=True, cache=False)
    key = ["step", "estimator"]
    np.testing.assert_array_equal(table.sort_values(key).bits.values, api.sort_values(key).bits.values)
    assert cli.main(["plot", str(out), "--kind", "steps", "--out", str(tmp_path / "steps.png")]) == 0
    assert (tmp_path / "steps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert cli.main(["plot", str(out), "--kind", "layers", "--out", str(tmp_path / "layers.png")]) == 1
    assert "per-tensor rows" in capsys.readouterr().err and not (tmp_path / "layers.png").exists()
    cmp = tmp_path / "cmp.csv"
    assert cli.main(["compare", f"init={series / 'checkpoint-0'}", f"late={series / 'checkpoint-20'}",
                     "-e", "q8|lzma-9", "--reference", "init", "--seeds", "0", "--out", str(cmp)]) == 0
    rows = pd.read_csv(cmp).set_index("variant")
    assert rows.loc["init", "bits"] == api_bits(series / "checkpoint-0", "q8|lzma-9")
    assert cli.main(["plot", str(cmp), "--kind", "variants", "--out", str(tmp_path / "v.png")]) == 0


def api_bits(folder, spec):
    return kc.analyse(folder, [spec], per="model", cache=False).bits.iloc[0]


def test_a_trainer_output_folder(hf):
    out = hf["root"] / "trainer_out"
    df = kc.analyse(str(out / "checkpoint-*"), ["raw|zstd-3"], per="model", delta=True, cache=False)
    assert list(df[df.estimator == "raw|zstd-3"].step) == [1, 2, 3]  # global_step; fractional epochs are fine
    assert (df.n_params == _n_params(hf["gpt2"])).all()  # optimizer.pt beside the model is not read
    assert list(df[df.estimator == "delta:raw|zstd-3"].step) == [2, 3]
    with pytest.warns(SkippedTensorsWarning, match="checkpoint-1 .. checkpoint-3"):
        final = kc.analyse(out, ["raw|zstd-3"], per="model", cache=False)
    assert final.bits.iloc[0] == df[df.step == 3].set_index("estimator").loc["raw|zstd-3", "bits"]


def test_tied_weights_of_a_bin_checkpoint_count_once(hf):
    assert torch.load(hf["root"] / "gpt2_bin" / "pytorch_model.bin", weights_only=True).keys() >= {"lm_head.weight"}
    with pytest.warns(SkippedTensorsWarning, match="lm_head.weight = transformer.wte.weight"):
        w = kc.load(hf["root"] / "gpt2_bin")
    assert set(w) == _checkpoint_names(hf["root"] / "gpt2")  # as save_pretrained's safetensors (ties dropped)
    assert sum(w[n].size for n in w) == _n_params(hf["gpt2"])
    with pytest.warns(SkippedTensorsWarning):
        from_bin = kc.analyse(hf["root"] / "gpt2_bin", ["raw|zstd-3"], cache=False).set_index("tensor")
    from_st = kc.analyse(hf["root"] / "gpt2", ["raw|zstd-3"], cache=False).set_index("tensor")
    assert set(from_bin.index) == set(from_st.index)
    assert (from_bin.bits == from_st.bits[from_bin.index]).all()


def test_cli_warnings_are_one_line(hf):
    out = hf["root"] / "trainer_out"
    env = {**os.environ, "PYTHONPATH": str(Path(kc.__file__).parents[1])}
    run = subprocess.run([sys.executable, "-m", "kcomplexity.cli", "estimate", str(out), "-e", "raw|zstd-3",
                          "--per", "model", "--no-cache", "-q"], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0
    assert run.stderr.splitlines() == [
        f"kcomplexity: warning: trainer_out is a model folder and also holds 3 checkpoint folder(s) "
        f"(checkpoint-1 .. checkpoint-3): measuring the model folder only; pass '{out / 'checkpoint-'}*' "
        "to measure them as a series"]
