"""kc.sparsity (l_q ratio, PQ index, Gini, k bound, actual k) and the l_q / per-neuron pruning rules."""
import math

import numpy as np
import pytest

import kcomplexity as kc
from kcomplexity.errors import InputError
from kcomplexity.variants import prune_lq, prune_pq


def lq_norm(w, q):
    return float(np.sum(np.abs(w) ** q) ** (1 / q))


def brute_k_bound(w, q, eps):
    r = lq_norm(w, q) / np.linalg.norm(w)
    return next((k for k in range(1, w.size + 1) if k ** (0.5 - 1 / q) * r <= eps), w.size)


def brute_k_eps(w, eps):
    mags = np.sort(np.abs(w))[::-1]
    return next(k for k in range(w.size + 1) if np.linalg.norm(mags[k:]) <= eps * np.linalg.norm(w))


def vectors():
    rng = np.random.default_rng(3)
    return [rng.normal(size=50), rng.standard_cauchy(size=200), rng.standard_cauchy(size=40) ** 3,
            np.r_[np.zeros(30), rng.normal(size=5)], np.arange(1.0, 9.0)]


def test_known_values_of_a_flat_and_a_one_hot_vector():
    table = kc.sparsity({"flat": np.full(100, -0.3), "hot": np.eye(1, 16, 5)[0]}, q=0.5, eps=0.1)
    flat, hot = table.iloc[0], table.iloc[1]
    assert flat["lq_ratio"] == pytest.approx(1.0) and flat["pq_index"] == pytest.approx(0.0, abs=1e-12)
    assert flat["gini"] == pytest.approx(0.0, abs=1e-12) and flat["k_bound"] == 100
    assert flat["k_eps"] == 99           # dropping j of 100 equal entries leaves error sqrt(j/100) <= 0.1: j = 1
    assert hot["lq_ratio"] == pytest.approx(16 ** -1.5)  # d^(1/2 - 1/q)
    assert hot["gini"] == pytest.approx(1 - 1 / 16) and hot["k_eps"] == 1
    assert hot["k_bound"] == 5           # k^(-3/2) <= 0.1 from k = 5: the bound does not see 1-sparsity


@pytest.mark.parametrize("q,eps", [(0.5, 0.1), (0.5, 0.4), (0.25, 0.3), (0.8, 0.05)])
def test_columns_match_their_definitions(q, eps):
    for w in vectors():
        row = kc.sparsity({"w": w}, q=q, p=0.5, eps=eps).iloc[0]
        d = w.size
        assert row["d"] == d
        assert row["lq_ratio"] == pytest.approx(lq_norm(w, q) / (d ** (1 / q - 0.5) * np.linalg.norm(w)), rel=1e-9)
        assert row["pq_index"] == pytest.approx(1 - d ** (1 - 1 / 0.5) * lq_norm(w, 0.5) / np.abs(w).sum(), rel=1e-9)
        a = np.abs(w)
        gini = np.abs(a[:, None] - a[None, :]).sum() / (2 * d * a.sum())  # mean-difference form of the Gini index
        assert row["gini"] == pytest.approx(gini, rel=1e-9)
        assert row["k_bound"] == brute_k_bound(w, q, eps)
        assert row["k_eps"] == brute_k_eps(w, eps)
        assert row["k_eps"] <= row["k_bound"]  # the Stechkin bound is a guarantee


def test_per_neuron_rows_are_the_output_units():
    rng = np.random.default_rng(0)
    conv, bias = rng.standard_cauchy(size=(4, 3, 2, 2)), rng.normal(size=4)
    table = kc.sparsity({"conv": conv, "bias": bias}, per="neuron")
    assert table["tensor"].tolist() == ["conv"] * 4 + ["bias"]
    assert table["neuron"].tolist()[:4] == [0, 1, 2, 3] and table["neuron"].isna().tolist()[4]
    assert (table["d"] == [12] * 4 + [4]).all()
    for i in range(4):
        alone = kc.sparsity({"c": conv[i]}).iloc[0]
        for column in ["lq_ratio", "pq_index", "gini", "k_bound", "k_eps"]:
            assert table.loc[i, column] == pytest.approx(alone[column])


def test_zero_tensor_and_module_and_path_inputs(tmp_path):
    torch = pytest.importorskip("torch")
    zero = kc.sparsity({"z": np.zeros(6, np.float32)}).iloc[0]
    assert (zero["lq_ratio"], zero["pq_index"], zero["gini"], zero["k_bound"], zero["k_eps"]) == (1, 0, 0, 0, 0)
    model = torch.nn.Linear(5, 3)
    table = kc.sparsity(model)
    assert table["tensor"].tolist() == ["weight", "bias"]
    from safetensors.torch import save_file
    save_file(dict(model.state_dict()), str(tmp_path / "m.safetensors"))
    from_file = kc.sparsity(tmp_path / "m.safetensors").set_index("tensor")["lq_ratio"]
    assert from_file.to_dict() == pytest.approx(table.set_index("tensor")["lq_ratio"].to_dict())


def test_bad_input_says_what_to_do():
    w = {"w": np.ones(4)}
    with pytest.raises(InputError, match="per must be"):
        kc.sparsity(w, per="row")
    with pytest.raises(InputError, match="0 < q < 1"):
        kc.sparsity(w, q=1.5)
    with pytest.raises(InputError, match="eps"):
        kc.sparsity(w, eps=0.0)
    with pytest.raises(InputError, match="float"):
        kc.sparsity({"i": np.arange(4)})


# ---------------------------------------------------------------- pruning
def heavy(shape=(6, 40), seed=1):
    return {"w": np.random.default_rng(seed).standard_cauchy(size=shape).astype(np.float32)}


def test_prune_lq_per_neuron_keeps_k_bound_largest_and_honours_eps():
    weights = heavy()
    result = prune_lq(weights, q=0.5, eps=0.3)
    info = result.info["w"]
    assert set(info) == {"lq_ratio", "d", "kept", "ratio", "pruned"} and info["kept"].shape == (6,)
    for i, (row, out) in enumerate(zip(weights["w"], result.weights["w"])):
        assert info["d"][i] == 40 and info["kept"][i] == brute_k_bound(row.astype(np.float64), 0.5, 0.3)
        assert int((out != 0).sum()) == info["kept"][i] == 40 - info["pruned"][i]
        kept, gone = np.abs(row[out != 0]), np.abs(row[out == 0])
        assert gone.size == 0 or kept.min() >= gone.max()
        assert np.linalg.norm(row - out) <= 0.3 * np.linalg.norm(row) + 1e-6  # the bound's guarantee
    assert info["pruned"].sum() > 0 and result.ratios["w"] == pytest.approx(info["pruned"] / 40)


def test_prune_lq_keeps_dense_gaussian_weights_and_counts_only_unpruned():
    dense = {"w": np.random.default_rng(0).normal(size=(8, 64))}
    assert prune_lq(dense, eps=0.1).info["w"]["pruned"].sum() == 0  # lq_ratio ~ 0.68 > eps: the bound is vacuous
    first = prune_lq(heavy(), eps=0.3, scope="layer")
    info = first.info["w"]
    assert np.isscalar(info["kept"]) and info["kept"] == brute_k_bound(heavy()["w"].ravel().astype(float), 0.5, 0.3)
    second = prune_lq(first.weights, eps=0.3, scope="layer")
    assert second.info["w"]["d"] == info["kept"]


def test_prune_pq_per_neuron_is_prune_pq_on_each_row():
    weights = heavy((5, 30), seed=4)
    result = prune_pq(weights, scope="neuron", eta=0.1)
    for i, row in enumerate(weights["w"]):
        alone = prune_pq({"r": row}, eta=0.1, min_ndim=1)
        np.testing.assert_array_equal(result.weights["w"][i], alone.weights["r"])
        for key in ("pq_index", "d", "m", "ratio", "pruned"):
            assert result.info["w"][key][i] == pytest.approx(alone.info["r"][key])


def test_prune_scopes_and_arguments_are_checked():
    with pytest.raises(InputError, match="scope"):
        prune_lq(heavy(), scope="row")
    with pytest.raises(InputError, match="eps"):
        prune_lq(heavy(), eps=1.0)
    with pytest.raises(InputError, match="0 < q < 1"):
        prune_lq(heavy(), q=1.0)
    assert math.isclose(prune_pq(heavy(), scope="global").info["global"]["d"], 240)


# ---------------------------------------------------------------- analyse and compare
def test_analyse_adds_the_columns_beside_the_bits():
    rng = np.random.default_rng(5)
    steps = [{"a.weight": rng.standard_cauchy(size=(6, 8)).astype(np.float32),
              "a.bias": rng.normal(size=6).astype(np.float32)} for _ in range(2)]
    df = kc.analyse(steps, estimators="raw|zstd-3", cache=False, sparsity={"eps": 0.2})
    columns = list(df.columns)
    assert columns[columns.index("bits_per_param") + 1:][:5] == ["lq_ratio", "pq_index", "gini", "k_bound", "k_eps"]
    for row in df.itertuples():
        expected = kc.sparsity({"t": steps[row.step][row.tensor]}, eps=0.2).iloc[0]
        assert row.lq_ratio == pytest.approx(expected["lq_ratio"]) and row.k_eps == expected["k_eps"]
        assert row.k_bound == expected["k_bound"] and row.gini == pytest.approx(expected["gini"])
    model = kc.analyse(steps, estimators="raw|zstd-3", per="model", cache=False, sparsity=True)
    joined = np.concatenate([steps[1]["a.bias"], steps[1]["a.weight"].ravel()])  # natural name order
    assert model["pq_index"].iloc[1] == pytest.approx(kc.sparsity({"m": joined})["pq_index"].iloc[0])
    assert "lq_ratio" not in kc.analyse(steps, estimators="raw|zstd-3", cache=False).columns
    with pytest.raises(InputError, match="sparsity options"):
        kc.analyse(steps, estimators="raw|zstd-3", cache=False, sparsity={"epsilon": 0.2})
    with pytest.raises(InputError, match="eps"):
        kc.analyse(steps, estimators="raw|zstd-3", cache=False, sparsity={"eps": 2})


def test_analyse_sparsity_comes_from_the_workers_and_the_cache(tmp_path):
    import sqlite3

    rng = np.random.default_rng(6)
    steps = [{"w": rng.laplace(size=(32, 16)).astype(np.float32), "v": rng.normal(size=40).astype(np.float32)}
             for _ in range(3)]
    cache = tmp_path / "c.sqlite"
    serial = kc.analyse(steps, estimators="raw|zstd-3", cache=cache, sparsity=True)
    with sqlite3.connect(cache) as db:
        stored = [k for (k,) in db.execute("SELECT key FROM results") if "|sparsity(" in k]
        assert len(stored) == 6  # one record per tensor group, beside its estimates
        db.execute("UPDATE results SET estimate = '{\"lq_ratio\": -1}' WHERE key = ?", (stored[0],))
    again = kc.analyse(steps, estimators="raw|zstd-3", cache=cache, sparsity=True, workers=2)
    columns = ["lq_ratio", "pq_index", "gini", "k_bound", "k_eps"]
    assert again[columns].equals(serial[columns])  # the corrupt record was measured again, not served


def test_compare_shows_the_columns_per_variant():
    from kcomplexity.variants import prune_magnitude

    rng = np.random.default_rng(2)
    dense = {"w": rng.normal(size=(16, 16)).astype(np.float32), "b": rng.normal(size=16).astype(np.float32)}
    pruned = prune_magnitude(dense, 0.8)
    table = kc.compare({"dense": dense, "pruned": pruned}, "raw|zstd-3", seeds=(0, 1), sparsity=True)
    lq = table.set_index("variant")["lq_ratio"]
    joined = np.concatenate([pruned["b"], pruned["w"].ravel()])
    assert lq["pruned"] == pytest.approx(kc.sparsity({"m": joined})["lq_ratio"].iloc[0])
    assert lq["pruned"] < lq["dense"] and "random_init" in lq.index
    assert "gini" not in kc.compare({"dense": dense}, "raw|zstd-3", seeds=(0,)).columns


def test_cli_analyse_and_compare_take_sparsity(tmp_path, capsys):
    from safetensors.numpy import save_file

    from kcomplexity.cli import main
    from kcomplexity.variants import prune_magnitude

    rng = np.random.default_rng(7)
    dense = {"w": rng.normal(size=(8, 8)).astype(np.float32)}
    save_file(dense, str(tmp_path / "dense.safetensors"))
    save_file(prune_magnitude(dense, 0.75), str(tmp_path / "pruned.safetensors"))
    out = tmp_path / "table.csv"
    assert main(["analyse", str(tmp_path / "dense.safetensors"), "-e", "raw|zstd-3", "--no-cache", "--sparsity",
                 "--out", str(out), "-q"]) == 0
    import pandas as pd
    row = pd.read_csv(out).iloc[0]
    assert row["lq_ratio"] == pytest.approx(kc.sparsity(dense)["lq_ratio"].iloc[0])
    assert main(["compare", f"dense={tmp_path / 'dense.safetensors'}", f"pruned={tmp_path / 'pruned.safetensors'}",
                 "-e", "raw|zstd-3", "--seeds", "0", "1", "--sparsity", "--out", str(out)]) == 0
    table = pd.read_csv(out).set_index("variant")
    assert table.loc["pruned", "k_eps"] < table.loc["dense", "k_eps"]


@pytest.mark.parametrize("options", [{"q": "0.5"}, {"eps": None}, {"p": True}, {"q": float("nan")}])
def test_non_numbers_are_input_errors(options):
    with pytest.raises(InputError, match="must be a number"):
        kc.sparsity({"w": np.ones(4)}, **options)
    if "p" not in options:
        with pytest.raises(InputError, match="must be a number"):
            prune_lq(heavy(), **options)


# ---------------------------------------------------------------- Stechkin's sharp constant
def test_stechkin_constant_values_and_sharpness():
    from kcomplexity.sparsity_measures import stechkin_constant
    assert stechkin_constant(0.5) == pytest.approx(0.75 ** 1.5 * 0.25 ** 0.5)     # = 0.3248
    assert round(stechkin_constant(0.5), 4) == 0.3248 and stechkin_constant(1.0) == pytest.approx(0.5)
    assert all(0 < stechkin_constant(q) < 1 for q in (0.1, 0.3, 0.7, 0.99))
    # sharp: d equal entries, k = (1 - q/2) d, attain sigma_k(w)_2 = c k^(1/2 - 1/q) ||w||_q exactly
    d, q = 400, 0.5
    k = int((1 - q / 2) * d)
    sigma = math.sqrt(d - k)
    assert sigma == pytest.approx(stechkin_constant(q) * k ** (0.5 - 1 / q) * d ** (1 / q), rel=1e-12)
    with pytest.raises(InputError, match="0 < q < p"):
        stechkin_constant(2.0)


def test_the_sharp_bound_is_still_a_guarantee_and_never_larger():
    from kcomplexity.sparsity_measures import k_bound, stechkin_constant
    rng = np.random.default_rng(7)
    for w in [rng.standard_cauchy(300), rng.normal(size=300), rng.laplace(size=50) ** 3, np.ones(64),
              np.r_[np.ones(5), np.zeros(95)]]:
        row = kc.sparsity({"w": w}, eps=0.2).iloc[0]
        assert row["k_eps"] == brute_k_eps(w, 0.2)
        assert row["k_eps"] <= row["k_bound_sharp"] <= row["k_bound"]
        k = int(row["k_bound_sharp"])   # the bound's own inequality holds at its k
        tail = np.sqrt(np.sort(w ** 2)[: len(w) - k].sum())
        assert tail <= stechkin_constant(0.5) * k ** (0.5 - 2) * np.sum(np.abs(w) ** 0.5) ** 2 * (1 + 1e-12)
    assert k_bound(0.05, 1000) == 630 and k_bound(0.05, 1000, constant=stechkin_constant(0.5)) == 298
    with pytest.raises(InputError, match="constant"):
        k_bound(0.5, 1000, constant=2.0)
