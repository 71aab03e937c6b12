"""Scale benchmark (issue 13): an LLM-shaped sharded checkpoint, estimators against a zstd-3 anchor.

Builds a Hugging Face-style model folder (``model.safetensors.index.json`` + shards) of
a Llama-shaped model (embeddings, q/k/v/o attention, MLP gate/up/down at ~2.75x the
hidden size, RMS norms, untied lm_head) with ``--params`` parameters (default 3e8) in a
temporary folder, deletes it afterwards, and prints side by side, per dtype (bf16 and
float32, the same shapes):

1. the anchor: every tensor read with the reader ``analyse`` uses (``kc.load``) and its bytes
   compressed with zstandard level 3 one-shot (reading included on both sides, done alike);
2. ``kc.analyse(folder, spec)`` time for fields|entropy, fields|zstd-3, raw|zstd-3,
   bitplanes8|bdm2d and its size-stable form bitplanes8|bdm2d-tile64, and fields|ctx (ideal
   length), as a multiple of the anchor (targets 1.0x, 1.5x, 1.2x, 2.0x, 2.0x, 1.5x);
3. the peak RSS (VmHWM) of a fresh process running ``kc.analyse(folder, ["fields|entropy"])``
   on the whole model and on its first two layers only (target <= 3 x largest tensor
   + 300 MB, for both: independent of the number of tensors);
4. ``analyse`` of the whole model (the estimators of section 2) with 2 workers vs 1 (target >= 1.8x);
5. ``raw|lzma-9-c64M`` on one tensor of ``--lzma-mib`` MiB (default 256) with 1 and 2
   workers (target >= 1.8x) and, unless ``--no-frame``, ``raw|lzma-9`` as one frame:
   how much looser the chunked bound is. lzma-9 runs at about 1 MB/s here, so this
   section dominates the run time (``--lzma-dtypes`` picks its dtypes, default bf16).

Each target line ends in PASS or FAIL. The 2-worker targets need an otherwise idle
2-core machine. Weights are Gaussian (std 0.02; norms around 1), cast to the dtype.

Run: ``.venv/bin/python benchmarks/bench_scale.py [--params 1e9] [--dtypes bf16,fp32]
[--lzma-mib 256] [--lzma-dtypes bf16,fp32] [--no-frame] [--quick] [--only SPEC,SPEC] [--repeat N]``;
``--only`` times just those specs (section 2 only), ``--repeat`` keeps the best of N alternating runs.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import ml_dtypes
import numpy as np
import zstandard

import kcomplexity as kc
from kcomplexity.encodings import Fields

DTYPES = {"bf16": (np.dtype(ml_dtypes.bfloat16), "BF16"), "fp32": (np.dtype(np.float32), "F32")}
TARGETS = {"fields|entropy": 1.0, "fields|zstd-3": 1.5, "raw|zstd-3": 1.2, "bitplanes8|bdm2d": 2.0,
           "bitplanes8|bdm2d-tile64": 2.0, "fields|ctx": 1.5}
SHARD_BYTES = 400 << 20
CHUNKED = "raw|lzma-9-c64M"
RSS_CHILD = """
import sys, kcomplexity
include = sys.argv[2].split(",") if len(sys.argv) > 2 else None
df = kcomplexity.analyse(sys.argv[1], ["fields|entropy"], include=include, cache=False, progress=False)
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) * 1024
print(peak, len(df))
"""


# ---------------------------------------------------------------- the model
def llm_shapes(params: float) -> dict[str, tuple[int, ...]]:
    """Llama-style tensor shapes with about ``params`` parameters (at least 2 layers)."""
    hidden = 1024 if params < 6e8 else 2048
    inter, vocab = int(2.75 * hidden) // 64 * 64, 32000
    per_layer = 4 * hidden * hidden + 3 * hidden * inter + 2 * hidden
    layers = max(2, math.ceil((params - 2 * vocab * hidden - hidden) / per_layer))
    shapes = {"model.embed_tokens.weight": (vocab, hidden)}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes.update({p + "input_layernorm.weight": (hidden,), p + "post_attention_layernorm.weight": (hidden,)})
        shapes.update({p + f"self_attn.{n}_proj.weight": (hidden, hidden) for n in "qkvo"})
        shapes.update({p + "mlp.gate_proj.weight": (inter, hidden), p + "mlp.up_proj.weight": (inter, hidden),
                       p + "mlp.down_proj.weight": (hidden, inter)})
    shapes.update({"model.norm.weight": (hidden,), "lm_head.weight": (vocab, hidden)})
    return shapes


def weight(rng, name: str, shape, dtype) -> np.ndarray:
    w = rng.standard_normal(shape, dtype=np.float32)
    return (1 + 0.05 * w if name.endswith("norm.weight") else 0.02 * w).astype(dtype)


def write_shard(path: Path, tensors: list[tuple[str, np.ndarray]], tag: str) -> None:
    """A .safetensors file written tensor by tensor (header: offsets; then the raw bytes)."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, a in tensors:
        header[name] = {"dtype": tag, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for _, a in tensors:
            f.write(np.ascontiguousarray(a).view(np.uint8).data)


def write_model(folder: Path, shapes: dict, dtype_key: str, seed: int = 0) -> None:
    """The HF folder: shards of at most SHARD_BYTES plus the index."""
    dtype, tag = DTYPES[dtype_key]
    rng, shards, current, size = np.random.default_rng(seed), [], [], 0
    for name, shape in shapes.items():
        nbytes = int(np.prod(shape)) * dtype.itemsize
        if current and size + nbytes > SHARD_BYTES:
            shards.append(current)
            current, size = [], 0
        current.append((name, shape))
        size += nbytes
    shards.append(current)
    weight_map = {}
    for k, members in enumerate(shards, 1):
        file = f"model-{k:05d}-of-{len(shards):05d}.safetensors"
        write_shard(folder / file, [(n, weight(rng, n, s, dtype)) for n, s in members], tag)
        weight_map.update({n: file for n, _ in members})
    index = {"metadata": {"total_size": sum(int(np.prod(s)) * dtype.itemsize for s in shapes.values())},
             "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))


def tensor_bytes(folder: Path):
    """Every tensor's raw bytes, read from its shard one at a time."""
    for shard in sorted(folder.glob("*.safetensors")):
        with open(shard, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
            for name, meta in header.items():
                if name != "__metadata__":
                    begin, end = meta["data_offsets"]
                    f.seek(8 + n + begin)
                    yield f.read(end - begin)


# ---------------------------------------------------------------- measurements
CPU = {}  # CPU seconds (user + system, this process and its finished workers) of the last timed call


def timed(fn, *args, **kw) -> tuple[float, object]:
    """Wall seconds and result of ``fn(*args)``; its CPU seconds go to ``CPU["last"]``."""
    start, cpu = time.perf_counter(), os.times()
    out = fn(*args, **kw)
    CPU["last"] = sum(os.times()[:4]) - sum(cpu[:4])
    return time.perf_counter() - start, out


def anchor(folder: Path) -> tuple[float, int]:
    """zstd-3 one-shot over every tensor, each read as ``analyse`` reads it (``kc.load``: the
    same reader, the same bytes), so that reading costs both sides alike."""
    def run():
        cctx, weights = zstandard.ZstdCompressor(level=3), kc.load(str(folder))
        return sum(len(cctx.compress(np.ascontiguousarray(weights[name]).view(np.uint8).data)) for name in weights)
    return timed(run)


def fields_codec_floor(folder: Path, dtype) -> float:
    """zstd-3's own time on the fields streams of every tensor (the compress calls only)."""
    cctx, seconds = zstandard.ZstdCompressor(level=3), 0.0
    for raw in tensor_bytes(folder):
        for stream in Fields().encode(np.frombuffer(raw, dtype)).streams:
            data = stream.to_bytes()
            seconds += timed(cctx.compress, data)[0]
    return seconds


def analyse(folder, specs, workers: int = 1, include=None):
    return kc.analyse(str(folder), specs, workers=workers, include=include, cache=False, progress=False)


def peak_rss(folder: Path, include: list[str] | None = None) -> tuple[int, int]:
    args = [sys.executable, "-c", RSS_CHILD, str(folder)] + ([",".join(include)] if include else [])
    peak, rows = subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()
    return int(peak), int(rows)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def model_section(params: float, dtype_key: str, only: list[str] | None = None, repeat: int = 1) -> None:
    """The model's sections; ``only``: time just these specs (no RSS or worker sections);
    ``repeat``: time the anchor and each spec that many times, alternating, and keep the best."""
    shapes = llm_shapes(params)
    dtype = DTYPES[dtype_key][0]
    largest = max(int(np.prod(s)) for s in shapes.values()) * dtype.itemsize
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        folder = Path(tmp)
        write_model(folder, shapes, dtype_key)
        os.sync()  # no write-back of the new shards while timing
        n_params = sum(int(np.prod(s)) for s in shapes.values())
        size = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
        print(f"\n== {dtype_key}: {n_params / 1e6:.0f}M parameters, {len(shapes)} tensors, "
              f"{len(list(folder.glob('*.safetensors')))} shards, {size / 2**20:.0f} MiB; "
              f"largest tensor {largest / 2**20:.1f} MiB")
        analyse(folder, "raw|zstd-3", include=["model.norm.weight"])  # warm-up: imports, page cache
        specs = {spec: TARGETS.get(spec) for spec in only} if only else TARGETS
        runs = [(anchor(folder), CPU["last"])]
        timings: dict = {spec: [] for spec in specs}
        for i in range(repeat):
            if i:
                runs.append((anchor(folder), CPU["last"]))
            for spec in specs:
                timings[spec].append((timed(analyse, folder, spec), CPU["last"]))
        (t_anchor, zbytes), cpu_anchor = min(runs, key=lambda r: r[0][0])
        best = f" (best of {repeat})" if repeat > 1 else ""
        print(f"{'anchor: zstd-3 one-shot, read + compress':44s} {t_anchor:7.2f} s   1.00x   "
              f"({size / t_anchor / 1e6:.0f} MB/s, ratio {size / zbytes:.3f}){best}")
        for spec, target in specs.items():
            (seconds, df), cpu = min(timings[spec], key=lambda r: r[0][0])
            CPU["last"] = cpu
            ratio = seconds / t_anchor
            if target is None:
                print(f"{'analyse ' + spec:44s} {seconds:7.2f} s {ratio:6.2f}x   (bits/param "
                      f"{df.bits.sum() / df.n_params.sum():.3f})")
                continue
            print(f"{'analyse ' + spec:44s} {seconds:7.2f} s {ratio:6.2f}x   target <= {target:.1f}x  "
                  f"{verdict(ratio <= target)}   (CPU time {CPU['last'] / cpu_anchor:.2f}x the anchor's; "
                  f"bits/param {df.bits.sum() / df.n_params.sum():.3f})")
            if spec == "fields|zstd-3":
                floor = fields_codec_floor(folder, dtype)
                print(f"{'  codec floor: zstd-3 on the same streams':44s} {floor:7.2f} s {floor / t_anchor:6.2f}x   "
                      "(compress calls alone: the codec's own work on these streams)")
        if only:
            return
        budget = 3 * largest + 300e6
        first_two = ["model.embed_tokens.weight", "model.layers.0.*", "model.layers.1.*"]
        for label, include in (("whole model", None), ("embeddings + 2 layers", first_two)):
            peak, rows = peak_rss(folder, include)
            print(f"{'peak RSS fields|entropy, ' + label:44s} {peak / 1e6:7.0f} MB ({rows} tensors)  "
                  f"target <= {budget / 1e6:.0f} MB  {verdict(peak <= budget)}")
        specs = list(TARGETS)
        t1, df1 = timed(analyse, folder, specs, 1)
        t2, df2 = timed(analyse, folder, specs, 2)
        same = np.array_equal(df1.bits.to_numpy(), df2.bits.to_numpy(), equal_nan=True)
        print(f"{f'analyse, {len(specs)} estimators, 1 vs 2 workers':44s} {t1:7.2f} s / {t2:.2f} s = {t1 / t2:.2f}x  "
              f"target >= 1.8x  {verdict(t1 / t2 >= 1.8 and same)}   (same bits: {same}; "
              f"{CPU['last'] / t2:.2f} cores busy with 2)")


def lzma_section(mib: int, dtype_key: str, frame: bool) -> None:
    dtype, tag = DTYPES[dtype_key]
    shape = (mib * 2**20 // (1024 * dtype.itemsize), 1024)
    with tempfile.TemporaryDirectory(prefix="bench_scale_lzma_") as tmp:
        folder = Path(tmp)
        write_shard(folder / "model.safetensors", [("embed.weight", weight(np.random.default_rng(1), "embed", shape, dtype))], tag)
        print(f"\n== {CHUNKED} on one {dtype_key} tensor {shape[0]}x{shape[1]} ({mib} MiB)")
        t1, df1 = timed(analyse, folder, CHUNKED, 1)
        t2, df2 = timed(analyse, folder, CHUNKED, 2)
        same = df1.bits.tolist() == df2.bits.tolist()
        print(f"{'1 vs 2 workers':44s} {t1:7.1f} s / {t2:.1f} s = {t1 / t2:.2f}x  target >= 1.8x  "
              f"{verdict(t1 / t2 >= 1.8 and same and mib >= 256)}   (same bits: {same}; "
              f"{CPU['last'] / t2:.2f} cores busy with 2; "
              f"{mib * 2**20 / t1 / 1e6:.2f} MB/s with 1 worker)")
        if frame:
            t0, df0 = timed(analyse, folder, "raw|lzma-9", 1)
            chunked, one = df1.bits.iloc[0], df0.bits.iloc[0]
            print(f"{'raw|lzma-9, one frame':44s} {t0:7.1f} s   bits/param {one / df0.n_params.iloc[0]:.4f} vs "
                  f"{chunked / df1.n_params.iloc[0]:.4f} chunked: the chunked bound is "
                  f"{100 * (chunked / one - 1):.3f}% looser")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=float, default=3e8, help="model size (default 3e8)")
    ap.add_argument("--dtypes", default="bf16,fp32", help="model dtypes (bf16, fp32)")
    ap.add_argument("--lzma-mib", type=int, default=256, help="size of the lzma tensor (MiB; target needs >= 256)")
    ap.add_argument("--lzma-dtypes", default="bf16", help="dtypes of the lzma section ('' to skip)")
    ap.add_argument("--no-frame", action="store_true", help="skip the one-frame raw|lzma-9 comparison")
    ap.add_argument("--quick", action="store_true", help="tiny sizes for a smoke run (targets not judged)")
    ap.add_argument("--only", help="comma-separated specs: time only these against the anchor (skips the RSS, "
                    "worker and lzma sections), e.g. 'bitplanes8|bdm2d,bitplanes8|bdm2d-tile64'")
    ap.add_argument("--repeat", type=int, default=1, help="time the anchor and each spec N times, keep the best")
    args = ap.parse_args()
    if args.quick:
        args.params, args.lzma_mib = 2e7, 4
    print(f"kcomplexity {kc.__version__}; targets as multiples of the anchor's time, measured in this run; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start")
    warnings.simplefilter("ignore")  # BDM saturation on LLM-sized layers is expected here
    only = args.only.split(",") if args.only else None
    for key in filter(None, args.dtypes.split(",")):
        model_section(args.params, key, only, args.repeat)
    for key in filter(None, "" if only else args.lzma_dtypes.split(",")):
        lzma_section(args.lzma_mib, key, not args.no_frame)


if __name__ == "__main__":
    main()
