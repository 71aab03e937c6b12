"""The extension surface: Encoding, Coder, Stream, Coded exported at the top level; the bases are abstract."""
import math

import numpy as np
import pytest

import kcomplexity as kc
from kcomplexity import registry
from kcomplexity.coders import Compressor


def test_bases_are_exported_and_abstract():
    assert {"Encoding", "Coder", "Stream", "Coded", "Encoded", "Compressor", "SpecError", "TooSmall"} <= set(kc.__all__)
    for base in (kc.Encoding, kc.Coder, Compressor):
        with pytest.raises(TypeError, match="abstract"):
            base()


def test_a_plugin_built_on_the_bases_measures_like_a_builtin(monkeypatch):
    monkeypatch.setattr(registry, "_CODERS", dict(registry._CODERS))  # the plugin leaves with this test

    class Fixed(kc.Coder):
        """log2(k) bits per symbol of a k-symbol stream."""
        family = "fixedlen"

        def code(self, stream):
            return kc.Coded(stream.data.size * math.log2(stream.nsymbols))

    kc.register(Fixed)
    est = kc.estimate(np.array([-1.0, 2.0, 3.0, -4.0], np.float32), "sign|fixedlen")
    assert est.bits == 4.0 and est.lossless is False  # 4 signs, 1 bit each; not declared lossless
    assert kc.parse("sign|fixedlen").coder == Fixed()


def test_a_subclass_without_code_is_refused():
    class Half(kc.Coder):
        family = "half"

    with pytest.raises(TypeError, match="code"):
        Half()


def test_the_extending_page_example_passes_the_checker(monkeypatch):
    """docs/extending.md's plugin, run as written: it passes check_component and verifies."""
    from pathlib import Path
    monkeypatch.setattr(registry, "_CODERS", dict(registry._CODERS))  # the plugin leaves with this test
    page = (Path(__file__).parents[1] / "docs" / "extending.md").read_text()
    blocks = page.split("```python\n")[1:]
    assert blocks, "docs/extending.md lost its example"
    namespace: dict = {}
    exec(compile(blocks[0].split("```")[0], "docs/extending.md", "exec"), namespace)
    assert kc.parse("raw|zlib-9").coder == namespace["Zlib"](9)


def test_a_plugin_declaring_threads_receives_them(monkeypatch):
    seen = []

    class Threaded(kc.Coder):
        family, lossless, takes_threads = "threaded", False, True

        def code(self, stream):
            return kc.Coded(float(stream.size))

        def code_all(self, streams, threads=1, progress=None):
            seen.append(threads)
            return super().code_all(streams)

    kc.Pipeline(kc.parse("sign|zstd").encoding, Threaded()).estimate(np.ones(8, np.float32), threads=3)
    assert seen == [3]
