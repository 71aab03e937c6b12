"""Plots: the figures hold the data they were given (axes, lines, bars, labels)."""
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import kcomplexity as kc
from kcomplexity import plot
from kcomplexity.errors import InputError


@pytest.fixture
def table():
    """An analyse-shaped table: 2 series x 3 steps x 2 tensors x 2 estimators, bits known."""
    rows = []
    for series, scale in (("a", 1.0), ("b", 2.0)):
        for step in range(3):
            for tensor, n in (("w", 100), ("b", 10)):
                for spec, base in (("raw|zstd-3", 1000.0), ("bitplanes2|entropy", 50.0)):
                    bits = scale * base * (3 - step) + n
                    row = {"series": series, "step": step, "tensor": tensor, "n_params": n, "estimator": spec,
                           "bits": bits, "bits_per_param": bits / n, "accuracy": 0.5 + 0.1 * step + 0.05 * scale}
                    if spec.startswith("bitplanes"):
                        row.update(plane_0=0.75 * bits, plane_1=0.25 * bits * (1 + step))
                    rows.append(row)
    return pd.DataFrame(rows)


def test_complexity_over_steps_one_axes_per_estimator_one_line_per_series(table):
    fig = plot.complexity_over_steps(table)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    ax = fig.axes[0]
    assert ax.get_title() == "raw|zstd-3" and ax.get_xlabel() == "step" and ax.get_ylabel() == "bits"
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [0, 1, 2])
    # model total = sum over the two tensors
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [2 * (2000 * 3) + 110, 2 * 4000 + 110, 4000 + 110])
    per_param = plot.complexity_over_steps(table, value="bits_per_param", estimators=["raw|zstd-3"], xlabel="epoch")
    assert len(per_param.axes) == 1 and per_param.axes[0].get_xlabel() == "epoch"
    np.testing.assert_allclose(per_param.axes[0].get_lines()[0].get_ydata()[-1], (2000 + 110) / 110)


def test_series_styles_stay_distinct_past_the_colour_cycle():
    looks = [(s["color"], s["marker"], s["linestyle"]) for s in plot.styles(40)]
    assert len(set(looks)) == 40
    assert looks[0][0] == looks[10][0] and looks[0][1:] != looks[10][1:]  # same colour, other marker and line


def test_model_rows_are_not_double_counted(table):
    model = table[table.tensor == "w"].assign(tensor="<model>", bits=1.0)
    totals = kc.analysis.model_totals(pd.concat([table, model]))
    assert (totals["bits"] == 1.0).all()


def test_layer_bars_one_bar_per_tensor_at_the_last_step(table):
    fig = plot.layer_bars(table, estimator="raw|zstd-3", series="b")
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [(2000 + 100) / 100, (2000 + 10) / 10])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["w", "b"] and "step 2" in ax.get_title()
    with pytest.raises(InputError, match="not in the table"):
        plot.layer_bars(table, estimator="gzip")


def _points(ax):
    """(x, y, lower error, upper error) of an axes' single errorbar container."""
    (container,) = ax.containers
    (bars,) = container.lines[2]
    ends = np.array(bars.get_segments())
    return container.lines[0].get_xdata(), container.lines[0].get_ydata(), ends[:, 0, 1], ends[:, 1, 1]


def test_plane_ratios_from_table_rows_and_from_estimates(table):
    planes = table[table.estimator == "bitplanes2|entropy"]
    trained, reference = planes[planes.step == 2], planes[planes.step == 0]
    fig = plot.plane_ratios(trained, reference)
    ax = fig.axes[0]
    t0, r0 = 0.75 * trained.bits.sum(), 0.75 * reference.bits.sum()
    t1, r1 = 0.75 * trained.bits.sum(), 0.25 * reference.bits.sum()
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [100 * t0 / r0, 100 * t1 / r1])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0 LSB", "1 MSB"]
    x = np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)
    est = kc.estimate(x, "bitplanes8|entropy")
    fig = plot.plane_ratios(est, est, title="same")
    assert fig.axes[0].get_title() == "same: total 100.0 %"
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_ydata(), [100.0] * 8)
    with pytest.raises(InputError, match="bitplanes"):
        plot.plane_ratios(kc.estimate(x, "raw|zstd-3"), est)


def test_plane_panels_draw_intervals_on_a_zoomed_axis():
    ratios, low, high = np.array([1.0, 0.995, 0.99]), np.array([0.998, 0.99, 0.985]), np.array([1.003, 1.0, 0.994])
    fig = plot.plane_ratio_panels({"mlp": (ratios, low, high), "cnn": (ratios, None, None)}, title="t")
    mlp, cnn = fig.axes
    assert mlp.get_title() == "mlp" and cnn.get_title() == "cnn" and fig.get_suptitle() == "t"
    x, y, bottom, top = _points(mlp)
    np.testing.assert_array_equal(x, [0, 1, 2])
    np.testing.assert_allclose(y, 100 * ratios)
    np.testing.assert_allclose(bottom, 100 * low)
    np.testing.assert_allclose(top, 100 * high)
    lo, hi = mlp.get_ylim()
    assert 98 < lo < 98.5 and 100.3 < hi < 101  # 1 % effects fill the axes (no 0..100 % scale)
def test_variant_bars_group_per_variant_with_error_bars():
    df = pd.DataFrame({"variant": ["ref", "ref", "m", "m", "p", "p"], "estimator": ["e1", "e2"] * 3,
                       "ratio_to_reference": [1, 1, 0.2, 0.1, 0.5, 0.6],
                       "ratio_to_reference_std": [0.0, 0.0, 0.01, 0.02, np.nan, np.nan]})
    ax = plot.variant_bars(df).axes[0]
    bars = [p for p in ax.patches]
    assert len(bars) == 6
    np.testing.assert_allclose([b.get_height() for b in bars], [1, 0.2, 0.5, 1, 0.1, 0.6])  # estimator e1 first
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ref", "m", "p"]
    fig = ax.figure
    assert ax.get_legend() is None  # the legend sits beside the axes, over no bar
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["e1", "e2"]


def test_pareto_front_and_figure(table):
    x, y = np.array([1.0, 2.0, 3.0, 2.5, 0.5]), np.array([0.5, 0.9, 0.95, 0.7, 0.1])
    np.testing.assert_array_equal(plot.pareto_front(x, y), [4, 0, 1, 2])
    df = pd.DataFrame({"variant": list("abcde"), "estimator": "e", "bits": x, "accuracy": y,
                       "accuracy_std": [0.01, 0.02, 0.0, 0.05, 0.1]})
    fig = plot.pareto(df)
    ax = fig.axes[0]
    points = [c.lines[0] for c in ax.containers]  # one marker per variant, each its own style
    np.testing.assert_allclose([(p.get_xdata()[0], p.get_ydata()[0]) for p in points], np.c_[x, y])
    assert len({(p.get_color(), p.get_marker()) for p in points}) == 5
    bars = [c.lines[2][0].get_segments()[0][:, 1] for c in ax.containers]
    np.testing.assert_allclose([b[1] - b[0] for b in bars], [0.02, 0.04, 0.0, 0.1, 0.2])  # +- sd
    front = next(line for line in ax.get_lines() if line.get_label() == "Pareto front")
    np.testing.assert_allclose(front.get_xdata(), [0.5, 1.0, 2.0, 3.0])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["Pareto front", *"abcde"]  # labels, not annotations
    assert not ax.texts and ax.get_ylabel() == "accuracy" and ax.get_xlabel() == "bits (e)"
    series_fig = plot.pareto(table, estimator="raw|zstd-3")
    assert len(series_fig.axes[0].containers) == 6  # 2 series x 3 steps
    with pytest.raises(InputError, match="accuracy"):
        plot.pareto(df.drop(columns="accuracy"))


def test_bdm_regime_one_axes_per_dimension_one_line_per_estimator():
    rows = [{"estimator": spec, "n_values": n, "bits_per_value": v}
            for spec, values in (("bitplanes1|bdm2d", [1.9, 1.2]), ("bitplanes1|bdm2d-tile64", [1.9, 1.9]),
                                 ("sign|bdm", [2.6, 0.1]))
            for n, v in zip([4096, 1 << 20] if "2d" in spec else [1000, 10 ** 6], values)]
    fig = plot.bdm_regime(pd.DataFrame(rows[::-1]))
    two_d, one_d = fig.axes
    assert two_d.get_title() == "2-D BDM" and one_d.get_title() == "1-D BDM"
    assert [line.get_label() for line in two_d.get_lines()] == ["bitplanes1|bdm2d-tile64", "bitplanes1|bdm2d",
                                                                 "blocks = distinct blocks"]
    np.testing.assert_array_equal(two_d.get_lines()[1].get_ydata(), [1.9, 1.2])  # sorted by size
    assert two_d.get_lines()[-1].get_xdata()[0] == 65536 * 16 and one_d.get_lines()[-1].get_xdata()[0] == 4096 * 12
    with pytest.raises(InputError, match="BDM estimators"):
        plot.bdm_regime(pd.DataFrame([{"estimator": "raw|zstd-3", "n_values": 10, "bits_per_value": 1.0}]))


def test_compare_planes_against_reference_and_shuffle():
    rows = []
    for variant, scale in (("random_init", 1.0), ("pretrained", 0.9)):
        for stream in ["total", "plane_0", "plane_1", "plane_2"]:
            i = 0 if stream == "total" else int(stream[-1]) + 1
            rows.append({"variant": variant, "estimator": "bitplanes3|bdm2d", "stream": stream,
                         "ratio_to_reference": scale ** i, "ratio_to_reference_std": 0.01 * i,
                         "ratio_to_shuffle": 1.0 - 0.05 * i, "ratio_to_shuffle_std": 0.0,
                         "reference_kind": "hf-config:BertModel"})
    table = pd.DataFrame(rows)
    fig = plot.compare_planes(table)
    left, right = fig.axes[:2]
    assert left.get_title() == "vs reference (hf-config:BertModel)" and right.get_title() == "vs own shuffle"
    assert [c.get_label() for c in left.containers] == ["pretrained"]      # the reference is not drawn against itself
    line = left.containers[0].lines[0]
    np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(line.get_ydata(), [0.9, 0.81, 0.729])
    assert [c.get_label() for c in right.containers] == ["random_init", "pretrained"]
    np.testing.assert_allclose(right.containers[0].lines[0].get_ydata(), [0.95, 0.9, 0.85])
    assert left.containers[0].lines[0].get_color() == right.containers[1].lines[0].get_color()  # pretrained
    assert len(plot.variant_bars(table).axes[0].patches) == 2      # the total rows only
    with pytest.raises(InputError, match="plane_i rows"):
        plot.compare_planes(table[table.stream == "total"])
