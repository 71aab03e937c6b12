"""Small reference models for 8x8 digits: an MLP shaped like the MoMos reference, and a small CNN."""
from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError


class MLP(nn.Sequential):
    """Flatten -> Linear/ReLU stack -> Linear. Default 64 -> 256 -> 256 -> 10 (MoMos' MLP, scaled down)."""

    def __init__(self, in_features: int = 64, hidden: tuple[int, ...] = (256, 256), n_classes: int = 10):
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, n_classes))
        super().__init__(*layers)


class CNN(nn.Sequential):
    """conv3x3(1->16)/ReLU -> conv3x3(16->32)/ReLU -> maxpool2 -> Linear(32*4*4 -> 10)."""

    def __init__(self, channels: tuple[int, int] = (16, 32), n_classes: int = 10):
        c1, c2 = channels
        super().__init__(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(c2 * 4 * 4, n_classes))


MODELS = {"mlp": MLP, "cnn": CNN}


def build_model(name: str, seed: int = 0, **options) -> nn.Module:
    """A freshly initialised model (torch's default initialisers) under ``torch.manual_seed(seed)``.

    ``options`` go to the class: ``build_model("mlp", hidden=(128, 128))``.
    """
    if name not in MODELS:
        raise InputError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    torch.manual_seed(seed)
    return MODELS[name](**options)
