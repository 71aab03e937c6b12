"""Analysis layer: ``analyse`` (checkpoints x tensors x estimators -> DataFrame), the SQLite
result cache, local and Dask executors, and ``delta`` estimates between checkpoints."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .analyse import MODEL_TENSOR, analyse, analyze
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


__all__ = ["Cache", "DEFAULT_CACHE", "MODEL_TENSOR", "analyse", "analyze", "write_table"]
