"""ONNX models through the ``onnx`` package: the graph's initializers (the weights), in graph order.

Values come as the file stores them (ONNX raw data is little-endian; bfloat16 bit-exact).
External data (``save_as_external_data``) is read from the files it names, each of which must
lie inside the model's folder (symlinks resolved), its ``offset``/``length`` inside the file
and its length equal to the tensor's size; checked before anything is allocated.
String tensors are listed (dtype ``string``, left out by ``floats_only``) but never read.
"""
from __future__ import annotations

import os
from math import prod
from pathlib import Path

import numpy as np

from ..arrays import dtype_name
from ..errors import SourceError, require
from .checkpoint import Checkpoint, inside


class OnnxCheckpoint(Checkpoint):
    """The initializers of one ``.onnx`` file (loaded without its external data, read one at a time)."""

    def __init__(self, path):
        super().__init__(str(path))
        self.path = str(path)
        self.folder = Path(self.path).resolve().parent
        self._graph = None
        self._info = {t.name: self._describe(t) for t in self.initializers.values()}

    @property
    def initializers(self) -> dict:
        """``{name: TensorProto}``; the file is parsed again after unpickling."""
        if self._graph is None:
            onnx = require("onnx", "onnx", f"reading {os.path.basename(self.path)}")
            try:
                model = onnx.load(self.path, load_external_data=False)
            except Exception as exc:  # protobuf DecodeError, onnx's own errors, ...
                raise SourceError(f"{self.path}: not a readable ONNX model ({type(exc).__name__}: "
                                  f"{str(exc)[:200]}); it may be truncated or corrupt: re-export it") from None
            self._graph = {t.name: t for t in model.graph.initializer}
        return self._graph

    def __getstate__(self):
        return {**self.__dict__, "_graph": None}

    def _describe(self, t) -> tuple[str, tuple]:
        from onnx import TensorProto, helper

        shape = tuple(int(d) for d in t.dims)
        if any(d < 0 for d in shape):
            raise SourceError(f"{self.path}: initializer {t.name!r} has negative dimensions {list(shape)}; "
                              "the file is corrupt")
        if t.data_type == TensorProto.STRING:
            return "string", shape
        try:
            dtype = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type))
        except Exception:  # an unknown or undefined element type
            raise SourceError(f"{self.path}: initializer {t.name!r} has element type {t.data_type}, which this "
                              "onnx does not know; re-export it or upgrade onnx") from None
        if t.data_location == TensorProto.EXTERNAL:
            self._external(t, prod(shape) * dtype.itemsize)
        elif t.raw_data and len(t.raw_data) != prod(shape) * dtype.itemsize:
            raise SourceError(f"{self.path}: initializer {t.name!r} of shape {list(shape)} ({dtype_name(dtype)}) "
                              f"needs {prod(shape) * dtype.itemsize} bytes but holds {len(t.raw_data)}; "
                              "the file is corrupt")
        return dtype_name(dtype), shape

    def _external(self, t, nbytes: int) -> tuple[Path, int]:
        """The data file and offset of an external initializer, checked to hold exactly ``nbytes``."""
        where = {e.key: e.value for e in t.external_data}
        location = where.get("location", "")
        file = self.folder / location
        if not location or Path(location).is_absolute() or not inside(file, self.folder):
            raise SourceError(f"{self.path}: initializer {t.name!r} keeps its data at {location!r}, outside the "
                              "model's folder; refused. External data lives beside the .onnx file")
        if not file.is_file():
            raise SourceError(f"{self.path}: initializer {t.name!r}: its data file {location!r} is missing; "
                              "copy it beside the .onnx file")
        try:
            offset, length = int(where.get("offset", 0)), int(where.get("length", nbytes))
        except ValueError:
            raise SourceError(f"{self.path}: initializer {t.name!r} has a non-numeric offset or length") from None
        if offset < 0 or length != nbytes or offset + length > file.stat().st_size:
            raise SourceError(f"{self.path}: initializer {t.name!r} claims {length} bytes at offset {offset} of "
                              f"{location!r} ({file.stat().st_size} bytes) for a tensor of {nbytes} bytes; "
                              "the files are corrupt or do not belong together")
        return file, offset

    def read(self, name):
        dtype, shape = self._known(name)
        if dtype == "string":
            raise SourceError(f"{self.path}: initializer {name!r} holds strings, which are not measured; "
                              "leave it out (exclude=...)")
        t = self.initializers[name]
        from onnx import TensorProto, helper, numpy_helper

        np_dtype = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type))
        if t.data_location == TensorProto.EXTERNAL:
            file, offset = self._external(t, prod(shape) * np_dtype.itemsize)
            with open(file, "rb") as f:
                f.seek(offset)
                raw = f.read(prod(shape) * np_dtype.itemsize)
            return np.frombuffer(bytearray(raw), np_dtype).reshape(shape)  # little-endian, as the host
        if t.raw_data:
            return np.frombuffer(t.raw_data, np_dtype).reshape(shape).copy()
        try:
            return numpy_helper.to_array(t).reshape(shape)
        except Exception as exc:  # typed fields that do not fill the shape
            raise SourceError(f"{self.path}: initializer {name!r} cannot be read ({type(exc).__name__}: "
                              f"{str(exc)[:200]}); the file is corrupt") from None
