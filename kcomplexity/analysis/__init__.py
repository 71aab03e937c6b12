"""Analysis layer: ``analyse`` (checkpoints x tensors x estimators -> DataFrame), the SQLite
result cache, local and Dask executors, and ``delta`` estimates between checkpoints."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ._analyse import MODEL_TENSOR, analyse, analyze
from ._compare import compare
from ._sparsity import sparsity
from .cache import DEFAULT_CACHE, Cache


def write_table(df, path) -> None:
    """Write a result table as ``.parquet`` or ``.csv`` (chosen by the suffix)."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise InputError(f"cannot write {path}: the output must end in .parquet or .csv")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)


def read_table(path):
    """Read a result table written by ``write_table`` (``.parquet`` or ``.csv``)."""
    import pandas as pd

    suffix = Path(path).suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise InputError(f"cannot read {path}: a result table ends in .parquet or .csv")
    if not Path(path).is_file():
        raise InputError(f"no result table at {path}: write one with 'kcomplexity analyse ... --out {path}'")
    return pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)


__all__ = ["Cache", "DEFAULT_CACHE", "MODEL_TENSOR", "analyse", "analyze", "compare", "read_table", "sparsity", "write_table"]
