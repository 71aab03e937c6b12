"""``shuffle``: same values, no arrangement (the QuBD control)."""
from __future__ import annotations

import numpy as np

from ._weights import as_weights, check_seed


def shuffle(weights, seed: int = 0) -> dict[str, np.ndarray]:
    """Each tensor's values permuted by a seeded random permutation (within the tensor).

    The multiset of values of every tensor is kept; shapes and dtypes are kept.
    One ``np.random.default_rng(seed)`` draws the permutations in mapping order.
    """
    rng = np.random.default_rng(check_seed(seed))
    return {name: rng.permutation(x.reshape(-1)).reshape(x.shape) for name, x in as_weights(weights).items()}
