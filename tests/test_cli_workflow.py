"""A new user's path through the command line: variants from the shell, plots of one model,
pareto with a metrics file, no empty figure (issue 22)."""
import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

import kcomplexity as kc
from kcomplexity import cli, plot


@pytest.fixture
def bert(request):
    """The config-built BERT folder (conftest); it needs transformers, which the torch-free CI lacks."""
    pytest.importorskip("transformers")
    return request.getfixturevalue("bert_dir")


@pytest.fixture
def checkpoint(tmp_path):
    """One checkpoint without a step: no step in its name or metadata."""
    rng = np.random.default_rng(0)
    return kc.save({"fc1.weight": rng.standard_normal((16, 8)).astype(np.float32),
                    "fc1.bias": rng.standard_normal(16).astype(np.float32),
                    "fc2.weight": rng.standard_normal((4, 16)).astype(np.float32)}, tmp_path / "final.safetensors")


def _bars(image) -> int:
    """A drawn figure is not blank: count the distinct colours (bars, text) in the PNG."""
    pixels = imread(image)[..., :3].reshape(-1, 3)
    return len(np.unique((pixels * 255).astype(np.uint8), axis=0))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_layers_plot_of_one_checkpoint(checkpoint, tmp_path, suffix, monkeypatch):
    table = tmp_path / f"one{suffix}"
    assert cli.main(["estimate", str(checkpoint), "-e", "raw|lzma-9", "--out", str(table), "--no-cache", "-q"]) == 0
    assert kc.analysis.read_table(table)["step"].isna().all()
    captured = {}
    draw = plot.layer_bars
    monkeypatch.setattr(kc.plot, "layer_bars", lambda *a, **k: captured.setdefault("fig", draw(*a, **k)))
    image = tmp_path / "layers.png"
    assert cli.main(["plot", str(table), "--kind", "layers", "--out", str(image)]) == 0
    ax = captured["fig"].axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fc1.bias", "fc1.weight", "fc2.weight"]
    expected = kc.analyse(checkpoint, "raw|lzma-9", cache=False)["bits_per_param"].to_numpy()
    np.testing.assert_allclose([p.get_height() for p in ax.patches], expected)
    assert ax.get_title() == "raw|lzma-9 (final.safetensors)" and _bars(image) > 10


def test_layers_plot_refuses_what_it_cannot_draw(checkpoint, tmp_path, capsys):
    compare_table = tmp_path / "variants.csv"
    assert cli.main(["compare", f"trained={checkpoint}", "-e", "raw|lzma-9", "--seeds", "0", "--no-shuffle",
                     "--out", str(compare_table)]) == 0
    capsys.readouterr()
    assert cli.main(["plot", str(compare_table), "--kind", "layers", "--out", str(tmp_path / "x.png")]) == 1
    assert "kcomplexity estimate CHECKPOINT --out" in capsys.readouterr().err
    one = tmp_path / "one.csv"
    assert cli.main(["estimate", str(checkpoint), "--out", str(one), "--no-cache", "-q"]) == 0
    capsys.readouterr()
    assert cli.main(["plot", str(one), "--kind", "steps", "--out", str(tmp_path / "s.png")]) == 1
    assert "nothing to draw" in capsys.readouterr().err and not (tmp_path / "s.png").exists()
    skipped = pd.DataFrame({"tensor": ["b"], "estimator": ["sign|bdm"], "bits_per_param": [np.nan], "step": [1]})
    with pytest.raises(kc.KComplexityError, match="nothing to draw"):
        plot.layer_bars(skipped)


def test_variant_then_compare_from_the_shell(bert, tmp_path, capsys):
    """`kcomplexity variant momos` writes a checkpoint `kcomplexity compare` reads, bit for bit the API's."""
    momos, pruned = tmp_path / "momos.safetensors", tmp_path / "pruned.safetensors"
    assert cli.main(["variant", "momos", str(bert), "--capacity", "0.05", "--out", str(momos)]) == 0
    assert cli.main(["variant", "prune-magnitude", str(bert), "--sparsity", "0.5", "--out", str(pruned)]) == 0
    api = kc.variants.momos(bert, s=4, capacity=0.05).weights
    written = kc.load(momos)
    assert sorted(written) == sorted(api)
    assert all(written[n].tobytes() == api[n].tobytes() for n in api)
    source, cut = kc.load(bert), kc.load(pruned)
    assert all(np.array_equal(cut[n], source[n]) for n in source if source[n].ndim < 2)  # norms, biases kept
    table = tmp_path / "variants.csv"
    assert cli.main(["compare", f"trained={bert}", f"momos={momos}", f"pruned={pruned}", "-e", "raw|lzma-9",
                     "--seeds", "0", "--out", str(table)]) == 0
    out = pd.read_csv(table).set_index("variant")
    assert out.loc["momos", "ratio_to_reference"] < 0.5 < out.loc["trained", "ratio_to_reference"]
    assert "hf-config:BertForMaskedLM" in capsys.readouterr().out


@pytest.mark.parametrize("kind,options", [
    ("prune-pq", []), ("prune-lq", ["--eps", "0.5", "--scope", "layer"]), ("quantize", ["--bits", "4"]),
    ("random-init", ["--seed", "3"]), ("shuffle", ["--seed", "3"])])
def test_every_variant_kind_matches_the_api(checkpoint, tmp_path, kind, options):
    out = tmp_path / "v.safetensors"
    assert cli.main(["variant", kind, str(checkpoint), *options, "--out", str(out)]) == 0
    api = {"prune-pq": lambda: kc.variants.prune_pq(checkpoint).weights,
           "prune-lq": lambda: kc.variants.prune_lq(checkpoint, eps=0.5, scope="layer").weights,
           "quantize": lambda: kc.variants.quantize(checkpoint, bits=4),
           "random-init": lambda: kc.variants.random_init(checkpoint, seed=3),
           "shuffle": lambda: kc.variants.shuffle(checkpoint, seed=3)}[kind]()
    written = kc.load(out)
    assert all(written[n].tobytes() == api[n].tobytes() for n in api) and len(written) == len(api)


def test_variant_bad_input_is_a_user_error(checkpoint, tmp_path, capsys):
    assert cli.main(["variant", "momos", str(checkpoint), "--out", str(tmp_path / "m.pt")]) == 1
    assert ".safetensors" in capsys.readouterr().err
    assert cli.main(["variant", "prune-magnitude", str(checkpoint), "--sparsity", "0.5", "--include", "nope*",
                     "--out", str(tmp_path / "p.safetensors")]) == 1
    assert "--min-ndim 1" in capsys.readouterr().err


def test_pareto_takes_accuracy_from_a_metrics_file(checkpoint, tmp_path, monkeypatch):
    table = tmp_path / "variants.csv"
    quantised = kc.save(kc.variants.quantize(checkpoint, bits=4), tmp_path / "q4.safetensors")
    assert cli.main(["compare", f"trained={checkpoint}", f"q4={quantised}", "-e", "raw|lzma-9", "--seeds", "0",
                     "--no-shuffle", "--out", str(table)]) == 0
    metrics = tmp_path / "accuracy.json"
    metrics.write_text(json.dumps({"trained": {"accuracy": 0.9}, "q4": {"accuracy": 0.8}}))
    captured = {}
    draw = plot.pareto
    monkeypatch.setattr(kc.plot, "pareto", lambda *a, **k: captured.setdefault("fig", draw(*a, **k)))
    assert cli.main(["plot", str(table), "--kind", "pareto", "--metrics", str(metrics),
                     "--out", str(tmp_path / "p.png")]) == 0
    points = [(c.lines[0].get_xdata()[0], c.lines[0].get_ydata()[0]) for c in captured["fig"].axes[0].containers]
    bits = pd.read_csv(table).set_index("variant")["bits"]
    assert sorted(points) == sorted([(bits["q4"], 0.8), (bits["trained"], 0.9)])  # one marker per variant
    csv = tmp_path / "accuracy.csv"
    pd.DataFrame({"variant": ["trained"], "accuracy": [0.9]}).to_csv(csv, index=False)
    assert cli.main(["plot", str(table), "--kind", "pareto", "--metrics", str(csv), "--out", str(tmp_path / "p2.png")]) == 0
    assert cli.main(["plot", str(table), "--kind", "pareto", "--metrics", str(tmp_path / "none.json"),
                     "--out", str(tmp_path / "p3.png")]) == 1


def test_pareto_of_a_series_with_its_metrics(tmp_path, monkeypatch):
    """data/mlp_baseline's metrics.json carries accuracy per step: the analyse table plots as is."""
    from pathlib import Path

    series = Path(__file__).resolve().parent.parent / "data" / "mlp_baseline"
    table = tmp_path / "series.csv"
    assert cli.main(["analyse", str(series), "-e", "raw|zstd-3", "--per", "model", "--out", str(table),
                     "--no-cache", "-q"]) == 0
    assert cli.main(["plot", str(table), "--kind", "pareto", "--out", str(tmp_path / "p.png")]) == 0
    no_accuracy = pd.read_csv(table).drop(columns="accuracy")
    no_accuracy.to_csv(table, index=False)
    assert cli.main(["plot", str(table), "--kind", "pareto", "--out", str(tmp_path / "q.png")]) == 1
    assert cli.main(["plot", str(table), "--kind", "pareto", "--metrics", str(series / "metrics.json"),
                     "--out", str(tmp_path / "q.png")]) == 0


def test_save_writes_what_load_reads_bit_for_bit(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    from kcomplexity.arrays import BFLOAT16

    rng = np.random.default_rng(1)
    weights = {"w": rng.standard_normal((3, 5)).astype(BFLOAT16), "n": np.arange(4, dtype=np.int64),
               "h": np.array([np.inf, -0.0, 1.5], np.float16)}
    path = kc.save(weights, tmp_path / "w.safetensors", metadata={"note": "x"})
    back = kc.load(path, floats_only=False)
    assert {n: (back[n].dtype, back[n].tobytes()) for n in weights} == \
        {n: (x.dtype, x.tobytes()) for n, x in weights.items()}
    from safetensors import safe_open

    assert load_file(path)["w"].dtype == torch.bfloat16
    with safe_open(path, "np") as handle:
        assert handle.metadata() == {"note": "x"}
    module = torch.nn.Linear(3, 2)
    from_module = kc.load(kc.save(module, tmp_path / "m.safetensors"))
    assert np.array_equal(from_module["weight"], module.weight.detach().numpy())
    with pytest.raises(kc.KComplexityError, match="m.safetensors"):
        kc.save(weights, tmp_path / "m.pt")


def test_estimate_rows_fit_120_columns_and_notes_name_cli_flags(bert, capsys):
    assert cli.main(["estimate", str(bert), "-e", "bitplanes8|bdm2d-tile64", "-e", "fields|zstd-19",
                     "--no-cache", "-q"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert max(map(len, out)) <= 120 and sum("bitplanes8|bdm2d-tile64" in line for line in out) > 10
    notes = " ".join(line.strip() for line in out[out.index(next(x for x in out if x.startswith("skipped by "))):])
    assert "'-recursive'" in notes and "(spec suffix" in notes  # the CLI's way, not partition='recursive' alone
    assert "bert.embeddings.LayerNorm.weight" in notes  # skipped 1-D tensors, named once below the table


def test_analyse_without_out_prints_model_totals(capsys):
    from pathlib import Path

    series = Path(__file__).resolve().parent.parent / "data" / "mlp_baseline"
    assert cli.main(["analyse", str(series), "-e", "raw|zstd-3", "--no-cache", "-q"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("54 rows over 9 checkpoint(s)")
    totals = kc.analysis.model_totals(kc.analyse(series, "raw|zstd-3", cache=False))
    assert len(out) == 2 + len(totals) and out[1].split() == ["step", "estimator", "bits", "bits_per_param"]
    last = out[-1].split()
    assert last[:2] == ["8", "raw|zstd-3"] and float(last[2]) == pytest.approx(totals["bits"].iloc[-1], rel=1e-3)


def test_progress_counts_whole_rows_labelled_by_the_subcommand(checkpoint, monkeypatch):
    from kcomplexity.analysis import _analyse

    labels = []
    execute = _analyse.execute
    monkeypatch.setattr(_analyse, "execute", lambda *a: labels.append(a[-1]) or execute(*a))
    monkeypatch.setattr(cli.sys.stderr, "isatty", lambda: True, raising=False)
    assert cli.main(["estimate", str(checkpoint), "--no-cache"]) == 0
    assert labels == ["estimate"]

    class Bar:
        n, postfix = 0, ""

        def set_postfix_str(self, text, refresh=True):
            self.postfix = text

        def update(self, k):
            pass

    bar = Bar()
    state = _analyse._BarState(bar, [3, 1])
    state.advance(0, 0.5)
    state.advance(0, 0.99)
    assert (bar.n, bar.postfix) == (0, "running 49%")  # 1.49 of job 0's 3 rows: one finished, half of the next
    state.finish(1)
    assert bar.n == 1 and isinstance(bar.n, int)
    state.finish(0)
    assert (bar.n, bar.postfix) == (4, "")
