"""Models built from their architecture alone: Hugging Face configs and timm names, never weights.

``hf_model(path)`` builds the class named in ``config.json``'s ``architectures``
(``AutoModel`` when it names none) with freshly initialised weights; no network,
no checkpoint read. ``timm_model(name)`` is ``timm.create_model(name,
pretrained=False)``. ``align(checkpoint_names, model_names, prefix)`` pairs a
checkpoint's tensor names with the built model's across the base-model prefix
(``bert.``, ``transformer.``, ...) and old LayerNorm names (``gamma``/``beta``).
"""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError, SourceError, require

LEGACY_LEAVES = {"gamma": "weight", "beta": "bias"}


def is_hf_config(path: Path) -> bool:
    """A ``config.json`` file, or a directory holding one."""
    return (path.is_file() and path.suffix == ".json") or (path.is_dir() and (path / "config.json").is_file())


def _transformers():
    require("torch", "hf", "building a model from config.json")
    return require("transformers", "hf", "building a model from config.json")


def hf_model(path: Path, max_params: int | None = None):
    """The model ``config.json`` describes, freshly initialised by its own ``_init_weights``.

    The model is first built on the meta device (no memory): a config that cannot build
    (negative sizes, ...) or that holds more than ``max_params`` parameters is a SourceError
    before anything is allocated. Seed the torch RNG before calling: the draw is torch's.
    """
    build, config_path = hf_builder(path)
    n_params = _meta_params(build, config_path)
    if max_params is not None and n_params > max_params:
        raise SourceError(f"{config_path}: the model it describes has {n_params:,} parameters, more than the "
                          f"{max_params:,} allowed here (twice the checkpoint's count, or what fits in memory); "
                          "the config does not match the weights: fix config.json or pass the weights alone")
    try:
        return build()
    except (RuntimeError, MemoryError, ValueError) as exc:
        raise SourceError(f"{config_path}: building the model failed ({type(exc).__name__}: "
                          f"{str(exc)[:200]}); fix config.json or pass the weights alone") from None


def _meta_params(build, config_path: Path) -> int:
    """The parameter count of ``build()`` on the meta device: shapes only, nothing allocated."""
    import torch

    try:
        with torch.device("meta"):
            return sum(p.numel() for p in build().parameters())
    except Exception as exc:  # torch and transformers raise many types for impossible sizes
        raise SourceError(f"{config_path}: the model it describes cannot be built ({type(exc).__name__}: "
                          f"{str(exc)[:200]}); check its sizes (hidden_size, vocab_size, ...)") from None


def hf_builder(path: Path):
    """``(build, config_path)``: a callable that builds the model ``config.json`` describes."""
    transformers = _transformers()
    config_path = path / "config.json" if path.is_dir() else path
    try:
        config = transformers.AutoConfig.from_pretrained(str(config_path), local_files_only=True)
    except Exception as exc:  # transformers raises OSError, ValueError, KeyError for unknown configs
        raise SourceError(f"{config_path}: not a Hugging Face config transformers {transformers.__version__} "
                          f"can read ({type(exc).__name__}: {exc}); pass the weights instead to use name rules")
    names = list(getattr(config, "architectures", None) or [])
    cls = getattr(transformers, names[0], None) if names else None
    if names and cls is None:
        raise SourceError(f"{config_path}: architecture {names[0]!r} is not in transformers "
                          f"{transformers.__version__} (custom code is not run); upgrade transformers or "
                          "pass the nn.Module")
    return ((lambda: cls(config)) if cls is not None else lambda: transformers.AutoModel.from_config(config)), \
        config_path


def timm_model(name: str):
    """``timm.create_model(name, pretrained=False)``; a clear error where timm does not import."""
    try:
        import timm
    except Exception as exc:  # ImportError, or timm's own torchvision import failing against this torch
        raise InputError(
            f"'timm:{name}' needs timm, which does not import here ({type(exc).__name__}: {exc}). "
            "timm imports torchvision, and torchvision must be built for the installed torch (a CPU torch "
            "with a PyPI torchvision wheel fails, and installing torchvision from PyPI may replace torch "
            "with a CUDA build); install matching torch/torchvision/timm, or pass the nn.Module") from None
    try:
        return timm.create_model(name, pretrained=False)
    except RuntimeError as exc:  # timm's "Unknown model"
        raise InputError(f"timm has no model {name!r} ({exc}); list them with timm.list_models()") from None


def align(checkpoint_names, model_names, prefix: str) -> dict[str, str]:
    """checkpoint name -> built-model name, for every checkpoint name with a counterpart.

    Tries the name as is, with ``prefix.`` added or removed, and with a legacy
    ``gamma``/``beta`` leaf renamed to ``weight``/``bias``.
    """
    model_names = set(model_names)
    pairs = {}
    for name in checkpoint_names:
        head, _, leaf = name.rpartition(".")
        renamed = f"{head}.{LEGACY_LEAVES[leaf]}" if head and leaf in LEGACY_LEAVES else name
        for candidate in dict.fromkeys((name, renamed)):
            tries = [candidate, f"{prefix}.{candidate}" if prefix else candidate]
            if prefix and candidate.startswith(prefix + "."):
                tries.append(candidate[len(prefix) + 1:])
            hit = next((t for t in tries if t in model_names), None)
            if hit is not None:
                pairs[name] = hit
                break
    return pairs
