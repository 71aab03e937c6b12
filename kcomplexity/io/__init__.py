"""Sources -> ``{name: tensor}``: files, model directories, modules, state dicts, series.

``load(source)`` returns a lazy read-only mapping of numpy arrays (bfloat16 as
``kcomplexity.arrays.BFLOAT16``, bit-exact); ``discover(source)`` lists the
checkpoints of a series in step order.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .model_stream import ModelStream, model_order
from .readers import FILE_SUFFIXES, Checkpoint, open_cached, open_path, open_source, torch_load
from .selection import Selection, natural_key
from .series import CheckpointRef, discover, read_metrics, steps_from_name
from .writers import save


class Weights(Mapping):
    """Selected tensors of one checkpoint, each read from its source when accessed."""

    def __init__(self, checkpoint: Checkpoint, names: list[str]):
        self.checkpoint, self._names, self._selected = checkpoint, names, frozenset(names)
        self.metadata = checkpoint.metadata

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._selected:
            raise KeyError(name)
        return self.checkpoint.read(name)

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"<Weights {self.checkpoint.label}: {len(self)} tensors>"


def load(source, include=None, exclude=None, min_ndim: int = 0, buffers: bool = False,
         floats_only: bool = True) -> Weights:
    """Read the selected tensors of one checkpoint as a lazy mapping name -> numpy array.

    ``source``: a ``.safetensors``/``.pt``/``.pth``/``.bin``/``.ckpt``/``.npz``/``.npy`` path, a Hugging Face
    model directory, an ``nn.Module`` (parameters; ``buffers=True`` adds buffers), a state dict or a dict
    name -> array. ``include``/``exclude``: name globs; ``min_ndim``: skip tensors with fewer
    dimensions; ``floats_only``: skip integer/bool tensors. Names come naturally sorted.

    >>> import numpy as np, kcomplexity
    >>> w = kcomplexity.load({"b": np.ones(3, np.float32), "a": np.zeros((2, 2), np.float32)}, min_ndim=2)
    >>> list(w)
    ['a']
    """
    checkpoint = open_source(source, buffers)
    selection = Selection.make(include, exclude, min_ndim, floats_only)
    return Weights(checkpoint, selection.names(checkpoint.info()))


__all__ = ["Checkpoint", "CheckpointRef", "FILE_SUFFIXES", "ModelStream", "model_order",
           "Selection", "Weights", "discover", "load", "save",
           "natural_key", "open_cached", "open_path", "open_source", "read_metrics", "steps_from_name",
           "torch_load"]
