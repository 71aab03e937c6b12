"""Per-weight perturbation maps: how much each bit of a weight tensor's BDM stream adds
to (or takes from) the stream's complexity when flipped."""
from __future__ import annotations

import numpy as np

from ..arrays import as_array
from ..coders.bdm import BDM
from ..coders.bdm_extras import perturbation
from ..errors import SpecError
from ..estimators import parse


def _stream(pipeline, arr: np.ndarray, plane: int | None):
    """The stream of ``arr`` that ``plane`` names (bit-planes), or the only one."""
    streams = pipeline.encoding.encode(arr).streams
    if len(streams) == 1:
        return streams[0]
    names = [s.name for s in streams]
    name = names[-1] if plane is None else f"plane_{plane}"
    if name not in names:
        raise SpecError(f"{pipeline.spec!r} has planes 0..{len(names) - 1} (0 = least significant), "
                        f"got plane={plane!r}")
    return streams[names.index(name)]


def perturbation_map(tensor, spec: str = "bitplanes8|bdm2d-tile64", plane: int | None = None,
                     metric: str = "bdm") -> np.ndarray:
    """BDM change (bits) when each weight's bit in one stream of ``spec`` is flipped.

    ``spec``: a BDM estimator, by default the size-stable QuBD ``"bitplanes8|bdm2d-tile64"``
    (a flip changes only its own tile's BDM), or e.g. ``"bitplanes8|bdm2d"`` or ``"sign|bdm"``.
    ``plane``: which bit-plane, 0 = least significant (default: the most significant,
    7 for 8 bits). value = BDM(plane with that bit flipped) - BDM(plane), as pybdm's
    perturbation experiment (``kcomplexity.perturbation``): positive where the bit
    fits the plane's regularities (flipping it adds complexity), negative where it
    breaks them. Returns the (rows, -1) matrix the 2-D coder scores, or, for a 1-D
    coder, an array shaped like ``tensor``. ``metric="ent"`` gives block entropy instead.
    """
    pipeline = parse(spec)
    if not isinstance(pipeline.coder, BDM):
        raise SpecError(f"perturbation_map needs a BDM estimator such as 'bitplanes8|bdm2d' or 'sign|bdm', "
                        f"got {pipeline.spec!r}")
    arr = as_array(tensor)
    stream = _stream(pipeline, arr, plane)
    if stream.data.size != arr.size:
        raise SpecError(f"{pipeline.spec!r} does not score one bit per weight; use 'bitplanesB|bdm2d' "
                        "(not -tiled) or 'sign|bdm'")
    coder = pipeline.coder
    values = perturbation(coder.symbols(stream), coder.ndim, stream.nsymbols, metric, coder.partition, tile=coder.tile)
    return values if values.ndim == 2 else values.reshape(arr.shape)
