"""The reader interface every source implements: named tensors, listed without reading, read one at a time."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import SourceError


class Checkpoint:
    """Base class: a named collection of tensors read one at a time. ``info()`` lists them in
    the source's own order (a model joins them in natural name order, ``io.model_stream``)."""
    metadata: dict

    def __init__(self, label: str):
        self.label, self.metadata = label, {}

    _info: dict[str, tuple[str, tuple]]  # name -> (dtype, shape), where a subclass keeps its list there

    def info(self) -> dict[str, tuple[str, tuple]]:
        return dict(self._info)

    def read(self, name: str) -> np.ndarray:
        raise NotImplementedError

    def _known(self, name: str) -> tuple[str, tuple]:
        """``name``'s (dtype, shape), or the missing-tensor error."""
        if name not in self._info:
            raise self._missing(name)
        return self._info[name]

    def _missing(self, name: str) -> SourceError:
        return SourceError(f"{self.label}: no tensor named {name!r}; it has {len(self.info())} "
                           f"tensors, e.g. {list(self.info())[:5]}")


def inside(path: Path, root: Path) -> bool:
    """True if ``path`` resolves (symlinks followed) inside the resolved ``root``; a link loop or a
    name the OS refuses (NUL byte) counts as outside."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError, ValueError):
        return False
