"""The result cache: an embedded SQLite store of finished estimates.

Key = (content hash of the measured tensors, estimator spec, every option that
changes the result such as ``allow_nonfinite``, ``NUMBERS_VERSION``). ``results`` maps
that key to the Estimate as JSON. The content hash is xxh3-128 over the tensor
bytes themselves, never a file's path, size or mtime: a file whose content
changed is measured again even when it keeps its size and mtime.

Safety: WAL journal, one transaction per finished row, so a process killed at any moment (SIGKILL) leaves every
committed row whole and no half row; concurrent writers wait on a 60 s busy
timeout and ``INSERT OR REPLACE`` makes a row written twice harmless (same key, same numbers).
Default location: ``.kcomplexity-cache/cache.sqlite`` under the current directory.
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
import time
import warnings
from pathlib import Path

import numpy as np
import xxhash

from .._version import NUMBERS_VERSION
from ..arrays import dtype_name
from ..errors import CacheRecoveredWarning, InputError, SourceError
from ..sparsity_measures import COLUMNS as SPARSITY_COLUMNS

DEFAULT_CACHE = Path(".kcomplexity-cache") / "cache.sqlite"
SQLITE_MAGIC = b"SQLite format 3\x00"
SCHEMA = ("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, estimate TEXT NOT NULL)",)
COLUMNS = ["key", "estimate"]
APPLICATION_ID = 0x4B434D58  # "KCMX": marks the file as a kcomplexity cache


def numbers_version() -> str:
    return f"n{NUMBERS_VERSION}"


def content_hash(arrays: list[np.ndarray], concatenated: bool = False) -> str:
    """xxh3-128 over each array's dtype, shape and bytes (in order); names do not count."""
    h = xxhash.xxh3_128(b"concat" if concatenated else b"tensor")
    for a in arrays:
        h.update(f"{dtype_name(a.dtype)}{a.dtype.byteorder}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def sparsity_label(options: dict) -> str:
    """The cache's spec part for the sparsity measures of one tensor group with ``options``."""
    full = {"q": 0.5, "p": 0.5, "eps": 0.1, **options}
    return "sparsity(" + ",".join(f"{k}={float(full[k])!r}" for k in ("q", "p", "eps")) + ")"


def result_key(content: str, spec: str, allow_nonfinite: bool = False) -> str:
    """The cache key: content, spec, the options that change the result, the numbers version."""
    options = "nonfinite" if allow_nonfinite else "finite"
    return f"{content}|{spec}|{options}|{numbers_version()}"


def resolve_cache_path(cache) -> Path | None:
    """``True`` -> the default path, ``False``/``None`` -> no cache, a path -> that file."""
    if cache is False or cache is None:
        return None
    if cache is True:
        return DEFAULT_CACHE
    if not isinstance(cache, (str, os.PathLike)):
        raise InputError(f"cache must be True, False or a file path, got {cache!r}")
    return Path(cache)


class Cache:
    """SQLite result store; safe for several processes at once. Use as a context manager.

    A file that is not SQLite is refused (it may be the user's data); an SQLite file
    with corrupt pages is moved aside to ``<name>.corrupt-<time>`` with a warning and
    a new cache started. Rows that do not hold a well-formed estimate are never returned.
    """

    def __init__(self, path, readonly: bool = False):
        self.path = Path(path)
        try:
            if readonly:
                self.db = sqlite3.connect(f"{self.path.absolute().as_uri()}?mode=ro", uri=True, timeout=60)
                return
            self._make_folder()
            try:
                self.db = self._open()
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) or not self._is_sqlite():
                    raise
                self._move_aside(exc)
                self.db = self._open()
        except (sqlite3.Error, OSError) as exc:
            raise SourceError(unusable(self.path, exc)) from None

    def _make_folder(self) -> None:
        folder = self.path.parent
        if not folder.is_dir():
            if folder.name != DEFAULT_CACHE.parent.name:
                raise FileNotFoundError(f"the folder {folder} does not exist")
            folder.mkdir()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60)
        try:
            self._check_ours(db)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            with db:
                for statement in SCHEMA:
                    db.execute(statement)
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {check}")
            return db
        except sqlite3.Error:
            db.close()
            raise

    def _check_ours(self, db: sqlite3.Connection) -> None:
        """Refuse, before writing anything, an SQLite file that another application owns: one
        with another application id, or tables other than ``results`` (caches made before the
        id was set have only that table)."""
        app = db.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        columns = [r[1] for r in db.execute("PRAGMA table_info(results)")]
        if app == APPLICATION_ID or app == 0 and (not tables or tables == {"results"} and columns == COLUMNS):
            return
        db.close()
        raise SourceError(f"{self.path} is an SQLite database of another application (application id {app}, "
                          f"tables {sorted(tables)[:5]}); it was left untouched. Pass a new file with --cache PATH "
                          "(API: cache=PATH), or run without a cache: --no-cache (cache=False)")

    def _is_sqlite(self) -> bool:
        with open(self.path, "rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC

    def _move_aside(self, exc: Exception) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                part.replace(f"{aside}{suffix}")
        warnings.warn(f"{self.path}: the result cache was corrupt ({exc}); moved it to {aside} and started a "
                      "new one", CacheRecoveredWarning, stacklevel=3)

    def __enter__(self) -> "Cache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def get(self, key: str) -> dict | None:
        """The stored estimate, or None when absent or not a well-formed estimate (then recomputed)."""
        try:
            row = self.db.execute("SELECT estimate FROM results WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise SourceError(unusable(self.path, exc)) from None
        if not row:
            return None
        return valid_sparsity(row[0]) if key.split("|")[1].startswith("sparsity(") else valid_estimate(row[0])

    def put(self, key: str, estimate: dict) -> None:
        """Commit one finished estimate in a single transaction (replacing an invalid row)."""
        try:
            with self.db:
                self.db.execute("INSERT OR REPLACE INTO results VALUES (?, ?)", (key, json.dumps(estimate)))
        except sqlite3.Error as exc:
            raise SourceError(unusable(self.path, exc)) from None

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM results").fetchone()[0]


def unusable(path: Path, exc: Exception) -> str:
    return (f"cannot use the result cache at {path} ({exc}): pass another file with --cache PATH "
            "(API: cache=PATH), or run without a cache: --no-cache (cache=False)")


FIELDS: dict[str, type | tuple[type, ...]] = {"estimator": str, "n_values": int, "dtype": str, "raw_bits": int, "bits": (int, float),
          "bits_per_value": (int, float), "ratio": (int, float), "lossless": bool, "seconds": (int, float),
          "details": dict}


NUMBERS = ("n_values", "raw_bits", "bits", "bits_per_value", "ratio", "seconds")


def valid_estimate(text) -> dict | None:
    """The row as an Estimate dict if it is one, else None: field types; sizes and seconds finite
    and non-negative; bits, bits per value and ratio non-negative when measured, NaN when skipped."""
    try:
        row = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    if not isinstance(row, dict) or not all(isinstance(row.get(k), t) for k, t in FIELDS.items()):
        return None
    skipped = row.get("skipped")
    if skipped is not None and not isinstance(skipped, str) or any(isinstance(row[k], bool) for k in NUMBERS):
        return None
    if not all(math.isfinite(row[k]) and row[k] >= 0 for k in ("n_values", "raw_bits", "seconds")):
        return None
    bits, per_value, ratio = (row[k] for k in ("bits", "bits_per_value", "ratio"))
    if skipped is None:  # measured: real bits (the ratio is inf for 0 bits)
        ok = math.isfinite(bits) and math.isfinite(per_value) and min(bits, per_value, ratio) >= 0
    else:  # skipped: nothing measured
        ok = math.isnan(bits) and math.isnan(per_value) and math.isnan(ratio)
    return row if ok else None


def valid_sparsity(text) -> dict | None:
    """The row as a sparsity record (every measure a finite non-negative number), else None."""
    try:
        row = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    if not isinstance(row, dict) or set(row) != set(SPARSITY_COLUMNS):
        return None
    ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
             for v in row.values())
    return row if ok else None


def lookup(path, key: str) -> dict | None:
    """Read-only lookup used inside workers; None when the cache file is not reachable."""
    if path is None or not Path(path).is_file():
        return None
    try:
        with Cache(path, readonly=True) as cache:
            return cache.get(key)
    except (SourceError, sqlite3.Error):
        return None
