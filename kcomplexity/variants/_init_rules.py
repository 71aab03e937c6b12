"""Name rules: a reference initialisation for tensors that come with no architecture.

A bare state dict or checkpoint file says nothing about how its model was
initialised, so ``random_init`` guesses from each tensor's name and shape, by
this one table (first matching row wins; ``leaf`` is the last dotted part of
the name, ``module`` the part before it):

=====================  ===========================================================  ==========================
kind                   matches                                                      drawn as
=====================  ===========================================================  ==========================
``norm-weight``        1-D ``weight``/``scale``/``gamma`` of a norm module           1
                       (module named ``*norm*``, ``ln*``, ``bn*``, ``gn*``),
                       or any 1-D ``gamma``; BatchNorm ``running_var``
``bias``               leaf ``bias``, ``beta``, ``*_bias``; BatchNorm                0
                       ``running_mean``
``embedding``          a matrix whose name contains ``embed``, ``wte`` or ``wpe``   by ``init=`` (below)
``matrix``             every other float tensor                                     by ``init=`` (below)
(integer, bool)        ``num_batches_tracked``, ``position_ids``, masks, ...        kept as they are
=====================  ===========================================================  ==========================

``init=`` for embeddings and matrices:

- ``"torch-default"``: what torch's own layers draw: ``nn.Embedding`` N(0, 1);
  everything else U(-b, b), b = 1/sqrt(fan_in), fan_in = prod(shape[1:])
  (length for 1-D tensors), torch's Linear/Conv default;
- ``"normal-0.02"``: N(0, 0.02^2), the BERT/GPT-2 initialiser;
- ``"matched"``: N(mean(w), std(w)^2) from the tensor's own values.

Every guess emits one ``ReferenceGuessWarning`` naming the rule and the counts.
"""
from __future__ import annotations

import re
import warnings

import numpy as np

from ..arrays import is_float, to_float
from ..errors import InputError
from ._weights import like

INIT_RULES = ("torch-default", "normal-0.02", "matched")
DEFAULT_INIT = "torch-default"
_NORM_MODULE = re.compile(r"norm|^(ln|bn|gn)(_?[0-9a-z]{0,2})$", re.IGNORECASE)


class ReferenceGuessWarning(UserWarning):
    """The reference initialisation was guessed from tensor names, not built from the architecture."""


def check_init(init: str) -> str:
    if init not in INIT_RULES:
        raise InputError(f"init must be one of {', '.join(map(repr, INIT_RULES))}, got {init!r}")
    return init


def tensor_kind(name: str, x: np.ndarray) -> str:
    """The row of the name-rule table that ``name`` (with value ``x``) falls under."""
    if not is_float(x.dtype):
        return "kept"
    module, _, leaf = name.rpartition(".")
    module_leaf = module.rpartition(".")[2]
    is_norm = bool(_NORM_MODULE.search(module_leaf))
    if leaf == "running_var" or (x.ndim == 1 and (leaf == "gamma" or (is_norm and leaf in ("weight", "scale")))):
        return "norm-weight"
    if leaf in ("bias", "beta", "running_mean") or leaf.endswith("_bias"):
        return "bias"
    if x.ndim >= 2 and re.search(r"embed|wte|wpe", name, re.IGNORECASE):
        return "embedding"
    return "matrix"


def kaiming_uniform_bound(shape: tuple) -> float:
    """torch's Linear/Conv default, ``kaiming_uniform_(a=sqrt(5))``: bound = 1/sqrt(fan_in).

    fan_in = prod(shape[1:]) for ndim >= 2, len(tensor) for 1-D tensors, 1 for scalars.
    """
    fan_in = int(np.prod(shape[1:])) if len(shape) >= 2 else int(np.prod(shape))
    return 1.0 / np.sqrt(max(fan_in, 1))


def draw(x: np.ndarray, kind: str, init: str, rng: np.random.Generator) -> np.ndarray:
    """One tensor shaped and typed like ``x``, drawn by the table's row ``kind`` and ``init``."""
    if kind == "kept":
        return x.copy()
    if kind in ("norm-weight", "bias"):
        return like(np.full(x.shape, 1.0 if kind == "norm-weight" else 0.0), x)
    if init == "normal-0.02":
        values = rng.normal(0.0, 0.02, size=x.shape)
    elif init == "matched":
        v = to_float(x, wide=True)
        values = rng.normal(v.mean(), v.std(), size=x.shape)
    elif kind == "embedding":
        values = rng.normal(0.0, 1.0, size=x.shape)
    else:
        bound = kaiming_uniform_bound(x.shape)
        values = rng.uniform(-bound, bound, size=x.shape)
    return like(values, x)


def by_name_rules(weights: dict, init: str, rng: np.random.Generator, what: str) -> dict[str, np.ndarray]:
    """Every tensor of ``weights`` drawn by the table; one ``ReferenceGuessWarning`` says how."""
    kinds = {name: tensor_kind(name, x) for name, x in weights.items()}
    counts = {k: sum(1 for v in kinds.values() if v == k) for k in ("norm-weight", "bias", "embedding", "matrix")}
    warnings.warn(f"{what}: no architecture to initialise from, so the reference was guessed by name rules with "
                  f"init={init!r}: {counts['norm-weight']} norm weights -> 1, {counts['bias']} biases -> 0, "
                  f"{counts['embedding']} embeddings and {counts['matrix']} other tensors by {init!r}. Pass the "
                  "nn.Module or a Hugging Face folder (config.json) for the model's own initialisers",
                  ReferenceGuessWarning, stacklevel=4)
    return {name: draw(x, kinds[name], init, rng) for name, x in weights.items()}
