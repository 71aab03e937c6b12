"""The coder interface: a stream in, a bit count (and details) out."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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
    and implement ``code``.

    ``lossless = True`` declares that ``bits`` describe the stream exactly (a decodable
    upper bound) and that ``roundtrip`` writes and reads the real bitstream; estimates
    (BDM) keep ``lossless = False``.
    """
    kind = "coder"
    lossless = False

    def code(self, stream: Stream) -> Coded:
        raise NotImplementedError

    def roundtrip(self, stream: Stream, coded: Coded) -> tuple[np.ndarray, float]:
        """Write the real bitstream that ``coded`` measures and decode it: (the stream's data
        as decoded, the real length in bits). Raises VerificationError when the real length is
        more than 64 bits from ``coded.bits``."""
        raise SpecError(f"{self.spec!r} is an estimate with no decoder: verify=True needs a lossless coder "
                        "(a compressor, entropy or motif-S)")

    def code_all(self, streams: list[Stream]) -> dict[str, Coded]:
        """Every stream of one encoding, by name; a coder may share work between them."""
        return {s.name: self.code(s) for s in streams}


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
