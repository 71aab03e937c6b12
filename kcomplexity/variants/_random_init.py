"""``random_init``: the weights a model had (in distribution) before training, from its own architecture.

Where the architecture comes from, in order:

- an ``nn.Module``: every submodule's ``reset_parameters()`` (a Hugging Face
  model: rebuilt from its ``config`` by its own ``_init_weights``);
- ``"timm:NAME"``: ``timm.create_model(NAME, pretrained=False)``;
- a Hugging Face model directory or ``config.json``: the class in
  ``architectures`` built by transformers from the config (no network), its
  names aligned with the checkpoint's (base-model prefix, ``gamma``/``beta``);
- a bare state dict, mapping or checkpoint file: the name rules of
  ``_init_rules`` (norm weights 1, biases 0, the rest by ``init=``), with a
  ``ReferenceGuessWarning``.
"""
from __future__ import annotations

import copy
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..arrays import as_array, is_module, to_float
from ..errors import InputError, require
from ..io import Weights, hub, load
from ..io.readers import is_checkpoint_dir
from ._architectures import align, hf_model, is_hf_config, timm_model
from ._init_rules import DEFAULT_INIT, ReferenceGuessWarning, by_name_rules, check_init, draw, tensor_kind
from ._weights import as_weights, check_seed, module_weights


@dataclass
class Reference:
    """One reference draw: the weights, the rule that drew them, and what the architecture lacked."""
    weights: dict[str, np.ndarray]
    kind: str                                   # "module", "hf-config:BertModel", "timm:resnet18", "rules:normal-0.02"
    unmatched: list[str] = field(default_factory=list)  # checkpoint tensors the architecture has no counterpart for


def random_init(source, seed: int = 0, init: str = DEFAULT_INIT) -> dict[str, np.ndarray]:
    """A freshly initialised copy of a model's weights, seeded and deterministic.

    ``source``: an ``nn.Module``, ``"timm:NAME"``, a Hugging Face model directory or
    ``config.json`` path, a checkpoint file, or a mapping name -> tensor (a mapping from
    ``kcomplexity.load(path)`` counts as its path). Returns the source's tensor names and
    shapes (dtypes kept), drawn by the architecture's own initialisers where one is known,
    else by the name rules with ``init`` ("torch-default", "normal-0.02" or "matched"; see
    ``kcomplexity.variants.INIT_RULES``). The global torch RNG is left untouched.

    >>> import warnings, numpy as np
    >>> with warnings.catch_warnings():  # a bare mapping: the name rules, with a ReferenceGuessWarning
    ...     warnings.simplefilter("ignore")
    ...     w = random_init({"fc.weight": np.ones((4, 8), np.float32), "fc.bias": np.ones(4, np.float32)},
    ...                     init="normal-0.02")
    >>> w["fc.bias"].tolist(), w["fc.weight"].shape
    ([0.0, 0.0, 0.0, 0.0], (4, 8))
    """
    return initialise(source, seed, init).weights


def initialise(source, seed: int = 0, init: str = DEFAULT_INIT) -> Reference:
    """``random_init`` with the rule it used (``Reference.kind``) and the unmatched tensor names."""
    check_init(init)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    if isinstance(source, str) and source.startswith("timm:"):
        return Reference(_reset_module(timm_model(source[5:]), seed, init, rng), source)
    if is_module(source):
        if _is_hf_model(source):
            return _from_hf(_seeded(lambda: type(source)(source.config), seed), None, init, rng)
        return Reference(_reset_module(source, seed, init, rng), "module")
    path, names = _path_and_names(hub.resolve(source) if hub.is_hub(source) else source)
    if path is not None and is_hf_config(path):
        budget = _param_budget(path)
        reference = _from_hf(_seeded(lambda: hf_model(path, budget), seed), path, init, rng)
        return reference if names is None else _restrict(reference, names)
    weights = as_weights(source) if path is None else as_weights(load(path, floats_only=False))
    if names is not None:
        weights = {n: weights[n] for n in names}
    label = "random_init" if path is None else f"random_init({path})"
    return Reference(by_name_rules(weights, init, rng, label), f"rules:{init}")


def _path_and_names(source) -> tuple[Path | None, list[str] | None]:
    """The file or directory behind ``source`` (None for in-memory weights) and the names it keeps."""
    if isinstance(source, (str, os.PathLike)):
        return Path(source), None
    if isinstance(source, Weights) and Path(source.checkpoint.label).exists():
        return Path(source.checkpoint.label), list(source)
    if not (is_module(source) or isinstance(source, Mapping) or hasattr(source, "weights")):
        raise InputError(f"random_init needs an nn.Module, 'timm:NAME', a path or a mapping of tensors, "
                         f"got {type(source).__name__}")
    return None, None


def _param_budget(path: Path) -> int:
    """The most parameters a config-built reference may have: twice the checkpoint's beside it
    (plus 1M for heads and buffers), or, for a bare config.json, half the memory as float32."""
    if is_checkpoint_dir(path):
        return 2 * sum(math.prod(shape) for _, shape in load(path, floats_only=False).checkpoint.info().values()) \
            + 1_000_000
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 8


def _restrict(reference: Reference, names: list[str]) -> Reference:
    return Reference({n: reference.weights[n] for n in names}, reference.kind,
                     [n for n in reference.unmatched if n in names])


def _is_hf_model(module) -> bool:
    return any(c.__name__ == "PreTrainedModel" and c.__module__.startswith("transformers")
               for c in type(module).__mro__)


def _seeded(build, seed: int):
    torch = require("torch", "hf", "a random_init reference built from an architecture")

    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        return build()


def _from_hf(model, path: Path | None, init: str, rng: np.random.Generator) -> Reference:
    """A config-built ``model`` under the checkpoint's names at ``path``; unmatched tensors by name rules.

    Without checkpoint weights (``path`` None or a bare config.json): the model's own parameters.
    """
    kind = f"hf-config:{type(model).__name__}"
    if path is None or not is_checkpoint_dir(path):
        return Reference(module_weights(model), kind)
    state = {k: as_array(v, allow_nonfinite=True) for k, v in model.state_dict().items()}
    checkpoint = load(path, floats_only=False)
    info = checkpoint.checkpoint.info()
    pairs = {n: m for n, m in align(list(checkpoint), state, model.base_model_prefix).items()
             if tuple(state[m].shape) == tuple(info[n][1])}
    unmatched = {n: checkpoint[n] for n in checkpoint if n not in pairs}
    guessed = [n for n, x in unmatched.items() if tensor_kind(n, x) != "kept"]
    if guessed:
        warnings.warn(f"{path}: {len(guessed)} checkpoint tensors have no counterpart in {kind} and were drawn "
                      f"by name rules (init={init!r}): {guessed[:8]}{' ...' if len(guessed) > 8 else ''}",
                      ReferenceGuessWarning, stacklevel=4)
        kind += f" + rules:{init} for {len(guessed)}"
    out = {}
    for n in checkpoint:
        dtype, shape = info[n]
        out[n] = draw(unmatched[n], tensor_kind(n, unmatched[n]), init, rng) if n in unmatched else \
            state[pairs[n]].astype(np.dtype(dtype)).reshape(shape)
    return Reference(out, kind, list(unmatched))


def _reset_module(module, seed: int, init: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A deep copy re-initialised by each submodule's ``reset_parameters()``; its trainable parameters.

    Parameters owned by a module without ``reset_parameters`` are drawn by the name rules.
    """
    import torch

    def build():
        fresh = copy.deepcopy(module)
        for sub in fresh.modules():
            if callable(getattr(sub, "reset_parameters", None)):
                sub.reset_parameters()
                continue
            for name, p in sub.named_parameters(recurse=False):
                x = as_array(p.detach())
                p.copy_(torch.from_numpy(to_float(draw(x, tensor_kind(name, x), init, rng), wide=True)))
        return fresh

    return module_weights(_seeded(build, seed))
