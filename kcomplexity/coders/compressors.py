"""Lossless byte compressors. ``bits`` = 8 x the length of the self-contained frame(s).

``FAMILY-L-cSIZE`` (``lzma-9-c64M``) compresses the stream in chunks of SIZE bytes
(suffix K, M or G = 2^10, 2^20, 2^30), each an independent frame, written end to end:
the family's frames are self-delimiting, so the concatenation decodes to the stream
and its length is still an upper bound, somewhat looser than one frame (no match
crosses a chunk boundary). Chunks compress in parallel threads (``threads``), with
progress reported per chunk; the bits do not depend on the thread count.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import threading
from abc import abstractmethod
from concurrent.futures import ThreadPoolExecutor

import brotli
import lz4.frame
import numpy as np
import zstandard

from ..encodings import Stream
from ..errors import InputError, SpecError, VerificationError
from .base import Coded, Coder, parse_level

SIZE_UNITS = {"g": 1 << 30, "m": 1 << 20, "k": 1 << 10, "": 1}
MIN_CHUNK = 1 << 10
PROGRESS_PIECE = 8 << 20  # bytes fed at a time to a one-frame coder that reports progress


def usable_cores() -> int:
    """The CPU cores this process may run on: more compressor threads only cost memory."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def chunk_size(option: str) -> int:
    """Bytes of a ``cSIZE`` option: ``"c64m"`` -> 67108864."""
    m = re.fullmatch(r"c([0-9]+)([kmg]?)", option.lower())
    if not m:
        raise SpecError(f"bad chunk option {option!r}: write e.g. '-c64M' (K, M or G) or '-c1048576' (bytes)")
    size = int(m.group(1)) * SIZE_UNITS[m.group(2)]
    if size < MIN_CHUNK:
        raise SpecError(f"chunk size {size} bytes is too small: use at least 1K")
    return size


def chunk_text(size: int) -> str:
    """The shortest exact ``cSIZE`` spelling of a chunk size: 67108864 -> "c64M"."""
    unit = next(u for u, f in SIZE_UNITS.items() if size % f == 0)
    return f"c{size // SIZE_UNITS[unit]}{unit.upper()}"


class Compressor(Coder):
    """A byte coder with a level and an optional chunk size; subclasses implement one
    frame's ``compress``/``decompress``. ``pack``/``unpack`` write and read what the spec
    measures: one frame, or (``chunkable`` families) the chunks' frames end to end."""
    lossless = True
    takes_threads = True
    levels = range(0)
    default_level: int | None = None
    chunkable = False  # True: frames are self-delimiting and ``decompress_frames`` reads them end to end

    def __init__(self, level: int | None = None, chunk: int | None = None):
        self.level = self.default_level if level is None else parse_level(
            self.family, None, [str(level)], self.levels, self.default_level or 0)
        if chunk is not None and not self.chunkable:
            raise SpecError(f"{self.family!r} frames are not self-delimiting, so it has no chunked form: use "
                            f"{', '.join(c.family for c in COMPRESSORS if c.chunkable)}")
        if chunk is not None and (not isinstance(chunk, int) or chunk < MIN_CHUNK):
            raise SpecError(f"chunk must be an integer number of bytes >= {MIN_CHUNK}, got {chunk!r}")
        self.chunk = chunk

    @property
    def spec(self):
        base = self.family if self.level is None else f"{self.family}-{self.level}"
        return base if self.chunk is None else f"{base}-{chunk_text(self.chunk)}"

    @classmethod
    def from_spec(cls, number, options):
        chunks = [o for o in options if re.fullmatch(r"c[0-9]+[kmg]?", o.lower())]
        rest = [o for o in options if o not in chunks]
        if len(chunks) > 1:
            raise SpecError(f"{cls.family!r} takes one chunk option, got {chunks}")
        chunk = chunk_size(chunks[0]) if chunks else None
        if cls.default_level is None:
            if number is not None or rest:
                raise SpecError(f"coder {cls.family!r} takes no level; its only option is a chunk size, "
                                f"e.g. '{cls.family}-c64M'")
            return cls(chunk=chunk)
        return cls(parse_level(cls.family, number, rest, cls.levels, cls.default_level), chunk)

    @abstractmethod
    def compress(self, data) -> bytes:
        """One self-contained frame of ``data`` at ``self.level``."""

    @abstractmethod
    def decompress(self, frame: bytes) -> bytes:
        """The bytes ``compress`` was given."""

    def decompress_frames(self, frames: bytes) -> bytes:
        """Frames end to end -> their payloads joined (here: the family's decoder reads on)."""
        return self.decompress(frames)

    def compress_reporting(self, data, progress) -> bytes:
        """``compress(data)``, calling ``progress(bytes newly done)`` on the way (here: at the end)."""
        frame = self.compress(data)
        progress(len(data))
        return frame

    def pack(self, data, threads: int = 1, progress=None) -> bytes:
        """What the spec measures: one frame, or the chunks' frames end to end (compressed by
        ``threads`` threads, at most one per usable core). ``progress(fraction)`` hears of each
        fraction of ``data`` done."""
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
            raise InputError(f"threads must be a positive integer, got {threads!r}")
        total = max(1, len(data))
        if self.chunk is None:
            if progress is None:
                return self.compress(data)
            return self.compress_reporting(data, lambda done: progress(done / total))
        view = memoryview(data).cast("B")
        pieces = [view[i:i + self.chunk] for i in range(0, len(view), self.chunk)] or [view]
        frames = []
        with ThreadPoolExecutor(min(threads, len(pieces), usable_cores())) as pool:
            for piece, frame in zip(pieces, pool.map(self.compress, pieces)):
                frames.append(frame)
                if progress:
                    progress(len(piece) / total)
        return b"".join(frames)

    def unpack(self, frames: bytes) -> bytes:
        """Invert ``pack``."""
        return self.decompress(frames) if self.chunk is None else self.decompress_frames(frames)

    def code(self, stream: Stream, threads: int = 1, progress=None) -> Coded:
        data = stream.to_bytes()
        frame = self.pack(data, threads, progress)
        details = {} if self.chunk is None else {"frames": max(1, -(-len(data) // self.chunk))}
        return Coded(8 * len(frame), details, frame=frame)

    def code_all(self, streams: list[Stream], threads: int = 1, progress=None) -> dict[str, Coded]:
        """Every stream; ``progress`` hears each stream's work as its share of the bytes."""
        total = sum(s.array.nbytes for s in streams) or 1
        return {s.name: self.code(s, threads, progress and _scaled(progress, s.array.nbytes / total))
                for s in streams}

    def roundtrip(self, stream: Stream, coded: Coded) -> tuple[np.ndarray, float]:
        if coded.frame is None:
            raise VerificationError(f"{self.spec}: stream {stream.name!r} was measured without keeping its frame")
        return stream.from_bytes(self.unpack(coded.frame)), 8 * len(coded.frame)


def _scaled(progress, share: float):
    return lambda fraction: progress(fraction * share)


def _frame_by_frame(frames: bytes, decompressor) -> bytes:
    """Payloads of self-delimiting frames end to end, for decoders that stop after one frame."""
    out = []
    while frames:
        d = decompressor()
        out.append(d.decompress(frames))
        frames = d.unused_data
    return b"".join(out)


class Gzip(Compressor):
    """gzip member (deflate, RFC 1952) with mtime 0: 18 bytes of header and trailer."""
    examples = ("gzip-0", "gzip-1", "gzip-9-c4K")
    family, pattern, levels, default_level = "gzip", "gzip-L[-cSIZE] (L = 0..9)", range(0, 10), 9
    chunkable = True

    def compress(self, data):
        return gzip.compress(data, compresslevel=self.level, mtime=0)

    def decompress(self, frame):
        return gzip.decompress(frame)


class Bz2(Compressor):
    examples = ("bz2-1", "bz2-5-c8K")
    family, pattern, levels, default_level = "bz2", "bz2-L[-cSIZE] (L = 1..9)", range(1, 10), 9
    chunkable = True

    def compress(self, data):
        return bz2.compress(data, self.level)

    def decompress(self, frame):
        return bz2.decompress(frame)


class Lzma(Compressor):
    """xz container with the given preset (CRC64 check). Fed in pieces when progress is
    wanted: liblzma's output does not depend on how its input is split."""
    examples = ("lzma-0", "lzma-6", "lzma-9-c64M")
    family, pattern, levels, default_level = "lzma", "lzma-L[-cSIZE] (xz preset, L = 0..9)", range(0, 10), 9
    chunkable = True

    def compress(self, data):
        return lzma.compress(data, preset=self.level)

    def decompress(self, frame):
        return lzma.decompress(frame)

    def compress_reporting(self, data, progress):
        coder, view, out = lzma.LZMACompressor(preset=self.level), memoryview(data).cast("B"), []
        for start in range(0, len(view), PROGRESS_PIECE):
            piece = view[start:start + PROGRESS_PIECE]
            out.append(coder.compress(piece))
            progress(len(piece))
        return b"".join(out) + coder.flush()


_ZSTD = threading.local()  # one compressor per fast level and thread: making one costs more than a small tensor
KEPT_ZSTD_LEVEL = 9


def _zstd_compressor(level: int) -> "zstandard.ZstdCompressor":
    made = _ZSTD.__dict__.setdefault("by_level", {})
    if level not in made:
        made[level] = zstandard.ZstdCompressor(level=level)
    return made[level]


class Zstd(Compressor):
    """zstd frame with the content size in its header."""
    examples = ("zstd-1", "zstd-19", "zstd-22", "zstd-3-c1M")
    family, pattern, levels, default_level = "zstd", "zstd-L[-cSIZE] (L = 1..22)", range(1, 23), 3
    chunkable = True

    def compress(self, data):
        if self.level > KEPT_ZSTD_LEVEL:  # a slow level: making its (large) context costs little beside it
            return zstandard.ZstdCompressor(level=self.level).compress(data)
        return _zstd_compressor(self.level).compress(data)

    def decompress(self, frame):
        return zstandard.ZstdDecompressor().decompress(frame)

    def decompress_frames(self, frames):
        return _frame_by_frame(frames, lambda: zstandard.ZstdDecompressor().decompressobj())


class Brotli(Compressor):
    examples = ("brotli-0", "brotli-5")
    family, pattern, levels, default_level = "brotli", "brotli-L (quality, L = 0..11)", range(0, 12), 11

    def compress(self, data):
        return brotli.compress(bytes(data), quality=self.level)

    def decompress(self, frame):
        return brotli.decompress(frame)


class Lz4(Compressor):
    """LZ4 frame (fast mode) with the content size stored."""
    examples: tuple[str, ...] = ("lz4-c4K",)
    family, pattern = "lz4", "lz4[-cSIZE]"
    chunkable = True

    def compress(self, data):
        return lz4.frame.compress(data, store_size=True)

    def decompress(self, frame):
        return lz4.frame.decompress(frame)

    def decompress_frames(self, frames):
        return _frame_by_frame(frames, lz4.frame.LZ4FrameDecompressor)


class Lz4hc(Lz4):
    """LZ4 frame in high-compression mode."""
    examples = ("lz4hc-3", "lz4hc-12", "lz4hc-9-c4K")
    family, pattern, levels, default_level = "lz4hc", "lz4hc-L[-cSIZE] (L = 3..12)", range(3, 13), 9

    def compress(self, data):
        return lz4.frame.compress(data, compression_level=self.level, store_size=True)


COMPRESSORS = (Gzip, Bz2, Lzma, Zstd, Brotli, Lz4, Lz4hc)
