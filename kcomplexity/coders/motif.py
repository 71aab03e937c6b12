"""``motif-S``: a two-part code for streams made of repeated blocks (a mosaic).

The stream is cut into blocks of S values (the tail zero-padded, the padding
counted in the header). The code is

    header (3 x 32 bits: distinct blocks, S, padding)
    + dictionary: distinct x S x bits per value (value width, or ceil(log2 nsymbols))
    + index stream: n_blocks x H(index) (order-0, ``entropy_bits``) + ``histogram_bits``

and, if that is larger, the values stored verbatim; 1 bit says which. So it
never claims less than the distinct blocks themselves plus the entropy of their
arrangement, and never much more than the raw size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..encodings import Stream
from ..errors import InputError, SpecError
from .base import Coded, Coder
from .entropy import entropy_bits, histogram_bits

HEADER_BITS = 3 * 32


@dataclass
class Mosaic:
    """A stream as ``dictionary[indices]`` (blocks, S values each) minus ``padding`` tail values."""
    dictionary: np.ndarray
    indices: np.ndarray
    padding: int


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

    def split(self, values: np.ndarray) -> Mosaic:
        """The stream's values as distinct blocks and one index per block."""
        flat = np.ascontiguousarray(values.reshape(-1))
        padding = (-flat.size) % self.size
        padded = np.concatenate([flat, np.zeros(padding, flat.dtype)]).reshape(-1, self.size)
        keys = np.ascontiguousarray(padded).view(np.dtype((np.void, padded.dtype.itemsize * self.size)))
        _, first, inverse = np.unique(keys.reshape(-1), return_index=True, return_inverse=True)
        return Mosaic(padded[first], inverse.reshape(-1), padding)

    @staticmethod
    def join(mosaic: Mosaic) -> np.ndarray:
        """Invert ``split``: the original flat values."""
        flat = mosaic.dictionary[mosaic.indices].reshape(-1)
        return flat[:flat.size - mosaic.padding]

    def code(self, stream: Stream) -> Coded:
        values = stream.data.reshape(-1)
        width = 8 * values.dtype.itemsize if stream.nsymbols is None else max(1, math.ceil(math.log2(stream.nsymbols)))
        if values.size == 0:
            raise InputError("the motif coder got an empty stream")
        mosaic = self.split(values)
        counts = np.bincount(mosaic.indices)
        dictionary_bits = mosaic.dictionary.size * width
        index_bits = entropy_bits(counts) + histogram_bits(counts, len(counts))
        two_part = HEADER_BITS + dictionary_bits + index_bits
        stored = values.size * width
        details = {"distinct_blocks": len(counts), "n_blocks": int(mosaic.indices.size),
                   "dictionary_bits": dictionary_bits, "index_bits": index_bits, "padding": mosaic.padding,
                   "mode": "mosaic" if two_part <= stored else "stored"}
        return Coded(1 + min(two_part, stored), details)
