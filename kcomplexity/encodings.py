"""Encodings: tensor -> streams of bytes or symbols (numpy only).

An encoding turns one array into one or more named ``Stream``s plus the side
information a decoder needs (``side_bits``: quantisation scale and offset).
Shape and dtype are treated as known to the decoder (they are the architecture).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .arrays import BFLOAT16, UINT_OF_SIZE, bit_patterns, dtype_name, is_float, to_float
from .errors import InputError, SpecError
from .specced import Specced

# IEEE layouts: dtype -> (exponent bits, mantissa bits); sign is 1 bit.
FLOAT_LAYOUT = {np.dtype(np.float16): (5, 10), BFLOAT16: (8, 7),
                np.dtype(np.float32): (8, 23), np.dtype(np.float64): (11, 52)}
SIDE_BITS_PER_PARAM = 32  # a float32 scale or offset


@dataclass
class Stream:
    """One stream an encoding emits.

    ``data`` holds symbols ``0..nsymbols-1`` (any integer dtype, 1-D or 2-D), or,
    when ``nsymbols`` is None, raw values whose little-endian bytes are the stream.
    ``segments``: the sizes of the tensors the stream joins, in order, when block
    coders must pad each one on its own (see ``cut_blocks``); None for one piece.
    """
    name: str
    data: np.ndarray
    nsymbols: int | None = None
    segments: tuple[int, ...] | None = None

    def to_bytes(self) -> memoryview:
        """The stream as bytes for a byte coder: bits packed, codes as uint8/uint16 LE."""
        if self.nsymbols is None:
            return memoryview(np.ascontiguousarray(self.data.reshape(-1)).view(np.uint8))
        if self.nsymbols == 2:
            return memoryview(np.packbits(self.data.reshape(-1).astype(np.uint8, copy=False)))
        width = np.uint8 if self.nsymbols <= 256 else np.dtype("<u2")
        codes = np.ascontiguousarray(self.data.reshape(-1).astype(width, copy=False))
        return memoryview(codes.view(np.uint8))


def cut_blocks(flat: np.ndarray, size: int, segments: tuple[int, ...] | None = None) -> tuple[np.ndarray, int]:
    """``flat`` as rows of ``size`` values, each segment (or the whole, when ``segments`` is
    None) zero-padded at its end to a multiple of ``size``. Returns (blocks, total padding).

    >>> cut_blocks(np.arange(1, 6), 2, (3, 2))[0].tolist()
    [[1, 2], [3, 0], [4, 5]]
    """
    pieces = np.split(flat, np.cumsum(segments)[:-1]) if segments else [flat]
    pads = [(-len(p)) % size for p in pieces]
    if any(pads):
        pieces = [np.concatenate([p, np.zeros(pad, flat.dtype)]) for p, pad in zip(pieces, pads)]
    return np.concatenate(pieces).reshape(-1, size), sum(pads)


def uncut_blocks(blocks: np.ndarray, segments: tuple[int, ...] | None, padding: int) -> np.ndarray:
    """Invert ``cut_blocks``: the flat values without the padding."""
    flat = blocks.reshape(-1)
    if not segments:
        return flat[:flat.size - padding]
    size = blocks.shape[1]
    starts = np.cumsum([0] + [-(-n // size) * size for n in segments[:-1]])
    return np.concatenate([flat[start:start + n] for start, n in zip(starts, segments)])


@dataclass
class Encoded:
    streams: list[Stream]
    side_bits: int = 0
    meta: dict = field(default_factory=dict)


class Encoding(Specced):
    """Base class. Subclasses set ``family``, ``lossless`` and implement ``encode``."""
    kind = "encoding"
    lossless = True

    def encode(self, x: np.ndarray) -> Encoded:
        raise NotImplementedError

    def decode(self, enc: Encoded, shape: tuple, dtype: np.dtype) -> np.ndarray:
        raise SpecError(f"encoding {self.spec!r} is lossy and cannot be decoded")


def little_endian(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x)
    return x if x.dtype.byteorder in "=|<" or x.dtype.itemsize == 1 else x.astype(x.dtype.newbyteorder("<"))


class Raw(Encoding):
    """The native dtype bytes, little-endian."""
    family = "raw"

    def encode(self, x):
        return Encoded([Stream("raw", little_endian(x).reshape(-1))])

    def decode(self, enc, shape, dtype):
        data = enc.streams[0].data
        return np.frombuffer(bytes(Stream("raw", data).to_bytes()), dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)


class Fields(Encoding):
    """IEEE fields split into streams: sign bits, exponents, mantissa byte planes (MSB first).

    The byte-grouping of ZipNN-style codecs: exponents of trained weights are
    highly skewed and compress well once separated from the noisy mantissa.
    """
    family = "fields"

    def encode(self, x):
        if not is_float(x.dtype):
            raise InputError(f"'fields' needs a float tensor, got {dtype_name(x.dtype)}: use 'raw' for integers")
        exp_bits, man_bits = FLOAT_LAYOUT[np.dtype(x.dtype)]
        u = bit_patterns(x.reshape(-1)).astype(np.uint64)
        sign = (u >> np.uint64(exp_bits + man_bits)).astype(np.uint8)
        exponent = ((u >> np.uint64(man_bits)) & np.uint64((1 << exp_bits) - 1))
        exponent = exponent.astype(np.uint8 if exp_bits <= 8 else np.uint16)
        mantissa = u & np.uint64((1 << man_bits) - 1)
        n_planes = -(-man_bits // 8)
        streams = [Stream("sign", sign, 2), Stream("exponent", exponent, 1 << exp_bits)]
        for i in range(n_planes):
            shift = np.uint64(8 * (n_planes - 1 - i))
            streams.append(Stream(f"mantissa_{i}", ((mantissa >> shift) & np.uint64(255)).astype(np.uint8), 256))
        return Encoded(streams)

    def decode(self, enc, shape, dtype):
        dtype = np.dtype(dtype)
        exp_bits, man_bits = FLOAT_LAYOUT[dtype]
        s = {st.name: st.data.astype(np.uint64) for st in enc.streams}
        mantissa = np.zeros_like(s["sign"])
        n_planes = -(-man_bits // 8)
        for i in range(n_planes):
            mantissa |= s[f"mantissa_{i}"] << np.uint64(8 * (n_planes - 1 - i))
        u = (s["sign"] << np.uint64(exp_bits + man_bits)) | (s["exponent"] << np.uint64(man_bits)) | mantissa
        return u.astype(UINT_OF_SIZE[dtype.itemsize]).view(dtype).reshape(shape)


class Sign(Encoding):
    """One bit per weight, w > 0 (the MoMos reference's BDM input)."""
    family = "sign"
    lossless = False

    def encode(self, x):
        return Encoded([Stream("sign", (to_float(x.reshape(-1)) > 0).astype(np.uint8), 2)])


def _parse_quant_options(family: str, bits: int | None, options: list[str]) -> dict:
    if bits is None:
        raise SpecError(f"{family!r} needs a bit width, e.g. '{family}8'")
    kw: dict = {"bits": bits}
    for opt in options:
        if opt == "sym":
            kw["scheme"] = "sym"
        elif opt == "minmax":
            kw["robust"] = None
        elif opt.startswith("p"):
            try:
                kw["robust"] = float(opt[1:])
            except ValueError:
                raise SpecError(f"bad clipping option {opt!r}: use e.g. '-p99.9'") from None
        elif opt == "tiled" and family == "bitplanes":
            kw["tiled"] = True
        else:
            raise SpecError(f"unknown option {opt!r} for {family!r}: use -sym, -minmax, -pNN"
                            + (" or -tiled" if family == "bitplanes" else ""))
    return kw


class Quantize(Encoding):
    """Uniform B-bit codes (B = 1..16), lossy.

    ``scheme="asym"`` (QuBD): range [lo, hi] = [min, max], or the quantiles
    (1 - p/100)/2 and 1 - (1 - p/100)/2 with ``robust=p`` (default 99.9);
    step = (hi - lo) / (2^B - 1); code = clamp(round((w - lo) / step), 0, 2^B - 1).
    ``scheme="sym"`` (MoMos QAT): Q = 2^(B-1) - 1, scale = max|w| / Q,
    code = clamp(round(w / scale), -Q, Q) + Q.
    Scale and offset count as 2 x 32 side bits. NaN maps to the code of 0.
    """
    family = "q"
    pattern = "qB[-sym|-minmax|-pNN] (B = 1..16)"
    lossless = False

    def __init__(self, bits: int = 8, scheme: str = "asym", robust: float | None = 99.9):
        if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 16:
            raise SpecError(f"quantisation bits must be an integer in 1..16, got {bits!r}")
        if scheme not in ("asym", "sym"):
            raise SpecError(f"quantisation scheme must be 'asym' or 'sym', got {scheme!r}")
        if scheme == "sym" and bits < 2:
            raise SpecError("symmetric quantisation needs bits >= 2 (Q = 2^(B-1) - 1 is 0 for B = 1)")
        if robust is not None and not 0 < robust <= 100:
            raise SpecError(f"robust clipping percentile must be in (0, 100], got {robust}")
        self.bits, self.scheme = int(bits), scheme
        self.robust = None if scheme == "sym" else robust

    @property
    def spec(self):
        s = f"{self.family}{self.bits}"
        if self.scheme == "sym":
            return s + "-sym"
        if self.robust is None:
            return s + "-minmax"
        return s if self.robust == 99.9 else f"{s}-p{self.robust:g}"

    @classmethod
    def from_spec(cls, number, options):
        return cls(**_parse_quant_options("q", number, options))

    def codes(self, x: np.ndarray) -> np.ndarray:
        """The integer codes, same shape as ``x``, dtype uint8 or uint16."""
        w = to_float(x).astype(np.float64)
        finite = w[np.isfinite(w)] if not np.isfinite(w).all() else w
        if finite.size == 0:
            finite = np.zeros(1)
        levels = (1 << self.bits) - 1
        if self.scheme == "sym":
            q = (1 << (self.bits - 1)) - 1
            scale = float(np.abs(finite).max()) / q or 1.0
            c = np.clip(np.rint(np.nan_to_num(w / scale)), -q, q) + q
        else:
            if self.robust is None or self.robust == 100:
                lo, hi = float(finite.min()), float(finite.max())
            else:
                tail = (1 - self.robust / 100) / 2
                lo, hi = (float(v) for v in np.quantile(finite, [tail, 1 - tail]))
            step = (hi - lo) / levels or 1.0
            c = np.clip(np.rint(np.nan_to_num((w - lo) / step, nan=-lo / step)), 0, levels)
        return c.astype(np.uint8 if self.bits <= 8 else np.uint16)

    def encode(self, x):
        return Encoded([Stream(self.spec, self.codes(x).reshape(-1), 1 << self.bits)],
                       side_bits=2 * SIDE_BITS_PER_PARAM)


class Bitplanes(Encoding):
    """The B bit-planes of the ``qB`` codes, LSB first (QuBD), as 2-D binary matrices.

    Tensors are reshaped to (rows, -1); 1-D tensors become one row. With
    ``tiled=True`` the planes are interleaved into one matrix of 2x2 tiles
    (B = 4) or 4x2 tiles (B = 8) instead.
    """
    family = "bitplanes"
    pattern = "bitplanesB[-sym|-minmax|-pNN][-tiled]"
    TILES = {4: (2, 2), 8: (4, 2)}

    def __init__(self, bits: int = 8, scheme: str = "asym", robust: float | None = 99.9, tiled: bool = False):
        self.quantize = Quantize(bits, scheme, robust)
        if tiled and bits not in self.TILES:
            raise SpecError(f"tiled bit-planes exist for 4 or 8 bits, got {bits}")
        self.tiled = tiled
        self.lossless = False

    @property
    def bits(self) -> int:
        return self.quantize.bits

    @property
    def spec(self):
        return self.family + self.quantize.spec[1:] + ("-tiled" if self.tiled else "")

    @classmethod
    def from_spec(cls, number, options):
        return cls(**_parse_quant_options("bitplanes", number, options))

    def encode(self, x):
        matrix = x.reshape(x.shape[0], -1) if x.ndim >= 2 else x.reshape(1, -1)
        codes = self.quantize.codes(matrix)
        planes = [((codes >> i) & 1).astype(np.uint8) for i in range(self.bits)]
        if self.tiled:
            streams = [Stream("tiled", interleave(planes, self.TILES[self.bits]), 2)]
        else:
            streams = [Stream(f"plane_{i}", p, 2) for i, p in enumerate(planes)]
        return Encoded(streams, side_bits=2 * SIDE_BITS_PER_PARAM)


def interleave(planes: list[np.ndarray], tile: tuple[int, int]) -> np.ndarray:
    """Place plane i of each cell at tile position divmod(i, tile_width) (row-major)."""
    th, tw = tile
    rows, cols = planes[0].shape
    out = np.empty((rows, th, cols, tw), dtype=np.uint8)
    for i, plane in enumerate(planes):
        out[:, i // tw, :, i % tw] = plane
    return out.reshape(rows * th, cols * tw)
