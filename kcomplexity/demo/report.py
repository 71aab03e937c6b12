"""The demo's report folder: PNG figures (``kcomplexity.plot``) and ``report.md`` embedding them.

Every number in ``report.md`` is read from the run's tables; nothing is typed in.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import plot
from .findings import QUBD, printable, relation_table, short

FIGURES = {
    "complexity_over_steps.png": "Model bits per parameter over the epochs of each series' first training seed, "
                                 "per estimator.",
    "qubd_planes_vs_init.png": "QuBD per-plane ratio of each baseline's finals over the training seeds to its model's "
                               "random initialisations (LSB..MSB), with 95 % intervals.",
    "qubd_planes_vs_shuffled.png": "QuBD per-plane ratio of each baseline's finals to the same weights shuffled, "
                                   "with 95 % intervals.",
    "layers.png": "QuBD bits per parameter of each weight matrix of the first MoMos run after training (first seed).",
    "variants.png": "Model bits of each trained series (mean over the training seeds) relative to its model's "
                    "random initialisations, per estimator; bars: sd over the seeds.",
    "pareto.png": "Test accuracy against model bits per parameter (lzma, a lossless bound) of the MLP runs, "
                  "mean ± sd over the training seeds.",
}
PARETO_ESTIMATOR = "raw|lzma-9"  # under motif-4 every unquantised run stores ~32 bits/param: their points coincide


def markdown_table(df: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured markdown table (floats rounded to ``digits``)."""
    def cell(v):
        return f"{v:.{digits}f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def variant_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary in ``plot.variant_bars`` form: variant, estimator, ratio_to_reference (= vs init) and
    ratio_to_reference_std (its sd over the seeds)."""
    def long(suffix: str, name: str) -> pd.DataFrame:
        table = summary.melt(id_vars="series", value_vars=[c for c in summary if c.endswith(suffix)],
                             var_name="estimator", value_name=name)
        return table.assign(estimator=table["estimator"].str.removesuffix(suffix))
    table = long(" vs init", "ratio_to_reference").merge(long(" vs init sd", "ratio_to_reference_std"))
    return table.rename(columns={"series": "variant"})


def pareto_table(summary: pd.DataFrame, series: list[str], estimator: str = PARETO_ESTIMATOR) -> pd.DataFrame:
    """One point per series: mean ± sd over the seeds of bits/param at ``estimator`` and of test accuracy."""
    rows = summary[summary["series"].isin(series)]
    return pd.DataFrame({"variant": rows["series"], "estimator": estimator,
                         "bits_per_param": rows[f"{estimator} bits/param"],
                         "bits_per_param_std": rows[f"{estimator} bits/param sd"],
                         "accuracy": rows["accuracy"], "accuracy_std": rows["accuracy_sd"]})


def plane_figure(planes: pd.DataFrame, reference: str):
    """The per-plane ratios of every model's baseline against ``reference`` ("init" or "shuffled")."""
    against = {"init": "its random initialisations", "shuffled": "its own shuffle"}[reference]
    panels = {}
    for series, rows in planes[planes["reference"] == reference].groupby("series", sort=False):
        panels[f"{series} (seed mean) / {reference}"] = (rows["ratio"], rows["ci_low"], rows["ci_high"])
    return plot.plane_ratio_panels(panels, title=f"QuBD per plane vs {against}, 95 % intervals")


def figures(results: pd.DataFrame, tables: dict, plan) -> dict:
    """Build every figure of ``FIGURES``; returns name -> matplotlib Figure."""
    series, epochs, summary = plan.series, plan.epochs, tables["summary"]
    trained = results[results["series"].isin(series)]
    momos = next((s for s in series if "_momos_" in s), series[0])
    layers = plot.layer_bars(trained, estimator=QUBD, series=momos, step=epochs)
    layers.axes[0].set_title(f"QuBD: {momos}, epoch {epochs}")
    variants = plot.variant_bars(variant_table(summary))
    variants.axes[0].set(title="each series vs its model's random initialisations",
                         ylabel="bits / init bits (mean ± sd over seeds)")
    return {
        "complexity_over_steps.png": plot.complexity_over_steps(trained, value="bits_per_param", xlabel="epoch"),
        "qubd_planes_vs_init.png": plane_figure(tables["planes"], "init"),
        "qubd_planes_vs_shuffled.png": plane_figure(tables["planes"], "shuffled"),
        "layers.png": layers,
        "variants.png": variants,
        "pareto.png": plot.pareto(pareto_table(summary, [r.series for r in plan.runs if r.model == "mlp"]),
                                  x="bits_per_param"),
    }


def write(out: Path, results: pd.DataFrame, tables: dict, plan, seconds: dict) -> None:
    """Save the figures as PNG and write ``out/report.md``."""
    for name, fig in figures(results, tables, plan).items():
        fig.savefig(out / name, dpi=110)
    (out / "report.md").write_text(markdown(results, tables, plan, seconds))


def noise_table(noise: pd.DataFrame) -> pd.DataFrame:
    shown = noise.assign(estimator=noise["estimator"].map(short))
    for c in ("init noise", "baseline seed noise"):
        shown[c] = [f"{100 * v:.3f}%" for v in noise[c]]
    shown["init bits"] = noise["init bits"].round(0).astype(int)
    return shown if shown["note"].any() else shown.drop(columns="note")


def markdown(results: pd.DataFrame, tables: dict, plan, seconds: dict) -> str:
    summary, runs, epochs = tables["summary"], plan.runs, plan.epochs
    estimators = ", ".join(f"`{e}`" for e in dict.fromkeys(results["estimator"]))
    n_series = results["series"].nunique()
    lines = [
        "# kcomplexity demo report", "",
        f"{len(runs)} training runs x {epochs} epochs on scikit-learn's digits (seeded split, test accuracy on "
        f"{int(_first(results, 'n_test', 360))} held-out images), {n_series} series with the controls, "
        f"estimators {estimators}. The QuBD estimator `bitplanes8|bdm2d` measures each weight matrix "
        "(dim >= 2) and sums them; the others measure the whole model, all trainable tensors joined in name "
        "order, as the MoMos reference does. "
        f"Wall time: training {seconds['train']:.0f} s, analysis {seconds['analyse']:.0f} s, "
        f"total {seconds['total']:.0f} s before the report.", "",
        "Runs: " + ", ".join(f"`{r.series}` ({_describe(r.method)})" for r in runs) + ".", "",
        f"Every run trains with {len(plan.train_seeds)} seeds ({', '.join(map(str, plan.train_seeds))}); the "
        "first writes the series over epochs, and every seed's final weights are measured (`<series>_final`) "
        "and give a test accuracy (`seeds.csv`; mean ± sd below). Each model's initialisation is measured on "
        f"{len(plan.init_draws)} fresh random draws (seeds {plan.init_draws[0]}..{plan.init_draws[-1]}, none a "
        "training seed).", "",
        "**How the verdicts are reached.** Every comparison tests a run's final bits over its training seeds "
        "against a reference's draws (the random initialisations, the baseline's seeds, or the finals' shuffles) "
        "with Welch's t-test of the two means (`kcomplexity.analysis.inference`); the ratio of means is given "
        "with its 95 % interval and the reference's noise (sd / mean). Within each claim the p-values are "
        "adjusted with Holm, so the chance of any false \"lower\" in a claim is at most 5 %. A row reads "
        "\"lower\", \"higher\" or \"no evidence\"; where the reference's draws are identical (`motif-4` "
        "codes every random initialisation in stored mode) the noise cannot be estimated and the row says so. "
        "Accuracy is \"within 3 points\" only when a one-sided Welch test over the seeds shows it. Every row: "
        "`claims.csv`.", "",
        "## Noise", "",
        "Per model and estimator: the spread of the random initialisations (init noise = sd / mean over the "
        "draws) and of the baseline's finals over the training seeds.", "",
        markdown_table(noise_table(tables["noise"]), digits=4), "",
        "## Results at the last epoch", "",
        "Model bits (mean over the training seeds' finals) relative to the mean of the model's random "
        "initialisations; < 1 = simpler. For QAT runs the ratio includes the quantisation.", "",
        markdown_table(printable(summary)), "",
        "Full table (bits per parameter, ratio to init, ratio to the shuffled weights, seed spreads): "
        "`summary.csv`; every (series, step, tensor, estimator) row: `results.parquet` / `results.csv`.", "",
        "## Claims of the seed papers, checked on this run", "",
    ]
    titles = {"a": "Trained weights are simpler than their initialisation under each estimator",
              "a-qubd": "QuBD: the gap sits mostly in the most significant bit-planes",
              "b": "MoMos reaches comparable accuracy (within 3 points) with lower complexity",
              "c": "Pruning and quantisation lower complexity",
              "d": "The shuffled control separates arrangement from value distribution"}
    for claim in tables["claims"]:
        lines += [f"**({claim['id']}) {titles[claim['id']]}: {claim['verdict']}.** {claim['statement']}", ""]
        lines += [f"- {d}" for d in claim["details"]] + [""]
    lines += sparsity_section(tables, list(dict.fromkeys(results["estimator"])), epochs)
    lines += ["## Figures", ""]
    for name, caption in FIGURES.items():
        lines += [f"![{caption}]({name})", "", f"*{caption}*", ""]
    return "\n".join(lines)


def sparsity_section(tables: dict, estimators: list[str], epochs: int) -> list[str]:
    """The l_q ratio and PQ index of each run beside its bits, the Spearman table and its reading."""
    corr = tables["correlations"]
    if corr.empty:
        return []
    shown = corr.assign(estimator=corr["estimator"].map(short))
    return ["## Does l_q compressibility predict the complexity estimates?", "",
            "`lq_ratio` = ||w||_q / (d^(1/q - 1/2) ||w||_2) with q = 0.5 (1 = flat, smaller = sparser) and "
            "`pq_index` = 1 - d^(1 - 1/p) ||w||_p / ||w||_1 with p = 0.5 (0 = flat, larger = sparser), of the "
            "whole model (all trainable tensors, zeros included) at the last epoch of the first training seed; both ignore arrangement, so "
            "a shuffle leaves them unchanged. `k_bound/d`: the fraction of weights that the best k-term bound "
            "sigma_k(w)_2 <= k^(1/2 - 1/q) ||w||_q keeps to guarantee a relative l2 error of 0.1; `k_eps/d`: the "
            "fraction that actually reaches it.", "",
            markdown_table(relation_table(tables["relation"], estimators, epochs), digits=4), "",
            "Spearman rank correlation of bits/param with each measure, per estimator, over the trained runs "
            "(controls left out; `sparsity_correlations.csv`):", "",
            markdown_table(shown), "", *[f"- {line}" for line in tables["reading"]], ""]


def _first(results: pd.DataFrame, column: str, default):
    return results[column].dropna().iloc[0] if column in results and results[column].notna().any() else default


def _describe(method) -> str:
    params = method.params()
    return type(method).__name__ + ("" if not params else " " + ", ".join(f"{k}={v}" for k, v in params.items()
                                                                            if v is not None))
