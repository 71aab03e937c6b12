"""Estimator outputs pinned on fixed inputs: no number changes by accident.

``tests/pinned_estimates.json`` holds the bits of every pinned (input, spec) pair.
A deliberate change bumps ``kcomplexity.NUMBERS_VERSION`` (cache rows are keyed by it),
regenerates the file with ``python tests/test_pinned.py --write`` (which refuses to move a
number under the same version) and says which numbers moved, and why, in the change's note.
"""
from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import kcomplexity as kc

PINNED = Path(__file__).with_name("pinned_estimates.json")
SPECS = ["raw|zstd-3", "raw|zstd-19", "raw|lzma-9", "raw|gzip-9", "raw|bz2-9", "raw|brotli-11", "raw|lz4",
         "raw|lz4hc-9", "fields|zstd-3", "fields|lzma-9", "fields|entropy", "raw|entropy", "sign|bdm",
         "sign|bdm-recursive", "sign|bdm-correlated", "q1|bdm", "q2|bdm", "q8|lzma-9", "q4-sym|zstd-3",
         "q8-minmax|entropy", "q8-p99|entropy", "bitplanes8|bdm2d", "bitplanes4-tiled|bdm2d",
         "bitplanes8|bdm2d-recursive", "motif-4", "q4|motif-4", "sign|entropy",
         "raw|lzma-9-c4K", "raw|zstd-19-c4K", "fields|lzma-9-c2K", "raw|bz2-9-c8K", "raw|lz4hc-9-c4K",
         "fields|ctx", "raw|ctx", "best"]


def inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261129)
    w = rng.standard_normal((96, 80))
    trained = np.where(rng.random((64, 64)) < 0.3, 0.0, np.round(rng.laplace(size=(64, 64)), 1))
    return {"fp32": w.astype(np.float32), "fp64": w, "fp16": w.astype(np.float16),
            "bf16": w.astype(ml_dtypes.bfloat16), "int8": rng.integers(-128, 128, (64, 64)).astype(np.int8),
            "structured32": trained.astype(np.float32)}


def measure() -> dict[str, float | None]:
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, x in inputs().items():
            for spec in SPECS:
                try:
                    bits = kc.estimate(x, spec).bits
                except kc.KComplexityError:
                    continue
                out[f"{name} {spec}"] = None if math.isnan(bits) else bits
    return out


VERSION_KEY = "_numbers_version"


def _pinned() -> dict:
    return json.loads(PINNED.read_text()) if PINNED.exists() else {}


def test_pinned_numbers_carry_the_numbers_version():
    assert _pinned()[VERSION_KEY] == kc.NUMBERS_VERSION, "re-pin with: python tests/test_pinned.py --write"


def write() -> None:
    """Re-pin; a moved number needs a new NUMBERS_VERSION, so that stale cache rows are never served."""
    old, new = _pinned(), measure()
    moved = sorted(k for k in old if k != VERSION_KEY and k in new and new[k] != old[k])
    if moved and old.get(VERSION_KEY) == kc.NUMBERS_VERSION:
        sys.exit(f"{len(moved)} pinned numbers moved ({moved[:3]} ...): bump NUMBERS_VERSION in "
                 "kcomplexity/_version.py, then write again")
    PINNED.write_text(json.dumps({**new, VERSION_KEY: kc.NUMBERS_VERSION}, indent=1, sort_keys=True) + "\n")


@pytest.mark.parametrize("key", sorted(k for k in _pinned() if k != VERSION_KEY))
def test_pinned_estimate(key):
    expected = _pinned()[key]
    got = _measured().get(key, "missing")
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-9), key


_cache: dict = {}


def _measured() -> dict:
    if not _cache:
        _cache.update(measure())
    return _cache


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    write()
