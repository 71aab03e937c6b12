"""kcomplexity: Kolmogorov-complexity estimates of neural-network weights.

Every number is an upper bound (a description that decodes back to the data)
or a labelled estimate (BDM, empirical entropy).

Layers, lowest first: a module imports only from its own layer or below
(``tests/test_layers.py`` reads this block; ``kcomplexity`` is this package root,
the public face, which only ``cli`` imports):

    _version, _native, errors, arrays, specced -> encodings, sparsity_measures, io -> coders -> registry, estimators, testing
    -> variants, analysis -> plot -> train -> demo -> kcomplexity -> cli -> __main__

>>> import numpy as np, kcomplexity
>>> round(kcomplexity.estimate(np.zeros(4096, np.float32), "raw|zstd-3").bits_per_value, 3)
0.037
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from ._version import NUMBERS_VERSION, __version__
from .errors import KComplexityError

if TYPE_CHECKING:  # the public face, written once: read by tools as imports, loaded on first use at run time
    from .encodings import Encoded, Encoding, Stream
    from .errors import SpecError, TooSmall
    from .coders import Coded, Coder, Compressor
    from .estimators import DEFAULT_ESTIMATOR, Estimate, Pipeline, estimate, parse
    from .registry import available, register
    from .io import load, save
    from .coders.bdm import bdm, block_entropy
    from .coders.bdm_extras import bdm_conditional, perturbation
    from .analysis import analyse, analyze
    from .analysis import compare, compare_report, sparsity
    from .analysis.perturbation import perturbation_map
    from . import variants


def _public() -> dict[str, tuple[str, str | None]]:
    """``name -> (module, attribute)`` of the imports in the ``TYPE_CHECKING`` block above
    (attribute None: the name is a subpackage)."""
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    return {alias.asname or alias.name: ("." + (node.module or alias.name), node.module and alias.name)
            for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names}


_PUBLIC = _public()
__all__ = ["__version__", "NUMBERS_VERSION", "KComplexityError", *_PUBLIC]


def __getattr__(name: str):
    """Public names and subpackages load on first use, so ``import kcomplexity`` (and the command
    line's start) stays fast; ``demo`` and ``train`` import torch and stay out of ``__all__``
    (``from kcomplexity import *`` does not load them)."""
    module, attribute = _PUBLIC.get(name, ("." + name, None))
    try:
        value = importlib.import_module(module, __name__)
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}{module}":
            raise
        raise AttributeError(f"module 'kcomplexity' has no attribute {name!r}") from None
    value = value if attribute is None else getattr(value, attribute)
    globals()[name] = value
    return value
