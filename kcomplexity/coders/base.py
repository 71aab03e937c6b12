"""The coder interface: a stream in, a bit count (and details) out."""
from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field

import numpy as np

from ..encodings import Stream
from ..errors import SpecError
from ..specced import Specced, ascii_int


@dataclass
class Coded:
    """What ``Coder.code`` returns for one stream.

    Parameters
    ----------
    bits : float
        Length of the stream's description in bits: for a lossless coder the code
        length (real, or ideal within 64 bits of the real one), for an estimate (BDM)
        its value.
    details : dict
        Per-coder figures merged into ``Estimate.details`` (numbers add across streams).
    frame : bytes or None
        The bytes a byte coder produced, kept for ``verify=True``.
    """
    bits: float
    details: dict = field(default_factory=dict)
    frame: bytes | None = None  # what a byte coder produced, for verification


class Coder(Specced):
    """Abstract base of coders: a stream in, its description length in bits out.

    Subclasses set ``family`` and ``pattern`` (the help text, e.g. "zstd-L (L = 1..22)")
    and implement ``code``. An estimate's bits are ``side_bits + sum(code(s).bits)`` over
    the encoding's streams. Register one with ``kcomplexity.register``.

    Attributes
    ----------
    lossless : bool
        Declared: True when ``bits`` describe the stream exactly (a decodable upper
        bound) and ``roundtrip`` writes and reads the real bitstream; estimates (BDM)
        keep False.

    Examples
    --------
    A fixed-length code, log2(k) bits for each symbol of a k-symbol stream:

    >>> import math
    >>> class Fixed(Coder):
    ...     family = "fixed"
    ...     def code(self, stream):
    ...         return Coded(stream.data.size * math.log2(stream.nsymbols))
    >>> Fixed().code(Stream("s", np.zeros(8, np.uint8), 4)).bits
    16.0
    """
    kind = "coder"
    lossless = False
    counts_only = False  # True: reads only each stream's histogram (Encoding.count may skip the data)

    @abstractmethod
    def code(self, stream: Stream) -> Coded:
        """Measure one stream.

        Parameters
        ----------
        stream : Stream
            Symbols (``nsymbols`` set) or raw bytes (``nsymbols`` None).

        Returns
        -------
        Coded
            ``bits`` (float, in bits), ``details``, and ``frame`` for a byte coder.
        """

    def roundtrip(self, stream: Stream, coded: Coded) -> tuple[np.ndarray, float]:
        """Write the real bitstream that ``coded`` measures and decode it: (the stream's data
        as decoded, the real length in bits). Raises VerificationError when the real length is
        more than 64 bits above ``coded.bits``."""
        raise SpecError(f"{self.spec!r} is an estimate with no decoder: verify=True needs a lossless coder "
                        "(a compressor, entropy or motif-S)")

    def roundtrip_all(self, streams: list[Stream], coded: dict[str, Coded]) -> dict[str, tuple[np.ndarray, float]]:
        """``roundtrip`` of every stream of one encoding, by name; a coder whose streams are
        contexts of each other decodes them in its own order, each from those before it."""
        return {s.name: self.roundtrip(s, coded[s.name]) for s in streams}

    def code_all(self, streams: list[Stream]) -> dict[str, Coded]:
        """Every stream of one encoding, by name; a coder may share work between them."""
        return {s.name: self.code(s) for s in streams}


def parse_level(family: str, number: int | None, options: list[str], levels: range, default: int) -> int:
    """The level of a ``family-L`` spec, checked against ``levels``."""
    if number is not None or len(options) > 1:
        raise SpecError(f"write the level as '{family}-L', e.g. '{family}-{default}'")
    if not options:
        return default
    level = ascii_int(options[0])
    if level is None:
        raise SpecError(f"level of {family!r} must be an integer (ASCII digits), got {options[0]!r}")
    if level not in levels:
        raise SpecError(f"level {level} out of range for {family!r}: use {levels.start}..{levels.stop - 1}")
    return level
