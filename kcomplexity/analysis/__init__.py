"""Analysis layer: ``analyse`` (checkpoints x tensors x estimators -> DataFrame), the SQLite
result cache, local and Dask executors, ``delta`` estimates between checkpoints, and ``compare`` with
its inference, estimator families, tensor groups and ``compare_report``."""
from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import InputError
from ._analyse import MODEL_TENSOR, analyse, analyze
from ._compare import DEFAULT_ESTIMATORS as COMPARE_ESTIMATORS, DEFAULT_SEEDS as COMPARE_SEEDS, compare
from .families import FAMILIES, GROUPS, group_of
from .report import CompareReport, compare_report
from .totals import model_totals
from ._sparsity import sparsity
from .cache import DEFAULT_CACHE, Cache


TABLE_SUFFIXES = (".parquet", ".csv")


def check_output(path, suffixes=TABLE_SUFFIXES, folder: bool = False) -> Path:
    """Fail fast, before any work, unless ``path`` can be written.

    A file needs one of ``suffixes``, must not be a directory, and its folder (created
    if missing) must take a new file; ``folder=True`` checks a directory the same way.
    """
    p = Path(path)
    try:
        if not folder and p.suffix.lower() not in suffixes:
            raise InputError(f"cannot write {path}: the output must end in {' or '.join(suffixes)}")
        if p.is_dir() != folder and p.exists():
            raise InputError(f"cannot write {path}: it is {'a file' if folder else 'a directory'}; "
                             f"give a {'folder' if folder else 'file'} path")
        target = p if folder else p.parent
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=target):
            pass
        if len(p.name.encode()) > 255:
            raise InputError(f"cannot write {str(path)[:80]}...: the file name is longer than 255 bytes")
    except OSError as exc:
        raise InputError(f"cannot write {str(path)[:200]}: {exc.strerror or exc}; choose another output path") from None
    return p


def _arrow_safe(df):
    """Object columns that Arrow cannot store as they are (values of several Python types, such as
    a metric that is sometimes text, or integers beyond 64 bits) as strings, every value kept."""
    import pyarrow as pa

    def storable(column) -> bool:
        try:
            pa.array(column.dropna().tolist())
            return True
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            return False

    odd = [c for c in df.columns if df[c].dtype == object and not storable(df[c])]
    return df.astype({c: "string" for c in odd}) if odd else df


def write_table(df, path) -> None:
    """Write a result table as ``.parquet`` or ``.csv`` (chosen by the suffix)."""
    check_output(path)
    try:
        if Path(path).suffix.lower() == ".parquet":
            _arrow_safe(df).to_parquet(path, index=False)
        else:
            df.to_csv(path, index=False)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}; choose another output path") from None


def read_table(path):
    """Read a result table written by ``write_table`` (``.parquet`` or ``.csv``)."""
    import pandas as pd

    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"cannot read {path}: a result table ends in .parquet or .csv")
    if not Path(path).is_file():
        raise InputError(f"no result table at {path}: write one with 'kcomplexity analyse ... --out {path}'")
    try:
        table = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # pyarrow / pandas parser errors of many kinds
        raise InputError(f"{path}: not a readable {suffix[1:]} table ({type(exc).__name__}: {str(exc)[:200]}); "
                         "write it with kcomplexity analyse or compare") from None
    if table.empty:
        raise InputError(f"{path}: the table has no rows; nothing to plot or read")
    return table


__all__ = ["COMPARE_ESTIMATORS", "COMPARE_SEEDS", "Cache", "CompareReport", "FAMILIES", "GROUPS", "compare_report",
           "group_of", "DEFAULT_CACHE", "MODEL_TENSOR", "analyse", "analyze", "check_output", "compare",
           "model_totals", "read_table", "sparsity", "write_table"]
