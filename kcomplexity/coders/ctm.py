"""CTM tables: pybdm's shipped ``ctmdata/*.pkl.gz`` as sorted numpy arrays, cached on disk.

A table holds, per block side length ``s`` (1-D strings of length s, or s x s
binary squares), the CTM complexity (bits) of every *canonical* block: symbols
relabelled 0, 1, 2, ... in order of first appearance (row-major). A canonical
block is packed into one integer, base ``nsymbols``, first cell most significant.

The pickles are read with a restricted unpickler (only ``dict``,
``collections.OrderedDict`` and ``collections.defaultdict`` may be built) and
without importing pybdm. The converted arrays are cached under
``$KCOMPLEXITY_CACHE/ctm`` (default ``~/.cache/kcomplexity/ctm``).
"""
from __future__ import annotations

import collections
import gzip
import importlib.util
import io
import math
import os
import pickle
import tempfile
from typing import Any
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from ..errors import CTMError, UnsafePickleError

# (ndim, nsymbols) -> (pybdm file stem, largest block side)
TABLES = {(1, 2): ("ctm-b2-d12", 12), (1, 4): ("ctm-b4-d12", 12), (1, 5): ("ctm-b5-d12", 12),
          (1, 6): ("ctm-b6-d12", 12), (1, 9): ("ctm-b9-d12", 12), (2, 2): ("ctm-b2-d4x4", 4)}
CACHE_FORMAT = 2
DENSE_LIMIT = 1 << 22  # canonical codes below this get a direct-indexed CTM array
_ALLOWED_GLOBALS = {("builtins", "dict"): dict, ("collections", "OrderedDict"): collections.OrderedDict,
                    ("collections", "defaultdict"): collections.defaultdict}


def no_table_message(ndim: int, nsymbols: int | None) -> str:
    """Why there is no CTM table for (ndim, nsymbols), which alphabets exist, and what to use instead."""
    alphabets = ", ".join(str(k) for d, k in TABLES if d == 1)
    what = f"{ndim}-D blocks over {nsymbols} symbols" if nsymbols else "raw values (not symbols)"
    return (f"no CTM table for {what}: CTM tables exist for 1-D strings over {alphabets} symbols and for "
            "2-D binary squares only. Recode the data to one of these alphabets: 'bitplanesB|bdm2d' scores "
            "the B bit-planes of B-bit codes as binary matrices (QuBD), 'q2|bdm' quantises to 4 symbols, "
            "'sign|bdm' keeps the signs")


@dataclass
class ShapeTable:
    """CTM values of the canonical blocks of one shape, sorted by packed code."""
    codes: np.ndarray   # int64, ascending
    ctm: np.ndarray     # float64, aligned with codes
    nsymbols: int
    size: int           # cells per block

    @property
    def max_ctm(self) -> float:
        return float(self.ctm.max())

    @property
    def min_ctm(self) -> float:
        return float(self.ctm.min())

    def lookup(self, canonical: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """CTM of each canonical code (max CTM + 1 if missing) and a mask of the missing ones."""
        if self._dense is not None:
            values = self._dense[canonical]
            missing = np.isnan(values)
        else:
            needles, back = np.unique(canonical, return_inverse=True)  # sorted needles search fast
            pos = np.minimum(np.searchsorted(self.codes, needles), len(self.codes) - 1)
            found = self.codes[pos] == needles
            values, missing = self.ctm[pos][back], ~found[back]
        return np.where(missing, self.max_ctm + 1.0, values), missing

    @cached_property
    def _dense(self) -> np.ndarray | None:
        """CTM indexed by canonical code (NaN where missing), when that array is small.

        A canonical block starts with symbol 0, so its code is below k^(size - 1).
        """
        n = self.nsymbols ** (self.size - 1)
        if n > DENSE_LIMIT:
            return None
        dense = np.full(n, np.nan)
        dense[self.codes] = self.ctm
        return dense

    @cached_property
    def _descending(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CTM values descending, and cumulative raw-block counts and CTM sums.

        A canonical block with n distinct symbols stands for k!/(k-n)! raw blocks.
        """
        order = np.argsort(-self.ctm, kind="stable")
        values = self.ctm[order]
        n_distinct = _max_digit(self.codes[order], self.nsymbols) + 1
        falling = np.array([math.perm(self.nsymbols, n) for n in range(self.nsymbols + 1)], np.float64)
        reps = falling[n_distinct]
        return values, np.cumsum(reps), np.cumsum(values * reps)

    @property
    def n_raw(self) -> int:
        """How many raw blocks the table covers."""
        return int(self._descending[1][-1])

    def max_bdm(self, n: int) -> float:
        """pybdm's maximum BDM of ``n`` blocks of this shape: the n most complex raw blocks,
        each once; past the table's end it cycles, adding log2(multiplicity) per raw block."""
        values, cum_reps, cum_sums = self._descending
        total = int(cum_reps[-1])
        if n > total:
            q, r = divmod(n, total)
            return float(cum_sums[-1] + r * math.log2(q + 1) + (total - r) * math.log2(q))
        i = int(np.searchsorted(cum_reps, n))  # first index whose cumulative count reaches n
        before = (cum_sums[i - 1], cum_reps[i - 1]) if i else (0.0, 0.0)
        return float(before[0] + (n - before[1]) * values[i])


def _max_digit(codes: np.ndarray, base: int) -> np.ndarray:
    """Largest base-``base`` digit of each code (a canonical block's number of symbols - 1)."""
    codes = codes.copy()
    out = np.zeros(codes.shape, np.int64)
    while codes.any():
        np.maximum(out, (codes % base).astype(np.int64), out=out)
        codes //= base
    return out


class CTMTable:
    """All shapes of one pybdm table, keyed by block side length."""

    def __init__(self, ndim: int, nsymbols: int, shapes: dict[int, ShapeTable]):
        self.ndim, self.nsymbols, self.shapes = ndim, nsymbols, shapes
        self.max_side = max(shapes)

    def __getitem__(self, side: int) -> ShapeTable:
        return self.shapes[side]


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"CTM pickle asks for {module}.{name}, which is not allowed: "
                                    "reinstall pybdm==0.1.0 to get the original tables") from None


def pybdm_table_path(stem: str) -> Path:
    """Where pybdm's table ``stem`` lives, found without executing pybdm."""
    spec = importlib.util.find_spec("pybdm")
    if spec is None or not spec.submodule_search_locations:
        raise CTMError(f"CTM table {stem} not found: pybdm is not installed. "
                       "Install it with `pip install pybdm==0.1.0` (it ships the tables).")
    path = Path(next(iter(spec.submodule_search_locations))) / "ctmdata" / f"{stem}.pkl.gz"
    if not path.is_file():
        raise CTMError(f"CTM table {path} is missing: reinstall with `pip install --force-reinstall pybdm==0.1.0`")
    return path


def read_pybdm_table(path: Path) -> dict:
    """The pickled {shape tuple: {key string: CTM}} dict, read with the restricted unpickler."""
    try:
        return _RestrictedUnpickler(io.BytesIO(gzip.decompress(path.read_bytes()))).load()
    except (OSError, EOFError, pickle.UnpicklingError) as exc:
        raise CTMError(f"cannot read CTM table {path} ({exc}): reinstall pybdm==0.1.0") from exc


def convert(table: dict, nsymbols: int) -> dict[int, ShapeTable]:
    """String keys -> packed int64 codes, sorted; values -> float64."""
    out = {}
    for shape, entries in table.items():
        keys = np.array(list(entries.keys()), dtype=f"S{math.prod(shape)}")
        digits = np.frombuffer(keys.tobytes(), np.uint8).reshape(len(keys), -1) - ord("0")
        codes = np.zeros(len(keys), np.int64)
        for col in digits.T:
            codes = codes * nsymbols + col
        ctm = np.fromiter(entries.values(), np.float64, len(keys))
        order = np.argsort(codes)
        out[shape[0]] = ShapeTable(codes[order], ctm[order], nsymbols, math.prod(shape))
    return out


def cache_dir() -> Path:
    root = os.environ.get("KCOMPLEXITY_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "kcomplexity") / "ctm"


def _cache_path(stem: str, source: Path) -> Path:
    return cache_dir() / f"{stem}-v{CACHE_FORMAT}-{source.stat().st_size}.npz"


def _save(path: Path, shapes: dict[int, ShapeTable]) -> None:
    """Write the npz atomically (temp file + rename); an unwritable cache is skipped."""
    arrays: dict[str, Any] = {}
    for side, t in shapes.items():
        arrays[f"codes_{side}"], arrays[f"ctm_{side}"] = t.codes, t.ctm
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
            np.savez(f, **arrays)
        os.chmod(f.name, 0o644)
        os.replace(f.name, path)
    except OSError:
        pass


def _load(path: Path, ndim: int, nsymbols: int) -> dict[int, ShapeTable] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            sides = sorted(int(k.split("_")[1]) for k in z.files if k.startswith("codes_"))
            return {s: ShapeTable(z[f"codes_{s}"].astype(np.int64, copy=False), z[f"ctm_{s}"], nsymbols, s ** ndim)
                    for s in sides}
    except (OSError, ValueError, KeyError):
        return None


@lru_cache(maxsize=None)
def load_table(ndim: int, nsymbols: int) -> CTMTable:
    """The CTM table for ``ndim``-D blocks over ``nsymbols`` symbols (disk-cached, then memory-cached)."""
    if (ndim, nsymbols) not in TABLES:
        raise CTMError(no_table_message(ndim, nsymbols))
    stem = TABLES[(ndim, nsymbols)][0]
    source = pybdm_table_path(stem)
    cached = _cache_path(stem, source)
    shapes = _load(cached, ndim, nsymbols) if cached.is_file() else None
    if shapes is None:
        shapes = convert(read_pybdm_table(source), nsymbols)
        _save(cached, shapes)
    return CTMTable(ndim, nsymbols, shapes)
