"""kcomplexity: Kolmogorov-complexity estimates of neural-network weights.

Every number is an upper bound (a description that decodes back to the data)
or a labelled estimate (BDM, empirical entropy).

Layers, lowest first: a module imports only from its own layer or below
(``tests/test_layers.py`` reads this block; ``kcomplexity`` is this package root,
the public face, which only ``cli`` imports):

    _version, errors, arrays, specced -> encodings, sparsity_measures, io -> coders -> registry, estimators
    -> variants, analysis -> plot -> train -> demo -> kcomplexity -> cli

>>> import numpy as np, kcomplexity
>>> round(kcomplexity.estimate(np.zeros(4096, np.float32), "raw|zstd-3").bits_per_value, 3)
0.037
"""
from ._version import NUMBERS_VERSION, __version__
from .errors import KComplexityError
from .encodings import Encoded, Encoding, Stream
from .coders import Coded, Coder
from .estimators import DEFAULT_ESTIMATOR, Estimate, Pipeline, estimate, parse
from .registry import available, register
from .io import load, save
from .coders.bdm import bdm, block_entropy
from .coders.bdm_extras import bdm_conditional, perturbation
from .analysis import analyse, analyze
from .analysis import compare, sparsity
from .analysis.perturbation import perturbation_map
from . import variants


__all__ = ["Coded", "Coder", "DEFAULT_ESTIMATOR", "Encoded", "Encoding", "Estimate", "KComplexityError", "Pipeline",
           "Stream", "available",
           "estimate", "parse", "register", "__version__", "NUMBERS_VERSION", "load", "save", "analyse", "analyze", "compare", "sparsity",
           "variants", "bdm", "block_entropy", "bdm_conditional", "perturbation", "perturbation_map"]


def __getattr__(name: str):
    """The ``demo`` and ``train`` subpackages import torch, so they load on first use (and stay out of
    ``__all__``: ``from kcomplexity import *`` does not load them)."""
    if name in ("demo", "train"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'kcomplexity' has no attribute {name!r}")
