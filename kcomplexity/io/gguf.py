"""GGUF files (llama.cpp) through the ``gguf`` package.

Unquantized tensors (F32, F16, BF16, F64, I8 .. I64) are read as they are, BF16 as
bfloat16, bit-exact. A quantized tensor (Q8_0, Q4_0, Q4_K, Q6_K and every other type
``gguf.quants.dequantize`` knows) is listed twice, the mode named in the tensor name:

- ``NAME``: its values as ``gguf.quants.dequantize`` gives them (float32): what the model computes with;
- ``NAME@Q4_0-codes``: its raw code blocks as the file stores them (uint8, one row of
  ``type_size`` bytes per block: scales and packed codes): what the model costs to store.

The code blocks are integers, so the default ``floats_only=True`` leaves them out; measure them
with ``floats_only=False`` (CLI ``--all-dtypes``) and ``include="*-codes"``. Shapes are numpy
order (GGUF lists dimensions innermost first). Big-endian files are refused.
"""
from __future__ import annotations

import os
from math import prod

import numpy as np

from ..arrays import BFLOAT16
from ..errors import SourceError, require
from .checkpoint import Checkpoint

CODES = "-codes"
PLAIN = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64",
         "I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64"}


class GGUFCheckpoint(Checkpoint):
    """The tensors of one ``.gguf`` file; the file is memory-mapped, a tensor read when asked for."""

    def __init__(self, path):
        super().__init__(str(path))
        self.path = str(path)
        self._tensors: dict | None = None
        self._entries, self._info = {}, {}  # listed name -> (tensor name, mode); listed name -> (dtype, shape)
        size = os.path.getsize(self.path)
        for t in self.tensors.values():
            self._add(t, size)

    @property
    def tensors(self) -> dict:
        """``{name: gguf ReaderTensor}`` of the memory-mapped file (mapped again after unpickling)."""
        if self._tensors is None:
            gguf = require("gguf", "gguf", f"reading {os.path.basename(self.path)}")
            try:
                reader = gguf.GGUFReader(self.path)
            except Exception as exc:  # gguf raises ValueError, IndexError, KeyError, ... on damaged headers
                raise SourceError(f"{self.path}: not a readable GGUF file ({type(exc).__name__}: "
                                  f"{str(exc)[:200]}); it may be truncated or corrupt: re-convert or re-download "
                                  "it") from None
            if reader.byte_order != "I":
                raise SourceError(f"{self.path}: a big-endian GGUF file; convert it to little-endian "
                                  "(gguf-convert-endian) first")
            self._tensors = {t.name: t for t in reader.tensors}
        return self._tensors

    def __getstate__(self):
        return {**self.__dict__, "_tensors": None}  # a worker maps the file itself

    def _add(self, t, file_size: int) -> None:
        """List tensor ``t`` after checking that its data lies inside the file."""
        from gguf import GGML_QUANT_SIZES

        kind = t.tensor_type.name
        dims = [int(d) for d in reversed(t.shape.tolist())]
        block, type_size = GGML_QUANT_SIZES[t.tensor_type]
        n = prod(dims)
        if n % block or (dims and dims[-1] % block):
            raise SourceError(f"{self.path}: tensor {t.name!r} ({kind}) has shape {dims}, whose rows are not whole "
                              f"blocks of {block}; the file is corrupt")
        nbytes = n // block * type_size
        if t.data_offset + nbytes > file_size or t.data.nbytes != nbytes:
            raise SourceError(f"{self.path}: tensor {t.name!r} claims {nbytes} bytes at offset {t.data_offset}, "
                              f"beyond the file's {file_size}; it is truncated or corrupt: re-download it")
        if kind in PLAIN:
            self._entries[t.name], self._info[t.name] = (t.name, "plain"), (PLAIN[kind], tuple(dims))
            return
        self._entries[t.name], self._info[t.name] = (t.name, "values"), ("float32", tuple(dims))
        codes = f"{t.name}@{kind}{CODES}"
        self._entries[codes], self._info[codes] = (t.name, "codes"), ("uint8", (n // block, type_size))

    def read(self, name):
        dtype, shape = self._known(name)
        tensor_name, mode = self._entries[name]
        t = self.tensors[tensor_name]
        if mode == "values":
            return self._dequantized(t, name).reshape(shape)
        data = np.array(t.data)  # a copy: the map may close
        return (data.view(BFLOAT16) if dtype == "bfloat16" else data).reshape(shape)

    def _dequantized(self, t, name: str) -> np.ndarray:
        from gguf.quants import dequantize

        try:
            return dequantize(t.data, t.tensor_type)
        except NotImplementedError:
            raise SourceError(f"{self.path}: gguf cannot dequantize {t.tensor_type.name} (tensor {name!r}); "
                              f"measure its code blocks ('{name}@{t.tensor_type.name}{CODES}') or upgrade gguf") \
                from None
