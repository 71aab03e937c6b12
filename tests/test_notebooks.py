"""The notebooks in notebooks/ are stored executed, with their figures; these tests read the stored
outputs (``make notebooks`` re-executes them) and recompute a cheap part of each to catch stale ones."""
import ast
import base64
from pathlib import Path

import numpy as np
import pytest

import kcomplexity as kc

nbformat = pytest.importorskip("nbformat")  # reading the stored outputs needs no kernel and no torch

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
DATA = NOTEBOOKS.parent / "data"
FIGURES = {"01_complexity_over_training.ipynb": 4, "02_variants.ipynb": 3, "sparsity_vs_complexity.ipynb": 4}
PNG = b"\x89PNG\r\n\x1a\n"


def read(name: str):
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def result(nb, marker: str):
    """The value shown by the code cell whose source contains ``marker`` (its last expression)."""
    cell = next(c for c in nb.cells if c.cell_type == "code" and marker in c.source)
    shown = [o for o in cell.outputs if o.output_type == "execute_result"]
    assert shown, f"the cell with {marker!r} shows nothing: run make notebooks"
    return ast.literal_eval(shown[-1]["data"]["text/plain"])


def test_every_notebook_is_listed():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(FIGURES)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_notebook_is_stored_executed_with_its_figures(name):
    nb = read(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "run make notebooks (top to bottom)"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [base64.b64decode(o["data"]["image/png"]) for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == FIGURES[name] and all(i.startswith(PNG) and len(i) > 10_000 for i in images)
    assert not any("assert " in c.source for c in code)  # the checks live here, not in the cells


def test_complexity_over_training_outputs():
    ratio = result(read("01_complexity_over_training.ipynb"), "ratio.unstack()")
    momos, baseline = ratio["mlp_momos_s4_c0.05"], ratio["mlp_baseline"]
    assert momos["raw|motif-4"] < 0.5 * baseline["raw|motif-4"] and momos["raw|lzma-9"] < 0.5 * baseline["raw|lzma-9"]
    assert 0.9 < baseline["raw|lzma-9"] < 1.1  # normal training barely moves the upper bound
    totals = kc.analysis.model_totals(kc.analyse(DATA, ["raw|lzma-9", "motif-4"], per="model", cache=False))
    bits = totals.set_index(["series", "estimator", "step"])["bits"]
    for (series, spec), value in {(s, e): v for s, row in ratio.items() for e, v in row.items()}.items():
        if spec != "bitplanes8|bdm2d":  # stale outputs: the stored ratio is no longer what the code gives
            assert value == pytest.approx(bits[series, spec, 8] / bits[series, spec, 0], abs=6e-5)


def test_variants_outputs():
    nb = read("02_variants.ipynb")
    bits = result(nb, "model bits per variant")
    for spec in ("raw|lzma-9", "raw|motif-4"):
        assert bits["momos c=0.01"][spec] < bits["momos c=0.05"][spec] < bits["trained"][spec]
        assert bits["pruned 70%"][spec] < bits["trained"][spec]
    accuracy = {name: m["accuracy"] for name, m in result(nb, "metrics = {").items()}
    assert accuracy["trained"] > 0.9 and accuracy["momos c=0.01"] < accuracy["trained"]
    mosaic = result(nb, "projection.stats")
    assert mosaic["blocks on any motif"] == mosaic["n_blocks"] and mosaic["k"] == int(0.01 * mosaic["n_blocks"])


def test_sparsity_outputs():
    nb = read("sparsity_vs_complexity.ipynb")
    neurons = result(nb, "neurons = {")
    for stats in neurons.values():
        assert stats["neurons where k_eps > k_bound"] == 0  # the bound is a guarantee
        assert stats["neurons with k_bound = d"] == 1.0 and 0.6 < stats["median k_eps / d"] < 0.9  # the text
    last = {n: w for n, w in kc.load(DATA / "mlp_baseline" / "epoch_0008.safetensors").items() if n.endswith("weight")}
    assert neurons["mlp_baseline"]["median lq_ratio"] == round(float(np.median(
        kc.sparsity(last, per="neuron").lq_ratio)), 3)
    assert set(result(nb, "correlations = {")) == {"raw|lzma-9", "sign|bdm", "bitplanes8|bdm2d"}
    rows = result(nb, "for eps in")
    assert all(r["kept"] == 1.0 for r in rows if r["eps"] <= 0.6)  # lq_ratio ~ 0.7 > eps: nothing pruned
    assert min(r["kept"] for r in rows) < 0.9
