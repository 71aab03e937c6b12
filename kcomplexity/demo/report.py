"""The demo's report folder: PNG figures (``kcomplexity.plot``) and ``report.md`` embedding them.

Every number in ``report.md`` is read from the run's tables; nothing is typed in.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import plot
from .findings import QUBD, printable, relation_table, short

FIGURES = {
    "complexity_over_steps.png": "Model bits per parameter over training, per estimator and series.",
    "qubd_planes_vs_init.png": "QuBD per-plane ratio, baseline after training / its initialisation (LSB..MSB).",
    "qubd_planes_vs_shuffled.png": "QuBD per-plane ratio, baseline after training / the same weights shuffled.",
    "layers.png": "QuBD bits per parameter of each weight matrix of the first MoMos run after training.",
    "variants.png": "Model bits of each trained series relative to its initialisation, per estimator.",
    "pareto.png": "Test accuracy against model bits (motif-4) of the MLP runs at the last epoch.",
}


def markdown_table(df: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured markdown table (floats rounded to ``digits``)."""
    def cell(v):
        return f"{v:.{digits}f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def variant_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary in ``plot.variant_bars`` form: variant, estimator, ratio_to_reference (= vs init)."""
    long = summary.melt(id_vars="series", value_vars=[c for c in summary if c.endswith(" vs init")],
                        var_name="estimator", value_name="ratio_to_reference")
    long["estimator"] = long["estimator"].str.removesuffix(" vs init")
    return long.rename(columns={"series": "variant"})


def figures(results: pd.DataFrame, summary: pd.DataFrame, series: list[str], epochs: int) -> dict:
    """Build every figure of ``FIGURES``; returns name -> matplotlib Figure."""
    trained = results[results["series"].isin(series)]
    mlp = trained[trained["series"].str.startswith("mlp_")]
    base = series[0]
    momos = next((s for s in series if "_momos_" in s), base)
    qubd = results[results["estimator"] == QUBD]
    at = lambda s, step: qubd[(qubd["series"] == s) & (qubd["step"] == step)]  # noqa: E731
    return {
        "complexity_over_steps.png": plot.complexity_over_steps(trained, value="bits_per_param"),
        "qubd_planes_vs_init.png": plot.plane_ratios(at(base, epochs), at(base, 0)),
        "qubd_planes_vs_shuffled.png": plot.plane_ratios(at(base, epochs), at(f"shuffled_{base}", epochs)),
        "layers.png": plot.layer_bars(trained, estimator=QUBD, series=momos, step=epochs),
        "variants.png": plot.variant_bars(variant_table(summary)),
        "pareto.png": plot.pareto(mlp[mlp["step"] == epochs], estimator="raw|motif-4"),
    }


def write(out: Path, results: pd.DataFrame, tables: dict, plan, seconds: dict) -> None:
    """Save the figures as PNG and write ``out/report.md``."""
    for name, fig in figures(results, tables["summary"], plan.series, plan.epochs).items():
        fig.savefig(out / name, dpi=110)
    (out / "report.md").write_text(markdown(results, tables, plan, seconds))


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
        f"first writes the measured series, every seed gives a test accuracy (`seeds.csv`; mean ± sd below). "
        f"Noise: per model and estimator (and per QuBD plane), the largest |1 - bits(draw) / bits(init)| over "
        f"{len(plan.init_draws)} fresh random initialisations of that model; \"lower\" means below 1 by more "
        "than that noise.", "",
        "## Results at the last epoch", "",
        "Model bits relative to the run's epoch 0 (the initialisation shared by every run of a model; "
        "for QAT runs its quantised version, the weights those runs deploy); < 1 = simpler.", "",
        markdown_table(printable(summary)), "",
        "Full table (bits per parameter, ratio to init, ratio to the shuffled weights): `summary.csv`; "
        "every (series, step, tensor, estimator) row: `results.parquet` / `results.csv`.", "",
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
    lines += sparsity_section(tables)
    lines += ["## Figures", ""]
    for name, caption in FIGURES.items():
        lines += [f"![{caption}]({name})", "", f"*{caption}*", ""]
    return "\n".join(lines)


def sparsity_section(tables: dict) -> list[str]:
    """The l_q ratio and PQ index of each run beside its bits, the Spearman table and its reading."""
    corr = tables["correlations"]
    if corr.empty:
        return []
    shown = corr.assign(estimator=corr["estimator"].map(short))
    return ["## Does l_q compressibility predict the complexity estimates?", "",
            "`lq_ratio` = ||w||_q / (d^(1/q - 1/2) ||w||_2) with q = 0.5 (1 = flat, smaller = sparser) and "
            "`pq_index` = 1 - d^(1 - 1/p) ||w||_p / ||w||_1 with p = 0.5 (0 = flat, larger = sparser), of the "
            "whole model (all trainable tensors, zeros included) at the last epoch; both ignore arrangement, so "
            "a shuffle leaves them unchanged. `k_bound/d`: the fraction of weights that the best k-term bound "
            "sigma_k(w)_2 <= k^(1/2 - 1/q) ||w||_q keeps to guarantee a relative l2 error of 0.1; `k_eps/d`: the "
            "fraction that actually reaches it.", "",
            markdown_table(relation_table(tables["summary"]), digits=4), "",
            "Spearman rank correlation of bits/param with each measure, per estimator, over the trained runs "
            "(controls left out; `sparsity_correlations.csv`):", "",
            markdown_table(shown), "", *[f"- {line}" for line in tables["reading"]], ""]


def _first(results: pd.DataFrame, column: str, default):
    return results[column].dropna().iloc[0] if column in results and results[column].notna().any() else default


def _describe(method) -> str:
    params = method.params()
    return type(method).__name__ + ("" if not params else " " + ", ".join(f"{k}={v}" for k, v in params.items()
                                                                            if v is not None))
