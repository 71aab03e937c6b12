"""``compare``: a model's variants side by side, as ratios to its own initialisation and to a shuffle,
each with a 95 % interval, a test against the reference's draw-to-draw noise and a Holm-adjusted verdict.

What each estimator measures (the ``per`` column):

- ``"model"``: the variant's tensors joined as one ``kcomplexity.io.ModelStream``
  in the canonical model order (natural name order, whatever the source; native
  dtypes, per-tensor padding), one stream through ``kcomplexity.estimate``;
- ``"matrix"``: estimators whose coder scores 2-D input (``bdm2d``: QuBD) score
  a whole model as the sum over its matrices (``Pipeline.estimate``'s rule, the
  same as ``analyse(per="model")``); 1-D tensors and matrices under one block are
  left out and named in ``skipped``.

The reference is drawn by ``variants.random_init`` rules from the first variant's
source (its module, Hugging Face config, timm name, or the name rules), once per
seed; the ``reference_kind`` column names the rule. Variants drawn at random (the
reference, every shuffle control) are reported as mean and standard deviation
(ddof=1) over the seeds; a ``*_std`` is NaN only where there is a single draw.

Inference (``analysis.inference``): a variant's bits against the reference draws (prediction t-test,
one new draw) and against its own shuffles; Holm over each family of rows of one call (see
``compare``). With ``by="group"`` every measurement is repeated per tensor group
(``analysis.families.group_of``).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..arrays import dtype_name
from ..errors import InputError
from ..estimators import parse_all
from ..io import ModelStream, Selection, load
from ..variants import as_weights, shuffle
from ..variants._init_rules import DEFAULT_INIT
from ..variants._random_init import initialise
from ..variants._weights import check_seed
from ..sparsity_measures import sparsity_options, vector_sparsity
from .families import DEFAULT_SPECS, family_of, split_by_group
from .inference import Test, against_reference, holm, verdict

DEFAULT_ESTIMATORS = DEFAULT_SPECS
DEFAULT_SEEDS = tuple(range(8))
TOTAL = "total"
WHOLE = "all"  # the ``group`` of rows over the whole model
REFERENCE_TEST = "the reference itself"  # the ``test`` of the reference's own rows
BY = ("model", "group")
COLUMNS = ["variant", "estimator", "family", "group", "stream", "per", "n_params", "n_seeds", "bits", "bits_std",
           "bits_per_param", "reference_bits", "ratio_to_reference", "ratio_to_reference_std", "ci_low", "ci_high",
           "noise", "test", "p_value", "p_adjusted", "verdict", "shuffle_bits", "ratio_to_shuffle",
           "ratio_to_shuffle_std", "shuffle_ci_low", "shuffle_ci_high", "shuffle_test", "shuffle_p_value",
           "shuffle_p_adjusted", "shuffle_verdict", "reference_kind", "skipped"]


@dataclass
class Measured:
    """One weights x estimator measurement: bits in total and per stream (planes), what was left out."""
    streams: dict[str, float]
    n_params: int
    note: str | None = None


def per_unit(pipeline) -> str:
    """``"matrix"`` for estimators whose coder scores 2-D input (``bdm2d``), else ``"model"``."""
    return "matrix" if pipeline.coder.ndim >= 2 else "model"


def _streams(estimate) -> dict[str, float]:
    return {TOTAL: float(estimate.bits), **{k: float(v) for k, v in estimate.details.get("streams", {}).items()}}


def measure(weights: Mapping, pipeline) -> Measured:
    """Bits of ``weights`` as one model under ``pipeline`` (for a 2-D coder, the sum over its matrices)."""
    e = pipeline.estimate(ModelStream(weights))
    left_out = e.details.get("left_out", [])
    note = (f"per matrix: {len(left_out)} of {len(weights)} tensors left out (1-D, or no complete block): "
            f"{left_out[:5]}{' ...' if len(left_out) > 5 else ''}") if left_out else e.skipped
    streams = _streams(e) if not e.skipped else {TOTAL: float("nan")}
    return Measured(streams, e.n_values, note)


def _select(source, selection: Selection) -> dict[str, np.ndarray]:
    """A variant's float tensors that ``selection`` keeps (a path is read with ``kcomplexity.load``)."""
    if isinstance(source, (str, os.PathLike)):
        return as_weights(load(source, selection.include, selection.exclude, selection.min_ndim))
    weights = as_weights(source)
    kept = {n: x for n, x in weights.items() if selection.keeps(n, dtype_name(x.dtype), x.shape)}
    if not kept:
        raise InputError(f"the selection (include={selection.include}, exclude={selection.exclude}, "
                         f"min_ndim={selection.min_ndim}) keeps none of {list(weights)[:5]}; loosen it "
                         "(command line: --include, --exclude, --min-ndim)")
    return kept


def _reference(variants: Mapping, draws: dict, reference, init: str,
               selection: Selection) -> tuple[str, Callable[[int], dict] | None, dict]:
    """The reference's row name, its ``seed -> weights`` draw (None: a variant is the reference) and
    ``{"kind": reference_kind}`` (filled by the first random_init draw)."""
    if callable(reference):
        return "reference", lambda s: _select(reference(s), selection), \
            {"kind": f"callable:{getattr(reference, '__name__', '?')}"}
    if not isinstance(reference, str):
        raise InputError(f"reference must be 'random_init', a variant name or a callable seed -> weights, "
                         f"got {type(reference).__name__}")
    if reference in draws:
        return reference, None, {"kind": f"variant:{reference}"}
    if reference != "random_init":
        raise InputError(f"reference {reference!r} is not a variant name; use one of {list(draws)}, "
                         "'random_init' or a callable seed -> weights")
    first_name, first = next(iter(variants.items()))
    names, info = list(draws[first_name]), {}

    def draw(seed: int) -> dict:
        drawn = initialise(first, seed=seed, init=init)
        info["kind"] = drawn.kind
        missing = [n for n in names if n not in drawn.weights]
        if missing:
            raise InputError(f"the reference drawn from {first_name!r} ({drawn.kind}) lacks {missing[:5]}; "
                             "pass reference= a variant name or a callable seed -> weights")
        return {n: drawn.weights[n] for n in names}
    return reference, draw, info


def _spread(values: np.ndarray) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else float("nan")


def _parts(weights: Mapping, by) -> dict[str, Mapping]:
    """The weights measured as one: the whole model (``WHOLE``) and/or each tensor group."""
    return {**({WHOLE: weights} if "model" in by else {}), **(split_by_group(weights) if "group" in by else {})}


@dataclass
class Draws:
    """A variant's measurements, per draw: ``{(spec, group): Measured}``; ``n_params`` per group."""
    own: list[dict]
    shuffled: list[dict]
    n_params: dict[str, int]
    sparsity: dict


def _measure_variant(draws, n_draws: int, seeds: list, pipelines, by, shuffle_control: bool,
                     options: dict | None) -> Draws:
    """Every draw (and its shuffles: draw i gets seeds i, i + n_draws, ...) under every pipeline and part."""
    def all_of(weights):
        parts = _parts(weights, by)
        return {(p.spec, g): measure(w, p) for p in pipelines for g, w in parts.items()}

    own, shuffled, stats, n_params = [], [], [], {}
    for i, weights in enumerate(draws):
        own.append(all_of(weights))
        n_params = {g: int(sum(a.size for a in w.values())) for g, w in _parts(weights, by).items()}
        if shuffle_control:
            shuffled += [all_of(shuffle(weights, seed=s)) for s in seeds[i::n_draws]]
        if options is not None:
            stats.append(vector_sparsity(ModelStream(weights).values(), **options))
    mean_stats = {k: float(np.mean([s[k] for s in stats])) for k in stats[0]} if stats else {}
    return Draws(own, shuffled, n_params, mean_stats)


def _reason(key, own: list[dict], ref: list[dict], shuffled: list[dict]) -> str | None:
    """Why numbers of this row are left out or NaN, from the measurements behind them."""
    note = own[0][key].note
    parts = [note] + [f"{what}: {m[0][key].note}" for what, m in (("reference", ref), ("shuffle", shuffled))
                      if m and m[0][key].note and m[0][key].note != note]
    return "; ".join(p for p in parts if p) or None


def _bits(draws: list[dict], key, stream: str) -> np.ndarray:
    return np.array([d[key].streams.get(stream, np.nan) for d in draws])


def _test_columns(test: Test, prefix: str = "") -> dict:
    return {f"{prefix}ci_low": test.ci_low, f"{prefix}ci_high": test.ci_high, f"{prefix}test": test.test,
            f"{prefix}p_value": test.p_value}


def _rows(name: str, is_reference: bool, pipeline, group: str, own: Draws, ref: Draws) -> list[dict]:
    """One row per stream (``total`` first) of one variant under one estimator and group."""
    key, per, rows = (pipeline.spec, group), per_unit(pipeline), []
    for stream in own.own[0][key].streams:
        bits, ref_bits = _bits(own.own, key, stream), _bits(ref.own, key, stream)
        test = against_reference(bits, ref_bits)
        if is_reference:
            test = Test(1.0, np.nan, np.nan, np.nan, REFERENCE_TEST, test.noise)
        n = own.own[0][key].n_params if per == "matrix" else own.n_params[group]
        row = {"variant": name, "estimator": pipeline.spec, "family": family_of(pipeline), "group": group,
               "stream": stream, "per": per, "n_params": n, "n_seeds": len(own.own), "bits": bits.mean(),
               "bits_std": _spread(bits), "bits_per_param": bits.mean() / n, "reference_bits": ref_bits.mean(),
               "ratio_to_reference": test.ratio, "ratio_to_reference_std": _spread(bits / ref_bits),
               "noise": test.noise, **_test_columns(test)}
        if own.shuffled:
            shuf = _bits(own.shuffled, key, stream)
            test = against_reference(bits, shuf)
            row.update(shuffle_bits=shuf.mean(), ratio_to_shuffle=test.ratio,
                       ratio_to_shuffle_std=_spread(bits / shuf), **_test_columns(test, "shuffle_"))
        row["skipped"] = _reason(key, own.own, ref.own, own.shuffled)
        rows.append(row)
    return rows


def add_verdicts(frame):
    """``p_adjusted``/``verdict`` (and ``shuffle_*``): Holm within each family of rows.

    A family is one ``group`` scope (the whole model, or all groups together) and one kind of
    stream: the ``total`` rows form one family, the per-stream (bit-plane) rows another, so planes
    never dilute the totals' verdicts. The reference's own rows have no test (p NaN) and take no
    part. The shuffle tests are adjusted the same way, as families of their own.
    """
    frame = frame.copy()
    family = [frame["group"].eq(WHOLE), frame["stream"].eq(TOTAL)]
    for prefix in ("", "shuffle_") if "shuffle_p_value" in frame else ("",):
        adjusted = frame.groupby(family, sort=False)[f"{prefix}p_value"].transform(lambda p: holm(p.to_numpy()))
        ratio = frame[f"ratio_to_{'shuffle' if prefix else 'reference'}"]
        frame[f"{prefix}p_adjusted"] = adjusted
        frame[f"{prefix}verdict"] = [verdict(r, p) for r, p in zip(ratio, adjusted)]
    return frame


def compare_tables(variants: Mapping, estimators=None, reference="random_init", seeds=DEFAULT_SEEDS,
                   shuffle_control: bool = True, metrics: Mapping | None = None, init: str = DEFAULT_INIT,
                   include=None, exclude=None, min_ndim: int = 0, sparsity=False, by=BY) -> dict:
    """``compare``'s tables for each scope in ``by`` (``"model"``, ``"group"``) from one set of draws."""
    import pandas as pd

    if not isinstance(variants, Mapping) or not variants:
        raise InputError("compare needs a non-empty dict name -> model, weights or checkpoint path")
    if not isinstance(seeds, (list, tuple, range)) or not seeds:
        raise InputError(f"seeds must be a non-empty list of integers in [0, 2**32), e.g. (0, 1, 2); got {seeds!r}")
    if isinstance(by, str) or not set(by) <= set(BY) or not by:
        raise InputError(f"by must be 'model' (one row per estimator) or 'group' (one per tensor group), got {by!r}")
    seeds = [check_seed(s) for s in seeds]
    pipelines = parse_all(DEFAULT_ESTIMATORS if estimators is None else estimators)
    if metrics is not None and not (isinstance(metrics, Mapping)
                                    and all(isinstance(m, Mapping) for m in metrics.values())):
        raise InputError(f"metrics maps variant names to {{column: value}} dicts, got {metrics!r}")
    selection = Selection.make(include, exclude, min_ndim)
    draws = {name: _select(v, selection) for name, v in variants.items()}
    ref_name, draw_reference, info = _reference(variants, draws, reference, init, selection)
    sources: dict[str, tuple[Iterable[dict], int]] = \
        {ref_name: ((draw_reference(s) for s in seeds), len(seeds))} if draw_reference else {}
    sources.update((name, ([w], 1)) for name, w in draws.items() if name not in sources)
    options = sparsity_options(sparsity)
    measured = {name: _measure_variant(ws, n, seeds, pipelines, by, shuffle_control, options)
                for name, (ws, n) in sources.items()}
    tables = {}
    for scope in by:
        rows = [{**row, "reference_kind": info["kind"], **m.sparsity, **dict((metrics or {}).get(name, {}))}
                for name, m in measured.items() for p in pipelines
                for group in m.n_params if (group == WHOLE) == (scope == "model")
                for row in _rows(name, name == ref_name, p, group, m, measured[ref_name])]
        frame = add_verdicts(pd.DataFrame(rows))
        frame = frame[[c for c in COLUMNS if c in frame] + [c for c in frame if c not in COLUMNS]]
        tables[scope] = frame if scope == "group" else frame.drop(columns="group")
    return tables


def compare(variants: Mapping, estimators=None, reference="random_init", seeds=DEFAULT_SEEDS,
            shuffle_control: bool = True, metrics: Mapping | None = None, init: str = DEFAULT_INIT,
            include=None, exclude=None, min_ndim: int = 0, sparsity=False, by: str = "model"):
    """One row per (variant, estimator, stream): bits, ratio to the reference with its interval, test and
    verdict, and the same against the variant's own shuffle.

    Parameters
    ----------
    variants : dict
        name -> checkpoint path or Hugging Face folder, nn.Module, mapping of tensors, or a variant
        result (``MomosResult``/``PruneResult``); ``include``/``exclude``/``min_ndim`` select tensors
        as in ``kcomplexity.load`` (float tensors only).
    estimators : str or list of str, optional
        Specs, listed by canonical spec (``"motif-4"`` -> ``"raw|motif-4"``). Default: one per
        estimator family (``analysis.families.FAMILIES``), so the table says whether they agree.
    reference : str or callable
        ``"random_init"`` (default: drawn from the first variant's source by ``variants.random_init``,
        with ``init`` for bare checkpoints, once per seed, added as the row ``random_init``), a variant
        name, or a callable ``seed -> weights``.
    seeds : sequence of int
        One reference draw and one shuffle per seed; default 8 seeds (0..7), so the tests have 7
        degrees of freedom. Cost: per estimator, (variants + 1) x (1 + seeds) measurements; on
        MiniLM (22.7M parameters) with the default families about 2 s CPU per measurement plus
        4 s per reference draw.
    by : {"model", "group"}
        ``"group"``: one row per tensor group (column ``group``: ``analysis.families.GROUPS``), each
        group measured as its own model.
    metrics : dict, optional
        name -> {column: value} (e.g. accuracy), joined in.
    sparsity : bool or dict
        ``True`` (or a dict of ``q, p, eps``) adds ``kc.sparsity``'s columns of each variant's joined
        model (the mean over the draws of a random variant).

    Returns
    -------
    pandas.DataFrame
        ``ratio_to_reference`` = mean bits / mean reference bits; ``ci_low``/``ci_high`` its 95 %
        interval; ``noise`` the reference's draw-to-draw coefficient of variation; ``test`` and
        ``p_value`` the prediction t-test of "this variant is one more reference draw"
        (``analysis.inference``); ``p_adjusted`` Holm over the call's family of rows
        (``add_verdicts``: the ``total`` rows of all variants and estimators form one family, the
        per-stream rows another); ``verdict`` ``lower``/``higher``/``no evidence``. The reference's own
        rows carry its noise and no test. ``shuffle_*``: the same against ``shuffle(variant, seed)``
        draws (for the reference, Welch's test of its draws against their shuffles), Holm within its
        own families. ``*_std``: spread over the seeds of the per-seed ratios. ``stream``: ``total``,
        plus one row per stream (bit-plane) for multi-stream estimators. ``per``: ``model`` (one
        joined stream) or ``matrix`` (summed over the matrices; ``n_params`` then counts the values
        scored, ``skipped`` names the tensors left out).
    """
    if by not in BY:
        raise InputError(f"by must be 'model' (one row per estimator) or 'group' (one per tensor group), got {by!r}")
    return compare_tables(variants, estimators, reference, seeds, shuffle_control, metrics, init, include, exclude,
                          min_ndim, sparsity, by=(by,))[by]
