"""Conformance: ``kcomplexity.testing.check_component`` on every registered encoding and coder
(the checker plugins run too), and the checker itself catching broken plugins."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kcomplexity as kc
from kcomplexity import registry
from kcomplexity.coders import Coded
from kcomplexity.coders.compressors import Zstd
from kcomplexity.encodings import Quantize, Raw
from kcomplexity.errors import VerificationError
from kcomplexity.specced import Specced
from kcomplexity.testing import ConformanceError, check_component

COMPONENTS = sorted((kind, family) for kind, table in registry.registered().items() for family in table)


@pytest.mark.parametrize("kind,family", COMPONENTS)
def test_every_registered_component_passes_check_component(kind, family):
    check_component(registry.registered()[kind][family])


def test_distinct_settings_give_distinct_specs():
    assert kc.parse("q8-p99.9999999|lzma-9") != kc.parse("q8-p100|lzma-9")
    assert kc.parse("q8-p100|lzma-9") == kc.parse("q8-minmax|lzma-9")  # the same setting: nothing clipped


class HalfBits(Zstd):
    """A plugin compressor that reports half its real length."""
    family = "halfzstd"
    examples = ()

    def code(self, stream, threads=1, progress=None):
        coded = super().code(stream, threads, progress)
        return Coded(coded.bits / 2, coded.details, frame=coded.frame)


def test_a_coder_reporting_half_its_bits_fails_the_checker_and_verify():
    with pytest.raises(ConformanceError, match="reported"):
        check_component(HalfBits)
    x = np.random.default_rng(0).standard_normal(4000).astype(np.float32)
    plain = kc.estimate(x, kc.Pipeline(Raw(), HalfBits(3)))
    assert plain.lossless and plain.bits < plain.raw_bits / 2 + 2  # the lie, unchecked without verify
    with pytest.raises(VerificationError, match="more than the .* reported"):
        kc.estimate(x, kc.Pipeline(Raw(), HalfBits(3)), verify=True)


class IgnoresLevel(Zstd):
    """A plugin whose from_spec drops the level: 'ignlevel-9' builds level 3."""
    family = "ignlevel"
    examples = ("ignlevel-1", "ignlevel-9")

    @classmethod
    def from_spec(cls, number, options):
        return cls(3)


class SameSpec(Zstd):
    """A plugin whose spec leaves the level out, so distinct levels print alike."""
    family = "samespec"
    examples = ()

    @property
    def spec(self):
        return self.family

    @classmethod
    def from_spec(cls, number, options):
        return cls(int(options[0]) if options else 3)


class Crashes(Zstd):
    """A plugin raising a bare exception on tiny input."""
    family = "crashes"
    examples = ()

    def code(self, stream, threads=1, progress=None):
        if stream.size < 4:
            raise IndexError("index 3 is out of bounds")
        return super().code(stream, threads, progress)


@pytest.mark.parametrize("cls,message", [(IgnoresLevel, "prints back as 'ignlevel-3'"),
                                         (Crashes, "raised IndexError")])
def test_the_checker_catches_a_broken_plugin(cls, message):
    with pytest.raises(ConformanceError, match=message):
        check_component(cls)


def test_the_checker_catches_settings_that_print_alike(monkeypatch):
    monkeypatch.setattr(SameSpec, "examples", ("samespec-1", "samespec-9"))
    with pytest.raises(ConformanceError, match="prints back as 'samespec'"):
        check_component(SameSpec)


def _settings(obj) -> dict:
    return {k: _settings(v) if isinstance(v, Specced) else v for k, v in sorted(vars(obj).items())}


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0, max_value=100, exclude_min=True), st.floats(min_value=0, max_value=100,
                                                                          exclude_min=True))
def test_any_clipping_percentile_prints_back(p1, p2):
    a, b = Quantize(8, robust=p1), Quantize(8, robust=p2)
    assert kc.parse(f"{a.spec}|zstd").encoding == a and _settings(kc.parse(f"{a.spec}|zstd").encoding) == _settings(a)
    assert (a.spec == b.spec) == (p1 == p2 or {p1, p2} <= {100.0})
