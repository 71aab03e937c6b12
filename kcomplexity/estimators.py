"""``Pipeline`` (encoding | coder), the ``Estimate`` record, ``parse`` and ``estimate``.

The spec grammar and the registry live in ``kcomplexity.registry``.
"""
from __future__ import annotations

import copy
import math
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .coders.base import Coded, Coder, store, stored_bits, stream_kind, unstore, with_stored_mode
from .encodings import Encoded, Encoding, Stream
from .errors import SpecError, TooSmall, VerificationError
from .arrays import is_module
from .io import load
from .io.model_stream import ModelStream
from .registry import families, parse_parts

DEFAULT_ESTIMATOR = "raw|zstd-3"


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
        """The fields as a dict (``details`` copied): what ``dataclasses.asdict`` gives, at a
        fraction of its cost per row."""
        return {**vars(self), "details": copy.deepcopy(self.details)}


def parse(spec: "str | Pipeline") -> "Pipeline":
    """Parse ``"ENCODING|CODER"`` (or a bare coder, or ``best``: see ``Best``) into a Pipeline."""
    if isinstance(spec, Pipeline):
        return spec
    if isinstance(spec, str) and re.match(r"best($|\(|-t)", spec.strip().lower()):
        return Best.from_spec(spec)
    return Pipeline(*parse_parts(spec))


def parse_all(estimators, default: str = DEFAULT_ESTIMATOR) -> list["Pipeline"]:
    """One spec, a list of them, or None (``default``) -> the distinct Pipelines, in order; never empty."""
    if estimators is None:
        estimators = [default]
    elif isinstance(estimators, (str, Pipeline)):
        estimators = [estimators]
    elif not isinstance(estimators, (list, tuple)):
        raise SpecError(f"estimators takes a spec such as 'raw|zstd-3' or a list of them, got {estimators!r}")
    pipelines = list(dict.fromkeys(parse(e) for e in estimators))
    if not pipelines:
        raise SpecError("estimators is empty: pass at least one spec such as 'raw|zstd-3'")
    return pipelines


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
        """True when ``bits`` describe the exact input given shape and dtype (both parts declare it)."""
        return self.encoding.lossless and self.coder.lossless

    def __repr__(self) -> str:
        return f"Pipeline({self.spec!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Pipeline) and self.spec == other.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    def estimate(self, x, *, verify: bool = False, allow_nonfinite: bool = False, threads: int = 1,
                 progress=None) -> Estimate:
        """Estimate one tensor, or a whole model given as a ``ModelStream`` (one stream; under a
        2-D coder such as ``bdm2d``, the sum over its matrices: ``_per_matrix``). ``threads`` and
        ``progress(fraction)`` reach a coder that declares ``takes_threads`` (a chunked
        compressor such as ``lzma-9-c64M`` compresses its chunks in parallel); neither changes
        the bits. ``verify=True`` decodes every stream and checks real <= reported bits."""
        model = ModelStream.of(x, allow_nonfinite=allow_nonfinite)
        start = time.perf_counter()
        estimate, proof = self.measure(model, threads, progress, verifiable=verify)
        if verify and proof is not None:
            estimate.details["verified_bits"] = proof()
        estimate.seconds = time.perf_counter() - start
        return estimate

    def measure(self, model: ModelStream, threads: int = 1, progress=None, *,
                verifiable: bool = False) -> tuple[Estimate, "Callable[[], float] | None"]:
        """The estimate of ``model`` (unverified) and, with ``verifiable``, a call that verifies
        it later from the kept streams and codes (``_verify``: returns the real bits); None
        when skipped. ``Best`` verifies only its winner this way, without coding it again. A whole
        model under a 2-D coder is verified in its one pass over the matrices (``_per_matrix``)."""
        if self.coder.ndim >= 2 and len(model.tensors) > 1:
            estimate = self._per_matrix(model, verifiable, threads)
            verified = estimate.details.get("verified_bits")
            return estimate, (lambda: verified) if verified is not None else None
        start = time.perf_counter()
        encoded = model.encode(self.encoding, count=self.coder.counts_only and not verifiable)
        try:
            coded = self.code(encoded.streams, threads, progress)
        except TooSmall as exc:
            return self.record(model, float("nan"), {}, time.perf_counter() - start, skipped=str(exc)), None
        bits = encoded.side_bits + sum(c.bits for c in coded.values())
        estimate = self.record(model, bits, self._details(encoded, coded), time.perf_counter() - start)
        return estimate, (lambda: self._verify(model, encoded, coded)) if verifiable else None

    def code(self, streams: list[Stream], threads: int = 1, progress=None) -> dict[str, Coded]:
        """Each stream through the coder, by name. A lossless coder's stream is the shorter of
        its code and the stream stored verbatim, plus a 1-bit flag (``with_stored_mode``)."""
        for s in streams:
            if stream_kind(s) not in self.coder.accepts:
                raise SpecError(f"{self.spec!r}: coder {self.coder.family!r} reads {' or '.join(sorted(self.coder.accepts))} "
                                f"streams, but encoding {self.encoding.family!r} gave {stream_kind(s)} stream "
                                f"{s.name!r}; pick another encoding (registered: "
                                f"{', '.join(families('encodings'))})")
        work = {"threads": threads, "progress": progress} if self.coder.takes_threads else {}
        coded = self.coder.code_all(streams, **work)
        if not self.coder.lossless:
            return coded
        return {s.name: with_stored_mode(s, coded[s.name]) for s in streams}

    def _per_matrix(self, model: ModelStream, verify: bool, threads: int) -> Estimate:
        """The one rule for a whole model under a 2-D coder: the sum of its matrices' estimates, each
        matrix alone. Tensors under 2-D or without a complete block are left out, named in
        ``details["left_out"]``; ``n_values`` counts the values scored. Warnings: one per kind."""
        start, scored, estimates, left_out = time.perf_counter(), {}, [], []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for name, t in zip(model.names, model.tensors):
                e = self.estimate(t, verify=verify, allow_nonfinite=True, threads=threads) if t.ndim >= 2 else None
                if e is None or e.skipped:
                    left_out.append(name)
                else:
                    scored[name] = t
                    estimates.append(e)
        _warn_once_per_kind(caught, len(model.tensors))
        seconds = time.perf_counter() - start
        if not estimates:
            return self.record(model, float("nan"), {"left_out": left_out}, seconds,
                               skipped=f"{self.spec!r} scores matrices, and no tensor of the model is a matrix "
                                       "holding a complete block")
        details = _added([e.details for e in estimates])
        details.update(left_out=left_out, matrices=len(estimates))
        return self.record(ModelStream(scored), sum(e.bits for e in estimates), details, seconds)

    def record(self, model: ModelStream, bits, details, seconds, skipped=None) -> Estimate:
        """The Estimate of ``model`` under this pipeline given its ``bits`` (NaN and ``skipped``: why not)."""
        n, raw_bits = model.n_values, model.raw_bits
        ratio = raw_bits / bits if bits else float("inf")  # a conditional estimate may be 0 bits
        return Estimate(self.spec, n, model.dtype, raw_bits, bits, bits / n, ratio, self.lossless,
                        seconds, details, skipped)

    @staticmethod
    def _details(encoded: Encoded, coded: dict) -> dict:
        details: dict = {"side_bits": encoded.side_bits}
        if len(coded) > 1:
            details["streams"] = {name: c.bits for name, c in coded.items()}
        for c in coded.values():
            for key, value in c.details.items():
                if isinstance(value, dict):  # per stream
                    details.setdefault(key, {}).update(value)
                elif isinstance(value, (int, float)):
                    details[key] = details.get(key, 0) + value
                else:
                    details[key] = value
        return details

    def _verify(self, model: ModelStream, encoded: Encoded, coded: dict) -> float:
        """Write and decode every stream's real bitstream (stored, or the coder's ``roundtrip``)
        and, for a lossless encoding, every tensor. Raises VerificationError if anything
        differs or any stream's real length exceeds its reported bits (tolerance 0: a lossless
        ``bits`` is a literal upper bound). Returns the real length in bits."""
        if not self.coder.lossless:
            raise SpecError(f"verify=True needs a lossless coder (one of {', '.join(families(lossless=True))}); "
                            f"{self.coder.spec!r} is an estimate with no decoder")
        decoded_streams, real_bits = [], float(encoded.side_bits)
        roundtrips = self.coder.roundtrip_all(encoded.streams, coded)
        for s in encoded.streams:
            c = coded[s.name]
            data, bits = (unstore(s, store(s)), stored_bits(s)) if c.stored else roundtrips[s.name]
            bits += 1  # the stored-mode flag
            if data.dtype != s.array.dtype or data.tobytes() != np.ascontiguousarray(s.array).tobytes():
                raise VerificationError(f"{self.spec}: stream {s.name!r} did not decode to its input")
            if bits > c.bits:
                raise VerificationError(f"{self.spec}: stream {s.name!r} really takes {bits:.1f} bits, more than "
                                        f"the {c.bits:.1f} reported; a lossless coder's bits must bound its real "
                                        "code from above")
            decoded_streams.append(Stream(s.name, data, s.nsymbols))
            real_bits += bits
        if self.encoding.lossless:
            model.check_decoded(model.decode(self.encoding, Encoded(decoded_streams)), self.spec)
        return real_bits


def _added(parts: list[dict]) -> dict:
    """Details of several estimates as one: numbers added, per-stream dicts added stream by stream
    (``saturation``: the largest; a text such as a regime: the first that is not "ok")."""
    def combine(key, old, new):
        if old is None:
            return new
        if isinstance(new, str):
            return old if old != "ok" else new
        return max(old, new) if key == "saturation" else old + new
    out: dict = {}
    for details in parts:
        for key, value in details.items():
            if isinstance(value, dict):
                slot = out.setdefault(key, {})
                for name, v in value.items():
                    slot[name] = combine(key, slot.get(name), v)
            elif isinstance(value, (int, float, str)):
                out[key] = combine(key, out.get(key), value)
    return out


def _warn_once_per_kind(caught: list, n_tensors: int) -> None:
    """Re-issue recorded warnings once per category: the first message, and on how many it arose."""
    first: dict = {}
    for w in caught:
        first.setdefault(w.category, [w, 0])[1] += 1
    for category, (w, n) in first.items():
        more = f" (the same kind of warning arose {n} times over the model's {n_tensors} tensors)" if n > 1 else ""
        warnings.warn(f"{w.message}{more}", category, stacklevel=4)


BEST_SPEC = re.compile(r"best(?:\((?P<members>[^()]*)\))?(?:-t(?P<budget>\d+(?:\.\d+)?))?")


class Best(Pipeline):
    """The shortest of a declared portfolio of lossless pipelines, plus ceil(log2 n) bits that
    name the winner among the n members: itself a decodable upper bound.

    Spec: ``best`` (the default portfolio ``DEFAULT``), ``best(fields|ctx,raw|lzma-9)`` (any
    lossless specs, in order), and ``-tS`` for a time budget of S seconds (``best-t60``).
    Members run concurrently on ``workers`` threads (default: one each): the calling thread and
    helpers from one pool shared by every call (compressors release the GIL); on a model of
    fewer than ``PARALLEL_VALUES`` values they run in turn in the calling thread. A
    member not started within the budget is skipped, its bits None in ``details["members"]``,
    and still counted in n. ``details["winner"]`` names the winner, whose details follow;
    ``verify=True`` verifies the winner from the streams and codes its run kept (no second run).

    >>> import numpy as np
    >>> e = Best(["fields|entropy", "raw|zstd-3"]).estimate(np.tile(np.arange(16, dtype=np.float32), 256))
    >>> e.details["winner"], e.bits == e.details["members"]["raw|zstd-3"] + 1
    ('raw|zstd-3', True)
    """
    DEFAULT = ("fields|ctx", "raw|zstd-3")
    PARALLEL_VALUES = 1 << 17  # below, waking a helper and handing it the GIL costs more than the overlap saves

    def __init__(self, portfolio=DEFAULT, budget: float | None = None, workers: int | None = None):
        if isinstance(portfolio, (str, Pipeline)) or not portfolio:
            raise SpecError("Best takes a non-empty list of lossless specs, e.g. ['fields|ctx', 'raw|zstd-19']")
        self.members = list(dict.fromkeys(parse(p) for p in portfolio))
        for m in self.members:
            if isinstance(m, Best) or not m.lossless:
                raise SpecError(f"a best portfolio holds lossless pipelines (no best, no qB or BDM), got {m.spec!r}")
        if budget is not None and not budget > 0:
            raise SpecError(f"the time budget is a number of seconds > 0, got {budget!r}")
        self.budget, self.workers = budget, workers or len(self.members)
        self.encoding = self.coder = None  # type: ignore[assignment]  # the winner's, known only after a run

    @classmethod
    def from_spec(cls, spec: str) -> "Best":
        m = BEST_SPEC.fullmatch(spec.strip().lower().replace(" ", ""))
        if not m or (m.group("members") is not None and not m.group("members")):
            raise SpecError(f"cannot read {spec!r}: write 'best', 'best(fields|ctx,raw|zstd-19)' or 'best-t60'")
        members = m.group("members").split(",") if m.group("members") else cls.DEFAULT
        return cls(members, float(m.group("budget")) if m.group("budget") else None)

    @property
    def spec(self) -> str:
        specs = tuple(p.spec for p in self.members)
        members = "" if specs == self.DEFAULT else f"({','.join(specs)})"
        return f"best{members}" + (f"-t{self.budget:g}" if self.budget is not None else "")

    @property
    def lossless(self) -> bool:
        return True

    @property
    def index_bits(self) -> int:
        """Bits naming the winner: ceil(log2 n)."""
        return math.ceil(math.log2(len(self.members)))

    def estimate(self, x, *, verify: bool = False, allow_nonfinite: bool = False, threads: int = 1,
                 progress=None) -> Estimate:
        model = ModelStream.of(x, allow_nonfinite=allow_nonfinite)
        start = time.perf_counter()

        def run(member: Pipeline) -> tuple[Estimate, Callable | None] | None:
            if self.budget is not None and time.perf_counter() - start > self.budget:
                return None
            return member.measure(model, threads, verifiable=verify)

        workers = self.workers if model.n_values >= self.PARALLEL_VALUES else 1
        results = dict(zip((m.spec for m in self.members), _run_each(run, self.members, workers)))
        done = {spec: r for spec, r in results.items() if r is not None and not math.isnan(r[0].bits)}
        details: dict = {"members": {spec: (r[0].bits if r is not None else None) for spec, r in results.items()}}
        if not done:
            return self.record(model, float("nan"), details, time.perf_counter() - start,
                               skipped="no member of the portfolio gave a number (budget or too small)")
        winner = min(done, key=lambda spec: done[spec][0].bits)
        chosen, proof = done[winner]
        details.update(chosen.details, winner=winner, index_bits=self.index_bits)
        if verify and proof is not None:
            details["verified_bits"] = proof() + self.index_bits
        return self.record(model, chosen.bits + self.index_bits, details, time.perf_counter() - start)


_POOL: dict = {}  # the helper threads every Best shares, made once per process (a forked child makes its own)
_POOL_LOCK = threading.Lock()
HELPER_THREADS = 32  # at most this many members run at once beside the calling threads, over all calls


def _helpers() -> ThreadPoolExecutor:
    """The shared pool of helper threads (made on first use, threads started on demand)."""
    with _POOL_LOCK:
        if _POOL.get("pid") != os.getpid():  # a pool inherited through fork has no threads behind it
            _POOL.update(pid=os.getpid(), pool=ThreadPoolExecutor(HELPER_THREADS, thread_name_prefix="kcomplexity-best"))
        return _POOL["pool"]


def _run_each(run: Callable, items: list, workers: int) -> list:
    """``[run(item) for item in items]`` on ``workers`` threads: the calling thread and
    ``workers - 1`` helpers from the shared pool, each taking the next item not yet taken.
    No pool is made per call, and one worker runs everything in the calling thread."""
    results: list = [None] * len(items)
    pending, lock = iter(enumerate(items)), threading.Lock()

    def drain() -> None:
        while True:
            with lock:
                item = next(pending, None)
            if item is None:
                return
            results[item[0]] = run(item[1])
    helpers = [_helpers().submit(drain) for _ in range(min(workers, len(items)) - 1)]
    try:
        drain()
    finally:
        for h in helpers:
            h.result()
    return results


def estimate(x, estimator: "str | Pipeline | list" = DEFAULT_ESTIMATOR, *, verify: bool = False,
             allow_nonfinite: bool = False, threads: int = 1):
    """Estimate K(x) in bits. ``x``: numpy array, torch tensor, sequence of numbers, or a
    whole model: a ``kcomplexity.io.ModelStream``, or anything ``kcomplexity.load`` reads
    (a checkpoint path, a model folder, an ``nn.Module``, a dict name -> tensor), whose
    tensors are then measured as one stream.

    >>> import numpy as np, kcomplexity
    >>> kcomplexity.estimate(np.zeros(1000, np.float32), "raw|zstd-3").ratio > 100
    True

    A list of specs returns a list of Estimates, one per spec. NaN/Inf raise
    InputError unless ``allow_nonfinite=True``. ``threads``: compress the chunks of a
    chunked coder (``"raw|lzma-9-c64M"``) in parallel; the bits do not change.
    """
    if isinstance(x, (str, os.PathLike, Mapping)) or is_module(x):
        x = ModelStream(load(x), allow_nonfinite=allow_nonfinite)
    if isinstance(estimator, (list, tuple)):
        model = ModelStream.of(x, allow_nonfinite=allow_nonfinite)
        return [parse(e).estimate(model, verify=verify, threads=threads) for e in estimator]
    return parse(estimator).estimate(x, verify=verify, allow_nonfinite=allow_nonfinite, threads=threads)
