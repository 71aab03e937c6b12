"""analyse: known answers against estimate(), per-model order, metrics merge, delta, executors."""
import json
import pickle

import numpy as np
import pandas as pd
import pytest
torch = pytest.importorskip("torch")  # torch-free CI (.ci/run) skips this module
from safetensors.torch import save_file

import kcomplexity
from kcomplexity.analysis.delta import delta_spec, xor_delta
from kcomplexity import registry
from kcomplexity.coders import Coder
from kcomplexity.errors import InputError, KComplexityError, SpecError

SPECS = ["raw|zstd-3", "fields|zstd-3"]


def make_series(directory, n_checkpoints=3, seed=0, metrics=True):
    """epoch_XXXX.safetensors with a layer that drifts and a bias that never changes."""
    directory.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    w = {"layer.weight": torch.randn(8, 16, generator=g), "layer.bias": torch.randn(64, generator=g)}
    for epoch in range(n_checkpoints):
        save_file({k: v.clone() for k, v in w.items()}, directory / f"epoch_{epoch:04d}.safetensors")
        w["layer.weight"][:2] += 0.01 * torch.randn(2, 16, generator=g)
    if metrics:
        records = [{"step": 10 * e, "epoch": e, "accuracy": 0.5 + 0.1 * e, "loss": 1.0 / (e + 1)}
                   for e in range(n_checkpoints)]
        (directory / "metrics.json").write_text(json.dumps({"records": records, "meta": {}}))
    return directory


def read(directory, epoch, name):
    return kcomplexity.load(directory / f"epoch_{epoch:04d}.safetensors")[name]


def test_bits_equal_estimate_per_tensor(tmp_path):
    series = make_series(tmp_path / "run")
    df = kcomplexity.analyse(series, SPECS, cache=False)
    assert len(df) == 3 * 2 * 2
    assert list(df.columns[:13]) == ["checkpoint", "step", "tensor", "shape", "n_params", "estimator", "bits",
                                     "bits_per_param", "ratio", "lossless", "seconds", "skipped", "details"]
    row = df[(df.step == 10) & (df.tensor == "layer.weight") & (df.estimator == "fields|zstd-3")].iloc[0]
    expected = kcomplexity.estimate(read(series, 1, "layer.weight"), "fields|zstd-3")
    assert row.bits == expected.bits and row.ratio == expected.ratio and row["shape"] == "8x16"
    assert row.bits_per_param == expected.bits / 128 and bool(row.lossless)
    assert row.sign + row.exponent + row.mantissa_0 + row.mantissa_1 + row.mantissa_2 == row.bits  # stream columns


def test_bfloat16_checkpoint_is_measured_bit_exact(tmp_path):
    w = torch.randn(16, 16, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16)
    save_file({"w": w}, tmp_path / "bf16.safetensors")
    df = kcomplexity.analyse(tmp_path / "bf16.safetensors", "raw|zstd-3", cache=tmp_path / "c.sqlite")
    assert df.bits.iloc[0] == kcomplexity.estimate(w, "raw|zstd-3").bits and df.n_params.iloc[0] == 256


def test_metrics_are_merged_on_step(tmp_path):
    df = kcomplexity.analyse(make_series(tmp_path / "run"), "raw|zstd-3", cache=False)
    by_step = df.groupby("step")[["accuracy", "loss", "epoch"]].first()
    assert by_step.loc[20].tolist() == pytest.approx([0.7, 1 / 3, 2])
    assert df.step.tolist() == [0, 0, 10, 10, 20, 20]


def test_per_model_concatenates_in_natural_name_order():
    weights = {"layers.10.w": np.arange(6, dtype=np.float32), "layers.2.w": -np.arange(4, dtype=np.float32),
               "bias": np.ones(3, np.float32)}
    df = kcomplexity.analyse(weights, "raw|lzma-9", per="model", cache=False)
    joined = np.concatenate([weights["bias"], weights["layers.2.w"], weights["layers.10.w"]])
    assert df.tensor.tolist() == ["<model>"] and df.n_params.tolist() == [13]
    assert df.bits.iloc[0] == kcomplexity.estimate(joined, "raw|lzma-9").bits


def test_qubd_plane_columns_add_up(rng):
    w = rng.standard_normal((16, 32)).astype(np.float32)
    df = kcomplexity.analyse({"w": w}, "bitplanes4|entropy", cache=False)
    planes = df[[f"plane_{i}" for i in range(4)]].iloc[0]
    assert planes.sum() + json.loads(df.details.iloc[0])["side_bits"] == pytest.approx(df.bits.iloc[0])


def test_module_and_list_of_state_dicts():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    df = kcomplexity.analyse([a.state_dict(), b.state_dict()], "raw|zstd-3", cache=False)
    assert df.step.tolist() == [0, 0, 1, 1] and df.checkpoint.tolist() == ["0", "0", "1", "1"]
    single = kcomplexity.analyse(b, "raw|zstd-3", cache=False)
    assert single.bits.tolist() == df.bits.iloc[2:].tolist()


def test_several_series_get_a_series_column(tmp_path):
    make_series(tmp_path / "runs" / "baseline", 2, seed=0)
    make_series(tmp_path / "runs" / "momos", 2, seed=1)
    df = kcomplexity.analyse(tmp_path / "runs", "raw|zstd-3", cache=False)
    assert df.columns[0] == "series"
    assert df.groupby("series").size().to_dict() == {"baseline": 4, "momos": 4}
    assert "series" not in kcomplexity.analyse(tmp_path / "runs" / "momos", "raw|zstd-3", cache=False).columns


def test_delta_rows_bound_the_xor_of_consecutive_checkpoints(tmp_path):
    series = make_series(tmp_path / "run")
    df = kcomplexity.analyse(series, ["raw|zstd-3", "q8|entropy"], delta=True, cache=False)
    delta = df[df.estimator == "delta:raw|zstd-3"]
    assert delta.step.tolist() == [10, 10, 20, 20]  # none for the first checkpoint; none for the lossy spec
    expected = kcomplexity.estimate(xor_delta(read(series, 2, "layer.weight"), read(series, 1, "layer.weight")),
                                    "raw|zstd-3", allow_nonfinite=True).bits
    assert delta[(delta.step == 20) & (delta.tensor == "layer.weight")].bits.iloc[0] == expected
    bias = df[(df.tensor == "layer.bias") & (df.step == 20)].set_index("estimator").bits
    assert bias["delta:raw|zstd-3"] < bias["raw|zstd-3"] / 5  # unchanged tensor: all-zero XOR words


def test_xor_delta_is_invertible_and_lossy_delta_refused(rng):
    a, b = rng.standard_normal(50).astype(np.float32), rng.standard_normal(50).astype(np.float32)
    d = xor_delta(a, b)
    assert np.array_equal(xor_delta(d, b), a)
    with pytest.raises(SpecError, match="lossless"):
        delta_spec("q8|zstd-3")
    with pytest.raises(InputError, match=r"delta=True \(command line: --delta\) needs at least one lossless"):
        kcomplexity.analyse({"w": a}, "q8|entropy", delta=True, cache=False)


def test_delta_skips_a_tensor_whose_shape_changed():
    steps = [{"w": np.zeros(4, np.float32)}, {"w": np.zeros(5, np.float32)}]
    df = kcomplexity.analyse(steps, "raw|zstd-3", delta=True, cache=False)
    row = df[df.estimator == "delta:raw|zstd-3"].iloc[0]
    assert np.isnan(row.bits) and "shape or dtype changed since 0" in row.skipped


def test_process_pool_matches_serial(tmp_path):
    series = make_series(tmp_path / "run", 4)
    serial = kcomplexity.analyse(series, SPECS, cache=False, delta=True)
    pooled = kcomplexity.analyse(series, SPECS, cache=False, delta=True, workers=2)
    cols = ["checkpoint", "tensor", "estimator", "bits", "ratio"]
    pd.testing.assert_frame_equal(serial[cols], pooled[cols])


def test_dask_local_cluster_matches_serial(tmp_path):
    from distributed import Client, LocalCluster

    series = make_series(tmp_path / "run", 2)
    serial = kcomplexity.analyse(series, SPECS, cache=False)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            by_client = kcomplexity.analyse(series, SPECS, cache=False, executor=client)
        by_address = kcomplexity.analyse(series, SPECS, cache=False, executor=cluster.scheduler_address)
    assert by_client.bits.tolist() == serial.bits.tolist() == by_address.bits.tolist()


def test_user_errors_name_the_fix():
    with pytest.raises(InputError, match="NaN or Inf.*allow_nonfinite"):
        kcomplexity.analyse({"w": np.array([1.0, np.nan], np.float32)}, cache=False)
    with pytest.raises(InputError, match="<memory>, tensor w"):
        kcomplexity.analyse({"w": np.array([1.0, np.nan], np.float32)}, cache=False)
    with pytest.raises(InputError, match="no tensor selected"):
        kcomplexity.analyse({"w": np.ones(3, np.float32)}, min_ndim=2, cache=False)
    with pytest.raises(InputError, match="per must be"):
        kcomplexity.analyse({"w": np.ones(3, np.float32)}, per="layer", cache=False)
    with pytest.raises(InputError, match="workers must be"):
        kcomplexity.analyse({"w": np.ones(3, np.float32)}, workers=0, cache=False)
    with pytest.raises(SpecError, match="unknown coder"):
        kcomplexity.analyse({"w": np.ones(3, np.float32)}, "raw|nope", cache=False)


def test_file_tasks_ship_lazy_readers_not_arrays(tmp_path):
    from kcomplexity.analysis._analyse import _estimators, plan
    from kcomplexity.io import Selection, discover

    series = make_series(tmp_path / "run", 2)
    pipelines, deltas = _estimators(["raw|zstd-3", "q8|entropy"], delta=True)
    jobs = plan(discover(series), pipelines, deltas, Selection.make(), "tensor", None, False)
    assert [len(j.rows) for j in jobs] == [2, 2, 3, 3]  # both specs per tensor, the lossless one's delta after
    assert [r.estimator for r in jobs[-1].rows] == ["raw|zstd-3", "q8|entropy", "delta:raw|zstd-3"]
    assert all(len(pickle.dumps(j.task)) < 2000 for j in jobs)  # a 64x64 float32 tensor alone is 16 kB
    assert [j.task.previous.label.endswith("epoch_0000.safetensors") for j in jobs[2:]] == [True, True]
    assert jobs[2].task.previous is jobs[0].task.checkpoint  # one opened reader per checkpoint


def test_each_checkpoint_is_opened_once_per_analyse(tmp_path, monkeypatch):
    from kcomplexity.io import readers

    series, opened = make_series(tmp_path / "run", 6), []  # more than open_cached keeps
    real = readers.open_path
    monkeypatch.setattr(readers, "open_path", lambda path: opened.append(str(path)) or real(path))
    readers._open_cached.cache_clear()
    df = kcomplexity.analyse(series, ["raw|zstd-3", "q8|entropy"], delta=True, cache=False)
    assert len(df) == 6 * 2 * 2 + 5 * 2 and sorted(opened) == sorted(set(opened)) and len(opened) == 6


class ExoticError(KComplexityError):
    """A plugin's own error class, unknown to kcomplexity.errors."""


class Refusing(Coder):
    family = "refusing"

    def code(self, stream):
        raise ExoticError("refused on purpose")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_error_comes_back_as_the_object_raised(monkeypatch, workers):
    monkeypatch.setattr(registry, "_CODERS", dict(registry._CODERS))
    kcomplexity.register(Refusing)
    with pytest.raises(ExoticError, match=r"^<memory>, tensor w: refused on purpose$"):
        kcomplexity.analyse({"w": np.ones(64, np.float32)}, ["raw|zstd-3", "raw|refusing"], workers=workers,
                            cache=False)


def test_progress_bar_goes_to_stderr(capsys):
    kcomplexity.analyse({"w": np.ones(8, np.float32)}, ["raw|zstd-3", "raw|gzip-9"], cache=False, progress=True)
    captured = capsys.readouterr()
    assert "analyse: 100%" in captured.err and "2/2" in captured.err and captured.out == ""
