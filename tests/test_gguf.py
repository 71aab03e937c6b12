"""GGUF through gguf's own writer: plain tensors bit-exact, quantized ones as gguf's dequantize and as code blocks."""
from __future__ import annotations

import numpy as np
import pytest

import kcomplexity as kc
from kcomplexity.arrays import BFLOAT16
from kcomplexity.errors import SourceError

gguf = pytest.importorskip("gguf")
from gguf.quants import dequantize, quantize  # noqa: E402

Q = gguf.GGMLQuantizationType
ROWS, COLS = 8, 256  # 256: one super-block per row for the K types


def k_blocks(qtype, rng) -> np.ndarray:
    """Random Q4_K / Q6_K blocks with finite f16 scales (gguf's Python writer has no quantizer for them)."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, (ROWS * COLS // block, size), dtype=np.uint8)
    scales = rng.uniform(0.001, 0.01, (raw.shape[0], 2)).astype(np.float16).view(np.uint8)
    if qtype == Q.Q4_K:
        raw[:, :4] = scales  # d, dmin lead the block
    else:
        raw[:, -2:] = scales[:, :2]  # Q6_K: d closes the block
    return raw.reshape(ROWS, -1)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A GGUF file with F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K tensors, and the arrays written."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    stored = {"f32": w, "f16": w.astype(np.float16), "bf16": w.astype(BFLOAT16)}
    writer.add_tensor("f32", stored["f32"])
    writer.add_tensor("f16", stored["f16"])
    writer.add_tensor("bf16", stored["bf16"].view(np.uint16).view(np.uint8).reshape(ROWS, -1),
                      raw_dtype=Q.BF16)
    for qtype in (Q.Q8_0, Q.Q4_0):
        stored[qtype.name] = quantize(w, qtype)
    for qtype in (Q.Q4_K, Q.Q6_K):
        stored[qtype.name] = k_blocks(qtype, rng)
    for qtype in (Q.Q8_0, Q.Q4_0, Q.Q4_K, Q.Q6_K):
        writer.add_tensor(f"blk.0.{qtype.name.lower()}.weight", stored[qtype.name],
                          raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path, stored


def test_plain_tensors_come_back_as_they_are(model):
    path, stored = model
    w = kc.load(path)
    for name in ("f32", "f16", "bf16"):
        assert w[name].dtype == stored[name].dtype and w[name].tobytes() == stored[name].tobytes()


@pytest.mark.parametrize("qtype", ["Q8_0", "Q4_0", "Q4_K", "Q6_K"])
def test_quantized_tensors_as_values_equal_gguf_dequantize_and_as_codes_equal_the_blocks(model, qtype):
    path, stored = model
    name = f"blk.0.{qtype.lower()}.weight"
    w = kc.load(path, floats_only=False)
    values = w[name]
    assert values.dtype == np.float32 and values.shape == (ROWS, COLS)
    assert np.array_equal(values, dequantize(stored[qtype], Q[qtype]).reshape(ROWS, COLS))
    codes = w[f"{name}@{qtype}-codes"]
    block, size = gguf.GGML_QUANT_SIZES[Q[qtype]]
    assert codes.dtype == np.uint8 and codes.shape == (ROWS * COLS // block, size)
    assert codes.tobytes() == stored[qtype].tobytes()
    if qtype in ("Q8_0", "Q4_0"):  # the values are close to the weights they quantize
        assert np.abs(values - stored["f32"]).max() < (0.05 if qtype == "Q8_0" else 0.6)


def test_the_mode_is_named_in_the_table_and_codes_need_floats_only_false(model):
    path, _ = model
    default = kc.analyse(path, "raw|zstd-3", cache=False, progress=False)
    assert not any(default["tensor"].str.endswith("-codes"))
    both = kc.analyse(path, "raw|zstd-3", floats_only=False, include="blk.0.q4_0.*", cache=False, progress=False)
    assert sorted(both["tensor"]) == ["blk.0.q4_0.weight", "blk.0.q4_0.weight@Q4_0-codes"]
    codes = both.set_index("tensor").loc["blk.0.q4_0.weight@Q4_0-codes"]
    assert codes["n_params"] == ROWS * COLS // 32 * 18  # the bytes the file stores for this tensor


def test_a_truncated_file_is_refused_with_a_clear_error(model, tmp_path):
    path, _ = model
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(path.read_bytes()[:-600])
    with pytest.raises(SourceError, match="cut.gguf"):
        kc.load(cut)


def test_workers_map_the_file_themselves_and_the_cli_measures_codes_with_all_dtypes(model, tmp_path, capsys):
    from kcomplexity.cli import main

    path, _ = model
    one = kc.analyse(path, "raw|zstd-3", floats_only=False, cache=False, progress=False)
    two = kc.analyse(path, "raw|zstd-3", floats_only=False, cache=False, progress=False, workers=2)
    assert one["bits"].tolist() == two["bits"].tolist() and len(one) == 3 + 2 * 4
    out = tmp_path / "codes.csv"
    assert main(["estimate", str(path), "-e", "raw|zstd-3", "--all-dtypes", "--include", "*-codes", "--no-cache",
                 "-q", "--out", str(out)]) == 0
    import pandas as pd
    table = pd.read_csv(out)
    assert sorted(table["tensor"]) == sorted(f"blk.0.{q.lower()}.weight@{q}-codes" for q in ("Q8_0", "Q4_0", "Q4_K", "Q6_K"))
    assert table.set_index("tensor")["bits"].to_dict() == one.set_index("tensor")["bits"][table["tensor"]].to_dict()
