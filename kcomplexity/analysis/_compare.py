"""``compare``: a model's variants side by side, as ratios to its own initialisation and to a shuffle.

What each estimator measures (the ``per`` column):

- ``"model"``: the variant's tensors joined as one ``kcomplexity.io.ModelStream``
  in the variant's own order (the order ``momos`` cuts its blocks in; native
  dtypes, per-tensor padding), one stream through ``kcomplexity.estimate``;
- ``"matrix"``: estimators whose coder scores 2-D input (``bdm2d``: QuBD) see
  every tensor of two or more dimensions as its own matrix, and the bits are
  summed over the model; 1-D tensors and matrices under one block are left out
  and named in ``skipped``.

The reference is drawn by ``variants.random_init`` rules from the first variant's
source (its module, Hugging Face config, timm name, or the name rules), once per
seed; the ``reference_kind`` column names the rule. Variants drawn at random (the
reference, every shuffle control) are reported as mean and standard deviation
(ddof=1) over the seeds; a ``*_std`` is NaN only where there is a single draw.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
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

DEFAULT_ESTIMATORS = ("raw|lzma-9", "motif-4")
TOTAL = "total"
COLUMNS = ["variant", "estimator", "stream", "per", "n_params", "n_seeds", "bits", "bits_std", "bits_per_param",
           "reference_bits", "ratio_to_reference", "ratio_to_reference_std",
           "shuffle_bits", "ratio_to_shuffle", "ratio_to_shuffle_std", "reference_kind", "skipped"]


@dataclass
class Measured:
    """One weights x estimator measurement: bits in total and per stream (planes), what was left out."""
    streams: dict[str, float]
    n_params: int
    note: str | None = None


def per_unit(pipeline) -> str:
    """``"matrix"`` for estimators whose coder scores 2-D input (``bdm2d``), else ``"model"``."""
    return "matrix" if getattr(pipeline.coder, "ndim", 1) >= 2 else "model"


def _streams(estimate) -> dict[str, float]:
    return {TOTAL: float(estimate.bits), **{k: float(v) for k, v in estimate.details.get("streams", {}).items()}}


def measure(weights: Mapping, pipeline) -> Measured:
    """Bits of ``weights`` under ``pipeline``: the joined model, or the sum over its matrices."""
    if per_unit(pipeline) == "model":
        e = pipeline.estimate(ModelStream(weights))
        return Measured(_streams(e), e.n_values, e.skipped)
    totals, n_params, left_out = {}, 0, []
    for name, x in weights.items():
        e = pipeline.estimate(x) if x.ndim >= 2 else None
        if e is None or e.skipped:
            left_out.append(name)
            continue
        n_params += e.n_values
        for key, bits in _streams(e).items():
            totals[key] = totals.get(key, 0.0) + bits
    note = (f"per matrix: {len(left_out)} of {len(weights)} tensors left out (1-D, or no complete block): "
            f"{left_out[:5]}{' ...' if len(left_out) > 5 else ''}") if left_out else None
    return Measured(totals or {TOTAL: float("nan")}, n_params, note)


def _select(source, selection: Selection) -> dict[str, np.ndarray]:
    """A variant's float tensors that ``selection`` keeps (a path is read with ``kcomplexity.load``)."""
    if isinstance(source, (str, os.PathLike)):
        return as_weights(load(source, selection.include, selection.exclude, selection.min_ndim))
    weights = as_weights(source)
    kept = {n: x for n, x in weights.items() if selection.keeps(n, dtype_name(x.dtype), x.shape)}
    if not kept:
        raise InputError(f"the selection (include={selection.include}, exclude={selection.exclude}, "
                         f"min_ndim={selection.min_ndim}) keeps none of {list(weights)[:5]}; loosen it")
    return kept


def _reference_draws(variants: Mapping, draws: dict, reference, seeds: list, init: str,
                     selection: Selection) -> tuple[list[dict], str]:
    """The reference's weights per seed and its ``reference_kind``."""
    if callable(reference):
        return [_select(reference(s), selection) for s in seeds], f"callable:{getattr(reference, '__name__', '?')}"
    if not isinstance(reference, str):
        raise InputError(f"reference must be 'random_init', a variant name or a callable seed -> weights, "
                         f"got {type(reference).__name__}")
    if reference in draws:
        return draws[reference], f"variant:{reference}"
    if reference != "random_init":
        raise InputError(f"reference {reference!r} is not a variant name; use one of {list(draws)}, "
                         "'random_init' or a callable seed -> weights")
    first_name, first = next(iter(variants.items()))
    names = list(draws[first_name][0])
    refs = [initialise(first, seed=s, init=init) for s in seeds]
    missing = [n for n in names if n not in refs[0].weights]
    if missing:
        raise InputError(f"the reference drawn from {first_name!r} ({refs[0].kind}) lacks {missing[:5]}; "
                         "pass reference= a variant name or a callable seed -> weights")
    return [{n: r.weights[n] for n in names} for r in refs], refs[0].kind


def _spread(values: np.ndarray) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else float("nan")


def _reason(own: list[Measured], ref: list[Measured], shuffled: list[Measured]) -> str | None:
    """Why numbers of this row are left out or NaN, from the measurements behind them."""
    parts = [own[0].note] + [f"{what}: {m[0].note}" for what, m in (("reference", ref), ("shuffle", shuffled))
                             if m and m[0].note and m[0].note != own[0].note]
    return "; ".join(p for p in parts if p) or None


def _rows(name: str, spec: str, per: str, own: list[Measured], ref: list[Measured], shuffled: list[Measured],
          n_params: int) -> list[dict]:
    """One row per stream (``total`` first) of one variant under one estimator."""
    rows = []
    for stream in own[0].streams:
        bits = np.array([m.streams.get(stream, np.nan) for m in own])
        ref_bits = np.array([m.streams.get(stream, np.nan) for m in ref])
        ratio = bits / ref_bits                      # a single draw broadcasts over the seeds
        n = own[0].n_params if per == "matrix" else n_params
        row = {"variant": name, "estimator": spec, "stream": stream, "per": per, "n_params": n,
               "n_seeds": len(own), "bits": bits.mean(), "bits_std": _spread(bits), "bits_per_param": bits.mean() / n,
               "reference_bits": ref_bits.mean(), "ratio_to_reference": ratio.mean(),
               "ratio_to_reference_std": _spread(ratio)}
        if shuffled:
            shuf = np.array([m.streams.get(stream, np.nan) for m in shuffled])
            ratio_shuf = bits / shuf
            row.update(shuffle_bits=shuf.mean(), ratio_to_shuffle=ratio_shuf.mean(),
                       ratio_to_shuffle_std=_spread(ratio_shuf))
        rows.append(row)
    return rows


def compare(variants: Mapping, estimators=None, reference="random_init", seeds=(0, 1, 2),
            shuffle_control: bool = True, metrics: Mapping | None = None, init: str = DEFAULT_INIT,
            include=None, exclude=None, min_ndim: int = 0, sparsity=False):
    """One row per (variant, estimator, stream): bits, ratio to the reference, ratio to its own shuffle.

    ``variants``: name -> checkpoint path or Hugging Face folder, nn.Module, mapping of tensors, or
    a variant result (``MomosResult``/``PruneResult``); ``include``/``exclude``/``min_ndim`` select
    tensors as in ``kcomplexity.load`` (float tensors only). ``estimators``: specs, default
    ``DEFAULT_ESTIMATORS``, listed by canonical spec (``"motif-4"`` -> ``"raw|motif-4"``).
    ``reference``: ``"random_init"`` (default: drawn from the first variant's source by
    ``variants.random_init`` with ``init`` for bare checkpoints, once per seed, added as the row
    ``random_init``), a variant name, or a callable ``seed -> weights``.
    ratio_to_reference = bits / reference bits and ratio_to_shuffle = bits / bits of
    ``shuffle(variant, seed)``, each the mean over the seeds (pairs matched by seed) with its std.
    ``stream``: ``total``, plus one row per stream (bit-plane) for multi-stream estimators. ``per``:
    ``model`` (one joined stream) or ``matrix`` (summed over the matrices; ``n_params`` then counts the
    values scored, ``skipped`` names the tensors left out).
    ``metrics``: name -> {column: value} (e.g. accuracy) joined in.
    ``sparsity=True`` (or a dict of ``q, p, eps``) adds ``kc.sparsity``'s columns of each
    variant's joined model (the mean over the draws of a random variant).
    """
    import pandas as pd

    if not isinstance(variants, Mapping) or not variants:
        raise InputError("compare needs a non-empty dict name -> model, weights or checkpoint path")
    if not isinstance(seeds, (list, tuple, range)) or not seeds:
        raise InputError(f"seeds must be a non-empty list of integers in [0, 2**32), e.g. (0, 1, 2); got {seeds!r}")
    seeds = [check_seed(s) for s in seeds]
    pipelines = parse_all(DEFAULT_ESTIMATORS if estimators is None else estimators)
    if metrics is not None and not (isinstance(metrics, Mapping)
                                    and all(isinstance(m, Mapping) for m in metrics.values())):
        raise InputError(f"metrics maps variant names to {{column: value}} dicts, got {metrics!r}")
    selection = Selection.make(include, exclude, min_ndim)
    draws = {name: [_select(v, selection)] for name, v in variants.items()}
    ref_draws, kind = _reference_draws(variants, draws, reference, seeds, init, selection)
    ref_name = reference if isinstance(reference, str) else "reference"
    if ref_name not in draws:
        draws = {ref_name: ref_draws, **draws}
    options = sparsity_options(sparsity)
    stats = {name: pd.DataFrame([vector_sparsity(ModelStream(w).values(), **options) for w in ws]).mean().to_dict()
             for name, ws in draws.items()} if options is not None else {}
    rows = []
    for pipeline in pipelines:
        ref = [measure(w, pipeline) for w in ref_draws]
        for name, ws in draws.items():
            own = ref if name == ref_name else [measure(w, pipeline) for w in ws]
            shuffled = [measure(shuffle(ws[i % len(ws)], seed=s), pipeline) for i, s in enumerate(seeds)] \
                if shuffle_control else []
            n_params = int(sum(a.size for a in ws[0].values()))
            for row in _rows(name, pipeline.spec, per_unit(pipeline), own, ref, shuffled, n_params):
                rows.append({**row, "reference_kind": kind, "skipped": _reason(own, ref, shuffled),
                             **stats.get(name, {}), **dict((metrics or {}).get(name, {}))})
    frame = pd.DataFrame(rows)
    order = {name: i for i, name in enumerate(draws)}
    frame = frame.sort_values("variant", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    return frame[[c for c in COLUMNS if c in frame] + [c for c in frame if c not in COLUMNS]]
