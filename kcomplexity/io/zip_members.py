"""Zip archive members read straight from their bytes, decompressed in bounded pieces.

``zipfile`` decompresses a bzip2 or lzma member without an output bound: a 1 KB
member can expand to gigabytes in one call (a zip bomb), even when only its first
bytes are wanted. ``zip_members`` lists an archive once (names must be unambiguous)
and ``ZipMember.read(f, n)`` returns at most the first ``n`` bytes of a member,
never decompressing more than it returns and never more than the member's declared
size; a member read to its end is checked against its CRC.
"""
from __future__ import annotations

import bz2
import struct
import warnings
import zipfile
import zlib
from typing import Any
from dataclasses import dataclass

from ..errors import SkippedTensorsWarning, SourceError

PIECE = 1 << 20  # bytes decompressed per step
LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... file name length, extra field length
METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2"}


@dataclass(frozen=True)
class ZipMember:
    """One member: where its compressed bytes start, their length, the declared size and CRC."""
    archive: str
    name: str
    offset: int
    compressed: int
    size: int
    method: int
    crc: int

    def read(self, f, n: int) -> bytearray:
        """The first ``min(n, size)`` decompressed bytes, read from the open archive ``f``."""
        n = min(n, self.size)
        out = bytearray(n)
        f.seek(self._data_start(f))
        done = self._fill(f, memoryview(out))
        if done < n:
            raise SourceError(f"{self.archive}: member {self.name} holds {done} bytes, fewer than the {self.size} "
                              "it declares; the archive is corrupt or truncated: re-save it")
        if n == self.size:
            if zlib.crc32(out) != self.crc:
                raise SourceError(f"{self.archive}: member {self.name} fails its CRC check; the archive is "
                                  "corrupt: re-save it")
        return out

    def _data_start(self, f) -> int:
        f.seek(self.offset)
        signature, name_len, extra_len = LOCAL_HEADER.unpack(f.read(LOCAL_HEADER.size))
        if signature != b"PK\x03\x04":
            raise SourceError(f"{self.archive}: member {self.name} has no local header where the directory "
                              "says; the archive is corrupt: re-save it")
        return self.offset + LOCAL_HEADER.size + name_len + extra_len

    def _fill(self, f, out: memoryview) -> int:
        """Decompress into ``out`` until it is full or the member ends; the number of bytes written."""
        if self.method == zipfile.ZIP_STORED:
            return f.readinto(out[:min(len(out), self.compressed)])
        deflate = self.method == zipfile.ZIP_DEFLATED
        inflate: Any = zlib.decompressobj(-15) if deflate else bz2.BZ2Decompressor()
        left, done, tail = self.compressed, 0, b""
        while done < len(out) and not inflate.eof:
            data = b""
            if (not tail) if deflate else inflate.needs_input:
                data = f.read(min(left, PIECE))
                left -= len(data)
                if not data:
                    break
            piece = inflate.decompress(tail + data, min(PIECE, len(out) - done))
            tail = inflate.unconsumed_tail if deflate else b""
            if not piece and not data:
                break  # no input taken and no output given: the stream is damaged
            out[done:done + len(piece)] = piece
            done += len(piece)
        return done


def zip_members(path: str, suffix: str = ".npy") -> dict[str, ZipMember]:
    """``{name without suffix: member}`` of the members ending in ``suffix``; SourceError for a name
    given twice (``w.npy`` twice, or ``w.npy`` beside ``w``), encryption or a compression method
    other than stored, deflate or bzip2. Other members are left out with a warning."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise SourceError(f"{path}: not a readable zip archive ({exc}); it may be truncated or corrupt: "
                          "re-save it with numpy.savez") from None
    members, others = {}, []
    filenames = {i.filename for i in infos}
    for info in infos:
        name = info.filename.removesuffix(suffix)
        if name in members or (info.filename == name and name + suffix in filenames):
            raise SourceError(f"{path}: the archive holds two members named {name!r} ({name}{suffix} twice, or "
                              f"{name}{suffix} beside {name}); which one is meant is ambiguous: re-save it")
        if not info.filename.endswith(suffix):
            others.append(info.filename)
            continue
        if info.flag_bits & 0x1 or info.compress_type not in METHODS:
            raise SourceError(f"{path}: member {info.filename} is encrypted or compressed with method "
                              f"{info.compress_type}; only {', '.join(METHODS.values())} are read: re-save it "
                              "with numpy.savez or numpy.savez_compressed")
        members[name] = ZipMember(str(path), info.filename, info.header_offset, info.compress_size,
                                  info.file_size, info.compress_type, info.CRC)
    if others:
        warnings.warn(f"{path}: {len(others)} member(s) that are not {suffix} arrays were left out "
                      f"(e.g. {others[:3]})", SkippedTensorsWarning, stacklevel=4)
    return members

