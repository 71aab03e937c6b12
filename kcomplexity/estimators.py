"""Spec grammar, ``Pipeline`` (encoding | coder), the ``Estimate`` record and the registry.

A spec is ``"ENCODING|CODER"``; a bare coder means ``raw|CODER``. Each part is
``name[N][-option...]``: ``q8``, ``q4-sym``, ``bitplanes8-tiled``, ``zstd-19``.
"""
from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import entry_points

import numpy as np

from .arrays import as_array, dtype_name
from .coders import COMPRESSORS, Coder, Compressor, Entropy
from .coders.motif import Motif
from .encodings import Bitplanes, Encoded, Encoding, Fields, Quantize, Raw, Sign, Stream
from .errors import SpecError, TooSmall, VerificationError

DEFAULT_ESTIMATOR = "raw|zstd-3"
ENTRY_POINT_GROUP = "kcomplexity.estimators"


@dataclass
class Estimate:
    """One measurement. ``bits`` counts everything a decoder needs; NaN when skipped."""
    estimator: str
    n_values: int
    dtype: str
    raw_bits: int
    bits: float
    bits_per_value: float
    ratio: float
    lossless: bool
    seconds: float
    details: dict = field(default_factory=dict)
    skipped: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- registry
_ENCODINGS: dict[str, type[Encoding]] = {c.family: c for c in (Raw, Fields, Sign, Quantize, Bitplanes)}
_CODERS: dict[str, type[Coder]] = {c.family: c for c in (*COMPRESSORS, Entropy, Motif)}
_plugins_loaded = False


def register(cls: type, name: str | None = None) -> type:
    """Register an Encoding or Coder subclass under ``name`` (default ``cls.family``).

    Usable as a decorator. Third-party packages may instead expose the class in the
    ``kcomplexity.estimators`` entry-point group.
    """
    name = name or cls.family
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name or ""):
        raise SpecError(f"registry names are lower-case identifiers, got {name!r}")
    if issubclass(cls, Encoding):
        _ENCODINGS[name] = cls
    elif issubclass(cls, Coder):
        _CODERS[name] = cls
    else:
        raise SpecError(f"{cls!r} is neither an Encoding nor a Coder subclass")
    return cls


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from .coders import bdm  # noqa: F401  (registers bdm coders)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        register(ep.load(), ep.name)


def available() -> dict[str, list[str]]:
    """Registered encodings and coders with how their specs are written."""
    _load_plugins()
    return {"encodings": sorted(c.pattern or n for n, c in _ENCODINGS.items()),
            "coders": sorted(c.pattern or n for n, c in _CODERS.items())}


def _resolve(text: str, table: dict, kind: str):
    head, *options = text.split("-")
    number = None
    if head not in table:
        m = re.fullmatch(r"([a-z_][a-z0-9_]*?)(\d+)", head)
        if m and m.group(1) in table:
            head, number = m.group(1), int(m.group(2))
        else:
            valid = available()[kind + "s"]
            raise SpecError(f"unknown {kind} {text!r}; valid {kind}s: {', '.join(valid)}")
    return table[head].from_spec(number, options)


def parse(spec: "str | Pipeline") -> "Pipeline":
    """Parse ``"ENCODING|CODER"`` (or a bare coder) into a Pipeline."""
    if isinstance(spec, Pipeline):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise SpecError(f"an estimator spec is a string like 'raw|zstd-19', got {spec!r}")
    _load_plugins()
    parts = spec.strip().lower().split("|")
    if len(parts) > 2:
        raise SpecError(f"spec {spec!r} has more than one '|': write 'ENCODING|CODER'")
    encoding = _resolve(parts[0], _ENCODINGS, "encoding") if len(parts) == 2 else Raw()
    return Pipeline(encoding, _resolve(parts[-1], _CODERS, "coder"))


# ---------------------------------------------------------------- pipeline
class Pipeline:
    """An estimator: ``encoding`` then ``coder``. ``Pipeline(Quantize(8), Lzma(9))``."""

    def __init__(self, encoding: Encoding, coder: Coder):
        self.encoding, self.coder = encoding, coder

    @property
    def spec(self) -> str:
        return f"{self.encoding.spec}|{self.coder.spec}"

    @property
    def lossless(self) -> bool:
        return self.encoding.lossless and isinstance(self.coder, Compressor)

    def __repr__(self) -> str:
        return f"Pipeline({self.spec!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Pipeline) and self.spec == other.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    def estimate(self, x, *, verify: bool = False, allow_nonfinite: bool = False) -> Estimate:
        arr = as_array(x, allow_nonfinite=allow_nonfinite)
        start = time.perf_counter()
        encoded = self.encoding.encode(arr)
        try:
            coded = {s.name: self.coder.code(s) for s in encoded.streams}
        except TooSmall as exc:
            return self._record(arr, float("nan"), {}, time.perf_counter() - start, skipped=str(exc))
        if verify:
            self._verify(arr, encoded, coded)
        bits = encoded.side_bits + sum(c.bits for c in coded.values())
        return self._record(arr, bits, self._details(encoded, coded), time.perf_counter() - start)

    def _record(self, arr, bits, details, seconds, skipped=None) -> Estimate:
        raw_bits = 8 * arr.size * arr.dtype.itemsize
        return Estimate(self.spec, int(arr.size), dtype_name(arr.dtype), raw_bits, bits,
                        bits / arr.size, raw_bits / bits, self.lossless, seconds, details, skipped)

    @staticmethod
    def _details(encoded: Encoded, coded: dict) -> dict:
        details: dict = {"side_bits": encoded.side_bits}
        if len(coded) > 1:
            details["streams"] = {name: c.bits for name, c in coded.items()}
        for c in coded.values():
            for key, value in c.details.items():
                if isinstance(value, (int, float)):
                    details[key] = details.get(key, 0) + value
                else:
                    details[key] = value
        return details

    def _verify(self, arr: np.ndarray, encoded: Encoded, coded: dict) -> None:
        """Decode every frame and, for a lossless encoding, the tensor; raise if anything differs."""
        if not isinstance(self.coder, Compressor):
            raise SpecError(f"verify=True needs a byte compressor; {self.coder.spec!r} produces no frame")
        decoded_streams = []
        for s in encoded.streams:
            payload = self.coder.decompress(coded[s.name].frame)
            if payload != bytes(s.to_bytes()):
                raise VerificationError(f"{self.spec}: stream {s.name!r} did not decode to its input")
            decoded_streams.append(Stream(s.name, stream_from_bytes(payload, s), s.nsymbols))
        if self.encoding.lossless:
            back = self.encoding.decode(Encoded(decoded_streams, encoded.side_bits), arr.shape, arr.dtype)
            if back.tobytes() != np.ascontiguousarray(arr).tobytes():
                raise VerificationError(f"{self.spec}: the decoded tensor differs from the input")


def stream_from_bytes(payload: bytes, like: Stream) -> np.ndarray:
    """Invert ``Stream.to_bytes`` for a stream shaped like ``like``."""
    n = like.data.size
    if like.nsymbols is None:
        out = np.frombuffer(payload, dtype=like.data.dtype.newbyteorder("<"))
    elif like.nsymbols == 2:
        out = np.unpackbits(np.frombuffer(payload, np.uint8))[:n]
    else:
        out = np.frombuffer(payload, np.uint8 if like.nsymbols <= 256 else np.dtype("<u2"))
    return out.astype(like.data.dtype).reshape(like.data.shape)


def estimate(x, estimator: "str | Pipeline | list" = DEFAULT_ESTIMATOR, *, verify: bool = False,
             allow_nonfinite: bool = False):
    """Estimate K(x) in bits. ``x``: numpy array, torch tensor or sequence of numbers.

    >>> import numpy as np, kcomplexity
    >>> kcomplexity.estimate(np.zeros(1000, np.float32), "raw|zstd-3").ratio > 100
    True

    A list of specs returns a list of Estimates, one per spec. NaN/Inf raise
    InputError unless ``allow_nonfinite=True``.
    """
    if isinstance(estimator, (list, tuple)):
        arr = as_array(x, allow_nonfinite=allow_nonfinite)
        return [parse(e).estimate(arr, verify=verify, allow_nonfinite=True) for e in estimator]
    return parse(estimator).estimate(x, verify=verify, allow_nonfinite=allow_nonfinite)
