"""The demo's numbers: model totals, the summary table, the claims (a)-(d) decided by code, and how
sparsity relates to bits.

Every series name comes from the run plan (``app.Plan``). Every ratio is model bits / model
bits at the same estimator, where model bits are the sum over the weight matrices measured by
``analyse`` (``model_totals``). "init" is epoch 0 of a series (one seeded
initialisation shared by every run of a model; a QAT series stores its quantised version).

Noise: for a model and an estimator, the largest |1 - bits(draw) / bits(init)| over the
plan's >= 5 fresh random-init draws of that model, init = epoch 0 of the model's baseline;
for a QuBD plane, the same per plane. Each model has its own noise. "Lower" means a ratio
below 1 by more than that noise; the effect size 1 - ratio is printed beside it.

Accuracy is the mean ± sd (ddof=1) over the plan's training seeds; a difference of means is
shown with its standard error sqrt(sd_a^2 / n_a + sd_b^2 / n_b) and judged on the mean.

A verdict is "holds" only when the claim holds for every case listed; otherwise "does not
hold here" and the statement names where it fails.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis import MODEL_TENSOR, model_totals
from ..train.methods import QAT, Momos, Prune

QUBD = "bitplanes8|bdm2d"
MAX_ACCURACY_DROP = 0.03  # "comparable accuracy": within 3 points of the baseline
CONTROL_TOLERANCE = 0.01  # least tolerance for "a shuffle of random weights leaves their bits alone"
SPARSITY_COLUMNS = ("lq_ratio", "pq_index")
BOUND_COLUMNS = ("k_bound/d", "k_eps/d")  # eps = 0.1: the weights the l_q bound asks for, and those that suffice


def plane_totals(results: pd.DataFrame) -> pd.DataFrame:
    """QuBD per-plane bits summed over tensors, one row per (series, step)."""
    rows = results[results["estimator"] == QUBD]
    planes = sorted((c for c in rows.columns if c.startswith("plane_")), key=lambda c: int(c.split("_")[1]))
    return rows.groupby(["series", "step"])[planes].sum().reset_index()


def mean_sd(values) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else float("nan")


def difference(a, b) -> tuple[float, float]:
    """mean(a) - mean(b) and its standard error sqrt(sd_a^2/n_a + sd_b^2/n_b) (NaN with one seed)."""
    (ma, sa), (mb, sb) = mean_sd(a), mean_sd(b)
    return ma - mb, float(np.sqrt(sa ** 2 / len(a) + sb ** 2 / len(b)))


class Totals:
    """Lookup of model bits, accuracy and noise by (series, step, estimator), named by the plan."""

    def __init__(self, results: pd.DataFrame, plan, accuracies: dict | None = None):
        self.plan = plan
        self.frame = model_totals(results)
        self.bits = self.frame.set_index(["series", "step", "estimator"])["bits"]
        self.accuracy = self.frame.groupby(["series", "step"])["accuracy"].first()
        self.estimators = list(dict.fromkeys(results["estimator"]))
        self.planes = plane_totals(results).set_index(["series", "step"])
        self.seeds = {s: list((accuracies or {}).get(s) or [self.accuracy[(s, plan.epochs)]]) for s in plan.series}

    def ratio(self, a: tuple, b: tuple, estimator: str) -> float:
        return float(self.bits[(*a, estimator)] / self.bits[(*b, estimator)])

    def noise(self, model: str, estimator: str) -> float:
        """Largest |1 - bits(random draw) / bits(init)| over the model's random_init draws."""
        draws = self.bits.xs((self.plan.random_init(model), estimator), level=("series", "estimator"))
        init = self.bits[(self.plan.baseline(model), 0, estimator)]
        return float(np.max(np.abs(1 - draws.to_numpy() / init)))

    def plane_noise(self, model: str) -> np.ndarray:
        """Per QuBD plane, the largest |1 - C_i(draw) / C_i(init)| over the model's random_init draws."""
        draws = self.planes.loc[self.plan.random_init(model)].to_numpy()
        init = self.planes.loc[(self.plan.baseline(model), 0)].to_numpy()
        return np.max(np.abs(1 - draws / init), axis=0)

    def accuracy_text(self, series: str) -> str:
        mean, sd = mean_sd(self.seeds[series])
        return f"{mean:.3f} ± {sd:.3f}"


def summary_table(t: Totals, sparsity: pd.DataFrame) -> pd.DataFrame:
    """One row per trained series at its last epoch: accuracy over the seeds, l_q ratio and PQ index
    of the whole model, bits/param, ratio to init and to its shuffle per estimator."""
    epochs, rows = t.plan.epochs, []
    for s in t.plan.series:
        mean, sd = mean_sd(t.seeds[s])
        row = {"series": s, "accuracy": mean, "accuracy_sd": sd, "n_seeds": len(t.seeds[s]),
               "shuffled_accuracy": t.accuracy[(t.plan.shuffled(s), epochs)]}
        row.update({c: sparsity.loc[(s, epochs), c] if (s, epochs) in sparsity.index else np.nan
                    for c in SPARSITY_COLUMNS + BOUND_COLUMNS})
        for e in t.estimators:
            n = t.frame.query("series == @s and step == @epochs and estimator == @e")["n_params"].iloc[0]
            row[f"{e} bits/param"] = t.bits[(s, epochs, e)] / n
            row[f"{e} vs init"] = t.ratio((s, epochs), (s, 0), e)
            row[f"{e} vs shuffled"] = t.ratio((s, epochs), (t.plan.shuffled(s), epochs), e)
        rows.append(row)
    return pd.DataFrame(rows)


def _claim(claim_id: str, ok: dict, lead: str, details: list[str]) -> dict:
    """A claim record: "holds" only when every case in ``ok`` holds; the statement names the rest."""
    good, bad = [k for k, v in ok.items() if v], [k for k, v in ok.items() if not v]
    statement = f"{lead} Holds for {len(good)} of {len(ok)}" + (f"; fails for: {', '.join(bad)}." if bad else ".")
    return {"id": claim_id, "verdict": "does not hold here" if bad else "holds", "statement": statement,
            "details": details}


def _effect(ratio: float, noise: float) -> str:
    return f"{ratio:.3f} (effect {1 - ratio:+.3f} vs noise {noise:.3f})"


def claim_a(t: Totals) -> dict:
    """(a) trained < init under each estimator, for each model's baseline, beyond that model's noise."""
    ok, details = {}, []
    for model in t.plan.models:
        base = t.plan.baseline(model)
        for e in t.estimators:
            r, noise = t.ratio((base, t.plan.epochs), (base, 0), e), t.noise(model, e)
            ok[f"{base} {short(e)}"] = r < 1 - noise
            details.append(f"{base} {e}: trained / init {_effect(r, noise)}")
    return _claim("a", ok, "Model bits after training / at initialisation, below 1 by more than the "
                           "init-to-init noise of that model and estimator.", details)


def claim_a_qubd(t: Totals) -> dict:
    """(a-qubd) per baseline: the mean QuBD gap 1 - C_i(trained)/C_i(init) over the top half of the
    planes exceeds that over the bottom half and the top half's mean plane noise."""
    ok, details = {}, []
    for model in t.plan.models:
        base = t.plan.baseline(model)
        gap = 1 - t.planes.loc[(base, t.plan.epochs)].to_numpy() / t.planes.loc[(base, 0)].to_numpy()
        noise, half = t.plane_noise(model), len(gap) // 2
        lsb, msb = float(gap[:half].mean()), float(gap[half:].mean())
        ok[base] = msb > lsb and msb > float(noise[half:].mean())
        details.append(f"{base}: mean gap over the top {len(gap) - half} planes {100 * msb:.1f}% (mean plane "
                       f"noise {100 * noise[half:].mean():.1f}%) vs the bottom {half} {100 * lsb:.1f}% "
                       f"(noise {100 * noise[:half].mean():.1f}%)")
        details.append(f"{base} per plane LSB..MSB, gap vs plane noise: "
                       + ", ".join(f"{100 * g:+.1f}%/{100 * n:.1f}%" for g, n in zip(gap, noise)))
    return _claim("a-qubd", ok, "A baseline counts when its mean QuBD gap over the most significant half of "
                                "the planes exceeds the least significant half's and its own plane noise.", details)


def _lower_than_baseline(t: Totals, runs: list, check_accuracy: bool) -> tuple[dict, list]:
    ok, details, epochs = {}, [], t.plan.epochs
    for run in runs:
        s, base = run.series, t.plan.baseline(run.model)
        ratios = {e: (t.ratio((s, epochs), (base, epochs), e), t.noise(run.model, e)) for e in t.estimators}
        diff, se = difference(t.seeds[s], t.seeds[base])
        ok[s] = all(r < 1 - n for r, n in ratios.values()) and (not check_accuracy or -diff <= MAX_ACCURACY_DROP)
        text = ", ".join(f"{short(e)} {_effect(r, n)}" for e, (r, n) in ratios.items())
        details.append(f"{s}: test accuracy {t.accuracy_text(s)} vs {t.accuracy_text(base)} over "
                       f"{len(t.seeds[s])} seeds ({100 * diff:+.1f} ± {100 * se:.1f} points, mean difference ± "
                       f"SE); bits / baseline: {text}")
    return ok, details


def claim_b(t: Totals) -> dict:
    """(b) MoMos: mean accuracy within 3 points of the baseline's and bits lower beyond the noise
    under every estimator."""
    ok, details = _lower_than_baseline(t, t.plan.runs_of(Momos), check_accuracy=True)
    return _claim("b", ok, "A MoMos run counts when its mean test accuracy is within 3 points of its model's "
                           "baseline and its bits are below the baseline's by more than the noise under every "
                           "estimator.", details)


def claim_c(t: Totals) -> dict:
    """(c) pruned and QAT-quantised models: bits lower than the baseline's beyond the noise, every estimator."""
    ok, details = _lower_than_baseline(t, t.plan.runs_of(Prune, QAT), check_accuracy=False)
    return _claim("c", ok, "A pruned or QAT run counts when its bits are below its baseline's by more than the "
                           "noise under every estimator.", details)


def claim_d(t: Totals) -> dict:
    """(d) shuffle control, decided per series: shuffling the series' init moves its bits by no more than
    max(1 %, noise) under every estimator, and its trained weights fall below their own shuffle by more
    than that under at least one estimator (named). For each baseline: trained / init = value part
    (shuffled trained / shuffled init) x arrangement part (trained / shuffled trained) / (init / shuffled init)."""
    ok, details, epochs = {}, [], t.plan.epochs
    for run in t.plan.runs:
        s, shuffled = run.series, t.plan.shuffled(run.series)
        neutral, below, parts = True, [], []
        for e in t.estimators:
            tolerance = max(CONTROL_TOLERANCE, t.noise(run.model, e))
            a0, arrangement = t.ratio((s, 0), (shuffled, 0), e), t.ratio((s, epochs), (shuffled, epochs), e)
            neutral &= abs(1 - a0) <= tolerance
            below += [short(e)] if arrangement < 1 - tolerance else []
            parts.append(f"{short(e)} init/shuffled {a0:.3f}, trained/shuffled {arrangement:.3f} "
                         f"(effect {1 - arrangement:+.3f} vs tolerance {tolerance:.3f})")
            if s == t.plan.baseline(run.model):
                value = t.ratio((shuffled, epochs), (shuffled, 0), e)
                details.append(f"{s} {e}: trained / init = value part {value:.3f} x arrangement part "
                               f"{arrangement:.3f} / {a0:.3f}")
        ok[s] = neutral and bool(below)
        details.append(f"{s}: {'; '.join(parts)}; below its shuffle under: {', '.join(below) or 'none'}")
    return _claim("d", ok, "A series counts when shuffling its initialisation moves its bits by at most "
                           "max(1%, init-to-init noise) under every estimator, and its trained weights fall below "
                           "their own shuffle by more than that under at least one estimator (named below).",
                  details)


# ---------------------------------------------------------------- sparsity and bits
def sparsity_relation(results: pd.DataFrame, t: Totals) -> pd.DataFrame:
    """One row per (trained series, step): the whole model's l_q ratio, PQ index and k_bound / d,
    k_eps / d (``analyse``'s ``sparsity=True`` columns of the ``<model>`` rows) beside bits/param
    per estimator."""
    model_rows = results[(results["tensor"] == MODEL_TENSOR) & results["series"].isin(t.plan.series)]
    stats = model_rows.groupby(["series", "step"])[[*SPARSITY_COLUMNS, "k_bound", "k_eps", "n_params"]].first()
    for c in BOUND_COLUMNS:
        stats[c] = stats.pop(c.removesuffix("/d")) / stats["n_params"]
    stats = stats.drop(columns="n_params")
    totals = t.frame[t.frame["series"].isin(t.plan.series)]
    bits = totals.pivot_table(index=["series", "step"], columns="estimator", values="bits_per_param")
    return stats.join(bits[t.estimators]).reset_index()


def correlations(relation: pd.DataFrame, estimators: list[str], epochs: int) -> pd.DataFrame:
    """Spearman rank correlation (and its p-value) of bits/param with lq_ratio and with pq_index,
    per estimator, over the trained runs at the last epoch and over all their checkpoints after
    epoch 0 (the shared initialisation would count once per run)."""
    from scipy.stats import spearmanr

    rows = []
    for label, part in (("last epoch", relation[relation["step"] == epochs]),
                        (f"epochs 1-{epochs}", relation[relation["step"] >= 1])):
        for e in estimators:
            row = {"checkpoints": label, "estimator": e, "n": len(part)}
            for c in SPARSITY_COLUMNS:
                rho, p = spearmanr(part[c], part[e]) if len(part) > 2 else (np.nan, np.nan)
                row.update({f"rho {c}": float(rho), f"p {c}": float(p)})
            rows.append(row)
    return pd.DataFrame(rows)


def reading(corr: pd.DataFrame, alpha: float = 0.05) -> list[str]:
    """What the correlation table says, one sentence per measure, from its numbers. The expected
    direction is "sparser, fewer bits": rho > 0 for lq_ratio (smaller = sparser), rho < 0 for pq_index."""
    lines = []
    for label in dict.fromkeys(corr["checkpoints"]):
        part = corr[corr["checkpoints"] == label]
        for c, sign in zip(SPARSITY_COLUMNS, (1, -1)):
            rho, p = part[f"rho {c}"], part[f"p {c}"]
            groups = {"in the expected direction (sparser, fewer bits)": (p < alpha) & (sign * rho > 0),
                      "the opposite way": (p < alpha) & (sign * rho < 0), "not": ~(p < alpha)}
            named = {k: ", ".join(f"{short(e)} (rho {r:+.2f})" for e, r in zip(part["estimator"][m], rho[m])) or "none"
                     for k, m in groups.items()}
            lines.append(f"{label} (n = {int(part['n'].iloc[0])}): {c} ranks bits/param with p < {alpha} "
                         + "; ".join(f"{k} under {v}" for k, v in named.items()) + ".")
    return lines


def compute(results: pd.DataFrame, plan, accuracies: dict | None = None) -> dict:
    """``{"totals", "summary", "claims", "relation", "correlations", "reading"}`` for the ``plan``'s
    trained series; ``accuracies``: series -> test accuracy per training seed (default: the series' own)."""
    t = Totals(results, plan, accuracies)
    has_sparsity = set(SPARSITY_COLUMNS) <= set(results.columns)
    relation = sparsity_relation(results, t) if has_sparsity else pd.DataFrame(columns=["series", "step"])
    corr = correlations(relation, t.estimators, plan.epochs) if has_sparsity else pd.DataFrame()
    claims = [claim_a(t), claim_a_qubd(t), claim_b(t), claim_c(t), claim_d(t)]
    return {"totals": t.frame, "summary": summary_table(t, relation.set_index(["series", "step"])),
            "claims": claims, "relation": relation, "correlations": corr,
            "reading": reading(corr) if has_sparsity else []}


def short(estimator: str) -> str:
    return {"raw|lzma-9": "lzma", "fields|zstd-19": "fields-zstd", "sign|bdm": "sign-bdm",
            QUBD: "QuBD", "raw|motif-4": "motif-4"}.get(estimator, estimator)


def printable(summary: pd.DataFrame) -> pd.DataFrame:
    """Accuracy (mean ± sd over the seeds) and the ratio to init per estimator, short column names."""
    table = pd.DataFrame({"series": summary["series"],
                          "acc": [f"{m:.3f} ± {s:.3f}" for m, s in zip(summary["accuracy"], summary["accuracy_sd"])]})
    for c in (c for c in summary.columns if c.endswith(" vs init")):
        table[short(c[: -len(" vs init")]) + "/init"] = summary[c].round(3)
    return table


def relation_table(summary: pd.DataFrame) -> pd.DataFrame:
    """lq_ratio, pq_index, k_bound/d, k_eps/d and bits/param per estimator of each run at the last epoch."""
    cols = {c: c for c in ("series", *SPARSITY_COLUMNS, *BOUND_COLUMNS)}
    cols.update({c: short(c[: -len(" bits/param")]) + " bits/param" for c in summary if c.endswith(" bits/param")})
    return summary[list(cols)].rename(columns=cols).round(4)


def format_summary(summary: pd.DataFrame) -> str:
    return "Model bits at the last epoch relative to the initialisation (< 1 = simpler):\n" + \
        printable(summary).to_string(index=False)


def format_correlations(corr: pd.DataFrame) -> str:
    if corr.empty:
        return "No sparsity columns: no Spearman correlations."
    table = corr.assign(estimator=corr["estimator"].map(short)).round(3)
    return "Spearman correlation of bits/param with lq_ratio and pq_index:\n" + table.to_string(index=False)
