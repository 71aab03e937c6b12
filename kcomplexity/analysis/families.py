"""Estimator families and tensor groups: the two axes along which a comparison's answer may change.

Families
    No single estimator is K(w). A claim ("the trained model is simpler than its initialisation")
    is worth more when estimators that measure different things agree. ``FAMILIES`` is the default
    set, one size-stable, affordable member per kind (each costs well under a second per draw of a
    22.7M-parameter model, so ``compare`` can afford 8 reference draws of each):

    - ``lossless``: ``fields|zstd-3``, a literal upper bound (sign, exponent and mantissa streams);
    - ``QuBD``: ``bitplanes8|bdm2d-tile64``, 2-D BDM of the 8 bit-planes per matrix, summed over
      64 x 64 tiles so it does not saturate on large matrices;
    - ``quantize+compress``: ``q8|zstd-9``, 8-bit codes through a dictionary compressor (on
      MiniLM within 0.3 % of ``q8|lzma-9``'s bits at 1/60 of its time);
    - ``sign BDM``: ``sign|bdm-chunk1200``, the MoMos sign stream, BDM summed over 1200-sign chunks.

    ``family_of`` names the family of any pipeline from its declared parts, so tables of other
    estimators are summarised the same way.
Groups
    ``group_of`` puts a tensor in one of ``GROUPS`` by its name, with rules for BERT, GPT-2
    (``wte``/``wpe``, ``attn.c_attn``/``attn.c_proj``, ``mlp.c_fc``/``mlp.c_proj``, ``ln_*``) and
    LLaMA (``embed_tokens``, ``lm_head``, ``self_attn.{q,k,v,o}_proj``,
    ``mlp.{gate,up,down}_proj``, ``*norm*``) names. Norm parameters are ``norms`` wherever they sit
    (``embeddings.LayerNorm`` too); the unembedding (``lm_head``, BERT's
    ``cls.predictions.decoder``) is an embedding.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """A kind of estimator and the spec that represents it by default."""
    name: str
    spec: str
    measures: str


FAMILIES = (
    Family("lossless", "fields|zstd-3", "a literal upper bound on the exact weights"),
    Family("QuBD", "bitplanes8|bdm2d-tile64", "2-D arrangement of the 8-bit codes, per bit-plane (tiled BDM)"),
    Family("quantize+compress", "q8|zstd-9", "8-bit codes through a dictionary compressor"),
    Family("sign BDM", "sign|bdm-chunk1200", "arrangement of the signs (chunked 1-D BDM, MoMos' metric)"),
)
DEFAULT_SPECS = tuple(f.spec for f in FAMILIES)


def family_of(pipeline) -> str:
    """The family a pipeline belongs to, from its encoding and coder (``kcomplexity.parse(spec)``)."""
    bdm = pipeline.coder.family in ("bdm", "bdm2d")
    if pipeline.lossless:
        return "lossless"
    if bdm and pipeline.encoding.family == "bitplanes":
        return "QuBD"
    if bdm and pipeline.encoding.family == "sign":
        return "sign BDM"
    if bdm:
        return "BDM"
    return "quantize+compress"


GROUPS = ("embeddings", "attention", "MLP", "norms", "other")
_RULES = [  # (group, pattern on the dotted name), first match wins
    ("norms", r"(^|\.)(ln_\w+|\w*norm\w*)(\.|$)"),
    ("embeddings", r"(^|\.)(\w*embed\w*|wte|wpe|lm_head|shared)(\.|$)|(^|\.)predictions\.decoder\."),
    ("attention", r"(^|\.)(\w*attention\w*|\w*attn\w*|query|key|value|[qkvo]_proj|out_proj)(\.|$)"),
    ("MLP", r"(^|\.)(mlp|ffn|feed_forward|intermediate|fc\d|c_fc|gate_proj|up_proj|down_proj|w[123])(\.|$)"),
    ("MLP", r"(^|\.)(layer|layers|h|block|blocks)\.\d+\.output\."),  # BERT's second feed-forward matrix
]
_COMPILED = [(group, re.compile(pattern, re.IGNORECASE)) for group, pattern in _RULES]


def group_of(name: str) -> str:
    """``"embeddings"``, ``"attention"``, ``"MLP"``, ``"norms"`` or ``"other"`` for a tensor name.

    >>> [group_of(n) for n in ("bert.encoder.layer.0.attention.self.query.weight",
    ...                        "transformer.h.0.mlp.c_proj.weight", "model.norm.weight", "bert.pooler.dense.bias")]
    ['attention', 'MLP', 'norms', 'other']
    """
    for group, pattern in _COMPILED:
        if pattern.search(name):
            return group
    return "other"


def split_by_group(weights: Mapping) -> dict[str, dict]:
    """``{group: {name: tensor}}`` in ``GROUPS`` order, each group keeping the weights' own order."""
    parts: dict[str, dict] = {g: {} for g in GROUPS}
    for name, x in weights.items():
        parts[group_of(name)][name] = x
    return {g: part for g, part in parts.items() if part}
