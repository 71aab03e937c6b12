"""The coder interface: a stream in, a bit count (and details) out."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..encodings import Stream
from ..errors import SpecError


@dataclass
class Coded:
    bits: float
    details: dict = field(default_factory=dict)
    frame: bytes | None = None  # what a byte coder produced, for verification


class Coder:
    """Base class. Subclasses set ``family`` and implement ``code``."""
    family = ""
    pattern = ""  # how the spec is written, for help texts, e.g. "zstd-L (L = 1..22)"

    @property
    def spec(self) -> str:
        return self.family

    def code(self, stream: Stream) -> Coded:
        raise NotImplementedError

    @classmethod
    def from_spec(cls, number: int | None, options: list[str]) -> "Coder":
        if number is not None or options:
            raise SpecError(f"coder {cls.family!r} takes no parameters")
        return cls()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}>"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.spec == other.spec

    def __hash__(self) -> int:
        return hash(self.spec)


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
