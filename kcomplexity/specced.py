"""The shared base of encodings and coders: plain objects named by their spec text."""
from __future__ import annotations

from abc import ABC

from .errors import SpecError


class Specced(ABC):
    """Identity, equality and repr come from ``spec``; ``from_spec`` builds the
    parameterless default. Subclasses set ``family`` and ``pattern`` (the help text)."""
    family = ""
    pattern = ""
    kind = "component"

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
