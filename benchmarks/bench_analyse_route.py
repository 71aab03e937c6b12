"""How often one ``analyse`` call touches each checkpoint: opens, fingerprints, conversions, parses.

A 9-checkpoint safetensors series (2 tensors of 64x64 float32 each) is analysed
once with a cache file, estimators ``raw|zstd-3`` and ``bitplanes8|bdm2d`` (QuBD)
and ``delta=True`` (a delta row for each estimator with a delta kind). Counted by
wrapping the functions wherever the package binds them: ``open_path`` (a file
really opened), ``fingerprint`` (a stat of a file), ``as_array`` (conversion and
validation of a tensor), ``parse_parts`` (a spec parsed). A second pass runs QuBD
alone to count ``as_array`` per QuBD row, by calling module.

Run: ``.venv/bin/python benchmarks/bench_analyse_route.py``.
"""
from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

import kcomplexity

N_CHECKPOINTS = 9
COUNTED = {"open_path": "kcomplexity.io.readers", "fingerprint": "kcomplexity.io.readers",
           "as_array": "kcomplexity.arrays", "parse_parts": "kcomplexity.registry"}


def write_series(directory: Path) -> None:
    rng = np.random.default_rng(0)
    for epoch in range(N_CHECKPOINTS):
        tensors = {f"layers.{i}.weight": rng.standard_normal((64, 64), dtype=np.float32) for i in range(2)}
        save_file(tensors, str(directory / f"epoch_{epoch:04d}.safetensors"))


def counting(calls: Counter):
    """Wrap every binding of the counted functions in loaded kcomplexity modules; return an undo list."""
    undo = []
    for name, home in COUNTED.items():
        original = getattr(sys.modules[home], name)

        def wrapper(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            calls[_name, sys._getframe(1).f_globals["__name__"]] += 1
            return _original(*args, **kwargs)

        for module in [m for n, m in list(sys.modules.items()) if n.startswith("kcomplexity") and m]:
            if getattr(module, name, None) is original:
                setattr(module, name, wrapper)
                undo.append((module, name, original))
    return undo


def count(source, specs, cache, delta) -> tuple[Counter, "pd.DataFrame"]:
    calls: Counter = Counter()
    undo = counting(calls)
    try:
        df = kcomplexity.analyse(source, specs, cache=cache, delta=delta, progress=False)
    finally:
        for module, name, original in undo:
            setattr(module, name, original)
    return calls, df


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        series = Path(tmp) / "series"
        series.mkdir()
        write_series(series)
        calls, df = count(series, ["raw|zstd-3", "bitplanes8|bdm2d"], Path(tmp) / "cache.sqlite", True)
        print(f"{N_CHECKPOINTS} checkpoints x 2 tensors, {len(df)} rows ({', '.join(dict.fromkeys(df.estimator))}), "
              "cache on")
        print(f"  checkpoint opens per checkpoint:   {calls['open_path'] / N_CHECKPOINTS:.1f}")
        print(f"  fingerprints per checkpoint:       {calls['fingerprint'] / N_CHECKPOINTS:.1f}")
        print(f"  spec parses per analyse call:      {calls['parse_parts']}")
        calls, df = count(series, ["bitplanes8|bdm2d"], False, False)
        rows = len(df)
        print(f"  as_array per QuBD row (no cache):  {calls['as_array'] / rows:.1f}, of which")
        for key, n in calls.items():
            if isinstance(key, tuple) and key[0] == "as_array":
                print(f"    {n / rows:4.1f} called from {key[1]}")


if __name__ == "__main__":
    main()
