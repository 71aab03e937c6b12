"""Variants of a model's weights: weights in, weights out (seeded, deterministic, inputs untouched).

``random_init`` and ``shuffle`` are the references of the seed papers; ``prune_magnitude``,
``prune_pq``, ``prune_lq``, ``quantize`` and ``momos`` are the compressed versions whose complexity
``kcomplexity.compare`` sets beside them.
"""
from ._momos import MomosResult, momos, nearest_motif
from ._prune import PruneResult, pq_index, prune_lq, prune_magnitude, prune_pq
from ._quantize import quantize
from ._init_rules import INIT_RULES, ReferenceGuessWarning
from ._random_init import Reference, initialise, random_init
from ._shuffle import shuffle
from ._weights import as_weights

__all__ = ["INIT_RULES", "MomosResult", "PruneResult", "Reference", "ReferenceGuessWarning", "as_weights",
           "initialise", "momos", "nearest_motif", "pq_index", "prune_lq", "prune_magnitude", "prune_pq", "quantize",
           "random_init", "shuffle"]
