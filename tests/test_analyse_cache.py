"""The SQLite result cache: reruns skip work, SIGKILL loses no finished row, concurrent writers."""
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
torch = pytest.importorskip("torch")  # torch-free CI (.ci/run) skips this module
from safetensors.torch import save_file

import kcomplexity
from kcomplexity.analysis import Cache

SLOW_CODER = textwrap.dedent("""\
    import os, time, zlib
    from kcomplexity import register
    from kcomplexity.coders import Coded, Coder

    class SlowZlib(Coder):
        '''zlib-9 size, after sleeping SLOW_DELAY seconds (to kill a run part-way).'''
        family = "slowzlib"

        def code(self, stream):
            time.sleep(float(os.environ.get("SLOW_DELAY", "0")))
            return Coded(8 * len(zlib.compress(bytes(stream.to_bytes()), 9)))

    register(SlowZlib)
    """)
RUN = textwrap.dedent("""\
    import sys
    sys.path.insert(0, sys.argv[1])
    import slowcoder, kcomplexity
    kcomplexity.analyse(sys.argv[2], "raw|slowzlib", cache=sys.argv[3], progress=False)
    """)
N_CHECKPOINTS, N_TENSORS = 4, 6


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """A series of 4 x 6 distinct tensors, the slow coder importable here and in subprocesses."""
    (tmp_path / "slowcoder.py").write_text(SLOW_CODER)
    (tmp_path / "run.py").write_text(RUN)
    monkeypatch.syspath_prepend(str(tmp_path))
    import slowcoder  # noqa: F401  (registers raw|slowzlib in this process too)

    g = torch.Generator().manual_seed(0)
    series = tmp_path / "series"
    series.mkdir()
    for step in range(N_CHECKPOINTS):
        save_file({f"t{i}": torch.randn(32, 32, generator=g) for i in range(N_TENSORS)},
                  series / f"step_{step}.safetensors")
    return tmp_path, series, tmp_path / "cache.sqlite"


def start(tmp_path, series, cache, delay):
    env = dict(os.environ, SLOW_DELAY=str(delay))
    return subprocess.Popen([sys.executable, str(tmp_path / "run.py"), str(tmp_path), str(series), str(cache)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def count_rows(cache) -> int:
    if not cache.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=10) as db:
            return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:  # table not created yet
        return 0


def test_sigkill_loses_no_finished_row_and_rerun_completes_exactly_once(setup):
    tmp_path, series, cache = setup
    total = N_CHECKPOINTS * N_TENSORS
    proc = start(tmp_path, series, cache, delay=0.15)
    deadline = time.time() + 60
    while count_rows(cache) < 5 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = count_rows(cache)
    assert proc.returncode == -signal.SIGKILL and 5 <= finished < total  # killed part-way
    with sqlite3.connect(cache) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rerun = kcomplexity.analyse(series, "raw|slowzlib", cache=cache)
    assert len(rerun) == total and not rerun.duplicated(["checkpoint", "tensor", "estimator"]).any()
    assert count_rows(cache) == total
    fresh = kcomplexity.analyse(series, "raw|slowzlib", cache=False)
    pd.testing.assert_series_equal(rerun.bits, fresh.bits)


def test_two_processes_writing_one_cache(setup):
    tmp_path, series, cache = setup
    procs = [start(tmp_path, series, cache, delay=0.01) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    assert count_rows(cache) == N_CHECKPOINTS * N_TENSORS
    with sqlite3.connect(cache) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_rerun_reads_the_cache_even_after_a_move(setup, monkeypatch):
    tmp_path, series, cache = setup
    first = kcomplexity.analyse(series, "raw|slowzlib", cache=cache)
    monkeypatch.setenv("SLOW_DELAY", "10")  # any recomputation would now take minutes
    again = kcomplexity.analyse(series, "raw|slowzlib", cache=cache)
    pd.testing.assert_frame_equal(first, again)  # seconds included: the stored record came back
    moved = series.rename(tmp_path / "moved")  # new paths: found by content hash inside the worker
    pd.testing.assert_series_equal(kcomplexity.analyse(moved, "raw|slowzlib", cache=cache).seconds, first.seconds)


def test_key_is_content_spec_and_version(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = np.arange(100, dtype=np.float32)
    kcomplexity.analyse({"a": w, "b": w.copy()}, ["raw|zstd-3", "raw|zstd-9"])  # default cache location
    with Cache(tmp_path / ".kcomplexity-cache" / "cache.sqlite") as store:
        assert len(store) == 2  # a and b share their content: one row per spec
        keys = [k for (k,) in store.db.execute("SELECT key FROM results")]
    assert all(k.endswith(f"|finite|n{kcomplexity.NUMBERS_VERSION}") for k in keys)
    assert {k.split("|", 1)[1].rsplit("|", 2)[0] for k in keys} == {"raw|zstd-3", "raw|zstd-9"}


@pytest.mark.parametrize("suffix", [".safetensors", ".pt", ".npy"])
def test_replaced_content_with_same_size_and_mtime_is_measured_again(tmp_path, suffix):
    """Issue 9: the cache served 11,642,112 bits for a file whose content had become all zeros."""
    path, cache = tmp_path / f"w{suffix}", tmp_path / "cache.sqlite"
    noisy = torch.randn(64, 64, generator=torch.Generator().manual_seed(0))
    write = {".safetensors": lambda t: save_file({"w": t}, path), ".pt": lambda t: torch.save({"w": t}, path),
             ".npy": lambda t: np.save(path, t.numpy())}[suffix]
    write(noisy)
    stamp = path.stat()
    first = kcomplexity.analyse(path, "raw|zstd-3", cache=cache).bits.item()
    write(torch.zeros(64, 64))
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert path.stat().st_size == stamp.st_size and path.stat().st_mtime_ns == stamp.st_mtime_ns
    second = kcomplexity.analyse(path, "raw|zstd-3", cache=cache).bits.item()
    truth = kcomplexity.estimate(np.zeros((64, 64), np.float32), "raw|zstd-3").bits
    assert first > 100_000 and second == truth < 1_000


def test_allow_nonfinite_is_part_of_the_key(tmp_path):
    """Issue 9: after an allow_nonfinite=True run, a default run on NaN weights must still raise."""
    w = np.arange(64, dtype=np.float32)
    w[3] = np.nan
    path, cache = tmp_path / "nan.npy", tmp_path / "cache.sqlite"
    np.save(path, w)
    for source in ({"w": w}, path):
        assert kcomplexity.analyse(source, "raw|zstd-3", cache=cache, allow_nonfinite=True).bits.item() > 0
        with pytest.raises(kcomplexity.errors.InputError, match="NaN or Inf"):
            kcomplexity.analyse(source, "raw|zstd-3", cache=cache)


def test_unusable_cache_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "cache.sqlite"
    bad.write_text("this is not a database" * 100)
    with pytest.raises(kcomplexity.errors.SourceError, match="cannot use the result cache at .*--cache PATH.*--no-cache"):
        kcomplexity.analyse({"w": np.ones(4, np.float32)}, cache=bad)
