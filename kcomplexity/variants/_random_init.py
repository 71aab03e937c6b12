"""``random_init``: the weights a model had (in distribution) before training."""
from __future__ import annotations

import copy

import numpy as np

from ..arrays import as_array, is_float, is_module, to_float
from ..errors import InputError
from ._weights import as_weights, check_seed, like, module_weights


def kaiming_uniform_bound(shape: tuple) -> float:
    """torch's Linear/Conv default, ``kaiming_uniform_(a=sqrt(5))``: bound = 1/sqrt(fan_in).

    fan_in = prod(shape[1:]) for ndim >= 2; for 1-D tensors (biases, norm
    scales) fan_in = len(tensor), the same bound torch gives a bias of a layer
    whose fan-in equals its width.
    """
    fan_in = int(np.prod(shape[1:])) if len(shape) >= 2 else int(shape[0])
    return 1.0 / np.sqrt(max(fan_in, 1))


def _tensor_init(x: np.ndarray, rng: np.random.Generator, mode: str) -> np.ndarray:
    if not is_float(x.dtype):
        return x.copy()  # integer / bool tensors are not initialised: kept as they are
    if mode == "gaussian":
        v = to_float(x, wide=True)
        values = rng.normal(v.mean(), v.std(), size=x.shape)
    else:
        bound = kaiming_uniform_bound(x.shape) if x.ndim else 1.0
        values = rng.uniform(-bound, bound, size=x.shape)
    return like(values, x)


def random_init(module_or_weights, seed: int = 0, mode: str = "kaiming") -> dict[str, np.ndarray]:
    """A freshly initialised copy of the weights, seeded and deterministic.

    ``nn.Module``: a deep copy on which every submodule's own ``reset_parameters()``
    runs under ``torch.manual_seed(seed)`` (the global torch RNG state is restored
    afterwards); parameters owned by a module without ``reset_parameters`` get
    the tensor rule below. Returns the copy's trainable parameters.

    Mapping of tensors: ``mode="kaiming"`` draws U(-b, b) with
    b = 1/sqrt(fan_in), fan_in = prod(shape[1:]) (torch's Linear/Conv default),
    and fan_in = length for 1-D tensors; ``mode="gaussian"`` draws
    N(mean(w), std(w)^2) per tensor. Integer tensors are returned unchanged.
    """
    if mode not in ("kaiming", "gaussian"):
        raise InputError(f"random_init mode must be 'kaiming' or 'gaussian', got {mode!r}")
    rng = np.random.default_rng(check_seed(seed))
    if is_module(module_or_weights) and mode == "kaiming":
        return _reset_module(module_or_weights, seed, rng)
    return {name: _tensor_init(x, rng, mode) for name, x in as_weights(module_or_weights).items()}


def _reset_module(module, seed: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    import torch

    fresh = copy.deepcopy(module)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for sub in fresh.modules():
            if callable(getattr(sub, "reset_parameters", None)):
                sub.reset_parameters()
            else:
                for p in sub.parameters(recurse=False):
                    values = to_float(_tensor_init(as_array(p.detach()), rng, "kaiming"), wide=True)
                    p.copy_(torch.from_numpy(values))
    return module_weights(fresh)
