"""Which tensors of a checkpoint are measured, and in which order.

Order everywhere (tables and ``per="model"`` concatenation) is the natural sort
of tensor names: digit runs compare as numbers, so ``layers.2`` precedes
``layers.10``. It does not depend on the file format's own key order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from math import prod

from ..arrays import FLOAT_NAMES
from ..errors import InputError


def natural_key(name: str) -> tuple:
    return tuple(int(part) if i % 2 else part for i, part in enumerate(re.split(r"([0-9]+)", name)))


def _globs(value, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    try:
        globs = tuple(value)
    except TypeError:
        raise InputError(f"{what} takes a glob string or a list of them, got {value!r}") from None
    if not all(isinstance(g, str) for g in globs):
        raise InputError(f"{what} takes glob strings such as '*.weight', got {value!r}")
    return globs


@dataclass(frozen=True)
class Selection:
    """Name globs (``fnmatch``, case-sensitive), minimum ``ndim`` and a float-only switch.

    ``min_ndim=2`` is the QuBD choice (matrices only); ``min_ndim=0`` (default)
    keeps biases and norms, as the MoMos reference measures whole models.
    Empty tensors are never selected.
    """
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] | None = None
    min_ndim: int = 0
    floats_only: bool = True

    @classmethod
    def make(cls, include=None, exclude=None, min_ndim=0, floats_only=True) -> "Selection":
        if not isinstance(min_ndim, int) or min_ndim < 0:
            raise InputError(f"min_ndim must be a non-negative integer, got {min_ndim!r}")
        return cls(_globs(include, "include"), _globs(exclude, "exclude"), min_ndim, bool(floats_only))

    def keeps(self, name: str, dtype: str, shape: tuple) -> bool:
        if self.include is not None and not any(fnmatchcase(name, g) for g in self.include):
            return False
        if self.exclude and any(fnmatchcase(name, g) for g in self.exclude):
            return False
        if self.floats_only and dtype not in FLOAT_NAMES:
            return False
        return len(shape) >= self.min_ndim and prod(shape) > 0

    def names(self, info: dict) -> list[str]:
        """Selected names of ``info = {name: (dtype, shape)}``, naturally sorted."""
        return sorted((n for n, (dtype, shape) in info.items() if self.keeps(n, dtype, shape)), key=natural_key)
