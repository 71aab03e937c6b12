"""The shared base of encodings and coders: plain objects named by their spec text."""
from __future__ import annotations

import re
from abc import ABC

from .errors import SpecError


def ascii_int(text: str) -> int | None:
    """``text`` as a non-negative integer if it is ASCII digits only, else None.

    Python's ``int`` also takes ``"1_9"`` (19), Arabic-Indic and full-width digits; a spec
    or a step written that way is a lookalike, not a number.

    >>> ascii_int("19"), ascii_int("1_9"), ascii_int("\u0661\u0669")
    (19, None, None)
    """
    return int(text) if re.fullmatch(r"[0-9]+", text) else None


class Specced(ABC):
    """Identity, equality and repr come from ``spec``; ``from_spec`` builds the
    parameterless default. Subclasses set ``family``, ``pattern`` (the help text) and
    ``examples``: specs of settings beyond the default, each printing back as written, that
    ``kcomplexity.testing.check_component`` checks."""
    family = ""
    pattern = ""
    kind = "component"
    examples: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        return self.family

    @classmethod
    def from_spec(cls, number: int | None, options: list[str]):
        if number is not None or options:
            raise SpecError(f"{cls.kind} {cls.family!r} takes no parameters")
        return cls()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}>"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.spec == other.spec

    def __hash__(self) -> int:
        return hash(self.spec)
