"""The demo's numbers: model totals, the summary table and the claims (a)-(d), decided by code.

Every ratio is model bits / model bits at the same estimator, where model bits are
the sum over the weight matrices measured by ``analyse`` (``plot.model_totals``).
"init" is epoch 0 of the series (one seeded initialisation shared by every run of
a model; a QAT series stores its quantised version); the noise level of a ratio is the largest |1 - r| between that init and
the fresh ``random_init`` draws. A verdict is "holds" only when the claim holds
for every case listed; otherwise "does not hold here" and the statement says where
it holds and where it fails.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..plot import model_totals

QUBD = "bitplanes8|bdm2d"
MAX_ACCURACY_DROP = 0.03  # "comparable accuracy": within 3 points of the baseline
CONTROL_TOLERANCE = 0.01  # least tolerance for "a shuffle of random weights leaves their bits alone"


def plane_totals(results: pd.DataFrame) -> pd.DataFrame:
    """QuBD per-plane bits summed over tensors, one row per (series, step)."""
    rows = results[results["estimator"] == QUBD]
    planes = sorted((c for c in rows.columns if c.startswith("plane_")), key=lambda c: int(c.split("_")[1]))
    return rows.groupby(["series", "step"])[planes].sum().reset_index()


class Totals:
    """Lookup of model bits and accuracy by (series, step, estimator)."""

    def __init__(self, results: pd.DataFrame):
        self.frame = model_totals(results)
        self.bits = self.frame.set_index(["series", "step", "estimator"])["bits"]
        self.accuracy = self.frame.groupby(["series", "step"])["accuracy"].first()
        self.estimators = list(dict.fromkeys(results["estimator"]))
        self.planes = plane_totals(results).set_index(["series", "step"])

    def ratio(self, a: tuple, b: tuple, estimator: str) -> float:
        return float(self.bits[(*a, estimator)] / self.bits[(*b, estimator)])

    def noise(self, model: str, estimator: str) -> float:
        """Largest |1 - bits(random draw) / bits(init)| over the random_init control draws."""
        draws = self.bits.xs((f"{model}_random_init", estimator), level=("series", "estimator"))
        init = self.bits[(f"{model}_baseline", 0, estimator)]
        return float(np.max(np.abs(1 - draws.to_numpy() / init)))


def summary_table(t: Totals, series: list[str], epochs: int) -> pd.DataFrame:
    """One row per trained series at its last epoch: accuracy, bits/param, ratio to init and to its shuffle."""
    rows = []
    for s in series:
        row = {"series": s, "accuracy": t.accuracy[(s, epochs)],
               "shuffled_accuracy": t.accuracy[(f"shuffled_{s}", epochs)]}
        for e in t.estimators:
            n = t.frame.query("series == @s and step == @epochs and estimator == @e")["n_params"].iloc[0]
            row[f"{e} bits/param"] = t.bits[(s, epochs, e)] / n
            row[f"{e} vs init"] = t.ratio((s, epochs), (s, 0), e)
            row[f"{e} vs shuffled"] = t.ratio((s, epochs), (f"shuffled_{s}", epochs), e)
        rows.append(row)
    return pd.DataFrame(rows)


def _claim(claim_id: str, ok: dict, lead: str, details: list[str]) -> dict:
    """A claim record: "holds" only when every case in ``ok`` holds; the statement names the rest."""
    good, bad = [k for k, v in ok.items() if v], [k for k, v in ok.items() if not v]
    statement = f"{lead} Holds for {len(good)} of {len(ok)}" + (f"; fails for: {', '.join(bad)}." if bad else ".")
    return {"id": claim_id, "verdict": "does not hold here" if bad else "holds", "statement": statement,
            "details": details}


def claim_a(t: Totals, series: list[str], epochs: int) -> list[dict]:
    """(a) trained < init under each estimator, beyond the init-to-init noise; and the QuBD gap
    (1 - plane ratio) is larger on average in the top half of the planes than in the bottom
    half and than the noise."""
    ok, details = {}, []
    for base in (s for s in series if s.endswith("_baseline")):
        model = base.split("_")[0]
        for e in t.estimators:
            r, noise = t.ratio((base, epochs), (base, 0), e), t.noise(model, e)
            ok[f"{base} {e}"] = r < 1 - noise
            details.append(f"{base} {e}: trained / init {r:.3f} (init-to-init noise ±{noise:.3f})")
    claims = [_claim("a", ok, "Model bits after training / at initialisation, below 1 beyond the noise "
                              "of fresh random initialisations.", details)]
    base = next(s for s in series if s.endswith("_baseline"))
    final, init = t.planes.loc[(base, epochs)], t.planes.loc[(base, 0)]
    gap = 1 - final.to_numpy() / init.to_numpy()
    half = len(gap) // 2
    lsb, msb = float(gap[:half].mean()), float(gap[half:].mean())
    noise = t.noise(base.split("_")[0], QUBD)
    holds = msb > max(lsb, noise)
    claims.append({"id": "a-qubd", "verdict": "holds" if holds else "does not hold here",
                   "statement": f"{base}: mean gap 1 - C_i(trained)/C_i(init) is {100 * msb:.1f}% over the top "
                                f"{len(gap) - half} planes vs {100 * lsb:.1f}% over the bottom {half} "
                                f"(init-to-init noise of the total ±{100 * noise:.1f}%).",
                   "details": ["per-plane ratio trained / init, LSB..MSB: "
                               + ", ".join(f"{100 * (1 - g):.1f}%" for g in gap)]})
    return claims


def _lower_than_baseline(t: Totals, variants: list[str], epochs: int, check_accuracy: bool) -> tuple[dict, list]:
    ok, details = {}, []
    for s in variants:
        base = s.split("_")[0] + "_baseline"
        ratios = {e: t.ratio((s, epochs), (base, epochs), e) for e in t.estimators}
        drop = float(t.accuracy[(base, epochs)] - t.accuracy[(s, epochs)])
        ok[s] = all(r < 1 for r in ratios.values()) and (not check_accuracy or drop <= MAX_ACCURACY_DROP)
        text = ", ".join(f"{e} {r:.3f}" for e, r in ratios.items())
        details.append(f"{s}: test accuracy {t.accuracy[(s, epochs)]:.3f} vs {t.accuracy[(base, epochs)]:.3f} "
                       f"({-100 * drop:+.1f} points); bits / baseline: {text}")
    return ok, details


def claim_b(t: Totals, series: list[str], epochs: int) -> dict:
    """(b) MoMos: accuracy within 3 points of the baseline and fewer bits under every estimator."""
    ok, details = _lower_than_baseline(t, [s for s in series if "_momos_" in s], epochs, check_accuracy=True)
    return _claim("b", ok, "A MoMos run counts when its test accuracy is within 3 points of its model's "
                           "baseline and its bits are lower under every estimator.", details)


def claim_c(t: Totals, series: list[str], epochs: int) -> dict:
    """(c) pruned and QAT-quantised models: fewer bits than the baseline under every estimator."""
    ok, details = _lower_than_baseline(t, [s for s in series if "_prune" in s or "_qat" in s], epochs, False)
    return _claim("c", ok, "A pruned or QAT run counts when its bits are lower than its baseline's under "
                           "every estimator.", details)


def claim_d(t: Totals, series: list[str], epochs: int) -> dict:
    """(d) shuffle control: neutral on the random init (it moves the bits by no more than
    max(1 %, init-to-init noise)), and some trained series falls below its own shuffle by more
    than that. trained / init = value part (shuffled trained / shuffled init) x arrangement
    part (trained / shuffled trained) / (init / shuffled init)."""
    base = next(s for s in series if s.endswith("_baseline"))
    neutral, structure, details, shift = {}, {}, [], 0.0
    for e in t.estimators:
        tolerance = max(CONTROL_TOLERANCE, t.noise(base.split("_")[0], e))
        a0 = t.ratio((base, 0), (f"shuffled_{base}", 0), e)
        shift = max(shift, abs(1 - a0))
        neutral[e] = abs(1 - a0) <= tolerance
        arrangement = {s: t.ratio((s, epochs), (f"shuffled_{s}", epochs), e) for s in series}
        structure[e] = min(arrangement.values()) < 1 - tolerance
        value = t.ratio((f"shuffled_{base}", epochs), (f"shuffled_{base}", 0), e)
        best = min(arrangement, key=arrangement.get)
        details.append(f"{e}: init / shuffled init {a0:.3f} (tolerance ±{tolerance:.3f}); {base} trained / init "
                       f"= value part (shuffled trained / shuffled init) {value:.3f} x arrangement part "
                       f"(trained / shuffled trained) {arrangement[base]:.3f} / {a0:.3f}; lowest arrangement "
                       f"part {best} {arrangement[best]:.3f}")
    holds = all(neutral.values()) and any(structure.values())
    names = lambda d: ", ".join(e for e, v in d.items() if v) or "none"  # noqa: E731
    return {"id": "d", "verdict": "holds" if holds else "does not hold here",
            "statement": f"Shuffling the random init changes its bits by at most {100 * shift:.1f}%, neutral "
                         f"(within max(1%, init-to-init noise)) under: {names(neutral)}; trained weights fall "
                         f"below their own shuffle by more than that tolerance under: {names(structure)}.",
            "details": details}


def compute(results: pd.DataFrame, series: list[str], epochs: int) -> dict:
    """``{"totals", "summary", "claims"}`` for the trained ``series`` (controls are found by name)."""
    t = Totals(results)
    claims = [*claim_a(t, series, epochs), claim_b(t, series, epochs), claim_c(t, series, epochs),
              claim_d(t, series, epochs)]
    return {"totals": t.frame, "summary": summary_table(t, series, epochs), "claims": claims}


def short(estimator: str) -> str:
    return {"raw|lzma-9": "lzma", "fields|zstd-19": "fields-zstd", "sign|bdm": "sign-bdm",
            QUBD: "QuBD", "raw|motif-4": "motif-4"}.get(estimator, estimator)


def printable(summary: pd.DataFrame) -> pd.DataFrame:
    """Accuracy and the ratio to init per estimator, with short column names."""
    cols = {"series": "series", "accuracy": "acc"}
    cols.update({c: short(c[: -len(" vs init")]) + "/init" for c in summary.columns if c.endswith(" vs init")})
    table = summary[list(cols)].rename(columns=cols)
    return table.round(3)


def format_summary(summary: pd.DataFrame) -> str:
    return "Model bits at the last epoch relative to the initialisation (< 1 = simpler):\n" + \
        printable(summary).to_string(index=False)
