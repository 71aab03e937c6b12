"""kcomplexity: Kolmogorov-complexity estimates of neural-network weights.

Every number is an upper bound (a description that decodes back to the data)
or a labelled estimate (BDM, empirical entropy).
"""
from .errors import KComplexityError
from .estimators import DEFAULT_ESTIMATOR, Estimate, Pipeline, available, estimate, parse, register
from .io import load
from .coders.bdm import bdm, block_entropy
from .analysis import analyse, analyze
from .analysis.compare import compare
from . import variants

__version__ = "0.1.0"

__all__ = ["DEFAULT_ESTIMATOR", "Estimate", "KComplexityError", "Pipeline", "available",
           "estimate", "parse", "register", "__version__", "load", "analyse", "analyze", "compare", "variants",
           "bdm", "block_entropy", "demo", "train"]


def __getattr__(name: str):
    """``demo`` and the ``train`` subpackage import torch, so they load on first use."""
    if name == "demo":
        from .train.demo import demo
        return demo
    if name == "train":
        import importlib
        return importlib.import_module(".train", __name__)
    raise AttributeError(f"module 'kcomplexity' has no attribute {name!r}")
