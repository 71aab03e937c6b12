"""The coder interface: a stream in, a bit count (and details) out."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..encodings import Stream
from ..errors import SpecError
from ..specced import Specced


@dataclass
class Coded:
    bits: float
    details: dict = field(default_factory=dict)
    frame: bytes | None = None  # what a byte coder produced, for verification


class Coder(Specced):
    """Base class. Subclasses set ``family`` and ``pattern`` (e.g. "zstd-L (L = 1..22)")
    and implement ``code``."""
    kind = "coder"

    def code(self, stream: Stream) -> Coded:
        raise NotImplementedError


def parse_level(family: str, number: int | None, options: list[str], levels: range, default: int) -> int:
    """The level of a ``family-L`` spec, checked against ``levels``."""
    if number is not None or len(options) > 1:
        raise SpecError(f"write the level as '{family}-L', e.g. '{family}-{default}'")
    if not options:
        return default
    try:
        level = int(options[0])
    except ValueError:
        raise SpecError(f"level of {family!r} must be an integer, got {options[0]!r}") from None
    if level not in levels:
        raise SpecError(f"level {level} out of range for {family!r}: use {levels.start}..{levels.stop - 1}")
    return level
