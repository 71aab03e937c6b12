"""Aggregation of ``analyse`` tables: whole-model bits per (series, step, estimator)."""
from __future__ import annotations

from ..errors import InputError
from ._analyse import MODEL_TENSOR


def model_totals(df):
    """Bits per (series, step, estimator) for the whole model: an estimator's ``<model>`` rows
    when it has them, else the sum over its tensors (NaN if any tensor was skipped).

    Columns: ``[series,] step, estimator, bits, n_params, bits_per_param[, accuracy]``.
    """
    missing = [c for c in ("step", "estimator", "bits", "n_params") if c not in df.columns]
    if missing:
        raise InputError(f"model_totals needs the columns {missing}; pass a table from kcomplexity.analyse")
    from pandas.api.types import is_numeric_dtype

    text = [c for c in ("bits", "n_params") if not is_numeric_dtype(df[c])]
    if text:
        raise InputError(f"the columns {text} hold text, not numbers; pass a table written by kcomplexity.analyse")
    if "tensor" in df.columns:
        whole = df["tensor"] == MODEL_TENSOR
        df = df[whole | ~df["estimator"].isin(set(df.loc[whole, "estimator"]))]
    keys = [c for c in ("series", "step", "estimator") if c in df.columns]
    groups = df.groupby(keys, sort=True, dropna=False)  # keep a missing step: a single in-memory checkpoint
    totals = groups.agg(bits=("bits", lambda s: s.sum(skipna=False)), n_params=("n_params", "sum")).reset_index()
    totals["bits_per_param"] = totals["bits"] / totals["n_params"]
    if "accuracy" in df.columns:
        totals = totals.merge(df.groupby(keys, dropna=False)["accuracy"].first().reset_index(), on=keys)
    return totals
