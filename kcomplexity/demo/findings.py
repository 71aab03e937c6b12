"""The demo's numbers: model totals, the summary table, the claims (a)-(d) decided by code, and how
sparsity relates to bits.

Every series name comes from the run plan (``app.Plan``). Model bits are the sum over the weight
matrices measured by ``analyse`` (``model_totals``).

Draws. A trained run is a random object: each training seed gives other weights. Its draws are
the final checkpoints of every training seed (the last epoch of ``<series>``, then
``<series>_final``). The model's initialisation is
one too: its draws are the plan's >= 8 fresh random-init draws (``<model>_random_init``, seeds
disjoint from the training seeds). A shuffle control's draws are the shuffles of the finals.

Tests (``kcomplexity.analysis.inference.against_reference``). Each row compares a run's draws with
a reference's draws at one estimator: with several draws on both sides, Welch's t-test of the two
means (one draw: the prediction t-test for one new draw). ``ratio`` = mean(run) / mean(reference),
with its 95 % interval; ``noise`` = the reference's sd / mean. When the noise cannot be estimated
(identical draws: ``motif-4`` codes every random initialisation in stored mode) the p-value is NaN
and the row says why. Holm adjusts the p-values over each claim's rows (its family), so the chance
of any false "lower" in a claim is at most 5 %. A row's verdict is "lower", "higher" or "no evidence".

Accuracy is the mean ± sd (ddof=1) over the training seeds. "Comparable accuracy" is a one-sided
Welch non-inferiority test over the seeds: H0 "the run's mean accuracy is at least 3 points below
the baseline's", rejected (Holm-adjusted p < 0.05, in the claim's family) -> "within 3 points".

A claim's verdict is "holds" when every case holds, else "holds for k of n" naming the cases
without evidence; claim (d) is judged per estimator family.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis import MODEL_TENSOR, model_totals
from ..analysis.inference import ALPHA, RTOL, against_reference, holm, verdict
from ..train.methods import QAT, Momos, Prune

QUBD = "bitplanes8|bdm2d"
MAX_ACCURACY_DROP = 0.03  # "comparable accuracy": within 3 points of the baseline
SPARSITY_COLUMNS = ("lq_ratio", "pq_index")
BOUND_COLUMNS = ("k_bound/d", "k_eps/d")  # eps = 0.1: the weights the l_q bound asks for, and those that suffice
WITHIN = "within 3 points"


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


def non_inferiority(run, base, margin: float = MAX_ACCURACY_DROP) -> float:
    """One-sided Welch p-value of H0 "mean(run) <= mean(base) - margin" (NaN when every seed agrees)."""
    from scipy import stats

    run, base = np.asarray(run, dtype=float), np.asarray(base, dtype=float)
    if run.var() + base.var() == 0:
        return 0.0 if run.mean() > base.mean() - margin else 1.0
    return float(stats.ttest_ind(run + margin, base, equal_var=False, alternative="greater").pvalue)


class Totals:
    """Model bits, planes and accuracy of every draw, looked up by the plan's names."""

    def __init__(self, results: pd.DataFrame, plan, accuracies: dict | None = None):
        self.plan = plan
        self.frame = model_totals(results)
        ordered = self.frame.sort_values(["series", "estimator", "step"])
        bits = ordered["bits"].to_numpy()
        self._draws = {key: bits[i] for key, i in ordered.groupby(["series", "estimator"]).indices.items()}
        self.accuracy = self.frame.groupby(["series", "step"])["accuracy"].first()
        self.estimators = list(dict.fromkeys(results["estimator"]))
        planes = plane_totals(results).sort_values(["series", "step"])
        values = planes.drop(columns=["series", "step"]).to_numpy()
        self._planes = {series: values[i] for series, i in planes.groupby("series").indices.items()}
        self.seeds = {s: list((accuracies or {}).get(s) or [self.accuracy[(s, plan.epochs)],
                                                              *self.accuracy[plan.final(s)]]) for s in plan.series}

    def draws(self, series: str, estimator: str) -> np.ndarray:
        """Model bits of every checkpoint of ``series`` in step order."""
        return self._draws[(series, estimator)]

    def finals(self, series: str, estimator: str) -> np.ndarray:
        """Every training seed's final bits: the last epoch of ``series``, then ``plan.final(series)``."""
        return np.r_[self.draws(series, estimator)[-1], self.draws(self.plan.final(series), estimator)]

    def inits(self, model: str, estimator: str) -> np.ndarray:
        return self.draws(self.plan.random_init(model), estimator)

    def plane_draws(self, series: str) -> np.ndarray:
        """QuBD bits per plane (LSB..MSB) of every checkpoint of ``series``: one row per step."""
        return self._planes[series]

    def final_planes(self, series: str) -> np.ndarray:
        """QuBD bits per plane of every training seed's final, one row per seed (as ``finals``)."""
        return np.vstack([self.plane_draws(series)[-1:], self.plane_draws(self.plan.final(series))])

    def n_params(self, series: str, estimator: str) -> int:
        return int(self.frame.query("series == @series and estimator == @estimator")["n_params"].iloc[0])

    def accuracy_text(self, series: str) -> str:
        mean, sd = mean_sd(self.seeds[series])
        return f"{mean:.3f} ± {sd:.3f}"


def noise_table(t: Totals) -> pd.DataFrame:
    """Per model and estimator: the random-init draws' mean bits and noise (sd / mean), and the baseline's
    seed-to-seed noise over its finals; ``note`` says where a noise cannot be estimated."""
    rows = []
    for m in t.plan.models:
        for e in t.estimators:
            init, finals = t.inits(m, e), t.finals(t.plan.baseline(m), e)
            row = {"model": m, "estimator": e, "init draws": len(init), "init bits": init.mean(),
                   "init noise": init.std(ddof=1) / init.mean(), "seeds": len(finals),
                   "baseline seed noise": finals.std(ddof=1) / finals.mean()}
            same = [what for what, draws in (("random-init draws", init), ("baseline finals", finals))
                    if np.ptp(draws) <= RTOL * abs(draws.mean())]
            row["note"] = (f"all the {' and all the '.join(same)} cost the same bits (a fixed-length code such as "
                           "stored mode): that noise cannot be estimated") if same else ""
            rows.append(row)
    return pd.DataFrame(rows)


def summary_table(t: Totals, sparsity: pd.DataFrame) -> pd.DataFrame:
    """One row per trained series: accuracy over the seeds, l_q ratio and PQ index of the first seed's
    last epoch, and per estimator the mean bits/param over the seeds' finals, its ratio to the mean
    of the random-init draws ("vs init") and to the mean of the finals' shuffles ("vs shuffled")."""
    epochs, rows = t.plan.epochs, []
    for s in t.plan.series:
        model = next(r.model for r in t.plan.runs if r.series == s)
        mean, sd = mean_sd(t.seeds[s])
        row = {"series": s, "accuracy": mean, "accuracy_sd": sd, "n_seeds": len(t.seeds[s]),
               "shuffled_accuracy": float(t.accuracy[t.plan.shuffled(s)].mean())}
        row.update({c: sparsity.loc[(s, epochs), c] if (s, epochs) in sparsity.index else np.nan
                    for c in SPARSITY_COLUMNS + BOUND_COLUMNS})
        for e in t.estimators:
            finals = t.finals(s, e)
            n = t.n_params(s, e)
            row[f"{e} bits/param"], row[f"{e} bits/param sd"] = finals.mean() / n, finals.std(ddof=1) / n
            row[f"{e} vs init"] = finals.mean() / t.inits(model, e).mean()
            row[f"{e} vs init sd"] = finals.std(ddof=1) / t.inits(model, e).mean()  # seed-to-seed spread
            row[f"{e} vs shuffled"] = finals.mean() / t.draws(t.plan.shuffled(s), e).mean()
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- tests and claims
def bits_row(case: str, estimator: str, own, ref, **extra) -> dict:
    """One bits comparison: ``own`` draws against ``ref`` draws (``against_reference``)."""
    r = against_reference(own, ref)
    return {"case": case, "estimator": estimator, "kind": "bits", "ratio": r.ratio, "ci_low": r.ci_low,
            "ci_high": r.ci_high, "p_value": r.p_value, "test": r.test, "noise": r.noise, **extra}


def accuracy_row(case: str, run, base) -> dict:
    diff, se = difference(run, base)
    return {"case": case, "estimator": "accuracy", "kind": "accuracy", "ratio": np.nan, "ci_low": np.nan,
            "ci_high": np.nan, "p_value": non_inferiority(run, base), "noise": se,
            "test": f"Welch non-inferiority, margin {100 * MAX_ACCURACY_DROP:.0f} points; difference "
                    f"{100 * diff:+.1f} ± {100 * se:.1f} points (mean ± SE)"}


def judge(rows: list[dict], family: str = "claim") -> pd.DataFrame:
    """One family's rows with Holm-adjusted p-values over all of them and a verdict each."""
    table = pd.DataFrame(rows).assign(family=family)
    table["p_adjusted"] = holm(table["p_value"])
    table["verdict"] = [(WITHIN if p < ALPHA else f"not shown {WITHIN}") if kind == "accuracy"
                        else verdict(r, p) for kind, r, p in zip(table["kind"], table["ratio"], table["p_adjusted"])]
    return table


def describe(row) -> str:
    """One row as text: ratio, interval, p-values, verdict, and why when the noise is unknown."""
    if row["kind"] == "accuracy":
        return f"{row['case']} accuracy: {row['test']}, Holm p {row['p_adjusted']:.3g} -> {row['verdict']}"
    text = f"{row['case']} {short(row['estimator'])}: ratio {row['ratio']:.3f}"
    if not str(row["test"]).startswith(("Welch", "prediction")):  # undefined, or every draw identical
        return f"{text}, no test ({row['test'].removeprefix('undefined: ')}) -> {row['verdict']}"
    noise = "reference noise 0: its draws are identical, judged on the run's own spread" if row["noise"] <= RTOL \
        else f"reference noise {100 * row['noise']:.2f}%"
    return (f"{text} [{row['ci_low']:.3f}, {row['ci_high']:.3f}], p {row['p_value']:.2g}, Holm p "
            f"{row['p_adjusted']:.2g} -> {row['verdict']} ({row['test']}; {noise})")


def _claim(claim_id: str, holds: dict, lead: str, tests: pd.DataFrame, details: list[str] | None = None) -> dict:
    """A claim record: "holds" when every case holds, else "holds for k of n"; the statement names the rest."""
    good, bad = [k for k, v in holds.items() if v], [k for k, v in holds.items() if not v]
    verdict_ = "holds" if not bad else f"holds for {len(good)} of {len(holds)}"
    statement = f"{lead} Holds for {len(good)} of {len(holds)}" + \
        (f"; no evidence for: {', '.join(bad)}." if bad else ".")
    return {"id": claim_id, "verdict": verdict_, "statement": statement, "tests": tests,
            "details": (details or []) + [describe(row) for row in tests.to_dict("records")]}


def _lower(tests: pd.DataFrame, case: str, kind: str = "bits") -> bool:
    rows = tests[(tests["case"] == case) & (tests["kind"] == kind)]
    return bool(len(rows)) and bool((rows["verdict"] == ("lower" if kind == "bits" else WITHIN)).all())


def claim_a(t: Totals) -> dict:
    """(a) each baseline's finals against its model's random-init draws, per estimator; Holm over all rows."""
    rows = [bits_row(f"{t.plan.baseline(m)} vs init", e, t.finals(t.plan.baseline(m), e), t.inits(m, e))
            for m in t.plan.models for e in t.estimators]
    tests = judge(rows)
    holds = {f"{c.removesuffix(' vs init')} {short(e)}": v == "lower"
             for c, e, v in zip(tests["case"], tests["estimator"], tests["verdict"])}
    return _claim("a", holds, "A (baseline, estimator) pair counts when the baseline's final bits over its training "
                              "seeds are lower than its model's random initialisations (Welch, Holm over the pairs).",
                  tests)


def plane_table(t: Totals) -> pd.DataFrame:
    """Per model and QuBD plane: the baseline's finals against the random-init draws ("init") and
    against their own shuffles ("shuffled"), ratio and 95 % interval (``against_reference``)."""
    rows = []
    for m in t.plan.models:
        base = t.plan.baseline(m)
        trained = t.final_planes(base)
        for reference, series in (("init", t.plan.random_init(m)), ("shuffled", t.plan.shuffled(base))):
            ref = t.plane_draws(series)
            for i in range(trained.shape[1]):
                r = against_reference(trained[:, i], ref[:, i])
                rows.append({"model": m, "series": base, "reference": reference, "plane": i, "ratio": r.ratio,
                             "ci_low": r.ci_low, "ci_high": r.ci_high, "p_value": r.p_value, "noise": r.noise})
    return pd.DataFrame(rows)


def claim_a_qubd(t: Totals) -> dict:
    """(a-qubd) per baseline: the top half of the QuBD planes (most significant) costs fewer bits than at init,
    and its share of the bits falls (top / bottom lower than at init: the gap sits in the top planes)."""
    rows, details, planes = [], [], plane_table(t)
    for m in t.plan.models:
        base = t.plan.baseline(m)
        trained, init = t.final_planes(base), t.plane_draws(t.plan.random_init(m))
        half = trained.shape[1] // 2
        top, bottom = (lambda p: p[:, half:].sum(1)), (lambda p: p[:, :half].sum(1))
        rows += [bits_row(f"{base} top {trained.shape[1] - half} planes", QUBD, top(trained), top(init)),
                 bits_row(f"{base} top / bottom planes", QUBD, top(trained) / bottom(trained),
                          top(init) / bottom(init))]
        mine = planes[(planes["model"] == m) & (planes["reference"] == "init")]
        details.append(f"{base} per plane LSB..MSB, trained / init [95% interval]: " + ", ".join(
            f"{r.ratio:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]" for r in mine.itertuples()))
    tests = judge(rows)
    holds = {t.plan.baseline(m): bool((tests["verdict"].iloc[2 * i: 2 * i + 2] == "lower").all())
             for i, m in enumerate(t.plan.models)}
    return _claim("a-qubd", holds, "A baseline counts when, over its training seeds, its most significant half of "
                                   "the QuBD planes costs fewer bits than at initialisation and that half's share of "
                                   "the bits falls (Welch, Holm over the rows).", tests, details)


def _against_baseline(t: Totals, runs: list, check_accuracy: bool) -> tuple[dict, pd.DataFrame]:
    rows = []
    for run in runs:
        s, base = run.series, t.plan.baseline(run.model)
        rows += [bits_row(s, e, t.finals(s, e), t.finals(base, e)) for e in t.estimators]
        if check_accuracy:
            rows.append(accuracy_row(s, t.seeds[s], t.seeds[base]))
    tests = judge(rows)
    holds = {r.series: _lower(tests, r.series) and (not check_accuracy or _lower(tests, r.series, "accuracy"))
             for r in runs}
    return holds, tests


def per_estimator(tests: pd.DataFrame, n: int) -> str:
    """The count per estimator of a claim's "lower" rows (accuracy rows: "within 3 points"), as a sentence."""
    counts = [f"{short(e)} {int((rows['verdict'] == ('lower' if e != 'accuracy' else WITHIN)).sum())} of {n}"
              for e, rows in tests.groupby("estimator", sort=False)]
    return " Per estimator (lower; accuracy: within 3 points): " + "; ".join(counts) + "."


def claim_b(t: Totals) -> dict:
    """(b) MoMos: accuracy within 3 points of the baseline's and bits lower under every estimator."""
    holds, tests = _against_baseline(t, t.plan.runs_of(Momos), check_accuracy=True)
    claim = _claim("b", holds, "A MoMos run counts when its test accuracy over the seeds is shown within 3 points "
                               "of its baseline's (Welch non-inferiority) and its final bits are lower than the "
                               "baseline's under every estimator (Welch over the seeds; Holm over all rows).", tests)
    claim["statement"] += per_estimator(tests, len(holds))
    return claim


def claim_c(t: Totals) -> dict:
    """(c) pruned and QAT-quantised models: bits lower than the baseline's under every estimator."""
    holds, tests = _against_baseline(t, t.plan.runs_of(Prune, QAT), check_accuracy=False)
    claim = _claim("c", holds, "A pruned or QAT run counts when its final bits over the seeds are lower than its "
                               "baseline's under every estimator (Welch; Holm over all rows).", tests)
    claim["statement"] += per_estimator(tests, len(holds))
    return claim


def claim_d(t: Totals) -> dict:
    """(d) shuffle control, judged per estimator family. Control rows: each model's shuffled initialisation
    against its random-init draws (a shuffle of i.i.d. weights is one more draw; Holm over the control rows).
    Effect rows: each series' finals against their shuffles (Welch; Holm over the effect rows). A series
    counts under a family when its finals are lower than their shuffles there and its model's control
    shows no shift; a family holds when every series counts."""
    controls = judge([bits_row(f"{t.plan.shuffled_init(m)} vs init", e, t.draws(t.plan.shuffled_init(m), e),
                               t.inits(m, e)) for m in t.plan.models for e in t.estimators], "control")
    shifted = {(m, e) for (m, e), v in zip([(m, e) for m in t.plan.models for e in t.estimators],
                                          controls["verdict"]) if v != "no evidence"}
    effects = judge([bits_row(s.series, e, t.finals(s.series, e), t.draws(t.plan.shuffled(s.series), e))
                     for s in t.plan.runs for e in t.estimators], "effect")
    model_of = {r.series: r.model for r in t.plan.runs}
    counts = {e: [c for c, e_, v in zip(effects["case"], effects["estimator"], effects["verdict"])
                  if e_ == e and v == "lower" and (model_of[c], e) not in shifted] for e in t.estimators}
    n = len(t.plan.runs)
    families = {short(e): len(c) == n for e, c in counts.items()}
    details = [f"{short(e)}: {len(c)} of {n} series below their shuffle" for e, c in counts.items()]
    for m in t.plan.models:  # trained / init = value part x arrangement part / init arrangement
        base = t.plan.baseline(m)
        for e in t.estimators:
            f, sf = t.finals(base, e).mean(), t.draws(t.plan.shuffled(base), e).mean()
            i, si = t.inits(m, e).mean(), t.draws(t.plan.shuffled_init(m), e).mean()
            details.append(f"{base} {e}: trained / init {f / i:.3f} = value part {sf / si:.3f} x arrangement "
                           f"part {f / sf:.3f} / init arrangement {i / si:.3f}")
    claim = _claim("d", families, "Per estimator family, a series counts when its final weights over the seeds "
                                  "cost fewer bits than their own shuffles (Welch, Holm over all series x families) "
                                  "and shuffling its model's initialisation shows no shift (the control); a family "
                                  "holds when every series counts.", pd.concat([controls, effects]), details)
    claim["statement"] += " Per family: " + "; ".join(f"{short(e)} {len(c)} of {n}" for e, c in counts.items()) + "."
    claim["verdict"] = "holds" if all(families.values()) else \
        f"holds under {sum(families.values())} of {len(families)} estimator families"
    return claim


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
    """``{"totals", "summary", "claims", "tests", "planes", "noise", "relation", "correlations", "reading"}`` for
    the ``plan``'s trained series (``tests``: every claim's rows; ``planes``: ``plane_table``); ``accuracies``: series -> test accuracy per training seed (default: the series' own)."""
    t = Totals(results, plan, accuracies)
    has_sparsity = set(SPARSITY_COLUMNS) <= set(results.columns)
    relation = sparsity_relation(results, t) if has_sparsity else pd.DataFrame(columns=["series", "step"])
    corr = correlations(relation, t.estimators, plan.epochs) if has_sparsity else pd.DataFrame()
    claims = [claim_a(t), claim_a_qubd(t), claim_b(t), claim_c(t), claim_d(t)]
    tests = pd.concat([c["tests"].assign(claim=c["id"]) for c in claims], ignore_index=True)
    return {"totals": t.frame, "summary": summary_table(t, relation.set_index(["series", "step"])),
            "claims": claims, "tests": tests[["claim", *tests.columns[:-1]]], "planes": plane_table(t),
            "noise": noise_table(t),
            "relation": relation, "correlations": corr,
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


def relation_table(relation: pd.DataFrame, estimators: list[str], epochs: int) -> pd.DataFrame:
    """lq_ratio, pq_index, k_bound/d, k_eps/d and bits/param per estimator of each run at the last epoch
    (the first training seed's series, as in the correlations)."""
    last = relation[relation["step"] == epochs]
    cols = {c: c for c in ("series", *SPARSITY_COLUMNS, *BOUND_COLUMNS)}
    cols.update({e: short(e) + " bits/param" for e in estimators})
    return last[list(cols)].rename(columns=cols).round(4)


def format_summary(summary: pd.DataFrame) -> str:
    return "Model bits at the last epoch relative to the initialisation (< 1 = simpler):\n" + \
        printable(summary).to_string(index=False)


def format_correlations(corr: pd.DataFrame) -> str:
    if corr.empty:
        return "No sparsity columns: no Spearman correlations."
    table = corr.assign(estimator=corr["estimator"].map(short)).round(3)
    return "Spearman correlation of bits/param with lq_ratio and pq_index:\n" + table.to_string(index=False)
