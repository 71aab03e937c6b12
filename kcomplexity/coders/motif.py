"""``motif-S``: a two-part code for streams made of repeated blocks (a mosaic).

The stream is cut into blocks of S values (the tail zero-padded, the padding
counted in the header). The code is

    header (3 x 32 bits: distinct blocks, S, padding)
    + dictionary: 1 flag bit + the smaller of distinct x S x bits per value (value
      width, or ceil(log2 nsymbols)) and its lzma-9 frame (the values' bytes
      grouped by byte position; tried only when at most half the blocks are distinct)
    + index stream: 2 choice bits + the smallest of a static order-0 code,
      n_blocks x H(index) (``entropy_bits``) + ``histogram_bits``, an adaptive
      Krichevsky-Trofimov code (``kt_bits``, no histogram sent; better when motifs
      are many), and the lzma-9 frame of the indices (``index_frame``; catches runs
      and repeated arrangements, e.g. a mosaic cut at another block size)

The static and KT index lengths are ideal code lengths plus ``coding_overhead``, a proven
bound on the real range coder's excess, so the total bounds the real bitstream that
``Motif.encode`` writes (range-coded indices, ``kcomplexity.coders.rangecode``) and
``Motif.decode`` reads back. The pipeline stores the stream verbatim instead when that is
shorter (1 flag bit, ``with_stored_mode``). The code is never below the entropy of the
block arrangement.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..arrays import UINT_OF_SIZE, bit_patterns
from ..encodings import Stream, cut_blocks, uncut_blocks
from ..errors import InputError, SpecError
from ..specced import ascii_int
from .base import Coded, Coder
from .compressors import Lzma
from .entropy import entropy_bits, histogram_bits
from .rangecode import (coding_overhead, decode_kt, decode_static, encode_kt, encode_static, pack_fields,
                        read_histogram, unpack_fields, write_histogram)

HEADER_BITS = 3 * 32
INDEX_CHOICE_BITS = 2  # which of the three index codes follows
DICTIONARY_CODER = Lzma(9)


def kt_bits(counts: np.ndarray) -> float:
    """Code length of an adaptive Krichevsky-Trofimov (add-1/2) arithmetic code of a sequence with
    these symbol counts over an alphabet of len(counts) symbols, in bits:
    log2 G(n + k/2) - log2 G(k/2) - sum_i [log2 G(c_i + 1/2) - log2 G(1/2)], G = Gamma."""
    from scipy.special import gammaln

    counts = np.asarray(counts, dtype=np.float64)
    k, n = len(counts), counts.sum()
    nats = gammaln(n + k / 2) - gammaln(k / 2) - (gammaln(counts + 0.5) - gammaln(0.5)).sum()
    return float(nats / np.log(2))


def dictionary_frame(dictionary: np.ndarray) -> bytes:
    """The distinct blocks' bytes grouped by byte position (all first bytes, then all
    second bytes, ...), lzma-9 compressed."""
    width = dictionary.dtype.itemsize
    planes = np.ascontiguousarray(dictionary.reshape(-1)).view(np.uint8).reshape(-1, width).T
    return DICTIONARY_CODER.compress(np.ascontiguousarray(planes).tobytes())


def dictionary_from_frame(frame: bytes, shape: tuple, dtype) -> np.ndarray:
    """Invert ``dictionary_frame`` for a dictionary of ``shape`` and ``dtype``."""
    dtype = np.dtype(dtype)
    planes = np.frombuffer(DICTIONARY_CODER.decompress(frame), np.uint8).reshape(dtype.itemsize, -1)
    return np.ascontiguousarray(planes.T).view(dtype).reshape(shape)


def _index_dtype(n_distinct: int) -> np.dtype:
    return np.dtype(np.uint8 if n_distinct <= 1 << 8 else "<u2" if n_distinct <= 1 << 16 else "<u4")


def index_frame(indices: np.ndarray, n_distinct: int) -> bytes:
    """The index stream as the narrowest unsigned little-endian integers, lzma-9 compressed."""
    return DICTIONARY_CODER.compress(indices.astype(_index_dtype(n_distinct)).tobytes())


def index_from_frame(frame: bytes, n_distinct: int) -> np.ndarray:
    """Invert ``index_frame``."""
    return np.frombuffer(DICTIONARY_CODER.decompress(frame), _index_dtype(n_distinct)).astype(np.int64)


@dataclass
class Mosaic:
    """A stream as ``dictionary[indices]`` (blocks, S values each) minus the zero padding
    (``padding`` values in all) at the end of each of its ``segments`` (``cut_blocks``)."""
    dictionary: np.ndarray
    indices: np.ndarray
    padding: int
    segments: tuple[int, ...] | None = None


class Motif(Coder):
    """Distinct blocks of S values + the entropy-coded index stream (``motif-4``).

    ``code`` gives the ideal length; ``encode``/``decode`` write and read the real
    bitstream (``MotifCode``), which ``verify=True`` checks against it.
    """
    family, pattern = "motif", "motif-S (block size S, default 4)"
    lossless = True
    examples = ("motif-1", "motif-16", "motif-4096")

    def __init__(self, size: int = 4):
        if not isinstance(size, (int, np.integer)) or not 1 <= size <= 4096:
            raise SpecError(f"motif block size must be an integer in 1..4096, got {size!r}")
        self.size = int(size)

    @property
    def spec(self) -> str:
        return f"{self.family}-{self.size}"

    @classmethod
    def from_spec(cls, number, options):
        if number is not None and not options:
            return cls(number)
        if number is None and len(options) <= 1:
            size = ascii_int(options[0]) if options else 4
            if size is not None:
                return cls(size)
        raise SpecError("write the motif coder as 'motif-S' with an integer block size, e.g. 'motif-4'")

    def split(self, values: np.ndarray, segments: tuple[int, ...] | None = None) -> Mosaic:
        """The stream's values as distinct blocks and one index per block; each of
        ``segments`` (a stream's tensors) is padded on its own."""
        padded, padding = cut_blocks(np.ascontiguousarray(values.reshape(-1)), self.size, segments)
        keys = np.ascontiguousarray(padded).view(np.dtype((np.void, padded.dtype.itemsize * self.size)))
        _, first, inverse = np.unique(keys.reshape(-1), return_index=True, return_inverse=True)
        return Mosaic(padded[first], inverse.reshape(-1), padding, segments)

    @staticmethod
    def join(mosaic: Mosaic) -> np.ndarray:
        """Invert ``split``: the original flat values."""
        return uncut_blocks(mosaic.dictionary[mosaic.indices], mosaic.segments, mosaic.padding)

    @staticmethod
    def _width(stream: Stream) -> int:
        """Bits per value: the dtype width for raw values, ceil(log2 nsymbols) for symbols."""
        if stream.nsymbols is None:
            return 8 * stream.array.dtype.itemsize
        return max(1, math.ceil(math.log2(stream.nsymbols)))

    def _options(self, stream: Stream) -> tuple[Mosaic, dict, dict]:
        """The mosaic, and the ideal bits of each dictionary and index code (flag and choice bits included)."""
        if stream.array.size == 0:
            raise InputError("the motif coder got an empty stream")
        mosaic = self.split(stream.array, stream.segments)
        counts = np.bincount(mosaic.indices)
        dictionary = {"raw": 1 + mosaic.dictionary.size * self._width(stream)}
        if 2 * len(counts) <= len(mosaic.indices):
            dictionary["lzma"] = 1 + 8 * len(dictionary_frame(mosaic.dictionary))
        n, k, h = len(mosaic.indices), len(counts), entropy_bits(counts)
        index = {"static": h + histogram_bits(counts, k) + coding_overhead(n, k, h, counts.max() / n),
                 "kt": kt_bits(counts) + coding_overhead(n, k), "lzma": 8 * len(index_frame(mosaic.indices, k))}
        return mosaic, dictionary, {k: INDEX_CHOICE_BITS + v for k, v in index.items()}

    def code(self, stream: Stream) -> Coded:
        mosaic, dictionary, index = self._options(stream)
        dictionary_bits, index_bits = min(dictionary.values()), min(index.values())
        details = {"distinct_blocks": len(mosaic.dictionary), "n_blocks": int(mosaic.indices.size),
                   "dictionary_bits": dictionary_bits, "index_bits": index_bits, "padding": mosaic.padding}
        return Coded(HEADER_BITS + dictionary_bits + index_bits, details)

    # ------------------------------------------------------------ the real bitstream
    def encode(self, stream: Stream) -> "MotifCode":
        """The real bitstream ``code`` measures, part by part (the same choices)."""
        mosaic, dictionary, index = self._options(stream)
        width = self._width(stream)
        d_choice, i_choice = min(dictionary, key=lambda c: dictionary[c]), min(index, key=lambda c: index[c])
        header = pack_fields([len(mosaic.dictionary), self.size, mosaic.padding], 32)
        d_part = (dictionary_frame(mosaic.dictionary) if d_choice == "lzma"
                  else pack_fields(_codes(mosaic.dictionary, stream.nsymbols is None), width))
        k = len(mosaic.dictionary)
        counts = np.bincount(mosaic.indices, minlength=k)
        i_part = {"static": lambda: (write_histogram(np.arange(k), counts, k, len(mosaic.indices)),
                                     encode_static(mosaic.indices, counts)),
                  "kt": lambda: encode_kt(mosaic.indices, k),
                  "lzma": lambda: index_frame(mosaic.indices, k)}[i_choice]()
        return MotifCode(header, d_choice, d_part, i_choice, i_part)

    def decode(self, code: "MotifCode", n: int, dtype, nsymbols: int | None = None,
               segments: tuple[int, ...] | None = None) -> np.ndarray:
        """Invert ``encode``: the ``n`` values (``dtype``) of a stream cut into ``segments``."""
        dtype = np.dtype(dtype)
        width = self._width(Stream("", np.zeros(0, dtype), nsymbols))
        k, size, padding = (int(v) for v in unpack_fields(code.header, 32, 3))
        n_blocks = (n + padding) // size
        if code.dictionary_code == "lzma":
            dictionary = dictionary_from_frame(code.dictionary, (k, size), dtype)
        else:
            codes = unpack_fields(code.dictionary, width, k * size)
            dictionary = _values(codes, dtype, nsymbols is None).reshape(k, size)
        if code.index_code == "static":
            symbols, counts = read_histogram(code.index[0], k, n_blocks)
            indices = symbols.astype(np.int64)[decode_static(code.index[1], counts, n_blocks)]
        elif code.index_code == "kt":
            indices = decode_kt(code.index, k, n_blocks)
        else:
            indices = index_from_frame(code.index, k)
        return self.join(Mosaic(dictionary, indices, padding, segments))

    def roundtrip(self, stream: Stream, coded: Coded) -> tuple[np.ndarray, float]:
        code = self.encode(stream)
        back = self.decode(code, stream.array.size, stream.array.dtype, stream.nsymbols, stream.segments)
        return back.reshape(stream.array.shape), code.bits


def _codes(values: np.ndarray, raw: bool) -> np.ndarray:
    """Values as unsigned integers to pack: bit patterns of raw values, symbols as they are."""
    flat = np.ascontiguousarray(values.reshape(-1))
    return bit_patterns(flat) if raw else flat


def _values(codes: np.ndarray, dtype: np.dtype, raw: bool) -> np.ndarray:
    """Invert ``_codes`` for ``dtype``."""
    return codes.astype(UINT_OF_SIZE[dtype.itemsize]).view(dtype) if raw else codes.astype(dtype)


@dataclass
class MotifCode:
    """The real bitstream of one ``motif-S`` stream, by part. Bit arrays hold exact fields;
    frames and range-coder words count 8 and 32 bits per element. ``bits`` includes the
    dictionary flag bit and the index choice bits."""
    header: np.ndarray                     # distinct blocks, S, padding: 3 x 32 bits
    dictionary_code: str                   # "raw" (bit array) or "lzma" (frame)
    dictionary: Any
    index_code: str                        # "static" (histogram bits, words), "kt" (words), "lzma" (frame)
    index: Any

    @property
    def bits(self) -> int:
        index = self.index
        index_bits = (len(index[0]) + 32 * len(index[1]) if self.index_code == "static"
                      else 32 * len(index) if self.index_code == "kt" else 8 * len(index))
        dictionary_bits = 8 * len(self.dictionary) if self.dictionary_code == "lzma" else len(self.dictionary)
        return len(self.header) + 1 + dictionary_bits + INDEX_CHOICE_BITS + index_bits
