"""The bundled training data: scikit-learn's ``load_digits`` (1,797 8x8 images, 10 classes).

Ships with scikit-learn, so nothing is downloaded. Pixels 0..16 are scaled to 0..1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Split:
    """Tensors of one seeded train/test split: images (N, 1, 8, 8) float32, labels (N,) int64."""
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_digits_split(test_fraction: float = 0.2, seed: int = 0) -> Split:
    """A stratified, seeded split of ``sklearn.datasets.load_digits`` (default 1,437 train / 360 test)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    x_tr, x_te, y_tr, y_te = train_test_split(images, digits.target, test_size=test_fraction,
                                              random_state=seed, stratify=digits.target)
    return Split(torch.from_numpy(x_tr), torch.from_numpy(y_tr).long(),
                 torch.from_numpy(x_te), torch.from_numpy(y_te).long())
