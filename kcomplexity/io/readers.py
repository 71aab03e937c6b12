"""Checkpoint readers: one file, model directory or in-memory object -> lazily read named tensors.

Every reader is a ``Checkpoint``: ``info()`` gives ``{name: (dtype_name, shape)}``
without reading tensor data where the format allows, ``read(name)`` returns one
numpy array (bfloat16 as the ml_dtypes dtype, bit-exact), ``metadata`` holds
scalars such as Lightning's ``epoch`` and ``global_step``.

Formats: ``.safetensors`` (``safe_open``, one tensor at a time), ``.pt``/``.pth``/
``.bin``/``.ckpt`` (``torch.load(weights_only=True, mmap=True)`` only; needs torch), ``.npz``,
``.npy``, ``.gguf`` (``io.gguf``), ``.onnx`` (``io.onnx``), ``hf:ORG/NAME[@REV]`` (``io.hub``),
Hugging Face directories (``model.safetensors`` or shards listed in
``model.safetensors.index.json``), ``nn.Module``, state dicts and dicts of arrays.
"""
from __future__ import annotations

import io
import json
import math
import os
import pickle
import stat
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..arrays import as_array, check_dense, dtype_name, is_module, is_torch
from ..errors import InputError, SkippedTensorsWarning, SourceError, UnsafePickleError, require
from . import hub
from .checkpoint import Checkpoint, inside
from .gguf import GGUFCheckpoint
from .onnx import OnnxCheckpoint
from .torch_zip import check_torch_zip
from .zip_members import ZipMember, zip_members

TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
FILE_SUFFIXES = (".safetensors", ".npz", ".npy", ".gguf", ".onnx") + TORCH_SUFFIXES
HF_INDEX = "model.safetensors.index.json"
HF_SINGLE = ("model.safetensors", "pytorch_model.bin")
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")
SAFETENSORS_DTYPES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64",
                      "I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64", "U8": "uint8",
                      "U16": "uint16", "U32": "uint32", "U64": "uint64", "BOOL": "bool", "C64": "complex64",
                      "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "F8_E8M0": "float8_e8m0fnu"}
# bfloat16 too: numpy knows it once ml_dtypes is imported (kcomplexity.arrays does), so no torch import
NUMPY_READABLE = {"float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"}


def to_numpy(x) -> np.ndarray:
    """A torch tensor or array-like as numpy, bit-exact (bfloat16 kept); NaN/Inf pass through."""
    if isinstance(x, np.ndarray):
        return x
    return as_array(x, allow_nonfinite=True)


class MemoryCheckpoint(Checkpoint):
    """Tensors held in memory: a state dict, a dict of arrays, or an ``nn.Module``."""

    def __init__(self, tensors: Mapping, label: str = "<memory>", metadata: dict | None = None):
        super().__init__(label)
        self.tensors = _without_ties(dict(tensors), label)
        self.metadata = dict(metadata or {})
        for name, value in self.tensors.items():
            _check_tensor(label, name, value)

    @classmethod
    def from_module(cls, module, buffers: bool = False, label: str = "<module>") -> "MemoryCheckpoint":
        tensors = dict(module.named_parameters())
        if buffers:
            tensors.update(module.named_buffers())
        return cls(tensors, label)

    def info(self):
        return {k: (dtype_name(v.dtype), tuple(v.shape)) for k, v in self.tensors.items()}

    def read(self, name):
        if name not in self.tensors:
            raise self._missing(name)
        return to_numpy(self.tensors[name])


def _without_ties(tensors: dict, label: str) -> dict:
    """Tied torch tensors (one storage, same view: ``lm_head.weight`` and ``wte.weight`` of a
    ``.bin``) kept once under their first name, as ``nn.Module.parameters()`` counts them."""
    first: dict = {}
    tied: dict = {}
    for name, t in tensors.items():
        if not is_torch(t) or not hasattr(t, "untyped_storage") or t.is_sparse or t.numel() == 0:
            continue
        try:
            view = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride(), t.dtype)
        except (RuntimeError, NotImplementedError):  # no plain storage (meta, nested, ...): checked later
            continue
        if view in first:
            tied[name] = first[view]
        else:
            first[view] = name
    if not tied:
        return tensors
    pairs = [f"{n} = {f}" for n, f in list(tied.items())[:3]] + (["..."] if len(tied) > 3 else [])
    warnings.warn(f"{label}: {len(tied)} tied tensor(s) share their storage with an earlier one and are "
                  f"measured once ({', '.join(pairs)})", SkippedTensorsWarning, stacklevel=4)
    return {n: t for n, t in tensors.items() if n not in tied}


def _check_tensor(label: str, name: str, value) -> None:
    """A dense tensor with data, or SourceError naming it."""
    if not is_torch(value):
        return
    try:
        check_dense(value)
    except InputError as exc:
        raise SourceError(f"{label}: tensor {name!r}: {exc}") from None


def _check_fits(label: str, name: str, value) -> None:
    """A tensor read from a file holds no more elements than its storage (no stride-0 blow-up on copy)."""
    if is_torch(value) and value.numel() * value.element_size() > value.untyped_storage().nbytes():
        raise SourceError(f"{label}: tensor {name!r} of shape {list(value.shape)} repeats elements of a smaller "
                          f"storage ({value.untyped_storage().nbytes()} bytes; stride {list(value.stride())}); "
                          "refused: re-save it with .contiguous()")


class SafetensorsCheckpoint(Checkpoint):
    """One or several ``.safetensors`` files (HF shards); tensors read lazily with ``safe_open``.

    ``weight_map`` (a shard index: name -> shard file) names the one file each tensor is
    read from; a tensor found in another shard too, or in no index entry, is left out with
    a warning. Open handles are kept (a few at a time), so reading stays linear in the count.
    """
    OPEN_HANDLES = 8

    def __init__(self, files: list[Path], label: str, weight_map: dict | None = None):
        super().__init__(label)
        self.files, self._where, self._info = [str(f) for f in files], {}, {}
        self._handles: OrderedDict = OrderedDict()
        ignored = []
        for path, f in zip(files, self.files):
            handle = self._handle(f)
            self.metadata.update(_scalars(handle.metadata() or {}))
            for name in handle.keys():
                if weight_map is not None and weight_map.get(name) != path.name:
                    ignored.append(name)
                    continue
                sl = handle.get_slice(name)
                self._where[name] = f
                self._info[name] = (_safetensors_dtype(sl.get_dtype(), f, name), tuple(sl.get_shape()))
        if weight_map is not None:
            _check_index(label, weight_map, self._where, ignored)

    def __getstate__(self):
        return {**self.__dict__, "_handles": OrderedDict()}

    def _handle(self, path: str, framework: str = "np"):
        key = (path, framework)
        if key not in self._handles:
            if len(self._handles) >= self.OPEN_HANDLES:
                self._handles.popitem(last=False)
            self._handles[key] = _safe_open(path, framework)
        self._handles.move_to_end(key)
        return self._handles[key]

    def read(self, name):
        framework = "np" if self._known(name)[0] in NUMPY_READABLE else "pt"  # e.g. float8
        if framework == "pt":
            require("torch", "torch", f"reading {self._info[name][0]} tensor {name!r}")
        tensor = self._handle(self._where[name], framework).get_tensor(name)
        try:
            return to_numpy(tensor)
        except InputError as exc:
            raise SourceError(f"{exc}; or leave tensor {name!r} out (exclude=...)") from None


def _safetensors_dtype(code: str, path: str, name: str) -> str:
    """The dtype name of a safetensors dtype code; SourceError for codes no estimator reads (F4, F6_*)."""
    if code not in SAFETENSORS_DTYPES:
        raise SourceError(f"{path}: tensor {name!r} has dtype {code}, which is not supported (supported: "
                          f"{', '.join(SAFETENSORS_DTYPES)}); leave it out or convert it to float16/bfloat16")
    return SAFETENSORS_DTYPES[code]


def _check_index(label: str, weight_map: dict, found: dict, ignored: list[str]) -> None:
    """Every indexed tensor was found in its shard; tensors elsewhere are reported, not read."""
    missing = [n for n in weight_map if n not in found]
    if missing:
        raise SourceError(f"{label}: {len(missing)} tensor(s) listed in {HF_INDEX} are not in the shard it names "
                          f"(e.g. {missing[:3]}); the index and the shards disagree: re-download or re-save them")
    if ignored:
        warnings.warn(f"{label}: {len(ignored)} tensor(s) found in a shard that {HF_INDEX} does not name for them "
                      f"were left out (e.g. {ignored[:3]}); each tensor is read from the shard its index names",
                      SkippedTensorsWarning, stacklevel=5)


def _safe_open(path: str, framework: str = "np"):
    """``safe_open``; "np" avoids importing torch, "pt" is needed for bfloat16 tensors."""
    from safetensors import safe_open

    try:
        return safe_open(path, framework=framework)
    except Exception as exc:  # safetensors raises its own SafetensorError / OSError
        raise SourceError(f"{path}: not a readable safetensors file ({exc}); the file may be truncated or "
                          "corrupt: re-save or re-download it") from exc


class NpzCheckpoint(Checkpoint):
    """``.npz`` archive (or a single ``.npy``): arrays read one at a time.

    Zip members are read from their own bytes (``zip_members``), never decompressed past
    the size their ``.npy`` header claims; the archive's directory is read once.
    """

    def __init__(self, path: Path):
        super().__init__(str(path))
        self.path, self._layout = str(path), {}
        self._file: io.BufferedReader | None = None
        try:
            if self.path.endswith(".npy"):
                with open(self.path, "rb") as f:
                    self._layout[Path(self.path).stem] = _npy_header(f, os.path.getsize(self.path), self.path)
            else:
                self._members = zip_members(self.path)
                with open(self.path, "rb") as f:
                    for name, m in self._members.items():
                        head = io.BytesIO(m.read(f, NPY_HEADER_MAX))
                        self._layout[name] = _npy_header(head, m.size, f"{self.path}: member {m.name}")
        except SourceError:
            raise
        except Exception as exc:  # numpy parses the header with ast/tokenize: many error types
            raise SourceError(f"{self.path}: not a readable numpy file ({type(exc).__name__}: {str(exc)[:200]}); "
                              "it may be truncated or corrupt: re-save it with numpy.save or numpy.savez") from None
        self._info = {name: (dtype_name(lay.dtype), lay.shape) for name, lay in self._layout.items()}

    def read(self, name):
        if self._known(name)[0] == "object":
            raise SourceError(f"array {name!r} holds Python objects, which are never unpickled; "
                              "leave it out (exclude=...) or save numbers")
        try:
            if self.path.endswith(".npy"):
                return np.load(self.path, allow_pickle=False)
            return self._read_member(self._members[name], self._layout[name])
        except SourceError:
            raise
        except Exception as exc:  # a member may be damaged behind a valid header
            raise SourceError(f"{self.path}: array {name!r} cannot be read ({type(exc).__name__}: "
                              f"{str(exc)[:200]}); re-save it") from None

    def __getstate__(self):
        return {**self.__dict__, "_file": None}

    def _read_member(self, member: ZipMember, layout: "NpyLayout") -> np.ndarray:
        """The array of one member: its header's bytes and the data they claim, nothing past them."""
        count = math.prod(layout.shape)
        if self._file is None:  # kept open: one open per archive, not per member
            self._file = open(self.path, "rb")
        data = member.read(self._file, layout.offset + count * layout.dtype.itemsize)
        arr = np.frombuffer(data, layout.dtype, count, offset=layout.offset)
        return arr.reshape(layout.shape[::-1]).T if layout.fortran else arr.reshape(layout.shape)


@dataclass(frozen=True)
class NpyLayout:
    """Where an ``.npy`` stream's data starts, and the dtype, shape and order its header gives."""
    dtype: np.dtype
    shape: tuple
    fortran: bool
    offset: int


NPY_HEADER_MAX = 1 << 16  # numpy itself refuses headers over 10,000 bytes
_HEADER_READERS = {1: np.lib.format.read_array_header_1_0, 2: np.lib.format.read_array_header_2_0,
                   3: np.lib.format.read_array_header_2_0}


def _npy_header(f, size: int, label: str) -> NpyLayout:
    """The layout of an ``.npy`` stream of ``size`` bytes; refuses a header claiming more data than it holds."""
    major, _ = np.lib.format.read_magic(f)
    if major not in _HEADER_READERS:
        raise SourceError(f"{label}: .npy format version {major} is not supported; re-save it with numpy.save")
    length = f.read(2 if major == 1 else 4)
    shape, fortran, dtype = _parsed_header(major, length + f.read(int.from_bytes(length, "little")))
    claimed = math.prod(shape) * dtype.itemsize
    if dtype.kind != "O" and f.tell() + claimed > size:
        raise SourceError(f"{label} claims shape {shape} ({claimed} bytes) but holds {size - f.tell()}; "
                          "the file is corrupt or truncated: re-save it")
    return NpyLayout(dtype, tuple(shape), bool(fortran), f.tell())


@lru_cache(maxsize=1024)
def _parsed_header(major: int, header: bytes) -> tuple:
    """numpy's ``(shape, fortran_order, dtype)`` of a header (its length field and text), parsed once
    per distinct header: the members of one archive mostly share a few."""
    return _HEADER_READERS[major](io.BytesIO(header))


class TorchCheckpoint(MemoryCheckpoint):
    """``.pt``/``.pth``/``.bin``/``.ckpt`` via ``torch.load(weights_only=True)``, memory-mapped.

    A Lightning-style dict contributes its ``state_dict`` and scalar entries
    (``epoch``, ``global_step``) as metadata; nested dicts of tensors are
    flattened with ``.`` joins.
    """

    def __init__(self, path: Path):
        obj = torch_load(path)
        tensors, metadata = _split_checkpoint_dict(obj, str(path))
        super().__init__(tensors, str(path), metadata)
        for name, value in self.tensors.items():
            _check_fits(self.label, name, value)
        self.path = str(path)

    def __reduce__(self):
        """Shipped to a worker as its path (reopened there once per process), never as its tensors."""
        return open_cached, (self.path,)


def torch_load(path) -> object:
    """``torch.load`` restricted to tensors and plain containers; never runs pickled code."""
    torch = require("torch", "torch", f"reading {Path(path).name}")

    check_torch_zip(path)
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" not in str(exc).lower():  # a damaged pickle, not a refused one
            raise SourceError(f"{path}: not a readable torch checkpoint ({exc}); it may be truncated or "
                              "corrupt: re-save it (torch.save) or re-download it") from None
        raise UnsafePickleError(
            f"{path}: refused to unpickle: the file asks to build objects other than tensors and plain "
            f"containers, which could run arbitrary code. Nothing was executed. If you trust the file, load "
            f"it yourself and pass the state_dict, or convert it to .safetensors. (torch said: "
            f"{str(exc).splitlines()[0]})") from None
    except Exception as exc:  # torch reports damage as RuntimeError, EOFError, IndexError, KeyError, ...
        raise SourceError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}); it may be truncated or corrupt: "
                          "re-save it (torch.save) or re-download it") from None


def _split_checkpoint_dict(obj, label: str) -> tuple[dict, dict]:
    if not isinstance(obj, Mapping):
        raise SourceError(f"{label}: holds a {type(obj).__name__}, not a dict of tensors; save a state_dict")
    for key in STATE_DICT_KEYS:
        if isinstance(obj.get(key), Mapping):
            return _flatten(obj[key], label=label), _scalars(obj)
    return _flatten(obj, label=label), _scalars(obj)


def _flatten(d: Mapping, prefix: str = "", label: str = "<memory>") -> dict:
    out, in_lists = _flatten_into({}, d, prefix, label)
    if in_lists:
        warnings.warn(f"{label}: {in_lists} tensor(s) inside lists or tuples were not read; only tensors in "
                      "(nested) dicts are measured. Put them in a dict to measure them",
                      SkippedTensorsWarning, stacklevel=4)
    return out


def _is_tensor(v) -> bool:
    """An array or tensor; torch tensors by type (a nested tensor raises on ``.shape``)."""
    if is_torch(v):
        return hasattr(type(v), "dtype")
    return hasattr(v, "shape") and hasattr(v, "dtype")


def _flatten_into(out: dict, d: Mapping, prefix: str, label: str) -> tuple[dict, int]:
    """Tensors of nested dicts under ``.``-joined names; also counts tensors found inside lists/tuples.
    Two tensors that end up with one name (``{"a.b": x, "a": {"b": y}}``) are a SourceError."""
    in_lists = 0
    for k, v in d.items():
        if isinstance(v, Mapping):
            in_lists += _flatten_into(out, v, f"{prefix}{k}.", label)[1]
        elif _is_tensor(v):
            name = f"{prefix}{k}"
            if name in out:
                raise SourceError(f"{label}: two tensors are both named {name!r} once nested names are joined "
                                  "with '.' (or keys differ only in type, e.g. 1 and '1'); rename one so every "
                                  "tensor has its own name")
            out[name] = v
        elif isinstance(v, (list, tuple)):
            in_lists += _count_tensors(v)
    return out, in_lists


def _count_tensors(v) -> int:
    if _is_tensor(v):
        return 1
    items = v.values() if isinstance(v, Mapping) else v if isinstance(v, (list, tuple)) else ()
    return sum(_count_tensors(x) for x in items)


def _scalars(d: Mapping) -> dict:
    """Integer/float entries (and numeric strings, as safetensors metadata stores them)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, bool) or not isinstance(k, str):
            continue
        if isinstance(v, (int, float)):
            out[k] = v
        elif isinstance(v, str):
            try:
                out[k] = int(v)
            except ValueError:
                pass
    return out


def is_checkpoint_dir(path: Path) -> bool:
    """A Hugging Face-style model directory (one checkpoint, not a series)."""
    return path.is_dir() and any((path / n).exists() for n in (HF_INDEX, *HF_SINGLE))


def _open_model_dir(path: Path) -> Checkpoint:
    if (path / HF_INDEX).exists():
        weight_map = _weight_map(path)
        shards = sorted(set(weight_map.values()))
        missing = [s for s in shards if not (path / s).exists()]
        if missing:
            raise SourceError(f"{path}: shards listed in {HF_INDEX} are missing: {missing}; download them")
        ckpt: Checkpoint = SafetensorsCheckpoint([regular_file(path / s, path) for s in shards], str(path), weight_map)
    elif (path / "model.safetensors").exists():
        ckpt = SafetensorsCheckpoint([regular_file(path / "model.safetensors", path)], str(path))
    else:
        ckpt = TorchCheckpoint(regular_file(path / "pytorch_model.bin", path))
    ckpt.metadata.update(_trainer_state(path))
    return ckpt


def _weight_map(path: Path) -> dict[str, str]:
    """The ``weight_map`` of a ``model.safetensors.index.json``: tensor name -> shard file inside ``path``."""
    index = regular_file(path / HF_INDEX, path)
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise SourceError(f"{index}: not a valid shard index ({exc}); it needs a 'weight_map'") from None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise SourceError(f"{index}: 'weight_map' must map tensor names to shard file names "
                          '({"layer.weight": "model-00001-of-00002.safetensors", ...}); fix the index')
    outside = [s for s in set(weight_map.values()) if Path(s).is_absolute() or Path(s).name != s
               or s in ("", ".", "..")]
    if outside:
        raise SourceError(f"{index}: shards {outside[:3]} lie outside the model folder; refused. A shard index "
                          "names files inside its own folder")
    return weight_map


def regular_file(path: Path, folder: Path | None = None) -> Path:
    """``path`` if it resolves to a regular file (inside ``folder``, when given), else SourceError.

    Checked on the resolved path before anything opens it: a FIFO, device or socket would block
    or never end, and a symlink out of a model folder escapes it. A Hugging Face cache snapshot
    (``models--org--name/snapshots/REV``) may link into its own repository folder (``blobs/``).
    """
    try:
        real = path.resolve()
    except (OSError, RuntimeError) as exc:  # a link loop
        raise SourceError(f"{path}: cannot be resolved ({exc}); refused. Replace the link with the file") from None
    if folder is not None:
        top = folder.resolve()
        if not inside(real, top.parent.parent if top.parent.name == "snapshots" else top):
            raise SourceError(f"{path}: links to {real}, outside the model folder {folder}; refused. Copy the "
                              "file into the folder if you trust it")
    mode = os.stat(real).st_mode
    if not stat.S_ISREG(mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or
                stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise SourceError(f"{path}: is {kind}{'' if real == path.absolute() else f' ({real})'}, not a checkpoint "
                          "file; refused before opening it. Pass a regular file")
    return path


def _trainer_state(path: Path) -> dict:
    f = path / "trainer_state.json"
    if not f.is_file():
        return {}
    try:
        state = json.loads(f.read_text())
    except (ValueError, OSError, RecursionError) as exc:
        raise SourceError(f"{f}: not readable JSON ({exc}); fix or remove it") from None
    if not isinstance(state, dict):
        raise SourceError(f"{f}: holds a JSON {type(state).__name__}, expected an object such as "
                          '{"global_step": 500}; fix or remove it')
    return _scalars(state)


@contextmanager
def path_errors():
    """OS errors on a user's path (too long, no permission, ...) as SourceError."""
    try:
        yield
    except OSError as exc:
        name = str(exc.filename)[:80] + ("..." if len(str(exc.filename)) > 80 else "")
        raise SourceError(f"{name}: cannot access this path ({exc.strerror or exc}); check it") from None


def open_path(path) -> Checkpoint:
    """Open one checkpoint file or model directory (uncached)."""
    with path_errors():
        return _open_path(path)


def _open_path(path) -> Checkpoint:
    p = hub.resolve(path) if hub.is_hub(path) else Path(path)
    if not p.exists():
        raise SourceError(f"{p}: no such file or directory")
    if p.is_dir():
        if not is_checkpoint_dir(p):
            raise SourceError(f"{p}: not a model directory (no {HF_INDEX}, model.safetensors or "
                              "pytorch_model.bin); for a series of checkpoints use kcomplexity.analyse")
        return _open_model_dir(p)
    suffix = p.suffix.lower()
    if suffix in FILE_SUFFIXES:
        regular_file(p)
    if suffix == ".safetensors":
        return SafetensorsCheckpoint([p], str(p))
    if suffix in (".npz", ".npy"):
        return NpzCheckpoint(p)
    if suffix in TORCH_SUFFIXES:
        return TorchCheckpoint(p)
    if suffix == ".gguf":
        return GGUFCheckpoint(p)
    if suffix == ".onnx":
        return OnnxCheckpoint(p)
    raise SourceError(f"{p}: unknown checkpoint format {suffix!r}; supported: {', '.join(FILE_SUFFIXES)} "
                      "and Hugging Face model directories")


def fingerprint(path) -> str:
    """``path|size|mtime|ctime|inode`` of a file, or of every file in a model directory.

    ctime and inode change on every write or replace, even when size and mtime are kept."""
    p = Path(path)
    if not p.exists():
        raise SourceError(f"{p}: no such file or directory")
    files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p]
    stats = [(f, f.stat()) for f in files]
    return ";".join(f"{f}|{s.st_size}|{s.st_mtime_ns}|{s.st_ctime_ns}|{s.st_ino}" for f, s in stats)


@lru_cache(maxsize=4)
def _open_cached(path: str, stamp: str) -> Checkpoint:
    return open_path(path)


def open_cached(path) -> Checkpoint:
    """``open_path`` memoised per process on the fingerprint: workers reuse an opened file."""
    return _open_cached(os.fspath(path), fingerprint(path))


def open_source(source, buffers: bool = False) -> Checkpoint:
    """A path, ``nn.Module``, state dict, mapping name -> array, or Checkpoint -> Checkpoint."""
    if isinstance(source, Checkpoint):
        return source
    if isinstance(source, (str, os.PathLike)):
        return open_path(source)
    if is_module(source):
        return MemoryCheckpoint.from_module(source, buffers=buffers)
    if isinstance(source, Mapping):
        tensors, metadata = _split_checkpoint_dict(source, "<memory>")
        return MemoryCheckpoint(tensors, "<memory>", metadata)
    raise SourceError(f"cannot read weights from a {type(source).__name__}: pass a file or directory path, "
                      "an nn.Module, a state_dict or a dict name -> array")
