"""``compare_report``: the verdict table, the agreement across estimator families and the per-group table
of one comparison (one set of reference draws), as DataFrames and as Markdown."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..estimators import parse
from ..variants._init_rules import DEFAULT_INIT
from ._compare import DEFAULT_SEEDS, REFERENCE_TEST, TOTAL, WHOLE, compare_tables
from .families import family_of
from .inference import ALPHA


@dataclass
class CompareReport:
    """``verdicts``: ``compare(by="model")``; ``groups``: ``compare(by="group")``; ``agreement``: per
    variant (scope ``model``) and per variant and group, each estimator's verdict and whether they agree;
    ``markdown``: all three as the report ``kcomplexity compare --report`` writes."""
    verdicts: object
    groups: object
    agreement: object
    markdown: str

    def write(self, path) -> None:
        """Write ``markdown`` to ``path``."""
        try:
            Path(path).write_text(self.markdown)
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror or exc}; choose another report path") from None


def agreement(table):
    """Per variant (and ``group``, for a ``by="group"`` table): each estimator's total-row verdict and
    ratio, ``agree`` (every tested estimator gives the same verdict) and a ``summary`` that names the
    family-dependent verdicts. Estimators that measured nothing (NaN ratio) or whose test is undefined
    (the reference's draws are identical, so its noise is unknown) are named, not counted."""
    import pandas as pd

    keys = ["variant"] + (["group"] if "group" in table else [])
    rows = table[(table["stream"] == TOTAL) & (table["test"] != REFERENCE_TEST)]
    out = []
    for key, part in rows.groupby(keys, sort=False):
        label = [f"{family_of(parse(s))} ({s})" for s in part["estimator"]]
        measured, tested = part["ratio_to_reference"].notna(), part["p_value"].notna()
        named: dict = {}
        for name, v in zip(part.loc[tested, "estimator"].map(dict(zip(part["estimator"], label))),
                           part.loc[tested, "verdict"]):
            named.setdefault(v, []).append(name)
        summary = (f"all {tested.sum()} agree: {next(iter(named))}" if len(named) == 1 else
                   "family-dependent: " + "; ".join(f"{v} under {', '.join(n)}" for v, n in named.items())
                   if named else "no estimator could be tested")
        for what, mask in (("not measured", ~measured), ("untestable, zero reference noise", measured & ~tested)):
            if mask.any():
                summary += f" ({what}: {', '.join(n for n, m in zip(label, mask) if m)})"
        cells = {spec: "not measured" if r != r else f"{v} ({r:.4f})" if p == p else f"untestable ({r:.4g})"
                 for spec, v, r, p in zip(part["estimator"], part["verdict"], part["ratio_to_reference"],
                                          part["p_value"])}
        out.append({**dict(zip(keys, key)), **cells, "agree": len(named) == 1, "summary": summary})
    return pd.DataFrame(out)


# ---------------------------------------------------------------- Markdown
def _cell(value) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.3g}" if abs(value) < 1e-3 and value else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(df) -> str:
    """A DataFrame as a GitHub Markdown table (numbers to 4 significant digits, p-values to 3)."""
    lines = ["| " + " | ".join(_cell(c) for c in df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _ratio(values) -> list[str]:
    return [f"{r:.4f}" if r == r else "" for r in values]


def _interval(df, prefix: str = "") -> list[str]:
    bounds = zip(df[f"{prefix}ci_low"], df[f"{prefix}ci_high"])
    return [f"[{lo:.4f}, {hi:.4f}]" if lo == lo else "" for lo, hi in bounds]


def _verdict_view(df, keys: list[str]):
    """The columns a reader needs to judge one row: ratio, interval, noise, test, p-values, verdict."""
    view = df[keys].copy()
    view["ratio"] = _ratio(df["ratio_to_reference"])
    view["95 % CI"] = _interval(df)
    view["noise (CV)"] = df["noise"]
    view["test"], view["p"], view["p (Holm)"], view["verdict"] = df["test"], df["p_value"], df["p_adjusted"], \
        df["verdict"]
    if "ratio_to_shuffle" in df:
        view["vs shuffle"] = _ratio(df["ratio_to_shuffle"])
        view["shuffle CI"] = _interval(df, "shuffle_")
        view["shuffle verdict"] = df["shuffle_verdict"]
    return view


def _markdown(verdicts, groups, agree, seeds: list) -> str:
    reference = verdicts[verdicts["test"] == REFERENCE_TEST]
    others = verdicts[verdicts["test"] != REFERENCE_TEST]
    totals, streams = others[others["stream"] == TOTAL], others[others["stream"] != TOTAL]
    kind = verdicts["reference_kind"].iloc[0]
    ref_view = reference[reference["stream"] == TOTAL][["variant", "estimator", "family", "n_seeds", "bits"]].copy()
    ref_view["noise (CV)"] = reference.loc[reference["stream"] == TOTAL, "noise"]
    if "ratio_to_shuffle" in reference:
        ref_view["vs shuffle"] = _ratio(reference.loc[reference["stream"] == TOTAL, "ratio_to_shuffle"])
        ref_view["shuffle verdict"] = reference.loc[reference["stream"] == TOTAL, "shuffle_verdict"]
    group_rows = groups[(groups["stream"] == TOTAL) & (groups["test"] != REFERENCE_TEST)]
    how = (f"Reference: `{kind}`, {len(seeds)} draws (seeds {', '.join(map(str, seeds))}). Each row tests "
           "\"this variant is one more reference draw\" (prediction t for one new draw, n - 1 df; Welch for "
           f"several draws); the noise is the reference's draw-to-draw coefficient of variation. Verdict at "
           f"alpha = {ALPHA} after Holm: the total rows form one family, the per-stream rows another, the "
           "group rows a third; the shuffle tests are adjusted in families of their own.")
    parts = [
        "# kcomplexity compare report", how,
        f"## Reference (`{kind}`)", markdown_table(ref_view),
        f"## Verdicts: whole model (against `{kind}`)", markdown_table(_verdict_view(totals, ["variant", "estimator",
                                                                                              "family"])),
        "## Agreement across estimator families",
        markdown_table(agree[[c for c in agree if c not in ("agree",)]]),
    ]
    if len(streams):
        parts += [f"## Per stream (against `{kind}`; Holm over these rows)",
                  markdown_table(_verdict_view(streams, ["variant", "estimator", "stream"]))]
    parts += [f"## Per tensor group (against `{kind}`; Holm over these rows)",
              markdown_table(_verdict_view(group_rows, ["variant", "group", "estimator", "n_params"]))]
    return "\n\n".join(parts) + "\n"


def compare_report(variants, estimators=None, reference="random_init", seeds=DEFAULT_SEEDS,
                   shuffle_control: bool = True, metrics=None, init: str = DEFAULT_INIT, include=None,
                   exclude=None, min_ndim: int = 0, sparsity=False) -> CompareReport:
    """``compare`` per model and per tensor group from one set of reference draws, the agreement across
    the estimator families (default ``analysis.families.FAMILIES``), and the Markdown report.

    Arguments as for ``kcomplexity.compare``. The agreement table has one row per variant (``group``
    ``all``) and one per variant and group.
    """
    import pandas as pd

    if not isinstance(seeds, (list, tuple, range)):
        raise InputError(f"seeds must be a non-empty list of integers in [0, 2**32), e.g. (0, 1, 2); got {seeds!r}")
    tables = compare_tables(variants, estimators, reference, seeds, shuffle_control, metrics, init, include, exclude,
                            min_ndim, sparsity, by=("model", "group"))
    verdicts, groups = tables["model"], tables["group"]
    agree = pd.concat([agreement(verdicts).assign(group=WHOLE), agreement(groups)], ignore_index=True)
    agree = agree[["variant", "group"] + [c for c in agree if c not in ("variant", "group")]]
    return CompareReport(verdicts, groups, agree, _markdown(verdicts, groups, agree, list(seeds)))
