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
    """The case must end in a KComplexityError whose message matches ``match`` (within ``max_seconds``:
    a bound far below the work it refuses and below any library default timeout, loose enough for a loaded CI)."""
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
    cli_error(argv, capsys, match, max_seconds=15)
    cli_error(["compare", f"a={series_many / 'step_0.safetensors'}", "--out", out], capsys, match, max_seconds=15)
    cli_error(["estimate", series_many / "step_0.safetensors", "--out", out], capsys, match, max_seconds=15)


def test_plot_and_demo_outputs(tmp_path, capsys):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "fake.parquet").write_text("not parquet")
    (tmp_path / "header_only.csv").write_text("checkpoint,bits\n")
    cli_error(["plot", tmp_path / "empty.csv", "--kind", "steps", "--out", tmp_path / "a.png"], capsys, "empty.csv")
    cli_error(["plot", tmp_path / "fake.parquet", "--kind", "steps", "--out", tmp_path / "a.png"], capsys, "parquet")
    cli_error(["plot", tmp_path / "header_only.csv", "--kind", "steps", "--out", tmp_path / "a.png"], capsys, "no rows")
    cli_error(["plot", tmp_path / "fake.parquet", "--kind", "steps", "--out", tmp_path / "a.txt"], capsys, ".png")
    cli_error(["demo", "--out", tmp_path / "fake.parquet"], capsys, "is a file", max_seconds=15)
    cli_error(["demo", "--out", "/proc/nope"], capsys, "cannot write", max_seconds=15)


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
    lambda e: {**e, "bits": -5, "skipped": "edited"},
    lambda e: {**e, "skipped": "edited"},
    lambda e: {**e, "bits": float("nan")},
    lambda e: {**e, "n_values": -1},
    lambda e: {**e, "raw_bits": float("inf")},
    lambda e: {**e, "bits_per_value": -0.5},
    lambda e: {**e, "ratio": -2.0},
    lambda e: {**e, "seconds": float("nan"), "skipped": "x"},
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
    cli_error(argv, capsys, "Dask scheduler", max_seconds=12, cls="executors and processes")


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


# ================================================================ round 2 (issue 20)
def test_names_that_collide_after_flattening_are_refused(tmp_path):
    x, y = torch.randn(4), torch.randn(4)
    for tensors in ({"a.b": x, "a": {"b": y}}, {"a": {"b": y}, "a.b": x}, {1: x, "1": y}, {"a": {"b": {"c": x}}, "a.b.c": y}):
        error("names after flattening", lambda: kc.analyse(tensors, cache=False), "both named")
        torch.save(tensors, tmp_path / "c.pt")
        error("names after flattening", lambda: kc.analyse(tmp_path / "c.pt", cache=False), "c.pt: two tensors")
    _, w = attempt("names after flattening", lambda: kc.load({"a": {"b": x}, "a.c": y}), expect="ok")
    assert sorted(w) == ["a.b", "a.c"]


def _hf_shards(folder, shards: dict, weight_map: dict):
    folder.mkdir(exist_ok=True)
    for name, tensors in shards.items():
        save_file(tensors, folder / name)
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return folder


def test_shard_index_is_obeyed(tmp_path):
    a, b = torch.zeros(4), torch.ones(4)
    for where in ("s1.safetensors", "s2.safetensors"):  # w in both shards: read from the one the index names
        model = _hf_shards(tmp_path / where, {"s1.safetensors": {"w": a, "v": a.clone()},
                                              "s2.safetensors": {"w": b, "u": b.clone()}},
                           {"w": where, "v": "s1.safetensors", "u": "s2.safetensors"})
        with pytest.warns(SkippedTensorsWarning, match="does not name"):
            _, w = attempt("shard indexes", lambda: kc.load(model)["w"], expect="ok",
                           oracle=lambda w: np.array_equal(w, (a if where == "s1.safetensors" else b).numpy()))
    model = _hf_shards(tmp_path / "unlisted", {"s1.safetensors": {"w": a, "extra": b}}, {"w": "s1.safetensors"})
    with pytest.warns(SkippedTensorsWarning, match="1 tensor"):
        _, w = attempt("shard indexes", lambda: list(kc.load(model)), expect="ok", oracle=lambda n: n == ["w"])
    model = _hf_shards(tmp_path / "absent", {"s1.safetensors": {"w": a}}, {"w": "s1.safetensors", "v": "s1.safetensors"})
    error("shard indexes", lambda: kc.load(model), "not in the shard it names")


def _npy(array) -> bytes:
    import io
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def test_archive_members_are_unambiguous(tmp_path):
    import zipfile
    for names in (["w.npy", "w"], ["w", "w.npy"], ["w.npy", "w.npy"]):
        with warnings.catch_warnings(), zipfile.ZipFile(tmp_path / "a.npz", "w") as z:
            warnings.simplefilter("ignore")  # zipfile warns about a duplicate name
            for i, name in enumerate(names):
                z.writestr(name, _npy(np.full(3 + i, i, np.float32)))
        error("archive members", lambda: kc.load(tmp_path / "a.npz"), "two members named 'w'")
    with zipfile.ZipFile(tmp_path / "b.npz", "w") as z:
        z.writestr("w.npy", _npy(np.arange(6, dtype=np.float32).reshape(2, 3)))
        z.writestr("notes.txt", b"hello")
    with pytest.warns(SkippedTensorsWarning, match="notes.txt"):
        _, w = attempt("archive members", lambda: dict(kc.load(tmp_path / "b.npz")), expect="ok")
    assert list(w) == ["w"] and w["w"].tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("method", ["deflate", "bzip2", "stored"])
def test_archive_members_are_read_bounded_and_checked(tmp_path, method):
    import zipfile
    compression = {"deflate": zipfile.ZIP_DEFLATED, "bzip2": zipfile.ZIP_BZIP2, "stored": zipfile.ZIP_STORED}[method]
    fortran = np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4))
    with zipfile.ZipFile(tmp_path / "ok.npz", "w", compression) as z:  # every layout numpy writes, read back exactly
        z.writestr("f.npy", _npy(fortran))
        z.writestr("big.npy", _npy(np.arange(300_000, dtype=np.int32)))
        z.writestr("b.npy", _npy(np.arange(8, dtype=">f4")))
    _, w = attempt("archive members", lambda: dict(kc.load(tmp_path / "ok.npz", floats_only=False)), expect="ok")
    assert np.array_equal(w["f"], fortran) and np.array_equal(w["big"], np.arange(300_000))
    assert np.array_equal(w["b"], np.arange(8))
    flipped = bytearray((tmp_path / "ok.npz").read_bytes())  # a damaged member behind a valid header
    at = flipped.index(b"f.npy") + 400
    flipped[at:at + 4] = b"\xff\x00\xff\x00"
    (tmp_path / "bad.npz").write_bytes(bytes(flipped))
    error("archive members", lambda: dict(kc.load(tmp_path / "bad.npz", floats_only=False)),
          "corrupt|cannot be read|not a readable")


def _zip_one_member(path, name: str, method: int, data: bytes, size: int, crc: int) -> None:
    """A zip holding one member whose compressed bytes are given as they are."""
    import struct
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 33, crc, len(data), size, len(name), 0)
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method, 0, 33, crc, len(data), size,
                          len(name), 0, 0, 0, 0, 0, 0)
    offset = len(local) + len(name) + len(data)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(name), offset, 0)
    path.write_bytes(local + name.encode() + data + central + name.encode() + end)


def test_archive_bombs_are_listed_and_read_in_bounded_memory(tmp_path):
    import zipfile
    import zlib
    head, zeros = _npy(np.arange(4, dtype=np.float32)), bytes(1 << 24)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)  # a full flush resets the state: one piece repeats
    first = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    piece = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(head)
    for _ in range(64):
        crc = zlib.crc32(zeros, crc)
    _zip_one_member(tmp_path / "deflate.npz", "w.npy", zipfile.ZIP_DEFLATED,
                    first + piece * 64 + deflate.flush(), len(head) + (64 << 24), crc)  # 1 MB -> 1 GiB
    with zipfile.ZipFile(tmp_path / "bzip2.npz", "w", zipfile.ZIP_BZIP2) as z, z.open("w.npy", "w") as f:
        f.write(head)
        for _ in range(4):
            f.write(zeros)  # 1 KB -> 64 MiB (bzip2 is slow to write; its old reader expanded it all at once)
    assert (tmp_path / "deflate.npz").stat().st_size < 2 << 20 and (tmp_path / "bzip2.npz").stat().st_size < 2000

    def read_traced(path):  # tracemalloc sees every bytes object and array the read makes
        import tracemalloc
        tracemalloc.start()
        try:
            values = kc.load(path)["w"].tolist()
            return values, tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()

    for path in (tmp_path / "deflate.npz", tmp_path / "bzip2.npz"):  # the old bzip2 reader peaked at 141 MB
        attempt("archive members", lambda: read_traced(path), expect="ok",
                oracle=lambda r: r[0] == [0, 1, 2, 3] and r[1] < 16)  # MB at peak


def test_series_folders_beside_a_stray_checkpoint_are_refused(tmp_path):
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        for s in (1, 2):
            save_file({"w": torch.randn(8)}, tmp_path / run / f"step_{s}.safetensors")
    _, df = attempt("folder layouts", lambda: kc.analyse(tmp_path, cache=False), expect="ok")
    assert sorted(set(df["series"])) == ["a", "b"]
    save_file({"w": torch.randn(8)}, tmp_path / "step_9.safetensors")
    error("folder layouts", lambda: kc.analyse(tmp_path, cache=False), "both checkpoints at its top level.*series")


def test_another_applications_sqlite_is_never_written(tmp_path, capsys):
    np.save(tmp_path / "step_1.npy", W["w"])
    for setup in ("CREATE TABLE notes (a)", "CREATE TABLE results (a, b, c)", "PRAGMA application_id = 7"):
        other = tmp_path / f"other{len(setup)}.db"
        with sqlite3.connect(other) as db:
            db.execute(setup)
        before = other.read_bytes()
        error("cache", lambda: kc.analyse(W, cache=other), "another application.*left untouched")
        cli_error(["analyse", "--cache", other, "--out", tmp_path / "x.csv", tmp_path / "step_1.npy"], capsys,
                  "another application", cls="cache")
        assert other.read_bytes() == before and sorted(p.name for p in tmp_path.glob(f"{other.name}*")) == [other.name]
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # an empty SQLite file (zero bytes) is ours to start
    attempt("cache", lambda: kc.analyse(W, cache=empty), expect="ok")


@pytest.mark.parametrize("name", ["a#b.sqlite", "a?b.sqlite", "a%b.sqlite", "a%20b.sqlite", "a b&c=d.sqlite"])
def test_cache_paths_are_plain_paths(tmp_path, name):
    from kcomplexity.analysis.cache import Cache
    folder = tmp_path / "c"
    folder.mkdir()
    _, first = attempt("cache", lambda: kc.analyse(W, cache=folder / name), expect="ok")
    with Cache(folder / name, readonly=True) as cache:  # what the workers' lookups open
        assert len(cache) == 1
    _, again = attempt("cache", lambda: kc.analyse(W, cache=folder / name), expect="ok")
    assert again["seconds"].item() == first["seconds"].item()  # served from the cache, not measured again
    assert sorted(p.name for p in folder.iterdir()) == [name]


SPECIAL_SUFFIXES = [".safetensors", ".npz", ".npy", ".pt"]


@pytest.mark.parametrize("suffix", SPECIAL_SUFFIXES)
def test_special_files_are_refused_before_opening(tmp_path, suffix, capsys):
    fifo = tmp_path / f"pipe{suffix}"
    os.mkfifo(fifo)
    error("special files", lambda: kc.analyse(fifo, cache=False), "named pipe", max_seconds=5)
    cli_error(["analyse", fifo, "--no-cache", "--out", tmp_path / "x.csv"], capsys, "named pipe", max_seconds=5,
              cls="special files")
    (tmp_path / f"zero{suffix}").symlink_to("/dev/zero")
    error("special files", lambda: kc.load(tmp_path / f"zero{suffix}"), "is a device")
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    os.mkfifo(model / "model.safetensors")
    error("special files", lambda: kc.load(model), "named pipe", max_seconds=5)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / f"sock{suffix}"))
    error("special files", lambda: kc.load(tmp_path / f"sock{suffix}"), "socket")
    sock.close()


def test_symlinks_out_of_a_model_folder_are_refused(tmp_path):
    save_file({"w": torch.ones(4)}, tmp_path / "outside.safetensors")
    single = tmp_path / "single"
    single.mkdir()
    (single / "model.safetensors").symlink_to(tmp_path / "outside.safetensors")
    error("symlinks", lambda: kc.load(single), "outside the model folder")
    sharded = _hf_shards(tmp_path / "sharded", {"s1.safetensors": {"v": torch.ones(2)}},
                         {"w": "s2.safetensors", "v": "s1.safetensors"})
    (sharded / "s2.safetensors").symlink_to(tmp_path / "outside.safetensors")
    error("symlinks", lambda: kc.load(sharded), "outside the model folder")
    (sharded / "model.safetensors.index.json").rename(tmp_path / "index.json")
    (sharded / "model.safetensors.index.json").symlink_to(tmp_path / "index.json")
    error("symlinks", lambda: kc.load(sharded), "outside the model folder")
    inside = tmp_path / "inside"  # a link within the folder is fine, and so is a Hub cache snapshot's link to blobs/
    inside.mkdir()
    save_file({"w": torch.ones(4)}, inside / "real.safetensors")
    (inside / "model.safetensors").symlink_to("real.safetensors")
    attempt("symlinks", lambda: kc.load(inside)["w"], expect="ok")
    snapshot = tmp_path / "models--org--m" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (tmp_path / "models--org--m" / "blobs").mkdir()
    save_file({"w": torch.ones(4)}, tmp_path / "models--org--m" / "blobs" / "f00d")
    (snapshot / "model.safetensors").symlink_to("../../blobs/f00d")
    _, w = attempt("symlinks", lambda: kc.load(snapshot)["w"], expect="ok")
    assert w.tolist() == [1, 1, 1, 1]


LOOKALIKE_DIGITS = ["1_9", "١٩", "１９", "¹⁹", "①⑨", "٣", "߃", "𝟗"]


@pytest.mark.parametrize("digits", LOOKALIKE_DIGITS)
def test_numbers_in_specs_and_steps_are_ascii_digits(tmp_path, digits, capsys):
    for spec in (f"zstd-{digits}", f"q{digits}|zstd", f"raw|zstd-3-c{digits}k", f"sign|bdm-chunk{digits}",
                 f"bitplanes8|bdm2d-tile{digits}", f"motif-{digits}", f"q8-p{digits}|zstd"):
        error("ascii digits", lambda: kc.parse(spec), "ASCII|unknown|write|bad chunk")
    np.save(tmp_path / "x.npy", W["w"])
    cli_error(["analyse", tmp_path / "x.npy", "-e", f"bdm2d-tile{digits}", "--out", tmp_path / "x.csv"], capsys,
              "unknown option", cls="ascii digits")
    (tmp_path / "x.npy").unlink()
    if not digits.isascii():  # (step_1_9 is step 1, as step_1_extra is)
        save_file({"w": torch.ones(4)}, tmp_path / f"step_{digits}.safetensors")
        save_file({"w": torch.ones(4)}, tmp_path / "step_5.safetensors")
        error("ascii digits", lambda: kc.analyse(tmp_path, cache=False), "cannot read a training step")
    _, sorted_names = attempt("ascii digits", lambda: sorted([f"w{digits}", "w2", "w10"], key=kc.io.natural_key),
                              expect="ok")
    assert sorted_names[:2] == ["w2", "w10"] or digits.isascii()


@pytest.mark.parametrize("dtype", ["float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2",
                                   "bits8", "bits16", "uint1", "complex32", "float8_e4m3fn", "float8_e5m2"])
def test_unusual_torch_dtypes_are_clear_errors(tmp_path, dtype):
    if not hasattr(torch, dtype):
        pytest.skip(f"torch {torch.__version__} has no {dtype}")
    try:
        tensor = torch.zeros(8, dtype=torch.uint8).view(getattr(torch, dtype))
    except (RuntimeError, TypeError):
        tensor = torch.zeros(8, dtype=getattr(torch, dtype))
    error("dtypes", lambda: kc.estimate(tensor), "not supported|complex")
    for suffix, save in ((".pt", torch.save), (".safetensors", save_file)):
        try:
            save({"w": tensor}, tmp_path / f"x{suffix}")
        except Exception:  # noqa: BLE001  (not every format stores every torch dtype)
            continue
        error("dtypes", lambda: kc.analyse(tmp_path / f"x{suffix}", floats_only=False, cache=False),
              "not supported|complex")


@pytest.mark.parametrize("code", ["F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "F8_E4M3FNUZ", "C128", "Q4", ""])
def test_unusual_safetensors_dtype_codes(tmp_path, code):
    header = json.dumps({"w": {"dtype": code, "shape": [8], "data_offsets": [0, 8]}}).encode()
    (tmp_path / "x.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + bytes(8))
    error("dtypes", lambda: kc.analyse(tmp_path / "x.safetensors", floats_only=False, cache=False),
          "not supported|not a readable safetensors")


def test_threads_for_one_coder_are_capped_by_the_cores():
    x = np.random.default_rng(0).standard_normal(1 << 18).astype(np.float32)
    seen, before = [], threading.active_count()
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            seen.append(threading.active_count())
            time.sleep(0.0005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        _, e = attempt("threads", lambda: kc.estimate(x, "raw|zstd-3-c1k", threads=1000), expect="ok")
    finally:
        stop.set()
        watcher.join()
    assert e.bits == kc.estimate(x, "raw|zstd-3-c1k").bits
    assert max(seen) <= before + 1 + len(os.sched_getaffinity(0))  # the watcher and one per core
    for bad in ("4", 0, -1, True, 2.5, None):
        error("threads", lambda: kc.estimate(x, "raw|zstd-3-c1k", threads=bad), "threads must be a positive")


@pytest.mark.parametrize("edit, match", [
    ({"n_embd": 1 << 20}, "parameters, more than"),
    ({"vocab_size": 10**9}, "parameters, more than"),
    ({"n_embd": -16}, "cannot be built"),
    ({"n_head": 0}, "cannot be built"),
])
def test_config_built_references_are_sized_before_allocating(tmp_path, edit, match):
    from transformers import GPT2Config, GPT2LMHeadModel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50, n_positions=16)).save_pretrained(
            tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, **edit}))
    error("config-built references", lambda: variants.random_init(tmp_path), match)


@pytest.mark.parametrize("call, match", [
    (lambda: variants.momos(W, k="5"), "k \\(the number of motifs\\)"),
    (lambda: variants.momos(W, k=2.7), "k \\(the number of motifs\\)"),
    (lambda: variants.momos(W, k=float("nan")), "k \\(the number of motifs\\)"),
    (lambda: variants.momos(W, k=float("inf")), "k \\(the number of motifs\\)"),
    (lambda: variants.momos(W, k="x"), "k \\(the number of motifs\\)"),
    (lambda: variants.momos(W, k=True), "k \\(the number of motifs\\)"),
    (lambda: variants.momos(W, k=0), "k \\(the number of motifs\\)"),
    (lambda: kc.Pipeline(kc.encodings.Quantize(8, robust="99"), kc.parse("zstd").coder), "robust"),
    (lambda: kc.encodings.Quantize(8, robust=float("nan")), "robust"),
    (lambda: kc.encodings.Quantize(8, robust=True), "robust"),
    (lambda: kc.encodings.Quantize(True), "bits"),
    (lambda: kc.parse("q8-pnan|zstd"), "clipping"),
    (lambda: kc.parse("q8-pinf|zstd"), "clipping"),
])
def test_option_types(call, match):
    error("API options", call, match)


def test_a_shut_down_executor_is_a_clear_error():
    import concurrent.futures as cf
    pool = cf.ThreadPoolExecutor(1)
    pool.shutdown()
    error("API options", lambda: kc.analyse(W, executor=pool, cache=False), "shut down")


def test_tables_with_huge_ints_and_text_bits(tmp_path, capsys):
    for s in (1, 2):
        save_file({"w": torch.randn(64)}, tmp_path / f"step_{s}.safetensors")
    (tmp_path / "metrics.json").write_text(json.dumps({"records": [{"step": 1, "big": 2**64 + 5}, {"step": 2, "big": 3}]}))
    _, code = attempt("tables", lambda: run_cli(["analyse", tmp_path, "--out", tmp_path / "x.parquet", "--no-cache"],
                                                capsys), expect="ok")
    assert pd.read_parquet(tmp_path / "x.parquet")["big"].tolist() == [str(2**64 + 5), "3"]  # every digit kept
    table = pd.read_parquet(tmp_path / "x.parquet")
    table["bits"] = table["bits"].astype(str) + " bits"
    table.to_csv(tmp_path / "t.csv", index=False)
    cli_error(["plot", tmp_path / "t.csv", "--kind", "steps", "--out", tmp_path / "p.png"], capsys, "hold text",
              cls="tables")


@pytest.mark.parametrize("compression", ["bzip2", "deflate"])
def test_pt_pickle_record_bombs_are_refused_unread(tmp_path, compression):
    import pickle
    import tracemalloc
    import zipfile
    method = {"bzip2": zipfile.ZIP_BZIP2, "deflate": zipfile.ZIP_DEFLATED}[compression]
    with zipfile.ZipFile(tmp_path / "b.pt", "w", method) as z, z.open("archive/data.pkl", "w", force_zip64=True) as f:
        f.write(pickle.dumps({"w": 1}, protocol=2)[:-1])
        for _ in range(4 if compression == "bzip2" else 3):
            f.write(b"N" * (1 << 24))  # NONE opcodes: each pushes a reference onto the unpickler's stack
        f.write(b".")

    def load_traced():
        tracemalloc.start()
        try:
            return kc.load(tmp_path / "b.pt")
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert peak < 16 << 20, f"{peak >> 20} MB"

    error(".pt storages and views", load_traced, "data.pkl holds .* bytes")
