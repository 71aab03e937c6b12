"""compare: a small MLP trained here on load_digits, its variants, ratios and spreads."""
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

import kcomplexity as kc
from kcomplexity.errors import InputError
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


def joined_in_source_order(weights):
    """The model in its own (module) order: what compare and momos join."""
    return np.concatenate([weights[n].reshape(-1) for n in weights])


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
    joined = [joined_in_source_order(random_init(trained, seed=s)) for s in (0, 1, 2)]
    expected = np.mean([kc.estimate(j, "raw|lzma-9").bits for j in joined])
    assert ref.set_index("estimator").loc["raw|lzma-9", "bits"] == pytest.approx(expected)
    row = det.set_index("estimator").loc["raw|lzma-9"]
    assert row["ratio_to_reference"] == pytest.approx(np.mean([row["bits"] / kc.estimate(j, "raw|lzma-9").bits
                                                               for j in joined]))
    assert table.set_index("variant").loc["trained", "accuracy"].eq(0.97).all()


def test_ratio_to_shuffle_uses_the_variants_own_shuffle(table, trained):
    row = table.set_index(["variant", "estimator"]).loc[("pruned", "raw|lzma-9")]
    pruned = prune_magnitude(trained, 0.7)
    shuffled = [kc.estimate(joined_in_source_order(shuffle(pruned, seed=s)), "raw|lzma-9").bits for s in (0, 1, 2)]
    assert row["shuffle_bits"] == pytest.approx(np.mean(shuffled))
    assert row["ratio_to_shuffle"] == pytest.approx(np.mean([row["bits"] / b for b in shuffled]))


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
