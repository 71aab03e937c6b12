"""The command line: subcommands, written tables, exit codes 0/1/2/130."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
torch = pytest.importorskip("torch")  # torch-free CI (.ci/run) skips this module
from safetensors.torch import save_file

import kcomplexity
from kcomplexity import cli


@pytest.fixture
def series(tmp_path):
    g = torch.Generator().manual_seed(0)
    run = tmp_path / "run"
    run.mkdir()
    for step in (0, 100):
        save_file({"fc.weight": torch.randn(8, 8, generator=g), "fc.bias": torch.randn(8, generator=g)},
                  run / f"step_{step}.safetensors")
    return run


def test_estimate_prints_the_bits_of_each_tensor(series, capsys):
    path = series / "step_100.safetensors"
    assert cli.main(["estimate", str(path), "-e", "raw|lzma-9", "--no-cache", "-q"]) == 0
    out = capsys.readouterr().out
    expected = kcomplexity.estimate(kcomplexity.load(path)["fc.weight"], "raw|lzma-9").bits
    line = next(line for line in out.splitlines() if "fc.weight" in line)
    numbers = []
    for token in line.split():
        try:
            numbers.append(float(token))
        except ValueError:
            pass
    assert expected in numbers and 64 in numbers  # bits and n_params


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_analyse_writes_the_same_table_as_the_api(series, tmp_path, suffix):
    out = tmp_path / f"results{suffix}"
    argv = ["analyse", str(series), "-e", "raw|zstd-3", "-e", "fields|zstd-3", "--per", "model", "--delta",
            "--out", str(out), "--no-cache", "-q"]
    assert cli.main(argv) == 0
    table = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    api = kcomplexity.analyse(series, ["raw|zstd-3", "fields|zstd-3"], per="model", delta=True, cache=False)
    assert table.estimator.tolist() == api.estimator.tolist()
    assert table.bits.tolist() == api.bits.tolist()
    assert table.step.tolist() == [0, 0, 100, 100, 100, 100]


def test_analyse_with_workers_and_cache_path(series, tmp_path):
    cache = tmp_path / "c.sqlite"
    out = tmp_path / "r.csv"
    argv = ["analyse", str(series), "--workers", "2", "--cache", str(cache), "--min-ndim", "2", "--out", str(out)]
    assert cli.main(argv) == 0
    table = pd.read_csv(out)
    assert table.tensor.unique().tolist() == ["fc.weight"] and table.estimator.unique().tolist() == ["raw|zstd-3"]
    assert cache.is_file()


def test_user_error_exits_1_with_message_and_no_traceback(tmp_path):
    missing = tmp_path / "missing.safetensors"
    proc = subprocess.run([sys.executable, "-m", "kcomplexity.cli", "estimate", str(missing)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "kcomplexity: error:" in proc.stderr and "no such file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_spec_and_bad_output_are_user_errors(series, tmp_path, capsys):
    assert cli.main(["estimate", str(series), "-e", "raw|nope", "--no-cache"]) == 1
    assert "unknown coder 'nope'" in capsys.readouterr().err
    assert cli.main(["analyse", str(series), "--out", str(tmp_path / "r.xlsx"), "--no-cache", "-q"]) == 1
    assert "must end in .parquet or .csv" in capsys.readouterr().err


def test_usage_errors_exit_2_and_help_exits_0(capsys):
    assert cli.main([]) == 2
    assert cli.main(["plot", "t.csv", "--out", "x.png"]) == 2  # --kind is required
    assert "--kind" in capsys.readouterr().err
    assert cli.main(["--help"]) == 0
    assert "exit codes" in capsys.readouterr().out


def test_interrupt_exits_130(monkeypatch, series, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(kcomplexity.analysis, "analyse", interrupted)
    assert cli.main(["estimate", str(series / "step_0.safetensors")]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_every_subcommand_is_registered_once():
    names = [a.__name__ for a in cli.SUBCOMMANDS]
    assert len(names) == len(set(names)) and {"add_estimate_parser", "add_analyse_parser"} <= set(names)
    np.testing.assert_equal(cli.build_parser().parse_args(["analyze", "x", "--out", "y.csv"]).func, cli.run_analyse)


def test_compare_writes_the_same_table_as_the_api(series, tmp_path):
    a, b = series / "step_0.safetensors", series / "step_100.safetensors"
    out = tmp_path / "cmp.csv"
    args = ["compare", f"init={a}", f"trained={b}", "-e", "raw|lzma-9", "--seeds", "0", "1", "--out", str(out)]
    assert cli.main(args) == 0
    expected = kcomplexity.compare({"init": kcomplexity.load(a), "trained": kcomplexity.load(b)}, ["raw|lzma-9"],
                                   seeds=(0, 1))
    got = pd.read_csv(out)
    assert got["variant"].tolist() == ["random_init", "init", "trained"]
    assert np.allclose(got["bits"], expected["bits"]) and np.allclose(got["ratio_to_shuffle"],
                                                                       expected["ratio_to_shuffle"])


def test_compare_rejects_a_variant_without_a_file(capsys):
    assert cli.main(["compare", "trained"]) == 1
    assert "NAME=PATH" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["steps", "layers"])
def test_plot_draws_from_an_analyse_table(series, tmp_path, kind):
    table = tmp_path / "r.parquet"
    assert cli.main(["analyse", str(series), "-e", "raw|zstd-3", "--out", str(table), "--no-cache", "-q"]) == 0
    image = tmp_path / f"{kind}.png"
    assert cli.main(["plot", str(table), "--kind", kind, "--out", str(image)]) == 0
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_of_a_missing_table_is_a_user_error(tmp_path, capsys):
    assert cli.main(["plot", str(tmp_path / "none.csv"), "--kind", "steps", "--out", str(tmp_path / "x.png")]) == 1
    assert "no result table" in capsys.readouterr().err


def test_compare_a_hugging_face_folder_per_plane(bert_dir, tmp_path, capsys):
    out = tmp_path / "planes.csv"
    args = ["compare", f"pretrained={bert_dir}", "-e", "bitplanes8|bdm2d", "--min-ndim", "2", "--seeds", "0", "1",
            "--out", str(out)]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("reference: hf-config:BertForMaskedLM, seeds 0 1") and "plane_7" in printed
    got = pd.read_csv(out)
    assert list(got.loc[got.variant == "pretrained", "stream"]) == ["total"] + [f"plane_{i}" for i in range(8)]
    expected = kcomplexity.compare({"pretrained": bert_dir}, ["bitplanes8|bdm2d"], seeds=(0, 1), min_ndim=2)
    assert np.allclose(got["bits"], expected["bits"]) and np.allclose(got["ratio_to_shuffle"],
                                                                       expected["ratio_to_shuffle"])


def test_compare_init_rule_for_a_bare_checkpoint(bert_dir, tmp_path, capsys):
    out = tmp_path / "bare.csv"
    args = ["compare", f"w={bert_dir / 'model.safetensors'}", "-e", "q8|lzma-9", "--init", "matched", "--seeds", "0",
            "--out", str(out)]
    assert cli.main(args) == 0
    assert (pd.read_csv(out)["reference_kind"] == "rules:matched").all()
    assert cli.main(["compare", "w=x.safetensors", "--init", "xavier"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_readme_pretrained_vs_initialisation_commands_on_gpt2(gpt2_dir, tmp_path, capsys):
    table, figure = tmp_path / "planes.csv", tmp_path / "planes.png"
    assert cli.main(["compare", f"pretrained={gpt2_dir}", "-e", "bitplanes8|bdm2d", "--min-ndim", "2",
                     "--seeds", "0", "1", "--out", str(table)]) == 0
    got = pd.read_csv(table)
    assert (got["reference_kind"] == "hf-config:GPT2LMHeadModel").all() and (got["per"] == "matrix").all()
    planes = got[(got.variant == "pretrained") & (got.stream != "total")]
    assert len(planes) == 8 and planes["ratio_to_reference"].between(0.98, 1.02).all()   # an init vs its own kind
    assert cli.main(["plot", str(table), "--kind", "planes", "--out", str(figure)]) == 0
    assert figure.stat().st_size > 10_000


def test_python_dash_m_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "kcomplexity", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and kcomplexity.__version__ in out.stdout + out.stderr
