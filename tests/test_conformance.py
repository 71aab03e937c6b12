"""Conformance of every registered encoding and coder (numcodecs' check_encode_decode style):
specs print back exactly, lossless pipelines verify on every dtype, too-small input is skipped."""
import itertools
import math
import warnings

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kcomplexity as kc
from kcomplexity import registry
from kcomplexity.encodings import Quantize
from kcomplexity.errors import KComplexityError, SpecError
from kcomplexity.specced import Specced

# Settings beyond each family's default, as specs; families not listed are checked at their default.
EXAMPLES = {
    "q": ["q1", "q8", "q16", "q4-sym", "q8-minmax", "q8-p99", "q8-p99.9999999", "q8-p100", "q3-p0.00001",
          "q8-p50.5"],
    "bitplanes": ["bitplanes1", "bitplanes8", "bitplanes4-tiled", "bitplanes8-sym-tiled", "bitplanes8-p99.99999",
                  "bitplanes4-minmax"],
    "motif": ["motif-4", "motif-1", "motif-16", "motif4096"],
    "bdm": ["bdm-recursive", "bdm-correlated"],
    "bdm2d": ["bdm2d-recursive", "bdm2d-correlated"],
}


def _components():
    registry._load_plugins()
    for kind, table in (("encoding", registry._ENCODINGS), ("coder", registry._CODERS)):
        for family, cls in table.items():
            specs = list(EXAMPLES.get(family, []))
            levels = getattr(cls, "levels", range(0))
            specs += [f"{family}-{level}" for level in (levels[0], levels[-1])] if len(levels) else []
            objs = [_resolve(kind, s) for s in specs]
            for number in (None, 8):  # the default instance, where the family has one
                try:
                    objs.append(cls.from_spec(number, []))
                    break
                except SpecError:
                    continue
            yield kind, family, objs


def _resolve(kind: str, spec: str):
    encoding, coder = registry.parse_parts(f"{spec}|zstd" if kind == "encoding" else f"raw|{spec}")
    return encoding if kind == "encoding" else coder


COMPONENTS = list(_components())
ALL = [(kind, obj) for kind, _, objs in COMPONENTS for obj in objs]


def _settings(obj) -> dict:
    """Every attribute of a component, nested components included: what makes it behave."""
    return {k: _settings(v) if isinstance(v, Specced) else v for k, v in sorted(vars(obj).items())}


@pytest.mark.parametrize("kind,family", [(k, f) for k, f, _ in COMPONENTS])
def test_every_registered_family_is_exercised(kind, family):
    objs = next(o for k, f, o in COMPONENTS if (k, f) == (kind, family))
    assert objs, f"add example specs for the {kind} {family!r} to EXAMPLES"


@pytest.mark.parametrize("kind,obj", ALL, ids=[o.spec for _, o in ALL])
def test_spec_prints_back_exactly(kind, obj):
    again = _resolve(kind, obj.spec)
    assert again == obj and again.spec == obj.spec and _settings(again) == _settings(obj)


def test_distinct_settings_give_distinct_specs():
    for (k1, a), (k2, b) in itertools.combinations(ALL, 2):
        if k1 == k2 and type(a) is type(b):
            assert (a.spec == b.spec) == (_settings(a) == _settings(b)), (a.spec, b.spec)
    assert kc.parse("q8-p99.9999999|lzma-9") != kc.parse("q8-p100|lzma-9")
    assert kc.parse("q8-p100|lzma-9") == kc.parse("q8-minmax|lzma-9")  # the same setting: nothing clipped


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0, max_value=100, exclude_min=True), st.floats(min_value=0, max_value=100,
                                                                          exclude_min=True))
def test_any_clipping_percentile_prints_back(p1, p2):
    a, b = Quantize(8, robust=p1), Quantize(8, robust=p2)
    assert kc.parse(f"{a.spec}|zstd").encoding == a and _settings(kc.parse(f"{a.spec}|zstd").encoding) == _settings(a)
    assert (a.spec == b.spec) == (p1 == p2 or {p1, p2} <= {100.0})


RNG = np.random.default_rng(9)
W = RNG.standard_normal((24, 40)) * np.where(RNG.random((24, 40)) < 0.3, 0, 1)
DTYPES = {"fp32": W.astype(np.float32), "bf16": W.astype(ml_dtypes.bfloat16), "fp16": W.astype(np.float16),
          "fp64": W, "int8": np.round(W * 20).astype(np.int8), "bool": W > 0}
def _one_per_class(kind, lossless=None):
    """The first example of each class of this kind (lossless or lossy ones only, if given)."""
    seen, out = set(), []
    for k, obj in ALL:
        if k == kind and lossless in (None, obj.lossless) and type(obj) not in seen:
            seen.add(type(obj))
            out.append(obj.spec)
    return out


LOSSLESS_SPECS = [f"{e}|{c}" for e in _one_per_class("encoding", True) for c in _one_per_class("coder", True)]


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("spec", LOSSLESS_SPECS)
def test_lossless_pipelines_verify_on_every_dtype(spec, dtype):
    e = kc.estimate(DTYPES[dtype], spec, verify=True)
    assert e.lossless and e.bits > 0 and e.skipped is None
    assert e.raw_bits == 8 * DTYPES[dtype].nbytes


EVERY_PIPELINE = [f"{e}|{c}" for e in _one_per_class("encoding") for c in _one_per_class("coder")]


@pytest.mark.parametrize("n", [1, 3])
def test_too_small_input_is_skipped_never_zero_bits(n):
    tiny = np.linspace(-1, 1, n).astype(np.float32)
    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for spec in EVERY_PIPELINE:
            try:
                e = kc.estimate(tiny, spec)
            except KComplexityError:
                continue  # a combination that cannot score this stream says so
            checked += 1
            assert (e.skipped is not None and math.isnan(e.bits)) or e.bits > 0, spec
    assert checked > len(EVERY_PIPELINE) // 2
