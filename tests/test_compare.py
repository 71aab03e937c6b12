"""compare: a small MLP trained here on load_digits, its variants, ratios and spreads."""
import numpy as np
import pandas as pd
import pytest
torch = pytest.importorskip("torch")  # torch-free CI (.ci/run) skips this module
from sklearn.datasets import load_digits
from torch import nn

import kcomplexity as kc
from kcomplexity.errors import InputError
from kcomplexity.io import model_order
from kcomplexity.variants import momos, prune_magnitude, quantize, random_init, shuffle

SPECS = ["raw|lzma-9", "raw|motif-4"]


@pytest.fixture(scope="module")
def trained():
    """A 64-32-10 MLP trained for 60 full-batch Adam steps (under a second on one thread)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: more threads only contend on a shared machine
    torch.manual_seed(0)
    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    accuracy = float((model(x).argmax(1) == y).float().mean())
    torch.set_num_threads(threads)
    assert accuracy > 0.95
    return model


@pytest.fixture(scope="module")
def table(trained):
    variants = {"trained": trained, "momos": momos(trained, s=4, capacity=0.05),
                "pruned": prune_magnitude(trained, 0.7), "q4": quantize(trained, bits=4)}
    df = kc.compare(variants, SPECS, seeds=(0, 1, 2), metrics={"trained": {"accuracy": 0.97}})
    columns = ["variant", "estimator", "bits", "bits_std", "ratio_to_reference", "ratio_to_reference_std",
               "ratio_to_shuffle", "ratio_to_shuffle_std"]
    print("\n" + df[columns].to_string(float_format="{:.4g}".format))
    return df


def test_compressed_variants_are_simpler_than_the_trained_model(table):
    bits = table.set_index(["variant", "estimator"])["bits"]
    for spec in SPECS:
        assert bits["momos", spec] < bits["trained", spec]
        assert bits["pruned", spec] < bits["trained", spec]
    assert bits["momos", "raw|motif-4"] < 0.35 * bits["trained", "raw|motif-4"]


def joined_in_canonical_order(weights):
    """The model in the canonical (natural name) order: what compare and momos join."""
    return np.concatenate([weights[n].reshape(-1) for n in model_order(weights)])


def test_table_shape_reference_and_spread(table, trained):
    assert list(table["variant"].unique()) == ["random_init", "trained", "momos", "pruned", "q4"]
    assert len(table) == 5 * len(SPECS) and set(table["estimator"]) == set(SPECS)
    ref = table[table.variant == "random_init"]
    assert (ref["n_seeds"] == 3).all() and ref.set_index("estimator").loc["raw|lzma-9", "bits_std"] > 0
    np.testing.assert_allclose(ref["ratio_to_reference"], 1.0)
    assert ref["ratio_to_reference_std"].fillna(0).eq(0).all()
    det = table[table.variant == "trained"]
    assert (det["n_seeds"] == 1).all() and det["bits_std"].isna().all()
    assert (table["n_params"] == sum(p.numel() for p in trained.parameters())).all()
    # the reference bits are the mean over three random_init seeds, measured on the joined model
    joined = [joined_in_canonical_order(random_init(trained, seed=s)) for s in (0, 1, 2)]
    expected = np.mean([kc.estimate(j, "raw|lzma-9").bits for j in joined])
    assert ref.set_index("estimator").loc["raw|lzma-9", "bits"] == pytest.approx(expected)
    row = det.set_index("estimator").loc["raw|lzma-9"]
    ref_bits = np.array([kc.estimate(j, "raw|lzma-9").bits for j in joined])
    assert row["ratio_to_reference"] == pytest.approx(row["bits"] / ref_bits.mean())   # the ratio of means
    assert row["ratio_to_reference_std"] == pytest.approx(np.std(row["bits"] / ref_bits, ddof=1))
    assert table.set_index("variant").loc["trained", "accuracy"].eq(0.97).all()


def test_ratio_to_shuffle_uses_the_variants_own_shuffle(table, trained):
    row = table.set_index(["variant", "estimator"]).loc[("pruned", "raw|lzma-9")]
    pruned = prune_magnitude(trained, 0.7)
    shuffled = [kc.estimate(joined_in_canonical_order(shuffle(pruned, seed=s)), "raw|lzma-9").bits for s in (0, 1, 2)]
    assert row["shuffle_bits"] == pytest.approx(np.mean(shuffled))
    assert row["ratio_to_shuffle"] == pytest.approx(row["bits"] / np.mean(shuffled))


def test_explicit_reference_and_errors():
    rng = np.random.default_rng(0)
    a, b = {"w": rng.normal(size=400).astype(np.float32)}, {"w": np.zeros(400, np.float32)}
    df = kc.compare({"a": a, "b": b}, "zstd", reference="a", seeds=(0,), shuffle_control=False)
    assert list(df.variant) == ["a", "b"] and "ratio_to_shuffle" not in df
    assert list(df.estimator) == ["raw|zstd-3"] * 2  # canonical specs, as in analyse
    assert df.ratio_to_reference.iloc[0] == 1.0 and df.ratio_to_reference.iloc[1] < 0.2
    with pytest.raises(InputError, match="not a variant"):
        kc.compare({"a": a}, reference="c")
    with pytest.raises(InputError, match="non-empty"):
        kc.compare({})


# ---------------------------------------------------------------- reference from the architecture, per matrix
QUBD = "bitplanes8|bdm2d"


@pytest.fixture(scope="module")
def bert_table(bert_dir):
    return kc.compare({"pretrained": bert_dir}, [QUBD, "q8|lzma-9"], seeds=(0, 1), min_ndim=2)


def test_matrix_estimators_are_summed_per_matrix(bert_table, bert_dir):
    from kcomplexity.variants import random_init

    t = bert_table.set_index(["variant", "estimator", "stream"])
    assert (bert_table["reference_kind"] == "hf-config:BertForMaskedLM").all()
    assert set(bert_table.loc[bert_table.estimator == QUBD, "per"]) == {"matrix"}
    assert set(bert_table.loc[bert_table.estimator == "q8|lzma-9", "per"]) == {"model"}
    assert bert_table["bits"].notna().all() and bert_table["ratio_to_reference"].notna().all()
    weights = kc.load(bert_dir, min_ndim=2)
    scored = [kc.estimate(weights[n], QUBD) for n in weights]
    assert t.loc[("pretrained", QUBD, "total"), "bits"] == pytest.approx(sum(e.bits for e in scored if not e.skipped))
    assert t.loc[("pretrained", QUBD, "total"), "n_params"] == sum(e.n_values for e in scored if not e.skipped)
    for i in range(8):   # one row per bit-plane, each the sum of that plane over the matrices
        plane = sum(e.details["streams"][f"plane_{i}"] for e in scored if not e.skipped)
        assert t.loc[("pretrained", QUBD, f"plane_{i}"), "bits"] == pytest.approx(plane)
    reference = [random_init(bert_dir, seed=s) for s in (0, 1)]
    expected = np.mean([sum(kc.estimate(r[n], QUBD).bits for n in weights if n != "bert.embeddings."
                            "token_type_embeddings.weight") for r in reference])
    assert t.loc[("random_init", QUBD, "total"), "bits"] == pytest.approx(expected)
    # the 2-row token-type embedding holds no 4x4 block: left out, and said so
    assert "token_type_embeddings" in t.loc[("pretrained", QUBD, "total"), "skipped"]


def test_the_true_initialisation_matches_its_config_built_reference(bert_table):
    """The folder holds a config-built init (another seed): its ratio to the reference is 1 within 1 %."""
    rows = bert_table[bert_table.stream == "total"].set_index(["variant", "estimator"])
    for spec in (QUBD, "q8|lzma-9"):
        assert rows.loc[("pretrained", spec), "ratio_to_reference"] == pytest.approx(1.0, abs=0.01)
        assert rows.loc[("random_init", spec), "bits_std"] > 0          # two different draws


def test_bare_checkpoint_reference_kind_and_rule(bert_dir):
    weights = dict(kc.load(bert_dir / "model.safetensors"))
    with pytest.warns(Warning, match="normal-0.02"):
        df = kc.compare({"w": weights}, "q8|lzma-9", seeds=(0,), init="normal-0.02", shuffle_control=False)
    assert (df["reference_kind"] == "rules:normal-0.02").all()
    # the bare rule with N(0, 0.02) matrices, ones and zeros lands near the true init; torch-default does not
    with pytest.warns(Warning, match="torch-default"):
        old = kc.compare({"w": weights}, "q8|lzma-9", seeds=(0,), shuffle_control=False)
    new_ratio = df.set_index("variant").loc["w", "ratio_to_reference"]
    old_ratio = old.set_index("variant").loc["w", "ratio_to_reference"]
    assert abs(new_ratio - 1) < 0.05 and abs(old_ratio - 1) > 2 * abs(new_ratio - 1)


def test_reference_callable_and_no_nan_without_reason():
    rng = np.random.default_rng(0)
    model = {"a.weight": rng.normal(size=(2, 3)).astype(np.float32), "a.bias": rng.normal(size=2).astype(np.float32)}
    calls = []

    def zeros(seed):
        calls.append(seed)
        return {n: np.zeros_like(x) + seed for n, x in model.items()}

    df = kc.compare({"m": model}, ["sign|bdm", QUBD, "raw|zstd-3"], reference=zeros, seeds=(0, 5))
    assert calls == [0, 5] and (df["reference_kind"] == "callable:zeros").all()
    assert list(dict.fromkeys(df["variant"])) == ["reference", "m"]
    value_columns = ["bits", "ratio_to_reference", "ratio_to_shuffle"]
    nan_rows = df[df[value_columns].isna().any(axis=1)]
    assert len(nan_rows) > 0 and nan_rows["skipped"].notna().all()   # 8 signs, a 2x3 matrix: no block
    assert df.set_index(["variant", "estimator", "stream"])["bits"].loc[("m", "raw|zstd-3", "total")] > 0


def test_default_estimators_are_the_same_for_api_and_cli():
    from kcomplexity import cli
    from kcomplexity.analysis import COMPARE_ESTIMATORS

    df = kc.compare({"w": {"w": np.random.default_rng(0).normal(size=(64, 64))}}, seeds=(0,), shuffle_control=False,
                    reference=lambda s: {"w": np.zeros((64, 64))})
    assert list(dict.fromkeys(df["estimator"])) == [kc.parse(e).spec for e in COMPARE_ESTIMATORS]
    assert cli.build_parser().parse_args(["compare", "a=b"]).estimators is None  # None -> the API's defaults
