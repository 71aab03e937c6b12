"""Weights out: ``save(weights, path)`` writes a ``.safetensors`` file that ``load`` reads back bit for bit."""
from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..arrays import as_array, dtype_name, is_module
from ..errors import InputError
from .readers import SAFETENSORS_DTYPES, open_source

SAFETENSORS_CODES = {name: code for code, name in SAFETENSORS_DTYPES.items()}


def _tensors(weights) -> dict[str, np.ndarray]:
    """Named arrays of a mapping, a variant result (``.weights``), an nn.Module or a checkpoint path."""
    if hasattr(weights, "weights") and isinstance(weights.weights, Mapping):
        weights = weights.weights  # MomosResult / PruneResult
    if isinstance(weights, (str, os.PathLike)) or is_module(weights):
        checkpoint = open_source(weights, False)
        weights = {name: checkpoint.read(name) for name in checkpoint.info()}
    if not isinstance(weights, Mapping):
        raise InputError(f"save takes a mapping name -> tensor, a variant result, an nn.Module or a checkpoint "
                         f"path, got {type(weights).__name__}")
    tensors = {str(name): np.ascontiguousarray(as_array(t, allow_nonfinite=True)) for name, t in weights.items()}
    if not tensors:
        raise InputError("save: no tensors given (the mapping is empty)")
    return tensors


def save(weights, path, metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``weights`` to ``path`` (``.safetensors``): names, shapes, dtypes and bits kept.

    ``weights``: a mapping name -> tensor (numpy or torch; bfloat16 kept), a variant result
    such as ``kc.variants.momos(...)`` (its ``weights``), an ``nn.Module`` (its parameters) or
    a checkpoint path. ``metadata``: string pairs stored in the header. Returns the path.

    >>> import numpy as np, tempfile, os, kcomplexity as kc
    >>> path = kc.save({"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, os.path.join(tempfile.mkdtemp(), "w.safetensors"))
    >>> kc.load(path)["w"].tolist()
    [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(f"save writes .safetensors files; {str(path)!r} has another suffix: name it "
                         f"{path.with_suffix('.safetensors').name}")
    tensors = _tensors(weights)
    header: dict = {"__metadata__": {str(k): str(v) for k, v in (metadata or {}).items()}} if metadata else {}
    offset = 0
    for name, x in tensors.items():
        code = SAFETENSORS_CODES.get(dtype_name(x.dtype))
        if code is None:
            raise InputError(f"save: tensor {name!r} has dtype {x.dtype}, which safetensors cannot store")
        header[name] = {"dtype": code, "shape": list(x.shape), "data_offsets": [offset, offset + x.nbytes]}
        offset += x.nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-byte aligned
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(encoded)) + encoded)
            for x in tensors.values():
                f.write(x.astype(x.dtype.newbyteorder("<"), copy=False).tobytes())
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}; choose another output path") from None
    return path
