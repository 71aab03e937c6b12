"""The coder interface: a stream in, a bit count (and details) out."""
from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field, replace

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
        Length of the stream's description in bits: for a lossless coder a literal upper
        bound on the real code length (the real length, or an ideal length plus a proven
        overhead), for an estimate (BDM) its value.
    details : dict
        Per-coder figures merged into ``Estimate.details`` (numbers add across streams).
    frame : bytes or None
        The bytes a byte coder produced, kept for ``verify=True``.
    stored : bool
        Set for a lossless coder by ``with_stored_mode``: True when the stream is kept
        verbatim because that is shorter than the coder's own code.
    """
    bits: float
    details: dict = field(default_factory=dict)
    frame: bytes | None = None  # what a byte coder produced, for verification
    stored: bool = False  # set by ``with_stored_mode``: the stream is kept verbatim, not in the model code


class Coder(Specced):
    """Abstract base of coders: a stream in, its description length in bits out.

    Subclasses set ``family`` and ``pattern`` (the help text, e.g. "zstd-L (L = 1..22)")
    and implement ``code``. An estimate's bits are ``side_bits + sum(code(s).bits)`` over
    the encoding's streams (for a lossless coder each term is ``with_stored_mode``'s: 1 flag
    bit + the shorter of the code and the stored stream). Register one with
    ``kcomplexity.register``; check one with ``kcomplexity.testing.check_component``.

    Attributes
    ----------
    lossless : bool
        True when ``bits`` bound the stream's real code from above and ``roundtrip`` writes
        and reads that code; estimates (BDM) keep False. ``Pipeline`` then codes each stream
        as the shorter of this code and the stream stored verbatim, plus a 1-bit flag
        (``with_stored_mode``), and ``verify=True`` checks real <= reported per stream.
    counts_only : bool
        True when ``code`` reads only ``Stream.histogram()`` (the encoding may skip the data).
    ndim : int
        Dimensions of the streams the coder reads: 1 (flat) or 2 (matrices, as ``bdm2d``).
    accepts : frozenset of str
        The stream kinds it codes: ``"bytes"`` (raw values, ``nsymbols`` None) and/or
        ``"symbols"``. ``Pipeline`` refuses any other stream with a SpecError.
    takes_threads : bool
        True when ``code_all`` takes the keywords ``threads`` (worker threads it may use)
        and ``progress`` (a callable hearing each newly finished fraction of the work).
    examples : tuple of str
        Specs of this class beyond its default that ``kcomplexity.testing.check_component``
        checks (e.g. ``("zstd-1", "zstd-22")``).

    Examples
    --------
    A fixed-length code, log2(k) bits for each symbol of a k-symbol stream:

    >>> import math
    >>> class Fixed(Coder):
    ...     family = "fixed"
    ...     def code(self, stream):
    ...         return Coded(stream.array.size * math.log2(stream.nsymbols))
    >>> Fixed().code(Stream("s", np.zeros(8, np.uint8), 4)).bits
    16.0
    """
    kind = "coder"
    lossless = False
    counts_only = False
    ndim = 1
    accepts = frozenset({"bytes", "symbols"})
    takes_threads = False

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
        """Write the real bitstream that ``coded`` measures and read it back (lossless coders).

        Returns
        -------
        tuple
            (the stream's data as decoded, the real length in bits). ``Pipeline`` compares
            the data with the input and the length with ``coded.bits``.
        """
        raise SpecError(f"{self.spec!r} is an estimate with no decoder (lossless = False)")

    def roundtrip_all(self, streams: list[Stream], coded: dict[str, Coded]) -> dict[str, tuple[np.ndarray, float]]:
        """``roundtrip`` of every stream of one encoding, by name, except those ``coded`` marks
        ``stored`` (the pipeline writes and reads them); a coder whose streams are contexts of
        each other decodes them in its own order, each from those before it."""
        return {s.name: self.roundtrip(s, coded[s.name]) for s in streams if not coded[s.name].stored}

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


def stream_kind(stream: Stream) -> str:
    """``"bytes"`` for raw values, ``"symbols"`` for a symbol stream (the words of ``Coder.accepts``)."""
    return "bytes" if stream.nsymbols is None else "symbols"


def stored_bits(stream: Stream) -> int:
    """Bits of the stream kept verbatim: ``width`` bits per value (``Stream.width``)."""
    return stream.size * stream.width


def with_stored_mode(stream: Stream, coded: Coded) -> Coded:
    """``coded`` as a lossless pipeline writes it: a 1-bit flag, then the shorter of the
    coder's code and the stream stored verbatim (``store``). So no stream costs more than
    its stored size plus 1 bit."""
    stored = stored_bits(stream)
    return replace(coded, bits=1 + min(coded.bits, stored), stored=stored < coded.bits,
                   details={**coded.details, "stored_streams": int(stored < coded.bits)})


def store(stream: Stream) -> bytes:
    """The stream verbatim, ``stored_bits`` bits (zero-padded to whole bytes): raw values'
    little-endian bytes, or each symbol in ``width`` bits, most significant first."""
    if stream.nsymbols is None:
        return bytes(stream.to_bytes())
    values, width = stream.array.reshape(-1), stream.width
    if width == 1:
        return np.packbits(values).tobytes()
    span = 8 if width <= 8 else 16  # each symbol's bits inside a byte or a big-endian 16-bit word
    bits = np.unpackbits(values.astype(np.uint8 if span == 8 else ">u2").view(np.uint8)).reshape(-1, span)
    return np.packbits(bits[:, span - width:]).tobytes()


def unstore(stream: Stream, payload: bytes) -> np.ndarray:
    """Invert ``store``: the stream's data (its dtype and shape; ``stream`` gives n and width)."""
    if stream.nsymbols is None:
        return stream.from_bytes(payload)
    n, width = stream.size, stream.width
    if width == 1:
        return np.unpackbits(np.frombuffer(payload, np.uint8), count=n).astype(stream.array.dtype).reshape(stream.shape)
    span = 8 if width <= 8 else 16
    bits = np.unpackbits(np.frombuffer(payload, np.uint8), count=n * width).reshape(n, width)
    words = np.packbits(np.pad(bits, ((0, 0), (span - width, 0))), axis=1)
    values = words.reshape(-1) if span == 8 else words.view(">u2").reshape(-1)
    return values.astype(stream.array.dtype).reshape(stream.shape)
