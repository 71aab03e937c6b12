"""The spec grammar and the one registry of encodings and coders.

A spec is ``"ENCODING|CODER"``; a bare coder means ``raw|CODER``. Each part is
``name[N][-option...]``: ``q8``, ``q4-sym``, ``bitplanes8-tiled``, ``zstd-19``.
Every built-in is listed once below; plugins come through ``register()`` or the
``kcomplexity.estimators`` entry-point group.
"""
from __future__ import annotations

import re
from importlib.metadata import entry_points

from .coders import COMPRESSORS, Coder, Entropy
from .coders.bdm import BDM, BDM2D
from .coders.context import Context
from .coders.motif import Motif
from .encodings import Bitplanes, Encoding, Fields, Quantize, Raw, Sign
from .errors import SpecError
from .specced import Specced

ENTRY_POINT_GROUP = "kcomplexity.estimators"
BUILTIN_ENCODINGS = (Raw, Fields, Sign, Quantize, Bitplanes)
BUILTIN_CODERS = (*COMPRESSORS, Entropy, Context, Motif, BDM, BDM2D)

_ENCODINGS: dict[str, type[Encoding]] = {c.family: c for c in BUILTIN_ENCODINGS}
_CODERS: dict[str, type[Coder]] = {c.family: c for c in BUILTIN_CODERS}
_plugins_loaded = False


def register(cls: type, name: str | None = None) -> type:
    """Register an Encoding or Coder subclass under ``name`` (default ``cls.family``).

    Usable as a decorator. Third-party packages may instead expose the class in the
    ``kcomplexity.estimators`` entry-point group.
    """
    name = name or getattr(cls, "family", None) or ""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name or ""):
        raise SpecError(f"registry names are lower-case identifiers, got {name!r}")
    if isinstance(cls, type) and issubclass(cls, Encoding):
        _ENCODINGS[name] = cls
    elif isinstance(cls, type) and issubclass(cls, Coder):
        _CODERS[name] = cls
    else:
        raise SpecError(f"{cls!r} is neither an Encoding nor a Coder subclass")
    return cls


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        register(ep.load(), ep.name)


def available() -> dict[str, list[str]]:
    """Registered encodings and coders with how their specs are written."""
    _load_plugins()
    return {"encodings": sorted(c.pattern or n for n, c in _ENCODINGS.items()),
            "coders": sorted(c.pattern or n for n, c in _CODERS.items())}


def registered() -> dict[str, dict[str, type]]:
    """Every registered class by family, built-ins and plugins: ``{"encodings": {...}, "coders": {...}}``."""
    _load_plugins()
    return {"encodings": dict(_ENCODINGS), "coders": dict(_CODERS)}


def families(kind: str = "coders", **declared) -> list[str]:
    """Registered families of ``kind`` ("coders" or "encodings") whose declared capabilities
    equal ``declared``, for messages built from the registry: ``families(lossless=True)``."""
    return sorted(name for name, cls in registered()[kind].items()
                  if all(getattr(cls, key) == value for key, value in declared.items()))


def _resolve(text: str, table: dict, kind: str):
    head = text.split("-")[0]
    m = re.fullmatch(r"([a-z_][a-z0-9_]*?)([0-9]+)", head)
    if head not in table and m and m.group(1) in table and len(m.group(2)) > 9:
        raise SpecError(f"{kind} {text[:20]!r}...: the number after {m.group(1)!r} has {len(m.group(2))} "
                        "digits; give a small integer such as 8")
    family = head if head in table else m.group(1) if m and m.group(1) in table else None
    if family is None:
        valid = available()[kind + "s"]
        raise SpecError(f"unknown {kind} {text!r}; valid {kind}s: {', '.join(valid)}")
    return build(table[family], text)


def build(cls: type[Specced], text: str):
    """The component of class ``cls`` that the spec part ``text`` names (``build(Zstd, "zstd-19")``),
    without looking ``cls`` up in the registry: ``name[N][-option...]`` -> ``cls.from_spec(N, options)``."""
    head, *options = text.strip().lower().split("-")
    number = None
    if head != cls.family:
        digits = head[len(cls.family):]
        if not head.startswith(cls.family) or not re.fullmatch(r"[0-9]+", digits):
            raise SpecError(f"{text!r} does not name a {cls.family!r} {cls.kind}: write {cls.pattern or cls.family}")
        number = int(digits)
    return cls.from_spec(number, options)


def parse_parts(spec: str) -> tuple[Encoding, Coder]:
    """The (encoding, coder) objects a spec string names."""
    if not isinstance(spec, str) or not spec.strip():
        raise SpecError(f"an estimator spec is a string like 'raw|zstd-19', got {spec!r}")
    _load_plugins()
    parts = spec.strip().lower().split("|")
    if len(parts) > 2:
        raise SpecError(f"spec {spec!r} has more than one '|': write 'ENCODING|CODER'")
    encoding = _resolve(parts[0], _ENCODINGS, "encoding") if len(parts) == 2 else Raw()
    return encoding, _resolve(parts[-1], _CODERS, "coder")
