"""Conditional complexity between checkpoints: ``delta:<spec>`` rows bound K(w_t | w_{t-1}).

A delta kind is a ``Delta``: which pipelines it applies to, how its rows are named,
and how it measures ``w_t`` given ``w_{t-1}``. ``analyse(delta=True)`` asks
``delta_for(pipeline)`` for every estimator and adds one row per pipeline that has
one; a new kind is one more ``Delta`` subclass in ``DELTAS``.

``XorDelta`` (every lossless pipeline): the delta of two same-shape, same-dtype
tensors is the bitwise XOR of their bit patterns, kept in the tensor's dtype:
``d = w_t XOR w_{t-1}``. It is exactly invertible (``w_t = w_{t-1} XOR d``), so a
lossless ``<spec>`` applied to ``d`` gives an upper bound on K(w_t | w_{t-1}) (up to
the constant-size decoder). Weights that did not change give all-zero words; small
updates leave sign and exponent untouched, so ``delta:fields|zstd-L`` shows which
IEEE fields moved. A lossy code of XOR words means nothing, so lossy pipelines get
no XOR delta. ``ConditionalBDMDelta`` (BDM pipelines): the coarse conditional BDM of
w_t's streams given w_{t-1}'s, an estimate beside that bound. The first checkpoint of a
series has no predecessor and no delta rows.
"""
from __future__ import annotations

import time
from typing import cast
from abc import ABC, abstractmethod

import numpy as np

from ..arrays import bit_patterns
from ..coders.bdm import BDM, alphabet
from ..coders.bdm_extras import bdm_conditional
from ..errors import SpecError, TooSmall
from ..estimators import Estimate, Pipeline, parse
from ..io import ModelStream
from ..registry import families

PREFIX = "delta:"


class Delta(ABC):
    """One kind of conditional estimate of a checkpoint given its predecessor."""
    prefix: str = PREFIX
    lossless: bool = False

    @abstractmethod
    def accepts(self, pipeline: Pipeline) -> bool:
        """True when this kind gives ``pipeline`` a delta row."""

    def label(self, pipeline: Pipeline) -> str:
        """The row's estimator name, e.g. ``"delta:raw|zstd-3"``."""
        return self.prefix + pipeline.spec

    @abstractmethod
    def estimate(self, pipeline: Pipeline, current: ModelStream, previous: ModelStream) -> Estimate:
        """Bits of ``current`` given ``previous`` (same names, shapes and dtypes) under ``pipeline``."""


class XorDelta(Delta):
    """``pipeline`` applied to the XOR of the bit patterns: an upper bound on K(w_t | w_{t-1})."""
    lossless = True

    def accepts(self, pipeline: Pipeline) -> bool:
        return pipeline.lossless

    def estimate(self, pipeline: Pipeline, current: ModelStream, previous: ModelStream) -> Estimate:
        xor = [xor_delta(a, b) for a, b in zip(current.tensors, previous.tensors, strict=True)]
        return pipeline.estimate(ModelStream(dict(zip(current.names, xor)), allow_nonfinite=True),
                                 allow_nonfinite=True)


class ConditionalBDMDelta(Delta):
    """BDM pipelines: the coarse conditional BDM (``kcomplexity.bdm_conditional``) of each
    stream of w_t given the same stream of w_{t-1}, summed, plus w_t's side bits. An
    estimate of K(w_t | w_{t-1}), not a bound. Each checkpoint is encoded on its own
    (a quantiser takes each one's range), exactly as for its plain rows.

    Where a whole-form coder (no tiles) is out of its regime on any stream of w_t
    (saturated or skewed: ``BDM.regimes``), the row uses the coder's size-stable form
    (``-tile64``, ``-chunk1200``) instead and ``details`` names it (``form``, ``form_reason``):
    on a saturated whole matrix, blocks of an unrelated checkpoint match by chance (two
    independent random 1024x1024 bit matrices: BDM(x|y) = 0.38 BDM(x) whole, 0.996 tiled)."""

    def accepts(self, pipeline: Pipeline) -> bool:
        return isinstance(pipeline.coder, BDM)

    def estimate(self, pipeline: Pipeline, current: ModelStream, previous: ModelStream) -> Estimate:
        start = time.perf_counter()
        now, before = current.encode(pipeline.encoding), previous.encode(pipeline.encoding)
        try:
            coder, details = self.form(cast(BDM, pipeline.coder), now.streams)
            streams = {s.name: bdm_conditional(coder.symbols(s), coder.symbols(p), coder.ndim, alphabet(s),
                                               partition=coder.partition, tile=coder.tile)
                       for s, p in zip(now.streams, before.streams, strict=True)}
        except TooSmall as exc:
            return pipeline.record(current, float("nan"), {}, time.perf_counter() - start, skipped=str(exc))
        details.update({"side_bits": now.side_bits, "bdm_conditional": sum(streams.values())})
        if len(streams) > 1:
            details["streams"] = streams
        bits = now.side_bits + details["bdm_conditional"]
        return pipeline.record(current, bits, details, time.perf_counter() - start)

    @staticmethod
    def form(coder: BDM, streams: list) -> tuple[BDM, dict]:
        """The coder a delta row uses on ``streams`` (w_t's) and the details that say why."""
        if coder.size_stable() is coder:
            return coder, {}
        regimes = coder.regimes(*coder.measure(streams))
        out = {name: r for name, r in regimes.items() if r != "ok"}
        if not out:
            return coder, {}
        stable = coder.size_stable()
        listed = ", ".join(f"{name} ({r})" for name, r in out.items())
        return stable, {"form": stable.spec, "form_reason": f"'{coder.spec}' is out of its regime on {listed}: "
                        f"its conditional would count chance block matches as known, so '{stable.spec}' is used"}


DELTAS: list[Delta] = [XorDelta(), ConditionalBDMDelta()]


def delta_for(pipeline: Pipeline) -> Delta | None:
    """The first delta kind that accepts ``pipeline``, or None."""
    return next((d for d in DELTAS if d.accepts(pipeline)), None)


def delta_spec(spec: str) -> str:
    """The delta row name of ``spec`` (``"delta:raw|zstd-3"``); SpecError when no delta kind accepts it."""
    pipeline = parse(spec)
    kind = delta_for(pipeline)
    if kind is None:
        raise SpecError(f"delta needs a lossless estimator (a lossless encoding, one of "
                        f"{', '.join(families('encodings', lossless=True))}, with a lossless coder, one of "
                        f"{', '.join(families(lossless=True))}) or a BDM one (conditional BDM), got "
                        f"{pipeline.spec!r}: the XOR delta between checkpoints is only meaningful bit for bit")
    return kind.label(pipeline)


def xor_delta(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Bitwise XOR of two same-shape, same-dtype arrays, viewed back in their dtype."""
    if current.shape != previous.shape or current.dtype != previous.dtype:
        raise SpecError(f"delta needs equal shape and dtype, got {current.shape} {current.dtype} and "
                        f"{previous.shape} {previous.dtype}")
    return np.bitwise_xor(bit_patterns(current), bit_patterns(previous)).view(current.dtype)
