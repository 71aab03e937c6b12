"""Ctrl-C on the command line: exit 130 within 2 s, even inside one large compression or during the
imports, with a message that says the cache resumes the run (subprocesses, as a user runs them)."""
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import kcomplexity as kc

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the supervised command line needs fork")


def _start(args, cwd):
    """The CLI as a terminal starts it: with Ctrl-C's default action (a shell's background job,
    such as CI's, inherits SIGINT ignored, and a program rightly keeps ignoring it)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "kcomplexity.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the command never reached the point to interrupt"
        time.sleep(0.02)


def _interrupt(proc) -> tuple[float, str]:
    """SIGINT, then the seconds until the process is gone and its stderr."""
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return time.monotonic() - start, err


def _children(pid: int) -> list[str]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return path.read_text().split() if path.exists() else []


def test_sigint_inside_one_large_lzma_compression_exits_130_within_2_s(tmp_path):
    rng = np.random.default_rng(0)
    kc.save({"a.small": rng.standard_normal(1000).astype(np.float32),
             "z.big": rng.standard_normal(16 << 20).astype(np.float32)}, tmp_path / "big.safetensors")  # 64 MiB
    proc = _start(["estimate", "big.safetensors", "-e", "raw|lzma-9"], tmp_path)
    cache = tmp_path / ".kcomplexity-cache" / "cache.sqlite"

    def small_row_committed():  # then the 64 MiB tensor is being read, hashed and compressed
        assert proc.poll() is None
        try:
            with sqlite3.connect(f"file:{cache}?mode=ro", uri=True) as db:
                return db.execute("SELECT count(*) FROM results").fetchone()[0] == 1
        except sqlite3.Error:
            return False

    _wait_for(small_row_committed)
    time.sleep(2.0)  # well inside lzma-9 on 64 MiB, which takes tens of seconds
    assert proc.poll() is None
    seconds, err = _interrupt(proc)
    print(f"exit after SIGINT inside raw|lzma-9 on 64 MiB: {seconds:.3f} s")
    assert proc.returncode == 130 and seconds < 2.0
    assert "interrupted" in err and "rerun the same command to resume" in err and "cache.sqlite" in err
    assert "Traceback" not in err
    with sqlite3.connect(cache) as db:  # the finished row stays for the rerun
        assert db.execute("SELECT count(*) FROM results").fetchone()[0] == 1


def test_sigint_during_the_imports_exits_130(tmp_path):
    """The child that imports the toolkit starts at once; SIGINT then lands while it imports."""
    proc = _start(["analyse", str(ROOT / "data" / "mlp_baseline"), "--no-cache", "--out", "r.csv"], tmp_path)
    if not Path(f"/proc/{proc.pid}").exists() or not Path(f"/proc/{proc.pid}/task/{proc.pid}/children").exists():
        time.sleep(0.5)
    else:
        _wait_for(lambda: _children(proc.pid), timeout=30)
    seconds, err = _interrupt(proc)
    print(f"exit after SIGINT during the imports: {seconds:.3f} s")
    assert proc.returncode == 130 and seconds < 2.0
    assert err.strip() == "kcomplexity: interrupted"  # --no-cache: nothing to resume from
    assert not (tmp_path / "r.csv").exists()


def test_a_user_error_in_the_child_exits_1_with_its_message(tmp_path):
    proc = _start(["plot", "missing.csv", "--kind", "steps", "--out", "x.png"], tmp_path)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "kcomplexity: error:" in err and "Traceback" not in err
