"""Conversion at the edge: numpy arrays, torch tensors and sequences -> numpy arrays.

The core (encodings, coders) runs on numpy only. bfloat16 is carried by the
``ml_dtypes`` numpy dtype so that its raw bytes stay bit-exact. Every weight
conversion goes through here: torch detection (``is_torch``, ``is_module``),
dtype names, ``as_array`` and ``to_float``.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import ml_dtypes
import numpy as np

from .errors import InputError

try:
    from . import _native  # C counting loops, built at install where a compiler is present
except ImportError:  # not built: numpy computes the same counts, slower
    _native = None  # type: ignore[assignment]

BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
FLOAT_DTYPES = (np.dtype(np.float16), BFLOAT16, np.dtype(np.float32), np.dtype(np.float64))


UINT_OF_SIZE: dict[int, np.dtype] = {1: np.dtype(np.uint8), 2: np.dtype(np.uint16), 4: np.dtype(np.uint32), 8: np.dtype(np.uint64)}


def bit_patterns(x: np.ndarray) -> np.ndarray:
    """``x`` viewed as unsigned integers of the same width: its raw bit patterns."""
    return np.ascontiguousarray(x).view(UINT_OF_SIZE[x.dtype.itemsize])


def is_torch(x) -> bool:
    """True for a torch object (tensor, dtype), told by its type's module without importing torch."""
    return type(x).__module__.split(".")[0] == "torch"


def is_module(obj) -> bool:
    """True for a torch ``nn.Module``, user subclasses included (checked without importing torch)."""
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(obj).__mro__)


def is_float(dtype: np.dtype) -> bool:
    return np.dtype(dtype) in FLOAT_DTYPES


def dtype_name(dtype) -> str:
    """``"float32"``, ``"bfloat16"``, ...: the one name of a numpy or torch dtype.

    >>> dtype_name(BFLOAT16), FLOAT_NAMES
    ('bfloat16', ('float16', 'bfloat16', 'float32', 'float64'))
    """
    try:
        return _dtype_name(dtype)
    except TypeError:  # unhashable: not cached
        return _dtype_name.__wrapped__(dtype)


@lru_cache(maxsize=256)
def _dtype_name(dtype) -> str:
    if is_torch(dtype):
        return str(dtype).removeprefix("torch.")
    return "bfloat16" if np.dtype(dtype) == BFLOAT16 else np.dtype(dtype).name


FLOAT_NAMES = tuple(dtype_name(d) for d in FLOAT_DTYPES)


TORCH_NUMPY_DTYPES = frozenset("float16 float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64 "
                               "bool".split())  # torch dtypes that .numpy() turns into the same bits


def _from_torch(t) -> np.ndarray:
    import torch  # only reached when a torch tensor is given

    t = t.detach()
    check_dense(t)
    if t.device.type != "cpu":
        t = t.cpu()
    if t.is_complex():
        raise InputError(f"complex tensor ({t.dtype}) given: measure .real and .imag separately")
    if t.dtype == torch.bfloat16:
        return t.contiguous().view(torch.int16).numpy().view(BFLOAT16)
    if dtype_name(t.dtype) not in TORCH_NUMPY_DTYPES:  # float8/float4 kinds, bits8, quantized, ...
        raise InputError(f"{t.dtype} tensors are not supported (unsupported dtype): cast to float16 or float32 "
                         "first, or leave them out")
    return t.contiguous().numpy()


def check_dense(t) -> None:
    """Refuse torch tensors that hold no plain dense array of numbers."""
    import torch

    kind = ("a nested" if t.is_nested else "a meta-device (no data)" if t.is_meta else
            f"a sparse ({str(t.layout).replace('torch.', '')})" if t.layout != torch.strided else
            "a quantized" if t.is_quantized else None)
    if kind:
        raise InputError(f"{kind} tensor ({t.dtype}) given: only dense tensors with data can be measured; "
                         "convert it first (.to_dense(), .dequantize(), .unbind() or load it on cpu)")


def as_array(x, *, allow_nonfinite: bool = False) -> np.ndarray:
    """Return ``x`` as a numeric numpy array, or raise InputError saying what is wrong.

    Accepts numpy arrays, torch tensors (any device) and (nested) Python sequences;
    byte-swapped (big-endian) arrays come back in native order, values unchanged.
    Floats must be finite unless ``allow_nonfinite=True``.
    """
    if isinstance(x, Mapping) or is_module(x):
        raise InputError(f"{type(x).__name__} is a whole model, not one tensor: pass one of its tensors, "
                         "or measure the model with kc.analyse(source, per='model')")
    if is_torch(x):
        arr = _from_torch(x)
    else:
        try:
            arr = np.asarray(x)
        except (ValueError, TypeError) as exc:
            raise InputError(f"cannot turn {type(x).__name__} into an array ({exc}); "
                             "pass a numpy array, torch tensor or a rectangular list of numbers") from exc
    if arr.dtype.kind in "OUSVMm" and arr.dtype != BFLOAT16:
        raise InputError(f"non-numeric dtype {arr.dtype} given: pass numbers (float, int or bool)")
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:
        raise InputError(f"{arr.dtype} (extended precision) values given: no estimator reads them; "
                         "cast to float64 first")
    if arr.dtype.kind == "c":
        raise InputError(f"complex dtype {arr.dtype} given: measure .real and .imag separately")
    if arr.size == 0:
        raise InputError(f"empty tensor (shape {arr.shape}): there is nothing to measure")
    if not arr.dtype.isnative:  # big-endian input (a '>f4' .npy): native order at the edge
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if not allow_nonfinite and is_float(arr.dtype):
        _check_finite(arr)
    return arr


# exponent bits of each float layout; all set means NaN or Inf
_EXPONENT_BITS = {np.dtype(np.float16): 0x7C00, BFLOAT16: 0x7F80, np.dtype(np.float32): 0x7F800000,
                  np.dtype(np.float64): 0x7FF0000000000000}
_FINITE_CHUNK = 1 << 20


def _check_finite(arr: np.ndarray) -> None:
    # With the sign shifted out, NaN and Inf have the largest bit patterns: one max per chunk,
    # in a reused buffer, finds any of them without a full-size mask or copy.
    patterns, mask = bit_patterns(arr.reshape(-1)), _EXPONENT_BITS[np.dtype(arr.dtype)]
    shifted = np.empty(min(_FINITE_CHUNK, patterns.size), patterns.dtype)
    top = patterns.dtype.type(mask << 1 & (1 << 8 * patterns.itemsize) - 1)
    for start in range(0, patterns.size, _FINITE_CHUNK):
        chunk = patterns[start:start + _FINITE_CHUNK]
        if np.left_shift(chunk, 1, out=shifted[:chunk.size]).max() >= top:
            break
    else:
        return
    bad = int(np.count_nonzero((patterns & mask) == mask))
    if bad:
        raise InputError(f"{bad} of {arr.size} values are NaN or Inf: fix the weights, "
                         "or pass allow_nonfinite=True (command line: --allow-nonfinite) to measure them as they are")


def to_float(arr: np.ndarray, wide: bool = False) -> np.ndarray:
    """Numeric values as float32 (float64 stays float64) for quantisation and signs, or as
    float64 with ``wide=True`` for arithmetic on weights; no copy when already in that dtype."""
    target = np.float64 if wide or arr.dtype == np.float64 else np.float32
    return arr.astype(target, copy=False)


def histogram(values: np.ndarray, n: int, chunk: int = 1 << 20) -> np.ndarray:
    """``np.bincount(values, minlength=n)`` (int64) for non-negative integers below ``n``."""
    return add_histogram(values, np.zeros(n, np.int64), chunk)


def add_histogram(values: np.ndarray, out: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
    """``out`` (int64) plus the counts of ``values`` (non-negative integers below ``out.size``):
    uint16 and uint32 in one C pass (``_native``, where built), else a chunk at a time so that the intp
    copy ``bincount`` makes stays in cache."""
    flat = values.reshape(-1)
    native = _native and {np.dtype(np.uint16): _native.histogram_u16, np.dtype(np.uint32): _native.histogram_u32}
    if native and flat.dtype in native:  # one pass, no intp copy
        native[flat.dtype](np.ascontiguousarray(flat), out)
        return out
    for start in range(0, flat.size, chunk):
        out += np.bincount(flat[start:start + chunk], minlength=out.size)
    return out


def gather(table: np.ndarray, indices: np.ndarray, chunk: int = 1 << 18) -> np.ndarray:
    """``table[indices]`` (same shape as ``indices``), a chunk at a time with ``np.take``
    so that its intp copy of the indices stays in cache (about 2x faster on large arrays)."""
    flat = indices.reshape(-1)
    out = np.empty(flat.size, table.dtype)
    for start in range(0, flat.size, chunk):
        np.take(table, flat[start:start + chunk], out=out[start:start + chunk])
    return out.reshape(indices.shape)


def check_number(value, what: str, low: float, high: float = float("inf")) -> float:
    """``value`` as a float in [low, high], or InputError (strings, None and bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not low <= value <= high:
        raise InputError(f"{what} must be a number in [{low}, {high}], got {value!r}")
    return float(value)
