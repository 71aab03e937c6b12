"""Lossless byte compressors. ``bits`` = 8 x the length of one self-contained frame."""
from __future__ import annotations

import bz2
import gzip
import lzma
from abc import abstractmethod

import brotli
import lz4.frame
import numpy as np
import zstandard

from ..encodings import Stream
from .base import Coded, Coder, parse_level


class Compressor(Coder):
    """A byte coder with a level; subclasses implement compress/decompress."""
    lossless = True
    levels = range(0)
    default_level: int | None = None

    def __init__(self, level: int | None = None):
        self.level = self.default_level if level is None else parse_level(
            self.family, None, [str(level)], self.levels, self.default_level)

    @property
    def spec(self):
        return self.family if self.level is None else f"{self.family}-{self.level}"

    @classmethod
    def from_spec(cls, number, options):
        if cls.default_level is None:
            return super().from_spec(number, options)
        return cls(parse_level(cls.family, number, options, cls.levels, cls.default_level))

    @abstractmethod
    def compress(self, data) -> bytes:
        """One self-contained frame of ``data`` at ``self.level``."""

    @abstractmethod
    def decompress(self, frame: bytes) -> bytes:
        """The bytes ``compress`` was given."""

    def code(self, stream: Stream) -> Coded:
        frame = self.compress(stream.to_bytes())
        return Coded(8 * len(frame), frame=frame)

    def roundtrip(self, stream: Stream, coded: Coded) -> tuple[np.ndarray, float]:
        return stream.from_bytes(self.decompress(coded.frame)), 8 * len(coded.frame)


class Gzip(Compressor):
    """gzip member (deflate, RFC 1952) with mtime 0: 18 bytes of header and trailer."""
    family, pattern, levels, default_level = "gzip", "gzip-L (L = 0..9)", range(0, 10), 9

    def compress(self, data):
        return gzip.compress(data, compresslevel=self.level, mtime=0)

    def decompress(self, frame):
        return gzip.decompress(frame)


class Bz2(Compressor):
    family, pattern, levels, default_level = "bz2", "bz2-L (L = 1..9)", range(1, 10), 9

    def compress(self, data):
        return bz2.compress(data, self.level)

    def decompress(self, frame):
        return bz2.decompress(frame)


class Lzma(Compressor):
    """xz container with the given preset (CRC64 check)."""
    family, pattern, levels, default_level = "lzma", "lzma-L (xz preset, L = 0..9)", range(0, 10), 9

    def compress(self, data):
        return lzma.compress(data, preset=self.level)

    def decompress(self, frame):
        return lzma.decompress(frame)


class Zstd(Compressor):
    """zstd frame with the content size in its header."""
    family, pattern, levels, default_level = "zstd", "zstd-L (L = 1..22)", range(1, 23), 3

    def compress(self, data):
        return zstandard.ZstdCompressor(level=self.level).compress(data)

    def decompress(self, frame):
        return zstandard.ZstdDecompressor().decompress(frame)


class Brotli(Compressor):
    family, pattern, levels, default_level = "brotli", "brotli-L (quality, L = 0..11)", range(0, 12), 11

    def compress(self, data):
        return brotli.compress(bytes(data), quality=self.level)

    def decompress(self, frame):
        return brotli.decompress(frame)


class Lz4(Compressor):
    """LZ4 frame (fast mode) with the content size stored."""
    family, pattern = "lz4", "lz4"

    def compress(self, data):
        return lz4.frame.compress(data, store_size=True)

    def decompress(self, frame):
        return lz4.frame.decompress(frame)


class Lz4hc(Compressor):
    """LZ4 frame in high-compression mode."""
    family, pattern, levels, default_level = "lz4hc", "lz4hc-L (L = 3..12)", range(3, 13), 9

    def compress(self, data):
        return lz4.frame.compress(data, compression_level=self.level, store_size=True)

    def decompress(self, frame):
        return lz4.frame.decompress(frame)


COMPRESSORS = (Gzip, Bz2, Lzma, Zstd, Brotli, Lz4, Lz4hc)
