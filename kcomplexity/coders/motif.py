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

and, if that is larger, the values stored verbatim; 1 bit says which. Every
part decodes (``split``/``join``, ``dictionary_frame``/``dictionary_from_frame``),
so the total is an upper bound; it is never below the entropy of the block
arrangement, and never more than 1 bit above the raw size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..encodings import Stream, cut_blocks, uncut_blocks
from ..errors import InputError, SpecError
from .base import Coded, Coder
from .compressors import Lzma
from .entropy import entropy_bits, histogram_bits

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
    """Distinct blocks of S values + the entropy-coded index stream (``motif-4``)."""
    family, pattern = "motif", "motif-S (block size S, default 4)"

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
            try:
                return cls(int(options[0]) if options else 4)
            except ValueError:
                pass
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

    def code(self, stream: Stream) -> Coded:
        values = stream.data.reshape(-1)
        width = 8 * values.dtype.itemsize if stream.nsymbols is None else max(1, math.ceil(math.log2(stream.nsymbols)))
        if values.size == 0:
            raise InputError("the motif coder got an empty stream")
        mosaic = self.split(values, stream.segments)
        counts = np.bincount(mosaic.indices)
        dictionary_bits = 1 + mosaic.dictionary.size * width
        if 2 * len(counts) <= len(mosaic.indices):
            dictionary_bits = min(dictionary_bits, 1 + 8 * len(dictionary_frame(mosaic.dictionary)))
        index_bits = INDEX_CHOICE_BITS + min(entropy_bits(counts) + histogram_bits(counts, len(counts)),
                                             kt_bits(counts), 8 * len(index_frame(mosaic.indices, len(counts))))
        two_part = HEADER_BITS + dictionary_bits + index_bits
        stored = values.size * width
        details = {"distinct_blocks": len(counts), "n_blocks": int(mosaic.indices.size),
                   "dictionary_bits": dictionary_bits, "index_bits": index_bits, "padding": mosaic.padding,
                   "mode": "mosaic" if two_part <= stored else "stored"}
        return Coded(1 + min(two_part, stored), details)
