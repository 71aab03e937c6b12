"""kcomplexity.train: data split, models, the loop's checkpoint series, and each method's invariant."""
import json

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # torch-free CI (.ci/run) skips this module
from safetensors.numpy import load_file

from kcomplexity.errors import InputError
from kcomplexity.train import (QAT, Baseline, Momos, Prune, build_model, fake_quantize,
                               load_digits_split, train)

SMALL = {"hidden": (32, 32)}
FAST = {"model_options": SMALL, "lr": 1e-2}


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(seed=0)


def load_series(path, epoch):
    return load_file(str(path / f"epoch_{epoch:04d}.safetensors"))


def test_split_is_seeded_and_stratified(digits):
    assert (len(digits.y_train), len(digits.y_test)) == (1437, 360)
    assert digits.x_train.shape[1:] == (1, 8, 8) and float(digits.x_train.max()) == 1.0
    assert torch.equal(load_digits_split(seed=0).y_test, digits.y_test)
    assert not torch.equal(load_digits_split(seed=1).y_test, digits.y_test)
    assert torch.bincount(digits.y_test).tolist() == [36, 36, 35, 37, 36, 37, 36, 36, 35, 36]


def test_models_shapes_and_parameter_counts():
    mlp, cnn = build_model("mlp"), build_model("cnn")
    assert sum(p.numel() for p in mlp.parameters()) == 64 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert mlp(torch.zeros(3, 1, 8, 8)).shape == cnn(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    with pytest.raises(InputError, match="unknown model"):
        build_model("resnet")


def test_series_layout_metrics_and_determinism(tmp_path, digits):
    a = train("mlp", Baseline(), epochs=3, out=tmp_path / "a", data=digits, **FAST)
    b = train("mlp", Baseline(), epochs=3, out=tmp_path / "b", data=digits, **FAST)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == [f"epoch_{e:04d}.safetensors" for e in range(4)] + ["metrics.json"]
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert [r["step"] for r in metrics["records"]] == [r["epoch"] for r in metrics["records"]] == [0, 1, 2, 3]
    assert metrics["meta"]["method"] == "baseline" and metrics["meta"]["hidden"] == [32, 32]
    # epoch 0 is the untouched initialisation of build_model(seed)
    init = build_model("mlp", 0, **SMALL).state_dict()
    assert all(np.array_equal(load_series(tmp_path / "a", 0)[n], t.numpy()) for n, t in init.items())
    # seeded: a second run gives identical weights and metrics
    assert all(np.array_equal(load_series(tmp_path / "a", 3)[n], load_series(tmp_path / "b", 3)[n]) for n in init)
    assert [r["loss"] for r in a.records] == [r["loss"] for r in b.records]
    assert a.records[0]["accuracy"] < 0.2 < 0.85 < a.accuracy


def test_cnn_learns_the_digits(digits):
    result = train("cnn", epochs=2, data=digits, lr=1e-2)
    assert result.meta["model"] == "cnn" and result.accuracy > 0.85


def test_fake_quantize_known_answer():
    w = torch.tensor([[-1.0, -0.4, 0.0], [0.1, 0.5, 0.7]])
    # B = 3: Q = 3, scale = 1/3; round(w * 3) = [-3, -1, 0, 0, 2, 2] (0.3 -> 0, 1.5 -> 2, 2.1 -> 2)
    assert torch.allclose(fake_quantize(w, 3), torch.tensor([[-1.0, -1 / 3, 0.0], [0.0, 2 / 3, 2 / 3]]))


def test_qat_saves_quantised_weights_and_learns_through_ste(tmp_path, digits):
    result = train("mlp", QAT(bits=4), epochs=2, out=tmp_path, data=digits, **FAST)
    saved = load_series(tmp_path, 2)
    for name in ("1.weight", "3.weight", "5.weight"):
        w = torch.from_numpy(saved[name])
        assert len(torch.unique(w)) <= 15  # 2Q + 1 levels
        assert torch.equal(fake_quantize(w, 4), w)
    # the float latent weights live on in the model and differ from the saved quantised ones
    latent = result.model.state_dict()["1.weight"]
    assert not torch.equal(latent, torch.from_numpy(saved["1.weight"]))
    assert result.accuracy > 0.8


def test_momos_checkpoints_are_the_projection(tmp_path, digits, monkeypatch):
    import kcomplexity.variants as variants

    projections = []
    real = variants.momos
    monkeypatch.setattr(variants, "momos", lambda *a, **kw: projections.append(real(*a, **kw)) or projections[-1])
    result = train("mlp", Momos(s=4, capacity=0.05), epochs=2, out=tmp_path, data=digits, **FAST)
    assert len(projections) == 2  # once per epoch
    saved, last = load_series(tmp_path, 2), projections[-1]
    for name in saved:
        np.testing.assert_array_equal(saved[name], last.weights[name])
    n_params = sum(p.numel() for p in result.model.parameters())
    k = result.records[-1]["momos_k"]
    assert k == last.stats["k"] == int(0.05 * -(-n_params // 4))
    # every block is one of k motifs of 4 values, whatever the block order: <= 4k distinct values
    assert len(np.unique(np.concatenate([w.reshape(-1) for w in saved.values()]))) <= 4 * k
    assert result.records[-1]["momos_changed_weights"] > 0


def test_momos_every_step_projects_after_each_step(digits):
    method = Momos(s=4, capacity=0.05, every="step")
    train("mlp", method, epochs=1, data=digits, **FAST)
    assert method._calls == -(-len(digits.y_train) // 64) + 1  # each step plus the epoch end


@pytest.mark.parametrize("method", [Prune("magnitude", sparsity=0.7), Prune("pq", rounds=2),
                                    Prune("lq", rounds=2, eps=0.9)])
def test_pruning_masks_stay_fixed_while_fine_tuning(tmp_path, digits, method):
    result = train("mlp", method, epochs=4, out=tmp_path, data=digits, **FAST)
    weights = ["1.weight", "3.weight", "5.weight"]
    sparsity = [r.get("weight_sparsity") for r in result.records]
    assert result.meta["at_epoch"] == 2
    assert sparsity[1] == 0 and sparsity[2] > 0.05  # dense before at_epoch=2, pruned at its end
    if method.kind == "magnitude":
        assert sparsity[2] == pytest.approx(0.7, abs=1e-3)
        assert sparsity[4] == sparsity[2]
    else:
        assert sparsity[3] > sparsity[2] and sparsity[4] == sparsity[3]  # two SAP / l_q rounds, then fixed
    if method.kind == "lq":  # per neuron: each row keeps its own count
        kept = (load_series(tmp_path, 2)["3.weight"] != 0).sum(axis=1)
        assert method.scope == "neuron" and result.meta["eps"] == 0.9 and len(set(kept.tolist())) > 1
    pruned, final = load_series(tmp_path, 2), load_series(tmp_path, 4)
    for n in weights:
        assert np.all(final[n][pruned[n] == 0] == 0)  # zeros stay zero
        assert not np.array_equal(final[n], pruned[n])  # fine-tuning moved the others
    assert result.accuracy > 0.8


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(InputError, match="epochs"):
        train("mlp", epochs=0)
    with pytest.raises(InputError, match="every"):
        Momos(every="batch")
    with pytest.raises(InputError, match="bits"):
        QAT(bits=1)


def test_make_data_regenerates_the_committed_baseline_series(tmp_path):
    import importlib.util
    from pathlib import Path

    data_dir = Path(__file__).resolve().parents[1] / "data"
    spec = importlib.util.spec_from_file_location("make_data", data_dir / "make_data.py")
    make_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_data)
    result = train("mlp", Baseline(), out=tmp_path, **make_data.OPTIONS)
    committed = json.loads((data_dir / "mlp_baseline" / "metrics.json").read_text())["records"]
    assert [r["accuracy"] for r in result.records] == pytest.approx([r["accuracy"] for r in committed], abs=0.01)
    for epoch in (0, 8):
        old, new = load_series(data_dir / "mlp_baseline", epoch), load_series(tmp_path, epoch)
        for name in old:  # init bit-exact; trained up to float summation order across CPUs
            np.testing.assert_allclose(new[name], old[name], rtol=0, atol=0 if epoch == 0 else 1e-4)
