"""``check_component``: the conformance checks every encoding and coder passes, plugins included.

Like numcodecs' ``check_encode_decode`` or scikit-learn's ``check_estimator``: a plugin
author runs ``check_component(MyCoder)`` in their own tests, and the suite runs it on
every registered component. It raises ``ConformanceError`` (an AssertionError) saying
which check failed and what to fix.

>>> from kcomplexity.coders.compressors import Zstd
>>> check_component(Zstd)  # passes silently
"""
from __future__ import annotations

import math
import warnings
from itertools import combinations
from typing import cast

import ml_dtypes
import numpy as np

from .coders.base import Coder
from .encodings import Bitplanes, Encoded, Encoding, Fields, Quantize, Raw, Sign
from .coders.compressors import Zstd
from .errors import KComplexityError, SpecError, VerificationError
from .estimators import Pipeline
from .registry import build
from .specced import Specced

__all__ = ["ConformanceError", "check_component", "check_inputs"]


class ConformanceError(AssertionError):
    """A component breaks the contract ``check_component`` checks."""


def check_inputs() -> dict[str, np.ndarray]:
    """Seeded tensors every component is checked on, hostile ones included: all-distinct
    fp32 and fp64 values, two values, heavy tails, a constant, bf16, fp16, int8, bool."""
    rng = np.random.default_rng(20261206)
    w = rng.standard_normal((24, 40))
    return {"gauss32": w.astype(np.float32), "distinct32": rng.permutation(np.arange(1, 961, dtype=np.float32) / 7
                                                                            ).reshape(24, 40),
            "distinct64": rng.standard_normal((24, 40)), "two": np.where(w > 0, 0.5, -0.25).astype(np.float32),
            "cauchy32": rng.standard_cauchy((24, 40)).astype(np.float32), "constant": np.full((24, 40), 0.125,
                                                                                                np.float32),
            "bf16": w.astype(ml_dtypes.bfloat16), "fp16": w.astype(np.float16),
            "int8": rng.integers(-128, 128, (24, 40)).astype(np.int8), "bool": w > 0.3}


EXAMPLE_INPUTS = ("gauss32", "bf16", "int8")  # the inputs each further example is checked on


def check_component(cls: type[Specced]) -> None:
    """Check an Encoding or Coder subclass against the contract; raise ConformanceError if it fails.

    Checks, on the default instance (``from_spec(None, [])`` where the class has one) and on
    every spec in ``cls.examples`` (the first of them on every ``check_inputs()`` tensor,
    the others on three):

    1. spec round trip: each example builds, prints back exactly as written, and its spec
       builds an equal object with the same settings;
    2. distinct settings stay distinct: two objects print the same spec exactly when
       their settings (attributes) are equal;
    3. lossless decode: a lossless encoding decodes back bit for bit; a lossless coder's
       streams decode bit for bit through ``verify=True`` (on ``raw`` and ``fields``);
    4. the bound: for a lossless coder, every stream's real length is at most its reported
       bits (``verify=True``), and at most its stored size plus 1 bit; a coder declaring
       ``takes_threads`` gives the same bits with 1 and 2 threads;
    5. too-small input (1 and 3 values) is skipped (NaN bits) or refused with a
       KComplexityError, never 0 bits and never another exception.

    Parameters
    ----------
    cls : type
        A subclass of ``kcomplexity.Encoding`` or ``kcomplexity.Coder`` (registered or not).
    """
    if not (isinstance(cls, type) and issubclass(cls, (Encoding, Coder))):
        raise ConformanceError(f"{cls!r} is neither an Encoding nor a Coder subclass")
    objects = _instances(cls)
    _check_distinct(objects)
    inputs = check_inputs()
    for i, obj in enumerate(objects.values()):
        for partner in _partners(obj):
            pipeline = _pipeline(obj, partner)
            for name in inputs if i == 0 else EXAMPLE_INPUTS:  # every input on the first object
                _check_measure(pipeline, name, inputs[name])
            _check_too_small(pipeline)


def _settings(obj) -> dict:
    """Every attribute of a component, nested components included: what makes it behave."""
    return {k: _settings(v) if isinstance(v, Specced) else v for k, v in sorted(vars(obj).items())}


def _instances(cls: type[Specced]) -> dict[str, Specced]:
    """The default instance (if any) and one per example, by the text that built it."""
    out = {}
    try:
        out[cls.family] = cls.from_spec(None, [])
    except SpecError:
        pass  # a class whose every spec needs a number or option; its examples give it
    for text in cls.examples:
        try:
            out[text] = build(cls, text)
        except SpecError as exc:
            raise ConformanceError(f"{cls.__name__}: example {text!r} does not build: {exc}") from None
    if not out:
        raise ConformanceError(f"{cls.__name__} has no default instance and no examples: declare "
                               f"examples = ('{cls.family}-...',) on the class")
    for text, obj in out.items():
        if text in cls.examples and obj.spec != text:
            raise ConformanceError(f"{cls.__name__}: example {text!r} prints back as {obj.spec!r}: from_spec "
                                   "drops or changes a setting (or write the example as it prints)")
        again = build(cls, obj.spec)
        if again != obj or again.spec != obj.spec or _settings(again) != _settings(obj):
            raise ConformanceError(f"{cls.__name__}: {obj.spec!r} builds {again.spec!r} with settings "
                                   f"{_settings(again)}, not {_settings(obj)}")
    return out


def _check_distinct(objects: dict[str, Specced]) -> None:
    for (t1, a), (t2, b) in combinations(objects.items(), 2):
        if (a.spec == b.spec) != (_settings(a) == _settings(b)):
            raise ConformanceError(f"{t1!r} and {t2!r}: specs {a.spec!r}, {b.spec!r} with settings "
                                   f"{_settings(a)}, {_settings(b)}: distinct settings must print distinct specs")
        if t1 != t2 and a == b:
            raise ConformanceError(f"examples {t1!r} and {t2!r} build the same component {a.spec!r}: from_spec "
                                   "ignores a setting, or the examples repeat one")


def _partners(obj: Specced) -> list[Specced]:
    """What to pair ``obj`` with: a coder meets encodings giving the streams it declares it reads,
    an encoding meets the zstd coder."""
    if isinstance(obj, Encoding):
        return [Zstd(3)]
    assert isinstance(obj, Coder)
    if obj.ndim == 2:
        return [Bitplanes(4)]
    partners: list[Specced] = [Raw()] if "bytes" in obj.accepts else []
    return partners + ([Fields(), Sign(), Quantize(2)] if "symbols" in obj.accepts else [])


def _pipeline(obj: Specced, partner: Specced) -> Pipeline:
    if isinstance(obj, Encoding):
        return Pipeline(obj, cast(Coder, partner))
    return Pipeline(cast(Encoding, partner), cast(Coder, obj))


def _check_measure(pipeline: Pipeline, name: str, x: np.ndarray) -> None:
    """One input: a lossless pipeline verifies and stays within its stored size; any other gives bits > 0."""
    what = f"{pipeline.spec} on {name}"
    lossless = pipeline.encoding.lossless and pipeline.coder.lossless
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if pipeline.coder.lossless:
                e = pipeline.estimate(x, verify=True)  # checks decode and real <= reported, per stream
            else:
                e = pipeline.estimate(x)
    except VerificationError as exc:
        raise ConformanceError(f"{what}: verify=True failed: {exc}") from exc
    except KComplexityError as exc:
        if lossless:
            raise ConformanceError(f"{what}: a lossless pipeline refused the input: {exc}") from exc
        return  # a combination that cannot measure this input says so
    except Exception as exc:  # noqa: BLE001 - any other exception is the failure being reported
        raise ConformanceError(f"{what}: raised {type(exc).__name__}: {exc}; a user mistake must raise a "
                               "KComplexityError") from exc
    if e.skipped is None and not (e.bits > 0 and math.isfinite(e.bits)):
        raise ConformanceError(f"{what}: bits = {e.bits}; a measured tensor has finite, positive bits")
    if pipeline.coder.lossless:
        _check_bound(pipeline, what, x, e, lossless)
    if isinstance(pipeline.encoding, Encoding) and pipeline.encoding.lossless:
        _check_decode(pipeline.encoding, what, x)


def _check_bound(pipeline: Pipeline, what: str, x: np.ndarray, e, lossless: bool) -> None:
    n_streams = len(e.details.get("streams", {})) or 1
    if e.details["verified_bits"] > e.bits:
        raise ConformanceError(f"{what}: real length {e.details['verified_bits']} bits > reported {e.bits}")
    if lossless and e.bits > e.raw_bits + 1 * n_streams:
        raise ConformanceError(f"{what}: {e.bits} bits, more than stored ({e.raw_bits}) plus 1 bit per stream")
    if pipeline.coder.takes_threads and x.dtype == np.float32:
        again = pipeline.estimate(x, threads=2)
        if again.bits != e.bits:
            raise ConformanceError(f"{what}: {again.bits} bits with 2 threads, {e.bits} with 1")


def _check_decode(encoding: Encoding, what: str, x: np.ndarray) -> None:
    enc: Encoded = encoding.encode(x)
    back = encoding.decode(enc, x.shape, x.dtype)
    if back.dtype != x.dtype or back.shape != x.shape or back.tobytes() != x.tobytes():
        raise ConformanceError(f"{what}: encoding {encoding.spec!r} is lossless but did not decode to its input")


def _check_too_small(pipeline: Pipeline) -> None:
    for n in (1, 3):
        tiny = np.linspace(-1, 1, n).astype(np.float32)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                e = pipeline.estimate(tiny)
        except KComplexityError:
            continue  # refused with a clear error
        except Exception as exc:  # noqa: BLE001
            raise ConformanceError(f"{pipeline.spec} on {n} value(s): raised {type(exc).__name__}: {exc}; "
                                   "raise TooSmall (skipped) or another KComplexityError") from exc
        if not ((e.skipped is not None and math.isnan(e.bits)) or e.bits > 0):
            raise ConformanceError(f"{pipeline.spec} on {n} value(s): bits = {e.bits}, skipped = {e.skipped}; "
                                   "raise TooSmall instead of reporting 0 bits")
