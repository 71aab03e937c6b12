"""The whole model as one stream: the one join behind ``analyse(per="model")``, ``compare`` and ``momos``.

Order: one canonical order for every source, natural name order (``model_order``:
``layers.2`` before ``layers.10``, as ``natural_key`` sorts). A module, a state dict, a
``.pt``, ``.npz``, ``.safetensors`` file or folder of the same weights is the same stream,
whatever order its tensors were registered or stored in.

Dtype rule: no dtype is cast silently.
- Lossless encodings (``raw``, ``fields``) see native bits: tensors are grouped by
  dtype (groups in order of first appearance), each group joined end to end in model
  order and encoded on its own. Stream names get a ``"<dtype>."`` prefix when there
  is more than one group. One dtype is one group, exactly as a single tensor.
- Lossy encodings (``qB``, ``sign``, ``bitplanes``) see the values joined in model
  order: in the tensors' dtype when they share one, else float32 when every dtype
  is exact in float32, else float64.

Padding: with ``pad="tensor"`` (default, as the MoMos reference) every stream carries
``segments``, the sizes of its tensors, and block coders (``motif-S``) and ``momos``
zero-pad each tensor to a multiple of the block size on its own (``cut_blocks``);
with ``pad="model"`` the joined stream is padded once at its end.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from ..arrays import as_array, dtype_name
from ..encodings import Encoded, Encoding, Stream, cut_blocks, uncut_blocks
from ..errors import InputError, VerificationError
from .selection import natural_key

PADS = ("tensor", "model")
EXACT_IN_FLOAT32 = frozenset("float16 bfloat16 float32 int8 uint8 int16 uint16 bool".split())


def model_order(names) -> list[str]:
    """``names`` in the canonical model order: natural name order, whatever the source."""
    return sorted(names, key=natural_key)


class ModelStream:
    """Named tensors (native dtypes) measured as one stream, joined in the canonical model order
    (``model_order``) whatever order they are given in.

    >>> import numpy as np
    >>> m = ModelStream({"a": np.zeros(3, np.float64), "b": np.ones(2, np.float32)})
    >>> m.n_values, m.raw_bits, m.dtype
    (5, 256, 'float64+float32')
    """

    def __init__(self, tensors: Mapping, *, pad: str = "tensor", allow_nonfinite: bool = False):
        if pad not in PADS:
            raise InputError(f"pad must be 'tensor' or 'model', got {pad!r}")
        names = {str(n): n for n in tensors}
        self.names = model_order(names)
        self.tensors = [as_array(tensors[names[n]], allow_nonfinite=allow_nonfinite) for n in self.names]
        if not self.tensors:
            raise InputError("no tensors to join: select at least one tensor")
        self.pad = pad

    @classmethod
    def of(cls, x, *, allow_nonfinite: bool = False) -> "ModelStream":
        """``x`` itself if it is a ModelStream, else the one-tensor stream of ``x``."""
        return x if isinstance(x, ModelStream) else cls({"x": x}, allow_nonfinite=allow_nonfinite)

    # ------------------------------------------------------------ shape of the stream
    @property
    def n_values(self) -> int:
        return sum(int(t.size) for t in self.tensors)

    @property
    def raw_bits(self) -> int:
        """The native size: sum of 8 x itemsize x size over the tensors."""
        return sum(8 * t.dtype.itemsize * int(t.size) for t in self.tensors)

    @property
    def dtype(self) -> str:
        """The dtype name, or the distinct names joined by ``+`` in order of appearance."""
        return "+".join(dict.fromkeys(dtype_name(t.dtype) for t in self.tensors))

    def segments(self, tensors: list[np.ndarray] | None = None) -> tuple[int, ...] | None:
        """Sizes of ``tensors`` (default all) for per-tensor padding; None for one piece."""
        tensors = self.tensors if tensors is None else tensors
        return tuple(int(t.size) for t in tensors) if self.pad == "tensor" and len(tensors) > 1 else None

    def groups(self) -> list[tuple[np.dtype, list[int]]]:
        """(dtype, tensor indices in model order) per dtype, in order of first appearance."""
        out: dict = {}
        for i, t in enumerate(self.tensors):
            out.setdefault(t.dtype, []).append(i)
        return list(out.items())

    def values(self) -> np.ndarray:
        """The values joined in model order (the single tensor itself, shape kept), for lossy encodings."""
        if len(self.tensors) == 1:
            return self.tensors[0]
        dtypes = {t.dtype for t in self.tensors}
        if len(dtypes) == 1:
            target = dtypes.pop()
        else:
            exact = all(dtype_name(d) in EXACT_IN_FLOAT32 for d in dtypes)
            target = np.dtype(np.float32 if exact else np.float64)
        return np.concatenate([t.reshape(-1).astype(target, copy=False) for t in self.tensors])

    # ------------------------------------------------------------ encode / decode
    def encode(self, encoding: Encoding, count: bool = False) -> Encoded:
        """The streams of ``encoding`` for the whole model (see the module doc for the dtype rule);
        ``count=True``: as ``Encoding.count`` gives them, for a coder that reads only histograms."""
        make = encoding.count if count else encoding.encode
        if not encoding.lossless:
            return self._with_segments(make(self.values()), self.tensors, self.segments(), self.n_values)
        groups = self.groups()
        streams, side_bits = [], 0
        for dtype, members in groups:
            tensors = [self.tensors[i] for i in members]
            joined = tensors[0] if len(tensors) == 1 else np.concatenate([t.reshape(-1) for t in tensors])
            enc = self._with_segments(make(joined), tensors, self.segments(tensors), int(joined.size))
            prefix = f"{dtype_name(dtype)}." if len(groups) > 1 else ""
            streams += [replace(s, name=prefix + s.name) for s in enc.streams]
            side_bits += enc.side_bits
        return Encoded(streams, side_bits)

    @staticmethod
    def _with_segments(enc: Encoded, tensors: list[np.ndarray], segments, n: int) -> Encoded:
        """Mark the streams that hold one symbol per value with the tensor sizes and row runs."""
        rows = tuple((t.shape[0], t.size // t.shape[0]) if t.ndim >= 2 and t.shape[0] else (1, t.size)
                     for t in tensors)
        for s in enc.streams:
            if s.size == n:  # from the shape: a bit-plane is not built here
                s.segments, s.rows = segments, rows
        return enc

    def decode(self, encoding: Encoding, encoded: Encoded) -> list[np.ndarray]:
        """Every tensor back from the streams of a lossless ``encoding`` (as ``encode`` made them)."""
        groups = self.groups()
        out: list = [None] * len(self.tensors)
        for dtype, members in groups:
            prefix = f"{dtype_name(dtype)}." if len(groups) > 1 else ""
            mine = [Stream(s.name[len(prefix):], s.data, s.nsymbols) for s in encoded.streams
                    if s.name.startswith(prefix)]
            sizes = [int(self.tensors[i].size) for i in members]
            flat = encoding.decode(Encoded(mine), (sum(sizes),), dtype)
            for i, piece in zip(members, np.split(flat, np.cumsum(sizes)[:-1])):
                out[i] = piece.reshape(self.tensors[i].shape)
        return out

    def check_decoded(self, decoded: list[np.ndarray], what: str) -> None:
        """Raise VerificationError unless every decoded tensor equals its input bit for bit."""
        for name, t, back in zip(self.names, self.tensors, decoded):
            if back.dtype != t.dtype or back.tobytes() != np.ascontiguousarray(t).tobytes():
                raise VerificationError(f"{what}: tensor {name!r} did not decode to its input")

    # ------------------------------------------------------------ blocks (momos)
    def blocks(self, size: int) -> tuple[np.ndarray, int]:
        """The values as float64 rows of ``size`` and the total padding, cut as ``motif-S`` cuts."""
        flat = np.concatenate([t.reshape(-1).astype(np.float64) for t in self.tensors])
        return cut_blocks(flat, size, self.segments())

    def unblock(self, blocks: np.ndarray, padding: int) -> dict[str, np.ndarray]:
        """Invert ``blocks``: name -> flat values of each tensor (padding dropped)."""
        flat = uncut_blocks(blocks, self.segments(), padding)
        sizes = [int(t.size) for t in self.tensors]
        return dict(zip(self.names, np.split(flat, np.cumsum(sizes)[:-1])))
