"""Weights in, weights out: the one conversion every variant uses.

A variant takes a mapping ``name -> tensor`` (numpy or torch), an ``nn.Module``
(its trainable parameters, ``named_parameters`` order) or anything ``kcomplexity.load``
reads (a checkpoint path or model folder: its float tensors) and returns a new
``dict[str, np.ndarray]`` with the same names, shapes and dtypes. Inputs are
never mutated: every array returned is a fresh copy.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from ..arrays import as_array, is_float, is_module
from ..errors import InputError
from ..io import load


def module_weights(module) -> dict[str, np.ndarray]:
    """The trainable parameters of ``module`` as numpy copies, in ``named_parameters`` order."""
    return {name: as_array(p.detach()).copy() for name, p in module.named_parameters() if p.requires_grad}


def as_weights(weights) -> dict[str, np.ndarray]:
    """Copies of ``weights`` (mapping, nn.Module, checkpoint path or model folder, or an object
    with ``.weights``) as numpy arrays."""
    if isinstance(weights, (str, os.PathLike)):
        weights = load(weights)
    if hasattr(weights, "weights") and isinstance(weights.weights, Mapping):
        weights = weights.weights  # a MomosResult / PruneResult
    if is_module(weights):
        out = module_weights(weights)
    elif isinstance(weights, Mapping):
        out = {str(name): as_array(t).copy() for name, t in weights.items()}
    else:
        raise InputError(f"weights must be a checkpoint path or model folder, a mapping name -> tensor or an "
                         f"nn.Module, got {type(weights).__name__}; wrap a single tensor as {{'w': tensor}}")
    if not out:
        raise InputError("no tensors given (the mapping is empty or the module has no trainable parameters)")
    return out


def like(values: np.ndarray, original: np.ndarray) -> np.ndarray:
    """``values`` cast back to the dtype and shape of ``original``."""
    return np.asarray(values).astype(original.dtype).reshape(original.shape)


def check_float(name: str, x: np.ndarray, what: str) -> None:
    if not is_float(x.dtype):
        raise InputError(f"{what} needs float tensors; {name!r} is {x.dtype}: leave it out of the mapping")


def check_seed(seed) -> int:
    """A random seed: an integer in [0, 2**32), else InputError."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InputError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    return int(seed)
