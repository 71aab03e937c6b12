"""The quick demo end to end (outputs, columns, rows, numbers traced to the run) and the claim logic."""
import json
import re

import numpy as np
import pandas as pd
import pytest

from kcomplexity.cli import main
from kcomplexity.demo import findings
from kcomplexity.demo.app import (ESTIMATORS, MODEL_ESTIMATORS, RANDOM_INIT_SEEDS, TENSOR_ESTIMATORS,
                                   plan_runs)
from kcomplexity.demo.report import FIGURES

EPOCHS = 2
TRAINED = [r.series for r in plan_runs(quick=True)]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "report"
    assert main(["demo", "--out", str(out), "--quick", "--epochs", str(EPOCHS), "--workers", "1"]) == 0
    return out


def test_every_output_exists(report):
    for name in ["results.parquet", "results.csv", "summary.csv", "report.md", *FIGURES]:
        assert (report / name).stat().st_size > 0, name
    for name in FIGURES:
        assert (report / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in (report / "report.md").read_text()


def test_results_table_columns_and_rows(report):
    df = pd.read_parquet(report / "results.parquet")
    assert {"series", "checkpoint", "step", "tensor", "n_params", "estimator", "bits", "bits_per_param",
            "accuracy", "loss", *(f"plane_{i}" for i in range(8))} <= set(df.columns)
    # trained: EPOCHS + 1 checkpoints; each shuffled control: init and last; random_init: one per seed
    checkpoints = len(TRAINED) * (EPOCHS + 1) + 2 * len(TRAINED) + len(RANDOM_INIT_SEEDS)
    # one <model> row per whole-model estimator, one row per weight matrix (3 in the MLP) for QuBD
    assert len(df) == checkpoints * (len(MODEL_ESTIMATORS) + 3 * len(TENSOR_ESTIMATORS))
    assert set(df.loc[df["estimator"] == "bitplanes8|bdm2d", "tensor"]) == {"1.weight", "3.weight", "5.weight"}
    model = df[df["tensor"] == "<model>"]
    assert set(model["estimator"]) == {"raw|lzma-9", "fields|zstd-19", "sign|bdm", "raw|motif-4"}
    assert (model["n_params"] == 64 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10).all()
    assert df["bits"].notna().all() and (df["bits"] > 0).all()
    assert len(pd.read_csv(report / "results.csv")) == len(df)


def test_accuracy_in_table_comes_from_the_runs(report):
    summary = pd.read_csv(report / "summary.csv")
    assert summary["series"].tolist() == TRAINED
    for row in summary.itertuples():
        records = json.loads((report / "runs" / row.series / "metrics.json").read_text())["records"]
        assert row.accuracy == pytest.approx(records[-1]["accuracy"])
        assert row.accuracy > 0.8 and row.shuffled_accuracy < 0.5
    md = (report / "report.md").read_text()
    assert f"| mlp_baseline | {summary['accuracy'][0]:.3f} |" in md


def test_report_states_every_claim_with_a_computed_verdict(report):
    md = (report / "report.md").read_text()
    verdicts = re.findall(r"\*\*\(([a-z-]+)\) [^*]+: (holds|does not hold here)\.\*\*", md)
    assert [v[0] for v in verdicts] == ["a", "a-qubd", "b", "c", "d"]
    df = pd.read_parquet(report / "results.parquet")
    tables = findings.compute(df, TRAINED, EPOCHS)
    assert [c["verdict"] for c in tables["claims"]] == [v[1] for v in verdicts]


def synthetic(trained_factor: float, momos_factor: float, momos_accuracy: float) -> pd.DataFrame:
    """A results table with known model bits: init 1000 bits per estimator, shuffles equal to their source."""
    rows = []

    def add(series, step, bits, accuracy=0.9, planes=None):
        for e in ESTIMATORS:
            spec = "raw|motif-4" if e == "motif-4" else e
            plane = {f"plane_{i}": bits / 8 * (p if planes is None else planes[i]) for i, p in enumerate([1] * 8)}
            rows.append({"series": series, "step": step, "tensor": "w", "estimator": spec, "bits": bits,
                         "n_params": 100, "accuracy": accuracy, **plane})
    for series, factor, acc in [("mlp_baseline", trained_factor, 0.95), ("mlp_momos_s4_c0.05", momos_factor,
                                                                         momos_accuracy)]:
        add(series, 0, 1000.0)
        add(series, 2, 1000.0 * factor, acc, planes=[1, 1, 1, 1, 0.9, 0.8, 0.7, 0.6])
        add(f"shuffled_{series}", 0, 1000.0, 0.1)
        add(f"shuffled_{series}", 2, 1000.0, 0.1)
    for seed in (1, 2, 3):
        add("mlp_random_init", seed, 1000.0 + seed, 0.1)
    return pd.DataFrame(rows)


def test_claim_logic_on_known_numbers():
    series = ["mlp_baseline", "mlp_momos_s4_c0.05"]
    claims = {c["id"]: c for c in findings.compute(synthetic(0.9, 0.5, 0.93), series, 2)["claims"]}
    assert claims["a"]["verdict"] == "holds"
    assert "trained / init 0.900 (init-to-init noise ±0.003)" in claims["a"]["details"][0]
    assert claims["a-qubd"]["verdict"] == "holds"  # gaps 0,0,0,0 | 10..40 %: in the MSB half
    assert claims["b"]["verdict"] == "holds" and "(-2.0 points)" in claims["b"]["details"][0]
    assert claims["d"]["verdict"] == "holds"  # shuffles of the init equal it; trained/shuffled = 0.9
    claims = {c["id"]: c for c in findings.compute(synthetic(1.002, 0.5, 0.90), series, 2)["claims"]}
    assert claims["a"]["verdict"] == "does not hold here"  # 1.002 is within the ±0.003 init noise
    assert claims["b"]["verdict"] == "does not hold here" and "(-5.0 points)" in claims["b"]["details"][0]
    assert claims["b"]["statement"].endswith("Holds for 0 of 1; fails for: mlp_momos_s4_c0.05.")
    summary = findings.compute(synthetic(0.9, 0.5, 0.93), series, 2)["summary"]
    assert np.allclose(summary["raw|lzma-9 vs init"], [0.9, 0.5])
    assert np.allclose(summary["raw|lzma-9 vs shuffled"], [0.9, 0.5])


def test_shuffle_control_tolerance_is_the_init_noise():
    series = ["mlp_baseline", "mlp_momos_s4_c0.05"]
    df = synthetic(0.9, 0.5, 0.93)
    shuffled_init = (df["series"] == "shuffled_mlp_baseline") & (df["step"] == 0)
    df.loc[shuffled_init, "bits"] = 1000.0 / 1.02  # init / shuffled init = 1.02
    claim = findings.compute(df, series, 2)["claims"][-1]
    assert claim["verdict"] == "does not hold here" and "at most 2.0%" in claim["statement"]
    df.loc[df["series"] == "mlp_random_init", "bits"] = 1030.0  # fresh inits differ by 3 %: 2 % is noise
    claim = findings.compute(df, series, 2)["claims"][-1]
    assert claim["verdict"] == "holds" and "(tolerance ±0.030)" in claim["details"][0]
