"""Figures from analysis tables (``analyse``, ``compare``). Each function returns a
matplotlib ``Figure`` (built without pyplot, so nothing is shown or kept open);
save it with ``fig.savefig(path)`` or let a notebook display it.
"""
from __future__ import annotations

import re

import numpy as np

from .analysis import MODEL_TENSOR, model_totals
from .coders.bdm import BDM
from .coders.ctm import TABLES
from .errors import InputError
from .estimators import parse

PLANE = r"plane_\d+"


def _figure(n_axes: int = 1, width: float = 6.0, height: float = 4.0):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * n_axes, height), layout="constrained")
    return fig, [fig.add_subplot(1, n_axes, i + 1) for i in range(n_axes)]


# What each figure draws from, and the command that makes that table (said whenever a table cannot serve).
NEEDS = {
    "complexity_over_steps": "an analyse table of a checkpoint series (kcomplexity analyse SERIES --out t.csv)",
    "layer_bars": "a per-tensor analyse or estimate table (kcomplexity estimate CHECKPOINT --out t.csv)",
    "variant_bars": "a compare table (kcomplexity compare a=CHECKPOINT b=CHECKPOINT --out t.csv)",
    "compare_planes": "a compare table with a bitplanes estimator "
                      "(kcomplexity compare a=CHECKPOINT -e 'bitplanes8|bdm2d' --min-ndim 2 --out t.csv)",
    "pareto": "an analyse table of a series whose metrics.json holds accuracy, or a compare table with accuracy "
              "(kcomplexity plot t.csv --kind pareto --metrics accuracy.json)",
}


MARKERS = ("o", "s", "^", "D", "v", "P", "X")
LINESTYLES = ("-", "--", ":", "-.")


def styles(n: int) -> list[dict]:
    """``n`` distinguishable styles: the 10-colour cycle, each with its own marker, and a new line
    style each time the colours repeat (so no two of up to 40 series look alike)."""
    return [{"color": f"C{i % 10}", "marker": MARKERS[i % len(MARKERS)],
             "linestyle": LINESTYLES[(i // 10) % len(LINESTYLES)]} for i in range(n)]


def _need(df, columns, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{what} needs the columns {missing}; it draws from {NEEDS.get(what, 'kcomplexity.analyse')}")


def _nonempty(rows, what: str, why: str):
    """``rows`` if any are left to draw; never an empty figure."""
    if len(rows) == 0:
        raise InputError(f"{what}: nothing to draw, {why}; it draws from {NEEDS[what]}")
    return rows


def _pick(df, column: str, value, what: str):
    """Rows with ``column == value``; ``value=None`` picks the first one present."""
    values = list(dict.fromkeys(df[column]))
    if not values:
        raise InputError(f"{what}: the table has no rows to plot")
    value = values[0] if value is None else value
    if column == "estimator" and value not in values:
        value = parse(value).spec  # "motif-4" names the column value "raw|motif-4"
    if value not in values:
        raise InputError(f"{what}: {column} {value!r} is not in the table; choose one of {values}")
    return df[df[column] == value], value


def complexity_over_steps(df, value: str = "bits", estimators=None, xlabel: str = "step"):
    """One axes per estimator, one line per series (each its own colour, marker and line style):
    model bits (or bits_per_param) against step; ``xlabel`` names what the step counts."""
    if value not in ("bits", "bits_per_param"):
        raise InputError(f"value must be 'bits' or 'bits_per_param', got {value!r}")
    _need(df, ["step", "estimator", "bits", "n_params"], "complexity_over_steps")
    totals = _nonempty(model_totals(df).dropna(subset=["step", value]), "complexity_over_steps",
                       "no checkpoint has a step and a finite model total (a skipped tensor, e.g. a bias "
                       "under bdm2d, makes the total NaN: select with --min-ndim 2)")
    if estimators is None:  # those with a finite total
        estimators = [e for e in dict.fromkeys(df["estimator"]) if e in set(totals["estimator"])]
    fig, axes = _figure(len(estimators), width=4.5)
    for ax, spec in zip(axes, estimators):
        rows, _ = _pick(totals, "estimator", spec, "complexity_over_steps")
        lines = list(rows.groupby("series") if "series" in rows.columns else [("model", rows)])
        for (name, line), style in zip(lines, styles(len(lines))):
            ax.plot(line["step"], line[value], label=str(name), markersize=4, **style)
        ax.set(title=spec, xlabel=xlabel, ylabel=value.replace("_", " "))
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize="small")
    return fig


def layer_bars(df, estimator=None, step=None, series=None, value: str = "bits_per_param", checkpoint=None):
    """One bar per tensor of one checkpoint for one estimator (default: the first).

    The checkpoint is the one at ``step`` (default: the last step), or, in a table without
    steps (one ``estimate``d checkpoint), the one named ``checkpoint`` (default: the first).
    """
    _need(df, ["tensor", "estimator", value], "layer_bars")
    rows = df[df["tensor"] != MODEL_TENSOR]
    if rows.empty:
        raise InputError("layer_bars needs per-tensor rows; this table holds whole-model rows only: "
                         "analyse with per='tensor' (command line: --per tensor)")
    if "series" in rows.columns:
        rows, series = _pick(rows, "series", series, "layer_bars")
    rows, estimator = _pick(rows, "estimator", estimator, "layer_bars")
    steps = rows["step"].dropna() if "step" in rows.columns else rows["estimator"].iloc[:0]
    if len(steps) and checkpoint is None:
        rows, step = _pick(rows[rows["step"].notna()], "step", steps.max() if step is None else step, "layer_bars")
        where = f"step {step:g}"
    elif step is not None:
        raise InputError(f"layer_bars: step {step!r} given, but this table holds no steps; name the checkpoint instead")
    else:
        rows, where = _pick(rows, "checkpoint", checkpoint, "layer_bars") if "checkpoint" in rows else (rows, "")
    rows = _nonempty(rows.dropna(subset=[value]), "layer_bars", f"every {value} of {estimator} is NaN (skipped)")
    fig, (ax,) = _figure(width=max(5.0, 0.6 * len(rows)))
    ax.bar(range(len(rows)), rows[value].to_numpy())
    ax.set_xticks(range(len(rows)), rows["tensor"].astype(str), rotation=45, ha="right")
    where = ", ".join(str(w) for w in (series, where) if w is not None and str(w))
    ax.set(title=f"{estimator} ({where})" if where else estimator, xlabel="tensor", ylabel=value.replace("_", " "))
    return fig


def plane_bits(source) -> dict[str, float]:
    """Per-plane bits ``{"plane_0": .., ...}`` from an Estimate (``details["streams"]``), a dict,
    or a table with ``plane_i`` columns (summed over its rows)."""
    if hasattr(source, "columns"):
        source = {c: float(source[c].sum(skipna=False)) for c in source.columns if re.fullmatch(PLANE, str(c))}
    elif hasattr(source, "details"):
        source = source.details.get("streams", {})
    planes = {k: float(v) for k, v in dict(source).items() if re.fullmatch(PLANE, str(k))}
    if not planes:
        raise InputError("no plane_i values found: measure with a 'bitplanesB|...' estimator (QuBD)")
    return dict(sorted(planes.items(), key=lambda kv: int(kv[0].split("_")[1])))


def plane_ratios(trained, reference, title: str | None = None):
    """QuBD view: per-plane ratio C_i(trained) / C_i(reference) in percent, LSB to MSB, with the
    total ratio in the title (after ``title``) and a line at 100 %."""
    a, b = plane_bits(trained), plane_bits(reference)
    if list(a) != list(b):
        raise InputError(f"trained has planes {list(a)} but the reference has {list(b)}: use the same estimator")
    ratios = np.array([a[k] / b[k] for k in a])
    total = f"total {100.0 * sum(a.values()) / sum(b.values()):.1f} %"
    return plane_ratio_panels({f"{title}: {total}" if title else f"per-plane ratio trained / reference ({total})":
                               (ratios, None, None)})


def plane_ratio_panels(panels: dict, title: str | None = None):
    """One axes per entry ``{panel title: (ratios, low, high)}``: the per-plane ratios LSB to MSB as points
    in percent, with error bars from ``low``..``high`` (an interval, e.g. 95 %; None: no bars), a line
    at 100 %, and a y axis zoomed to the points and bars (so effects of 1 % show)."""
    fig, axes = _figure(len(panels), width=5.0)
    for ax, (name, (ratios, low, high)) in zip(axes, panels.items()):
        ratios = np.asarray(ratios, dtype=float)
        x = np.arange(len(ratios))
        bars = None if low is None else 100.0 * np.abs(np.vstack([low, high]).astype(float) - ratios)
        ax.errorbar(x, 100.0 * ratios, yerr=bars, marker="o", linestyle="none", capsize=3, color="C0")
        ax.axhline(100.0, color="grey", linestyle="--", linewidth=1)
        ax.set_xticks(x, [f"{i}" + (" LSB" if i == 0 else " MSB" if i == len(x) - 1 else "") for i in x])
        ax.set(title=name, xlabel="bit-plane", ylabel="ratio (%)")
        ax.margins(y=0.15)
    if title:
        fig.suptitle(title)
    return fig


def _compare_totals(table):
    """A ``compare`` table's whole-model rows (``stream == "total"``; older tables have no streams)."""
    return table[table["stream"] == "total"] if "stream" in table.columns else table


def compare_planes(table, estimator=None):
    """Per-plane ratios of a ``compare`` table with a ``bitplanesB|...`` estimator, LSB to MSB:
    left against the reference (its ``reference_kind`` in the title), right against each
    variant's own shuffle; one line per variant with its seed spread, a line at 1."""
    _need(table, ["variant", "estimator", "stream", "ratio_to_reference"], "compare_planes")
    rows = table[table["stream"].astype(str).str.fullmatch(PLANE)]
    if rows.empty:
        raise InputError("compare_planes needs plane_i rows: compare with a 'bitplanesB|...' estimator")
    rows, estimator = _pick(rows, "estimator", estimator, "compare_planes")
    kind = str(rows["reference_kind"].iloc[0]) if "reference_kind" in rows else "reference"
    reference = kind.split(":", 1)[1] if kind.startswith("variant:") else rows["variant"].iloc[0]
    panels = [("ratio_to_reference", f"vs reference ({kind})")]
    if "ratio_to_shuffle" in rows:
        panels.append(("ratio_to_shuffle", "vs own shuffle"))
    fig, axes = _figure(len(panels), width=5.0)
    colours = {v: f"C{i}" for i, v in enumerate(dict.fromkeys(rows["variant"]))}  # one colour per variant
    for ax, (value, title) in zip(axes, panels):
        for variant, line in rows.groupby("variant", sort=False):
            if value == "ratio_to_reference" and variant == reference:
                continue
            planes = line["stream"].str.split("_").str[1].astype(int).to_numpy()
            spread = line[value + "_std"].fillna(0).to_numpy(float) if value + "_std" in line else None
            ax.errorbar(planes, line[value].to_numpy(float), yerr=spread, marker="o", capsize=3, label=str(variant),
                        color=colours[variant])
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.set(title=title, xlabel="bit-plane (0 = LSB)", ylabel=value.replace("_", " "))
    fig.suptitle(f"{estimator} per plane")
    fig.legend(*axes[-1].get_legend_handles_labels(), loc="outside right upper", fontsize="small")
    return fig


def variant_bars(table, value: str = "ratio_to_reference"):
    """Grouped bars of a ``compare`` table: one group per variant, one bar per estimator,
    error bars from the ``<value>_std`` column (seed spread), a line at 1 for ratios."""
    _need(table, ["variant", "estimator", value], "variant_bars")
    table = _compare_totals(table)
    variants = list(dict.fromkeys(table["variant"]))
    estimators = list(dict.fromkeys(table["estimator"]))
    fig, (ax,) = _figure(width=max(6.0, 1.2 * len(variants)))
    width = 0.8 / len(estimators)
    for j, spec in enumerate(estimators):
        rows = table[table["estimator"] == spec].set_index("variant").reindex(variants)
        errors = rows[value + "_std"].fillna(0).to_numpy() if value + "_std" in rows else None
        ax.bar(np.arange(len(variants)) + (j - (len(estimators) - 1) / 2) * width, rows[value].to_numpy(),
               width, yerr=errors, capsize=3, label=spec)
    if value.startswith("ratio"):
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(variants)), variants, rotation=30, ha="right")
    ax.set(xlabel="variant", ylabel=value.replace("_", " "), title="variants compared")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside right upper", fontsize="small")  # covers no bar
    return fig


def pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both lower ``x`` and higher ``y``, by x."""
    order = np.lexsort((-y, x))
    front, best = [], -np.inf
    for i in order:
        if y[i] > best:
            front.append(i)
            best = y[i]
    return np.array(front, dtype=int)


MAX_LEGEND_POINTS = 20


def pareto(df, estimator=None, x: str = "bits", y: str = "accuracy"):
    """Accuracy against complexity, one point per variant (``compare`` table) or per
    checkpoint (``analyse`` table, model totals), with the Pareto front drawn as a line.
    Up to 20 points each get a style and a legend entry (beside the axes); error bars from the
    ``<x>_std`` and ``<y>_std`` columns when the table has them (e.g. the sd over seeds)."""
    _need(df, [y, "estimator"], "pareto")
    points = model_totals(df) if "step" in df.columns else _compare_totals(df)
    points, estimator = _pick(points, "estimator", estimator, "pareto")
    points = _nonempty(points.dropna(subset=[x, y]), "pareto", f"no row has both {x} and {y} ({estimator})")
    labels = points["variant"] if "variant" in points else points.get("series", points.index).astype(str) + \
        " @" + points["step"].astype(str)
    xs, ys = points[x].to_numpy(float), points[y].to_numpy(float)
    spread = [points[c].to_numpy(float) if c in points else None for c in (f"{x}_std", f"{y}_std")]
    fig, (ax,) = _figure(width=7.0)
    if len(xs) <= MAX_LEGEND_POINTS:  # one style and legend entry per point: no label covers another
        for i, (text, style) in enumerate(zip(labels, styles(len(xs)))):
            ax.errorbar(xs[i], ys[i], xerr=None if spread[0] is None else spread[0][i],
                        yerr=None if spread[1] is None else spread[1][i], capsize=2, label=str(text),
                        **{**style, "linestyle": "none"})
    else:
        ax.scatter(xs, ys, s=12, label="checkpoints / variants")
    front = pareto_front(xs, ys)
    ax.plot(xs[front], ys[front], color="grey", drawstyle="steps-post", label="Pareto front", zorder=0)
    ax.set(xlabel=f"{x.replace('_', ' ')} ({estimator})", ylabel=y, title="accuracy vs complexity")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside right upper", fontsize="small")
    return fig


def perturbation_heatmap(values, title: str | None = None, cmap: str = "RdBu_r"):
    """Heatmap of a perturbation map (``kcomplexity.perturbation_map``): the BDM change in bits
    when each bit flips, on a diverging scale centred at 0 (red: flipping adds complexity)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2 or values.size == 0:
        raise InputError(f"perturbation_heatmap draws a 2-D map, got shape {values.shape}: "
                         "pass kcomplexity.perturbation_map(tensor, 'bitplanes8|bdm2d-tile64')")
    fig, (ax,) = _figure(width=6.0, height=5.0)
    limit = float(np.abs(values).max()) or 1.0
    image = ax.imshow(values, cmap=cmap, vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
    fig.colorbar(image, ax=ax, label="BDM change when the bit flips (bits)")
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title(title or "perturbation map")
    return fig


def bdm_regime(table, value: str = "bits_per_value"):
    """BDM bits per cell against size: one axes for 2-D and one for 1-D BDM estimators, one
    line per estimator (e.g. whole and tiled forms), log-log. ``table``: columns ``estimator``,
    ``n_values`` and ``value``. A dotted line marks the size at which an untiled sum over binary
    input holds as many blocks as there are distinct blocks (2^16 4x4 blocks, 2^12 12-blocks):
    beyond it the whole form saturates and its bits per cell fall with size."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    _need(table, ["estimator", "n_values", value], "bdm_regime")
    panels: dict[int, list[str]] = {2: [], 1: []}
    for spec in dict.fromkeys(table["estimator"]):
        coder = parse(spec).coder
        if not isinstance(coder, BDM):
            raise InputError(f"bdm_regime draws BDM estimators (bdm, bdm2d and their -chunkN/-tileT forms), got {spec!r}")
        panels[coder.ndim].append(spec)
    panels = {ndim: specs for ndim, specs in panels.items() if specs}
    fig, axes = _figure(len(panels), width=4.8)
    for ax, (ndim, specs) in zip(axes, panels.items()):
        for spec in specs:
            rows = table[table["estimator"] == spec].sort_values("n_values")
            ax.plot(rows["n_values"], rows[value], marker="o", label=spec)
        side = TABLES[(ndim, 2)][1]
        ax.axvline(2 ** side ** ndim * side ** ndim, color="grey", linestyle=":", linewidth=1,
                   label="blocks = distinct blocks")
        ax.set(xscale="log", yscale="log", title=f"{ndim}-D BDM", xlabel="cells (values)",
               ylabel="BDM bits per cell")
        ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize="small")
    return fig
