"""Throughput paths (issue 13): fast fields split and counting, chunked compressors, progress."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import kcomplexity as kc
from kcomplexity.arrays import bit_patterns
from kcomplexity.arrays import histogram
from kcomplexity.encodings import FLOAT_LAYOUT, Fields, Stream
from kcomplexity.errors import InputError, SpecError

FLOATS = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]


def weights(dtype, shape=(70, 90), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape) * 0.05
    w[0, :5] = [0.0, -0.0, 1e-30, -3.5e3, 1.0]  # zeros, a subnormal (or flush), large values
    return w.astype(dtype)


def fields_by_formula(x: np.ndarray) -> dict[str, np.ndarray]:
    """The IEEE split written out with 64-bit integers, as a reference."""
    exp_bits, man_bits = FLOAT_LAYOUT[np.dtype(x.dtype)]
    u = bit_patterns(x.reshape(-1)).astype(np.uint64)
    out = {"sign": u >> np.uint64(exp_bits + man_bits),
           "exponent": (u >> np.uint64(man_bits)) & np.uint64((1 << exp_bits) - 1)}
    mantissa, n_planes = u & np.uint64((1 << man_bits) - 1), -(-man_bits // 8)
    for i in range(n_planes):
        out[f"mantissa_{i}"] = (mantissa >> np.uint64(8 * (n_planes - 1 - i))) & np.uint64(255)
    return out


@pytest.mark.parametrize("dtype", FLOATS)
def test_fields_split_matches_the_formula_and_counts_match_the_streams(dtype):
    x = weights(dtype)
    expected = fields_by_formula(x)
    encoded, counted = Fields().encode(x), Fields().count(x)
    assert [s.name for s in encoded.streams] == list(expected) == [s.name for s in counted.streams]
    for s, c in zip(encoded.streams, counted.streams):
        assert s.data.dtype == (np.uint16 if s.nsymbols > 256 else np.uint8)
        np.testing.assert_array_equal(s.data, expected[s.name])
        assert c.data is None and c.counts.size == s.nsymbols
        np.testing.assert_array_equal(c.counts, np.bincount(expected[s.name].astype(np.int64), minlength=s.nsymbols))


@pytest.mark.parametrize("dtype", FLOATS)
def test_fields_of_strided_and_big_endian_input_equal_the_contiguous_ones(dtype):
    x = weights(dtype, (40, 60))
    strided = np.asfortranarray(x).T.T  # same values, not C-contiguous
    bits = kc.estimate(x, ["fields|entropy", "fields|zstd-3"])
    assert [e.bits for e in kc.estimate(strided, ["fields|entropy", "fields|zstd-3"])] == [e.bits for e in bits]
    if np.dtype(dtype).kind == "f" and dtype is not ml_dtypes.bfloat16:
        swapped = x.astype(np.dtype(dtype).newbyteorder(">"))
        assert kc.estimate(swapped, "fields|entropy", verify=False).bits == bits[0].bits
    assert kc.estimate(x, "fields|zstd-3", verify=True).bits == bits[1].bits


def test_histogram_chunks_add_up():
    codes = np.random.default_rng(1).integers(0, 300, 10_001).astype(np.uint16)
    np.testing.assert_array_equal(histogram(codes, 300, chunk=1000), np.bincount(codes, minlength=300))
    raw = Stream("raw", codes.view(np.float16))
    np.testing.assert_array_equal(raw.histogram(), np.bincount(codes, minlength=1 << 16))
    assert Stream("raw", np.zeros(3, np.float32)).histogram() is None  # 2^32 patterns: not tabulated


# ---------------------------------------------------------------- chunked compressors
def test_chunked_spec_is_independent_frames_end_to_end():
    import lzma

    x = weights(np.float32, (100, 100)).round(3)
    data = x.tobytes()
    e = kc.estimate(x, "raw|lzma-9-c8K", verify=True)
    assert e.estimator == "raw|lzma-9-c8K" and e.lossless
    pieces = [data[i:i + 8192] for i in range(0, len(data), 8192)]
    assert e.details["frames"] == len(pieces) == 5
    assert e.bits == 1 + 8 * sum(len(lzma.compress(p, preset=9)) for p in pieces)  # + the stored-mode flag
    assert e.bits > kc.estimate(x, "raw|lzma-9").bits  # looser than one frame, never free
    assert kc.estimate(x, "raw|lzma-9-c8K", threads=3).bits == e.bits


@pytest.mark.parametrize("spec, canonical", [("lzma-9-c64M", "raw|lzma-9-c64M"), ("raw|zstd-c1048576", "raw|zstd-3-c1M"),
                                             ("lz4-c3k", "raw|lz4-c3K"), ("fields|gzip-1-C2G", "fields|gzip-1-c2G")])
def test_chunked_specs_print_back(spec, canonical):
    assert kc.parse(spec).spec == canonical
    assert kc.parse(canonical).spec == canonical


@pytest.mark.parametrize("spec, message", [("brotli-11-c1M", "not self-delimiting"), ("lzma-9-c512", "at least 1K"),
                                           ("zstd-3-c1M-c2M", "one chunk option"), ("lz4-4", "takes no level")])
def test_bad_chunked_specs_say_what_to_do(spec, message):
    with pytest.raises(SpecError, match=message):
        kc.parse(spec)


@pytest.mark.parametrize("spec", ["zstd-3-c4K", "lz4-c4K", "lz4hc-9-c4K", "gzip-6-c4K", "bz2-9-c4K", "lzma-6-c4K"])
def test_every_chunked_family_decodes(spec):
    x = weights(ml_dtypes.bfloat16, (60, 100))
    assert kc.estimate(x, "fields|" + spec, verify=True).details["frames"] == 2 + 2 + 1  # exponent, mantissa, sign


# ---------------------------------------------------------------- progress inside one tensor
def test_lzma_fed_in_pieces_gives_the_one_shot_frame_and_reports_progress(monkeypatch):
    import lzma

    from kcomplexity.coders import compressors

    monkeypatch.setattr(compressors, "PROGRESS_PIECE", 4096)
    data = weights(np.float32, (50, 100)).round(2).tobytes()
    heard = []
    frame = compressors.Lzma(9).pack(data, progress=heard.append)
    assert frame == lzma.compress(data, preset=9)
    assert len(heard) == 5 and sum(heard) == pytest.approx(1.0)


@pytest.mark.parametrize("spec, calls", [("raw|lzma-9", 5), ("fields|lzma-9-c2K", 9), ("raw|zstd-3", 1)])
def test_estimate_reports_progress_within_a_tensor(monkeypatch, spec, calls):
    from kcomplexity.coders import compressors

    monkeypatch.setattr(compressors, "PROGRESS_PIECE", 4096)
    x = weights(np.float32, (50, 100))
    heard = []
    bits = kc.parse(spec).estimate(x, progress=heard.append).bits
    assert bits == kc.estimate(x, spec).bits
    assert len(heard) >= calls and sum(heard) == pytest.approx(1.0)


# ---------------------------------------------------------------- analyse: threads and progress
def _quarters(task):
    from kcomplexity.analysis.executors import task_progress

    report = task_progress()
    for _ in range(4):
        if report:
            report(0.25)
    return task * 10


@pytest.mark.parametrize("workers", [1, 2])
def test_run_all_relays_progress_from_inside_tasks(workers):
    from kcomplexity.analysis.executors import run_all

    heard = []
    results = dict(run_all(_quarters, [1, 2, 3], workers, None, lambda i, f: heard.append((i, f))))
    assert results == {0: 10, 1: 20, 2: 30}
    assert sorted(heard) == [(i, 0.25) for i in range(3) for _ in range(4)]


def test_threads_per_task_use_the_idle_workers():
    from kcomplexity.analysis.executors import threads_per_task

    assert [threads_per_task(w, n) for w, n in [(1, 1), (2, 1), (2, 2), (2, 5), (4, 2), (3, 2)]] == [1, 2, 1, 1, 2, 1]
    assert threads_per_task(4, 1, executor="tcp://somewhere:8786") == 1


def test_analyse_shows_progress_within_one_tensor_and_threads_change_no_bits(monkeypatch, tmp_path):
    import tqdm

    shown = []
    original = tqdm.tqdm.update
    monkeypatch.setattr(tqdm.tqdm, "update",
                        lambda self, n=1: (original(self, n), shown.append((self.n, self.postfix)))[0])
    x = {"w": weights(np.float32, (100, 400)).round(2)}
    one = kc.analyse(x, "raw|lzma-1-c16K", progress=True, cache=False)
    running = [int(postfix.split()[-1].rstrip("%")) for n, postfix in shown if postfix]
    assert [n for n, _ in shown] == [0] * (len(shown) - 1) + [1]  # the count: whole rows only
    assert len(running) >= 10 and running == sorted(running) and running[0] < 20  # within the tensor
    two = kc.analyse(x, "raw|lzma-1-c16K", workers=2, cache=False)
    assert one.bits.tolist() == two.bits.tolist() == [kc.estimate(x["w"], "raw|lzma-1-c16K").bits]


def test_bfloat16_safetensors_are_read_without_torch(tmp_path):
    import subprocess
    import sys

    from safetensors.numpy import save_file

    x = weights(ml_dtypes.bfloat16, (30, 40))
    save_file({"w": x}, str(tmp_path / "m.safetensors"))
    child = ("import sys, kcomplexity; from kcomplexity.io.readers import open_path; "
             f"a = open_path({str(tmp_path / 'm.safetensors')!r}).read('w'); "
             "print(a.dtype, a.view('uint16').sum(), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["bfloat16", str(x.view(np.uint16).sum()), "False"]


@pytest.mark.parametrize("dtype", FLOATS)
def test_finite_check_without_copies_is_exact(dtype):
    big = np.full(1000, float(ml_dtypes.finfo(dtype).max) / 2, dtype)  # the float32 sum overflows; all finite
    assert kc.estimate(big, "raw|zstd-3").n_values == 1000
    bad = weights(dtype)
    bad[3, 4], bad[5, 6] = np.nan, -np.inf
    with pytest.raises(InputError, match="2 of 6300 values are NaN or Inf"):
        kc.estimate(bad, "raw|zstd-3")


def test_parallel_analyse_runs_largest_first_and_keeps_the_row_order():
    tensors = {f"t{i}": weights(np.float32, (10 * (i + 1), 30), seed=i) for i in range(5)}
    one = kc.analyse(tensors, ["raw|zstd-3", "fields|entropy"], cache=False)
    two = kc.analyse(tensors, ["raw|zstd-3", "fields|entropy"], workers=2, cache=False)
    assert two.tensor.tolist() == one.tensor.tolist() == [f"t{i}" for i in range(5) for _ in range(2)]
    assert two.bits.tolist() == one.bits.tolist()
