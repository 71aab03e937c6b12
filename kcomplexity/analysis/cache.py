"""The result cache: an embedded SQLite store of finished estimates.

Key = (content hash of the measured tensors, estimator spec, every option that
changes the result such as ``allow_nonfinite``, toolkit version). ``results`` maps
that key to the Estimate as JSON. The content hash is xxh3-128 over the tensor
bytes themselves, never a file's path, size or mtime: a file whose content
changed is measured again even when it keeps its size and mtime.

Safety: WAL journal, one transaction per finished row, so a process killed at any moment (SIGKILL) leaves every
committed row whole and no half row; concurrent writers wait on a 60 s busy
timeout and ``INSERT OR IGNORE`` makes a row written twice harmless.
Default location: ``.kcomplexity-cache/cache.sqlite`` under the current directory.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import xxhash

from .._version import __version__
from ..arrays import dtype_name
from ..errors import SourceError

DEFAULT_CACHE = Path(".kcomplexity-cache") / "cache.sqlite"
SCHEMA = ("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, estimate TEXT NOT NULL)",)


def toolkit_version() -> str:
    return __version__


def content_hash(arrays: list[np.ndarray], concatenated: bool = False) -> str:
    """xxh3-128 over each array's dtype, shape and bytes (in order); names do not count."""
    h = xxhash.xxh3_128(b"concat" if concatenated else b"tensor")
    for a in arrays:
        h.update(f"{dtype_name(a.dtype)}{a.dtype.byteorder}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def result_key(content: str, spec: str, allow_nonfinite: bool = False) -> str:
    """The cache key: content, spec, the options that change the result, toolkit version."""
    options = "nonfinite" if allow_nonfinite else "finite"
    return f"{content}|{spec}|{options}|{toolkit_version()}"


def resolve_cache_path(cache) -> Path | None:
    """``True`` -> the default path, ``False``/``None`` -> no cache, a path -> that file."""
    if cache is False or cache is None:
        return None
    return DEFAULT_CACHE if cache is True else Path(cache)


class Cache:
    """SQLite result store; safe for several processes at once. Use as a context manager."""

    def __init__(self, path, readonly: bool = False):
        self.path = Path(path)
        try:
            if readonly:
                self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=60)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(self.path, timeout=60)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                with self.db:
                    for statement in SCHEMA:
                        self.db.execute(statement)
        except sqlite3.DatabaseError as exc:
            raise SourceError(f"{self.path}: cannot use this file as a result cache ({exc}); "
                              "delete it or pass another cache= path") from exc

    def __enter__(self) -> "Cache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def get(self, key: str) -> dict | None:
        row = self.db.execute("SELECT estimate FROM results WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, estimate: dict) -> None:
        """Commit one finished estimate in a single transaction."""
        with self.db:
            self.db.execute("INSERT OR IGNORE INTO results VALUES (?, ?)", (key, json.dumps(estimate)))

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM results").fetchone()[0]


def lookup(path, key: str) -> dict | None:
    """Read-only lookup used inside workers; None when the cache file is not reachable."""
    if path is None or not Path(path).is_file():
        return None
    try:
        with Cache(path, readonly=True) as cache:
            return cache.get(key)
    except (SourceError, sqlite3.Error):
        return None
