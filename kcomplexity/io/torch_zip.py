"""Check a zip ``.pt`` file's storages and tensor views before torch touches its data.

``torch.load(mmap=True)`` trusts ``data.pkl``: a storage that claims more bytes
than its zip record reads the neighbouring records as weights, and a tensor with
a huge size and stride 0 makes ``.contiguous()`` allocate gigabytes.
``check_torch_zip`` replays ``data.pkl`` with an unpickler that builds nothing
(every global becomes an inert placeholder; no code from the file can run) and
checks each storage against its record and each tensor's size, stride and
offset against its storage. Legacy (non-zip) files are left to ``torch.load``,
which reads them without mmap and checks record sizes itself.
"""
from __future__ import annotations

import collections
import pickle
import warnings
import zipfile
from math import prod

from ..errors import SourceError

MAX_PICKLE = 32 << 20  # ~200 bytes per tensor: 100,000+ tensors
REBUILD_TENSOR = {"_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3"}


class _Inert:
    """Stands for any global the pickle names: accepts every call and state, does nothing."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


class _StorageType:
    def __init__(self, name: str):
        self.name, self.itemsize = name, _itemsize(name)


class _Storage:
    def __init__(self, key: str, itemsize: int, numel: int):
        self.key, self.itemsize, self.numel = key, itemsize, numel


def _itemsize(storage_name: str) -> int | None:
    import torch

    if storage_name == "UntypedStorage":
        return 1
    with warnings.catch_warnings():  # TypedStorage is deprecated, but old files name its classes
        warnings.simplefilter("ignore")
        cls = getattr(torch, storage_name, None)
        dtype = getattr(cls, "dtype", None) if isinstance(cls, type) else None
    return torch._utils._element_size(dtype) if isinstance(dtype, torch.dtype) else None


def _is_index(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _check_view(label: str, storage, offset, size, stride) -> None:
    """A tensor view must lie inside its storage and hold no more elements than the storage."""
    if not isinstance(storage, _Storage):
        return  # not a storage from this file (e.g. a meta tensor): refused after loading
    size, stride = tuple(size) if isinstance(size, (tuple, list)) else size, \
        tuple(stride) if isinstance(stride, (tuple, list)) else stride
    if not (_is_index(offset) and isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
            and all(map(_is_index, size + stride))):
        raise SourceError(f"{label}: a tensor in storage {storage.key} has a malformed view (offset {offset!r}, "
                          f"size {size!r}, stride {stride!r}); the file is corrupt or crafted: re-save it")
    numel = prod(size)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if numel else offset
    if numel and (last >= storage.numel or numel > storage.numel):
        raise SourceError(f"{label}: a tensor of size {list(size)}, stride {list(stride)} at offset {offset} "
                          f"does not fit its storage {storage.key} of {storage.numel} elements (it would read "
                          "outside it, or repeat elements); refused. Re-save the tensor with .contiguous()")


class _Replay(pickle.Unpickler):
    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, label: str):
        super().__init__(file)
        self.archive, self.prefix, self.label = archive, prefix, label
        self.storages: dict = {}

    def find_class(self, module: str, name: str):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in REBUILD_TENSOR:
            return lambda storage, offset, size, stride, *rest: _check_view(self.label, storage, offset, size, stride)
        if module == "torch" and name.endswith("Storage") or module == "torch.storage":
            return _StorageType(name)
        return type(name, (_Inert,), {})

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and isinstance(pid[1], _StorageType)):
            raise SourceError(f"{self.label}: unknown storage reference {str(pid)[:80]}; re-save the file")
        _, kind, key, _, numel = pid
        if kind.itemsize is None or not isinstance(key, str) or not _is_index(numel):
            raise SourceError(f"{self.label}: malformed storage {key!r} ({kind.name}, {numel!r} elements)")
        if key not in self.storages:
            self._check_record(key, numel * kind.itemsize)
            self.storages[key] = _Storage(key, kind.itemsize, numel)
        return self.storages[key]

    def _check_record(self, key: str, nbytes: int) -> None:
        name = f"{self.prefix}data/{key}"
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise SourceError(f"{self.label}: storage record {name} is missing; the file is truncated or "
                              "corrupt: re-save it") from None
        if info.file_size != nbytes or info.compress_type != zipfile.ZIP_STORED:
            raise SourceError(f"{self.label}: storage {key} claims {nbytes} bytes but its record holds "
                              f"{info.file_size}{' compressed' if info.compress_type != zipfile.ZIP_STORED else ''}"
                              " bytes; refused (reading it would return other bytes as weights). The file is "
                              "corrupt or crafted: re-save it with torch.save")


def _check_pickle_record(label: str, info: zipfile.ZipInfo) -> None:
    """``data.pkl`` as torch.save writes it: stored (zipfile would expand bzip2/lzma without bound)
    and at most MAX_PICKLE bytes (each one-byte opcode may push an 8-byte reference)."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or info.file_size > MAX_PICKLE:
        raise SourceError(f"{label}: {info.filename} holds {info.file_size} bytes compressed with method "
                          f"{info.compress_type}; torch.save stores it uncompressed and far smaller (at most "
                          f"{MAX_PICKLE >> 20} MiB read). The file is not a torch checkpoint as torch writes it: "
                          "re-save it with torch.save")


def check_torch_zip(path) -> None:
    """Raise SourceError unless every storage and tensor view of a zip ``.pt`` fits; no-op for legacy files."""
    label = str(path)
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            pkl = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
            if len(pkl) != 1:
                raise SourceError(f"{label}: a zip file without one <name>/data.pkl record is not a torch "
                                  "checkpoint; re-save it with torch.save")
            _check_pickle_record(label, archive.getinfo(pkl[0]))
            with archive.open(pkl[0]) as f:
                _Replay(f, archive, pkl[0][: -len("data.pkl")], label).load()
    except SourceError:
        raise
    except Exception as exc:  # any damage in the pickle stream or the zip directory
        raise SourceError(f"{label}: not a readable torch checkpoint ({type(exc).__name__}: {str(exc)[:200]}); "
                          "it may be truncated or corrupt: re-save it (torch.save) or re-download it") from None
