"""Hostile and careless input, case by case (issue 12): each ends in a clear error or a right answer.

Outcomes are tallied per input class (see ``hostile_harness``); the fuzz strategies
live in ``test_hostile_fuzz.py``. ``KC_HOSTILE_TABLE=table.md pytest tests/test_hostile*.py``
writes the table of the closing note.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import safetensors.numpy
torch = pytest.importorskip("torch")  # torch-free CI (.ci/run) skips this module
from safetensors.torch import save_file

import kcomplexity as kc
from hostile_harness import TALLY, FakeStorage, FakeView, attempt, maybe_write_table, run_cli, write_pt
from kcomplexity import cli, variants
from kcomplexity.errors import CacheRecoveredWarning, SkippedTensorsWarning


@pytest.fixture(scope="module", autouse=True)
def _table():
    yield
    maybe_write_table()


def error(cls: str, fn, match: str, max_seconds: float | None = None):
    """The case must end in a KComplexityError whose message matches ``match`` (within ``max_seconds``)."""
    start = time.perf_counter()
    _, exc = attempt(cls, fn, expect="error")
    assert re.search(match, str(exc)), str(exc)
    assert max_seconds is None or time.perf_counter() - start < max_seconds


# ---------------------------------------------------------------- torch tensor kinds
TENSOR_KINDS = {
    "sparse COO": lambda: torch.randn(4, 4).to_sparse(),
    "sparse CSR": lambda: torch.randn(4, 4).to_sparse_csr(),
    "meta device": lambda: torch.empty(4, 4, device="meta"),
    "quantized": lambda: torch.quantize_per_tensor(torch.randn(8), 0.1, 0, torch.qint8),
    "nested": lambda: torch.nested.nested_tensor([torch.randn(2), torch.randn(3)]),
}


@pytest.mark.parametrize("kind", TENSOR_KINDS)
def test_unusual_torch_tensors_are_clear_errors_directly_and_inside_a_pt(kind, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nested tensors are a prototype API
        tensor = TENSOR_KINDS[kind]()
    word = kind.split()[0].lower().replace("meta", "meta-device")
    error("torch tensor kinds", lambda: kc.estimate(tensor), word)
    torch.save({"w": tensor}, tmp_path / "x.pt")
    error("torch tensor kinds", lambda: kc.analyse(tmp_path / "x.pt", cache=False), rf"tensor 'w'.*{word}")


# ---------------------------------------------------------------- crafted .pt files
VALUES = np.arange(16, dtype=np.float32)
NEIGHBOUR = np.full(64, 7, np.float32).tobytes()


def crafted(tmp_path, view, records, name="c.pt", compress=False):
    path = tmp_path / name
    write_pt(path, {"w": view}, records, compress)
    return path


def test_storage_larger_than_its_record_is_refused_not_read_from_the_neighbour(tmp_path):
    path = crafted(tmp_path, FakeView(FakeStorage("0", 32), 0, (32,), (1,)), {"0": VALUES.tobytes(), "1": NEIGHBOUR})
    assert torch.load(path, weights_only=True, mmap=True)["w"][-1] == 7  # torch's mmap path reads the neighbour
    error(".pt storages and views", lambda: kc.analyse(path, cache=False), "claims 128 bytes but its record holds 64")


def test_huge_size_with_stride_zero_is_refused_before_allocating(tmp_path):
    path = crafted(tmp_path, FakeView(FakeStorage("0", 1), 0, (2**31,), (0,)), {"0": VALUES[:1].tobytes()})
    error(".pt storages and views", lambda: kc.analyse(path, cache=False), "does not fit its storage")


@pytest.mark.parametrize("view, records, compress, match", [
    (FakeView(FakeStorage("0", 16), 10, (4, 4), (4, 1)), {"0": VALUES.tobytes()}, False, "does not fit"),
    (FakeView(FakeStorage("0", 16), -1, (4,), (1,)), {"0": VALUES.tobytes()}, False, "malformed view"),
    (FakeView(FakeStorage("0", 16), 0, (4, 4), (4,)), {"0": VALUES.tobytes()}, False, "malformed view"),
    (FakeView(FakeStorage("9", 16), 0, (16,), (1,)), {"0": VALUES.tobytes()}, False, "record archive/data/9 is missing"),
    (FakeView(FakeStorage("0", 16), 0, (16,), (1,)), {"0": VALUES.tobytes()}, True, "compressed"),
    (FakeView(FakeStorage("0", 8, "DoubleStorage"), 0, (16,), (1,)), {"0": VALUES.tobytes()}, False, "does not fit"),
])
def test_views_and_records_that_do_not_fit_are_refused(tmp_path, view, records, compress, match):
    path = crafted(tmp_path, view, records, compress=compress)
    error(".pt storages and views", lambda: kc.load(path)["w"], match)


def test_a_legitimate_view_into_a_shared_storage_reads_the_right_values(tmp_path):
    path = crafted(tmp_path, FakeView(FakeStorage("0", 16), 4, (2, 3), (4, 1)), {"0": VALUES.tobytes()})
    _, w = attempt(".pt storages and views", lambda: kc.load(path)["w"], expect="ok")
    np.testing.assert_array_equal(w, [[4, 5, 6], [8, 9, 10]])
    saved = tmp_path / "saved.pt"
    base = torch.arange(20.0)
    torch.save({"a": base[2:8].view(2, 3), "b": base, "c": base[::5]}, saved)
    _, loaded = attempt(".pt storages and views", lambda: dict(kc.load(saved)), expect="ok")
    np.testing.assert_array_equal(loaded["a"], [[2, 3, 4], [5, 6, 7]])
    np.testing.assert_array_equal(loaded["c"], [0, 5, 10, 15])


def test_tensors_in_lists_are_reported_with_their_count(tmp_path):
    torch.save({"w": torch.ones(3), "buffers": [torch.ones(2), (torch.ones(1), {"x": torch.ones(1)})]},
               tmp_path / "l.pt")
    with pytest.warns(SkippedTensorsWarning, match="3 tensor"):
        _, w = attempt(".pt storages and views", lambda: kc.load(tmp_path / "l.pt"), expect="ok")
    assert list(w) == ["w"]


# ---------------------------------------------------------------- other file contents
def test_file_contents(tmp_path):
    cls = "file contents"
    save_file({"w": torch.randn(8).to(torch.float8_e4m3fn)}, tmp_path / "f8.safetensors")
    error(cls, lambda: kc.analyse(tmp_path / "f8.safetensors", floats_only=False, cache=False), "float8_e4m3fn")
    safetensors.numpy.save_file({"w": np.arange(8, dtype=np.uint16)}, str(tmp_path / "u16.safetensors"))
    _, info = attempt(cls, lambda: kc.io.open_path(tmp_path / "u16.safetensors").info(), expect="ok")
    assert info == {"w": ("uint16", (8,))}
    error(cls, lambda: kc.analyse(tmp_path / "u16.safetensors", cache=False), "floats_only")
    error(cls, lambda: kc.estimate(np.ones(100, np.longdouble), "entropy"), "float128.*cast to float64")
    np.savez(tmp_path / "obj.npz", a=np.array([1, "x", None], dtype=object))
    error(cls, lambda: kc.analyse(tmp_path / "obj.npz", floats_only=False, cache=False), "Python objects")
    for n in (10**8, 10**12):
        _npz_with_header_shape(tmp_path / f"big{n}.npz", (n,))
        error(cls, lambda: kc.load(tmp_path / f"big{n}.npz"), f"claims shape \\({n},\\)")
    long_name = tmp_path / ("a" * 300 + ".safetensors")
    error(cls, lambda: kc.analyse(long_name, cache=False), "File name too long")


def _npz_with_header_shape(path, shape):
    """An .npz whose member header claims ``shape`` float32 but holds 16 bytes of data."""
    header = {"descr": "<f4", "fortran_order": False, "shape": shape}
    import io
    import zipfile
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("w.npy", buf.getvalue() + b"\0" * 16)


@pytest.mark.parametrize("weight_map, match", [
    ({"w": "../outside.safetensors"}, "outside the model folder"),
    ({"w": "/etc/passwd"}, "outside the model folder"),
    ({"w": "sub/shard.safetensors"}, "outside the model folder"),
    (["w", "model.safetensors"], "must map tensor names"),
    ({"w": 3}, "must map tensor names"),
    ("text", "must map tensor names"),
])
def test_hf_index_outside_the_folder_or_malformed_is_refused(tmp_path, weight_map, match):
    model = tmp_path / "model"
    model.mkdir()
    save_file({"w": torch.ones(4)}, tmp_path / "outside.safetensors")
    (model / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    error("file contents", lambda: kc.load(model), match)


def test_trainer_state_that_is_not_an_object(tmp_path):
    save_file({"w": torch.ones(4)}, tmp_path / "model.safetensors")
    for text in ("[1, 2]", "{broken"):
        (tmp_path / "trainer_state.json").write_text(text)
        error("series and steps", lambda: kc.analyse(tmp_path, cache=False), "trainer_state.json")


# ---------------------------------------------------------------- series and steps
@pytest.fixture
def series(tmp_path):
    for s in (1, 2):
        save_file({"w": torch.randn(8)}, tmp_path / f"step_{s}.safetensors")
    return tmp_path


@pytest.mark.parametrize("metrics, match", [
    ({"records": {"a": 1}}, "must be a list"),
    ({"records": [1, 2]}, "must be a list of objects"),
    ({"records": [{"step": "1"}]}, "record 0, 'step'"),
    ({"records": [{"step": None}]}, "record 0, 'step'"),
    ({"records": [{"step": 1.5}]}, "record 0, 'step'"),
    ({"records": [{"step": 10**400}]}, "record 0, 'step'"),
])
def test_metrics_records_are_validated(series, metrics, match):
    (series / "metrics.json").write_text(json.dumps(metrics))
    error("series and steps", lambda: kc.analyse(series, cache=False), match)


@pytest.mark.parametrize("steps", [["a", "b"], [None, None], [1.5, 2], [-1, 2], [True, False], 7])
def test_explicit_steps_are_validated(series, steps):
    paths = sorted(series.glob("*.safetensors"))
    error("series and steps", lambda: kc.analyse(paths, steps=steps, cache=False), "step")


def test_huge_steps_in_metadata_and_names(tmp_path):
    save_file({"w": torch.ones(4)}, tmp_path / "big.safetensors", metadata={"global_step": "9" * 400})
    error("series and steps", lambda: kc.analyse(tmp_path / "big.safetensors", cache=False), "global_step")
    torch.save({"w": torch.ones(4), "global_step": int("9" * 400)}, tmp_path / "big.pt")
    error("series and steps", lambda: kc.analyse(tmp_path / "big.pt", cache=False), "global_step")
    save_file({"w": torch.ones(4)}, tmp_path / f"step_{'9' * 30}.safetensors")
    error("series and steps", lambda: kc.analyse(tmp_path / f"step_{'9' * 30}.safetensors", cache=False), "2\\*\\*63")


# ---------------------------------------------------------------- API options
W = {"w": np.random.default_rng(0).standard_normal(256).astype(np.float32)}


@pytest.mark.parametrize("call, match", [
    (lambda: kc.parse("q" + "9" * 5000 + "|lzma-9"), "5000 digits"),
    (lambda: kc.parse("q" + "9" * 5000), "unknown coder|5000 digits"),
    (lambda: variants.momos(W, s=True), "block size s"),
    (lambda: variants.prune_pq(W, eta=-1), "eta"),
    (lambda: variants.prune_magnitude(W, sparsity="0.5"), "sparsity"),
    (lambda: variants.prune_magnitude(W, sparsity=None), "sparsity"),
    (lambda: kc.compare({"a": W}, ["raw|zstd-3"], seeds=[-1]), "seed must be an integer"),
    (lambda: kc.compare({"a": W}, ["raw|zstd-3"], seeds=None), "seeds must be a non-empty list"),
    (lambda: kc.compare({"a": W}, ["raw|zstd-3"], reference=[]), "reference"),
    (lambda: kc.compare({"a": W}, True), "estimators takes a spec"),
    (lambda: kc.analyse(W, cache=5), "cache must be True, False or a file path"),
    (lambda: variants.momos(W, capacity="0.1"), "capacity"),
    (lambda: variants.momos(W, s=2**70), "larger than the model"),
    (lambda: variants.momos(W, seed=-1), "seed"),
    (lambda: variants.shuffle(W, seed="a"), "seed"),
    (lambda: variants.random_init(W, seed=2**40), "seed"),
    (lambda: variants.prune_lq(W, q=None), "q must be a number"),
    (lambda: kc.compare({"a": W}, []), "estimators is empty"),
    (lambda: kc.estimate(np.array([np.nan, 1.0], np.float32)), "--allow-nonfinite"),
])
def test_api_options(call, match):
    error("API options", call, match)


# ---------------------------------------------------------------- command line
def cli_error(argv, capsys, match: str, max_seconds: float | None = None, cls: str = "command line"):
    """``kcomplexity ARGV`` exits 1 with one 'kcomplexity: error:' line containing ``match``."""
    error(cls, lambda: run_cli(argv, capsys), re.escape(match), max_seconds)


@pytest.fixture
def series_many(tmp_path):
    """Enough work that checking --out afterwards would be slow."""
    g = torch.Generator().manual_seed(0)
    for s in range(4):
        save_file({f"t{i}": torch.randn(64, 64, generator=g) for i in range(8)}, tmp_path / f"step_{s}.safetensors")
    return tmp_path


@pytest.mark.parametrize("out, match", [
    ("/proc/nope/r.csv", "cannot write /proc/nope/r.csv"),
    ("{tmp}/folder.csv", "is a directory"),
    ("{tmp}/r.txt", "must end in .parquet or .csv"),
])
def test_output_paths_are_checked_before_any_work(series_many, capsys, out, match):
    out = out.format(tmp=series_many)
    (series_many / "folder.csv").mkdir(exist_ok=True)
    argv = ["analyse", series_many, "-e", "bitplanes8|bdm2d", "--no-cache", "--out", out]
    cli_error(argv, capsys, match, max_seconds=3)
    cli_error(["compare", f"a={series_many / 'step_0.safetensors'}", "--out", out], capsys, match, max_seconds=3)
    cli_error(["estimate", series_many / "step_0.safetensors", "--out", out], capsys, match, max_seconds=3)


def test_plot_and_demo_outputs(tmp_path, capsys):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "fake.parquet").write_text("not parquet")
    (tmp_path / "header_only.csv").write_text("checkpoint,bits\n")
    cli_error(["plot", tmp_path / "empty.csv", "--kind", "steps", "--out", tmp_path / "a.png"], capsys, "empty.csv")
    cli_error(["plot", tmp_path / "fake.parquet", "--kind", "steps", "--out", tmp_path / "a.png"], capsys, "parquet")
    cli_error(["plot", tmp_path / "header_only.csv", "--kind", "steps", "--out", tmp_path / "a.png"], capsys, "no rows")
    cli_error(["plot", tmp_path / "fake.parquet", "--kind", "steps", "--out", tmp_path / "a.txt"], capsys, ".png")
    cli_error(["demo", "--out", tmp_path / "fake.parquet"], capsys, "is a file", max_seconds=3)
    cli_error(["demo", "--out", "/proc/nope"], capsys, "cannot write", max_seconds=3)


def test_duplicate_variant_names(tmp_path, capsys):
    save_file({"w": torch.randn(300)}, tmp_path / "a.safetensors")
    cli_error(["compare", f"x={tmp_path / 'a.safetensors'}", f"x={tmp_path / 'a.safetensors'}"], capsys, "twice")


def test_allow_nonfinite_flag(tmp_path, capsys):
    w = np.arange(64, dtype=np.float32)
    w[5] = np.inf
    np.save(tmp_path / "inf.npy", w)
    argv = ["estimate", tmp_path / "inf.npy", "--no-cache", "-q"]
    cli_error(argv, capsys, "--allow-nonfinite")
    attempt("command line", lambda: run_cli(argv + ["--allow-nonfinite"], capsys), expect="ok")


def test_parquet_with_a_mixed_type_metric_column(tmp_path):
    for s in (1, 2):
        save_file({"w": torch.randn(64)}, tmp_path / f"step_{s}.safetensors")
    (tmp_path / "metrics.json").write_text(json.dumps({"records": [{"step": 1, "note": 0.5},
                                                                   {"step": 2, "note": "diverged"}]}))
    df = kc.analyse(tmp_path, cache=False)
    _, _ = attempt("command line", lambda: kc.analysis.write_table(df, tmp_path / "r.parquet"), expect="ok")
    back = pd.read_parquet(tmp_path / "r.parquet")
    assert back["note"].tolist() == ["0.5", "diverged"] and back["bits"].tolist() == df["bits"].tolist()


# ---------------------------------------------------------------- cache
def test_cache_options_on_the_command_line(tmp_path, capsys):
    np.save(tmp_path / "w.npy", W["w"])
    argv = ["analyse", tmp_path / "w.npy", "--out", tmp_path / "r.csv", "--cache"]
    cli_error(argv + ["/nonexistent/dir/c.sqlite"], capsys, "--no-cache", cls="cache")
    (tmp_path / "notes.txt").write_text("my notes, not a database\n" * 50)
    cli_error(argv + [tmp_path / "notes.txt"], capsys, "--cache PATH", cls="cache")
    assert (tmp_path / "notes.txt").read_text().startswith("my notes")  # never moved aside or overwritten


def test_cache_locations_that_cannot_be_used(tmp_path, monkeypatch):
    monkeypatch.chdir("/proc")  # not writable, even for root: the default cache folder cannot be made
    error("cache", lambda: kc.analyse(W), "--cache PATH.*--no-cache")
    error("cache", lambda: kc.analyse(W, cache=tmp_path / "missing" / "c.sqlite"), "does not exist.*--no-cache")
    error("cache", lambda: kc.analyse(W, cache=tmp_path), "--no-cache")  # a directory


def test_corrupt_cache_is_moved_aside_and_a_new_one_started(tmp_path):
    cache = tmp_path / "cache.sqlite"
    many = {f"w{i}": np.random.default_rng(i).standard_normal(512).astype(np.float32) for i in range(40)}
    truth = kc.analyse(many, "raw|zstd-3", cache=cache).bits
    with open(cache, "r+b") as f:  # keep the 100-byte header, scramble the pages behind it
        f.seek(4096)
        f.write(np.random.default_rng(1).integers(0, 256, 8192, dtype=np.uint8).tobytes())
    with pytest.warns(CacheRecoveredWarning, match="moved it to"):
        _, again = attempt("cache", lambda: kc.analyse(many, "raw|zstd-3", cache=cache).bits, expect="ok")
    pd.testing.assert_series_equal(again, truth)
    assert len(list(tmp_path.glob("cache.sqlite.corrupt-*"))) == 1


@pytest.mark.parametrize("edit", [
    lambda e: {**e, "bits": -5},
    lambda e: {k: v for k, v in e.items() if k != "bits"},
    lambda e: {**e, "bits": "many"},
    lambda e: "{not json",
    lambda e: [e],
])
def test_hand_edited_rows_are_not_served(tmp_path, edit):
    cache = tmp_path / "cache.sqlite"
    truth = kc.analyse(W, "raw|zstd-3", cache=cache).bits.item()
    with sqlite3.connect(cache) as db:
        key, text = db.execute("SELECT key, estimate FROM results").fetchone()
        edited = edit(json.loads(text))
        db.execute("UPDATE results SET estimate = ? WHERE key = ?",
                   (edited if isinstance(edited, str) else json.dumps(edited), key))
    _, bits = attempt("cache", lambda: kc.analyse(W, "raw|zstd-3", cache=cache).bits.item(), expect="ok",
                      oracle=lambda b: b == truth)
    with sqlite3.connect(cache) as db:  # the bad row was replaced by the fresh one
        assert json.loads(db.execute("SELECT estimate FROM results").fetchone()[0])["bits"] == truth


# ---------------------------------------------------------------- executors and processes
def _listener(reply: bytes | None) -> int:
    """A local TCP port that accepts and never answers (reply None) or answers ``reply`` to a request."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []

    def serve():
        while True:
            conn, _ = server.accept()
            held.append(conn)
            if reply is not None:
                conn.settimeout(5)
                try:
                    conn.recv(100)
                    conn.sendall(reply)
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


@pytest.mark.parametrize("peer", ["silent", "http", "refused"])
def test_a_peer_that_is_not_a_dask_scheduler_fails_fast(tmp_path, capsys, peer):
    port = {"silent": lambda: _listener(None), "http": lambda: _listener(b"HTTP/1.1 400 Bad\r\n\r\n" * 50),
            "refused": lambda: 1}[peer]()
    np.save(tmp_path / "w.npy", W["w"])
    argv = ["analyse", tmp_path / "w.npy", "--out", tmp_path / "r.csv", "--dask", f"tcp://127.0.0.1:{port}",
            "--connect-timeout", "2", "--no-cache"]
    cli_error(argv, capsys, "Dask scheduler", max_seconds=4, cls="executors and processes")


def test_default_connect_timeout_fails_within_ten_seconds():
    """The silent-peer test above takes the timeout plus CLI start-up; 8 s leaves room under the 10 s asked."""
    args = cli.build_parser().parse_args(["analyse", "x", "--out", "r.csv"])
    assert args.connect_timeout == kc.analysis.executors.CONNECT_TIMEOUT == 8.0


@pytest.mark.parametrize("address", ["foo", "http://host:80", "inproc://x", "tcp://host:99999", "tcp://:1", ""])
def test_bad_dask_addresses(address):
    error("executors and processes", lambda: kc.analyse(W, executor=address, cache=False), "Dask")


WORKER_SCRIPT = textwrap.dedent("""\
    import os, sys, time
    from kcomplexity.analysis.executors import run_all

    def slow(task):
        with open(sys.argv[1], "a") as f:
            f.write(f"{os.getpid()}\\n")
        time.sleep(120)

    if __name__ == "__main__":
        for _ in run_all(slow, list(range(4)), workers=2):
            pass
    """)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its entry waits to be reaped


def test_workers_die_when_their_parent_is_killed(tmp_path):
    (tmp_path / "run.py").write_text(WORKER_SCRIPT)
    pids = tmp_path / "pids"
    parent = subprocess.Popen([sys.executable, str(tmp_path / "run.py"), str(pids)],
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    deadline = time.time() + 60
    while (not pids.exists() or len(pids.read_text().split()) < 2) and time.time() < deadline:
        time.sleep(0.05)
    workers = [int(p) for p in pids.read_text().split()]
    assert len(workers) == 2 and all(map(_alive, workers))
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 5
    while any(map(_alive, workers)) and time.time() < deadline:
        time.sleep(0.05)
    alive = [p for p in workers if _alive(p)]
    for p in alive:  # do not leave them behind if the test fails
        os.kill(p, signal.SIGKILL)
    outcome = "ok" if not alive else "hang"
    TALLY["executors and processes"]["tried"] += 1
    TALLY["executors and processes"][outcome] += 1
    assert not alive, f"workers {alive} outlived their parent"
