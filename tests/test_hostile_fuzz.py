"""Fuzzing the edges (issue 12): every example ends in success or a KComplexityError.

Hypothesis strategies over safetensors headers, zip ``.pt`` records and pickled views,
``.npy`` headers, spec strings and CLI argument lists. Each example runs bounded in
time and memory (``hostile_harness.attempt``); derandomized, so every run tries the
same examples. Where a reader succeeds on a ``.pt`` file, torch's own non-mmap loader
is the oracle: it must accept the file too and give the same bytes.
"""
from __future__ import annotations

import itertools
import json
import os
import struct
import warnings
import zipfile

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # torch-free CI (.ci/run) skips this module
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

import kcomplexity as kc
from hostile_harness import FakeStorage, FakeView, attempt, maybe_write_table, run_cli, write_pt
from kcomplexity.arrays import as_array
from kcomplexity.io.readers import _split_checkpoint_dict as split_checkpoint_dict

FUZZ = settings(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
HUGE = st.sampled_from([2**31, 2**40, 10**12, 2**63 - 1, 2**64])
_names = itertools.count()


@pytest.fixture(scope="module", autouse=True)
def _table():
    yield
    maybe_write_table()


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def fresh(tmp_path, suffix: str):
    """A new file name per example (a rewritten file could keep its size and timestamp)."""
    return tmp_path / f"f{next(_names)}{suffix}"


def analyse_file(path):
    return kc.analyse(path, "raw|zstd-3", floats_only=False, cache=False, progress=False)


# ---------------------------------------------------------------- safetensors headers
ST_DTYPES = st.sampled_from(["F32", "F16", "BF16", "F64", "I8", "I32", "I64", "U8", "U16", "BOOL",
                             "F8_E4M3", "F8_E5M2", "C64", "X7", "", "f32", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2",
                             "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I4", "U4", "C128", "U32", "U64"])
ST_ENTRY = st.fixed_dictionaries({
    "dtype": ST_DTYPES,
    "shape": st.lists(st.one_of(st.integers(0, 6), st.integers(-3, -1), HUGE), max_size=3),
    "data_offsets": st.lists(st.one_of(st.integers(-2, 130), HUGE), min_size=0, max_size=3)})
ST_HEADER = st.dictionaries(st.text(max_size=6), st.one_of(ST_ENTRY, st.integers(), st.text(max_size=4)), max_size=3)


@FUZZ
@given(header=ST_HEADER, metadata=st.none() | st.dictionaries(st.sampled_from(["global_step", "step", "epoch", "x"]),
                                                              st.text(max_size=8) | st.integers().map(str)),
       payload=st.binary(max_size=128), length_delta=st.integers(-3, 3) | HUGE)
def test_safetensors_header_fields(tmp_path, header, metadata, payload, length_delta):
    if metadata is not None:
        header = {**header, "__metadata__": metadata}
    text = json.dumps(header).encode()
    path = fresh(tmp_path, ".safetensors")
    length = len(text) + length_delta if length_delta < 2**31 else length_delta
    path.write_bytes(struct.pack("<Q", length % 2**64) + text + payload)
    attempt("safetensors headers (fuzz)", lambda: analyse_file(path))


ST_SIZES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I8": 1, "I32": 4, "I64": 8, "U8": 1, "U16": 2, "BOOL": 1,
            "F8_E4M3": 1}


@FUZZ
@given(tensors=st.lists(st.tuples(st.sampled_from(sorted(ST_SIZES)), st.lists(st.integers(0, 5), max_size=3)),
                        min_size=1, max_size=3),
       field=st.sampled_from([None, "dtype", "shape", "data_offsets"]), value=st.sampled_from(
           ["X7", [2**40], [-1], [0, 2**40], [5, 2], [0], "F32", [1, 1, 1, 1]]), payload=st.binary(min_size=256,
                                                                                                 max_size=256))
def test_safetensors_consistent_headers_with_one_bad_field(tmp_path, tensors, field, value, payload):
    """Valid layouts (any dtype, shape), then at most one field replaced: the reader sees deep, real files."""
    header, offset = {}, 0
    for i, (dtype, shape) in enumerate(tensors):
        size = ST_SIZES[dtype] * int(np.prod(shape, dtype=np.int64))
        header[f"t{i}"] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    if field is not None:
        header["t0"][field] = value
    text = json.dumps(header).encode()
    path = fresh(tmp_path, ".safetensors")
    path.write_bytes(struct.pack("<Q", len(text)) + text + payload[:offset])
    attempt("safetensors headers (fuzz)", lambda: analyse_file(path))


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=6))
def test_safetensors_header_bytes(tmp_path, edits):
    path = fresh(tmp_path, ".safetensors")
    save_file({"a": torch.arange(12.0).reshape(3, 4), "b": torch.ones(5, dtype=torch.bfloat16)}, path,
              metadata={"global_step": "7"})
    data = bytearray(path.read_bytes())
    for pos, byte in edits:
        data[pos % len(data)] = byte
    path.write_bytes(bytes(data))
    attempt("safetensors headers (fuzz)", lambda: analyse_file(path))


# ---------------------------------------------------------------- zip .pt records
STORAGES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
            "LongStorage": np.int64, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


def same_as_torch(path):
    """Oracle: torch without mmap (which checks record sizes) reads the same bytes."""
    def check(weights):
        reference, _ = split_checkpoint_dict(torch.load(path, weights_only=True, map_location="cpu"), str(path))
        return set(weights) == set(reference) and all(
            as_array(reference[k], allow_nonfinite=True).tobytes() == weights[k].tobytes() for k in weights)
    return check


def read_all(path) -> dict:
    w = kc.load(path, floats_only=False)
    return {k: w[k] for k in w}


@FUZZ
@given(kind=st.sampled_from([*STORAGES, "UntypedStorage"]), numel=st.integers(0, 40) | HUGE,
       offset=st.integers(-2, 40), size=st.lists(st.integers(0, 9) | HUGE, max_size=3),
       stride=st.lists(st.integers(-1, 9), max_size=3), record=st.integers(0, 200), key=st.sampled_from(["0", "1"]),
       compress=st.booleans())
def test_pt_storages_and_views(tmp_path, kind, numel, offset, size, stride, record, key, compress):
    path = fresh(tmp_path, ".pt")
    write_pt(path, {"w": FakeView(FakeStorage(key, numel, kind), offset, size, stride)},
             {"0": bytes(range(256))[:record] * 1, "1": b"\x07" * 64}, compress)
    attempt(".pt records (fuzz)", lambda: read_all(path), oracle=same_as_torch(path))


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), min_size=1, max_size=4))
def test_pt_bytes(tmp_path, edits):
    path = fresh(tmp_path, ".pt")
    base = torch.arange(24.0)
    torch.save({"state_dict": {"a": base[:12].view(3, 4), "b": base[12:]}, "epoch": 3, "lst": [torch.ones(2)]}, path)
    data = bytearray(path.read_bytes())
    for pos, byte in edits:
        data[pos % len(data)] = byte
    path.write_bytes(bytes(data))
    attempt(".pt records (fuzz)", lambda: read_all(path), oracle=same_as_torch(path))


# ---------------------------------------------------------------- .npy headers
NPY_DESCR = st.sampled_from(["<f4", "<f8", "<f2", ">f4", ">f8", "|u1", "<i8", "|b1", "|O", "<U3", "<c8", "<f16",
                             "|V4", "<M8[s]", "garbage", "<u2"])


def npy_bytes(header_text: str, payload: bytes) -> bytes:
    body = header_text.encode("latin1", "replace")
    pad = 64 - (10 + len(body) + 1) % 64
    body += b" " * pad + b"\n"
    return np.lib.format.MAGIC_PREFIX + b"\x01\x00" + struct.pack("<H", len(body) % 65536) + body + payload


@FUZZ
@given(descr=NPY_DESCR, shape=st.lists(st.integers(0, 6) | st.integers(-3, -1) | HUGE, max_size=3),
       fortran=st.booleans(), payload=st.binary(min_size=400, max_size=400), fit=st.booleans(), npz=st.booleans())
def test_npy_headers(tmp_path, descr, shape, fortran, payload, fit, npz):
    """``fit``: the payload holds exactly what a parseable header claims (when that is small)."""
    header = repr({"descr": descr, "fortran_order": fortran, "shape": tuple(shape)})
    try:
        need = np.dtype(descr).itemsize * int(np.prod(shape, dtype=object))
    except (TypeError, ValueError):
        need = None
    data = payload[:need] if fit and need is not None and 0 <= need <= len(payload) else payload[:len(payload) // 3]
    write(tmp_path, npy_bytes(header, data), npz)


@FUZZ
@given(header=st.text(max_size=80), payload=st.binary(max_size=64), npz=st.booleans())
def test_npy_header_text(tmp_path, header, payload, npz):
    write(tmp_path, npy_bytes(header, payload), npz)


def write(tmp_path, data: bytes, npz: bool) -> None:
    path = fresh(tmp_path, ".npz" if npz else ".npy")
    if npz:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("w.npy", data)
    else:
        path.write_bytes(data)
    attempt(".npy/.npz headers (fuzz)", lambda: analyse_file(path))


# ---------------------------------------------------------------- spec strings
SPEC_TOKENS = st.sampled_from(["raw", "fields", "sign", "q", "bitplanes", "zstd", "lzma", "gzip", "bz2", "brotli",
                               "lz4", "lz4hc", "entropy", "bdm", "bdm2d", "motif", "|", "|", "-", "-", "0", "1", "4",
                               "8", "33", "99", "p", "99.9", "9" * 30, " ", "delta:", "e", "_", "."])
NUMBER = st.sampled_from(["", "0", "1", "2", "4", "4", "8", "8", "12", "16", "33", "64", "9" * 12, "-1", "x"])
ENCODING = st.tuples(st.sampled_from(["raw", "fields", "sign", "q", "bitplanes", "delta:raw", "qq"]), NUMBER,
                     st.sampled_from(["", "-p99", "-p99.9999", "-p100", "-p0", "-p101", "-pnan", "-x"])).map("".join)
CODER = st.tuples(st.sampled_from(["zstd", "lzma", "gzip", "bz2", "brotli", "lz4", "lz4hc", "entropy", "bdm",
                                   "bdm2d", "motif", "zip"]), st.sampled_from(["", "-"]), NUMBER).map("".join)
SPECS = (st.tuples(ENCODING, CODER).map("|".join) | CODER | st.lists(SPEC_TOKENS, max_size=6).map("".join)
         | st.text(max_size=16))
SMALL = np.random.default_rng(0).standard_normal((16, 16)).astype(np.float32)


@settings(FUZZ, max_examples=200)
@given(spec=SPECS)
def test_spec_strings(spec):
    attempt("spec strings (fuzz)", lambda: kc.estimate(SMALL, spec))


# ---------------------------------------------------------------- command-line argument lists
@pytest.fixture
def cli_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_file({"w": torch.randn(16, 16), "b": torch.randn(16)}, tmp_path / "good.safetensors")
    nan = np.arange(64, dtype=np.float32)
    nan[3] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    kc.analysis.write_table(kc.analyse(tmp_path / "good.safetensors", cache=False), tmp_path / "table.csv")
    (tmp_path / "empty.csv").write_text("")
    return tmp_path


CLI_TOKENS = st.sampled_from([
    "-e", "--include", "--exclude", "--min-ndim", "--per", "--out", "--workers", "--dask", "--delta", "--cache",
    "--no-cache", "-q", "--allow-nonfinite", "--connect-timeout", "--kind", "--reference", "--seeds", "--no-shuffle",
    "good.safetensors", "nan.npy", "missing.pt", ".", "a=good.safetensors", "b=good.safetensors", "a=", "=x",
    "raw|zstd-3", "q4|bdm", "entropy", "x|y", "0", "-1", "1", "1e9", "nan", "x", "w", "*", "model", "tensor",
    "steps", "layers", "variants", "out.csv", "out.parquet", "out.txt", "/proc/x/y.csv", "fig.png", "table.csv",
    "empty.csv", "foo", "tcp://127.0.0.1:1", "http://x:1", "inproc://x", "random_init", "c.sqlite", "/nonexistent/c"])


OPTION_VALUES = {
    "-e": ["raw|zstd-3", "q4|bdm", "entropy", "x|y", "q0|lzma-9", "sign|bdm2d"], "--include": ["w", "*", "zz"],
    "--exclude": ["w", "*"], "--min-ndim": ["0", "2", "-1", "x"], "--per": ["model", "tensor", "x"],
    "--workers": ["1", "0", "-1", "x"], "--dask": ["foo", "tcp://127.0.0.1:1", "inproc://x", "http://x:1"],
    "--cache": ["c.sqlite", "/nonexistent/c", ".", "table.csv"], "--connect-timeout": ["1", "0", "-5", "nan", "x"],
    "--seeds": ["0", "-1", "1 2", "x"], "--reference": ["random_init", "a", "zz"],
    "--kind": ["steps", "layers", "variants", "pareto", "x"]}
FLAGS = ["--no-cache", "-q", "--allow-nonfinite", "--delta", "--no-shuffle"]
SELECT = ["-e", "--include", "--exclude", "--min-ndim"]
OPTIONS = {"estimate": SELECT + ["--per", "--no-cache", "--allow-nonfinite", "-q"],
           "analyse": SELECT + ["--per", "--workers", "--dask", "--delta", "--cache", "--no-cache",
                                "--allow-nonfinite", "--connect-timeout", "-q"],
           "compare": SELECT + ["--reference", "--seeds", "--no-shuffle"],
           "plot": ["--kind", "-e"]}
COMMANDS = {"estimate": (["good.safetensors", "nan.npy", "missing.pt", "."], [None, "out.csv", "out.txt", "/proc/x.csv"]),
            "analyse": (["good.safetensors", "nan.npy", "missing.pt", "."], ["out.csv", "out.parquet", "out.txt", "."]),
            "compare": (["a=good.safetensors", "a=nan.npy", "a=", "=x", "a=missing.pt"], [None, "out.csv", "."]),
            "plot": (["table.csv", "empty.csv", "missing.csv", "good.safetensors"], ["fig.png", "fig.txt", "/proc/f.png"])}


@st.composite
def command_lines(draw) -> list[str]:
    """A subcommand, a source and an output drawn from plausible values, then options and flags."""
    command = draw(st.sampled_from(sorted(COMMANDS)))
    sources, outs = COMMANDS[command]
    argv = [command, draw(st.sampled_from(sources[:1] * 2 + sources))]
    if command == "compare" and draw(st.booleans()):
        argv.append(draw(st.sampled_from(["b=good.safetensors", "a=good.safetensors"])))
    out = draw(st.sampled_from(outs[:1] * 2 + outs))
    argv += ["--out", out] if out else []
    if command == "plot":
        argv += ["--kind", draw(st.sampled_from(["steps", "layers"]))]
    for option in draw(st.lists(st.sampled_from(OPTIONS[command]), max_size=3)):
        values = OPTION_VALUES.get(option, [])
        valid_first = st.sampled_from(values[:1] * len(values) + values) if values else st.nothing()
        argv += [option] + ([draw(valid_first)] if values else [])
    return argv


@settings(FUZZ, max_examples=200)
@given(argv=command_lines() | st.tuples(st.sampled_from(["estimate", "analyse", "compare", "plot", "bogus"]),
                                        st.lists(CLI_TOKENS, max_size=8)).map(lambda t: [t[0], *t[1]]))
def test_cli_argument_lists(cli_files, capsys, argv):
    attempt("CLI argument lists (fuzz)", lambda: run_cli(argv, capsys))


# ---------------------------------------------------------------- API arguments
CARELESS = st.sampled_from([None, True, False, 0, -1, 1, 2, 3, 2**70, 0.5, 1.5, -0.5, float("nan"), float("inf"), "",
                            "x", "2", "0.5", "*", "w", "model", "raw|zstd-3", [], [None], ["*"], ["raw|zstd-3"], {},
                            {"a": 1}, (0, 1), b"x", object()])
RNG = np.random.default_rng(0)
MODEL = {"w": RNG.standard_normal((8, 8)).astype(np.float32), "b": RNG.standard_normal(8).astype(np.float32)}
ANALYSE_OPTIONS = ["estimators", "per", "workers", "include", "exclude", "min_ndim", "floats_only", "delta", "steps",
                   "cache", "executor", "allow_nonfinite", "progress", "buffers", "sparsity"]
VARIANT_CALLS = {
    "momos": (kc.variants.momos, ["s", "capacity", "k", "force_zero", "seed", "per_tensor", "pad", "method"]),
    "prune_magnitude": (lambda w, **o: kc.variants.prune_magnitude(w, o.pop("sparsity", 0.5), **o),
                        ["sparsity", "scope"]),
    "prune_pq": (kc.variants.prune_pq, ["p", "q", "eta", "gamma", "beta", "scope"]),
    "prune_lq": (kc.variants.prune_lq, ["q", "eps", "scope"]),
    "quantize": (kc.variants.quantize, ["bits", "per_channel"]),
    "shuffle": (kc.variants.shuffle, ["seed"]),
    "random_init": (kc.variants.random_init, ["seed", "init"]),
    "compare": (lambda w, **o: kc.compare({"a": w}, **o), ["estimators", "reference", "seeds", "shuffle_control",
                                                         "metrics", "sparsity", "by"]),
}


@FUZZ
@given(data=st.data())
def test_analyse_arguments(tmp_path, monkeypatch, data):
    monkeypatch.chdir(tmp_path)  # cache=True writes the default cache here
    names = data.draw(st.lists(st.sampled_from(ANALYSE_OPTIONS), max_size=3, unique=True))
    options = {n: data.draw(CARELESS, label=n) for n in names}
    options.setdefault("workers", 1)
    attempt("API arguments (fuzz)", lambda: kc.analyse([MODEL, MODEL], **options))


@FUZZ
@given(data=st.data(), call=st.sampled_from(sorted(VARIANT_CALLS)))
def test_variant_and_compare_arguments(data, call):
    fn, names = VARIANT_CALLS[call]
    chosen = data.draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
    options = {n: data.draw(CARELESS, label=n) for n in chosen}
    attempt("API arguments (fuzz)", lambda: fn(MODEL, **options))


# ---------------------------------------------------------------- series metadata (metrics.json, trainer_state.json)
JSON = st.recursive(st.none() | st.booleans() | st.integers(-2, 2**70) | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=8)
RECORD = st.dictionaries(st.sampled_from(["step", "epoch", "accuracy", "loss", "note"]), JSON, max_size=4)


@settings(FUZZ, max_examples=50)
@given(metrics=st.fixed_dictionaries({"records": st.lists(RECORD, max_size=3)}) | JSON, state=st.none() | JSON,
       deep=st.booleans())
def test_series_metadata(tmp_path, metrics, state, deep):
    series = tmp_path / f"s{next(_names)}"
    (series / "checkpoint-1").mkdir(parents=True)
    (series / "checkpoint-2").mkdir()
    for i, folder in enumerate(sorted(series.iterdir())):
        save_file({"w": torch.full((8,), float(i))}, folder / "model.safetensors")
        if state is not None:
            (folder / "trainer_state.json").write_text(json.dumps(state))
    text = "[" * 100_000 + "]" * 100_000 if deep else json.dumps(metrics)
    (series / "metrics.json").write_text(text)
    attempt("series metadata (fuzz)", lambda: kc.analyse(series, cache=False, progress=False))


# ---------------------------------------------------------------- GGUF, ONNX and hf: sources (issue 21)
def _gguf_bytes() -> bytes:
    gguf = pytest.importorskip("gguf")
    from gguf.quants import quantize

    path = fresh(__import__("pathlib").Path(__import__("tempfile").mkdtemp()), ".gguf")
    w = np.linspace(-1, 1, 2 * 64, dtype=np.float32).reshape(2, 64)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_uint32("general.alignment", 32)
    writer.add_tensor("f32", w)
    writer.add_tensor("bf16", w.view(np.uint32).__rshift__(16).astype(np.uint16).view(np.uint8).reshape(2, -1),
                      raw_dtype=gguf.GGMLQuantizationType.BF16)
    for q in (gguf.GGMLQuantizationType.Q8_0, gguf.GGMLQuantizationType.Q4_0):
        writer.add_tensor(f"{q.name}.weight", quantize(w, q), raw_dtype=q)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


@settings(FUZZ, max_examples=60)
@given(edits=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=6),
       cut=st.none() | st.integers(0, 1200), huge=st.none() | st.tuples(st.integers(0, 400), HUGE))
def test_gguf_header_bytes(tmp_path, edits, cut, huge):
    """Counts, dims, types and offsets of a real GGUF file overwritten: success or a clear error."""
    data = bytearray(_GGUF.setdefault("bytes", _gguf_bytes()))
    for pos, byte in edits:
        data[pos % len(data)] = byte
    if huge is not None:
        pos = huge[0] % (len(data) - 8)
        data[pos:pos + 8] = struct.pack("<Q", huge[1] % 2**64)
    path = fresh(tmp_path, ".gguf")
    path.write_bytes(bytes(data[:cut] if cut is not None else data))
    attempt("GGUF headers (fuzz)", lambda: analyse_file(path))


_GGUF: dict = {}
ONNX_LOCATIONS = st.sampled_from(["weights.data", "../weights.data", "/etc/passwd", "", ".", "sub/../weights.data",
                                  "weights.data\x00x", "missing.data", "link.data"])
ONNX_NUMBERS = st.sampled_from(["0", "4", "-4", "64", "x", "1e3", "18446744073709551616"]) | HUGE.map(str)


@settings(FUZZ, max_examples=60)
@given(location=ONNX_LOCATIONS, offset=st.none() | ONNX_NUMBERS, length=st.none() | ONNX_NUMBERS,
       dims=st.lists(st.integers(0, 6) | st.integers(-2, -1) | HUGE, min_size=1, max_size=3),
       edits=st.lists(st.tuples(st.integers(0, 300), st.integers(0, 255)), max_size=3))
def test_onnx_external_data_and_bytes(tmp_path, location, offset, length, dims, edits):
    onnx = pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    folder = fresh(tmp_path, "")
    folder.mkdir()
    (folder / "weights.data").write_bytes(np.arange(16, dtype=np.float32).tobytes())
    (folder / "link.data").symlink_to(tmp_path / "outside.data")
    (tmp_path / "outside.data").write_bytes(bytes(64))
    t = numpy_helper.from_array(np.zeros(16, np.float32), "w")
    t.ClearField("raw_data")
    t.data_location = onnx.TensorProto.EXTERNAL
    del t.dims[:]
    t.dims.extend([d % 2**63 if d >= 0 else d for d in dims])
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            entry = t.external_data.add()
            entry.key, entry.value = key, value
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x],
                                                [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
                                                initializer=[t]))
    data = bytearray(model.SerializeToString())
    for pos, byte in edits:
        data[pos % len(data)] = byte
    (folder / "m.onnx").write_bytes(bytes(data))
    outcome, value = attempt("ONNX initializers (fuzz)", lambda: analyse_file(folder / "m.onnx"))
    if outcome == "ok" and not edits:  # only the one file inside the folder, all 16 values, can be read
        assert location in ("weights.data", "sub/../weights.data") and value["n_params"].sum() == 16


HF_SPECS = st.text(st.sampled_from("ab-_./@*?,:\\~ \x00é1"), max_size=14).map(lambda s: "hf:" + s)
HF_REFS = st.sampled_from(["", "0" * 40, "../../../../etc", "a" * 40 + "\n", "G" * 40, "0" * 40 + "/..", "0" * 200,
                           "fifo"])
HF_LINKS = st.sampled_from(["blob", "outside", "loop", "dangling", "dir-outside"])


@settings(FUZZ, max_examples=60)
@given(spec=HF_SPECS | st.sampled_from(["hf:org/m", "hf:org/m@main", "hf:org/m@*", "hf:org/m@main,dev"]),
       ref=HF_REFS, link=HF_LINKS)
def test_hf_specs_and_cache_layouts(tmp_path, monkeypatch, spec, ref, link):
    """Offline (no network), on a hub cache whose refs and snapshot links are damaged."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = fresh(tmp_path, "-hub")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    repo = cache / "models--org--m"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    (repo / "refs").mkdir()
    if ref == "fifo":
        os.mkfifo(repo / "refs" / "main")
    else:
        (repo / "refs" / "main").write_text(ref)
    save_file({"w": torch.arange(8.0)}, repo / "blobs" / "b1")
    targets = {"blob": "../../blobs/b1", "outside": str(tmp_path / "x.safetensors"), "loop": "model.safetensors",
               "dangling": "../../blobs/none", "dir-outside": str(tmp_path)}
    save_file({"w": torch.arange(8.0)}, tmp_path / "x.safetensors")
    name = "sub" if link == "dir-outside" else "model.safetensors"
    if link == "dir-outside":
        save_file({"w": torch.arange(8.0)}, snapshot / "model.safetensors")
    (snapshot / name).symlink_to(targets[link])
    outcome, _ = attempt("hf: sources (fuzz)", lambda: analyse_file(spec))
    if outcome == "ok":  # only the intact layout reads, and only for the repository that is there
        assert link == "blob" and spec.startswith("hf:org/m") and ref == "0" * 40


# ---------------------------------------------------------------- zip archives (issue 20)
MEMBER_NAMES = st.sampled_from(["w.npy", "w", "v.npy", "a/b.npy", "../x.npy", ".npy", "w.NPY", "x.txt", "é.npy"])
METHODS = st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
MEMBER_ARRAYS = st.sampled_from([np.arange(6, dtype=np.float32), np.ones((2, 3), np.float64),
                                 np.asfortranarray(np.arange(12, dtype=np.float16).reshape(3, 4)),
                                 np.arange(5, dtype=">f4"), np.zeros(0, np.float32)])


def npy(array) -> bytes:
    import io
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


@FUZZ
@given(members=st.lists(st.tuples(MEMBER_NAMES, MEMBER_ARRAYS, METHODS), min_size=1, max_size=4),
       edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3),
       cut=st.none() | st.integers(0, 400))
def test_npz_archives(tmp_path, members, edits, cut):
    """Names, methods, duplicates, flipped bytes, truncation. Oracle: a member read by both
    kcomplexity and numpy (from an archive with unique names) gives the same array."""
    path = fresh(tmp_path, ".npz")
    with zipfile.ZipFile(path, "w") as z:
        for name, array, method in members:
            z.writestr(zipfile.ZipInfo(name), npy(array), method)
    data = bytearray(path.read_bytes())
    for at, value in edits:
        data[at % len(data)] = value
    path.write_bytes(bytes(data[:cut] if cut is not None else data))

    def read_all():
        weights = kc.load(path, floats_only=False)
        return {name: weights[name] for name in weights}

    def same_as_numpy(arrays) -> bool:
        try:
            with np.load(path, allow_pickle=False) as z:
                theirs = {n: z[n] for n in arrays}
        except Exception:  # noqa: BLE001  (numpy refuses: no oracle)
            return True
        return all(np.array_equal(arrays[n], theirs[n]) and arrays[n].dtype == theirs[n].dtype
                   for n in arrays)

    attempt("zip archives (fuzz)", read_all, oracle=same_as_numpy)


# ---------------------------------------------------------------- every torch dtype (issue 20)
TORCH_DTYPES = sorted({str(getattr(torch, n)).removeprefix("torch.") for n in dir(torch)
                       if isinstance(getattr(torch, n), torch.dtype)})


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_every_torch_dtype(tmp_path, dtype):
    """Each torch dtype, directly, in a .pt and in a .safetensors: measured bit-exactly or refused clearly."""
    try:
        tensor = torch.zeros(8, dtype=torch.uint8).view(getattr(torch, dtype))
    except (RuntimeError, TypeError):
        try:
            tensor = torch.zeros(8, dtype=getattr(torch, dtype))
        except (RuntimeError, TypeError):
            pytest.skip(f"torch cannot make a {dtype} tensor")
    attempt("torch dtypes (fuzz)", lambda: kc.estimate(tensor, "raw|zstd-3"),
            oracle=lambda e: e.raw_bits == 8 * tensor.element_size() * tensor.numel())
    for suffix, save in ((".pt", torch.save), (".safetensors", save_file)):
        path = fresh(tmp_path, suffix)
        try:
            save({"w": tensor}, path)
        except Exception:  # noqa: BLE001  (not every format stores every dtype)
            continue
        attempt("torch dtypes (fuzz)", lambda: analyse_file(path),
                oracle=lambda df: df["n_params"].sum() == tensor.numel())


# ---------------------------------------------------------------- file kinds (issue 20)
def _make_kind(path, kind: str) -> None:
    import os
    import socket
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "folder":
        path.mkdir()
    elif kind == "loop":
        path.symlink_to(path)
    elif kind == "dangling":
        path.symlink_to(path.with_name("nowhere"))
    elif kind in ("/dev/zero", "/dev/null", "/dev/urandom", "/proc/self/mem"):
        path.symlink_to(kind)


FILE_KINDS = ["fifo", "socket", "empty", "folder", "loop", "dangling", "/dev/zero", "/dev/null", "/dev/urandom",
              "/proc/self/mem"]


@pytest.mark.parametrize("kind", FILE_KINDS)
@pytest.mark.parametrize("name", ["x.safetensors", "x.npz", "x.npy", "x.pt", "x.gguf", "x.onnx"])
def test_file_kinds(tmp_path, kind, name):
    """As the source, inside a series folder beside a real checkpoint, and as a model folder's weights."""
    _make_kind(tmp_path / name, kind)
    attempt("file kinds (fuzz)", lambda: analyse_file(tmp_path / name), expect="error")
    series = tmp_path / "series"
    series.mkdir()
    save_file({"w": torch.ones(4)}, series / "step_1.safetensors")
    _make_kind(series / f"step_2{name[1:]}", kind)
    attempt("file kinds (fuzz)", lambda: analyse_file(series))
    model = tmp_path / "model"
    model.mkdir()
    _make_kind(model / "model.safetensors", kind)
    attempt("file kinds (fuzz)", lambda: analyse_file(model), expect="error")
