"""``compare``: a model's variants side by side, as ratios to a random reference and to a shuffle.

Each variant is measured as a whole model: its tensors joined as one
``kcomplexity.io.ModelStream`` in the variant's own order (the order ``momos``
cuts its blocks in; native dtypes, per-tensor padding), the MoMos reference way,
and that one stream goes through ``kcomplexity.estimate``. A variant drawn
at random (the generated ``random_init`` reference, every shuffle control) is
drawn once per seed and reported as mean and standard deviation (ddof=1) over
the seeds.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import InputError
from ..io import ModelStream
from ..estimators import estimate, parse_all
from ..variants import as_weights, random_init, shuffle
from ..variants._weights import check_seed
from ._sparsity import sparsity_options, vector_sparsity

DEFAULT_ESTIMATORS = ("raw|lzma-9", "motif-4")
COLUMNS = ["variant", "estimator", "n_params", "n_seeds", "bits", "bits_std", "bits_per_param",
           "reference_bits", "ratio_to_reference", "ratio_to_reference_std",
           "shuffle_bits", "ratio_to_shuffle", "ratio_to_shuffle_std"]


def measure(weights: Mapping, estimators) -> np.ndarray:
    """Bits of the joined model under each estimator (NaN where skipped)."""
    return np.array([e.bits for e in estimate(ModelStream(weights), list(estimators))], dtype=np.float64)


def _spread(values: np.ndarray) -> np.ndarray:
    return values.std(axis=0, ddof=1) if len(values) > 1 else np.full(values.shape[1:], np.nan)


def compare(variants: Mapping, estimators=DEFAULT_ESTIMATORS, reference: str = "random_init",
            seeds=(0, 1, 2), shuffle_control: bool = True, metrics: Mapping | None = None, sparsity=False):
    """One row per (variant, estimator): bits, ratio to the reference, ratio to its own shuffle.

    Estimators are listed by their canonical spec (``"motif-4"`` -> ``"raw|motif-4"``), as in ``analyse``.

    ``variants``: name -> nn.Module, mapping of tensors, or a variant result
    (``MomosResult``/``PruneResult``). ``reference``: a name in ``variants``, or
    ``"random_init"`` (default) to build it from the first variant with
    ``variants.random_init`` once per seed (added as the row ``random_init``).
    ratio_to_reference = bits / reference bits and ratio_to_shuffle = bits / bits of
    ``shuffle(variant, seed)``, each the mean over the seeds (pairs matched by seed)
    with its std. ``metrics``: name -> {column: value} (e.g. accuracy) joined in.
    ``sparsity=True`` (or a dict of ``q, p, eps``) adds ``kc.sparsity``'s columns of each
    variant's joined model (the mean over the draws of a random variant).
    """
    import pandas as pd

    if not isinstance(variants, Mapping) or not variants:
        raise InputError("compare needs a non-empty dict name -> model or weights")
    if not isinstance(seeds, (list, tuple, range)) or not seeds:
        raise InputError(f"seeds must be a non-empty list of integers in [0, 2**32), e.g. (0, 1, 2); got {seeds!r}")
    seeds = [check_seed(s) for s in seeds]
    estimators = [p.spec for p in parse_all(estimators)]
    draws = {name: [as_weights(v)] for name, v in variants.items()}
    if metrics is not None and not (isinstance(metrics, Mapping)
                                    and all(isinstance(m, Mapping) for m in metrics.values())):
        raise InputError(f"metrics maps variant names to {{column: value}} dicts, got {metrics!r}")
    if not isinstance(reference, str):
        raise InputError(f"reference is 'random_init' or a variant name, got {reference!r}")
    if reference not in draws:
        if reference != "random_init":
            raise InputError(f"reference {reference!r} is not a variant name; use one of {list(draws)} "
                             "or 'random_init'")
        first = next(iter(variants.values()))
        draws = {reference: [random_init(first, seed=s) for s in seeds], **draws}
    options = sparsity_options(sparsity)
    bits = {name: np.stack([measure(w, estimators) for w in ws]) for name, ws in draws.items()}
    shuffled = {name: np.stack([measure(shuffle(ws[i % len(ws)], seed=s), estimators) for i, s in enumerate(seeds)])
                for name, ws in draws.items()} if shuffle_control else {}
    rows = []
    for name, ws in draws.items():
        own = bits[name]
        ratio_ref = own / bits[reference]          # broadcasts a single draw over the seeds
        record = {"variant": name, "n_params": int(sum(a.size for a in ws[0].values())), "n_seeds": len(own)}
        if options is not None:
            stats = pd.DataFrame([vector_sparsity(ModelStream(w).values(), **options) for w in ws])
            record.update(stats.mean().to_dict())
        for j, spec in enumerate(estimators):
            row = dict(record, estimator=spec, bits=own[:, j].mean(), bits_std=_spread(own[:, [j]])[0],
                       reference_bits=bits[reference][:, j].mean(), ratio_to_reference=ratio_ref[:, j].mean(),
                       ratio_to_reference_std=_spread(ratio_ref[:, [j]])[0])
            row["bits_per_param"] = row["bits"] / row["n_params"]
            if shuffle_control:
                ratio_shuf = own[:, [j]] / shuffled[name][:, [j]]
                row.update(shuffle_bits=shuffled[name][:, j].mean(), ratio_to_shuffle=ratio_shuf.mean(),
                           ratio_to_shuffle_std=_spread(ratio_shuf)[0])
            rows.append({**row, **dict((metrics or {}).get(name, {}))})
    frame = pd.DataFrame(rows)
    return frame[[c for c in COLUMNS if c in frame] + [c for c in frame if c not in COLUMNS]]
